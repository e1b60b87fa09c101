"""A run of one shard taken by the worker that planned it, and what its shard made.

``runs.plan.plan_run(take=True)`` writes a run's one shard as its planner's, running, in the
plan's own transaction (:class:`Taken`); the worker executes it at once
(``runs.execute.execute_shard``), which records what the run's compile would build again
(:class:`Made`), and compiles (``runs.compile.compile_run``). Here, apart from those steps,
so that each imports it and none imports another for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reportcard.reports.catalog import PartQuery, Report, RunContext


@dataclass(frozen=True)
class Made:
    """What the shard of a run of one shard made, which its compile would make again: the
    run's report and context, its part's query (by ``part_index``) and its shard's row, done
    (the worker that took the shard compiles the run at once)."""

    report: Report
    ctx: RunContext
    queries: dict[int, PartQuery]
    shards: list[Any]


@dataclass
class Taken:
    """The one shard of a run, taken by the worker that planned it (``plan_run(take=True)``):
    its ``report_shards`` row and the run's as the plan recorded them (the values the shard
    would read). ``made``: what executing it made that the run's compile would make again
    (``runs.execute.execute_shard`` sets it, ``runs.compile.compile_run`` uses it)."""

    shard: Any
    run: Any
    made: Made | None = None
