"""Fixtures of the email tests: a real SMTP server, settings that point at it, people."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from reportcard.db.tables import communication_channels, pseudonyms
from reportcard.settings import Settings
from reportcard.storage.local import LocalStorage
from tests.notify.smtp_server import SmtpServer
from tests.runs.sample import make_institution


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(tmp_path: Path, smtp: SmtpServer) -> Settings:
    return Settings(
        data_dir=tmp_path,
        shard_rows=1000,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_sender="reports@example.edu",
        smtp_timeout=5,
        public_url="https://reports.example.edu/",
    )


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files")


def add_email(engine: Engine, user_id: int, address: str, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(communication_channels).values(
                user_id=user_id,
                path=address,
                path_type=values.pop("path_type", "email"),
                position=values.pop("position", 1),
                workflow_state=values.pop("workflow_state", "active"),
            )
        )


@pytest.fixture
def people(engine: Engine) -> dict[str, int]:
    """A root account ("Sample U", 20 logins) and three of its users."""
    with engine.begin() as conn:
        root = make_institution(conn, 20)
        uids = conn.execute(
            select(pseudonyms.c.user_id).where(pseudonyms.c.account_id == root).limit(3)
        ).scalars()
        a, b, c = sorted(uids)
    return {"root": root, "ada": a, "bob": b, "cyd": c}
