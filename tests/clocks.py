"""The fixed moments test data is stamped with, in one place (naive UTC, as stored).

Tests never read the wall clock for their data: rows made by hand carry one of these, and a
test that needs "now" passes its own moment (e.g. ``NOW`` of tests/reports/institution.py).
"""

from __future__ import annotations

from datetime import datetime

# created_at/updated_at of the rows the API, CLI, web, runs and SIS tests make by hand
# (tests/factories.py, tests/runs/sample.py).
T0 = datetime(2024, 1, 15, 8, 0, 0)
# The start of the report tests' hand-made institutions (tests/reports/institution.py,
# activity_institution.py): their terms, courses and activity are dated from it.
T0_REPORTS = datetime(2023, 6, 1)
# The start of the learning institution (tests/reports/learning_institution.py) and of the SIS
# import tests' root account (tests/lms/sis_import/helpers.py).
T0_2024 = datetime(2024, 1, 1)
