"""One huge CSV line is refused with a clear message, in bounded memory (a real server).

A line of short fields costs Python far more than its bytes (a list entry and a string per
field): one 40 MB line once took 1.5 GB. The import now reads no record past
``sis_import_max_line_chars`` characters. Memory is measured with tracemalloc over the whole
process (the server and its worker run in this process's threads), never with a clock.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reportcard.db.engine import dispose_all, make_engine
from reportcard.settings import Settings
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url
from tests.security.conftest import serve

HEADER = b"user_id,login_id,status\n"
FIELDS = 2_000_000  # a 6 MB line of 2 million two-character fields
LIMIT = 100_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp: Path = tmp_path_factory.mktemp("line-limit")
    url = fresh_database_url(tmp)
    made = build_world(make_engine(url))
    settings = Settings(
        data_dir=tmp,
        database_url=url,
        poll_seconds=0.05,
        sis_import_max_bytes=64 << 20,
        sis_import_max_line_chars=LIMIT,
    )
    with serve(settings, workers=1) as base:
        world = {"base": base, **made}
        # The worker takes imports only after its warm-up (which compiles every part's
        # statements): one import done first keeps the warm-up out of the tests' measurements.
        _import(world, HEADER)
        yield world
    dispose_all()
    drop_database(url)


def _import(server: dict[str, Any], body: bytes) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {server['tokens']['admin']}"}
    url = f"{server['base']}/api/v1/accounts/{server['root']}/sis_imports"
    with httpx.Client(headers=headers, timeout=60) as c:
        made = c.post(
            url,
            params={"extension": "csv"},
            content=body,
            headers={"Content-Type": "text/csv"},
        )
        assert made.status_code == 200, made.text
        deadline = time.monotonic() + 120
        while True:
            state = c.get(f"{url}/{made.json()['id']}").json()
            if state["workflow_state"] not in ("created", "importing"):
                return dict(state)
            assert time.monotonic() < deadline, state
            time.sleep(0.1)


def test_a_huge_line_is_refused_in_bounded_memory(server: dict[str, Any]) -> None:
    line = b"u1,l1," + b"ab," * FIELDS + b"active\n"
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        done = _import(server, HEADER + line)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done["workflow_state"] == "failed_with_messages", done
    errors = done["processing_errors"]
    assert errors == [
        [
            "sis_import.csv",
            f"A CSV record is longer than the limit of {LIMIT} characters "
            "(sis_import_max_line_chars); nothing was imported. (line 2)",
        ]
    ], errors
    # The line alone is 6 MB; read whole, it cost over 100 MB of Python objects.
    grew = peak - before
    assert grew < 24 << 20, f"the import held {grew >> 20} MB at its peak"


def test_lines_within_the_limit_import(server: dict[str, Any]) -> None:
    # a long value in a column the import does not read (stored columns have their own sizes)
    notes = "n" * (LIMIT - 100)
    body = b"user_id,login_id,status,notes\n" + f"u9,l9,active,{notes}\n".encode()
    done = _import(server, body)
    assert done["workflow_state"] == "imported", done
