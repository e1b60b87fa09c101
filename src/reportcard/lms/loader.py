"""Loading LMS data from a directory of CSV or JSON Lines files (``reportcard load PATH``).

One file per table, named after it: ``assignments.csv`` (a header row, then one row per
line) or ``submissions.jsonl`` (one JSON object per line). The loadable tables are the LMS
data of :data:`reportcard.db.schema.metadata`: the core tables listed in
:data:`CORE_TABLES` and every table of ``learning_tables`` and ``activity_tables``. Derived
tables (``account_ancestors``, ``user_account_associations``), runs, files, SIS import
records and access tokens (credentials) are never loaded.

Values
  * CSV cells are text; an empty cell is NULL. JSON values may be typed (numbers, booleans,
    ``null``, arrays and objects for JSON columns) or text.
  * Integers and floats as usual; booleans ``true``/``false``, ``1``/``0``, ``yes``/``no``,
    ``t``/``f`` (any case); timestamps ISO 8601 (``2024-03-01``, ``2024-03-01T10:00:00``,
    with ``Z`` or an offset): without an offset they are UTC, with one they are converted to
    UTC; JSON columns take JSON text in CSV cells.
  * A column left out (or NULL) takes its declared default; ``created_at`` and ``updated_at``
    default to the time of the load. What Canvas generates is generated when left out
    (:data:`GENERATED`): a ``uuid`` for accounts and users, and an enrollment's ``role_id``
    (the built-in role named like its ``type``, created if missing).
  * Time zone columns (:data:`ZONE_COLUMNS`) take IANA or Rails names
    (:mod:`reportcard.timezones`); an unknown zone is an error.
  * Derived columns (:data:`DERIVED`) are not loaded: ``users.first_name`` and
    ``users.last_name`` follow the row's ``sortable_name`` (:mod:`reportcard.names`), on an
    insert and on an upsert that gives it. Generated columns (``scores.current_score_text``
    and the other ``*_score_text``) are not loaded either: the database computes them from the
    row's scores on every write (:mod:`reportcard.db.functions`).

Modes (``mode``, ``reportcard load --mode``)
  * ``insert`` (the default): every row is new; an id already in the database is an error.
  * ``upsert``: a row whose primary key exists changes only the columns the file gives
    (``updated_at`` becomes the load time unless given); the other rows are inserted. So rows
    without SIS ids can be corrected.
  * ``delete``: the rows whose primary key is given are removed (other columns are ignored);
    files are read in reverse load order (children first). A key that does not exist, or a row
    other rows still use (a foreign key or a ``context_type``/``context_id``), is an error.

Validation (every problem is reported as ``file:line: reason``)
  * an unknown file (not a loadable table), or a table given both as CSV and JSON Lines;
  * unknown columns; required columns missing (NOT NULL without a default);
  * values of the wrong type or too long for their column;
  * a duplicate id (in the file or already in the database);
  * unknown foreign ids: every foreign key column, and ``context_type``/``context_id`` pairs
    (``Account``, ``Course``, ``User``), must name a row already in the database or loaded
    before it. Files load parents first (in foreign key order, with tables holding
    ``context_type``/``context_id`` after accounts, courses and users); a row may reference
    rows of its own table that come earlier in the same file (a parent account, a parent
    group).

Loading accounts (or an enrollment whose role is left to its type) also creates whichever of
Canvas's built-in roles are missing (:func:`reportcard.lms.institution.ensure_builtin_roles`),
so a root account made by hand takes SIS enrollments and admins like one made by
``reportcard init``.

All or nothing: every file loads in one transaction, in batches of :data:`BATCH` rows; the
first file with errors stops the load (its errors, up to :data:`MAX_ERRORS`, are all reported)
and nothing is written. After a successful load, :func:`reportcard.lms.tree.refresh` rebuilds
the derived tables of every root account whose accounts, courses, logins, enrollments or
admins were loaded, and PostgreSQL id sequences are moved past the loaded ids.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import DBAPIError

from reportcard.db import activity_tables, learning_tables
from reportcard.db.schema import metadata
from reportcard.lms import tree
from reportcard.lms.institution import (
    BUILTIN_ROLES,
    builtin_role_ids,
    ensure_builtin_roles,
    new_uuid,
)
from reportcard.names import stored_names
from reportcard.timezones import UnknownTimeZone, canonical_zone_name

BATCH = 1000
MAX_ERRORS = 50
FORMATS = (".csv", ".jsonl")

# Core LMS tables that may be loaded (the SIS import writes these too).
CORE_TABLES = (
    "accounts",
    "authentication_providers",
    "enrollment_terms",
    "courses",
    "blueprint_subscriptions",
    "course_sections",
    "users",
    "pseudonyms",
    "communication_channels",
    "roles",
    "enrollments",
    "user_observers",
    "account_users",
    "group_categories",
    "groups",
    "group_memberships",
)
# Table modules whose every table is LMS data.
DATA_MODULES: tuple[ModuleType, ...] = (learning_tables, activity_tables)
# Loading any of these changes the account tree or the user associations.
TREE_INPUTS = frozenset({"accounts", "courses", "enrollments", "pseudonyms", "account_users"})
# context_type values and the table their context_id points at.
CONTEXTS = {"Account": "accounts", "Course": "courses", "User": "users"}
STAMP_COLUMNS = ("created_at", "updated_at")
# What a load does with each row: add it, add or change it (by primary key), or remove it.
MODES = ("insert", "upsert", "delete")
# Columns Canvas fills itself when a row is created: a new uuid; an enrollment's role from
# its type (the built-in role of that name). Required in the table, optional in a file.
GENERATED = frozenset({("accounts", "uuid"), ("users", "uuid"), ("enrollments", "role_id")})
# Columns holding a time zone name (IANA or Rails): checked when they come in.
ZONE_COLUMNS = frozenset({("accounts", "default_time_zone"), ("users", "time_zone")})
# Columns computed from others of the row, never read from a file (see the module docstring).
DERIVED = frozenset({("users", "first_name"), ("users", "last_name")})
# Derived from the loaded tables and rebuilt after a load: cleared of deleted accounts/users.
DERIVED_TABLES = ("account_ancestors", "user_account_associations")

_TRUE = {"true", "1", "yes", "t", "y", "on"}
_FALSE = {"false", "0", "no", "f", "n", "off"}


@dataclass(frozen=True)
class LoadError:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


class LoadFailed(Exception):
    """The load was rolled back; ``errors`` says why."""

    def __init__(self, errors: list[LoadError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class LoadResult:
    counts: dict[str, int] = field(default_factory=dict)  # rows per table, in load order
    roots: list[int] = field(default_factory=list)  # root accounts refreshed
    dry_run: bool = False


def _module_tables(module: ModuleType) -> list[str]:
    return [v.name for v in vars(module).values() if isinstance(v, Table)]


def loadable_tables() -> dict[str, Table]:
    """The tables ``load`` accepts, in load order: every table after those it references.

    The order is the foreign key order, with the references foreign keys cannot declare
    added: a table with ``context_type``/``context_id`` comes after accounts, courses and users.
    """
    names = set(CORE_TABLES)
    for module in DATA_MODULES:
        names.update(_module_tables(module))
    ordered = [t for t in metadata.sorted_tables if t.name in names]
    needs: dict[str, set[str]] = {}
    for t in ordered:
        refs = {fk.column.table.name for fk in t.foreign_keys} - {t.name}
        if "context_type" in t.c and "context_id" in t.c:
            refs |= set(CONTEXTS.values()) - {t.name}
        needs[t.name] = refs & names
    out: dict[str, Table] = {}
    while len(out) < len(ordered):
        ready = [t for t in ordered if t.name not in out and needs[t.name] <= out.keys()]
        if not ready:  # a cycle (none today): keep the foreign key order for the rest
            ready = [t for t in ordered if t.name not in out]
        out[ready[0].name] = ready[0]
    return out


# ---------------------------------------------------------------- values


class BadValue(ValueError):
    pass


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise BadValue("expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise BadValue(f"expected an integer, got {value!r}") from None


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise BadValue("expected a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BadValue(f"expected a number, got {value!r}") from None


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise BadValue(f"expected true or false, got {value!r}")


def _to_datetime(value: Any) -> datetime:
    textual = str(value).strip()
    if textual.endswith(("Z", "z")):
        textual = textual[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(textual)
    except ValueError:
        raise BadValue(f"expected an ISO 8601 time, got {value!r}") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _converter(column: Column[Any], from_csv: bool) -> Callable[[Any], Any]:
    kind = column.type
    if isinstance(kind, Boolean):
        return _to_bool
    if isinstance(kind, Integer):
        return _to_int
    if isinstance(kind, Float):
        return _to_float
    if isinstance(kind, DateTime):
        return _to_datetime
    if isinstance(kind, JSON):
        if not from_csv:
            return lambda v: v

        def parse_json(value: Any) -> Any:
            try:
                return json.loads(value)
            except ValueError:
                raise BadValue(f"expected JSON, got {value!r}") from None

        return parse_json
    if isinstance(kind, String):
        length = kind.length

        def to_text(value: Any) -> str:
            if not isinstance(value, str):
                raise BadValue(f"expected text, got {value!r}")
            if length is not None and len(value) > length:
                raise BadValue(f"longer than {length} characters")
            return value

        return to_text
    return lambda v: v


def _default(column: Column[Any]) -> tuple[bool, Any]:
    """(has a default, its value) for a column left out of a row."""
    if column.default is not None and getattr(column.default, "is_scalar", False):
        return True, column.default.arg  # type: ignore[attr-defined]
    return False, None


def _required(column: Column[Any]) -> bool:
    if column.nullable or column.name in STAMP_COLUMNS or _default(column)[0]:
        return False
    if (column.table.name, column.name) in GENERATED:
        return False
    if column.server_default is not None:
        return False
    # A lone integer primary key is assigned by the database when left out.
    table = column.table
    return not (
        column.primary_key
        and len(table.primary_key.columns) == 1
        and isinstance(column.type, Integer)
    )


# ---------------------------------------------------------------- reading files


Record = tuple[int, dict[str, Any]]  # (line, raw values by column)


def _read_csv(path: Path, errors: list[LoadError]) -> Iterator[Record]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return
        for row in reader:
            if not row or (len(row) == 1 and row[0] == ""):
                continue
            if len(row) != len(header):
                errors.append(
                    LoadError(
                        path.name,
                        reader.line_num,
                        f"expected {len(header)} fields, got {len(row)}",
                    )
                )
                continue
            yield (
                reader.line_num,
                {h: (v if v != "" else None) for h, v in zip(header, row, strict=True)},
            )


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return next(csv.reader(fh), [])


def _read_jsonl(path: Path, errors: list[LoadError]) -> Iterator[Record]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(LoadError(path.name, number, f"invalid JSON: {exc.msg}"))
                continue
            if not isinstance(obj, dict):
                errors.append(LoadError(path.name, number, "expected a JSON object"))
                continue
            yield number, obj


# ---------------------------------------------------------------- loading one file

# What a row's column points at: (table, id), or None when it is NULL.
Reference = Callable[[dict[str, Any]], tuple[Table, Any] | None]


def _foreign(column: str, target: Table) -> Reference:
    def ref(row: dict[str, Any]) -> tuple[Table, Any] | None:
        return None if row.get(column) is None else (target, row[column])

    return ref


Key = tuple[Any, ...]  # a row's primary key values, in the table's key column order


def _chunks(values: list[Any], n: int = 500) -> Iterator[list[Any]]:
    for i in range(0, len(values), n):
        yield values[i : i + n]


@dataclass
class _FileLoad:
    conn: Connection
    table: Table
    path: Path
    now: datetime
    mode: str = "insert"
    errors: list[LoadError] = field(default_factory=list)
    rows: int = 0
    roots: set[int] = field(default_factory=set)
    _roles: dict[str, int] | None = None

    def error(self, line: int, reason: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(LoadError(self.path.name, line, reason))

    @property
    def full(self) -> bool:
        return len(self.errors) >= MAX_ERRORS

    @property
    def key_columns(self) -> list[str]:
        return [c.name for c in self.table.primary_key.columns]

    @property
    def single_id(self) -> bool:
        return self.key_columns == ["id"]

    def key_of(self, row: dict[str, Any]) -> Key | None:
        """The row's primary key, or None when a key column is not given."""
        values = tuple(row.get(name) for name in self.key_columns)
        return None if any(v is None for v in values) else values

    def _show(self, key: Key) -> str:
        if self.single_id:
            return f"id {key[0]}"
        return ", ".join(f"{n} {v}" for n, v in zip(self.key_columns, key, strict=True))

    # ------------------------------------------------------------ the file
    def run(self) -> None:
        from_csv = self.path.suffix == ".csv"
        columns = {
            c.name: c
            for c in self.table.columns
            if (self.table.name, c.name) not in DERIVED and c.computed is None
        }
        convert = {name: _converter(col, from_csv) for name, col in columns.items()}
        required = [name for name, col in columns.items() if _required(col)]
        if from_csv:
            header = _csv_header(self.path)
            unknown = [h for h in header if h not in columns]
            if self.mode == "insert":
                missing = [r for r in required if r not in header]
            elif self.mode == "delete" or not self.single_id:
                missing = [k for k in self.key_columns if k not in header]
            else:
                missing = []
            if unknown:
                self.error(1, f"unknown column(s): {', '.join(unknown)}")
            if missing:
                self.error(1, f"missing required column(s): {', '.join(missing)}")
            if self.errors:
                return
            records = _read_csv(self.path, self.errors)
        else:
            records = _read_jsonl(self.path, self.errors)
        batch: list[tuple[int, dict[str, Any]]] = []
        for line, raw in records:
            row = self._values(line, raw, columns, convert, from_csv)
            if row is not None and self.mode == "insert":
                row = self._complete(line, row, columns, required)
            if row is not None:
                batch.append((line, row))
            if len(batch) >= BATCH:
                self._flush(batch, columns, required)
                batch = []
            if self.full:
                return
        self._flush(batch, columns, required)

    def _values(
        self,
        line: int,
        raw: dict[str, Any],
        columns: dict[str, Column[Any]],
        convert: dict[str, Callable[[Any], Any]],
        from_csv: bool,
    ) -> dict[str, Any] | None:
        """The columns the row gives, converted (None for a NULL or empty value)."""
        if not from_csv:
            unknown = [k for k in raw if k not in columns]
            if unknown:
                self.error(line, f"unknown column(s): {', '.join(unknown)}")
                return None
        if self.mode == "delete":
            raw = {k: raw.get(k) for k in self.key_columns}
        row: dict[str, Any] = {}
        ok = True
        for name, value in raw.items():
            if value is None:
                row[name] = None
                continue
            try:
                row[name] = convert[name](value)
                if (self.table.name, name) in ZONE_COLUMNS:
                    canonical_zone_name(row[name])
                    row[name] = row[name].strip()
            except UnknownTimeZone as exc:
                self.error(line, f"{name}: {exc}")
                ok = False
            except BadValue as exc:
                self.error(line, f"{name}: {exc}")
                ok = False
        if ok and self.mode == "delete" and self.key_of(row) is None:
            missing = [k for k in self.key_columns if row.get(k) is None]
            self.error(line, f"{', '.join(missing)}: a value is required to delete a row")
            ok = False
        return row if ok else None

    def _complete(
        self,
        line: int,
        given: dict[str, Any],
        columns: dict[str, Column[Any]],
        required: list[str],
    ) -> dict[str, Any] | None:
        """A new row: defaults, generated values and stamps for what ``given`` leaves out."""
        row: dict[str, Any] = {}
        ok = True
        for name, column in columns.items():
            value = given.get(name)
            if value is not None:
                row[name] = value
                continue
            if name in STAMP_COLUMNS and not column.nullable:
                row[name] = self.now
                continue
            has_default, default = _default(column)
            if has_default:
                row[name] = default
            elif (self.table.name, name) in GENERATED:
                generated = self._generate(name, given)
                if generated is None:
                    self.error(line, f"{name}: {self._why_not_generated(name)}")
                    ok = False
                row[name] = generated
            elif name in required:
                self.error(line, f"{name}: a value is required")
                ok = False
            elif name in given or not (column.primary_key and name == "id"):
                row[name] = None
        if self.table.name == "users":
            row.update(stored_names(row.get("sortable_name")))
        return row if ok else None

    def _generate(self, name: str, given: dict[str, Any]) -> Any:
        if name == "uuid":
            return new_uuid()
        if name == "role_id":  # enrollments: the built-in role named like the type
            kind = str(given.get("type"))
            if self._roles is None:
                self._roles = builtin_role_ids(self.conn)
            if kind not in self._roles and kind in dict(BUILTIN_ROLES):
                _fix_sequences(self.conn, ["roles"])
                self._roles = ensure_builtin_roles(self.conn)  # Canvas always has them
            return self._roles.get(kind)
        return None  # pragma: no cover - GENERATED lists only the cases above

    def _why_not_generated(self, name: str) -> str:
        if name == "role_id":
            return (
                "a value is required unless type names a built-in role (StudentEnrollment, "
                "TeacherEnrollment, TaEnrollment, DesignerEnrollment, ObserverEnrollment)"
            )
        return "a value is required"  # pragma: no cover

    def _changes(
        self,
        line: int,
        given: dict[str, Any],
        columns: dict[str, Column[Any]],
        required: list[str],
    ) -> dict[str, Any] | None:
        """An update of an existing row: only the columns given (a NULL takes the default;
        a blank generated column, such as a uuid, keeps its value)."""
        row: dict[str, Any] = {}
        ok = True
        for name, value in given.items():
            column = columns[name]
            if value is None and (self.table.name, name) in GENERATED:
                continue  # left blank: the row keeps the value it has
            if value is None and not column.nullable:
                has_default, default = _default(column)
                if has_default:
                    value = default
                elif name == "updated_at":
                    value = self.now
                else:
                    self.error(line, f"{name}: a value is required")
                    ok = False
            row[name] = value
        if "updated_at" in columns and "updated_at" not in row:
            row["updated_at"] = self.now
        if self.table.name == "users" and "sortable_name" in row:
            row.update(stored_names(row["sortable_name"]))
        return row if ok else None

    # ------------------------------------------------------------ a batch
    def _flush(
        self,
        batch: list[tuple[int, dict[str, Any]]],
        columns: dict[str, Column[Any]],
        required: list[str],
    ) -> None:
        if not batch:
            return
        if self.mode == "delete":
            self._delete(batch)
            return
        self._check_ids(batch)
        self._check_references(batch)
        if self.errors:
            return
        inserts: list[tuple[int, dict[str, Any]]] = batch
        updates: list[tuple[int, Key, dict[str, Any]]] = []
        if self.mode == "upsert":
            keys = {k for _, row in batch if (k := self.key_of(row)) is not None}
            existing = self._existing_keys(keys)
            inserts = []
            for line, row in batch:
                key = self.key_of(row)
                if key is not None and key in existing:
                    changes = self._changes(line, row, columns, required)
                    if changes is not None:
                        updates.append((line, key, changes))
                else:
                    made = self._complete(line, row, columns, required)
                    if made is not None:
                        inserts.append((line, made))
            if self.errors:
                return
        before = self._roots_in_db([key for _, key, _ in updates])
        try:
            self._insert([row for _, row in inserts])
            self._update([(key, changes) for _, key, changes in updates])
        except DBAPIError as exc:
            first, last = batch[0][0], batch[-1][0]
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            self.error(first, f"rejected by the database (lines {first}-{last}): {reason}")
            return
        self.rows += len(inserts) + len(updates)
        self._note_roots([row for _, row in inserts])
        self.roots |= before | self._roots_in_db([key for _, key, _ in updates])

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        # executemany needs one set of keys: consecutive rows with the same columns (an id left
        # out is assigned by the database).
        group: list[dict[str, Any]] = []
        for row in rows:
            if group and row.keys() != group[0].keys():
                self.conn.execute(insert(self.table), group)
                group = []
            group.append(row)
        if group:
            self.conn.execute(insert(self.table), group)

    def _update(self, changes: list[tuple[Key, dict[str, Any]]]) -> None:
        keys = self.key_columns
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for key, values in changes:
            names = tuple(n for n in values if n not in keys)
            bound = {f"k_{n}": v for n, v in zip(keys, key, strict=True)}
            bound.update({f"v_{n}": values[n] for n in names})
            groups.setdefault(names, []).append(bound)
        for names, params in groups.items():
            if not names:
                continue
            stmt = (
                update(self.table)
                .where(and_(*(self.table.c[n] == bindparam(f"k_{n}") for n in keys)))
                .values({n: bindparam(f"v_{n}") for n in names})
            )
            self.conn.execute(stmt, params)

    def _existing(self, table: Table, ids: set[int]) -> set[int]:
        pk = table.c.id
        found: set[int] = set()
        for chunk in _chunks(sorted(ids)):
            found.update(self.conn.execute(select(pk).where(pk.in_(chunk))).scalars())
        return found

    def _existing_keys(self, keys: set[Key]) -> set[Key]:
        """Which of ``keys`` are rows of this table already."""
        if not keys:
            return set()
        if self.single_id:
            return {(i,) for i in self._existing(self.table, {k[0] for k in keys})}
        cols = [self.table.c[n] for n in self.key_columns]
        found: set[Key] = set()
        for chunk in _chunks(sorted(keys, key=repr)):
            rows = self.conn.execute(select(*cols).where(tuple_(*cols).in_(chunk)))
            found.update(tuple(r) for r in rows)
        return found

    def _check_ids(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        if self.mode == "insert" and not self.single_id:
            return  # the database's own key check reports these
        seen: dict[Key, int] = {}
        for line, row in batch:
            key = self.key_of(row)
            if key is None:
                continue
            if key in seen:
                self.error(line, f"{self._show(key)} is repeated (line {seen[key]})")
            seen[key] = line
        if self.mode == "insert":
            for key in self._existing_keys(set(seen)):
                self.error(seen[key], f"{self._show(key)} already exists in {self.table.name}")

    def _check_references(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        checks: list[tuple[str, Reference]] = []
        for column in self.table.columns:
            for fk in column.foreign_keys:
                target = fk.column.table
                if isinstance(target, Table) and fk.column.name == "id":
                    checks.append((column.name, _foreign(column.name, target)))
        if "context_type" in self.table.c and "context_id" in self.table.c:
            checks.append(("context_id", self._context_ref))
        if not checks:
            return
        wanted: dict[str, set[int]] = {}
        refs: list[tuple[int, str, Table, Any]] = []
        for line, row in batch:
            for name, ref in checks:
                try:
                    found = ref(row)
                except BadValue as exc:
                    self.error(line, str(exc))
                    continue
                if found is None:
                    continue
                target, value = found
                refs.append((line, name, target, value))
                wanted.setdefault(target.name, set()).add(value)
        known = {name: self._existing(metadata.tables[name], ids) for name, ids in wanted.items()}
        earlier: dict[int, int] = {}  # this table's ids in the batch -> their line
        if "id" in self.table.c:
            for line, row in batch:
                if row.get("id") is not None:
                    earlier.setdefault(row["id"], line)
        for line, name, target, value in refs:
            if value in known[target.name]:
                continue
            if target is self.table and value in earlier and earlier[value] < line:
                continue
            self.error(line, f"{name}: no {target.name} row with id {value}")

    def _context_ref(self, row: dict[str, Any]) -> tuple[Table, Any] | None:
        kind, cid = row.get("context_type"), row.get("context_id")
        if kind is None or cid is None:
            return None
        if kind not in CONTEXTS:
            raise BadValue(f"context_type: expected one of {', '.join(CONTEXTS)}, got {kind!r}")
        return metadata.tables[CONTEXTS[kind]], cid

    def _note_roots(self, rows: list[dict[str, Any]]) -> None:
        name = self.table.name
        if name not in TREE_INPUTS:
            return
        for row in rows:
            if name == "accounts":
                self.roots.add(int(row.get("root_account_id") or row["id"]))
            elif name == "pseudonyms":
                self.roots.add(int(row["account_id"]))
            elif row.get("root_account_id") is not None:
                self.roots.add(int(row["root_account_id"]))

    def _roots_in_db(self, keys: list[Key]) -> set[int]:
        """The root accounts the stored rows ``keys`` belong to (tree inputs only)."""
        name = self.table.name
        if name not in TREE_INPUTS or not keys:
            return set()
        t = self.table.c
        column = t.account_id if name == "pseudonyms" else t.root_account_id
        roots: set[int] = set()
        for chunk in _chunks(sorted({k[0] for k in keys})):
            for rid, root in self.conn.execute(select(t.id, column).where(t.id.in_(chunk))):
                roots.add(int(root if root is not None else rid))
        return roots

    # ------------------------------------------------------------ deletes
    def _delete(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        lines: dict[Key, int] = {}
        for line, row in batch:
            key = self.key_of(row)
            assert key is not None  # checked when the row was read
            if key in lines:
                self.error(line, f"{self._show(key)} is repeated (line {lines[key]})")
            lines.setdefault(key, line)
        existing = self._existing_keys(set(lines))
        for key, line in lines.items():
            if key not in existing:
                self.error(line, f"no {self.table.name} row with {self._show(key)}")
        if self.errors:
            return
        if self.single_id:
            self._check_unreferenced({k[0]: line for k, line in lines.items()})
            if self.errors:
                return
        roots = self._roots_in_db(list(lines))
        ids = sorted(k[0] for k in lines) if self.single_id else []
        for chunk in _chunks(ids):
            self._clear_derived(chunk)
        cols = [self.table.c[n] for n in self.key_columns]
        for chunk in _chunks(sorted(lines, key=repr)):
            if self.single_id:
                where = self.table.c.id.in_([k[0] for k in chunk])
            else:
                where = tuple_(*cols).in_(chunk)
            self.conn.execute(delete(self.table).where(where))
        self.rows += len(lines)
        self.roots |= roots

    def _check_unreferenced(self, ids: dict[int, int]) -> None:
        """Refuse to delete rows other rows still point at (foreign keys and contexts)."""
        kind = {v: k for k, v in CONTEXTS.items()}.get(self.table.name)
        for other in metadata.sorted_tables:
            if other.name in DERIVED_TABLES:
                continue
            for column in other.columns:
                points = any(
                    fk.column.table is self.table and fk.column.name == "id"
                    for fk in column.foreign_keys
                )
                if points:
                    self._referrers(other, column.name, ids, None)
            if kind and "context_type" in other.c and "context_id" in other.c:
                self._referrers(other, "context_id", ids, kind)

    def _referrers(self, other: Table, column: str, ids: dict[int, int], kind: str | None) -> None:
        col = other.c[column]
        for chunk in _chunks(sorted(ids)):
            query = select(col).where(col.in_(chunk)).distinct()
            if kind is not None:
                query = query.where(other.c.context_type == kind)
            if other is self.table:  # rows deleted together may point at each other
                query = query.where(other.c.id.not_in(sorted(ids)))
            for value in self.conn.execute(query).scalars():
                self.error(
                    ids[value],
                    f"id {value} is still used by {other.name}.{column}: delete those rows "
                    "first (in the same load or before), or mark this row deleted "
                    "(--mode upsert with workflow_state)",
                )

    def _clear_derived(self, ids: list[int]) -> None:
        """Remove the derived rows of deleted accounts or users (rebuilt after the load)."""
        from reportcard.db.tables import account_ancestors, user_account_associations

        aa, uaa = account_ancestors.c, user_account_associations.c
        if self.table.name == "accounts":
            self.conn.execute(
                delete(account_ancestors).where(aa.account_id.in_(ids) | aa.ancestor_id.in_(ids))
            )
            self.conn.execute(delete(user_account_associations).where(uaa.account_id.in_(ids)))
        elif self.table.name == "users":
            self.conn.execute(delete(user_account_associations).where(uaa.user_id.in_(ids)))


# ---------------------------------------------------------------- the directory


def plan_files(path: Path) -> tuple[list[tuple[Table, Path]], list[LoadError]]:
    """The files of ``path`` to load, in load order, and the problems with the others."""
    tables = loadable_tables()
    errors: list[LoadError] = []
    found: dict[str, Path] = {}
    if not path.is_dir():
        return [], [LoadError(str(path), 0, "not a directory")]
    for file in sorted(path.iterdir()):
        if not file.is_file() or file.suffix not in FORMATS:
            continue
        name = file.stem
        if name not in tables:
            reason = (
                f"{name} is not loadable (derived, run or credential data)"
                if name in metadata.tables
                else f"no table named {name}"
            )
            errors.append(LoadError(file.name, 0, reason))
        elif name in found:
            errors.append(LoadError(file.name, 0, f"{name} is also given as {found[name].name}"))
        else:
            found[name] = file
    return [(tables[n], found[n]) for n in tables if n in found], errors


def _fix_sequences(conn: Connection, names: list[str]) -> None:
    if conn.dialect.name != "postgresql":
        return
    for name in names:
        table = metadata.tables[name]
        if "id" not in table.c or len(table.primary_key.columns) != 1:
            continue
        if not isinstance(table.c.id.type, Integer) or table.c.id.autoincrement is False:
            continue
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:t, 'id'), m) FROM "
                f"(SELECT MAX(id) AS m FROM {name}) q WHERE m IS NOT NULL"
            ),
            {"t": name},
        )


def load_directory(
    engine: Engine, path: Path, *, dry_run: bool = False, mode: str = "insert"
) -> LoadResult:
    """Load every file of ``path`` in one transaction; raises :class:`LoadFailed`.

    ``mode``: ``insert`` adds rows (an existing id is an error); ``upsert`` changes the rows
    whose primary key exists (only the columns given) and adds the others; ``delete`` removes
    the rows whose primary key is given (files in reverse load order, children first), refusing
    rows other rows still use. With ``dry_run`` everything is validated and written, then
    rolled back.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    files, errors = plan_files(path)
    if errors:
        raise LoadFailed(errors)
    if mode == "delete":
        files.reverse()
    result = LoadResult(dry_run=dry_run)
    now = datetime.now(UTC).replace(tzinfo=None)
    roots: set[int] = set()
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            for table, file in files:
                job = _FileLoad(conn, table, file, now, mode)
                job.run()
                if job.errors:
                    raise LoadFailed(job.errors)
                result.counts[table.name] = job.rows
                roots |= job.roots
            _fix_sequences(conn, list(result.counts))
            if mode != "delete" and "accounts" in result.counts:
                # Accounts made by hand get Canvas's built-in roles, as init's do.
                ensure_builtin_roles(conn)
            for root in sorted(roots):
                tree.refresh(conn, root)
            result.roots = sorted(roots)
            if dry_run:
                trans.rollback()
            else:
                trans.commit()
        except BaseException:
            if trans.is_active:
                trans.rollback()
            raise
    return result
