"""tests/ mirrors src/reportcard/: each package has its tests folder, and each folder a package.

A new package under src/reportcard needs tests/<package>/ (a package inside lms/ may instead
have tests/lms/test_<package>.py). A folder of tests that mirrors no package says why here.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "reportcard"
TESTS = ROOT / "tests"

# Test folders that are not one package's: what they hold instead.
NOT_A_PACKAGE = {
    "security": "the security lane: every route and input, across the API and the web pages",
    "bench": "tests of the benchmark harness in bench/",
}


def _packages(folder: Path) -> set[str]:
    return {p.parent.name for p in folder.glob("*/__init__.py")}


def test_every_package_has_its_tests() -> None:
    tests = _packages(TESTS)
    missing = sorted(_packages(SRC) - tests)
    assert missing == [], f"packages with no tests/<package>/: {missing}"
    lms = _packages(TESTS / "lms")
    for sub in sorted(_packages(SRC / "lms")):
        covered = sub in lms or (TESTS / "lms" / f"test_{sub}.py").exists() or sub in tests
        assert covered, f"src/reportcard/lms/{sub} has no tests under tests/lms/"


def test_every_test_folder_is_a_package_or_says_what_it_holds() -> None:
    stray = sorted(_packages(TESTS) - _packages(SRC) - set(NOT_A_PACKAGE))
    assert stray == [], f"test folders mirroring no package of src/reportcard: {stray}"
    for folder in NOT_A_PACKAGE:
        assert (TESTS / folder / "__init__.py").exists(), folder
