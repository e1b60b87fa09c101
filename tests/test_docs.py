"""Every setting, CLI command and CLI option is documented (a new one fails this test)."""

from __future__ import annotations

from pathlib import Path

import click

from reportcard.cli import main
from reportcard.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_in_configuration_md() -> None:
    text = (DOCS / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`REPORTCARD_{name.upper()}`" in text, name


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, cmd in group.commands.items():
        full = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, full))
        else:
            out.append((full, cmd))
    return out


def test_every_cli_command_and_option_is_in_cli_md() -> None:
    text = (DOCS / "cli.md").read_text()
    for full, cmd in _commands(main, "reportcard"):
        assert f"`{full}" in text, full
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert any(opt in text for opt in param.opts), (full, param.opts)
