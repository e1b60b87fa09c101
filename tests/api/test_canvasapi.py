"""The real canvasapi client against a real server: the calls Canvas scripts make."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from canvasapi import Canvas
from canvasapi.exceptions import Conflict, Forbidden, InvalidAccessToken, ResourceDoesNotExist
from canvasapi.file import File

from tests.api.conftest import SAMPLE, World
from tests.patience import PATIENCE


def canvas(world: World, who: str = "admin", token: str | None = None) -> Canvas:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # canvasapi warns about http:// base URLs
        return Canvas(world.base, token or world.tokens[who])


def wait(report: Any, account: Any, timeout: float = PATIENCE) -> Any:
    deadline = time.monotonic() + timeout
    while report.status in ("created", "running", "compiling"):
        assert time.monotonic() < deadline, f"report stuck in {report.status}"
        time.sleep(0.05)
        report = account.get_report(report.report, report.id)
    return report


def test_accounts_visible_to_the_admin(world: World) -> None:
    accounts = list(canvas(world).get_accounts())
    assert [a.id for a in accounts] == [world.root]
    assert accounts[0].name == "Canvas U"
    account = canvas(world).get_account(world.root)
    assert account.id == world.root
    assert account.root_account_id is None
    subs = [a.id for a in account.get_subaccounts()]
    assert subs == [world.sub, world.sibling]
    assert {a.id for a in account.get_subaccounts(recursive=True)} == {
        world.sub,
        world.subsub,
        world.sibling,
    }


def test_get_reports_lists_the_catalog_sorted_by_title(world: World) -> None:
    account = canvas(world).get_account(world.root)
    reports = list(account.get_reports())
    titles = [r.title for r in reports]
    assert titles == sorted(titles)
    sample = next(r for r in reports if r.report == SAMPLE)
    assert sample.parameters == {
        "logins": {"required": False, "description": "logins"},
        "empty": {"required": False, "description": "an empty file"},
    }
    assert hasattr(sample, "last_run")


def test_create_poll_download_index_delete(world: World, tmp_path: Path) -> None:
    client = canvas(world)
    account = client.get_account(world.root)
    report = account.create_report(SAMPLE, parameters={"logins": True, "flavour": "plain"})
    assert report.status == "created"
    assert report.parameters == {"logins": "true", "flavour": "plain"}
    assert report.progress == 0
    assert report.file_url is None
    report = wait(report, account)
    assert report.status == "complete"
    assert report.progress == 100
    assert report.current_line == 36  # 30 sample logins, 5 people logins, the header
    assert report.parameters["extra_text"] == "Sample;"
    assert report.created_at_date <= report.started_at_date <= report.ended_at_date
    assert report.user["id"] > 0
    att = report.attachment
    assert att["content-type"] == "text/csv"
    assert report.file_url == (f"{world.base}/accounts/{world.root}/files/{att['id']}/download")
    # download through canvasapi's File, with its Bearer header
    target = tmp_path / "out.csv"
    File(client._Canvas__requester, att).download(str(target))
    body = target.read_bytes()
    assert body.startswith(b"canvas_user_id,login_id,full_name,created_at,created_by_sis\n")
    assert body.count(b"\n") == 36
    assert len(body) == att["size"]
    # the Files API, as Berkeley's client uses it
    f = client.get_file(att["id"])
    assert f.display_name == att["filename"]
    # index: this run is there, newest first
    index = list(account.get_index_of_reports(SAMPLE))
    assert index[0].id == report.id
    deleted = report.delete_report()
    assert deleted.status == "deleted"
    assert deleted.file_url == report.file_url  # soft delete keeps the file
    with pytest.raises(ResourceDoesNotExist):
        account.get_report(SAMPLE, report.id)
    assert report.id not in [r.id for r in account.get_index_of_reports(SAMPLE)]


def test_index_pagination_follows_link_headers(world: World) -> None:
    account = canvas(world).get_account(world.sub)
    made = []
    for i in range(5):
        made.append(account.create_report(SAMPLE, parameters={"n": str(i)}).id)
    # canvasapi asks per_page=100: every run comes back, newest first
    ids = [r.id for r in account.get_index_of_reports(SAMPLE)]
    assert ids[:5] == list(reversed(made))
    paged = account.get_index_of_reports(SAMPLE, per_page=2)
    assert [r.id for r in paged][:5] == list(reversed(made))


def test_duplicate_request_while_running_is_a_conflict(world: World) -> None:
    account = canvas(world).get_account(world.sibling)
    first = account.create_report(SAMPLE, parameters={"dup": "1"})
    try:
        with pytest.raises(Conflict):
            account.create_report(SAMPLE, parameters={"dup": "1"})
    finally:
        wait(first, account)


def test_client_errors_map_to_canvasapi_exceptions(world: World) -> None:
    with pytest.raises(InvalidAccessToken):
        canvas(world, token="1~nonsense").get_account(world.root)
    with pytest.raises(Forbidden):
        canvas(world, "nobody").get_account(world.root).get_reports()
    with pytest.raises(ResourceDoesNotExist):
        canvas(world).get_account(world.root).create_report("bad_report_csv")
