"""The audit log: who started, downloaded, aborted and deleted runs, failed authorization,
append-only in the database, and readable by administrators (API and CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from reportcard import audit
from reportcard.cli import main
from reportcard.db.audit_tables import audit_events
from reportcard.settings import get_settings
from tests.patience import ANSWER
from tests.runs.sample import SAMPLE
from tests.security.conftest import World, client, finish, reports_url


def events(world: World, **filters: Any) -> list[dict[str, Any]]:
    with world.engine.connect() as conn:
        return audit.list_events(conn, limit=1000, **filters)


def audit_url(account: int | str) -> str:
    return f"/api/v1/accounts/{account}/audit_events"


def test_start_download_abort_delete_are_recorded_with_who_and_which_run(
    world: World, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    with client(world.base, world.tokens["admin"]) as c:
        run = c.post(reports_url(world.root, SAMPLE), data={"parameters[a]": "audit"}).json()
        done = finish(c, reports_url(world.root, SAMPLE, run["id"]))
        assert c.get(done["file_url"]).status_code == 200  # with the token
        assert (
            httpx.get(done["attachment"]["url"], timeout=ANSWER).status_code == 200
        )  # with the signed link
        # ``gate`` holds the run while it plans until the file exists: the abort always lands
        other = c.post(
            reports_url(world.root, SAMPLE),
            data={"parameters[a]": "abort", "parameters[gate]": str(gate)},
        ).json()
        assert c.put(reports_url(world.root, SAMPLE, other["id"], "abort")).status_code == 200
        gate.touch()
        assert c.delete(reports_url(world.root, SAMPLE, run["id"])).status_code == 200
    admin = events(world, user_id=None)  # all events
    mine = [e for e in admin if e["subject_id"] in (run["id"], other["id"])]
    actions = sorted(e["action"] for e in mine if e["subject_type"] == "account_report")
    assert actions == sorted(
        [
            "report.start",
            "report.start",
            "report.download",
            "report.download",
            "report.abort",
            "report.delete",
        ]
    )
    start = next(e for e in mine if e["action"] == "report.start" and e["subject_id"] == run["id"])
    assert start["account_id"] == world.root
    assert start["detail"] == {"report": SAMPLE, "parameters": {"a": "audit"}}
    assert start["ip"] == "127.0.0.1"
    downloads = [e for e in mine if e["action"] == "report.download"]
    assert sorted(e["detail"]["via"] for e in downloads) == ["link", "token"]
    by_token = next(e for e in downloads if e["detail"]["via"] == "token")
    by_link = next(e for e in downloads if e["detail"]["via"] == "link")
    assert by_token["user_id"] is not None and by_link["user_id"] is None
    assert all(e["user_id"] is not None for e in mine if e["action"] != "report.download")


def test_failed_authorization_is_recorded_without_the_secret(world: World) -> None:
    path = reports_url(world.root, SAMPLE)
    assert httpx.get(world.base + path, timeout=ANSWER).status_code == 401
    bogus = "999999~not-a-real-secret-value"
    assert (
        httpx.get(
            world.base + path, headers={"Authorization": f"Bearer {bogus}"}, timeout=ANSWER
        ).status_code
        == 401
    )
    with client(world.base, world.tokens["nobody"]) as c:
        assert c.post(path).status_code == 403
    denied = events(world, action="auth")
    unauth = [
        e for e in denied if e["action"] == "auth.unauthenticated" and e["detail"]["path"] == path
    ]
    assert {e["detail"]["token"] for e in unauth} >= {None, 999999}
    forbidden = [
        e for e in denied if e["action"] == "auth.forbidden" and e["detail"]["path"] == path
    ]
    assert forbidden and forbidden[-1]["detail"]["method"] == "POST"
    nobody_id = int(world.tokens["nobody"].split("~")[0])
    assert forbidden[0]["account_id"] == world.root
    assert forbidden[0]["user_id"] is not None and forbidden[0]["detail"]["token"] == nobody_id
    with world.engine.connect() as conn:
        stored = json.dumps([r.detail for r in conn.execute(select(audit_events))])
    for secret in [bogus, *world.tokens.values()]:
        assert secret.split("~")[1] not in stored


def test_the_table_refuses_update_and_delete(world: World) -> None:
    with world.engine.begin() as conn:
        audit.record(conn, user_id=None, action="test.marker", detail={"n": 1})
    for stmt in (
        update(audit_events).values(action="tampered"),
        delete(audit_events),
    ):
        with pytest.raises(DBAPIError, match="append-only"), world.engine.begin() as conn:
            conn.execute(stmt)
    if world.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), world.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_events"))
    assert events(world, action="test.marker")


def test_api_lists_events_of_the_account_subtree_for_admins_only(world: World) -> None:
    with client(world.base, world.tokens["subadmin"]) as c:
        made = c.post(reports_url(world.sub, SAMPLE), data={"parameters[a]": "sub"}).json()
    with client(world.base, world.tokens["admin"]) as c:
        root_view = c.get(audit_url(world.root), params={"action": "report.start", "per_page": 100})
        assert root_view.status_code == 200
        assert 'rel="current"' in root_view.headers["link"]
        ids = [e["subject_id"] for e in root_view.json()]
        assert made["id"] in ids  # a sub-account's events show on the root
        assert all(e["action"] == "report.start" for e in root_view.json())
        page1 = c.get(audit_url(world.root), params={"per_page": 1})
        assert len(page1.json()) == 1 and 'rel="next"' in page1.headers["link"]
        later = c.get(audit_url(world.root), params={"since": "2999-01-01T00:00:00Z"})
        assert later.json() == []
        earlier = c.get(audit_url(world.root), params={"until": "2000-01-01T00:00:00Z"})
        assert earlier.json() == []
        assert c.get(audit_url(world.root), params={"since": "yesterday"}).status_code == 400
        assert c.get(audit_url(world.root), params={"user_id": "x"}).status_code == 400
    with client(world.base, world.tokens["subadmin"]) as c:
        sub_view = c.get(audit_url(world.sub), params={"per_page": 100}).json()
        assert sub_view and {e["account_id"] for e in sub_view} <= {world.sub, world.subsub}
        assert c.get(audit_url(world.root)).status_code == 403
        assert c.get(audit_url(world.sibling)).status_code == 403
    for who in ("viewer", "helpdesk", "nobody"):  # read_reports is not enough
        with client(world.base, world.tokens[who]) as c:
            assert c.get(audit_url(world.root)).status_code == 403, who
    with client(world.base, world.tokens["otheradmin"]) as c:
        assert c.get(audit_url(world.root)).status_code == 403
    assert httpx.get(world.base + audit_url(world.root), timeout=ANSWER).status_code == 401


def test_cli_lists_events_as_json_and_text(
    world: World, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPORTCARD_DATABASE_URL", world.engine.url.render_as_string(False))
    monkeypatch.setenv("REPORTCARD_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()

    def rc(*args: str) -> Any:
        return runner.invoke(main, ["audit", "list", *args])

    try:
        with world.engine.begin() as conn:
            audit.record(conn, user_id=7, action="report.start", account_id=world.sub, detail={})
            audit.record(conn, user_id=8, action="report.start", account_id=world.other_root)
        got = rc("--account", str(world.root), "--action", "report.start", "--json")
        assert got.exit_code == 0, got.output
        rows = json.loads(got.stdout)
        assert rows and all(r["action"] == "report.start" for r in rows)
        assert world.other_root not in {r["account_id"] for r in rows}
        assert 7 in {r["user_id"] for r in rows}
        text_out = rc("--since", "1h", "--user", "8")
        assert text_out.exit_code == 0, text_out.output
        assert "report.start" in text_out.stdout and "user=8" in text_out.stdout
        assert "user=7" not in text_out.stdout
        assert rc("--since", "not-a-time").exit_code != 0
    finally:
        get_settings.cache_clear()
