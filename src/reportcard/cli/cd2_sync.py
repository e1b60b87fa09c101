"""``reportcard cd2 sync``: apply a database kept by ``dap initdb``/``dap syncdb`` (issue #14).

See :mod:`reportcard.lms.cd2.syncdb` for what is read and how changes are found.
"""

from __future__ import annotations

import json
import sys

import click

from reportcard.cli.base import open_database
from reportcard.cli.cd2 import cd2_group, fail
from reportcard.settings import get_settings


@cd2_group.command("sync")
@click.option(
    "--from",
    "source",
    metavar="URL",
    required=True,
    help="The PostgreSQL database dap syncdb keeps (postgresql://user:password@host/db).",
)
@click.option(
    "--schema",
    default="canvas",
    show_default=True,
    help="The schema holding the canvas tables (dap's default is canvas).",
)
@click.option(
    "--table",
    "tables",
    metavar="NAME",
    multiple=True,
    help="Only this CD2 table (repeatable); default: every table reportcard reads.",
)
@click.option(
    "--account",
    "account_id",
    type=click.IntRange(min=1),
    default=None,
    help="The root account the data belongs to (default: the synced accounts' root, or the"
    " one imported before).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def sync_cmd(
    source: str, schema: str, tables: tuple[str, ...], account_id: int | None, as_json: bool
) -> None:
    """Apply what changed in a dap-synced PostgreSQL database since the last sync.

    Tables whose sync position (instructure_dap.table_sync) has not moved are skipped; the
    others are read whole and only rows that changed are written.
    """
    from reportcard.lms.cd2.errors import Cd2Error
    from reportcard.lms.cd2.mapping import TABLES
    from reportcard.lms.cd2.syncdb import sync

    known = {t.name for t in TABLES}
    unknown = [t for t in tables if t not in known]
    if unknown:
        fail(f"not a CD2 table reportcard reads: {', '.join(unknown)}")
    engine = open_database(get_settings(), create=True)

    def progress(table: str, done: int, total: int) -> None:
        if sys.stderr.isatty():
            click.echo(f"\r{table[:40]:<40} {done}/{total}", err=True, nl=False)

    try:
        result = sync(
            engine,
            source,
            schema=schema,
            account_id=account_id,
            tables=list(tables) or None,
            progress=progress,
        )
    except Cd2Error as exc:
        fail(str(exc))
        return
    if sys.stderr.isatty():
        click.echo("\r" + " " * 50 + "\r", err=True, nl=False)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(f"{result.source}: root account {result.root_id or '-'}")
    width = max([len(t.table) for t in result.tables] or [0])
    for t in result.tables:
        position = t.max_ts.isoformat() + "Z" if t.max_ts else "-"
        click.echo(
            f"  {t.table:<{width}}  {t.records:>9,} rows read  {t.upserted:>9,} upserted"
            f"  {t.deleted:>7,} deleted  synced to {position}"
        )
    if result.unchanged:
        click.echo(f"  unchanged: {', '.join(result.unchanged)}")
    if result.missing:
        click.echo(f"  not replicated in the source: {', '.join(result.missing)}")
    lacks = [item for t in result.tables for item in t.lacks]
    if lacks:
        click.echo("not in CD2 (the reports write what Canvas writes without them):")
        for item in dict.fromkeys(lacks):
            click.echo(f"  - {item}")
    if result.derived:
        click.echo("rebuilt: " + ", ".join(result.derived))
