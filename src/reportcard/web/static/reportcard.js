// reportcard's Reports page: the little that htmx does not do by itself.
// A refused htmx request (403 CSRF, 404, 500...) is shown as text instead of failing silently.
document.addEventListener("htmx:responseError", function (event) {
  var box = document.getElementById("problem");
  if (!box) { return; }
  var xhr = event.detail.xhr;
  var text = "The server refused the request (" + xhr.status + ").";
  try {
    var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var found = doc.querySelector(".error");
    if (found && found.textContent.trim()) { text = found.textContent.trim(); }
  } catch (e) { /* keep the plain text */ }
  box.textContent = text;
  box.hidden = false;
});
document.addEventListener("htmx:sendError", function () {
  var box = document.getElementById("problem");
  if (box) {
    box.textContent = "The server could not be reached. Check your connection and reload.";
    box.hidden = false;
  }
});
