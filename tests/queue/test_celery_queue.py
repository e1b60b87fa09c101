"""The queue interface's Celery side on a real Redis: messages in the plan's priority order,
on the lane routing chose."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select

from reportcard.db.tables import report_shards
from reportcard.queue import queue_for
from reportcard.queue.celery_app import CeleryQueue
from reportcard.runs.worker import Worker
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.runs.sample import make_institution, sample_run

BROKER = "redis://127.0.0.1:6379/3"


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"rc-test-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(BROKER)
    client.delete(f"{name}.short", f"{name}.long")


def published(queue: str) -> list[int]:
    """The shard ids of the ``reportcard.shard`` messages waiting in ``queue``, oldest first."""
    client = redis.Redis.from_url(BROKER)
    out = []
    # Kombu's Redis transport LPUSHes and BRPOPs: the oldest message is at the right end.
    for raw in reversed(client.lrange(queue, 0, -1)):
        message = json.loads(raw)
        assert message["headers"]["task"] == "reportcard.shard"
        out.append(int(message["headers"]["argsrepr"].strip("(),")))
    return out


@pytest.mark.parametrize("long_rows, lane", [(10**9, "short"), (1, "long")])
def test_shards_planned_publishes_them_by_priority_to_their_lane(
    engine: Engine, tmp_path: Path, prefix: str, long_rows: int, lane: str
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        shard_rows=100,
        queue="celery",
        broker_url=BROKER,
        queue_prefix=prefix,
        long_report_rows=long_rows,
    )
    queue = queue_for(settings, engine)
    assert isinstance(queue, CeleryQueue)
    with engine.begin() as conn:
        root = make_institution(conn, 450)
        run_id = sample_run(conn, root)
    planner = Worker(engine, LocalStorage(tmp_path / "files"), settings, planned=lambda _: None)
    assert planner.step()
    queue.shards_planned(run_id)
    with engine.connect() as conn:
        by_priority = list(
            conn.execute(
                select(report_shards.c.id)
                .where(report_shards.c.report_id == run_id)
                .order_by(report_shards.c.priority)
            ).scalars()
        )
    assert by_priority != sorted(by_priority)  # highest keys first: not the order of ids
    assert published(f"{prefix}.{lane}") == by_priority
