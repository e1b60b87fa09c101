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
// The Reports page's filter box: hides the report rows whose name or description do not
// contain what is typed (shown only when JavaScript runs; without it every row is listed).
(function () {
  function setUp() {
    var box = document.getElementById("report-filter-box");
    var input = document.getElementById("report-filter");
    var count = document.getElementById("report-filter-count");
    if (!box || !input) { return; }
    box.hidden = false;
    function apply() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var rows = document.querySelectorAll("#reports > .report");
      var shown = 0;
      rows.forEach(function (row) {
        var text = row.getAttribute("data-filter") || "";
        var match = words.every(function (w) { return text.indexOf(w) !== -1; });
        row.hidden = !match;
        if (match) { shown += 1; }
      });
      count.textContent = words.length ? shown + " of " + rows.length + " reports" : "";
    }
    input.addEventListener("input", apply);
    // A row swapped by htmx (a run started, aborted...) keeps the filter.
    document.body.addEventListener("htmx:afterSwap", apply);
    apply();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
// The schedule form: only the fields of the chosen repetition are shown (without JavaScript
// all are, each labelled with the repetition it belongs to, and the server ignores the rest).
(function () {
  function setUp() {
    var control = document.querySelector("[data-repeat-control]");
    if (!control) { return; }
    var form = control.form;
    function apply() {
      form.querySelectorAll("[data-repeat]").forEach(function (field) {
        var wanted = field.getAttribute("data-repeat").split(" ");
        field.hidden = wanted.indexOf(control.value) === -1;
      });
    }
    control.addEventListener("change", apply);
    apply();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
