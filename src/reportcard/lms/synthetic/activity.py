"""Activity, course content, tokens, developer keys, LTI tools and ePortfolios for a seeded root.

:func:`fill_activity` runs after the institution's own tables are written (same connection,
same transaction). It reads back what it needs (courses, accounts, users with a login) and:

* sets ``enrollments.last_activity_at`` and ``pseudonyms.last_request_at`` /
  ``current_login_ip`` with a few set-based UPDATEs (no per-row round trips: ``large`` has
  2,000,000 enrollments), the values derived from the row ids so a seed always gives the same
  data;
* streams course files, discussion topics, modules and wiki pages per course, and developer
  keys, their bindings, access tokens, external tools and ePortfolios, through the bulk loader.

Rough shape: about one course in eight is unused (one in three of the unpublished ones);
about 85% of enrollments that can have activity have some, the others are "zero activity";
most logins have a last request in the 90 days before the anchor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    case,
    cast,
    func,
    literal,
    select,
    text,
    update,
)

from reportcard.db.activity_tables import (
    context_external_tools,
    context_modules,
    course_files,
    developer_key_account_bindings,
    developer_keys,
    discussion_topics,
    eportfolios,
    wiki_pages,
)
from reportcard.db.tables import access_tokens, accounts, courses, enrollments, pseudonyms

from .build import Row, TableRows
from .clock import ANCHOR, ts
from .load import BulkLoader
from .sizes import Size

Progress = Callable[[str, int, int], None]

# The tables this module writes, in load order.
ACTIVITY_TABLES: tuple[str, ...] = tuple(
    t.name
    for t in (
        course_files,
        discussion_topics,
        context_modules,
        wiki_pages,
        developer_keys,
        developer_key_account_bindings,
        access_tokens,
        context_external_tools,
        eportfolios,
    )
)

DAY = 86_400
ANCHOR_TEXT = ts(ANCHOR)

# Multiplicative hashing of ids into [0, m): large odd multipliers keep neighbours apart (one
# per use, so values drawn for the same row do not move together), and the products stay far
# below 2**63 for any id this generator writes.
_MIX = (2_654_435_761, 2_246_822_519, 3_266_489_917, 668_265_263, 374_761_393, 1_181_783_497)


def _hash(col: ColumnElement[Any], salt: int, modulo: int, mix: int = 0) -> ColumnElement[Any]:
    return (col * _MIX[mix] + salt) % modulo


def _seconds_before_anchor(conn: Connection, seconds: ColumnElement[Any]) -> ColumnElement[Any]:
    """The anchor minus ``seconds`` (an integer SQL expression), as a stored timestamp."""
    if conn.dialect.name == "sqlite":
        modifier = literal("-") + cast(seconds, String) + literal(" seconds")
        return func.strftime("%Y-%m-%d %H:%M:%S.000000", ANCHOR_TEXT, modifier)
    return literal(ANCHOR) - func.make_interval(0, 0, 0, 0, 0, 0, seconds)


# ---------------------------------------------------------------- activity columns


def _enrollment_activity(conn: Connection, root_id: int, salt: int) -> int:
    """Last activity on enrollments that can have some (accepted, in a published course).

    One UPDATE .. FROM courses. About 15% of them stay NULL; live courses' activity falls in
    the 120 days before the anchor, concluded courses' 180 to 540 days before it. Returns the
    rows updated.
    """
    e, c = enrollments.c, courses.c
    seconds = case(
        (c.workflow_state == "available", _hash(e.id, salt, 120 * DAY, mix=1)),
        else_=180 * DAY + _hash(e.id, salt, 360 * DAY, mix=1),
    )
    res = conn.execute(
        update(enrollments)
        .where(
            e.course_id == c.id,
            c.root_account_id == root_id,
            c.workflow_state.in_(["available", "completed"]),
            e.root_account_id == root_id,
            e.workflow_state.in_(["active", "completed", "inactive", "deleted"]),
            _hash(e.id, salt, 100) >= 15,
        )
        .values(last_activity_at=_seconds_before_anchor(conn, seconds))
    )
    return int(res.rowcount or 0)


def _login_activity(conn: Connection, root_id: int, salt: int) -> int:
    """Last request time and IP of about 90% of the root's logins (the last 90 days)."""
    p = pseudonyms.c
    seconds = _hash(p.id, salt, 90 * DAY, mix=2)

    def octet(mix: int) -> ColumnElement[Any]:
        return cast(_hash(p.id, salt, 254, mix=mix) + 1, String)

    ip = literal("10.") + octet(3) + literal(".") + octet(4) + literal(".") + octet(5)
    res = conn.execute(
        update(pseudonyms)
        .where(p.account_id == root_id, _hash(p.id, salt, 100) >= 10)
        .values(last_request_at=_seconds_before_anchor(conn, seconds), current_login_ip=ip)
    )
    return int(res.rowcount or 0)


# ---------------------------------------------------------------- what the rows are made from


@dataclass
class _Source:
    """What the generators need to know about the root account, read back once."""

    root_id: int
    account_ids: list[int]  # root first
    course_rows: list[tuple[int, int, str, str]]  # (id, account_id, workflow_state, created)
    user_ids: list[int]  # users with a login on the root, by id
    next_id: dict[str, int]


def _read_source(conn: Connection, root_id: int) -> _Source:
    acct = accounts.c
    account_ids = [root_id] + [
        int(i)
        for i in conn.execute(
            select(acct.id).where(acct.root_account_id == root_id).order_by(acct.id)
        ).scalars()
    ]
    c = courses.c
    course_rows = [
        (int(r.id), int(r.account_id), str(r.workflow_state), _text(r.created_at))
        for r in conn.execute(
            select(c.id, c.account_id, c.workflow_state, c.created_at)
            .where(c.root_account_id == root_id)
            .order_by(c.id)
        )
    ]
    user_ids = [
        int(u)
        for u in conn.execute(
            select(pseudonyms.c.user_id)
            .where(pseudonyms.c.account_id == root_id)
            .distinct()
            .order_by(pseudonyms.c.user_id)
        ).scalars()
    ]
    next_id = {
        t: int(conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {t}")).scalar_one()) + 1
        for t in ACTIVITY_TABLES
    }
    return _Source(root_id, account_ids, course_rows, user_ids, next_id)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ts(value)


def _later(created: str, rng: Random, days: int) -> str:
    """A time after ``created`` by up to ``days`` days, never after the anchor."""
    start = _parse(created)
    span = max(1, int((ANCHOR - start).total_seconds()))
    return ts(start + timedelta(seconds=rng.randrange(min(span, days * DAY))))


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


# ---------------------------------------------------------------- course content

FILE_TYPES = (
    ("pdf", "application/pdf", 40_000, 8_000_000),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 8_000,
     900_000),
    ("png", "image/png", 2_000, 3_000_000),
    ("mp4", "video/mp4", 4_000_000, 400_000_000),
    ("txt", "text/plain", 10, 20_000),
)  # fmt: skip
FILE_WORDS = ("syllabus", "lecture", "notes", "reading", "lab", "slides", "handout", "rubric")
TOPIC_WORDS = ("Introductions", "Week", "Questions", "Project", "Exam review", "Office hours")
PAGE_WORDS = ("Welcome", "Course policies", "Resources", "Schedule", "FAQ", "Contacts")


def unused_course(course_id: int, workflow_state: str, seed: int) -> bool:
    """Whether the generators leave this course without content (``unused_courses_csv``).

    A pure function of its arguments, so that every generator writing course content (files,
    topics, modules, pages here; assignments and quizzes in :mod:`.learning`) can agree: about
    one course in three of the unpublished ones, one in eight of the others.
    """
    share = 330 if workflow_state in ("created", "claimed") else 125
    return (course_id * _MIX[4] + seed * 7_919) % 1000 < share


@dataclass
class _Content:
    files: list[Row]
    topics: list[Row]
    modules: list[Row]
    pages: list[Row]


def _course_content(src: _Source, seed: int) -> Iterator[_Content]:
    """Per course: its files, topics, modules and pages (ids handed out in course order)."""
    rng = Random(f"activity-content-{seed}")
    ids = dict(src.next_id)

    def take(table: str) -> int:
        ids[table] += 1
        return ids[table] - 1

    for course_id, _account, state, created in src.course_rows:
        out = _Content([], [], [], [])
        if unused_course(course_id, state, seed):
            # An unused course, sometimes with a deleted topic (deleted content does not count).
            if rng.random() < 0.3:
                topic = _topic(take("discussion_topics"), course_id, created, rng)
                out.topics.append((*topic[:4], "deleted", *topic[5:]))
            yield out
            continue
        originals: list[int] = []
        for n in range(int(rng.expovariate(1 / 12))):
            ext, mime, low, high = FILE_TYPES[rng.randrange(len(FILE_TYPES))]
            file_id = take("course_files")
            roll = rng.random()
            copy_of = originals[rng.randrange(len(originals))] if originals and roll < 0.1 else None
            size = None if roll > 0.98 else int(low * (high / low) ** rng.random())
            file_state = (
                "deleted" if 0.9 < roll <= 0.95 else "hidden" if roll > 0.95 else "available"
            )
            when = _later(created, rng, 200)
            word = FILE_WORDS[rng.randrange(len(FILE_WORDS))]
            out.files.append(
                (file_id, course_id, f"{word}-{n + 1}.{ext}", mime, size, file_state, copy_of,
                 when, when)
            )  # fmt: skip
            if copy_of is None:
                originals.append(file_id)
        for _ in range(int(rng.expovariate(1 / 4))):
            out.topics.append(_topic(take("discussion_topics"), course_id, created, rng))
        for position in range(1, int(rng.expovariate(1 / 4)) + 1):
            when = _later(created, rng, 120)
            module_state = "deleted" if rng.random() < 0.05 else "active"
            out.modules.append(
                (take("context_modules"), course_id, f"Module {position}", position,
                 module_state, when, when)
            )  # fmt: skip
        for _ in range(int(rng.expovariate(1 / 5))):
            when = _later(created, rng, 150)
            roll = rng.random()
            page_state = "deleted" if roll < 0.05 else "unpublished" if roll < 0.15 else "active"
            title = f"{PAGE_WORDS[rng.randrange(len(PAGE_WORDS))]} {rng.randrange(1, 40)}"
            out.pages.append((take("wiki_pages"), course_id, title, page_state, when, when))
        yield out


def _topic(topic_id: int, course_id: int, created: str, rng: Random) -> Row:
    when = _later(created, rng, 150)
    kind = "Announcement" if rng.random() < 0.3 else "DiscussionTopic"
    roll = rng.random()
    state = "deleted" if roll < 0.05 else "unpublished" if roll < 0.15 else "active"
    title = f"{TOPIC_WORDS[rng.randrange(len(TOPIC_WORDS))]} {rng.randrange(1, 15)}"
    return (topic_id, course_id, title, kind, state, when, when)


FILE_COLUMNS = (
    "id",
    "course_id",
    "display_name",
    "content_type",
    "size",
    "file_state",
    "root_attachment_id",
    "created_at",
    "updated_at",
)
TOPIC_COLUMNS = ("id", "course_id", "title", "type", "workflow_state", "created_at", "updated_at")
MODULE_COLUMNS = (
    "id",
    "course_id",
    "name",
    "position",
    "workflow_state",
    "created_at",
    "updated_at",
)
PAGE_COLUMNS = ("id", "course_id", "title", "workflow_state", "created_at", "updated_at")


def _write_content(
    loader: BulkLoader, src: _Source, seed: int, progress: Progress | None
) -> dict[str, int]:
    """Four tables from one pass over the courses: each is written in chunks as it fills."""
    pending: dict[str, list[Row]] = {
        "course_files": [],
        "discussion_topics": [],
        "context_modules": [],
        "wiki_pages": [],
    }
    columns = {
        "course_files": FILE_COLUMNS,
        "discussion_topics": TOPIC_COLUMNS,
        "context_modules": MODULE_COLUMNS,
        "wiki_pages": PAGE_COLUMNS,
    }
    counts = dict.fromkeys(pending, 0)

    def flush(table: str) -> None:
        rows = pending[table]
        if rows:
            counts[table] += loader.write(TableRows(table, columns[table], rows, len(rows)))
            pending[table] = []

    for content in _course_content(src, seed):
        pending["course_files"] += content.files
        pending["discussion_topics"] += content.topics
        pending["context_modules"] += content.modules
        pending["wiki_pages"] += content.pages
        for table, rows in pending.items():
            if len(rows) >= loader.chunk:
                flush(table)
    for table in list(pending):
        flush(table)
        if progress:
            progress(table, counts[table], counts[table])
    return counts


# ---------------------------------------------------------------- keys, tokens, tools, ePortfolios

KEY_NAMES = (
    ("Data Warehouse Sync", False),
    ("Attendance Tracker", False),
    ("Proctoring Service", True),
    ("Library Reserves", True),
    ("Mobile Companion", False),
    ("Video Platform", True),
    ("Plagiarism Checker", True),
    ("Analytics Export", False),
)
SITE_ADMIN_KEYS = (
    ("Canvas Studio", True, True),
    ("Global Commons", True, True),
    ("Retired Partner", False, False),
)
SCOPES = (
    "url:GET|/api/v1/accounts/:account_id/reports",
    "url:POST|/api/v1/accounts/:account_id/reports/:report",
    "url:GET|/api/v1/courses",
    "url:GET|/api/v1/courses/:course_id/enrollments",
    "url:GET|/api/v1/users/:user_id/profile",
)
PLACEMENTS = (
    "course_navigation",
    "account_navigation",
    "link_selection",
    "assignment_selection",
    "editor_button",
    "homework_submission",
)
TOOLS = (
    ("Vimeo", "vimeo", "https://vimeo.example.com/lti"),
    ("YouTube", "youtube", "https://youtube.example.com/lti/launch"),
    ("Turnitin", "turnitin", "https://turnitin.example.com/lti/v1p3"),
    ("Library Guides", "libguides", "https://guides.example.edu/lti"),
    ("Zoom", "zoom", "https://zoom.example.com/lti/rich"),
    ("Quiz Engine", None, "https://quizzes.example.com/launch"),
)
PRIVACY = ("anonymous", "name_only", "email_only", "public")
PURPOSES = (None, None, "SIS integration", "grade sync", "mobile app", "testing", "reporting")
HINT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _json(value: Any) -> str:
    return json.dumps(value)


def _keys(src: _Source, rng: Random, site_admin: bool) -> tuple[list[Row], list[Row], list[int]]:
    """Developer keys of the root (and the site-admin keys, once per database) and bindings.

    Returns the key rows, the binding rows and the ids tokens and tools may use.
    """
    key_rows: list[Row] = []
    bindings: list[Row] = []
    usable: list[int] = []
    key_id = src.next_id["developer_keys"]
    binding_id = src.next_id["developer_key_account_bindings"]
    created = ts(ANCHOR - timedelta(days=700))
    owners: list[tuple[int | None, str, bool, bool]] = [
        (src.root_id, name, lti, True) for name, lti in KEY_NAMES[: 3 + rng.randrange(6)]
    ]
    if site_admin:
        owners += [(None, name, lti, visible) for name, lti, visible in SITE_ADMIN_KEYS]
    for account_id, name, lti, visible in owners:
        roll = rng.random()
        state = "deleted" if roll < 0.1 else "inactive" if roll < 0.2 else "active"
        scopes = None if lti or rng.random() < 0.4 else rng.sample(SCOPES, rng.randrange(1, 4))
        placements = rng.sample(PLACEMENTS, rng.randrange(0, 4)) if lti else None
        email = f"{name.lower().replace(' ', '.')}@vendor.example.com"
        key_rows.append(
            (key_id, account_id, name, email, lti, visible, state,
             None if scopes is None else _json(scopes),
             None if placements is None else _json(placements), created, created)
        )  # fmt: skip
        if state != "deleted":
            usable.append(key_id)
        binding = ("on", "off", "allow")[rng.randrange(3)]
        bindings.append((binding_id, key_id, src.root_id, binding, created, created))
        binding_id += 1
        if account_id is None:
            site = ("on", "allow")[rng.randrange(2)]
            bindings.append((binding_id, key_id, None, site, created, created))
            binding_id += 1
        key_id += 1
    return key_rows, bindings, usable


KEY_COLUMNS = (
    "id",
    "account_id",
    "name",
    "email",
    "is_lti_key",
    "visible",
    "workflow_state",
    "scopes",
    "placements",
    "created_at",
    "updated_at",
)
BINDING_COLUMNS = (
    "id",
    "developer_key_id",
    "account_id",
    "workflow_state",
    "created_at",
    "updated_at",
)


def _tokens(src: _Source, rng: Random, key_ids: list[int]) -> Iterator[Row]:
    """1-3 tokens for about 4% of the users with a login (hashes no secret can match)."""
    token_id = src.next_id["access_tokens"]
    for user_id in src.user_ids:
        if rng.random() >= 0.04:
            continue
        for _ in range(1 + int(rng.random() < 0.3) + int(rng.random() < 0.1)):
            created = ANCHOR - timedelta(seconds=rng.randrange(600 * DAY))
            roll = rng.random()
            expires = (
                None if roll < 0.5 else ts(created + timedelta(days=rng.choice((30, 90, 365, 730))))
            )
            used = None if rng.random() < 0.2 else _later(ts(created), rng, 600)
            key = key_ids[rng.randrange(len(key_ids))] if key_ids and rng.random() < 0.4 else None
            state = "deleted" if rng.random() < 0.08 else "active"
            digest = hashlib.sha256(f"synthetic-token-{token_id}".encode()).hexdigest()
            hint = "".join(rng.choice(HINT_CHARS) for _ in range(5))
            purpose = PURPOSES[rng.randrange(len(PURPOSES))]
            yield (token_id, user_id, digest, hint, purpose, state, expires, used, ts(created), key)
            token_id += 1


TOKEN_COLUMNS = (
    "id",
    "user_id",
    "token_hash",
    "hint",
    "purpose",
    "workflow_state",
    "expires_at",
    "last_used_at",
    "created_at",
    "developer_key_id",
)


def _tools(src: _Source, rng: Random, key_ids: list[int]) -> Iterator[Row]:
    """Tools on the root, on about a third of the sub-accounts and in ~6% of the courses."""
    tool_id = src.next_id["context_external_tools"]
    contexts: list[tuple[str, int, str]] = []
    for i, account_id in enumerate(src.account_ids):
        n = 3 if i == 0 else (rng.randrange(1, 3) if rng.random() < 0.33 else 0)
        contexts += [("Account", account_id, ts(ANCHOR - timedelta(days=800)))] * n
    for course_id, _account, _state, created in src.course_rows:
        if rng.random() < 0.06:
            contexts.append(("Course", course_id, created))
    for context_type, context_id, created in contexts:
        name, declared, url = TOOLS[rng.randrange(len(TOOLS))]
        lti13 = rng.random() < 0.4
        key = key_ids[rng.randrange(len(key_ids))] if lti13 and key_ids else None
        custom = (
            {"course_id": "$Canvas.course.id", "user": "$Canvas.user.loginId"}
            if rng.random() < 0.3
            else None
        )
        roll = rng.random()
        state = "deleted" if roll < 0.08 else "disabled" if roll < 0.12 else "active"
        when = _later(created, rng, 300)
        yield (
            tool_id, src.root_id, context_type, context_id, key, name, declared, url,
            url.split("/")[2], PRIVACY[rng.randrange(len(PRIVACY))],
            None if custom is None else _json(custom), "1.3" if lti13 else "1.1", state,
            when, when,
        )  # fmt: skip
        tool_id += 1


TOOL_COLUMNS = (
    "id",
    "root_account_id",
    "context_type",
    "context_id",
    "developer_key_id",
    "name",
    "tool_id",
    "url",
    "domain",
    "privacy_level",
    "custom_fields",
    "lti_version",
    "workflow_state",
    "created_at",
    "updated_at",
)

PORTFOLIO_WORDS = ("Portfolio", "Showcase", "Capstone", "Journal", "Reflections", "Projects")


def _eportfolios(src: _Source, rng: Random) -> Iterator[Row]:
    """One (rarely two) ePortfolios for about 3% of the users with a login."""
    portfolio_id = src.next_id["eportfolios"]
    for user_id in src.user_ids:
        if rng.random() >= 0.03:
            continue
        for _ in range(1 + int(rng.random() < 0.15)):
            created = ANCHOR - timedelta(seconds=rng.randrange(900 * DAY))
            updated = _later(ts(created), rng, 300)
            name = f"{PORTFOLIO_WORDS[rng.randrange(len(PORTFOLIO_WORDS))]} {rng.randrange(1, 9)}"
            state = "deleted" if rng.random() < 0.1 else "active"
            yield (
                portfolio_id, user_id, name, rng.random() < 0.3, state, ts(created), updated,
            )  # fmt: skip
            portfolio_id += 1


PORTFOLIO_COLUMNS = (
    "id",
    "user_id",
    "name",
    "public",
    "workflow_state",
    "created_at",
    "updated_at",
)


# ---------------------------------------------------------------- entry point


def fill_activity(
    loader: BulkLoader, root_id: int, size: Size, seed: int, progress: Progress | None = None
) -> dict[str, int]:
    """Write the activity data of the seeded root ``root_id``; returns rows per table.

    Runs in the caller's transaction on ``loader.conn``, best while the big tables' secondary
    indexes are dropped (the activity UPDATEs then touch no index). The
    ``enrollments.last_activity_at`` and ``pseudonyms.last_request_at`` counts are the rows
    given a value.
    """
    conn = loader.conn
    salt = seed * 7_919
    counts: dict[str, int] = {}
    if progress:
        progress("activity", 0, 2)
    # Rows written earlier in this transaction are invisible to the planner's statistics
    # until analysed: without this PostgreSQL joins 200,000 enrollments by nested loops.
    loader.analyze(["courses", "enrollments", "pseudonyms"])
    counts["enrollments.last_activity_at"] = _enrollment_activity(conn, root_id, salt)
    if progress:
        progress("activity", 1, 2)
    counts["pseudonyms.last_request_at"] = _login_activity(conn, root_id, salt)
    if progress:
        progress("activity", 2, 2)
    src = _read_source(conn, root_id)
    counts.update(_write_content(loader, src, seed, progress))
    rng = Random(f"activity-integrations-{seed}-{size.name}")
    first_site_admin = not conn.execute(
        select(developer_keys.c.id).where(developer_keys.c.account_id.is_(None)).limit(1)
    ).first()
    key_rows, bindings, key_ids = _keys(src, rng, first_site_admin)
    users, n_courses = len(src.user_ids), len(src.course_rows)
    specs = [
        TableRows("developer_keys", KEY_COLUMNS, key_rows, len(key_rows)),
        TableRows("developer_key_account_bindings", BINDING_COLUMNS, bindings, len(bindings)),
        TableRows("access_tokens", TOKEN_COLUMNS, _tokens(src, rng, key_ids), users // 20),
        TableRows(
            "context_external_tools", TOOL_COLUMNS, _tools(src, rng, key_ids), n_courses // 15
        ),
        TableRows("eportfolios", PORTFOLIO_COLUMNS, _eportfolios(src, rng), users // 30),
    ]
    for spec in specs:
        counts[spec.table] = loader.write(spec, progress)
    loader.fix_sequences(ACTIVITY_TABLES)
    loader.analyze(ACTIVITY_TABLES)
    return counts
