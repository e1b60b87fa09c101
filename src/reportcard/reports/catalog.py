"""The report catalog: what a report declares, and the registry of every report.

A report is data plus queries. It declares its name, title, description and parameters, which
of its parts (output files) a run selects, and for each part the columns (header, SQL
expression, optional Python formatter), the FROM clause, the filters and the key column the
framework shards over and orders by. Everything else (sharding, progress, abort, packaging,
files, messages) belongs to the framework in ``reportcard.runs``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, FromClause

# Formatter marker: the column holds a stored timestamp, written in the root account's zone.
TIME = "time"

Formatter = Callable[[Any], Any]


class Cells(tuple[Any, ...]):
    """A formatter's result written as several cells (or none) in place of its one column.

    Rows may then be of different lengths, as in Canvas's outcome export, whose outcome rows
    end with a variable number of ``points, description`` rating cells.
    """


@dataclass(frozen=True)
class Col:
    """One output column."""

    header: str
    expr: ColumnElement[Any]
    fmt: Formatter | str | None = None  # None: written as the database returns it
    # Nearly every value holds a comma (a sortable name): SQLite's line path writes the quotes
    # around it itself (runs.write.write_lines). The bytes are the same either way.
    commas: bool = False
    # Most values hold a comma and the part's other text columns now and then (a sortable
    # name beside course titles): on SQLite's line path, in a part with no ``commas`` column,
    # SQL wraps every text value holding a comma for the quotes (runs.write.write_lines).
    comma_prone: bool = False


@dataclass(frozen=True)
class PartQuery:
    """The query of one part for one run; the framework adds the key range and the order.

    ``columns`` empty means the file is a single empty line (no header, no rows).
    ``bounds_from``/``bounds_where`` give a cheaper query for the key's min/max/count when
    planning shards (default: the full FROM and WHERE), over ``bounds_key`` when given (a
    column of ``bounds_from`` whose values cover every key of the part's rows: the planner's
    range must hold them all, and its count is an estimate). ``then_by`` orders rows that
    share a key (a join that yields several rows per key row).
    """

    columns: Sequence[Col]
    select_from: FromClause
    where: Sequence[ColumnElement[bool]]
    key: ColumnElement[Any]
    bounds_from: FromClause | None = None
    bounds_where: Sequence[ColumnElement[bool]] | None = None
    bounds_key: ColumnElement[Any] | None = None
    then_by: Sequence[ColumnElement[Any]] = ()
    # Rows written after the header when the whole part has no row ("No outcomes found").
    if_empty: Sequence[Sequence[Any]] = ()
    # The part's shards hold this many times the ``shard_rows`` setting's rows: for a statement
    # whose every shard pays a cost of its own that one range pays once (a hash of a whole
    # table, a join PostgreSQL plans as a probe per row over a short range).
    shard_scale: int = 1
    # SQLite: the page cache (KiB) of a shard's statement once it has started; None: the line
    # and csv paths' (runs.write.LINES_CACHE_KIB). A part whose probes rarely read a page
    # again runs faster in a small one (docs/decisions/performance.md, "the SQLite grade
    # files, their page cache ...").
    sqlite_cache_kib: int | None = None
    # On SQLite's line path, the page cache (KiB) the part's statement starts with, which sizes
    # the memory of any sort it does (None: the connection's 8 MB). See SORT_KIB.
    sort_kib: int | None = None


ONE_RANGE_SCALE = 8
"""The ``shard_scale`` of PostgreSQL parts whose shards cost more than one range does: on
``large``, students with no submissions (each shard hashes the whole window of submissions)
and zero activity (a short range probes an index per candidate where a long one hashes):
2,000,000 rows a shard at the default ``shard_rows`` (docs/decisions/performance.md, "Issue
19: PostgreSQL parts in one range, with parallel query when no shard waits")."""

CLI_CACHE_KIB = 2000
"""SQLite's default page cache (KiB), the sqlite3 CLI's: a part's ``sort_kib`` or
``sqlite_cache_kib`` when the line path's bigger caches cost it CPU."""

SORT_KIB = CLI_CACHE_KIB
"""A ``sort_kib``: SQLite's default page cache, the sqlite3 CLI's. A part that sorts every row
of its shard, each a wide line (zero activity's nine fields), spends less CPU sorting them in
2 MB lists spilled and merged than in the connection's 8 MB ones (zero activity with a start
date on ``large``: up to 0.5 user CPU-s less of about 6); a GROUP BY of many short rows (last
enrollment activity) spends more, its spills merged once more (docs/decisions/performance.md,
"zero activity's sort sized as the sqlite3 CLI's")."""


@dataclass(frozen=True)
class Part:
    """One output file of a report: ``name`` is its key (``users`` -> ``users.csv``)."""

    name: str
    build: Callable[[RunContext], PartQuery]


ParameterKind = Literal["boolean", "term", "date", "id", "choice", "list"]
"""What a parameter takes, which decides its control on the page, the API's form and the CLI's
checks: ``boolean`` (Canvas's lenient true/false; a checkbox), ``term`` (a term id or
``sis_term_id:X``), ``date`` (an ISO 8601 date or date-time), ``id`` (a canvas id or
``sis_<kind>_id:X``), ``choice`` (one of ``choices``), ``list`` (any of ``choices``)."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a report, declared once: what it takes, its label and description."""

    description: str
    required: bool = False
    kind: ParameterKind = "boolean"
    label: str = ""  # a short name for forms; default: the description
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for choice and list

    @property
    def title(self) -> str:
        return self.label or self.description


@dataclass
class RunContext:
    """Everything a report's queries need about one run, resolved once."""

    report_id: int
    report_type: str
    account_id: int
    root_account_id: int
    account_name: str
    time_zone: str
    params: dict[str, Any]
    is_root: bool
    term_ids: list[int] | None = None
    term_name: str | None = None
    course_id: int | None = None
    now: datetime = field(default_factory=datetime.utcnow)
    settings: dict[str, Any] = field(default_factory=dict)  # root account flags
    facts: dict[str, Any] = field(default_factory=dict)  # what the report's ``resolve`` read
    # The database's SQL dialect ("sqlite", "postgresql"), for the few queries that take a
    # form only one of them can plan well (see sis_scope.chosen_login).
    dialect: str = "sqlite"

    def flag(self, name: str) -> bool:
        from reportcard.reports.params import value_to_boolean

        return value_to_boolean(self.params.get(name))


@dataclass(frozen=True)
class Report:
    """The declaration of one report type."""

    name: str
    title: str
    description: str
    parameters: dict[str, Parameter]
    parts: Sequence[Part]
    # Names of the parts a run produces, in output order. Raise ReportInputError on bad input.
    select_parts: Callable[[RunContext], list[str]]
    # The settings summary written into parameters.extra_text and the message.
    extra_text: Callable[[RunContext], str]
    # Always a zip (even with one part), as mgp_grade_export_csv is; otherwise 1 part -> CSV.
    always_zip: bool = False
    # Reads what headers and parts depend on (account flags, the terms of a per-term zip)
    # into ``ctx.facts``; called with a connection whenever a run's context is built.
    resolve: Callable[[Connection, RunContext], None] | None = None
    # The part for a name not in ``parts`` (parts named at run time, one per term).
    dynamic_part: Callable[[str], Part] | None = None

    # Title used in failure messages: Canvas titleizes the type ("Provisioning Csv").
    @property
    def failure_title(self) -> str:
        return " ".join(w.capitalize() for w in self.name.split("_"))

    def part(self, name: str) -> Part:
        for p in self.parts:
            if p.name == name:
                return p
        if self.dynamic_part is not None:
            return self.dynamic_part(name)
        raise KeyError(name)


_REGISTRY: dict[str, Report] = {}


def register(report: Report) -> Report:
    if report.name in _REGISTRY:
        raise ValueError(f"report {report.name} registered twice")
    _REGISTRY[report.name] = report
    return report


_loaded: set[str] = set()
_builtin_loaded = False


def _load() -> None:
    """Import the built-in report families; importing one registers its declarations.

    The import order is the catalog order.
    """
    global _builtin_loaded
    if _builtin_loaded:
        return
    from reportcard.reports import (  # noqa: F401, I001  (imported for their declarations, in catalog order)
        sis_export,
        grades,
        outcomes,
        submissions,
        activity,
        courses,
        integrations,
        eportfolios,
    )

    _builtin_loaded = True


def load_extra_reports(settings: Any) -> None:
    """Import the modules named in ``REPORTCARD_EXTRA_REPORT_MODULES`` (report plug-ins)."""
    import importlib

    for module in filter(None, (m.strip() for m in settings.extra_report_modules.split(","))):
        if module not in _loaded:
            importlib.import_module(module)
            _loaded.add(module)


def all_reports() -> dict[str, Report]:
    """Every registered report, keyed by type (importing the report modules on first use)."""
    _load()
    return dict(_REGISTRY)


def get_report(name: str) -> Report | None:
    _load()
    return _REGISTRY.get(name)
