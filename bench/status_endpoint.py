"""The status endpoint under load: wrk against `GET .../reports/:report/:id` on a real server.

Target (issue #5): at least 2,500 requests/s per server worker process with p99 under 25 ms at
50 concurrent connections. Prints req/s, p50 and p99 for 1 server process.

    python -m bench.status_endpoint [--seconds 10] [--connections 50]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from tests.serving import free_port

from reportcard.auth.tokens import create_token
from reportcard.db.engine import make_engine
from reportcard.db.migrate import upgrade
from reportcard.db.tables import account_reports, account_users, accounts, pseudonyms, roles, users
from reportcard.lms.tree import refresh

RUNS = 10_000


def prepare(db_url: str) -> str:
    engine = make_engine(db_url)
    upgrade(engine)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            insert(accounts).values(
                id=1,
                name="Bench U",
                uuid="bench",
                workflow_state="active",
                default_time_zone="America/Denver",
                can_add_pronouns=False,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            insert(users).values(
                id=1,
                name="Admin",
                uuid="u1",
                workflow_state="registered",
                is_test_student=False,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            insert(pseudonyms).values(
                user_id=1,
                account_id=1,
                unique_id="admin",
                workflow_state="active",
                position=1,
                is_inst_id=False,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            insert(roles).values(
                id=1,
                name="AccountAdmin",
                base_role_type="AccountMembership",
                built_in=True,
                workflow_state="active",
                permissions="",
            )
        )
        conn.execute(
            insert(account_users).values(
                root_account_id=1,
                account_id=1,
                user_id=1,
                role_id=1,
                workflow_state="active",
                created_at=now,
                updated_at=now,
            )
        )
        refresh(conn, 1)
        conn.execute(
            insert(account_reports),
            [
                {
                    "account_id": 1,
                    "root_account_id": 1,
                    "user_id": 1,
                    "report_type": "provisioning_csv",
                    "workflow_state": "running",
                    "parameters": {
                        "users": "true",
                        "enrollments": "true",
                        "extra_text": "Term: All Terms; Reports: users enrollments ",
                    },
                    "progress": 42,
                    "current_line": 123000,
                    "total_lines": 290000,
                    "created_at": now,
                    "start_at": now,
                    "updated_at": now,
                }
                for _ in range(RUNS)
            ],
        )
        return create_token(conn, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rc-status-"))
    db_url = f"sqlite:///{tmp / 'status.sqlite3'}"
    token = prepare(db_url)
    port = free_port()
    env = dict(os.environ, REPORTCARD_DATA_DIR=str(tmp), REPORTCARD_DATABASE_URL=db_url)
    server = subprocess.Popen(
        [sys.executable, "-m", "reportcard.cli", "serve", "--port", str(port), "--workers", "0"],
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        lua = tmp / "rand.lua"
        lua.write_text(
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
            "request = function()\n"
            '  return wrk.format("GET", "/api/v1/accounts/1/reports/provisioning_csv/" '
            f".. math.random(1, {RUNS}))\n"
            "end\n"
        )
        url = f"http://127.0.0.1:{port}"
        cmd = ["wrk", "-t1", f"-c{args.connections}", "--latency", "-s", str(lua), url]
        subprocess.run([*cmd[:1], "-d3s", *cmd[1:]], capture_output=True, check=True)  # warm-up
        out = subprocess.run(
            [*cmd[:1], f"-d{args.seconds}s", *cmd[1:]], capture_output=True, text=True, check=True
        ).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        p50 = re.search(r"50%\s+([\d.]+\w+)", out).group(1)  # type: ignore[union-attr]
        p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)  # type: ignore[union-attr]
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        print(
            f"status endpoint, 1 server process, {args.connections} connections: "
            f"req/s={rps:,.0f}  p50={p50}  p99={p99}  non-2xx={non2xx.group(1) if non2xx else 0}"
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
