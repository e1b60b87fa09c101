"""The report commands directly on the database (``REPORTCARD_*`` settings, no server).

Runs started here wait in ``created`` for the workers of ``reportcard serve`` or
``reportcard worker`` (with ``REPORTCARD_QUEUE=celery`` they are also published to the broker),
exactly as a run started through the API does. :meth:`DirectBackend.follow` instead works the
run in this process (a worker thread, as ``reportcard worker`` would), so ``run --wait`` needs
no server; any workers that are running help with its shards. There is no sign-in: whoever
can reach the database acts as an administrator of every account, and runs have no user.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import OperationalError

from reportcard.cli.backends import (
    ACTIVE,
    Backend,
    BadInput,
    Failed,
    Interrupted,
    NotFound,
    Run,
    Unreachable,
    cannot_change,
    not_found_message,
)
from reportcard.settings import Settings, get_settings
from reportcard.storage.base import Storage

POLL = 0.2


class DirectBackend(Backend):
    default_account = "(the first root account)"

    def __init__(self, settings: Settings | None = None) -> None:
        from reportcard.cli.base import database_label, open_runtime

        self.settings = settings or get_settings()
        self.where = f"the database {database_label(self.settings)}"
        try:
            self.runtime = open_runtime(self.settings)
        except OperationalError as exc:
            raise Unreachable(f"cannot reach {self.where}: {exc.orig or exc}") from exc
        self.engine: Engine = self.runtime.engine
        self.base = (getattr(self.settings, "public_url", "") or "http://127.0.0.1:8000").rstrip(
            "/"
        )

    @property
    def storage(self) -> Storage:
        try:
            return self.runtime.storage
        except ValueError as exc:  # e.g. s3 without a bucket
            raise BadInput(f"storage settings: {exc}") from exc

    @contextmanager
    def _conn(self, write: bool = False) -> Iterator[Connection]:
        try:
            ctx = self.engine.begin() if write else self.engine.connect()
            with ctx as conn:
                yield conn
        except OperationalError as exc:
            raise Unreachable(f"cannot reach {self.where}: {exc.orig or exc}") from exc

    # ------------------------------------------------------------------ lookups
    def _account(self, conn: Connection, ref: str | None) -> Any:
        from reportcard.db.tables import accounts

        a = accounts.c
        live = a.workflow_state != "deleted"
        if ref is None or ref == "self":
            row = conn.execute(
                select(accounts).where(a.root_account_id.is_(None), live).order_by(a.id).limit(1)
            ).first()
            if row is None:
                raise NotFound(
                    f"no root account in {self.where}: create one with `reportcard init` "
                    "(or `reportcard seed`), or point REPORTCARD_DATA_DIR / "
                    "REPORTCARD_DATABASE_URL at your database"
                )
            return row
        if ref.isdigit():
            row = conn.execute(select(accounts).where(a.id == int(ref), live)).first()
        elif ref.startswith("sis_account_id:"):
            row = conn.execute(
                select(accounts)
                .where(a.sis_source_id == ref.split(":", 1)[1], live)
                .order_by(a.id)
                .limit(1)
            ).first()
        else:
            raise BadInput(
                f"--account {ref!r}: use an account id, `self` or `sis_account_id:<sis id>`"
            )
        if row is None:
            raise NotFound(f"no account {ref} in {self.where}")
        return row

    def _zone(self, conn: Connection, account: Any) -> str:
        from reportcard.service.start import root_zone

        return root_zone(conn, account)

    def _present(self, conn: Connection, run: Any, tz: str) -> Run:
        from reportcard.api.entries import run_entry

        return run_entry(conn, self.base, run, tz, self.runtime.links)

    def _run_row(self, conn: Connection, account: Any, report: str, run_id: int) -> Any:
        from reportcard.db.tables import account_reports

        r = account_reports.c
        return conn.execute(
            select(account_reports).where(
                r.id == run_id,
                r.account_id == account.id,
                r.report_type == report,
                r.workflow_state != "deleted",
            )
        ).first()

    def _find(self, conn: Connection, ref: str | None, report: str, run_id: int) -> Any:
        account = self._account(conn, ref)
        run = self._run_row(conn, account, report, run_id)
        if run is None:
            raise NotFound(
                f"{not_found_message(ref, report, run_id, self.default_account)} of {self.where}"
            )
        return account, run

    # ------------------------------------------------------------------ operations
    def reports(self, account: str | None) -> list[dict[str, Any]]:
        from reportcard.api.entries import catalog_entries

        with self._conn() as conn:
            acct = self._account(conn, account)
            zone = self._zone(conn, acct)
            return catalog_entries(conn, self.base, acct, zone, self.runtime.links)

    def terms(self, account: str | None) -> list[dict[str, Any]]:
        from reportcard.db.tables import enrollment_terms
        from reportcard.service.serializers import term_json

        t = enrollment_terms.c
        with self._conn() as conn:
            acct = self._account(conn, account)
            root = int(acct.root_account_id or acct.id)
            rows = conn.execute(
                select(enrollment_terms)
                .where(t.root_account_id == root, t.workflow_state != "deleted")
                .order_by(t.id)
            ).all()
            tz = self._zone(conn, acct)
            return [term_json(r, tz) for r in rows]

    def accounts(self, account: str | None) -> list[dict[str, Any]]:
        from reportcard.db.tables import account_ancestors, accounts
        from reportcard.service.serializers import account_json

        a = accounts.c
        live = a.workflow_state != "deleted"
        with self._conn() as conn:
            if account is None:  # every account of the database (no sign-in here)
                rows = conn.execute(select(accounts).where(live).order_by(a.id)).all()
                if not rows:
                    self._account(conn, None)  # raises: no root account, naming the database
                return [account_json(r) for r in rows]
            top = self._account(conn, account)
            below = select(account_ancestors.c.account_id).where(
                account_ancestors.c.ancestor_id == top.id, account_ancestors.c.depth > 0
            )
            rows = conn.execute(select(accounts).where(a.id.in_(below), live).order_by(a.id)).all()
            return [account_json(top), *(account_json(r) for r in rows)]

    def start(
        self, account: str | None, report: str, params: dict[str, Any], *, here: bool
    ) -> tuple[Run, bool]:
        from reportcard.reports.params import ReportInputError
        from reportcard.runs.start import UnknownReport, start_run

        with self._conn(write=True) as conn:
            acct = self._account(conn, account)
            try:
                row, duplicate = start_run(
                    conn,
                    account=acct,
                    user_id=None,
                    report=report,
                    params=params,
                    window_hours=self.settings.duplicate_window_hours,
                    match_params=bool(params),
                )
            except UnknownReport as exc:
                raise BadInput(
                    f"unknown report {report!r} (`reportcard reports list` shows the reports)"
                ) from exc
            except ReportInputError as exc:
                raise BadInput(str(exc)) from exc
            body = self._present(conn, row, self._zone(conn, acct))
            if duplicate:
                return body, True
            run_id = int(row.id)
        if not here:  # else this process works it (follow)
            self.runtime.run_created(run_id)
        return body, False

    def status(self, account: str | None, report: str, run_id: int) -> Run:
        with self._conn() as conn:
            acct, run = self._find(conn, account, report, run_id)
            return self._present(conn, run, self._zone(conn, acct))

    def history(self, account: str | None, report: str, limit: int) -> list[Run]:
        from reportcard.db.tables import account_reports

        r = account_reports.c
        with self._conn() as conn:
            acct = self._account(conn, account)
            tz = self._zone(conn, acct)
            rows = conn.execute(
                select(account_reports)
                .where(
                    r.account_id == acct.id,
                    r.report_type == report,
                    r.workflow_state != "deleted",
                )
                .order_by(r.created_at.desc(), r.id.desc())
                .limit(limit)
            ).all()
            return [self._present(conn, row, tz) for row in rows]

    def _change(self, account: str | None, report: str, run_id: int, action: str) -> Run:
        from reportcard.runs.lifecycle import abort_run, delete_run, get_run

        with self._conn(write=True) as conn:
            acct, run = self._find(conn, account, report, run_id)
            if not (abort_run if action == "abort" else delete_run)(conn, int(run.id)):
                raise Failed(cannot_change(action, report, run_id, run.workflow_state))
            return self._present(conn, get_run(conn, int(run.id)), self._zone(conn, acct))

    def abort(self, account: str | None, report: str, run_id: int) -> Run:
        return self._change(account, report, run_id, "abort")

    def delete(self, account: str | None, report: str, run_id: int) -> Run:
        return self._change(account, report, run_id, "delete")

    def failure_reason(self, run: Run) -> str | None:
        from reportcard.db.tables import account_reports

        with self._conn() as conn:
            detail = conn.execute(
                select(account_reports.c.error_detail).where(account_reports.c.id == int(run["id"]))
            ).scalar()
        return str(detail) if detail else None

    def download(self, run: Run, out: BinaryIO) -> int:
        from reportcard.db.tables import attachments

        with self._conn() as conn:
            att = conn.execute(
                select(attachments).where(attachments.c.id == int(run["attachment"]["id"]))
            ).first()
        if att is None or att.workflow_state == "deleted":
            raise NotFound(f"the file of run {run['id']} is gone")
        try:
            with self.storage.open_read(att.storage_key) as src:
                start = out.tell() if out.seekable() else 0
                shutil.copyfileobj(src, out)
                return (out.tell() - start) if out.seekable() else int(att.size)
        except FileNotFoundError as exc:
            raise NotFound(f"the file of run {run['id']} is missing from storage") from exc

    def follow(
        self, account: str | None, report: str, run_id: int, on_update: Callable[[Run], None]
    ) -> Run:
        """Work the run in a thread of this process; Ctrl-C aborts it."""
        from reportcard.runs.worker import Worker

        worker = Worker(self.engine, self.storage, self.settings)
        stop = threading.Event()
        failure: list[BaseException] = []

        def work() -> None:
            from reportcard.runs.lifecycle import TERMINAL_STATES, get_run

            try:
                while not stop.is_set():
                    with self.engine.connect() as conn:
                        state = get_run(conn, run_id).workflow_state
                        conn.rollback()
                    if state in TERMINAL_STATES:
                        return
                    if not worker.step():
                        worker.wake.wait(0.05)
                        worker.wake.clear()
            except BaseException as exc:  # shown to the caller, never a silent hang
                failure.append(exc)

        thread = threading.Thread(target=work, name=f"cli-run-{run_id}", daemon=True)
        thread.start()
        try:
            while True:
                run = self._status_retrying(account, report, run_id)
                on_update(run)
                if run["status"] not in ACTIVE:
                    return run
                if failure:
                    raise Failed(f"working run {run_id} failed: {failure[0]}")
                thread.join(POLL)
        except KeyboardInterrupt:
            self._stop_here(account, report, run_id)
            raise Interrupted(f"interrupted: run {run_id} of {report} aborted") from None
        finally:
            stop.set()
            thread.join(30)

    def _status_retrying(self, account: str | None, report: str, run_id: int) -> Run:
        """A status read that rides out a busy or restarting database for half a minute."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return self.status(account, report, run_id)
            except Unreachable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _stop_here(self, account: str | None, report: str, run_id: int) -> None:
        deadline = time.monotonic() + 5
        while True:
            try:
                self.abort(account, report, run_id)
                return
            except Failed:
                return
            except Unreachable:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.1)
