"""Parameters, settings text and value formats shared by the single-file reports.

Used by the activity, course, token, tool and ePortfolio reports (spec ``other-reports.md``).
Scopes come from :mod:`reportcard.reports.sis_scope`; this module adds what those reports do
differently: an unknown term or course is an error (§1.2), Canvas's newer
``Include Deleted/Concluded Objects;`` wording, and the Ruby-flavoured values some columns are
written in (§1.4).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reportcard.reports.catalog import Parameter, Part, PartQuery, Report, RunContext, register
from reportcard.reports.formatting import iso_in_zone, time_formatter, to_utc
from reportcard.reports.params import ReportInputError, parse_time
from reportcard.reports.sis_scope import given

INCLUDE_DELETED_TEXT = "Include Deleted/Concluded Objects;"

TERM = Parameter(
    "The canvas id of the term of courses to report on (or sis_term_id:<SIS id>); "
    "blank for all terms",
    kind="term",
    label="Term",
)
COURSE = Parameter(
    "The canvas id of the course to report on (or sis_course_id:<SIS id>)",
    kind="id",
    label="Course",
)


# ---------------------------------------------------------------- declaring


def single_file(
    name: str,
    title: str,
    description: str,
    parameters: dict[str, Parameter],
    build: Callable[[RunContext], PartQuery],
    settings: Callable[[RunContext], list[str]],
) -> Report:
    """Register a report with one part; its run fails on an unknown term or course.

    ``settings(ctx)`` gives the extra_text fragments, joined with single spaces.
    """
    part = name.removesuffix("_csv")

    def select_parts(ctx: RunContext) -> list[str]:
        check_references(ctx)
        return [part]

    def extra_text(ctx: RunContext) -> str:
        return " ".join(f for f in settings(ctx) if f)

    return register(
        Report(
            name=name,
            title=title,
            description=description,
            parameters=parameters,
            parts=[Part(part, build)],
            select_parts=select_parts,
            extra_text=extra_text,
        )
    )


# ---------------------------------------------------------------- parameters


def check_references(ctx: RunContext) -> None:
    """Fail the run when a given term or course does not exist in the root account (§1.2)."""
    term = given(ctx, "enrollment_term_id") or given(ctx, "enrollment_term")
    if term is not None and not ctx.term_ids and str(term).strip() != "active_terms":
        raise ReportInputError(f"The term {term} could not be found in this account.")
    course = given(ctx, "course_id") or given(ctx, "course")
    if course is not None and ctx.course_id is None:
        raise ReportInputError(f"The course {course} could not be found in this account.")


def term_text(ctx: RunContext) -> str:
    """``Term: <name>;`` or ``Term: All Terms;``."""
    name = ctx.term_name if ctx.term_ids and ctx.term_name else "All Terms"
    return f"Term: {name};"


def include_deleted_text(ctx: RunContext) -> str:
    return INCLUDE_DELETED_TEXT if ctx.flag("include_deleted") else ""


def course_text(ctx: RunContext) -> str:
    return f"For Course: {ctx.course_id};" if ctx.course_id is not None else ""


def start_at(ctx: RunContext) -> datetime | None:
    """``start_at`` as naive UTC (read in the root account's zone); unparsable is absent."""
    return parse_time(given(ctx, "start_at"), ctx.time_zone)


def start_at_text(ctx: RunContext) -> str:
    start = start_at(ctx)
    return f"Start At: {iso_in_zone(start, ctx.time_zone)};" if start is not None else ""


# ---------------------------------------------------------------- values


def raw_utc(value: Any) -> str | None:
    """A stored timestamp as Ruby's default ``Time#to_s`` in UTC: ``2024-03-01 10:00:00 UTC``."""
    if value is None:
        return None
    # isoformat: strftime's "%Y" does not pad a year before 1000 to four digits (Ruby does).
    return to_utc(value).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds") + " UTC"


@dataclass(frozen=True)
class TimeOr:
    """Timestamps in ``time_zone`` (the ``TIME`` formatter), and ``missing`` for NULL.

    A value, not a closure, so that ``reports.sqlformat`` gives it a SQL form (``TIME``'s,
    with ``missing`` for NULL).
    """

    time_zone: str
    missing: str
    fmt: Callable[[Any], str | None] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fmt", time_formatter(self.time_zone))

    def __call__(self, value: Any) -> str | None:
        return self.missing if value is None else self.fmt(value)


def time_or(ctx: RunContext, missing: str) -> TimeOr:
    """Timestamps in the root account's zone, and ``missing`` for NULL (tokens' ``never``)."""
    return TimeOr(ctx.time_zone, missing)


def token_hint(value: Any) -> str | None:
    """The stored hint without a leading ``<shard>~`` prefix."""
    if value is None:
        return None
    text = str(value)
    return text.split("~", 1)[1] if "~" in text else text


def megabytes(total_bytes: Any) -> str:
    """Bytes as MB rounded half up to 2 places, written like a Ruby Float (``0.0``, ``1.23``)."""
    if isinstance(total_bytes, str):  # a sum SQLite left to Python (reports.sqlformat)
        total_bytes = int(total_bytes) if total_bytes.isdigit() else float(total_bytes)
    hundredths = (2 * 100 * int(total_bytes or 0) + 1_048_576) // 2_097_152
    return repr(hundredths / 100)


def json_value(value: Any) -> Any:
    """A JSON column as read raw: SQLite gives text, psycopg gives the decoded value."""
    if isinstance(value, str):
        return json.loads(value)
    return value


_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\f": "\\f",
    "\v": "\\v",
    "\b": "\\b",
    "\a": "\\a",
    "\x1b": "\\e",
}


def _inspect_str(text: str) -> str:
    out = ['"']
    for i, ch in enumerate(text):
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == "#" and text[i + 1 : i + 2] in ("{", "$", "@"):
            out.append("\\#")  # Ruby escapes what would start an interpolation
        elif ch == "\x7f":
            out.append("\\x7F")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def ruby_inspect(value: Any) -> str:
    """A JSON value in Ruby's ``inspect`` form before Ruby 3.4.

    Arrays are ``["a", "b"]`` and hashes ``{"key"=>"value"}``; strings are double-quoted
    with Ruby's escapes, ``nil``/``true``/``false`` and numbers as Ruby writes them.
    """
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _inspect_str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(ruby_inspect(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{ruby_inspect(k)}=>{ruby_inspect(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return _inspect_str(str(value))
