"""PostgreSQL: a pipelined first load builds its tables' non-unique secondary indexes after the
tables (``lms/cd2/indexes.py``): the schema is whole when the import returns, when a later
table fails, and after an import that stopped before building them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

from reportcard.lms.cd2.errors import Cd2Error
from reportcard.lms.cd2.importer import import_paths
from tests.lms.cd2.institution import write_snapshot, write_submissions


def _indexes(engine: Engine) -> dict[str, list[str]]:
    insp = inspect(engine)
    return {t: sorted(str(i["name"]) for i in insp.get_indexes(t)) for t in insp.get_table_names()}


@pytest.fixture
def pg(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    from reportcard.lms.cd2 import apply

    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite loads one table after the other, its indexes in its transaction")
    monkeypatch.setattr(apply, "BULK_ROWS", 1)  # every load into an empty table is a bulk one
    return engine


def _spy_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from reportcard.lms.cd2 import importer

    built: list[str] = []
    original = importer.build

    def build(conn: Any, definitions: Any, settings: str) -> None:
        definitions = list(definitions)
        built.extend(definitions)
        original(conn, definitions, settings)

    monkeypatch.setattr(importer, "build", build)
    return built


def test_a_first_load_builds_its_indexes_after_the_tables(
    pg: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _indexes(pg)
    built = _spy_builds(monkeypatch)
    import_paths(pg, [write_snapshot(tmp_path)], snapshot=True)
    assert _indexes(pg) == before
    deferred = {d.split(" ON ")[0].rsplit(" ", 1)[1] for d in built}
    # enrollments' non-unique indexes; never a unique one, nor those of the tables the
    # derived rebuild locks (users) or writes
    assert {"ix_enrollments_course", "ix_enrollments_user"} <= deferred
    assert not any(d.upper().startswith("CREATE UNIQUE") for d in built)
    assert not {i for i in deferred if i.startswith(("ix_users", "ix_user_account"))}


def test_a_failure_after_a_deferring_table_still_builds_its_indexes(
    pg: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _indexes(pg)
    built = _spy_builds(monkeypatch)
    snapshot = write_snapshot(tmp_path)
    # a submission of an unknown user: its foreign key refuses the table
    write_submissions(snapshot, {800: 99_999})
    with pytest.raises(Cd2Error) as failed:
        import_paths(pg, [snapshot], snapshot=True)
    assert failed.value.table == "submissions"
    assert any(" ON public.enrollments " in d for d in built)  # enrollments was committed
    assert _indexes(pg) == before
    with pg.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM enrollments")).scalar()
        assert not conn.execute(text("SELECT count(*) FROM submissions")).scalar()


def test_an_import_builds_the_indexes_a_stopped_one_left_out(pg: Engine, tmp_path: Path) -> None:
    from reportcard.lms.cd2.indexes import restore_missing

    before = _indexes(pg)
    import_paths(pg, [write_snapshot(tmp_path / "a")], snapshot=True)
    with pg.begin() as conn:  # as an import killed after enrollments' commit leaves it
        conn.exec_driver_sql("DROP INDEX ix_enrollments_course")
        conn.exec_driver_sql("DROP INDEX ix_enrollments_user")
    assert "ix_enrollments_course" not in _indexes(pg)["enrollments"]
    with pg.connect() as conn:
        assert restore_missing(conn, ["enrollments", "users"]) == [
            "ix_enrollments_course",
            "ix_enrollments_user",
        ]
        assert restore_missing(conn, ["enrollments"]) == []
    assert _indexes(pg) == before
    with pg.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_enrollments_section")
    import_paths(pg, [write_snapshot(tmp_path / "b")], snapshot=True)  # the next import
    assert _indexes(pg) == before


def test_both_connections_analyze_the_loaded_tables_once(
    pg: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the tables, the helper builds the deferred indexes and then analyzes from the
    front of a queue of the loaded tables (those with deferred builds first); the main
    connection, after the derived rebuild, from the back: each table once, the rebuilt ones
    after the rebuild."""
    import threading

    from reportcard.lms.cd2 import importer, statistics

    monkeypatch.setattr(statistics, "MIN_ROWS", 1)
    analyzed: list[tuple[str, str]] = []
    original = importer._analyze

    def analyze(conn: Any, names: Any) -> None:
        analyzed.extend((threading.current_thread().name, n) for n in names)
        original(conn, names)

    monkeypatch.setattr(importer, "_analyze", analyze)
    import_paths(pg, [write_snapshot(tmp_path)], snapshot=True)
    names = [n for _, n in analyzed]
    assert len(names) == len(set(names))
    assert {"enrollments", "users", "user_account_associations"} <= set(names)
    late = [n for thread, n in analyzed if n in importer.REBUILT]
    assert late and all(
        thread == threading.main_thread().name for thread, n in analyzed if n in late
    )
    with pg.connect() as conn:  # statistics taken
        assert conn.execute(
            text("SELECT count(*) FROM pg_stats WHERE tablename = 'enrollments'")
        ).scalar()
