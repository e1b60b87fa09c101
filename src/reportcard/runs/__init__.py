"""Run lifecycle: create, plan shards, execute, compile, package, abort, reap."""

from __future__ import annotations

from reportcard.runs.hooks import Hooks


def install(hooks: Hooks) -> None:
    """The run engine's own periodic jobs: the retention sweep and the run time limit."""
    from reportcard.runs import retention, time_limit

    retention.install(hooks)
    time_limit.install(hooks)
