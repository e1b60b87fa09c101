"""No module keeps configuration in module globals (docs/architecture.md: the runtime).

Settings, engines and Celery apps belong to a runtime (``reportcard.runtime``); a module-level
name holding one (``app = Celery(...)``, ``_configured: list[Settings]``) would make the
process's first runtime everyone's. The one process-wide store of engines is
``db/engine.py``'s cache keyed by database URL: it hands the same engine to whoever names the
same database, and chooses none.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "reportcard"

CONFIG_TYPES = ("Settings", "Engine", "Celery")
CONFIG_MAKERS = {"Settings", "get_settings", "make_engine", "Celery", "make_celery"}
ALLOWED = {("db/engine.py", "_engines")}  # the engine cache keyed by URL (see above)


def _called(value: ast.expr) -> str | None:
    """The name a module-level value calls (``Celery`` of ``Celery("x")``), if any."""
    if isinstance(value, ast.Call):
        func = value.func
        return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return None


def module_config(text: str) -> list[tuple[int, str]]:
    """(line, name) of each module-level name bound to configuration in ``text``."""
    found = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            annotation = ast.unparse(node.annotation)
            if any(t in annotation for t in CONFIG_TYPES) or (
                node.value is not None and _called(node.value) in CONFIG_MAKERS
            ):
                found.append((node.lineno, node.target.id))
        elif isinstance(node, ast.Assign) and _called(node.value) in CONFIG_MAKERS:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.append((node.lineno, target.id))
    return found


def test_the_check_finds_configuration_held_by_a_module() -> None:
    text = (
        'app = Celery("reportcard")\n'
        "_configured: list[Settings] = []\n"
        "_engines: list[Engine] = []\n"
        "settings = get_settings()\n"
        "LIMIT = 3\n"
    )
    names = [name for _, name in module_config(text)]
    assert names == ["app", "_configured", "_engines", "settings"]


def test_no_module_holds_settings_engines_or_celery_apps() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for line, name in module_config(path.read_text()):
            if (rel, name) not in ALLOWED:
                offenders.append(f"{rel}:{line}: {name}")
    assert offenders == []
