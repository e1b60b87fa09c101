"""`make demo` on a real terminal (a pty): it says where the page is and how to sign in, takes
another port, and Ctrl-C (typed on the terminal, reaching the whole foreground group) ends it
with status 0: no "Aborted!", no make "Interrupt"."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import termios
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _on_a_terminal(cmd: list[str], env: dict[str, str], marker: bytes) -> tuple[int, str]:
    """Run ``cmd`` as the foreground job of a new terminal; type Ctrl-C once ``marker`` shows."""
    master, slave = pty.openpty()

    def take_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        # A suite started in the background by a shell without job control inherits an
        # ignored SIGINT, which Python (and make) would keep: Ctrl-C must reach them.
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        cmd, stdin=slave, stdout=slave, stderr=slave, preexec_fn=take_terminal, env=env, cwd=ROOT
    )
    os.close(slave)
    out = b""
    typed = False
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break  # the terminal closed: everyone has exited
                if not chunk:
                    break
                out += chunk
            if not typed and marker in out:
                os.write(master, b"\x03")
                typed = True
                # Shutting down gets its own window, however long start-up took on a busy machine.
                deadline = time.monotonic() + 300
            if not ready and proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert typed, out.decode(errors="replace")[-2000:]
    return proc.wait(), out.decode(errors="replace")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_prints_the_way_in_and_ctrl_c_exits_0(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "REPORTCARD_DATA_DIR": str(tmp_path), "TERM": "dumb"}
    env.pop("REPORTCARD_DATABASE_URL", None)
    code, out = _on_a_terminal(
        # -o: never (re)install from the test, whatever pyproject.toml's time.
        ["make", "-o", ".venv/.installed", "demo", f"PORT={port}", "DEMO_ARGS=--size tiny"],
        env,
        b"press Ctrl-C to stop",
    )
    assert code == 0, out[-2000:]
    assert "Interrupt" not in out and "Aborted!" not in out and "Error" not in out
    assert f"http://127.0.0.1:{port}/login" in out
    assert "With an access token" in out and "admin token :" in out
