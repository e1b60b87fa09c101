"""The package's layers (docs/architecture.md): every import points down, none names a module.

Each top-level part of ``src/reportcard`` has a layer; a module may import only from lower
layers (or its own part). A new package must be given its layer here and in the docs.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "reportcard"

# Bottom to top; parts in one layer do not import each other.
LAYERS: list[set[str]] = [
    # neutral: none of ours
    {"clock", "ids", "names", "rubyfloat", "settings", "timebounds", "timezones"},
    {"db", "storage"},
    {"audit", "auth", "reports"},
    {"runs"},
    {"queue"},
    {"lms", "notify", "runtime"},
    {"service"},  # what the HTTP front ends share
    {"api", "web"},  # siblings: neither imports the other
    {"wiring"},
    {"app"},
    {"demo"},
    {"cli"},
]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def _part(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if rel.parts[0] != "__init__.py" else ""


def _imports(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """(line, top-level part) of every ``reportcard.*`` import in ``path`` (or in ``text``
    read as if it were that file), in functions too."""
    rel = path.relative_to(SRC.parent).with_suffix("")
    package = list(rel.parts if path.name == "__init__.py" else rel.parts[:-1])
    package = package[:-1] if path.name == "__init__.py" else package
    found = []
    for node in ast.walk(_tree(path) if text is None else ast.parse(text)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            names = [base] if base != "reportcard" else [f"reportcard.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "reportcard" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def _sources() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts]


def test_every_part_has_a_layer() -> None:
    parts = {_part(p) for p in _sources()} - {""}
    assert parts - set(RANK) == set()


def test_imports_point_down() -> None:
    upward = []
    for path in _sources():
        me = _part(path)
        for line, other in _imports(path):
            if me and other != me and RANK.get(other, -1) >= RANK[me]:
                upward.append(f"{path.relative_to(SRC)}:{line} imports reportcard.{other}")
    assert upward == []


def test_no_module_names_another_by_string() -> None:
    # A string that names a module of the package (task names such as "reportcard.plan" name
    # no module) is an import the layers check cannot see: import the module instead.
    module = re.compile(r"reportcard((?:\.[a-z_]+)+)")
    named = []
    for path in _sources():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                m = module.fullmatch(node.value)
                if m is None:
                    continue
                target = SRC.joinpath(*m.group(1).strip(".").split("."))
                if target.with_suffix(".py").exists() or (target / "__init__.py").exists():
                    named.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}")
    assert named == []


def test_api_and_web_are_siblings() -> None:
    """Neither front end may import the other: what both need lives in ``service``."""
    assert RANK["api"] == RANK["web"] > RANK["service"]


def test_the_check_sees_an_upward_import() -> None:
    """The reader finds ``from reportcard import x``, relative and absolute imports."""
    text = "from reportcard import web\nfrom ..notify import mail\nimport reportcard.api.deps\n"
    found = _imports(SRC / "runs" / "worker.py", text)
    assert found == [(1, "web"), (2, "notify"), (3, "api")]
