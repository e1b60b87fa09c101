"""The root command group and what every command module shares."""

from __future__ import annotations

import logging

import click
from sqlalchemy import Engine

from reportcard.settings import Settings


def open_engine(settings: Settings) -> Engine:
    """The database engine, with the schema brought up to date."""
    from reportcard.db.engine import make_engine
    from reportcard.db.migrate import upgrade

    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    return engine


@click.group()
@click.version_option(package_name="reportcard")
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level to stderr.")
def main(verbose: bool) -> None:
    """reportcard: Canvas-compatible account reports, self-hosted."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
