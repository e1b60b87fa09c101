"""What the packages above the run engine add to it: run-ended listeners (and what compiles
their statements at a worker's warm-up), periodic jobs, other units of work for the worker
loop, and who is told (after the commit) that a run was created.

The run engine never names the packages that use it. Each of them has an ``install(hooks)``
function that adds its parts here, and :mod:`reportcard.runtime` calls those functions, in a
fixed order, when it builds the process's runtime. The hooks are then bound to the runtime's
engine (:meth:`Hooks.bind`), so code holding only a connection or the engine (the transition
that ends a run, the worker's idle step) finds them there; an engine nobody bound has none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from reportcard.settings import Settings
from reportcard.storage.base import Storage

# A listener gets the connection (inside the transition's transaction) and the run row as it
# is after the transition (workflow_state is "complete" or "error").
RunEndedListener = Callable[[Connection, Any], None]
# job(engine, storage, settings, now) -> how many items it handled
Job = Callable[[Engine, Storage, Settings, datetime], int]
# every(settings) -> seconds between two runs of the job in one process
Interval = Callable[[Settings], float]
# work(engine, storage, settings, worker_id) -> True when it did a unit of work
Work = Callable[[Engine, Storage, Settings, str], bool]
# created(run_id), after the transaction that created the run committed
RunCreated = Callable[[int], None]
# primer(conn): compiles a listener's statements while a worker warms up (``runs.warmup``)
Primer = Callable[[Connection], None]

_OPTION = "reportcard_hooks"


@dataclass
class PeriodicJob:
    name: str
    every: Interval
    job: Job
    last: float = field(default=float("-inf"))


@dataclass
class Hooks:
    """The listeners, periodic jobs and extra work of one runtime, in the order installed."""

    listeners: list[RunEndedListener] = field(default_factory=list)
    jobs: dict[str, PeriodicJob] = field(default_factory=dict)
    work: dict[str, Work] = field(default_factory=dict)
    created: list[RunCreated] = field(default_factory=list)
    primers: list[Primer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def on_run_ended(self, fn: RunEndedListener) -> RunEndedListener:
        """Call ``fn`` in the transaction that moves a run to ``complete`` or ``error``."""
        if fn not in self.listeners:
            self.listeners.append(fn)
        return fn

    def on_warm_up(self, fn: Primer) -> Primer:
        """Call ``fn(conn)`` when a worker warms up, in a transaction that is rolled back: a
        listener's reads executed with ids no row has (or compiled, ``db.compiled``), so that
        the first run's end finds them compiled."""
        if fn not in self.primers:
            self.primers.append(fn)
        return fn

    def every(self, name: str, every: Interval, job: Job) -> None:
        """Run ``job`` about every ``every(settings)`` seconds in each worker process."""
        self.jobs.setdefault(name, PeriodicJob(name, every, job))

    def add_work(self, name: str, work: Work) -> None:
        """A unit of work the worker loop tries after shards and plans (e.g. SIS imports)."""
        self.work.setdefault(name, work)

    def bind(self, engine: Engine) -> Engine:
        """Make these the hooks of ``engine`` (and of every connection it gives out)."""
        engine.update_execution_options(**{_OPTION: self})
        return engine


def run_created(bind: Engine | Connection, run_id: int) -> None:
    """Announce run ``run_id`` to the queue of ``bind``'s runtime (after the commit)."""
    for announce in list(hooks_of(bind).created):
        announce(run_id)


def hooks_of(bind: Engine | Connection) -> Hooks:
    """The hooks bound to ``bind``'s engine; empty ones when none were bound."""
    hooks = bind.get_execution_options().get(_OPTION)
    return hooks if isinstance(hooks, Hooks) else Hooks()
