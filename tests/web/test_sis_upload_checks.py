"""The Reports page's SIS upload decides before reading the body (issue #17): session,
permission and CSRF are checked on the headers alone, as the API does, so a refused 300 MB
upload costs the server nothing. Raw sockets on a real server: the client declares a large
body, sends only its first bytes, and reads the answer; a server that waited for the body
would never answer (the read would hit the socket's time-out and the test fail)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select

from reportcard.db.sis_import_tables import sis_imports
from tests.web.conftest import PASSWORDS, Site
from tests.web.helpers import csrf_of, sign_in

DECLARED = 300 * 1024 * 1024  # under the 1 GiB limit: only the checks can refuse it early
BOUNDARY = "rcboundary"
NEVER = 120.0  # seconds: reached only by a server that waits for the rest of the body


def _head_start(csrf: str | None) -> bytes:
    """The first bytes of a multipart body whose form field (if any) holds ``csrf``."""
    parts = []
    if csrf is not None:
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'
        )
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachment"; '
        'filename="users.csv"\r\nContent-Type: text/csv\r\n\r\n'
        "user_id,login_id,first_name,last_name,status\r\n"
    )
    return "".join(parts).encode() + b"x" * 65536


def _post_partially(
    site: Site, path: str, cookie: str, *, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """Declare ``DECLARED`` bytes, send ``body`` only; the status and headers of the answer."""
    url = urlsplit(site.base)
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {url.netloc}",
        f"Cookie: reportcard_session={cookie}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        f"Content-Length: {DECLARED}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    with socket.create_connection((url.hostname, url.port), timeout=NEVER) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        got = b""
        while b"\r\n\r\n" not in got:
            try:
                chunk = sock.recv(65536)
            except TimeoutError as exc:
                raise AssertionError(f"{path}: no answer before the body was sent") from exc
            assert chunk, "connection closed without an answer"
            got += chunk
    head = got.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return int(head.split(" ", 2)[1]), head


def _imports(site: Site) -> int:
    with site.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sis_imports)).scalar_one())


def _uploads(site: Site) -> list[Path]:
    # os.walk passes over a folder that goes while it walks (an import's work folder,
    # removed when its job ends), where Path.rglob raises FileNotFoundError.
    found = []
    for folder, dirs, names in os.walk(site.settings.data_dir):
        found += [Path(folder, n) for n in dirs + names if "sis_imports" in Path(folder, n).parts]
    return sorted(found)


def test_refusals_come_before_the_body_is_read(site: Site) -> None:
    admin = sign_in(site.base, "admin", PASSWORDS["admin"])
    cookie = admin.cookies["reportcard_session"]
    token = csrf_of(admin.get(f"/accounts/{site.root}/sis_import").text)
    page = f"/accounts/{site.root}/sis_import"
    before, files_before = _imports(site), _uploads(site)
    # No CSRF proof, or only in the body: refused on the headers.
    for body in (_head_start(None), _head_start(token)):
        status, _ = _post_partially(site, page, cookie, body=body)
        assert status == 403
    # A wrong token in the header or the query.
    status, _ = _post_partially(
        site, page, cookie, body=_head_start(None), headers={"X-CSRF-Token": "wrong"}
    )
    assert status == 403
    status, _ = _post_partially(site, f"{page}?csrf_token=wrong", cookie, body=_head_start(None))
    assert status == 403
    # Another origin, with the right token.
    status, _ = _post_partially(
        site,
        f"{page}?csrf_token={token}",
        cookie,
        body=_head_start(None),
        headers={"Origin": "http://evil.example"},
    )
    assert status == 403
    # No session: to the sign-in form.
    status, head = _post_partially(site, f"{page}?csrf_token={token}", "nope", body=b"x")
    assert status == 303 and "location: /login" in head.lower()
    # A person without import_sis_data on the account, with their own good token: 404.
    sub = sign_in(site.base, "subadmin", PASSWORDS["subadmin"])
    sub_token = csrf_of(sub.get(f"/accounts/{site.sub}/reports").text)
    for account in (site.root, site.sub):
        status, _ = _post_partially(
            site,
            f"/accounts/{account}/sis_import",
            sub.cookies["reportcard_session"],
            body=_head_start(None),
            headers={"X-CSRF-Token": sub_token},
        )
        assert status == 404, account
    assert _imports(site) == before
    assert _uploads(site) == files_before


def test_the_token_in_the_query_or_header_starts_an_import(site: Site) -> None:
    admin = sign_in(site.base, "admin", PASSWORDS["admin"])
    page = admin.get(f"/accounts/{site.root}/sis_import")
    token = csrf_of(page.text)
    # The page's own form carries the token in its action URL.
    assert f'action="/accounts/{site.root}/sis_import?csrf_token={token}"' in page.text
    csv = b"term_id,name,status\nt-q,Term Q,active\n"
    before, files_before = _imports(site), len(_uploads(site))
    by_query = admin.post(
        f"/accounts/{site.root}/sis_import",
        params={"csrf_token": token},
        files={"attachment": ("terms.csv", csv, "text/csv")},
    )
    assert by_query.status_code == 303, by_query.text
    by_header = admin.post(
        f"/accounts/{site.root}/sis_import",
        headers={"X-CSRF-Token": token},
        files={"attachment": ("terms.csv", csv, "text/csv")},
    )
    assert by_header.status_code == 303, by_header.text
    assert _imports(site) == before + 2
    assert len(_uploads(site)) >= files_before + 2  # the uploads this test's helper counts
