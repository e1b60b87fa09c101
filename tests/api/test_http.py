"""Raw HTTP against a real server: bodies, headers, status codes and error shapes, byte for byte."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import SAMPLE, World
from tests.patience import ANSWER, PATIENCE

NOT_FOUND = b'{"errors":[{"message":"The specified resource does not exist."}]}'
UNAUTHENTICATED = (
    b'{"status":"unauthenticated","errors":[{"message":"user authorization required"}]}'
)
FORBIDDEN = (
    b'{"status":"unauthorized","errors":[{"message":"user not authorized to perform that action"}]}'
)


def client(world: World, who: str | None = "admin") -> httpx.Client:
    headers = {} if who is None else {"Authorization": f"Bearer {world.tokens[who]}"}
    return httpx.Client(base_url=world.base, headers=headers, timeout=ANSWER)


def finish(c: httpx.Client, url: str, timeout: float = PATIENCE) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = c.get(url).json()
        if body["status"] not in ("created", "running", "compiling"):
            return body
        assert time.monotonic() < deadline
        time.sleep(0.05)


def reports_url(account: int | str, *rest: object) -> str:
    return "/".join([f"/api/v1/accounts/{account}/reports", *map(str, rest)]).rstrip("/")


REPORT_KEYS = [
    "id",
    "progress",
    "parameters",
    "current_line",
    "status",
    "report",
    "created_at",
    "started_at",
    "ended_at",
    "run_time",
    "file_url",
    "message",
    "user",
]


def test_create_returns_report_json_with_every_key_in_order(world: World) -> None:
    with client(world) as c:
        r = c.post(reports_url(world.root, SAMPLE), data={"parameters[logins]": "true"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert list(body) == REPORT_KEYS
        assert body["status"] == "created"
        assert body["parameters"] == {"logins": "true"}
        assert body["current_line"] is None
        assert body["started_at"] is None and body["ended_at"] is None
        assert body["created_at"].endswith("-07:00")  # the root account's zone (Denver, winter)
        assert isinstance(body["run_time"], float)
        assert body["user"]["display_name"] == "Ada Admin"
        done = finish(c, reports_url(world.root, SAMPLE, body["id"]))
        assert list(done) == [*REPORT_KEYS, "attachment"]
        att = done["attachment"]
        # a signed, expiring verifier (reportcard.auth.links), not Canvas's bare uuid
        assert re.fullmatch(
            rf"{re.escape(world.base)}/files/{att['id']}/download\?download_frd=1"
            r"&verifier=\d{10}-[0-9a-f]{32}",
            att["url"],
        )
        assert att["created_at"].endswith("Z")
        assert done["run_time"] >= 0


def test_json_body_keeps_native_types_and_query_string_parameters_merge(world: World) -> None:
    with client(world) as c:
        body = c.post(
            reports_url(world.root, SAMPLE),
            json={"parameters": {"enrollment_term_id": world.fall_term, "logins": True}},
        ).json()
        assert body["parameters"] == {"enrollment_term_id": world.fall_term, "logins": True}
        finish(c, reports_url(world.root, SAMPLE, body["id"]))
        # unsupported/canvas style: parameters in the query string of a POST, trailing slash
        body = c.post(
            reports_url(world.root, SAMPLE) + "/",
            params={"parameters[logins]": "True", "parameters[states][]": ["a", "b"]},
        ).json()
        assert body["parameters"] == {"logins": "True", "states": ["a", "b"]}
        finish(c, reports_url(world.root, SAMPLE, body["id"]))


def test_multipart_body_and_json_suffix(world: World) -> None:
    with client(world) as c:
        r = c.post(
            reports_url(world.root, SAMPLE) + ".json",
            files={"parameters[logins]": (None, "1"), "parameters[mp]": (None, "yes")},
        )
        assert r.status_code == 200
        assert r.json()["parameters"] == {"logins": "1", "mp": "yes"}
        finish(c, reports_url(world.root, SAMPLE, r.json()["id"]))
        assert c.get(f"/api/v1/accounts/{world.root}/reports.json").status_code == 200


def test_self_and_sis_account_ids_address_accounts(world: World) -> None:
    with client(world) as c:
        assert c.get("/api/v1/accounts/self").json()["id"] == world.root
        assert c.get("/api/v1/accounts/sis_account_id:ARTS").json()["id"] == world.sub
        assert c.get("/api/v1/accounts/sis_account_id:NOPE").content == NOT_FOUND


def test_abort_a_running_run_then_aborting_again_is_404(world: World, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # the run plans until this file exists: "running" however slow
    with client(world) as c:
        created = c.post(
            reports_url(world.subsub, SAMPLE), data={"parameters[gate]": str(gate)}
        ).json()
        url = reports_url(world.subsub, SAMPLE, created["id"])
        deadline = time.monotonic() + PATIENCE
        while c.get(url).json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        r = c.put(url + "/abort")
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "aborted"
        assert body["progress"] == 100
        assert body["message"] == "Generating the report, Framework Sample Csv, stopped."
        assert body["parameters"]["extra_text"] == "Report has been aborted"
        assert "attachment" not in body and body["file_url"] is None
        gate.touch()  # the planner goes on, finds the run aborted, and writes nothing
        deadline = time.monotonic() + PATIENCE
        while not Path(f"{gate}.passed").exists():
            assert time.monotonic() < deadline, "the planner never went on"
            time.sleep(0.02)
        time.sleep(0.5)  # (a grace for its last statements; nothing below depends on it)
        later = c.get(url).json()
        assert later["status"] == "aborted" and "attachment" not in later
        r2 = c.put(url + "/abort")
        assert r2.status_code == 404
        assert r2.content == NOT_FOUND


def test_aborting_a_finished_run_is_404_and_changes_nothing(world: World) -> None:
    with client(world) as c:
        created = c.post(reports_url(world.root, SAMPLE), data={"parameters[f]": "1"}).json()
        done = finish(c, reports_url(world.root, SAMPLE, created["id"]))
        assert done["status"] == "complete"
        r = c.put(reports_url(world.root, SAMPLE, created["id"], "abort"))
        assert (r.status_code, r.content) == (404, NOT_FOUND)
        assert c.get(reports_url(world.root, SAMPLE, created["id"])).json()["status"] == "complete"


def test_deleted_run_is_gone_from_show_delete_and_abort(world: World) -> None:
    with client(world) as c:
        created = c.post(reports_url(world.root, SAMPLE), data={"parameters[d]": "1"}).json()
        finish(c, reports_url(world.root, SAMPLE, created["id"]))
        url = reports_url(world.root, SAMPLE, created["id"])
        assert c.delete(url).json()["status"] == "deleted"
        for r in (c.get(url), c.delete(url), c.put(url + "/abort")):
            assert (r.status_code, r.content) == (404, NOT_FOUND)


def test_pagination_link_header(world: World) -> None:
    with client(world) as c:
        for i in range(3):
            body = c.post(reports_url(world.sibling, SAMPLE), data={"parameters[p]": str(i)}).json()
            finish(c, reports_url(world.sibling, SAMPLE, body["id"]))
        r = c.get(reports_url(world.sibling, SAMPLE), params={"per_page": 1, "page": 2})
        assert len(r.json()) == 1
        base = f"{world.base}/api/v1/accounts/{world.sibling}/reports/{SAMPLE}"
        links = r.headers["link"].split(",")
        assert links[0] == f'<{base}?page=2&per_page=1>; rel="current"'
        assert links[1] == f'<{base}?page=3&per_page=1>; rel="next"'
        assert links[2] == f'<{base}?page=1&per_page=1>; rel="prev"'
        assert links[3] == f'<{base}?page=1&per_page=1>; rel="first"'
        assert links[4].startswith(f"<{base}?page=") and links[4].endswith('rel="last"')
        # an access_token in the query is not repeated in the links
        r = c.get(
            reports_url(world.sibling, SAMPLE),
            params={"access_token": world.tokens["admin"], "per_page": 500},
        )
        assert "access_token" not in r.headers["link"]
        assert "per_page=100" in r.headers["link"]
        # unknown types index to an empty list; the available list is not paginated
        assert c.get(reports_url(world.root, "nope_csv")).json() == []
        assert "link" not in c.get(reports_url(world.root)).headers


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ({}, 401, UNAUTHENTICATED),
        (
            {"Authorization": "Bearer 1~not-a-token"},
            401,
            b'{"errors":[{"message":"Invalid access token."}]}',
        ),
    ],
)
def test_unauthenticated_bodies_and_www_authenticate(
    world: World, headers: dict[str, str], status: int, body: bytes
) -> None:
    r = httpx.get(f"{world.base}{reports_url(world.root)}", headers=headers, timeout=ANSWER)
    assert (r.status_code, r.content) == (status, body)
    assert r.headers["www-authenticate"] == 'Bearer realm="canvas-lms"'


def test_access_token_query_parameter_authenticates(world: World) -> None:
    r = httpx.get(
        f"{world.base}{reports_url(world.root)}",
        params={"access_token": world.tokens["admin"]},
        timeout=ANSWER,
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("data", "status", "body"),
    [
        (
            {"parameters[enrollment_term_id]": "9999"},
            400,
            b'{"error":"invalid enrollment_term_id \'9999\'"}',
        ),
        (
            {"parameters[enrollment_term]": "sis_term_id:nope"},
            400,
            b'{"error":"invalid enrollment_term_id \'sis_term_id:nope\'"}',
        ),
    ],
)
def test_bad_term_is_400_with_canvas_body(
    world: World, data: dict[str, str], status: int, body: bytes
) -> None:
    with client(world) as c:
        r = c.post(reports_url(world.root, SAMPLE), data=data)
        assert (r.status_code, r.content) == (status, body)


def test_good_terms_by_sis_id_list_and_blank(world: World) -> None:
    with client(world) as c:
        for value in ("sis_term_id:fall24", f"9999,{world.fall_term}", "", "active_terms"):
            r = c.post(
                reports_url(world.root, SAMPLE),
                data={"parameters[enrollment_term_id]": value, "parameters[v]": value or "-"},
            )
            assert r.status_code == 200, (value, r.text)
            finish(c, reports_url(world.root, SAMPLE, r.json()["id"]))


def test_unknown_report_and_unknown_ids_are_404(world: World) -> None:
    with client(world) as c:
        for r in (
            c.post(reports_url(world.root, "bad_report_csv")),
            c.get(reports_url(world.root, SAMPLE, 999999)),
            c.get(reports_url(world.root, SAMPLE, "abc")),
            c.delete(reports_url(world.root, SAMPLE, 999999)),
            c.get("/api/v1/accounts/999999/reports"),
            c.get("/api/v1/nothing/here"),
        ):
            assert (r.status_code, r.content) == (404, NOT_FOUND), r.url


def test_malformed_json_and_bad_parameters_shape_are_400(world: World) -> None:
    with client(world) as c:
        r = c.post(
            reports_url(world.root, SAMPLE),
            content=b'{"parameters": {"users": tru',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["message"].startswith("The request body is not valid JSON")
        r = c.post(reports_url(world.root, SAMPLE), json={"parameters": ["users"]})
        assert r.status_code == 400
        r = c.post(reports_url(world.root, SAMPLE), json=["parameters"])
        assert r.status_code == 400
        r = c.post(
            reports_url(world.root, SAMPLE),
            data={"parameters[a]": "1", "parameters[a][b]": "2"},
        )
        assert r.status_code == 400
        # none of these left a run behind
        listed = c.get(reports_url(world.root, SAMPLE), params={"per_page": 100}).json()
        assert all(run["parameters"].get("a") is None for run in listed)


def test_run_of_another_account_is_404_not_its_data(world: World) -> None:
    with client(world) as c:
        created = c.post(reports_url(world.sub, SAMPLE), data={"parameters[o]": "1"}).json()
        finish(c, reports_url(world.sub, SAMPLE, created["id"]))
        # the same id under another account, or under another type, does not exist
        assert c.get(reports_url(world.root, SAMPLE, created["id"])).status_code == 404
        assert c.get(reports_url(world.sub, "other_csv", created["id"])).status_code == 404


def test_downloads_need_a_verifier_or_a_token(world: World) -> None:
    with client(world) as c:
        created = c.post(reports_url(world.root, SAMPLE), data={"parameters[dl]": "1"}).json()
        done = finish(c, reports_url(world.root, SAMPLE, created["id"]))
        att = done["attachment"]
        with_token = c.get(done["file_url"])
        assert with_token.status_code == 200
        assert with_token.headers["content-type"].startswith("text/csv")
        assert len(with_token.content) == att["size"]
    anonymous = httpx.get(att["url"], timeout=ANSWER)  # the verified URL works without a header
    assert anonymous.content == with_token.content
    assert httpx.get(done["file_url"], timeout=ANSWER).status_code == 401
    tampered = att["url"][:-6] + ("000000" if not att["url"].endswith("000000") else "111111")
    assert httpx.get(tampered, timeout=ANSWER).status_code == 404
    with client(world, "nobody") as c:
        assert c.get(done["file_url"]).status_code == 403
        assert c.get(f"/api/v1/files/{att['id']}").status_code == 403


def test_openapi_document_lists_the_report_endpoints(world: World) -> None:
    doc = httpx.get(f"{world.base}/openapi.json", timeout=ANSWER).json()
    paths = doc["paths"]
    assert "/api/v1/accounts/{account_id}/reports/{report}/{run_id}/abort" in paths
    ops = {op["operationId"] for p in paths.values() for op in p.values()}
    assert {"start_report", "report_status", "delete_report", "abort_report"} <= ops


def test_garbage_booleans_select_nothing_and_the_run_ends_in_error(world: World) -> None:
    with client(world) as c:
        created = c.post(
            reports_url(world.root, "provisioning_csv"),
            data={"parameters[users]": "garbage", "parameters[courses]": "maybe"},
        )
        assert created.status_code == 200
        done = finish(c, reports_url(world.root, "provisioning_csv", created.json()["id"]))
        assert done["status"] == "error"
        assert done["progress"] == 100
        assert done["ended_at"] is not None
        assert done["message"] == "Generating the report, Provisioning Csv, failed."
        assert done["parameters"]["extra_text"] == (
            "Failed, the report failed to generate a file. Please try again."
        )
        assert "attachment" not in done


def test_provisioning_through_the_api_gives_a_zip_of_the_selected_files(world: World) -> None:
    import io
    import zipfile

    with client(world) as c:
        created = c.post(
            reports_url(world.root, "provisioning_csv"),
            data={"parameters[users]": "1", "parameters[accounts]": "on", "parameters[x]": "z"},
        ).json()
        done = finish(c, reports_url(world.root, "provisioning_csv", created["id"]))
        assert done["status"] == "complete"
        assert done["parameters"]["extra_text"] == "Term: All Terms; Reports: users accounts "
        assert done["message"] == (
            "Provisioning report successfully generated with the following settings. "
            "Account: Canvas U; Term: All Terms; Reports: users accounts "
        )
        att = done["attachment"]
        assert att["content-type"] == "application/zip"
        assert att["filename"].endswith(f"_{created['id']}.zip")
        zf = zipfile.ZipFile(io.BytesIO(c.get(att["url"]).content))
        assert zf.namelist() == ["users.csv", "accounts.csv"]
        accounts_csv = zf.read("accounts.csv").decode()
        assert accounts_csv.splitlines()[0] == (
            "canvas_account_id,account_id,canvas_parent_id,parent_account_id,name,status,"
            "created_by_sis"
        )
        assert f"{world.sub},ARTS,{world.root},,College of Arts,active,false" in accounts_csv
        assert f"{world.subsub},MUSIC,{world.sub},ARTS,Music,active,false" in accounts_csv
        assert done["current_line"] == sum(zf.read(n).count(b"\n") for n in zf.namelist())
