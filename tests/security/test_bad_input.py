"""Bad input answers a Canvas-style 400 or 404, never a 500 (both database lanes).

Each case once answered 500: a NUL character (PostgreSQL text cannot hold one) in a path, a
query string or a body, one of them leaving an orphan upload in storage; non-Latin-1 text in
a path, which went into the ``Link`` or ``Location`` header as it was; parameters nested ~1000
deep (a RecursionError while parsing). tests/security/test_fuzz.py sends them again through
schemathesis as explicit examples.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select, update

from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.sis_import_tables import sis_imports
from reportcard.db.tables import accounts
from reportcard.settings import Settings
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url
from tests.runs.sample import SAMPLE
from tests.security.conftest import client, reports_url, serve

CYRILLIC = "КАФЕДРА-1"
DEEP = 1000


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("bad-input")
    url = fresh_database_url(tmp)
    engine = make_engine(url)
    made = build_world(engine)
    with engine.begin() as conn:  # a sub-account with a non-Latin-1 SIS id
        conn.execute(
            update(accounts).where(accounts.c.id == made["sub"]).values(sis_source_id=CYRILLIC)
        )
    settings = Settings(data_dir=tmp, database_url=url, report_start_rate=0, max_queued_runs=0)
    with serve(settings, workers=0) as base:
        yield {"base": base, "engine": engine, "settings": settings, **made}
    dispose_all()
    drop_database(url)


def canvas_error(r: httpx.Response, *statuses: int) -> str:
    """The first message of a Canvas-style JSON error with one of ``statuses``."""
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    if "error" in body:  # Canvas's own form for a bad report parameter
        return str(body["error"])
    first = body["errors"][0]
    return str(first["message"] if isinstance(first, dict) else first)


def test_nul_in_paths_and_query_strings_is_404_or_400(target: dict[str, Any]) -> None:
    root = target["root"]
    with client(target["base"], target["tokens"]["admin"]) as c:
        for path in (
            "/api/v1/accounts/sis_account_id:a%00b/reports",
            f"/api/v1/accounts/{root}/reports/a%00b",
            f"/api/v1/accounts/{root}/reports/{SAMPLE}/1%00",
            f"/api/v1/accounts/{root}/sis_imports/1%00",
            f"/api/v1/accounts/{root}/report_schedules/1%00",
            "/files/1%00/download",
        ):
            canvas_error(c.get(path), 404)
        for path, query in (
            (f"/api/v1/accounts/{root}/reports/{SAMPLE}", "x=a%00"),
            (f"/api/v1/accounts/{root}/audit_events", "action=a%00"),
            (f"/api/v1/accounts/{root}/audit_events", "since=2024-01-01%00"),
            (f"/api/v1/accounts/{root}/sis_imports", "workflow_state[]=a%00"),
            (f"/api/v1/accounts/{root}/sub_accounts", "a%00=1"),
            ("/files/1/download", "verifier=a%00"),
        ):
            message = canvas_error(c.get(f"{path}?{query}"), 400)
            assert "NUL" in message
        post = c.post(reports_url(root, SAMPLE), params={"parameters[x]": "\x00"})
        assert "NUL" in canvas_error(post, 400)


def test_nul_in_bodies_is_400_and_leaves_no_upload(target: dict[str, Any]) -> None:
    root, engine = target["root"], target["engine"]
    schedules = f"/api/v1/accounts/{root}/report_schedules"
    hooks = f"/api/v1/accounts/{root}/report_webhooks"
    nul = "a\x00b"
    with client(target["base"], target["tokens"]["admin"]) as c:
        term = {"parameters": {"enrollment_term_id": nul}}
        start = c.post(reports_url(root, "provisioning_csv"), json=term)
        canvas_error(start, 400)
        for body in (
            {"report": nul},
            {"report": SAMPLE, "recurrence": {"frequency": nul}, "recipients": ["a@b.c"]},
            {"report": SAMPLE, "recurrence": {"frequency": "daily", "at": "07:00"},
             "recipients": [f"a{nul}@b.c"]},
            {"report": SAMPLE, "recurrence": {"frequency": "daily", "at": "07:00"},
             "recipients": ["a@b.c"], "time_zone": nul},
            {"report": SAMPLE, "parameters": {"enrollment_term_id": nul},
             "recurrence": {"frequency": "daily", "at": "07:00"}, "recipients": ["a@b.c"]},
        ):  # fmt: skip
            r = c.post(schedules, json=body)
            assert r.status_code < 500, (body, r.text)
            if r.status_code >= 400:
                canvas_error(r, 400, 422)
        for body in (
            {"url": f"https://example.com/{nul}"},
            {"url": "https://example.com/hook", "events": [nul]},
        ):
            canvas_error(c.post(hooks, json=body), 400, 422)
        upload = f"/api/v1/accounts/{root}/sis_imports"
        for name in (b"users\x00.csv", b"users.csv"):  # a raw NUL, as httpx would escape it
            body = (
                b'--XyZ\r\nContent-Disposition: form-data; name="attachment"; filename="'
                + name
                + b'"\r\nContent-Type: text/csv\r\n\r\nuser_id,login_id,status\nu1,l1,active\n'
                + b"\r\n--XyZ--\r\n"
            )
            headers = {"Content-Type": "multipart/form-data; boundary=XyZ"}
            r = c.post(upload, content=body, headers=headers)
            assert r.status_code < 500, r.text
        query = c.post(upload, params={"extension": nul}, content=b"a,b\n1,2\n")
        canvas_error(query, 400)
    # Every upload in storage belongs to an import row (the refused ones were removed).
    with engine.connect() as conn:
        keys = set(conn.execute(select(sis_imports.c.upload_key)).scalars())
    folder = target["settings"].resolved_storage_dir / "sis_imports"
    stored = (
        {str(p.relative_to(folder.parent)) for p in folder.rglob("*") if p.is_file()}
        if folder.exists()
        else set()
    )
    assert stored == keys


def test_non_latin1_paths_get_ascii_link_and_location_headers(target: dict[str, Any]) -> None:
    root = target["root"]
    with client(target["base"], target["tokens"]["admin"]) as c:
        euro = c.get(f"/api/v1/accounts/{root}/reports/€")
        assert euro.status_code == 200
        assert euro.json() == []
        assert f"/api/v1/accounts/{root}/reports/%E2%82%AC?page=1" in euro.headers["Link"]
        account = f"sis_account_id:{CYRILLIC}"
        encoded = quote(account, safe=":")
        for path in (
            f"/api/v1/accounts/{account}/reports/{SAMPLE}",
            f"/api/v1/accounts/{account}/sub_accounts",
            f"/api/v1/accounts/{account}/report_schedules",
            f"/api/v1/accounts/{account}/report_webhooks",
        ):
            r = c.get(path, params={"per_page": 1})
            assert r.status_code == 200, (path, r.text)
            link = r.headers["Link"]
            assert link.isascii()
            assert f"/api/v1/accounts/{encoded}/" in link
            first = link.split(">")[0].lstrip("<")
            assert c.get(first).status_code == 200  # the link leads back to the same list
        made = c.post(reports_url(account, SAMPLE), data={"parameters[x]": "1"})
        assert made.status_code == 200, made.text
        again = c.post(reports_url(account, SAMPLE), data={"parameters[x]": "1"})
        assert again.status_code == 409
        location = again.headers["Location"]
        assert location.isascii()
        assert location.endswith(f"/api/v1/accounts/{encoded}/reports/{SAMPLE}/{made.json()['id']}")
        assert c.get(location).json()["id"] == made.json()["id"]


def test_lone_surrogates_in_json_are_400_and_poison_nothing(target: dict[str, Any]) -> None:
    """``"\\ud800"`` is valid JSON but not Unicode: once stored, every list echoing it was 500."""
    root = target["root"]
    json_headers = {"Content-Type": "application/json"}
    body = b'{"parameters": {"\\ud800": "x", "y": "\\udfff"}}'
    with client(target["base"], target["tokens"]["admin"]) as c:
        for path in (
            reports_url(root, SAMPLE),
            f"/api/v1/accounts/{root}/report_schedules",
            f"/api/v1/accounts/{root}/report_webhooks",
        ):
            r = c.post(path, content=body, headers=json_headers)
            assert "surrogate" in canvas_error(r, 400)
        assert c.get(reports_url(root, SAMPLE), params={"per_page": 100}).status_code == 200


def _nested_json(key: str) -> bytes:
    return json.dumps({key: {"a": 1}}).replace('{"a": 1}', "[" * DEEP + "]" * DEEP).encode()


def test_deeply_nested_json_and_form_bodies_are_400(target: dict[str, Any]) -> None:
    root = target["root"]
    json_headers = {"Content-Type": "application/json"}
    with client(target["base"], target["tokens"]["admin"]) as c:
        for path, key in (
            (reports_url(root, SAMPLE), "parameters"),
            (f"/api/v1/accounts/{root}/report_schedules", "report_schedule"),
            (f"/api/v1/accounts/{root}/report_webhooks", "report_webhook"),
        ):
            r = c.post(path, content=_nested_json(key), headers=json_headers)
            assert "nested" in canvas_error(r, 400)
            form = {key + "[a]" * DEEP: "1"}
            assert "nested" in canvas_error(c.post(path, data=form), 400)
            # just under the limit is read normally (then refused or accepted on its merits)
            shallow = {key + "[a]" * 90: "1"}
            assert c.post(path, data=shallow).status_code < 500
