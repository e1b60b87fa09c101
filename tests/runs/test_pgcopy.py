"""COPY OUT read straight from libpq (PostgreSQL lane): same rows as psycopg's own COPY,
errors raised, and other threads keep running while it waits on the server."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import Engine

from reportcard.runs.pgcopy import CopyOut
from tests.databases import lane

pytestmark = pytest.mark.skipif(lane() != "postgresql", reason="COPY is PostgreSQL's")

ROWS = "SELECT g, CASE WHEN g % 7 = 0 THEN 'a,\"b\"' || chr(10) || 'c' ELSE 'x' || g END, NULL FROM generate_series(1, 2500) AS g"  # noqa: E501


def _copy(engine: Engine, query: str, batch: int = 1000) -> tuple[list[list[bytes]], int]:
    raw = engine.raw_connection()
    try:
        copy = CopyOut(raw.driver_connection, f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", batch)
        batches = list(copy)
        return batches, copy.rows
    finally:
        raw.close()


def test_rows_match_psycopgs_own_copy_in_batches(engine: Engine) -> None:
    batches, rows = _copy(engine, ROWS)
    assert rows == 2500
    assert [len(b) for b in batches] == [1000, 1000, 500]
    raw = engine.raw_connection()
    try:
        with raw.cursor().copy(f"COPY ({ROWS}) TO STDOUT WITH (FORMAT csv)") as copy:
            expected = b"".join(bytes(chunk) for chunk in copy)
    finally:
        raw.close()
    assert b"".join(b"".join(b) for b in batches) == expected
    assert b'7,"a,""b""\nc",\n' in expected


def test_an_empty_result_gives_no_batch_and_no_rows(engine: Engine) -> None:
    assert _copy(engine, "SELECT 1 WHERE false") == ([], 0)


def test_a_query_that_fails_midway_raises_the_servers_message(engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        copy = CopyOut(
            raw.driver_connection,
            "COPY (SELECT 1 / (g - 1500) FROM generate_series(1, 3000) AS g) TO STDOUT",
            1000,
        )
        with pytest.raises(psycopg.OperationalError, match="division by zero"):
            list(copy)
        raw.invalidate()
    finally:
        raw.close()
    with engine.connect() as conn:  # the pool hands out a working connection afterwards
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_other_threads_run_while_it_waits_for_the_server(engine: Engine) -> None:
    ticks = 0
    stop = threading.Event()

    def tick() -> None:  # as the worker's heartbeat thread does
        nonlocal ticks
        while not stop.wait(0.01):
            ticks += 1

    thread = threading.Thread(target=tick)
    thread.start()
    started = time.perf_counter()
    try:
        _, rows = _copy(engine, "SELECT pg_sleep(0.6) UNION ALL SELECT pg_sleep(0.6)")
    finally:
        stop.set()
        thread.join()
    assert rows == 2
    waited = time.perf_counter() - started
    assert waited >= 1.2
    assert ticks >= 30  # a blocking libpq call would hold the GIL: no tick at all
