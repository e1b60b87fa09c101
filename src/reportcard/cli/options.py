"""What the report commands share: ``--account/--url/--token/--json``, errors and exit codes."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import click

from reportcard.cli.backends import Backend, BadInput, CliError, Failed, Run, open_backend

F = TypeVar("F", bound=Callable[..., Any])


def backend_options(f: F) -> F:
    """Add ``--account``, ``--url``, ``--token`` and ``--json`` to a command."""
    f = click.option(
        "--json", "as_json", is_flag=True, help="Print Canvas JSON on stdout, for scripts."
    )(f)
    f = click.option(
        "--token",
        envvar="REPORTCARD_TOKEN",
        default=None,
        metavar="TOKEN",
        help="Access token for --url (env REPORTCARD_TOKEN).",
    )(f)
    f = click.option(
        "--url",
        envvar="REPORTCARD_URL",
        default=None,
        metavar="URL",
        help="Work against this server's API instead of the database (env REPORTCARD_URL).",
    )(f)
    f = click.option(
        "--account",
        default=None,
        metavar="ID",
        help="Account id, `self` or sis_account_id:X (default: the first root account; "
        "with --url: self).",
    )(f)
    return f


def fails_cleanly(f: F) -> F:
    """Show a :class:`CliError` as ``error: ...`` on stderr and exit with its code."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except CliError as exc:
            click.echo(f"error: {exc.message}", err=True)
            raise click.exceptions.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def backend_for(url: str | None, token: str | None) -> Iterator[Backend]:
    backend = open_backend(url, token)
    try:
        yield backend
    finally:
        backend.close()


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--param k=v`` pairs; a key given twice becomes a list (``enrollment_states``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise click.BadParameter(f"expected key=value, got {pair!r}", param_hint="--param")
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


def save_file(backend: Backend, run: Run, output: str | None) -> tuple[str, int]:
    """Copy a run's file to ``output`` (a file, a directory, or ``-`` for stdout).

    Without ``output`` the file goes to the current directory under its own name; an
    ``output`` ending in ``/`` is a directory, made if need be. The file is written beside its
    target and renamed at the end, so a failed download leaves nothing behind.
    """
    att = run.get("attachment")
    if not att:
        if run.get("status") in ("created", "running", "compiling"):
            raise Failed(
                f"run {run['id']} of {run['report']} is {run['status']} "
                f"({run.get('progress', 0)}%): it has no file yet"
            )
        why = f": {run['message']}" if run.get("message") else ""
        raise Failed(f"run {run['id']} of {run['report']} ended {run['status']}{why}; no file")
    if output == "-":
        out: BinaryIO = sys.stdout.buffer
        size = backend.download(run, out)
        out.flush()
        return "-", size
    name = Path(str(att.get("filename") or f"report-{run['id']}")).name
    target = Path(output) if output else Path(name)
    try:
        if output and output.endswith(("/", os.sep)):
            target.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            target = target / name
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from exc
    partial = target.with_name(f".{target.name}.part")
    try:
        with open(partial, "wb") as fh:
            size = backend.download(run, fh)
        partial.replace(target)
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return str(target), size
