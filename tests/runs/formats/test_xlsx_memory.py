"""An xlsx file is streamed: peak memory does not grow with the number of rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import csv, resource, sys
from pathlib import Path
from reportcard.runs.formats import write_xlsx
from reportcard.runs.package import FilePart
from reportcard.storage.local import LocalStorage

rows, root = int(sys.argv[1]), Path(sys.argv[2])
storage = LocalStorage(root)
keys = []
for p in range(3):  # three shard part files
    key = f"runs/1/parts/000-{p:05d}.csv"
    with storage.open_write(key) as out, open(out.tmp, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        for i in range(p, rows, 3):
            w.writerow([i, f"login{i}", f"User {i}, Jr", "2024-01-15T01:00:00-07:00", "true"])
    keys.append(key)
part = FilePart(name="users", headers=["id", "login", "name", "created", "sis"], keys=keys)
with storage.open_write("out.xlsx") as out:
    write_xlsx(out, storage, [part])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, storage.size("out.xlsx"))
"""


def peak_kb(rows: int, tmp: Path) -> tuple[int, int]:
    tmp.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(rows), str(tmp)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    return int(out[0]), int(out[1])


@pytest.mark.slow
def test_peak_memory_is_flat_from_12k_to_120k_rows(tmp_path: Path) -> None:
    small, small_size = peak_kb(12_000, tmp_path / "small")
    large, large_size = peak_kb(120_000, tmp_path / "large")
    assert large_size > 8 * small_size  # the large file really holds ten times the rows
    # A writer holding its rows would need tens of MB more for the large file.
    assert large - small < 8_000, (small, large)
