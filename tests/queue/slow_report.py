"""A deliberately slow report (a few ms a row), so tests can kill a worker mid-shard.

Loaded into worker processes through REPORTCARD_EXTRA_REPORT_MODULES.
"""

from __future__ import annotations

import time
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


def _slow(value: Any) -> Any:
    time.sleep(0.05)
    return value


def _logins(ctx: RunContext) -> PartQuery:
    p = pseudonyms
    return PartQuery(
        columns=[Col("canvas_user_id", p.c.user_id, _slow), Col("login_id", p.c.unique_id)],
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
