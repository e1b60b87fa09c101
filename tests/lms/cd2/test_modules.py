"""What the CD2 import loads: not the reports' modules (their import was about 25 ms of every
``cd2 import``, inside the incremental's time; docs/decisions/performance.md, issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import sys
from reportcard.lms.cd2 import apply, importer
from reportcard.lms.cd2.mapping import BY_NAME

users = BY_NAME["users"]
sql = apply._Sql.__new__(apply._Sql)
sql.pg, sql.t, sql.cols = True, users, {"value.sortable_name"}
# the users' given and surnames, as the import renders them
assert "strpos" in sql.render("{first_name_of:sortable_name}")
assert "strpos" in sql.render("{last_name_of:sortable_name}")
loaded = sorted(m for m in sys.modules if m.startswith(("reportcard.reports", "reportcard.runs")))
print(",".join(loaded))
"""


def test_the_cd2_import_loads_no_report_module() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == ""
