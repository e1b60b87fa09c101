"""The root command group and what every command module shares.

Every failure a command reports is shown the same way, ``error: <message>`` on stderr, and
exits with the code of its kind (docs/cli.md, "Exit status"): a :class:`CliError` raised
anywhere below :data:`main`, or a :class:`click.ClickException` raised by a command. Click's
own usage errors (a missing argument, an option it cannot parse, an unknown command) are shown
the same way, followed by the usage line and click's "Try ... --help" hint, and exit 2.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from reportcard.cli.backends import CliError, NotFound
from reportcard.settings import Settings, get_settings

if TYPE_CHECKING:
    from reportcard.runtime import Runtime


def database_label(settings: Settings) -> str:
    """The database URL the settings choose, its password masked, for messages."""
    url = settings.resolved_database_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable REPORTCARD_DATABASE_URL)"


def in_database(settings: Settings | None = None) -> str:
    """``in the database <url>``, for a "not found" message."""
    return f"in the database {database_label(settings or get_settings())}"


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for another database or an in-memory one)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


class NoDatabase(NotFound):
    """A command that needs an existing database found none (it never creates one)."""


def missing_database(settings: Settings, path: Path) -> NoDatabase:
    if settings.database_url:
        chosen = "REPORTCARD_DATABASE_URL"
    elif "data_dir" in settings.model_fields_set:
        chosen = "REPORTCARD_DATA_DIR"
    else:
        chosen = "default: REPORTCARD_DATA_DIR is not set, so ./var in the current directory"
    return NoDatabase(
        f"no database at {path.resolve()} (chosen by {chosen}): create one with "
        "`reportcard init --name NAME --admin-login LOGIN` (or `reportcard seed`), "
        "or point REPORTCARD_DATA_DIR / REPORTCARD_DATABASE_URL at yours"
    )


def open_runtime(settings: Settings, *, create: bool = False) -> Runtime:
    """The command's runtime (``reportcard.wiring``), its schema brought up to date.

    A missing SQLite file is created only with ``create`` (the commands that set up or fill an
    institution: init, seed, load, import of CD2 data, serve, worker, db upgrade); every other
    command stops with :class:`NoDatabase`, naming the file it looked for.
    """
    from reportcard.wiring import build

    return build(settings, engine=open_database(settings, create=create))


def open_database(settings: Settings, *, create: bool = False) -> Engine:
    """The database alone, its schema brought up to date, for the commands that only read and
    write tables (the CD2 import): no runtime is built, so neither the run engine's, delivery's
    nor the Reports page's modules are loaded (about half a second of the command's start), and
    no hooks are bound (those commands create no runs). ``create`` as for
    :func:`open_runtime`."""
    from reportcard.db.engine import make_engine
    from reportcard.db.migrate import upgrade

    url = settings.resolved_database_url
    path = sqlite_file(url)
    if not create and path is not None and not path.exists():
        raise missing_database(settings, path)
    engine = make_engine(url)
    upgrade(engine)
    return engine


def open_engine(settings: Settings, *, create: bool = False) -> Engine:
    """The engine of :func:`open_runtime` (the runtime's hooks are bound to it)."""
    return open_runtime(settings, create=create).engine


def show_usage_error(exc: click.UsageError, ctx: click.Context | None = None) -> None:
    """``error: <message>`` on stderr, then the usage line and the hint (click's ``show`` with
    this CLI's one error style). A group given no command shows its help, as click does."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        exc.show()
        return
    click.echo(f"error: {exc.format_message()}", err=True)
    where = exc.ctx or ctx
    if where is not None:
        hint = ""
        if where.command.get_help_option(where) is not None:
            hint = f"\nTry '{where.command_path} {where.help_option_names[0]}' for help."
        click.echo(where.get_usage() + hint, err=True)


class Commands(click.Group):
    """The groups of this CLI: every failure as ``error: ...`` with its exit code, and whole
    sentences in the command lists of ``--help`` (click cuts them at about 45 characters)."""

    group_class = type  # sub-groups are Commands too

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:  # this group's own options and arguments
            show_usage_error(exc, parent)
            raise click.exceptions.Exit(exc.exit_code) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            click.echo(f"error: {exc.message}", err=True)
            raise click.exceptions.Exit(exc.exit_code) from None
        except click.UsageError as exc:  # a command's options, an unknown command
            show_usage_error(exc, ctx)
            raise click.exceptions.Exit(exc.exit_code) from None
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            raise click.exceptions.Exit(exc.exit_code) from None


@click.group(cls=Commands)
@click.version_option(package_name="reportcard")
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level to stderr.")
def main(verbose: bool) -> None:
    """reportcard: Canvas-compatible account reports, self-hosted."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
