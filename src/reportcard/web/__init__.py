"""The Reports page: server-rendered Jinja2 pages with htmx (vendored), sign-in and sessions."""

from __future__ import annotations

from reportcard.runs.hooks import Hooks


def install(hooks: Hooks) -> None:
    """The hourly sweep of ended Reports page sessions."""
    from reportcard.web import session_sweep

    session_sweep.install(hooks)
