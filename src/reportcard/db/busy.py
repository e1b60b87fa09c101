"""Waiting out a database that is locked or unreachable for a while.

An ``OperationalError`` from the driver means the database could not do the work now (SQLite:
another connection held the write lock past the busy timeout; PostgreSQL: the server is
restarting or unreachable), not that the work is wrong. The API answers it with 503 and
``Retry-After`` (reportcard.service.errors); a long-lived process (``reportcard worker``) waits and
tries again with :func:`retry_while_unavailable` instead of exiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

T = TypeVar("T")
log = logging.getLogger(__name__)

# SQLite reports mistakes in a statement (no such table, a syntax error) as OperationalError
# too; only these messages mean "not now".
_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o")


def is_unavailable(exc: BaseException) -> bool:
    """True for an OperationalError that says the database cannot answer now (locked,
    restarting, unreachable), not that the statement is wrong."""
    if not isinstance(exc, OperationalError):
        return False
    orig = exc.orig
    if type(orig).__module__ == "sqlite3":
        text = str(orig).lower()
        return any(word in text for word in _SQLITE_TRANSIENT)
    return True


def retry_while_unavailable(
    step: Callable[[], T],
    *,
    what: str,
    pause: float = 5.0,
    stop: threading.Event | None = None,
    on_retry: Callable[[OperationalError], None] | None = None,
) -> T:
    """``step()``, called again after ``pause`` seconds for as long as it raises an
    OperationalError of an unavailable database (until ``stop`` is set: the last error is
    raised then). Any other error is raised at once."""
    stop = stop or threading.Event()
    while True:
        try:
            return step()
        except OperationalError as exc:
            if not is_unavailable(exc):
                raise
            reason = str(exc.orig or exc).strip().splitlines()[0]
            log.warning(
                "%s: the database is unavailable (%s); retrying in %g s", what, reason, pause
            )
            if on_retry is not None:
                on_retry(exc)
            if stop.wait(pause):
                raise
