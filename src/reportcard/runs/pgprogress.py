"""A shard's progress checkpoints on PostgreSQL, sent without waiting for their answers.

A checkpoint (every 1000 rows, ``runs.execute.checkpoints``) is one UPDATE of the run's row.
Run through SQLAlchemy and waited for, each cost a round trip in the middle of the shard's
COPY stream, 0.3-1.1 ms apiece on a busy two-core machine (the UPDATE's backend waits for a
core beside the COPY's backend and its parallel helpers), and 75-94 µs of the worker's CPU
(docs/decisions/performance.md, "Issue 19: PostgreSQL checkpoints sent without waiting").

Here the UPDATE is sent straight through libpq (``send_query_params``, its text and
parameters as SQLAlchemy compiles them), in pipeline mode, each followed by a sync: the
worker never waits for a checkpoint's answer, and reads the answers when they are in, at the
next checkpoints, or all of them when the shard's checkpoints end (:meth:`PgProgress.finish`).
A run that ended is noticed by an answer: a checkpoint or a few later than before (as many
as were sent before its answer came back), and always before the shard is marked done. As
with ``runs.pgcopy``, any waiting is done by ``poll`` on the socket, which releases the GIL.
"""

from __future__ import annotations

import re
import select
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy.sql import ClauseElement

_PARAM = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class PgForm:
    """An UPDATE compiled for libpq: its text with ``$n`` parameters, every parameter's
    value with the fixed ones filled in, and where each variable one goes."""

    sql: bytes
    params: tuple[Any, ...]
    slots: dict[str, int]


_FORMS: dict[tuple[int, Any], tuple[ClauseElement, PgForm]] = {}
_FORMS_LOCK = threading.Lock()


def pg_form(stmt: ClauseElement, dialect: Any, variable: tuple[str, ...]) -> PgForm:
    """``stmt`` compiled once for a psycopg ``dialect`` (pyformat ``%(name)s`` parameters),
    turned into libpq's ``$n`` form: a name used twice is one parameter."""
    key = (id(stmt), dialect)
    known = _FORMS.get(key)
    if known is not None:
        return known[1]
    compiled = stmt.compile(dialect=dialect)
    text = str(compiled)
    order: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${order.setdefault(match.group(1), len(order)) + 1}"

    sql = _PARAM.sub(number, text)
    if "%" in sql:  # an escaped percent sign or another parameter style: not handled here
        raise ValueError(f"cannot turn into libpq's parameters: {text}")
    fixed = compiled.construct_params({name: None for name in variable})
    assert fixed is not None
    form = PgForm(
        sql=sql.encode(),
        params=tuple(fixed[name] for name in order),
        slots={name: order[name] for name in variable if name in order},
    )
    with _FORMS_LOCK:  # the statement is kept with its form: its id stays its own
        return _FORMS.setdefault(key, (stmt, form))[1]


def _text(value: Any) -> bytes | None:
    """A parameter's text as PostgreSQL reads it (the statement casts every one)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int | str):
        return str(value).encode()
    if isinstance(value, datetime):
        return value.isoformat(" ").encode()
    raise TypeError(f"no text form for a parameter of type {type(value).__name__}")


class PgProgress:
    """A form's UPDATE sent again and again on an idle autocommit psycopg connection, in
    libpq's pipeline mode: :meth:`send` never waits for an answer.

    Each UPDATE is followed by a sync, so each is its own transaction, as in autocommit
    mode. The answers are read as they come in, without waiting, by :meth:`poll`
    (:attr:`stopped` counts those that changed no row), and all of them by :meth:`finish`,
    which leaves pipeline mode: until then nothing else may use the connection (after an
    error, it must be closed).
    """

    def __init__(self, conn: Any, form: PgForm) -> None:
        if not isinstance(conn, psycopg.Connection):
            raise TypeError(f"needs a psycopg connection, not {type(conn).__name__}")
        self.pg = conn.pgconn
        self.form = form
        self.outstanding = 0  # UPDATEs sent whose sync has not come back
        self.stopped = 0  # answers read that changed no row
        self._poll = select.poll()
        self._poll.register(self.pg.socket, select.POLLIN)

    def poll(self) -> int:
        """Read the answers already in, without waiting; :attr:`stopped`."""
        self._read(wait=False)
        return self.stopped

    def send(self, values: dict[str, Any]) -> None:
        """Send the UPDATE with ``values`` for the form's variable parameters."""
        pg = self.pg
        if pg.pipeline_status == pq.PipelineStatus.OFF:
            pg.enter_pipeline_mode()
        params = list(self.form.params)
        for name, value in values.items():
            params[self.form.slots[name]] = value
        pg.send_query_params(self.form.sql, [_text(v) for v in params])
        pg.pipeline_sync()
        self.outstanding += 1
        while pg.flush():  # the rest of it once the socket takes more (non-blocking)
            writable = select.poll()
            writable.register(pg.socket, select.POLLOUT | select.POLLIN)
            writable.poll()
            pg.consume_input()

    def finish(self) -> None:
        """Read every answer still to come and leave pipeline mode."""
        self._read(wait=True)
        if self.pg.pipeline_status != pq.PipelineStatus.OFF:
            self.pg.exit_pipeline_mode()

    def _read(self, wait: bool) -> None:
        """Read the answers in (``wait``: until every UPDATE sent has answered)."""
        pg = self.pg
        while self.outstanding:
            pg.consume_input()
            if pg.is_busy():
                if not wait:
                    return
                self._poll.poll()
                continue
            res = pg.get_result()
            if res is None:  # the end of one UPDATE's results; its sync follows
                continue
            status = res.status
            if status == pq.ExecStatus.PIPELINE_SYNC:
                self.outstanding -= 1
            elif status == pq.ExecStatus.COMMAND_OK:
                if not res.command_tuples:
                    self.stopped += 1
            else:
                raise _failure(pg, res)


def _failure(pg: Any, res: Any) -> psycopg.Error:
    text = res.error_message if res is not None else pg.error_message
    message = text.decode(errors="replace").strip() or "checkpoint failed"
    return psycopg.OperationalError(message)
