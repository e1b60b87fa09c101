"""What every importer shares: the batch being written, the messages, counts and lookups.

Lookups of small tables (accounts, terms, courses, sections, groups, categories, roles) are
loaded once per import and kept current as rows are written; logins and the rows keyed by
user (enrollments, memberships, admins, observer links) are read per batch of CSV rows, so
memory stays flat in the number of rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from reportcard.db.sis_import_tables import sis_import_messages
from reportcard.db.tables import (
    accounts,
    course_sections,
    courses,
    enrollment_terms,
    group_categories,
    groups,
    pseudonyms,
    roles,
)
from reportcard.lms.sis_import.bulk import Bulk
from reportcard.lms.sis_import.formats import FileType
from reportcard.lms.sis_import.values import DELETE, BadValue, parse_time

Rec = dict[str, Any]

ENROLLMENT_TYPES = {
    "student": "StudentEnrollment",
    "teacher": "TeacherEnrollment",
    "ta": "TaEnrollment",
    "designer": "DesignerEnrollment",
    "observer": "ObserverEnrollment",
}
COURSE_BASE_TYPES = frozenset(ENROLLMENT_TYPES.values())
CHUNK_IN = 900  # keys per IN (...) list
LOGIN_COLUMNS = (
    "id",
    "user_id",
    "unique_id",
    "sis_user_id",
    "integration_id",
    "authentication_provider_id",
    "workflow_state",
    "password_hash",
    "position",
    "sis_batch_id",
)


class Stop(Exception):
    """The import was aborted (or deleted) while a batch was being applied."""


@dataclass
class Message:
    failure: bool
    file: str | None
    line: int | None
    message: str


def _chunks(keys: Sequence[Any], n: int = CHUNK_IN) -> Iterable[Sequence[Any]]:
    for i in range(0, len(keys), n):
        yield keys[i : i + n]


class ImportContext:
    """State of one running import. ``conn``/``bulk`` change with every batch."""

    def __init__(
        self,
        *,
        import_id: int,
        root: Any,
        user_id: int | None,
        now: datetime,
        skip_deletes: bool = False,
    ) -> None:
        self.import_id = import_id
        self.batch_id = import_id
        self.root_id = int(root.id)
        self.root_sis = root.sis_source_id
        self.root_zone = root.default_time_zone or "UTC"
        self.pronouns = bool(root.can_add_pronouns)
        self.user_id = user_id
        self.now = now
        self.skip_deletes = skip_deletes
        self.counts: Counter[str] = Counter()
        self.committed: Counter[str] = Counter()
        self.stats: Counter[tuple[str, str]] = Counter()
        self.messages: list[Message] = []
        self.error_count = 0
        self.warning_count = 0
        self.seen: dict[str, set[int]] = {}
        self.fresh: set[tuple[str, int]] = set()
        self.cache: dict[str, Any] = {}
        self.deferred: dict[str, list[Any]] = {}
        self._conn: Connection | None = None
        self._bulk: Bulk | None = None

    # ------------------------------------------------------------------ batches
    @property
    def conn(self) -> Connection:
        assert self._conn is not None, "no batch is open"
        return self._conn

    @property
    def bulk(self) -> Bulk:
        assert self._bulk is not None, "no batch is open"
        return self._bulk

    def begin(self, conn: Connection) -> None:
        self._conn = conn
        self._bulk = Bulk(conn)
        self.now_db = self._bulk.time(self.now)

    def flush(self) -> None:
        """Write the batch's buffered rows and messages (still inside its transaction)."""
        bulk = self.bulk
        if self.messages:
            self.messages.sort(key=lambda m: (m.file or "", m.line or 0))
            for m in self.messages:
                bulk.insert(
                    "sis_import_messages",
                    {
                        "id": bulk.new_id(sis_import_messages.name),
                        "sis_import_id": self.import_id,
                        "failure": m.failure,
                        "file": m.file,
                        "line": m.line,
                        "message": m.message,
                    },
                )
            self.messages = []
        bulk.flush()
        self.fresh.clear()

    def end(self) -> None:
        self._conn = None
        self._bulk = None

    def commit(self) -> None:
        """The batch's transaction committed: its counts are now final."""
        self.committed = Counter(self.counts)
        self.end()

    def rollback(self) -> None:
        """The batch's transaction rolled back: forget its counts, messages and cached rows."""
        self.counts = Counter(self.committed)
        self.messages = []
        self.cache.clear()
        self.end()

    # ------------------------------------------------------------------ messages
    def warn(self, file: str | None, line: int | None, message: str) -> None:
        """A row that was skipped (or a part of the input that was ignored)."""
        self.warning_count += 1
        self.messages.append(Message(False, file, line, message))

    def error(self, file: str | None, line: int | None, message: str) -> None:
        self.error_count += 1
        self.messages.append(Message(True, file, line, message))

    def status(
        self, kind: FileType, file: str, line: int, raw: str | None, what: str
    ) -> str | None:
        """The row's status in lower case, or None after warning that it is missing/improper."""
        if raw is None:
            self.warn(file, line, f"No status given for {what}")
            return None
        value = raw.lower()
        assert kind.statuses is not None
        if value not in kind.statuses:
            self.warn(file, line, f'Improper status "{raw}" for {what}')
            return None
        return value

    def keyed_status(
        self,
        kind: FileType,
        file: str,
        line: int,
        sis: str | None,
        raw: str | None,
        column: str,
        skip_deleted: bool = True,
    ) -> str | None:
        """The status of a row whose SIS id ``sis`` is in ``column`` (``course_id`` names a
        course), or None when the row is skipped, after a warning where one is due: no id, a
        missing or improper status (:meth:`status`), an id this import already had in that
        column (:meth:`duplicate`), or, with ``skip_deleted``, a deletion under
        ``skip_deletes``."""
        noun = column.removesuffix("_id").replace("_", " ")
        if sis is None:
            article = "an" if noun[0] in "aeiou" else "a"
            self.warn(file, line, f"No {column} given for {article} {noun}")
            return None
        status = self.status(kind, file, line, raw, f"{noun} {sis}")
        if status is None or self.duplicate(column, sis, file, line, f"{column} {sis}"):
            return None
        if skip_deleted and self.skip_deletes and status == "deleted":
            return None
        return status

    def duplicate(self, kind: str, key: str, file: str, line: int, what: str) -> bool:
        """True (after a warning) when ``key`` was already seen for ``kind`` in this import."""
        seen = self.seen.setdefault(kind, set())
        digest = hash(key)  # an int is smaller than the text; a collision is vanishingly rare
        if digest in seen:
            self.warn(file, line, f"Duplicate {what} in this import; only the first row was used")
            return True
        seen.add(digest)
        return False

    def time_value(
        self, raw: str | None, file: str, line: int, column: str, what: str
    ) -> tuple[bool, Any]:
        """(ok, stored form) of a date column; warns and returns (False, None) when bad."""
        if raw is None or raw == DELETE:
            return True, None
        try:
            return True, self.bulk.time(parse_time(raw))
        except BadValue:
            self.warn(file, line, f'Bad date "{raw}" in {column} for {what}')
            return False, None

    # ------------------------------------------------------------------ writing
    def save(
        self,
        table: str,
        rec: Rec | None,
        values: Rec,
        *,
        extra: Rec | None = None,
        mark: bool = True,
        stamps: bool = True,
    ) -> Rec:
        """Insert ``values`` (+ ``extra``) as a new row, or update ``rec`` where they differ.

        A row this import creates or changes gets its batch marker (``sis_batch_id``), as does
        a matching row that had none; a SIS-created row that already matches is left exactly
        as it is, so re-importing the same files changes nothing.
        """
        if rec is None:
            rec = {"id": self.bulk.new_id(table), **(extra or {}), **values}
            if mark:
                rec["sis_batch_id"] = self.batch_id
            if stamps:
                rec["created_at"] = self.now_db
                rec["updated_at"] = self.now_db
            self.bulk.insert(table, rec)
            self.fresh.add((table, rec["id"]))
            self.stats[(table, "created")] += 1
            return rec
        changed = {k: v for k, v in values.items() if rec.get(k) != v}
        if mark and (changed or rec.get("sis_batch_id") is None):
            changed["sis_batch_id"] = self.batch_id
        if not changed:
            return rec
        rec.update(changed)
        if (table, rec["id"]) in self.fresh:
            return rec  # still buffered: the insert writes the new values
        if stamps:
            changed["updated_at"] = self.now_db
            rec["updated_at"] = self.now_db
        self.bulk.update(table, rec["id"], changed)
        self.stats[(table, "updated")] += 1
        return rec

    # ------------------------------------------------------------------ lookups
    def load(self, table: Table, *cols: str, where: Any = None) -> list[Rec]:
        """Rows of ``table`` for this root as dicts of ``cols`` (timestamps in stored form)."""
        columns = [table.c[c] for c in ("id", *cols)]
        query = select(*columns)
        query = query.where(table.c.root_account_id == self.root_id if where is None else where)
        out = []
        for row in self.conn.execute(query.order_by(table.c.id)):
            rec = dict(row._mapping)
            for k, v in rec.items():
                if isinstance(v, datetime):
                    rec[k] = self.bulk.time(v)
            out.append(rec)
        return out

    def by_sis(self, name: str, table: Table, *cols: str, key: str = "sis_source_id") -> dict:
        """A cached ``sis id -> row`` map of one small table of this root."""
        found = self.cache.get(name)
        if found is None:
            found = {}
            by_id = {}
            for rec in self.load(table, key, "sis_batch_id", *cols):
                by_id[rec["id"]] = rec
                if rec[key] is not None:
                    found.setdefault(rec[key], rec)
            self.cache[name] = found
            self.cache[name + "#id"] = by_id
        return found

    def by_id(self, name: str) -> dict[int, Rec]:
        return self.cache[name + "#id"]

    def remember(self, name: str, key: str | None, rec: Rec) -> None:
        if key is not None:
            self.cache[name][key] = rec
        self.cache[name + "#id"][rec["id"]] = rec

    def accounts(self) -> dict[str, Rec]:
        return self.by_sis(
            "accounts",
            accounts,
            "name",
            "parent_account_id",
            "workflow_state",
            "integration_id",
        )

    def account_ids(self) -> dict[int, Rec]:
        self.accounts()
        return self.by_id("accounts")

    def account_of(self, sis: str | None) -> int | None:
        """The account a SIS id names (blank: the root); None when there is no such account."""
        if sis is None or (self.root_sis is not None and sis == self.root_sis):
            return self.root_id
        rec = self.accounts().get(sis)
        return None if rec is None else int(rec["id"])

    def terms(self) -> dict[str, Rec]:
        return self.by_sis(
            "terms",
            enrollment_terms,
            "name",
            "workflow_state",
            "start_at",
            "end_at",
            "integration_id",
            "is_default",
        )

    def default_term(self) -> int:
        found = self.cache.get("default_term")
        if found is None:
            self.terms()
            for rec in self.by_id("terms").values():
                if rec["is_default"]:
                    found = int(rec["id"])
                    break
            if found is None:
                rec = self.save(
                    "enrollment_terms",
                    None,
                    {
                        "root_account_id": self.root_id,
                        "name": "Default Term",
                        "workflow_state": "active",
                        "start_at": None,
                        "end_at": None,
                        "is_default": True,
                        "sis_source_id": None,
                        "integration_id": None,
                    },
                    mark=False,
                )
                self.by_id("terms")[rec["id"]] = rec
                found = int(rec["id"])
            self.cache["default_term"] = found
        return int(found)

    def courses(self) -> dict[str, Rec]:
        return self.by_sis(
            "courses",
            courses,
            "account_id",
            "enrollment_term_id",
            "name",
            "course_code",
            "workflow_state",
            "course_format",
            "start_at",
            "conclude_at",
            "restrict_enrollments_to_course_dates",
            "integration_id",
        )

    def course_ids(self) -> dict[int, Rec]:
        self.courses()
        return self.by_id("courses")

    def sections(self) -> dict[str, Rec]:
        return self.by_sis(
            "sections",
            course_sections,
            "course_id",
            "nonxlist_course_id",
            "name",
            "workflow_state",
            "start_at",
            "end_at",
            "restrict_enrollments_to_section_dates",
            "integration_id",
            "default_section",
        )

    def section_ids(self) -> dict[int, Rec]:
        self.sections()
        return self.by_id("sections")

    def default_section(self, course: Rec) -> int:
        """The course's default section (created, without a SIS id, when it has none)."""
        defaults: dict[int, int] | None = self.cache.get("default_sections")
        if defaults is None:
            defaults = {}
            for rec in self.section_ids().values():
                if rec["default_section"] and rec["workflow_state"] != "deleted":
                    defaults.setdefault(int(rec["course_id"]), int(rec["id"]))
            self.cache["default_sections"] = defaults
        found = defaults.get(int(course["id"]))
        if found is None:
            rec = self.save(
                "course_sections",
                None,
                {
                    "root_account_id": self.root_id,
                    "course_id": course["id"],
                    "nonxlist_course_id": None,
                    "name": course["name"],
                    "workflow_state": "active",
                    "start_at": None,
                    "end_at": None,
                    "restrict_enrollments_to_section_dates": False,
                    "default_section": True,
                    "sis_source_id": None,
                    "integration_id": None,
                },
                mark=False,
            )
            self.section_ids()[rec["id"]] = rec
            found = defaults[int(course["id"])] = int(rec["id"])
        return found

    def categories(self) -> dict[str, Rec]:
        return self.by_sis(
            "categories",
            group_categories,
            "context_type",
            "context_id",
            "name",
            "deleted_at",
        )

    def groups(self) -> dict[str, Rec]:
        return self.by_sis(
            "groups",
            groups,
            "group_category_id",
            "context_type",
            "context_id",
            "account_id",
            "name",
            "workflow_state",
        )

    def roles(self) -> list[Rec]:
        found = self.cache.get("roles")
        if found is None:
            r = roles.c
            query = select(
                r.id, r.name, r.base_role_type, r.built_in, r.root_account_id, r.workflow_state
            ).where((r.root_account_id == self.root_id) | r.root_account_id.is_(None))
            found = [dict(row._mapping) for row in self.conn.execute(query.order_by(r.id))]
            self.cache["roles"] = found
        return found

    def role(self, name: str | None, role_id: str | None, account_role: bool) -> Rec | None:
        """The role a row names by ``role`` and/or ``role_id`` (None when it names none).

        ``role_id`` is used when it is a role of this root account (or built in) and agrees
        with ``role`` if that is given too; otherwise ``role`` decides, by name: the built-in
        types (``student``, ``teacher``, ``ta``, ``designer``, ``observer``, or
        ``AccountAdmin``) or a custom role's exact name.
        """
        candidates = [
            rec
            for rec in self.roles()
            if rec["workflow_state"] == "active"
            and ((rec["base_role_type"] == "AccountMembership") == account_role)
        ]

        def named(rec: Rec) -> bool:
            if name is None:
                return True
            if rec["built_in"]:
                if account_role:
                    return bool(rec["name"] == name)
                return bool(ENROLLMENT_TYPES.get(name.lower()) == rec["base_role_type"])
            return bool(rec["name"] == name)

        if role_id is not None and role_id.isdigit():
            for rec in candidates:
                if rec["id"] == int(role_id) and named(rec):
                    return rec
            if name is None:
                return None
        if name is None:
            return None
        built = [rec for rec in candidates if rec["built_in"] and named(rec)]
        custom = [rec for rec in candidates if not rec["built_in"] and named(rec)]
        if name.lower() in ENROLLMENT_TYPES and not account_role and built:
            return built[0]
        if custom:
            return custom[0]
        return built[0] if built else None

    def logins(self, sis_ids: Iterable[str]) -> dict[str, Rec]:
        """Logins of this root by SIS user id (any state), read from the database."""
        return self._logins(pseudonyms.c.sis_user_id, sis_ids)

    def logins_by_integration(self, ids: Iterable[str]) -> dict[str, Rec]:
        return self._logins(pseudonyms.c.integration_id, ids)

    def logins_by_unique_id(self, ids: Iterable[str]) -> dict[str, Rec]:
        return self._logins(pseudonyms.c.unique_id, ids)

    def _logins(self, column: Any, keys: Iterable[str]) -> dict[str, Rec]:
        out: dict[str, Rec] = {}
        for rec in self.rows_in(
            "pseudonyms", LOGIN_COLUMNS, column.name, keys, "account_id = ?", [self.root_id]
        ):
            out.setdefault(rec[column.name], rec)
        return out

    def rows_in(
        self,
        table: str,
        cols: Sequence[str],
        key: str,
        keys: Iterable[Any],
        where: str = "",
        params: Sequence[Any] = (),
    ) -> Iterator[Rec]:
        """Rows of ``table`` (as dicts of ``cols``, in id order per chunk) whose ``key`` is in
        ``keys``, and that match ``where`` (``?`` placeholders, ``params``). Plain SQL on the
        DBAPI cursor: these lookups run for every batch."""
        wanted = sorted(set(keys))
        mark = self.bulk.mark
        select_list = ", ".join(cols)
        extra = f" AND {where.replace('?', mark)}" if where else ""
        for part in _chunks(wanted, 2000):
            marks = ", ".join([mark] * len(part))
            sql = f"SELECT {select_list} FROM {table} WHERE {key} IN ({marks}){extra} ORDER BY id"
            for row in self.conn.exec_driver_sql(sql, (*part, *params)):
                yield dict(zip(cols, row, strict=True))
