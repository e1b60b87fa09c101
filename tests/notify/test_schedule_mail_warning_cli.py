"""`reportcard schedules create` warns on stderr when recipients have no mail server to go to."""

from __future__ import annotations

import json
from pathlib import Path

from reportcard.db.engine import make_engine
from reportcard.notify.schedules import NO_MAIL_SERVER
from tests.api.conftest import build_world
from tests.databases import drop_database, fresh_database_url
from tests.notify.test_schedules_cli import rc


def test_recipients_without_a_mail_server_are_warned(tmp_path: Path) -> None:
    url = fresh_database_url(tmp_path)
    made = build_world(make_engine(url))
    env = {"REPORTCARD_DATA_DIR": str(tmp_path), "REPORTCARD_DATABASE_URL": url}
    base = [
        "schedules", "create", "--account", str(made["root"]), "--owner", "admin",
        "--report", "provisioning_csv", "--param", "users=true", "--frequency", "daily",
    ]  # fmt: skip
    try:
        mailed = rc({**env, "REPORTCARD_SMTP_HOST": ""}, *base, "--recipient", "a@example.edu")
        assert mailed.returncode == 0, mailed.stderr
        assert json.loads(mailed.stdout)["warnings"] == [NO_MAIL_SERVER]
        assert mailed.stderr == f"warning: {NO_MAIL_SERVER}\n"
        served = rc(
            {**env, "REPORTCARD_SMTP_HOST": "mail.example.edu"},
            *base, "--recipient", "a@example.edu",
        )  # fmt: skip
        assert served.returncode == 0 and served.stderr == ""
        assert json.loads(served.stdout)["warnings"] == []
        nobody = rc({**env, "REPORTCARD_SMTP_HOST": ""}, *base)
        assert nobody.returncode == 0 and nobody.stderr == ""
        listed = rc({**env, "REPORTCARD_SMTP_HOST": ""}, "schedules", "list")
        warned = [json.loads(line)["warnings"] for line in listed.stdout.splitlines()]
        assert warned == [[NO_MAIL_SERVER], [NO_MAIL_SERVER], []]
    finally:
        drop_database(url)
