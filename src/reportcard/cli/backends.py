"""What the report commands act through: the database directly, or a server's HTTP API.

Every report command is written once against :class:`Backend`; :func:`open_backend` picks
:class:`~reportcard.cli.direct.DirectBackend` (``REPORTCARD_*`` settings, no server needed) or
:class:`~reportcard.cli.remote.HttpBackend` (``--url`` and ``--token``). Both speak Canvas's
Report JSON, so ``--json`` output is the same whichever way a command went.

Failures are :class:`CliError` subclasses whose ``exit_code`` the commands exit with
(docs/cli.md, "Exit status").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, BinaryIO

ACTIVE = ("created", "running", "compiling")

Run = dict[str, Any]
"""A Canvas Report object (``id``, ``status``, ``progress``, ``current_line``, ...)."""


class CliError(Exception):
    """A failure shown as ``error: <message>`` on stderr and exited with ``exit_code``."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Failed(CliError):
    """The report ended in error or was aborted, or the action does not fit the run's state."""

    exit_code = 1


class BadInput(CliError):
    """Something the caller typed cannot be used (unknown report, refused parameter...)."""

    exit_code = 2


class NotFound(CliError):
    """No such account or run, or the token may not see it (401/403/404)."""

    exit_code = 3


class Unreachable(CliError):
    """The server (or the database) cannot be reached."""

    exit_code = 4


class Interrupted(CliError):
    """Ctrl-C while waiting."""

    exit_code = 130


class Backend(ABC):
    """The report operations, each answering Canvas JSON."""

    #: ``--account`` when it is left out, as shown in messages.
    default_account = "self"

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release connections."""

    @abstractmethod
    def reports(self, account: str | None) -> list[dict[str, Any]]:
        """The available reports of an account (Canvas's List Available Reports)."""

    @abstractmethod
    def terms(self, account: str | None) -> list[dict[str, Any]]:
        """The enrollment terms of the account's root (Canvas's EnrollmentTerm objects)."""

    @abstractmethod
    def accounts(self, account: str | None) -> list[dict[str, Any]]:
        """The account and every sub-account below it (Canvas's Account objects); without
        ``account``, every account the caller may report on."""

    @abstractmethod
    def start(
        self, account: str | None, report: str, params: dict[str, Any], *, here: bool
    ) -> tuple[Run, bool]:
        """Start a run; returns it and whether it is an identical run already in progress.

        ``here``: the caller will work the run itself (:meth:`follow`), so it need not be
        handed to a queue.
        """

    @abstractmethod
    def status(self, account: str | None, report: str, run_id: int) -> Run:
        """One run (Canvas's Status of a Report)."""

    @abstractmethod
    def history(self, account: str | None, report: str, limit: int) -> list[Run]:
        """Past runs of a report, newest first (Canvas's Index of Reports)."""

    @abstractmethod
    def abort(self, account: str | None, report: str, run_id: int) -> Run:
        """Abort a created, running or compiling run."""

    @abstractmethod
    def delete(self, account: str | None, report: str, run_id: int) -> Run:
        """Delete a run (it vanishes from history; Canvas keeps the record)."""

    @abstractmethod
    def download(self, run: Run, out: BinaryIO) -> int:
        """Copy the file of a run that has an ``attachment`` into ``out``; returns bytes."""

    def failure_reason(self, run: Run) -> str | None:
        """What the run recorded about why it failed, beyond Canvas's ``message`` (if known)."""
        return None

    @abstractmethod
    def follow(
        self, account: str | None, report: str, run_id: int, on_update: Callable[[Run], None]
    ) -> Run:
        """Wait until the run ends, calling ``on_update`` with each new state; the last one.

        May raise :class:`Interrupted` (Ctrl-C), after doing what the backend documents.
        """


def not_found_message(account: str | None, report: str, run_id: int, default: str) -> str:
    where = account if account is not None else default
    return f"no run {run_id} of report {report!r} in account {where}"


def cannot_change(action: str, report: str, run_id: int, status: str) -> str:
    if action == "abort":
        return (
            f"run {run_id} of {report} is {status}: only a created, running or compiling run "
            "can be aborted"
        )
    return f"run {run_id} of {report} cannot be deleted (it is {status})"


def open_backend(url: str | None, token: str | None) -> Backend:
    """HTTP when a URL is given (a token is then required), else the database."""
    if url:
        if not token:
            raise BadInput("--url needs --token (or REPORTCARD_TOKEN)")
        from reportcard.cli.remote import HttpBackend

        return HttpBackend(url, token)
    from reportcard.cli.direct import DirectBackend

    return DirectBackend()
