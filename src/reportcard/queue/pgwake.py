"""Waking embedded workers in other processes: PostgreSQL's ``LISTEN``/``NOTIFY``.

The embedded queue wakes the worker threads of its own process with an event; workers in a
separate ``reportcard worker`` process would only find the work at their next poll
(``poll_seconds``), up to half a second per report, longer than a small report's whole run.
On PostgreSQL (``pg_notify``, on by default) whoever creates a run or queues shards sends
``NOTIFY reportcard_work`` (:func:`send_wake`, after the commit that made the work, so the
news never precedes it), and each process running embedded workers keeps one connection
listening on that channel (:class:`WakeListener`), which sets the workers' event.

The notification carries no data: it only says "look now". The poll stays as the fallback,
so a lost notification or a lost listening connection delays work and never loses it; the
listener reconnects with a growing pause (and wakes the workers once connected again, for
what it may have missed). SQLite has no such channel: workers in another process poll.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from typing import Any

from sqlalchemy import Engine, text

from reportcard.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "reportcard_work"
APPLICATION_NAME = "reportcard-wake"  # the listening connection's, in pg_stat_activity
# A NOTIFY takes a transaction id, so its commit would wait for a WAL flush (1-12 ms here);
# nothing is lost if a crash loses it (the poll finds the work), so it does not wait.
_NOTIFY = text(f"SELECT set_config('synchronous_commit', 'off', true), pg_notify('{CHANNEL}', '')")


def wakes_across_processes(settings: Settings, engine: Engine) -> bool:
    """Whether this runtime tells (and listens to) other processes: PostgreSQL, embedded
    queue, ``pg_notify`` on."""
    return (
        settings.pg_notify and settings.queue == "embedded" and engine.dialect.name == "postgresql"
    )


def send_wake(engine: Engine) -> None:
    """Tell every listening process that there is work (call after the work's commit).

    A failure is logged and swallowed: the work is committed, the poll will find it.
    """
    try:
        with engine.begin() as conn:
            conn.execute(_NOTIFY)
    except Exception:
        log.warning("could not notify the workers of other processes", exc_info=True)


class WakeListener:
    """A thread holding one connection that listens on :data:`CHANNEL` and sets ``wake``
    for each notification; :meth:`stop` ends it and closes the connection."""

    MAX_PAUSE = 30.0  # the longest pause between two reconnection attempts, in seconds

    def __init__(self, engine: Engine, wake: threading.Event) -> None:
        self.engine = engine
        self.wake = wake
        self.listening = threading.Event()  # set while the connection listens
        self._stop = threading.Event()
        self._stop_r, self._stop_w = os.pipe()  # wakes the select() at stop
        self._thread = threading.Thread(target=self._run, name="wake-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        os.write(self._stop_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            os.close(self._stop_r)
            os.close(self._stop_w)

    def _connect(self) -> Any:
        import psycopg

        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
        conn = psycopg.connect(
            *cargs, **cparams, autocommit=True, application_name=APPLICATION_NAME
        )
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _run(self) -> None:
        pause, failing = 0.1, False
        while not self._stop.is_set():
            conn = None
            try:
                conn = self._connect()
                if failing:
                    log.warning("listening for work again (channel %s)", CHANNEL)
                pause, failing = 0.1, False
                self.wake.set()  # what was notified while nobody listened
                self.listening.set()
                self._listen(conn)
            except Exception as exc:
                if not self._stop.is_set() and not failing:
                    log.warning(
                        "the connection listening for work was lost (%s); workers poll "
                        "every poll_seconds until it is back",
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc),
                    )
                failing = True
            finally:
                self.listening.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):  # closing a broken connection
                        conn.close()
            if not self._stop.is_set():
                self._stop.wait(pause)
                pause = min(pause * 2, self.MAX_PAUSE)

    def _listen(self, conn: Any) -> None:
        fileno = conn.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fileno, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            # Readable: notifications, or the end of the connection (which raises here).
            if list(conn.notifies(timeout=0)):
                self.wake.set()
