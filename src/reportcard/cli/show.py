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


def report_lines(entry: dict[str, Any], kinds: dict[str, str] | None = None) -> list[str]:
    """A report of List Available Reports: name, title, last run, and each parameter with its
    kind (``kinds``, from the report's declaration when this installation knows it) and
    description."""
    last = entry.get("last_run")
    state = "never run" if last is None else f"last run #{last['id']} {last['status']}"
    if last is not None and last.get("created_at"):
        state += f" {last['created_at']}"
    lines = [f"{entry['report']:<36} {entry['title']:<36} {state}"]
    params = entry.get("parameters") or {}
    if params:
        lines.append("    parameters (* required):")
        names = {k: f"{k}*" if (v or {}).get("required") else k for k, v in params.items()}
        width = max(len(n) for n in names.values())
        kinds = kinds or {}
        kind_width = max((len(k) for k in kinds.values()), default=0)
        for key, spec in params.items():
            text = str((spec or {}).get("description") or "")
            if kind_width:
                text = f"{kinds.get(key, ''):<{kind_width}}  {text}"
            lines.append(f"      {names[key]:<{width}}  {text}".rstrip())
    return lines


def _tree(rows: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Accounts in tree order with their depth (children under their parent, by id)."""
    ids = {int(r["id"]) for r in rows}
    children: dict[int | None, list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: int(r["id"])):
        parent = r.get("parent_account_id")
        children.setdefault(parent if parent in ids else None, []).append(r)
    out: list[tuple[int, dict[str, Any]]] = []

    def walk(parent: int | None, depth: int) -> None:
        for r in children.get(parent, []):
            out.append((depth, r))
            walk(int(r["id"]), depth + 1)

    walk(None, 0)
    return out


def account_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Accounts as an indented tree: id, SIS id, name."""
    lines = [f"{'id':>6}  {'sis_account_id':<20} name"]
    for depth, r in _tree(rows):
        sis = r.get("sis_account_id") or "-"
        lines.append(f"{r['id']:>6}  {sis:<20} {'  ' * depth}{r['name']}")
    return lines


def term_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Enrollment terms: id, SIS id, name, dates and state."""
    lines = [f"{'id':>6}  {'sis_term_id':<16} {'name':<28} {'start_at':<25} {'end_at':<25} state"]
    for t in rows:
        lines.append(
            f"{t['id']:>6}  {t.get('sis_term_id') or '-':<16} {t['name']:<28} "
            f"{t.get('start_at') or '-':<25} {t.get('end_at') or '-':<25} {t['workflow_state']}"
        )
    return lines
