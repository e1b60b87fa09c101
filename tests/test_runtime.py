"""runtime.py and wiring.py: one runtime, built the same way by the server, CLI and Celery."""

from __future__ import annotations

from pathlib import Path

from reportcard.lms.sis_import.job import work_one
from reportcard.queue import EmbeddedQueue
from reportcard.runs.hooks import hooks_of
from reportcard.settings import Settings
from reportcard.wiring import build, hooks


def test_every_package_installs_in_the_wired_order() -> None:
    installed = hooks()
    assert [f.__module__ + "." + f.__name__ for f in installed.listeners] == [
        "reportcard.notify.schedule_delivery.deliver_scheduled_run",
        "reportcard.notify.webhooks.queue_webhook_events",
        "reportcard.notify.mail.report_ended",
    ]
    assert list(installed.jobs) == [
        "webhook_deliveries",
        "mail",
        "schedule_dispatcher",
        "retention",
        "runs.time_limit",
        "sis_import.workdirs",
        "web_sessions",
    ]
    assert installed.work == {"sis_import": work_one}


def test_the_runtime_binds_its_hooks_and_announces_runs(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    runtime = build(settings)
    assert hooks_of(runtime.engine) is runtime.hooks
    assert runtime.hooks.created == [runtime.run_created]
    assert "provisioning_csv" in runtime.reports
    assert isinstance(runtime.queue, EmbeddedQueue)
    assert not runtime.wakeup.is_set()
    runtime.run_created(1)  # the embedded queue: the workers are woken
    assert runtime.wakeup.is_set()
    runtime.wakeup.clear()
    runtime.wake()
    assert runtime.wakeup.is_set()
    pool = runtime.start_pool(0)
    assert pool.wake is runtime.wakeup  # the pool's workers wait on the queue's event
    runtime.stop_pool()
