"""Canvas Data 2 (Instructure DAP) into reportcard's tables (issue #14; spec canvas-data-2.md).

Modules, bottom up:

* :mod:`.errors`: :class:`Cd2Error` (message, file, line, field, table).
* :mod:`.formats`: file readers: JSONL, CSV, TSV (each optionally gzip, sniffed by magic),
  Parquet (needs pyarrow); :func:`read_records` yields :class:`~.formats.Record`.
* :mod:`.mapping`: the declarations, as data: :data:`TABLES` (reference order), one
  :class:`Cd2Table` per CD2 table (fields read, with kinds) and its :class:`Target` tables
  (column -> SQL template, filter, guard). Placeholder rules are in its docstring.
* :mod:`.convert`: checking and typing values in Python (SQLite staging, error diagnosis).
* :mod:`.staging`: the temporary staging table ``cd2_stage_<table>``:
  :func:`create_stage`, :func:`stage_file`, :func:`stage_records`, :func:`stage_copy`.
* :mod:`.apply`: :func:`apply_staged` (set-based upsert/delete, newest ``meta.ts`` wins,
  ``snapshot=True`` removes rows the snapshot no longer holds) -> :class:`TableSummary`.
* :mod:`.derived`: account tree, user associations, default term, test students, rows from
  JSON documents (grading scheme entries, outcome ratings).
* :mod:`.state`: ``cd2_table_state`` (last applied ``meta.ts`` per table) for ``cd2 status``.
* :mod:`.importer`: :func:`import_paths`: plan files per table, one transaction per table.

Using the staging/apply layer from another source (``cd2 sync``)::

    with engine.connect() as conn, conn.begin():
        t = mapping.table("users")
        create_stage(conn, t)
        stage_copy(conn, t, ["key", "ts", "action", "value.name", ...], chunks)  # PostgreSQL
        summary = apply_staged(conn, t, root_id=root, snapshot=False)
        state.record(conn, summary, root_id=root, snapshot=False, source="sync ...")
    # then, once for all tables: derived.rebuild(conn, root, {"tree", "associations", ...})

Staging columns are text in CD2's spelling: ``key``, ``ts`` (ISO 8601 UTC), ``action``
(``U``/``D``, NULL = ``U``), ``"value.<field>"`` (booleans ``true``/``false``, arrays and
objects as JSON text; a nested member either as ``"value.settings.course_format"`` or inside a
condensed ``"value.settings"`` JSON column).
"""

from __future__ import annotations

from reportcard.lms.cd2.apply import TableSummary, apply_staged
from reportcard.lms.cd2.errors import Cd2Error
from reportcard.lms.cd2.importer import ImportResult, import_paths
from reportcard.lms.cd2.mapping import TABLES, Cd2Table, Target, table
from reportcard.lms.cd2.staging import (
    create_stage,
    drop_stage,
    stage_copy,
    stage_file,
    stage_name,
    stage_records,
)

__all__ = [
    "TABLES",
    "Cd2Error",
    "Cd2Table",
    "ImportResult",
    "TableSummary",
    "Target",
    "apply_staged",
    "create_stage",
    "drop_stage",
    "import_paths",
    "stage_copy",
    "stage_file",
    "stage_name",
    "stage_records",
    "table",
]
