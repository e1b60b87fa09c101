"""The report commands against a reportcard (or Canvas) server, through its Reports API.

Uses only the Canvas endpoints: ``GET /api/v1/accounts/:account/reports``, ``POST``/``GET``
``.../reports/:report``, ``GET``/``DELETE .../reports/:report/:id``, ``PUT .../:id/abort``,
and the attachment's ``url`` for the file. ``--account`` defaults to ``self``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

from reportcard.cli.backends import (
    ACTIVE,
    Backend,
    BadInput,
    Failed,
    Interrupted,
    NotFound,
    Run,
    Unreachable,
    cannot_change,
    not_found_message,
)

POLL = 0.25
PER_PAGE = 100


def error_text(response: httpx.Response) -> str:
    """The message of a Canvas error body (``errors[].message`` or ``error``), else the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            texts = [str(e.get("message")) for e in errors if isinstance(e, dict)]
            if texts:
                return "; ".join(texts)
        if isinstance(errors, dict):  # {"errors": {"field": ["text"]}}
            return "; ".join(f"{k}: {v}" for k, v in errors.items())
        if body.get("error"):
            return str(body["error"])
        if body.get("message"):
            return str(body["message"])
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


class HttpBackend(Backend):
    default_account = "self"

    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        if self.url.endswith("/api/v1"):  # the API's base, as Canvas documents it, is fine too
            self.url = self.url[: -len("/api/v1")]
        if not self.url.startswith(("http://", "https://")):
            raise BadInput(f"--url {url!r}: give the server's http:// or https:// address")
        self.client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout, connect=10.0),
        )

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ plumbing
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.InvalidURL as exc:
            raise BadInput(f"--url {self.url!r}: {exc}") from exc
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach {self.url}: {exc or type(exc).__name__}") from exc

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            kind = response.headers.get("content-type", "no content type")
            raise Failed(
                f"{self.url} answered HTTP {response.status_code} with {kind}, not JSON: "
                "is it a reportcard server?"
            ) from exc

    def _check(self, response: httpx.Response, not_found: str) -> Any:
        code = response.status_code
        if code < 300:
            return self._json(response)
        text = error_text(response)
        if code == 401:
            raise NotFound(f"the server {self.url} refused the token: {text}")
        if code == 403:
            raise NotFound(f"not authorized on {self.url}: {text}")
        if code == 404:
            raise NotFound(f"{not_found} on {self.url}")
        if code in (400, 413, 422):
            raise BadInput(text)
        if code == 429:
            after = response.headers.get("retry-after")
            wait = f" (try again in {after} s)" if after else ""
            raise Failed(f"the server refused for now: {text}{wait}")
        raise Failed(f"the server answered HTTP {code}: {text}")

    def _base(self, account: str | None) -> str:
        return f"/api/v1/accounts/{quote(account or 'self', safe=':')}/reports"

    # ------------------------------------------------------------------ operations
    def reports(self, account: str | None) -> list[dict[str, Any]]:
        where = account or "self"
        body = self._check(self._send("GET", self._base(account)), f"no account {where}")
        return list(body)

    def _pages(
        self, path: str, not_found: str, key: str | None = None, **query: str
    ) -> list[dict[str, Any]]:
        """Every item of a paginated Canvas list (following ``Link: rel="next"``)."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self._send("GET", path, params={**query, "page": page, "per_page": PER_PAGE})
            body = self._check(response, not_found)
            batch = list(body[key] if key is not None else body)
            out.extend(batch)
            if not batch or 'rel="next"' not in response.headers.get("link", ""):
                return out
            page += 1

    def _account_path(self, account: str | None) -> str:
        return f"/api/v1/accounts/{quote(account or 'self', safe=':')}"

    def terms(self, account: str | None) -> list[dict[str, Any]]:
        path = f"{self._account_path(account)}/terms"
        return self._pages(path, f"no account {account or 'self'}", key="enrollment_terms")

    def accounts(self, account: str | None) -> list[dict[str, Any]]:
        if account is None:  # the accounts the token's user administers, and all below them
            tops = self._pages("/api/v1/accounts", "no accounts")
        else:
            path = self._account_path(account)
            tops = [dict(self._check(self._send("GET", path), f"no account {account}"))]
        seen: dict[int, dict[str, Any]] = {}
        for top in tops:
            if int(top["id"]) in seen:
                continue
            seen[int(top["id"])] = top
            below = f"{self._account_path(str(top['id']))}/sub_accounts"
            for sub in self._pages(below, f"no account {top['id']}", recursive="true"):
                seen.setdefault(int(sub["id"]), sub)
        return sorted(seen.values(), key=lambda r: int(r["id"]))

    def start(
        self, account: str | None, report: str, params: dict[str, Any], *, here: bool
    ) -> tuple[Run, bool]:
        data: dict[str, str | list[str]] = {}
        for key, value in params.items():
            if isinstance(value, list):
                data[f"parameters[{key}][]"] = [str(v) for v in value]
            else:
                data[f"parameters[{key}]"] = str(value)
        path = f"{self._base(account)}/{quote(report, safe='')}"
        response = self._send("POST", path, data=data or None)
        if response.status_code == 409:  # Canvas's duplicate guard: the run in progress
            return self._json(response), True
        if response.status_code == 404:
            names = {r["report"] for r in self.reports(account)}  # raises if the account is bad
            if report not in names:
                raise BadInput(
                    f"unknown report {report!r} (`reportcard reports list` shows the reports)"
                )
        return self._check(response, f"no account {account or 'self'}"), False

    def status(self, account: str | None, report: str, run_id: int) -> Run:
        path = f"{self._base(account)}/{quote(report, safe='')}/{run_id}"
        missing = not_found_message(account, report, run_id, self.default_account)
        return dict(self._check(self._send("GET", path), missing))

    def history(self, account: str | None, report: str, limit: int) -> list[Run]:
        path = f"{self._base(account)}/{quote(report, safe='')}"
        out: list[Run] = []
        page = 1
        per_page = max(1, min(PER_PAGE, limit))
        while len(out) < limit:
            response = self._send("GET", path, params={"page": page, "per_page": per_page})
            batch = self._check(response, f"no account {account or 'self'}")
            out.extend(batch)
            if len(batch) < per_page or 'rel="next"' not in response.headers.get("link", ""):
                break
            page += 1
        return out[:limit]

    def _change(self, account: str | None, report: str, run_id: int, action: str) -> Run:
        path = f"{self._base(account)}/{quote(report, safe='')}/{run_id}"
        if action == "abort":
            response = self._send("PUT", f"{path}/abort")
        else:
            response = self._send("DELETE", path)
        if response.status_code == 404:
            # Canvas answers 404 both for no such run and for one that cannot be aborted.
            current = self.status(account, report, run_id)
            raise Failed(cannot_change(action, report, run_id, str(current["status"])))
        return dict(self._check(response, ""))

    def abort(self, account: str | None, report: str, run_id: int) -> Run:
        return self._change(account, report, run_id, "abort")

    def delete(self, account: str | None, report: str, run_id: int) -> Run:
        return self._change(account, report, run_id, "delete")

    def download(self, run: Run, out: BinaryIO) -> int:
        url = run["attachment"]["url"]
        written = 0
        try:
            # The verifier in the URL admits us; a presigned S3 redirect is followed (httpx
            # drops the Authorization header when a redirect leaves the server's origin).
            with self.client.stream("GET", url, follow_redirects=True) as response:
                if response.status_code >= 300:
                    response.read()
                    self._check(response, f"the file of run {run['id']} is gone")
                for block in response.iter_bytes(1 << 20):
                    out.write(block)
                    written += len(block)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach {url}: {exc or type(exc).__name__}") from exc
        return written

    def failure_reason(self, run: Run) -> str | None:
        """The text Canvas's report JSON carries for a failed run, ``parameters.extra_text``
        (the server keeps its internal detail to itself)."""
        text = (run.get("parameters") or {}).get("extra_text")
        return str(text) if text else None

    def follow(
        self, account: str | None, report: str, run_id: int, on_update: Callable[[Run], None]
    ) -> Run:
        """Poll the status; Ctrl-C stops waiting and leaves the run to the server."""
        try:
            while True:
                run = self._status_retrying(account, report, run_id)
                on_update(run)
                if run["status"] not in ACTIVE:
                    return run
                time.sleep(POLL)
        except KeyboardInterrupt:
            raise Interrupted(
                f"stopped waiting; run {run_id} of {report} goes on on the server "
                f"(`reportcard reports abort {report} {run_id}` stops it)"
            ) from None

    def _status_retrying(self, account: str | None, report: str, run_id: int) -> Run:
        """A status poll that rides out a server restart of up to half a minute."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return self.status(account, report, run_id)
            except (Unreachable, Failed):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
