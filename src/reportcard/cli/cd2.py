"""``reportcard cd2 ...``: bring Canvas Data 2 (DAP) data in and keep it current.

``import`` reads files from ``dap snapshot`` / ``dap incremental``; ``status`` shows what was
applied per table. Other modules add commands to the group: ``from reportcard.cli.cd2 import
cd2_group`` then ``@cd2_group.command("sync")`` (and list the module in ``cli/__init__.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reportcard.cli.base import main, open_database
from reportcard.settings import get_settings

EXIT_BAD_DATA = 2


@main.group("cd2")
def cd2_group() -> None:
    """Canvas Data 2 (DAP): import snapshot and incremental files, show what was applied."""


def fail(message: str) -> None:
    """Print a CD2 error on stderr and exit with status 2 (nothing of the table changed)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_DATA)


@cd2_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--table",
    "table",
    metavar="NAME",
    default=None,
    help="Every file given belongs to this CD2 table (dap's job_<id>/ folders do not name it).",
)
@click.option(
    "--snapshot",
    is_flag=True,
    help="The files are the whole table: rows of the root account missing from them are removed.",
)
@click.option(
    "--account",
    "account_id",
    type=click.IntRange(min=1),
    default=None,
    help="The root account the data belongs to (default: the accounts files' root, or the one"
    " imported before).",
)
@click.option(
    "--connections",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="PostgreSQL: database connections the tables are loaded on; the next table is read in"
    " while the one before it is applied, and up to N-1 connections read a big table in ahead"
    " of its turn (1: one table after the other). SQLite: always 1.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def import_cmd(
    paths: tuple[Path, ...],
    table: str | None,
    snapshot: bool,
    account_id: int | None,
    connections: int,
    as_json: bool,
) -> None:
    """Import CD2 files (.jsonl, .csv, .tsv, optionally gzip, or .parquet) or directories.

    Without --table, a directory's subdirectories are named after CD2 tables (DIR/users/...)
    and are applied in an order that satisfies references. Each table is all or nothing.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from reportcard.lms.cd2.errors import Cd2Error
    from reportcard.lms.cd2.importer import import_paths

    engine = open_database(get_settings(), create=True)
    with Progress(
        TextColumn("{task.description:<40}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        transient=True,
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task("reading", total=None)

        def progress(description: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None, description=description[-40:])

        try:
            result = import_paths(
                engine,
                list(paths),
                table=table,
                snapshot=snapshot,
                account_id=account_id,
                progress=progress,
                connections=connections,
            )
        except Cd2Error as exc:
            bar.stop()
            fail(str(exc))
            return
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(f"root account {result.root_id}" + (" (snapshot)" if snapshot else ""))
    width = max(len(t.table) for t in result.tables)
    for t in result.tables:
        newest = t.max_ts.isoformat() + "Z" if t.max_ts else "-"
        click.echo(
            f"  {t.table:<{width}}  {t.records:>9,} records  {t.upserted:>9,} upserted"
            f"  {t.deleted:>7,} deleted  {t.unchanged:>9,} unchanged  newest {newest}"
        )
    for path, reason in result.skipped:
        click.echo(f"  skipped {path}: {reason}")
    lacks = [item for t in result.tables for item in t.lacks]
    if lacks:
        click.echo("not in CD2 (the reports write what Canvas writes without them):")
        for item in dict.fromkeys(lacks):
            click.echo(f"  - {item}")
    if result.derived:
        click.echo("rebuilt: " + ", ".join(result.derived))


@cd2_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON on stdout.")
def status_cmd(as_json: bool) -> None:
    """What was applied per CD2 table: newest meta.ts (the next --since), rows, when."""
    from reportcard.db.engine import read_conn
    from reportcard.lms.cd2.state import read_states

    engine = open_database(get_settings())
    with read_conn(engine) as conn:
        states = read_states(conn)
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in states], indent=2))
        return
    if not states:
        click.echo("no CD2 data imported yet (reportcard cd2 import)")
        return
    width = max(len(s.table) for s in states)
    for s in states:
        d = s.as_dict()
        click.echo(
            f"{s.table:<{width}}  root {s.root_account_id}  last meta.ts {d['last_ts'] or '-'}"
            f"  {s.rows_total:,} rows  last {s.last_mode}: +{s.rows_upserted:,}"
            f" -{s.rows_deleted:,}  applied {d['applied_at']}"
        )
