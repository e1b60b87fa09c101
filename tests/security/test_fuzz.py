"""Schemathesis against the served OpenAPI document, every operation, on a real server.

Two lanes, each bounded (a fixed seed, a few examples per operation, at most 25 s of fuzzing):
with an administrator's token and real identifiers (so requests reach the handlers' logic),
and without a token with generated identifiers. Both must see zero 5xx answers and every
answer must match its documented status, content type, headers and schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reportcard.db.engine import dispose_all, make_engine
from reportcard.settings import Settings
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url
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


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    url = fresh_database_url(tmp)
    engine = make_engine(url)
    made = build_world(engine)
    settings = Settings(data_dir=tmp, database_url=url, poll_seconds=0.05, shard_rows=10)
    with serve(settings, workers=1) as base:
        headers = {"Authorization": f"Bearer {made['tokens']['admin']}"}
        root = made["root"]
        with httpx.Client(base_url=base, headers=headers, timeout=20) as c:
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


def run_schemathesis(target: dict[str, Any], lane: str, token: str | None) -> None:
    config = target["tmp"] / f"schemathesis-{lane}.toml"
    lines = ["[parameters]"] if token else []
    if token:
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
        f"{target['base']}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        "8",
        "--seed",
        "8",
        "--phases",
        "examples,coverage,fuzzing",
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
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=170, cwd=target["tmp"], env=env
    )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert "Tested: " in done.stdout


def test_fuzz_with_an_admin_token(target: dict[str, Any]) -> None:
    run_schemathesis(target, "token", target["tokens"]["admin"])


def test_fuzz_without_a_token(target: dict[str, Any]) -> None:
    run_schemathesis(target, "anonymous", None)
