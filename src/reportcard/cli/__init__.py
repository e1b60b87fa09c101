"""The command line (docs/cli.md documents every command and option).

Each module registers its commands on :data:`main` when imported; add a module to the import
list below to add commands.
"""

from __future__ import annotations

from reportcard.cli import (
    accounts,
    admin,
    audit,
    cd2,
    cd2_sync,
    data,
    institution,
    mail,
    reports,
    retention,
    runs,
    schedules,
    tokens,
    users,
)
from reportcard.cli.base import main

__all__ = [
    "accounts",
    "admin",
    "audit",
    "cd2",
    "cd2_sync",
    "data",
    "institution",
    "mail",
    "main",
    "reports",
    "retention",
    "runs",
    "schedules",
    "tokens",
    "users",
]
