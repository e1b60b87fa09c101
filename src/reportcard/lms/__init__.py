"""The LMS data model the reports read, and the ways data gets into it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not at run time: the CD2 import loads this package alone
    from reportcard.runs.hooks import Hooks


def install(hooks: Hooks) -> None:
    """SIS imports as work for every worker, and the sweep of the work directories they leave."""
    from reportcard.lms.sis_import import job, workdirs

    hooks.add_work("sis_import", job.work_one)
    workdirs.install(hooks)
