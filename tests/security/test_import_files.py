"""A SIS import's errors file needs what the SIS Imports API needs (``import_sis_data``), on
every file route, through a real server: a ``read_reports``-only role at the root is refused
it as the SIS Imports API refuses it (issue #17), while it still reads report files."""

from __future__ import annotations

import time
from typing import Any

from tests.patience import PATIENCE
from tests.runs.sample import SAMPLE
from tests.security.conftest import World, client, finish, reports_url


def _import_with_warnings(world: World) -> dict[str, Any]:
    with client(world.base, world.tokens["admin"]) as c:
        made = c.post(
            f"/api/v1/accounts/{world.root}/sis_imports",
            params={"extension": "csv"},
            content=b"term_id,name,status\nt-ok,Term OK,active\nt-bad,Term Bad,bogus\n",
            headers={"Content-Type": "text/csv"},
        )
        assert made.status_code == 200, made.text
        url = f"/api/v1/accounts/{world.root}/sis_imports/{made.json()['id']}"
        deadline = time.monotonic() + PATIENCE
        while True:
            body: dict[str, Any] = c.get(url).json()
            if body["workflow_state"] not in ("created", "initializing", "importing"):
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.05)
    assert body["workflow_state"] == "imported_with_messages", body
    assert "errors_attachment" in body, body
    return body


def test_sis_import_files_need_import_sis_data(world: World) -> None:
    imp = _import_with_warnings(world)
    file_id = imp["errors_attachment"]["id"]
    routes = (
        f"/api/v1/files/{file_id}",
        f"/files/{file_id}/download",
        f"/accounts/{world.root}/files/{file_id}/download",
    )
    with client(world.base, world.tokens["viewer"]) as viewer:
        # The API refuses the viewer the import ...
        api = viewer.get(f"/api/v1/accounts/{world.root}/sis_imports/{imp['id']}")
        assert api.status_code == 403
        # ... and so does every file route.
        for route in routes:
            answer = viewer.get(route)
            assert answer.status_code == 403, (route, answer.status_code, answer.text[:200])
            assert "sis_import_id" not in answer.text
        # A report file of the same account is still the viewer's to read.
        with client(world.base, world.tokens["admin"]) as admin:
            r = admin.post(reports_url(world.root, SAMPLE))
            assert r.status_code == 200, r.text
            done = finish(admin, reports_url(world.root, SAMPLE, r.json()["id"]))
        report_file = done["attachment"]["id"]
        assert viewer.get(f"/api/v1/files/{report_file}").status_code == 200
        assert viewer.get(f"/files/{report_file}/download").status_code == 200
    with client(world.base, world.tokens["admin"]) as admin:
        for route in routes:
            answer = admin.get(route)
            assert answer.status_code == 200, (route, answer.status_code)
        assert admin.get(routes[1]).text.startswith("sis_import_id,file,message,row\n")
    # The subadmin holds import_sis_data, but not on the root: refused.
    with client(world.base, world.tokens["subadmin"]) as sub:
        for route in routes:
            assert sub.get(route).status_code == 403, route
