"""Root accounts zoned as Canvas stores them: Rails names, IANA names, and a name no zone has.

A CD2 export or an old database can hold ``default_time_zone = 'Mountain Time (US & Canada)'``
(what Canvas stores) or a name no zone answers to. Reports write Rails-zoned times with the
zone's offsets across daylight saving; an unknown stored zone is written as UTC (with a
warning in the log), and no request answers 500 for it.
"""

from __future__ import annotations

import io
import logging
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, update

from reportcard.auth.tokens import create_token
from reportcard.cli import main
from reportcard.db.engine import make_engine
from reportcard.db.tables import accounts
from reportcard.lms.institution import create_admin, create_root_account
from reportcard.lms.sis_import.local import import_path
from reportcard.reports.formatting import iso_in_zone, time_formatter, zone
from reportcard.settings import Settings, get_settings
from reportcard.storage import storage_from_settings
from tests.cli.test_init import SIS, sis_zip
from tests.patience import ANSWER, PATIENCE
from tests.serving import serving_reportcard


@dataclass
class Place:
    engine: Engine
    settings: Settings
    root: int
    token: str


@pytest.fixture
def place(database_url: str, tmp_path: Path) -> Place:
    settings = Settings(data_dir=tmp_path, database_url=database_url, poll_seconds=0.05)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        root = create_root_account(conn, name="Zoned U", time_zone="UTC")
        admin = create_admin(conn, root, login="admin")
        token = create_token(conn, admin.user_id)
    storage = storage_from_settings(settings)
    _, state = import_path(engine, storage, settings, sis_zip(tmp_path / "sis.zip"), root)
    assert state == "imported"
    return Place(engine, settings, root, token)


def set_zone(place: Place, name: str) -> None:
    with place.engine.begin() as conn:
        conn.execute(
            update(accounts).where(accounts.c.id == place.root).values(default_time_zone=name)
        )


@pytest.fixture
def served(place: Place) -> Iterator[str]:
    with serving_reportcard(place.settings, workers=1) as base:
        yield base


def export(base: str, place: Place) -> tuple[dict[str, object], dict[str, bytes]]:
    """sis_export_csv (terms and courses) through the API: the finished run and its files."""
    headers = {"Authorization": f"Bearer {place.token}"}
    url = f"{base}/api/v1/accounts/{place.root}/reports/sis_export_csv"
    started = httpx.post(
        url,
        data={"parameters[terms]": "true", "parameters[courses]": "true"},
        headers=headers,
        timeout=ANSWER,
    )
    assert started.status_code == 200, started.text
    run = started.json()
    deadline = time.monotonic() + PATIENCE
    while run["status"] not in ("complete", "error", "aborted"):
        assert time.monotonic() < deadline, run
        time.sleep(0.05)
        answer = httpx.get(f"{url}/{run['id']}", headers=headers, timeout=ANSWER)
        assert answer.status_code == 200, answer.text
        run = answer.json()
    assert run["status"] == "complete", run
    listed = httpx.get(
        f"{base}/api/v1/accounts/{place.root}/reports", headers=headers, timeout=ANSWER
    )
    assert listed.status_code == 200
    body = httpx.get(
        run["file_url"], headers=headers, follow_redirects=True, timeout=ANSWER
    ).content
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return run, {name: zf.read(name) for name in zf.namelist()}


TERMS_HEADER = b"term_id,name,status,start_date,end_date\n"
COURSES_HEADER = (
    b"course_id,integration_id,short_name,long_name,account_id,term_id,status,start_date,"
    b"end_date,course_format,blueprint_course_id\n"
)


@pytest.mark.parametrize("name", ["Mountain Time (US & Canada)", "America/Denver"])
def test_rails_and_iana_zoned_roots_write_the_same_offsets_across_dst(
    place: Place, served: str, name: str
) -> None:
    set_zone(place, name)
    run, files = export(served, place)
    assert files["terms.csv"] == TERMS_HEADER + (
        b"T1,Fall 2024,active,2024-08-20T00:00:00-06:00,2024-12-20T00:00:00-07:00\n"
    )
    assert files["courses.csv"] == COURSES_HEADER + (
        b"C1,,PHYS 101,Physics,,T1,active,2024-11-02T12:00:00-06:00,2024-11-03T11:00:00-07:00,,\n"
    )
    assert str(run["created_at"]).endswith(("-06:00", "-07:00"))


def test_an_unknown_stored_zone_is_written_as_utc_never_a_500(
    place: Place, served: str, caplog: pytest.LogCaptureFixture
) -> None:
    set_zone(place, "Mars/Olympus_Mons")
    zone.cache_clear()
    with caplog.at_level(logging.WARNING, logger="reportcard.reports.formatting"):
        run, files = export(served, place)
    assert files["terms.csv"] == TERMS_HEADER + (
        b"T1,Fall 2024,active,2024-08-20T06:00:00Z,2024-12-20T07:00:00Z\n"
    )
    assert str(run["created_at"]).endswith("Z")
    assert "unknown time zone 'Mars/Olympus_Mons'" in caplog.text


def test_reportcard_run_on_rails_and_unknown_zones(place: Place, tmp_path: Path) -> None:
    env = {
        "REPORTCARD_DATA_DIR": str(tmp_path),
        "REPORTCARD_DATABASE_URL": place.settings.resolved_database_url,
    }
    for name, start in (
        ("Mountain Time (US & Canada)", "2024-08-20T00:00:00-06:00"),
        ("Not A Zone", "2024-08-20T06:00:00Z"),
    ):
        set_zone(place, name)
        out = tmp_path / f"{len(name)}.csv"
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(
                main,
                ["run", "sis_export_csv", "--param", "terms=true", "-o", str(out)],
                env=env,
                catch_exceptions=False,
            )
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, (result.stdout, result.stderr)
        assert out.read_bytes().startswith(TERMS_HEADER + f"T1,Fall 2024,active,{start},".encode())


def test_formatting_helpers_take_rails_names() -> None:
    assert iso_in_zone("2024-07-01 12:00:00", "Eastern Time (US & Canada)") == (
        "2024-07-01T08:00:00-04:00"
    )
    assert iso_in_zone("2024-07-01 12:00:00", "UTC") == "2024-07-01T12:00:00Z"
    assert iso_in_zone("2024-07-01 12:00:00", "London") == "2024-07-01T13:00:00+01:00"
    assert time_formatter("Arizona")("2024-07-01 12:00:00") == "2024-07-01T05:00:00-07:00"
    assert time_formatter("Nowhere/Land")("2024-07-01 12:00:00") == "2024-07-01T12:00:00Z"
    assert SIS["terms.csv"].count("\n") == 2  # the fixture's data, as the expectations assume
