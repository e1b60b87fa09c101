"""The compile step: the parts of a run's shards become its file, attached to the completed run.

Exactly one worker compiles a run: the one whose shard was the last to finish, which moved
the run from ``running`` to ``compiling`` with a conditional UPDATE (``reportcard.runs.execute``),
or the reaper that took over a compile whose heartbeat stopped. The file is assembled in the
format the run asks for (``reportcard.runs.formats``) from the parts in file order, then key
order (``part_index``, ``seq``), whatever order the shards ran in; the run completes only if it
is still compiling, so an abort or delete meanwhile leaves no attachment.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Select, Update, func, insert, select, update

from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.tables import account_reports, attachments, report_shards
from reportcard.reports.catalog import PartQuery, Report, RunContext, get_report
from reportcard.runs.context import build_context
from reportcard.runs.events import run_ended
from reportcard.runs.formats import Output, deflated_parts, write_output
from reportcard.runs.lifecycle import get_run
from reportcard.runs.package import FilePart, part_key, parts_prefix, piece_key
from reportcard.runs.taken import Taken
from reportcard.storage.base import Storage


def file_parts(
    conn: Connection | None,
    report: Report,
    ctx: RunContext,
    shards: Sequence[Any] | None = None,
    queries: dict[int, PartQuery] | None = None,
) -> list[FilePart]:
    """The run's output files in order, each with its header and its shards' part keys.

    The keys are deflate pieces when the file is a zip of CSVs (``deflated_parts``).
    ``shards``: the run's ``report_shards`` rows in ``shards_of`` order (else read here).
    ``queries``: parts' queries already built, by ``part_index`` (the headers and the rows
    of an empty file are the same in the query a shard ran).
    """
    queries = queries or {}
    if shards is None:
        assert conn is not None
        shards = conn.execute(shards_of(ctx.report_id)).all()
    deflated = deflated_parts(ctx.params, report.always_zip, len({s.part_index for s in shards}))
    key_of = piece_key if deflated else part_key
    parts: dict[int, tuple[str, list[str]]] = {}
    counts: dict[int, int] = {}
    for s in shards:
        parts.setdefault(s.part_index, (s.part, []))[1].append(
            key_of(ctx.report_id, s.part_index, s.seq)
        )
        counts[s.part_index] = counts.get(s.part_index, 0) + int(s.rows or 0)
    out = []
    for index in sorted(parts):
        name, keys = parts[index]
        pq = queries.get(index) or report.part(name).build(ctx)
        headers = [c.header for c in pq.columns]
        empty_rows = pq.if_empty if counts[index] == 0 else ()
        out.append(
            FilePart(
                name=name, headers=headers, keys=keys, empty_rows=empty_rows, deflated=deflated
            )
        )
    return out


def count_lines(parts: Sequence[FilePart], rows: int) -> int:
    """The run's final ``current_line``: its rows, a header per file, and ``if_empty`` rows."""
    return rows + len(parts) + sum(len(p.empty_rows) for p in parts)


def compile_run(engine: Engine, storage: Storage, run_id: int, taken: Taken | None = None) -> None:
    """Assemble the parts into the attachment and complete the run (the compile winner only).

    ``taken``: the run's one shard, which this worker planned, took and executed
    (``runs.plan.Taken``): the run row as its plan recorded it, and what the shard made
    (``runs.taken.Made``), stand for the reads and builds here. The run moved to compiling in that
    shard's finish; should it have been aborted since, the completion finds it so."""
    shards: Sequence[Any]
    if taken is not None and taken.made is not None:
        run, made = taken.run, taken.made
        report, ctx, shards = made.report, made.ctx, made.shards
        parts = file_parts(None, report, ctx, shards, made.queries)
    else:
        with read_conn(engine) as conn:
            run = get_run(conn, run_id)
            if run is None or run.workflow_state != "compiling":
                return
            found = get_report(run.report_type)
            assert found is not None
            report = found
            ctx = build_context(conn, run)
            shards = conn.execute(shards_of(run_id)).all()
            parts = file_parts(conn, report, ctx, shards)
            conn.rollback()
    rows = sum(int(s.rows or 0) for s in shards)
    # The file in the format the run asks for (csv, xlsx, parquet), from the CSV parts.
    out = write_output(
        storage,
        report_type=run.report_type,
        run_id=run_id,
        parts=parts,
        always_zip=report.always_zip,
        params=run.parameters or {},
        now=utcnow(),
    )
    kept = finish(engine, run, report, ctx, out, count_lines(parts, rows))
    if not kept and not is_attached(engine, run_id, out.key):
        # Aborted or deleted while compiling: the file is no attachment's. (A compile redone
        # by the reaper while the first one was only slow may have written the very key the
        # winner attached: a zip's name has no random part. That one stays.)
        storage.delete(out.key)
    storage.delete_prefix(parts_prefix(run_id))


def is_attached(engine: Engine, run_id: int, key: str) -> bool:
    """Whether ``key`` is the file attached to the run."""
    with read_conn(engine) as conn:
        held = conn.execute(
            select(attachments.c.storage_key)
            .select_from(
                account_reports.join(
                    attachments, attachments.c.id == account_reports.c.attachment_id
                )
            )
            .where(account_reports.c.id == run_id)
        ).scalar()
        conn.rollback()
    return held == key


def finish(
    engine: Engine,
    run: Any,
    report: Report,
    ctx: RunContext,
    file: Output,
    lines: int,
) -> bool:
    """Attach ``file`` and complete ``run`` (its row, as the compile read it: the account,
    user and parameters, which nothing changes once it is planned) with ``lines`` as its
    final line count.

    False when the run stopped (aborted, deleted) while compiling: nothing is recorded then.
    """
    now = utcnow()
    run_id = int(run.id)
    with engine.begin() as conn:
        att = conn.execute(attachment_row(run, file, now))
        pk = att.inserted_primary_key
        assert pk is not None
        extra = (run.parameters or {}).get("extra_text", "")
        message = (
            f"{report.title} report successfully generated with the following settings. "
            f"Account: {ctx.account_name}; {extra}"
        )
        res = conn.execute(completed(run_id, int(pk[0]), lines, message, now))
        if res.rowcount != 1:
            # Aborted or deleted while compiling: Canvas attaches no file to a stopped run.
            conn.rollback()
            return False
        run_ended(conn, run_id)
    return True


# The compile's statements, built by functions so that the worker's warm-up
# (``runs.warmup.prime_statements``) compiles the very same ones before the first run.


def shards_of(run_id: int) -> Select[Any]:
    """The run's shards in file order, then key order."""
    s = report_shards.c
    return select(report_shards).where(s.report_id == run_id).order_by(s.part_index, s.seq)


def attachment_row(run: Any, file: Output, now: datetime) -> Insert:
    """The attachment of ``run``'s file."""
    return insert(attachments).values(
        uuid=uuid.uuid4().hex + uuid.uuid4().hex[:8],
        context_type="Account",
        context_id=run.account_id,
        user_id=run.user_id,
        filename=file.filename,
        display_name=file.filename,
        content_type=file.content_type,
        size=file.size,
        storage_key=file.key,
        workflow_state="processed",
        created_at=now,
        updated_at=now,
    )


def completed(run_id: int, attachment_id: int, lines: int, message: str, now: datetime) -> Update:
    """The compiling run to ``complete`` with its attachment, final line count and message."""
    r = account_reports.c
    return (
        update(account_reports)
        .where(r.id == run_id, r.workflow_state == "compiling")
        .values(
            workflow_state="complete",
            attachment_id=attachment_id,
            progress=100,
            current_line=lines,
            message=message,
            end_at=func.coalesce(r.end_at, now),
            updated_at=now,
        )
    )
