"""The SIS Imports API against a real server (uvicorn on a free port) with a real client."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, func, insert, select

from reportcard.auth.tokens import create_token
from reportcard.clock import utcnow
from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.migrate import upgrade
from reportcard.db.sis_import_tables import sis_imports
from reportcard.db.tables import accounts, sis_batches
from reportcard.lms.sis_import.job import upload_key
from reportcard.settings import Settings
from tests.api.conftest import build_world
from tests.factories import add_admin, add_person, add_role
from tests.patience import ANSWER, PATIENCE
from tests.serving import serving_reportcard

MAX_BYTES = 200_000
NOT_ROOT = {"errors": ["SIS imports can only be executed on root accounts"]}
UNAUTHORIZED = {
    "status": "unauthorized",
    "errors": [{"message": "user not authorized to perform that action"}],
}
KEYS = [
    "id",
    "created_at",
    "started_at",
    "ended_at",
    "updated_at",
    "progress",
    "workflow_state",
    "data",
    "batch_mode",
    "batch_mode_term_id",
    "multi_term_batch_mode",
    "override_sis_stickiness",
    "add_sis_stickiness",
    "update_sis_id_if_login_claimed",
    "clear_sis_stickiness",
    "diffing_data_set_identifier",
    "diffing_remaster",
    "diffed_against_import_id",
    "diffing_drop_status",
    "diffing_user_remove_status",
    "skip_deletes",
    "change_threshold",
    "diff_row_count_threshold",
]


@dataclass
class Server:
    engine: Engine
    base: str
    root: int
    sub: int
    other_root: int
    tokens: dict[str, str]

    def url(self, account: Any, rest: str = "") -> str:
        return f"{self.base}/api/v1/accounts/{account}/sis_imports{rest}"

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def wait(self, who: str, import_id: int) -> dict[str, Any]:
        deadline = time.monotonic() + PATIENCE
        while True:
            body = requests.get(
                self.url(self.root, f"/{import_id}"), headers=self.auth(who), timeout=ANSWER
            ).json()
            if body["workflow_state"] not in ("created", "importing"):
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("sis-server")
    settings = Settings(data_dir=tmp, poll_seconds=0.05, sis_import_max_bytes=MAX_BYTES)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    made = build_world(engine)
    tokens: dict[str, str] = dict(made["tokens"])  # type: ignore[arg-type]
    root = int(made["root"])  # type: ignore[arg-type]
    with engine.begin() as conn:
        role = add_role(conn, "SIS Importer", root, "import_sis_data")
        uid = add_person(conn, "Ivy Importer", "importer", root)
        add_admin(conn, uid, root, root, role, at=datetime(2024, 1, 1))
        tokens["importer"] = create_token(conn, uid)
    try:
        with serving_reportcard(settings, workers=2, lifespan="auto") as base:
            yield Server(
                engine,
                base,
                root,
                int(made["sub"]),  # type: ignore[arg-type]
                int(made["other_root"]),  # type: ignore[arg-type]
                tokens,
            )
    finally:
        dispose_all()


def zipped(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def imports_count(server: Server) -> int:
    with server.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sis_imports)).scalar_one())


def test_permissions(server: Server) -> None:
    r = requests.get(server.url(server.root), timeout=ANSWER)
    assert r.status_code == 401
    assert r.json() == {
        "status": "unauthenticated",
        "errors": [{"message": "user authorization required"}],
    }
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="canvas-lms"'
    r = requests.get(
        server.url(server.root), headers={"Authorization": "Bearer nope"}, timeout=ANSWER
    )
    assert (r.status_code, r.json()) == (401, {"errors": [{"message": "Invalid access token."}]})
    for who in ("viewer", "helpdesk", "nobody", "subadmin", "otheradmin"):
        r = requests.post(
            server.url(server.root), headers=server.auth(who), data=b"x,y\n", timeout=ANSWER
        )
        assert (r.status_code, r.json()) == (403, UNAUTHORIZED), who
    # Holding the permission on a sub-account (or above it) is not enough: root accounts only.
    for who in ("admin", "subadmin"):
        r = requests.get(server.url(server.sub), headers=server.auth(who), timeout=ANSWER)
        assert (r.status_code, r.json()) == (400, NOT_ROOT), who
    r = requests.get(server.url(server.root), headers=server.auth("importer"), timeout=ANSWER)
    assert r.status_code == 200
    r = requests.get(server.url(99999), headers=server.auth("admin"), timeout=ANSWER)
    assert (r.status_code, r.json()) == (
        404,
        {"errors": [{"message": "The specified resource does not exist."}]},
    )


def test_multipart_import_with_warnings_and_errors_file(server: Server) -> None:
    data = zipped(
        {
            "accounts.csv": "account_id,parent_account_id,name,status\n"
            "API1,,Api One,active\nAPI2,NOPE,Orphan,active\n",
            "courses.csv": "course_id,short_name,long_name,account_id,status\n"
            "APC1,APC1,Api Course,API1,active\n",
        }
    )
    r = requests.post(
        server.url(server.root) + "?import_type=instructure_csv",
        headers=server.auth("admin"),
        files={"attachment": ("sis.zip", data, "application/zip")},
        timeout=ANSWER,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body)[: len(KEYS)] == KEYS
    assert body["workflow_state"] in ("created", "importing", "imported_with_messages")
    assert body["user"]["name"] == "Ada Admin"
    done = server.wait("admin", body["id"])
    assert done["workflow_state"] == "imported_with_messages"
    assert done["progress"] == 100
    assert done["data"]["supplied_batches"] == ["account", "course"]
    assert done["data"]["counts"]["accounts"] == 1
    assert done["data"]["counts"]["courses"] == 1
    assert done["data"]["counts"]["warning_count"] == 1
    assert done["processing_warnings"] == [
        ["accounts.csv", "Parent account didn't exist for API2 (line 3)"]
    ]
    assert "processing_errors" not in done
    att = done["errors_attachment"]
    assert att["display_name"] == f"sis_errors_attachment_{body['id']}.csv"
    csv_text = requests.get(att["url"], timeout=ANSWER).text
    assert list(csv.reader(io.StringIO(csv_text))) == [
        ["sis_import_id", "file", "message", "row"],
        [str(body["id"]), "accounts.csv", "Parent account didn't exist for API2", "3"],
    ]
    with server.engine.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.sis_source_id == "API1")).one()
    assert row.sis_batch_id == body["id"]


def test_raw_body_import_by_a_custom_role(server: Server) -> None:
    r = requests.post(
        server.url("self") + "?import_type=instructure_csv&extension=csv",
        headers={**server.auth("importer"), "Content-Type": "text/csv"},
        data=b"account_id,parent_account_id,name,status\r\nRAW1,,Raw,active\r\n",
        timeout=ANSWER,
    )
    assert r.status_code == 200, r.text
    done = server.wait("importer", r.json()["id"])
    assert done["workflow_state"] == "imported"
    assert done["data"]["supplied_batches"] == ["account"]
    assert "errors_attachment" not in done and "processing_warnings" not in done


def test_hostile_upload_fails_with_a_clear_error(server: Server) -> None:
    before = imports_count(server)
    data = zipped(
        {"../../etc/passwd.csv": "account_id,parent_account_id,name,status\nX,,X,active\n"}
    )
    r = requests.post(
        server.url(server.root),
        headers={**server.auth("admin"), "Content-Type": "application/zip"},
        data=data,
        timeout=ANSWER,
    )
    done = server.wait("admin", r.json()["id"])
    assert done["workflow_state"] == "failed_with_messages"
    assert done["processing_errors"] == [
        [
            "../../etc/passwd.csv",
            "Zip entry with an unsafe path (absolute or containing '..'); nothing was imported.",
        ]
    ]
    assert imports_count(server) == before + 1
    with server.engine.connect() as conn:
        assert conn.execute(select(accounts).where(accounts.c.sis_source_id == "X")).first() is None


def test_bad_requests(server: Server) -> None:
    before = imports_count(server)
    r = requests.post(
        server.url(server.root),
        headers=server.auth("admin"),
        files={"other": ("a", b"b")},
        timeout=ANSWER,
    )
    assert (r.status_code, r.json()) == (
        400,
        {"error": True, "error_message": "Missing attachment"},
    )
    big = b"account_id,parent_account_id,name,status\n" + b"A,,A,active\n" * (MAX_BYTES // 10)
    r = requests.post(
        server.url(server.root),
        headers={**server.auth("admin"), "Content-Type": "text/csv"},
        data=big,
        timeout=ANSWER,
    )
    assert r.status_code == 413
    assert r.json() == {
        "errors": [{"message": f"The file is larger than the limit of {MAX_BYTES} bytes."}]
    }
    r = requests.post(
        server.url(server.root) + "?import_type=ims_xml",
        headers={**server.auth("admin"), "Content-Type": "text/csv"},
        data=b"a,b\n",
        timeout=ANSWER,
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"].startswith("Invalid import_type")
    r = requests.post(
        server.url(server.root),
        headers={**server.auth("admin"), "Content-Type": "text/csv; charset=latin1"},
        data=b"a,b\n",
        timeout=ANSWER,
    )
    assert (r.status_code, r.json()) == (400, {"error": "Invalid content type, UTF-8 required"})
    assert imports_count(server) == before
    r = requests.get(
        server.url(server.root, "/123456"), headers=server.auth("admin"), timeout=ANSWER
    )
    assert r.status_code == 404


def test_list_and_abort(server: Server) -> None:
    # Hold the queue: an import "importing" for the root keeps later ones in "created".
    with server.engine.begin() as conn:
        now = utcnow()
        pk = conn.execute(
            insert(sis_batches).values(
                account_id=server.root, workflow_state="importing", created_at=now
            )
        ).inserted_primary_key
        assert pk is not None
        blocker = int(pk[0])
        conn.execute(
            insert(sis_imports).values(
                id=blocker,
                account_id=server.root,
                workflow_state="importing",
                progress=0,
                data={},
                options={},
                upload_key="none",
                upload_name="none",
                upload_size=0,
                heartbeat_at=now + timedelta(hours=1),
                created_at=now,
                updated_at=now,
            )
        )
    r = requests.post(
        server.url(server.root),
        headers={**server.auth("admin"), "Content-Type": "text/csv"},
        data=b"account_id,parent_account_id,name,status\nAB1,,Aborted,active\n",
        timeout=ANSWER,
    )
    waiting = r.json()
    time.sleep(0.3)
    r = requests.get(
        server.url(server.root, f"/{waiting['id']}"), headers=server.auth("admin"), timeout=ANSWER
    )
    assert r.json()["workflow_state"] == "created"
    r = requests.put(
        server.url(server.root, f"/{waiting['id']}/abort"),
        headers=server.auth("admin"),
        timeout=ANSWER,
    )
    assert r.status_code == 200
    assert (r.json()["workflow_state"], r.json()["progress"]) == ("aborted", 100)
    r = requests.put(
        server.url(server.root, f"/{waiting['id']}/abort"),
        headers=server.auth("admin"),
        timeout=ANSWER,
    )
    assert r.status_code == 404
    r = requests.put(
        server.url(server.root, f"/{blocker}/abort"), headers=server.auth("admin"), timeout=ANSWER
    )
    assert r.json()["workflow_state"] == "aborted"
    with server.engine.connect() as conn:
        assert (
            conn.execute(select(accounts).where(accounts.c.sis_source_id == "AB1")).first() is None
        )
    # The list: newest first, wrapped in "sis_imports", paginated with a Link header.
    r = requests.get(
        server.url(server.root) + "?per_page=2", headers=server.auth("admin"), timeout=ANSWER
    )
    assert r.status_code == 200
    listed = r.json()["sis_imports"]
    assert [i["id"] for i in listed] == sorted((i["id"] for i in listed), reverse=True)
    assert [i["id"] for i in listed] == [waiting["id"], blocker]
    assert 'rel="next"' in r.headers["Link"]
    r = requests.get(
        server.url(server.root) + "?workflow_state[]=aborted",
        headers=server.auth("admin"),
        timeout=ANSWER,
    )
    assert {i["id"] for i in r.json()["sis_imports"]} == {waiting["id"], blocker}
    r = requests.get(
        server.url(server.root, "/importing"), headers=server.auth("admin"), timeout=ANSWER
    )
    assert r.json() == {"sis_imports": []}


def test_canvasapi(server: Server, tmp_path: Path) -> None:
    import warnings

    from canvasapi import Canvas
    from canvasapi.exceptions import Forbidden

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # canvasapi warns about http:// base URLs
        admin = Canvas(server.base, server.tokens["admin"])
        viewer = Canvas(server.base, server.tokens["viewer"])
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,parent_account_id,name,status\nCAPI,,Canvasapi,active\n")
    account = admin.get_account(server.root)
    started = account.create_sis_import(str(path), import_type="instructure_csv")
    assert started.workflow_state in ("created", "importing", "imported")
    deadline = time.monotonic() + PATIENCE
    sis_import = account.get_sis_import(started.id)
    while sis_import.workflow_state in ("created", "importing"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
        sis_import = account.get_sis_import(started.id)
    assert sis_import.workflow_state == "imported"
    assert sis_import.data["counts"]["accounts"] == 1
    listed = [i.id for i in account.get_sis_imports(per_page=1)]
    assert started.id in listed and listed == sorted(listed, reverse=True)
    with pytest.raises(Forbidden):
        viewer.get_account(server.root).create_sis_import(str(path))


@pytest.mark.parametrize("name", ["..", ".", "...", ""])
def test_an_upload_named_only_with_dots_is_kept_under_its_own_prefix(
    server: Server, name: str
) -> None:
    key = upload_key(name)
    assert key.startswith("sis_imports/") and key.endswith("/upload")
    csv_body = b"account_id,parent_account_id,name,status\nDOTS1,,Dots,active\n"
    for _ in range(2):  # the second upload finds the same directory layout and still works
        r = requests.post(
            server.url(server.root) + "?import_type=instructure_csv&extension=csv",
            headers=server.auth("admin"),
            files={"attachment": (name or "x", csv_body, "text/csv")},
            timeout=ANSWER,
        )
        assert r.status_code == 200, r.text
        done = server.wait("admin", r.json()["id"])
        assert done["workflow_state"] == "imported", done
