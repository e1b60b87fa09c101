"""Schemathesis against the served OpenAPI document, every operation, on a real server.

Two lanes, each bounded (a fixed seed, a few examples per operation, at most 25 s of fuzzing):
with an administrator's token and real identifiers (so requests reach the handlers' logic),
and without a token with generated identifiers. Both must see zero 5xx answers and every
answer must match its documented status, content type, headers and schema.

A third lane sends the inputs that once answered 500 (issue 17) as explicit examples of every
operation: NUL characters and non-Latin-1 text in each path parameter and in the query string
(the account ``sis_account_id:КАФЕДРА-1`` exists, so its paginated lists answer with a
``Link`` header), and JSON bodies nested 300 deep. Its one check: no answer is a 5xx.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from reportcard.db.engine import dispose_all, make_engine
from reportcard.db.tables import accounts
from reportcard.settings import Settings
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url
from tests.patience import ANSWER
from tests.runs.sample import SAMPLE
from tests.security.conftest import serve

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
ST = Path(sys.executable).with_name("st")
CYRILLIC = "КАФЕДРА-1"
DEEP = 300


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    url = fresh_database_url(tmp)
    engine = make_engine(url)
    made = build_world(engine)
    with engine.begin() as conn:  # a non-Latin-1 SIS id, addressed by the hostile examples
        conn.execute(
            update(accounts).where(accounts.c.id == made["sub"]).values(sis_source_id=CYRILLIC)
        )
    settings = Settings(data_dir=tmp, database_url=url, poll_seconds=0.05, shard_rows=10)
    with serve(settings, workers=1) as base:
        headers = {"Authorization": f"Bearer {made['tokens']['admin']}"}
        root = made["root"]
        with httpx.Client(base_url=base, headers=headers, timeout=ANSWER) as c:
            run = c.post(f"/api/v1/accounts/{root}/reports/{SAMPLE}").json()
            imp = c.post(
                f"/api/v1/accounts/{root}/sis_imports",
                params={"extension": "csv"},
                content=b"term_id,name,status\nfz,Fuzz term,active\n",
                headers={"Content-Type": "text/csv"},
            ).json()
        yield {"base": base, "tmp": tmp, "run": run["id"], "import": imp["id"], **made}
    dispose_all()
    drop_database(url)


def run_schemathesis(
    target: dict[str, Any],
    lane: str,
    token: str | None,
    *,
    schema: str | None = None,
    checks: str = CHECKS,
    phases: str = "examples,coverage,fuzzing",
) -> str:
    config = target["tmp"] / f"schemathesis-{lane}.toml"
    real_ids = token is not None and schema is None  # the hostile lane chooses its own
    lines = ["[parameters]"] if real_ids else []
    if real_ids:
        fixed = {
            "path.account_id": str(target["root"]),
            "path.report": SAMPLE,
            "path.run_id": str(target["run"]),
            "path.file_id": "1",
            "path.import_id": str(target["import"]),
        }
        lines += [f'"{k}" = "{v}"' for k, v in fixed.items()]
    config.write_text("\n".join(lines) + "\n")
    args = [
        str(ST),
        "--config-file",
        str(config),
        "run",
        schema or f"{target['base']}/openapi.json",
        "--checks",
        checks,
        "--max-examples",
        "8",
        "--seed",
        "8",
        "--phases",
        phases,
        "--generation-database",
        "none",
        "--max-failures",
        "20",
        "--request-timeout",
        "20",
        "--workers",
        "2",
        "--no-color",
        "--max-time",
        "25",
    ]
    if schema is not None:
        args += ["--url", target["base"], "--report", "har", "--report-har-path", "requests.har"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=170, cwd=target["tmp"], env=env
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert "Tested: " in done.stdout
    return done.stdout


def _examples(*values: Any) -> dict[str, Any]:
    return {f"e{i}": {"value": v} for i, v in enumerate(values)}


HOSTILE_PATH = {
    "account_id": _examples(f"sis_account_id:{CYRILLIC}", "€", "sis_account_id:a\x00b"),
    "report": _examples("€", "framework_sample_csv", "a\x00b"),
}
HOSTILE_ID = _examples("€", "1", "1\x00")
# Examples are combined by position: a NUL query (refused before routing) comes last.
HOSTILE_QUERY = _examples("€", "plain", "a\x00b")


def hostile_schema(document: dict[str, Any]) -> dict[str, Any]:
    """The served document with issue 17's bad inputs as explicit examples of every operation."""
    doc = copy.deepcopy(document)
    nested: Any = {"a": 1}
    for _ in range(DEEP):
        nested = [nested]
    body = {"parameters": nested, "report_schedule": nested, "report_webhook": nested}
    for path in doc["paths"].values():
        for method, op in path.items():
            if method not in ("get", "put", "post", "delete"):
                continue
            for param in op.get("parameters", []):
                if param["in"] == "path":
                    param["examples"] = HOSTILE_PATH.get(param["name"], HOSTILE_ID)
                    param["schema"] = {"type": "string"}
            op.setdefault("parameters", []).append(
                {
                    "name": "probe",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                    "examples": HOSTILE_QUERY,
                }
            )
            if method in ("put", "post"):
                op["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "object"}, "example": body}
                    },
                }
    return doc


def test_hostile_examples_never_answer_5xx(target: dict[str, Any]) -> None:
    document = httpx.get(f"{target['base']}/openapi.json", timeout=ANSWER).json()
    path = target["tmp"] / "hostile-openapi.json"
    path.write_text(json.dumps(hostile_schema(document), ensure_ascii=False))
    out = run_schemathesis(
        target,
        "hostile",
        target["tokens"]["admin"],
        schema=str(path),
        checks="not_a_server_error",
        phases="examples",
    )
    counted = re.search(r"(\d+) generated, (\d+) passed", out)
    assert counted is not None, out[-3000:]
    assert int(counted[1]) == int(counted[2]) >= 3 * len(document["paths"]), counted[0]


def test_fuzz_with_an_admin_token(target: dict[str, Any]) -> None:
    run_schemathesis(target, "token", target["tokens"]["admin"])


def test_fuzz_without_a_token(target: dict[str, Any]) -> None:
    run_schemathesis(target, "anonymous", None)
