"""A deliberately slow report (a few ms a row), so tests can kill a worker mid-shard.

Loaded into worker processes through REPORTCARD_EXTRA_REPORT_MODULES.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from reportcard.db.tables import pseudonyms
from reportcard.reports.catalog import (
    Col,
    Parameter,
    Part,
    PartQuery,
    Report,
    RunContext,
    get_report,
    register,
)

SLOW = "framework_slow_csv"


# A run given ``hold=PATH`` writes its first HOLD_AFTER rows (in each process working it),
# then waits before each further row while PATH exists (at most HOLD_LIMIT seconds, a guard
# against a hang): a test holds such a run mid-way, whatever the machine's load, and lets it go.
HOLD_AFTER = 20
HOLD_LIMIT = 300.0


def _slow(value: Any) -> Any:
    time.sleep(0.05)
    return value


_seen: dict[str, int] = {}  # rows written per hold path in this process (all its shards)
_seen_lock = threading.Lock()


def _held(hold: str) -> Callable[[Any], Any]:
    def slow(value: Any) -> Any:
        with _seen_lock:
            _seen[hold] = seen = _seen.get(hold, 0) + 1
        if seen > HOLD_AFTER:
            deadline = time.monotonic() + HOLD_LIMIT
            while os.path.exists(hold) and time.monotonic() < deadline:
                time.sleep(0.02)
        return _slow(value)

    return slow


def _logins(ctx: RunContext) -> PartQuery:
    p = pseudonyms
    hold = ctx.params.get("hold")
    fmt = _held(str(hold)) if hold else _slow
    return PartQuery(
        columns=[Col("canvas_user_id", p.c.user_id, fmt), Col("login_id", p.c.unique_id)],
        select_from=p,
        where=[p.c.account_id == ctx.root_account_id],
        key=p.c.id,
    )


if get_report(SLOW) is None:
    register(
        Report(
            name=SLOW,
            title="Framework Slow",
            description="Logins, slowly (tests only).",
            parameters={"k": Parameter("anything")},
            parts=[Part("logins", _logins)],
            select_parts=lambda ctx: ["logins"],
            extra_text=lambda ctx: "Slow;",
        )
    )
