"""Run pip-audit on the installed environment and judge the answer (``make security``).

Fails (exit 1) when a known vulnerability is reported. When the vulnerability service cannot
be reached, or it audited none of the packages (a mirror without vulnerability data answers
"not found on PyPI" for every one), it says so plainly and exits 0: an unreachable service is
not a finding, but the output must not pretend the audit happened.

Usage: .venv/bin/python scripts/pip_audit_check.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main() -> int:
    exe = Path(sys.executable).with_name("pip-audit")
    args = [str(exe), "--skip-editable", "--progress-spinner", "off", "-f", "json"]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        print("pip-audit: NOT AUDITED - the vulnerability service did not answer in 300 s")
        return 0
    try:
        report = json.loads(done.stdout or "{}")
    except ValueError:
        report = {}
    deps = report.get("dependencies")
    if not deps:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"pip-audit: NOT AUDITED - the vulnerability service is unreachable ({last})")
        return 0
    audited = [d for d in deps if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    for d in vulnerable:
        for v in d["vulns"]:
            fixed = ", ".join(v.get("fix_versions") or []) or "no fix yet"
            print(f"pip-audit: {d['name']} {d['version']}: {v['id']} (fixed in {fixed})")
    if vulnerable:
        print(f"pip-audit: {len(vulnerable)} vulnerable package(s); see docs/security-review.md")
        return 1
    if not audited:
        print(
            f"pip-audit: NOT AUDITED - the index answered for none of the {len(deps)} packages "
            "(a mirror without vulnerability data?); run `make security` where PyPI is reachable"
        )
        return 0
    skipped = len(deps) - len(audited)
    print(f"pip-audit: {len(audited)} audited, no known vulnerabilities ({skipped} skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
