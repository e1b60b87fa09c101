"""Spreadsheet safety on API downloads: off by default (the stored bytes, as Canvas), on with
``REPORTCARD_API_FORMULA_SAFETY`` or a run's ``parameters[formula_safety]=true``, for a CSV
file and for a zip of CSVs. A person's name planted as ``=HYPERLINK(...)`` is the test."""

from __future__ import annotations

import io
import zipfile

import httpx

from reportcard.service.spreadsheet import BOM
from tests.patience import ANSWER
from tests.security.conftest import client, finish, reports_url, serve
from tests.web.conftest import FORMULA_NAME, Site, site

__all__ = ["site"]

PLANTED = FORMULA_NAME.encode().replace(b'"', b'""')  # as the CSV writer quotes it
SAFE = b"'" + PLANTED


def _run(site: Site, **params: str) -> dict:
    with client(site.base, site.tokens["admin"]) as c:
        data = {f"parameters[{k}]": v for k, v in params.items()}
        r = c.post(reports_url(site.root, "provisioning_csv"), data=data)
        assert r.status_code == 200, r.text
        done = finish(c, reports_url(site.root, "provisioning_csv", r.json()["id"]))
    assert done["status"] == "complete", done
    return done


def _get(base: str, site: Site, file_id: int) -> bytes:
    answer = httpx.get(
        f"{base}/files/{file_id}/download",
        headers={"Authorization": f"Bearer {site.tokens['admin']}"},
        timeout=ANSWER,
    )
    assert answer.status_code == 200, answer.text
    return answer.content


def _stored(site: Site, file_id: int) -> bytes:
    from sqlalchemy import select

    from reportcard.db.engine import read_conn
    from reportcard.db.tables import attachments

    with read_conn(site.engine) as conn:
        key = conn.execute(
            select(attachments.c.storage_key).where(attachments.c.id == file_id)
        ).scalar_one()
    return (site.settings.data_dir / "files" / key).read_bytes()


def _users(blob: bytes) -> bytes:
    if blob.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            return z.read("users.csv")
    return blob


def test_api_downloads_are_byte_identical_by_default(site: Site) -> None:
    csv_run = _run(site, users="true")
    zip_run = _run(site, users="true", accounts="true")
    for run in (csv_run, zip_run):
        file_id = run["attachment"]["id"]
        got = _get(site.base, site, file_id)
        assert got == _stored(site, file_id)
        assert PLANTED in _users(got) and SAFE not in _users(got)
    # The signed link of the run (a verifier, no token) too.
    assert httpx.get(csv_run["attachment"]["url"], timeout=ANSWER).content == _stored(
        site, csv_run["attachment"]["id"]
    )


def test_a_run_may_ask_for_formula_safety(site: Site) -> None:
    for params in ({"users": "true"}, {"users": "true", "accounts": "true"}):
        run = _run(site, formula_safety="true", **params)
        got = _users(_get(site.base, site, run["attachment"]["id"]))
        assert SAFE in got and not got.startswith(BOM)
        assert httpx.get(run["attachment"]["url"], timeout=ANSWER).content != _stored(
            site, run["attachment"]["id"]
        )
        # Only the planted row changed.
        plain = _users(_stored(site, run["attachment"]["id"]))
        keep = [line for line in plain.split(b"\n") if b"HYPERLINK" not in line]
        assert [line for line in got.split(b"\n") if b"HYPERLINK" not in line] == keep


def test_the_setting_turns_it_on_for_every_api_download(site: Site) -> None:
    csv_run = _run(site, users="true")
    zip_run = _run(site, users="true", accounts="true")
    settings = site.settings.model_copy(update={"api_formula_safety": True})
    with serve(settings, workers=0) as base:
        for run in (csv_run, zip_run):
            got = _get(base, site, run["attachment"]["id"])
            assert SAFE in _users(got)
            if run is zip_run:
                with zipfile.ZipFile(io.BytesIO(got)) as z:
                    assert z.namelist() == ["users.csv", "accounts.csv"]
