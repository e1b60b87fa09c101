"""Human-readable text of Canvas Report JSON (``--json`` prints the JSON itself)."""

from __future__ import annotations

from typing import Any

from reportcard.cli.backends import Run


def _params(params: Any) -> str:
    if not params:
        return "none"
    return ", ".join(f"{k}={v}" for k, v in params.items() if k != "extra_text") or "none"


def run_line(run: Run) -> str:
    """One line: ``#12  complete  100%  2024-01-15T01:00:00-07:00  provisioning.zip``."""
    status = run["status"]
    when = run.get("created_at") or ""
    att = run.get("attachment")
    tail = f"{att['filename']} ({att['size']:,} bytes)" if att else (run.get("message") or "")
    return f"#{run['id']:<6} {status:<9} {run['progress']:>3}%  {when:<25}  {tail}".rstrip()


def run_block(run: Run) -> list[str]:
    """Every field a person wants of one run."""
    lines = [f"run {run['id']} of {run['report']}: {run['status']} ({run['progress']}%)"]
    if run.get("message"):
        lines.append(f"  message     : {run['message']}")
    if run.get("current_line") is not None:
        lines.append(f"  current line: {run['current_line']:,}")
    lines.append(f"  parameters  : {_params(run.get('parameters'))}")
    extra = (run.get("parameters") or {}).get("extra_text")
    if extra:
        lines.append(f"  details     : {extra}")
    lines.append(f"  created     : {run.get('created_at')}")
    if run.get("started_at"):
        lines.append(f"  started     : {run['started_at']}")
    if run.get("ended_at"):
        lines.append(f"  ended       : {run['ended_at']}")
    lines.append(f"  run time    : {run.get('run_time', 0)} s")
    user = run.get("user") or {}
    if user.get("display_name"):
        lines.append(f"  started by  : {user['display_name']}")
    att = run.get("attachment")
    if att:
        lines.append(f"  file        : {att['filename']} ({att['size']:,} bytes)")
        lines.append(f"  url         : {att['url']}")
    return lines


def report_lines(entry: dict[str, Any]) -> list[str]:
    """A report of List Available Reports: name, title, parameters and last run."""
    last = entry.get("last_run")
    state = "never run" if last is None else f"last run #{last['id']} {last['status']}"
    if last is not None and last.get("created_at"):
        state += f" {last['created_at']}"
    lines = [f"{entry['report']:<36} {entry['title']:<36} {state}"]
    params = entry.get("parameters") or {}
    if params:
        names = ", ".join(f"{k}*" if (v or {}).get("required") else k for k, v in params.items())
        lines.append(f"    parameters: {names}")
    return lines
