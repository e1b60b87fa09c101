"""Checking and typing one record's values in Python (SQLite staging, and error diagnosis).

On PostgreSQL values are staged as text and typed by the apply's SQL; when that fails, the
files are read again through :func:`convert_record` to name the file, line and field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from reportcard.lms.cd2.errors import Cd2Error
from reportcard.lms.cd2.formats import Record
from reportcard.lms.cd2.mapping import TRUNCATED, UNSPECIFIED, Cd2Table

_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_INT = re.compile(r"^[+-]?\d+$")
_TRUE = {"true", "t", "1", "yes", "y", "on"}
_FALSE = {"false", "f", "0", "no", "n", "off"}
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite


class BadValue(ValueError):
    pass


def parse_ts(v: Any) -> datetime:
    """A CD2 timestamp (ISO 8601, UTC unless it says otherwise) as a naive UTC datetime."""
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v
    if not isinstance(v, str):
        raise BadValue(f"not a timestamp: {v!r}")
    m = _TS.match(v.strip())
    if not m:
        raise BadValue(f"not a timestamp: {v[:40]!r}")
    y, mo, d, h, mi, s, frac, off = m.groups()
    try:
        dt = datetime(
            int(y),
            int(mo),
            int(d),
            int(h or 0),
            int(mi or 0),
            int(s or 0),
            int((frac or "0")[:6].ljust(6, "0")),
        )
    except ValueError as exc:
        raise BadValue(f"not a timestamp: {v[:40]!r} ({exc})") from None
    if off and off not in ("Z", "z"):
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        dt = (dt.replace(tzinfo=timezone(sign * delta))).astimezone(UTC).replace(tzinfo=None)
    return dt


def _int(v: Any) -> int:
    if isinstance(v, bool):
        raise BadValue(f"not an integer: {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and _INT.match(v.strip()):
        return int(v)
    raise BadValue(f"not an integer: {str(v)[:40]!r}")


def _float(v: Any) -> float:
    if isinstance(v, bool):
        raise BadValue(f"not a number: {v!r}")
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    raise BadValue(f"not a number: {str(v)[:40]!r}")


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        low = v.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise BadValue(f"not a boolean: {str(v)[:40]!r}")


def _text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, dict | list):
        return json.dumps(v, separators=(",", ":"))
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _json(v: Any) -> str | None:
    if isinstance(v, str):
        if v in TRUNCATED:
            return None
        try:
            json.loads(v)
        except ValueError:
            return None  # not JSON (historic YAML): no value, as the apply does
        return v
    return json.dumps(v, separators=(",", ":"))


def _list(v: Any) -> str | None:
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("{") and s.endswith("}"):  # a PostgreSQL array literal
            items: Any = [p.strip().strip('"') for p in s[1:-1].split(",") if p.strip()]
        else:
            try:
                items = json.loads(s)
            except ValueError:
                raise BadValue(f"not a JSON array: {v[:40]!r}") from None
    else:
        items = v
    if not isinstance(items, list):
        raise BadValue(f"not an array: {str(v)[:40]!r}")
    return ",".join(_text(i) for i in items)


def typed(kind: str, v: Any) -> Any:
    """``v`` (not None) checked and typed for ``kind``, as SQLite stores it."""
    if kind == "int":
        return _int(v)
    if kind == "float":
        return _float(v)
    if kind == "bool":
        return 1 if _bool(v) else 0
    if kind == "ts":
        return parse_ts(v).strftime(TS_FORMAT)
    if kind == "date":
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", v):
            return v
        raise BadValue(f"not a date: {str(v)[:40]!r}")
    if kind == "text":
        s = _text(v)
        return None if s in TRUNCATED else s
    if kind == "enum":
        s = _text(v)
        return None if s == UNSPECIFIED else s
    if kind == "state":
        return _text(v)
    if kind == "json":
        return _json(v)
    if kind == "list":
        return _list(v)
    raise BadValue(f"unknown kind {kind}")  # pragma: no cover


def field_value(values: dict[str, Any], name: str) -> Any:
    """The value of field ``name`` (a dotted name reads a member of a condensed JSON column)."""
    if name in values:
        return values[name]
    if "." not in name:
        return None
    parent, member = name.split(".", 1)
    container = values.get(parent)
    if container is None:
        return None
    if isinstance(container, str):
        try:
            container = json.loads(container)
        except ValueError:
            raise BadValue(f"{parent} is not JSON") from None
    if not isinstance(container, dict):
        raise BadValue(f"{parent} is not an object")
    return field_value(container, member)


def convert_record(
    t: Cd2Table, rec: Record, path: Path | str | None
) -> tuple[int, str, str, list[Any]]:
    """(key, ts, action, [typed value per field of ``t``]) or a :class:`Cd2Error`."""

    def fail(message: str, field: str) -> Cd2Error:
        return Cd2Error(message, file=path, line=rec.line, field=field, table=t.name)

    if rec.key is None:
        raise fail("the key is missing", f"key.{t.key}")
    try:
        key = _int(rec.key)
    except BadValue as exc:
        raise fail(str(exc), f"key.{t.key}") from None
    if rec.ts is None or rec.ts == "":
        raise fail("meta.ts is missing", "meta.ts")
    try:
        ts = parse_ts(rec.ts).strftime(TS_FORMAT)
    except BadValue as exc:
        raise fail(str(exc), "meta.ts") from None
    action = str(rec.action)
    if action not in ("U", "D"):
        raise fail(f"meta.action must be U or D, not {action[:10]!r}", "meta.action")
    out: list[Any] = []
    for name in t.fields:
        if action == "D":
            out.append(None)
            continue
        try:
            raw = field_value(rec.values, name)
            value = None if raw is None else typed(t.kind(name), raw)
        except BadValue as exc:
            raise fail(str(exc), f"value.{name}") from None
        if value is None and t.required(name):
            raise fail("missing (required on an upsert)", f"value.{name}")
        out.append(value)
    return key, ts, action, out


# ---------------------------------------------------------------------------------- rows
# The staging of SQLite types every value here, once: :func:`fast` is :func:`typed` with the
# common spellings (a digits-only integer, a CD2 timestamp, true/false) taken without
# regular expressions; anything else goes through :func:`typed`, which names the problem.
_BOOL_TEXT = {"true": 1, "false": 0}
_DAYS: set[str] = set()  # YYYY-MM-DD found valid
_CLOCKS: set[str] = set()  # HH:MM:SS found valid
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d", re.ASCII)
_HMS = re.compile(r"\d\d:\d\d:\d\d", re.ASCII)


def _fast_int(v: Any) -> Any:
    if type(v) is str and v.isdigit() and v.isascii():
        return int(v)
    if type(v) is int:
        return v
    return _int(v)


def _fast_float(v: Any) -> Any:
    if type(v) is float:
        return v
    return _float(v)


def _fast_bool(v: Any) -> Any:
    found = _BOOL_TEXT.get(v) if type(v) is str else None
    return found if found is not None else (1 if _bool(v) else 0)


def _fast_ts(v: Any) -> Any:
    if (
        type(v) is str
        and len(v) >= 20
        and v[10] == "T"
        and v[-1] == "Z"
        and _DAY.fullmatch(v, 0, 10)  # not an ISO week date (2025-W22-5), which
        and _HMS.fullmatch(v, 11, 19)  # fromisoformat takes too
    ):
        if len(v) == 20:
            try:
                datetime.fromisoformat(v[:19])
            except ValueError:
                pass
            else:
                return f"{v[:10]} {v[11:19]}.000000"
        elif v[19] == "." and len(v) <= 27 and v[20:-1].isdigit() and v[20:-1].isascii():
            try:
                datetime.fromisoformat(v[:19])
            except ValueError:
                pass
            else:
                return f"{v[:10]} {v[11:19]}.{(v[20:-1] + '000000')[:6]}"
    return parse_ts(v).strftime(TS_FORMAT)


def _fast_text(v: Any) -> Any:
    if type(v) is str:
        return None if v in TRUNCATED else v
    return typed("text", v)


def _fast_enum(v: Any) -> Any:
    if type(v) is str:
        return None if v == UNSPECIFIED else v
    return typed("enum", v)


def _fast_state(v: Any) -> Any:
    return v if type(v) is str else _text(v)


_FAST = {
    "int": _fast_int,
    "float": _fast_float,
    "bool": _fast_bool,
    "ts": _fast_ts,
    "text": _fast_text,
    "enum": _fast_enum,
    "state": _fast_state,
}


def fast(kind: str) -> Any:
    """A function typing a value (not None) of ``kind`` as :func:`typed` does."""
    found = _FAST.get(kind)
    if found is not None:
        return found
    return lambda v: typed(kind, v)


class RowTyper:
    """Checks and types staged records of one table: (key, ts, action, *values) tuples as
    the SQLite staging table holds them; errors name the file, line and field."""

    def __init__(self, t: Cd2Table, source: Path | str | None) -> None:
        self.t = t
        self.source = source
        self.fields = list(t.fields)
        self.convs = [fast(t.kind(f)) for f in self.fields]
        self.required = [t.required(f) for f in self.fields]
        self.nones = [None] * len(self.fields)

    def fail(self, message: str, field: str, line: int) -> Cd2Error:
        return Cd2Error(message, file=self.source, line=line, field=field, table=self.t.name)

    def row(self, key: Any, ts: Any, action: Any, raws: list[Any], line: int) -> tuple[Any, ...]:
        """``raws``: the raw value of each field (None when absent), in declaration order."""
        if type(key) is str and key.isdigit() and key.isascii():
            k = int(key)
        elif key is None:
            raise self.fail("the key is missing", f"key.{self.t.key}", line)
        else:
            try:
                k = _int(key)
            except BadValue as exc:
                raise self.fail(str(exc), f"key.{self.t.key}", line) from None
        if ts is None or ts == "":
            raise self.fail("meta.ts is missing", "meta.ts", line)
        try:
            when = _fast_ts(ts)
        except BadValue as exc:
            raise self.fail(str(exc), "meta.ts", line) from None
        if not action or action == "U":
            action = "U"
        elif action == "D":
            return (k, when, "D", *self.nones)
        else:
            raise self.fail(
                f"meta.action must be U or D, not {str(action)[:10]!r}", "meta.action", line
            )
        out: list[Any] = [k, when, "U"]
        for i, raw in enumerate(raws):
            if raw is not None:
                try:
                    raw = self.convs[i](raw)
                except BadValue as exc:
                    raise self.fail(str(exc), f"value.{self.fields[i]}", line) from None
            if raw is None and self.required[i]:
                raise self.fail("missing (required on an upsert)", f"value.{self.fields[i]}", line)
            out.append(raw)
        return tuple(out)


# ---------------------------------------------------------------------------------- TSV rows
# TSV lines to staging tuples, for the layout of one file: the function is generated (as
# namedtuple and dataclasses generate theirs) so that a whole batch of lines costs one call and
# the common values none: NULL is ``\N``, digits are an integer, CD2's timestamp spelling is a
# timestamp (memoized: a file repeats its meta.ts and a record its created_at in updated_at).
# Any value it does not take (or a bad one) sends the line through RowTyper.row, which types it
# the long way or names the problem.
_TSV_INLINE = {
    "int": "(int({v}) if {v}.isdigit() else _int({v}))",
    "float": "float({v})",
    "bool": "_B[{v}]",
    "ts": "(tc.get({v}) or _tsm({v}))",
    "text": "(None if {v} in _T else {v})",
    "enum": "(None if {v} == _U else {v})",
    "state": "{v}",
}
# Kinds whose inline typing refuses a backslash (int(), float(), the two boolean words, the
# timestamp spellings): an escaped cell of theirs goes the long way, which unescapes it.
_NO_BACKSLASH = {"int", "float", "bool", "ts"}

_TS_MEMO: dict[str, str] = {}
_TS_MEMO_SIZE = 50_000


def _ts_memo(v: str) -> str:
    """:func:`_fast_ts`, remembered (a bounded number of spellings: emptied when full). CD2's
    plain spelling (``2024-05-01T10:00:00Z``) is checked by its day and its time of day, each
    remembered once found valid (a file holds few days; a day has 86,400 seconds)."""
    if len(v) == 20 and v[19] == "Z" and v[10] == "T":
        day = v[:10]
        clock = v[11:19]
        if (day in _DAYS or _valid_day(day)) and (clock in _CLOCKS or _valid_clock(clock)):
            out = f"{day} {clock}.000000"
        else:
            out = _fast_ts(v)
    else:
        out = _fast_ts(v)
    if len(_TS_MEMO) >= _TS_MEMO_SIZE:
        _TS_MEMO.clear()
    _TS_MEMO[v] = out
    return out


def _valid_day(day: str) -> bool:
    if not _DAY.fullmatch(day):
        return False
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    if len(_DAYS) < _TS_MEMO_SIZE:
        _DAYS.add(day)
    return True


def _valid_clock(clock: str) -> bool:
    if not _CLOCK.fullmatch(clock):
        return False
    _CLOCKS.add(clock)  # at most 86,400
    return True


TsvRows = Callable[[list[str], int, list[tuple[Any, ...]], Any], tuple[int, Any, bool]]


def tsv_rows_function(
    typer: RowTyper,
    key: int,
    ts: int,
    action: int,
    columns: list[int],
    width: int,
    unescape: Callable[[str], Any],
    slow: Callable[[list[str], int], tuple[Any, ...]],
    wrong_width: Callable[[list[str], int], Any],
) -> TsvRows | None:
    """``rows(lines, n, out, last) -> (n, last, ascending)``: appends to ``out`` the staging
    tuple of each non-empty line of ``lines`` (the lines after line ``n`` of the file, without
    their ends), whose cell ``columns[i]`` holds field ``i`` (-1: the file lacks it) and
    ``key``/``ts``/``action`` the record's (-1: absent); returns the last line's number, the
    last key and whether the keys rose strictly from ``last`` on. ``slow(cells, line)`` takes
    the lines it does not; ``wrong_width(cells, line)`` raises for a line of other than
    ``width`` cells. None when every upsert would fail (a required field is missing from the
    file): the long way names the problem."""
    env: dict[str, Any] = {
        "_int": _int,
        "_B": _BOOL_TEXT,
        "_TC": _TS_MEMO,
        "_tsm": _ts_memo,
        "_T": TRUNCATED,
        "_U": UNSPECIFIED,
        "_esc": unescape,
        "_slow": slow,
        "_typed": typed,
        "_BadValue": BadValue,
        "_width": wrong_width,
    }
    body: list[str] = []
    names: list[str] = []
    for i, (col, f) in enumerate(zip(columns, typer.fields, strict=True)):
        v = f"v{i}"
        names.append(v)
        if col < 0:
            if typer.required[i]:
                return None
            body.append(f"{v} = None")
            continue
        kind = typer.t.kind(f)
        conv = _TSV_INLINE.get(kind, "_typed(" + repr(kind) + ", {v})").format(v=v)
        if typer.required[i] and kind in _NO_BACKSLASH:
            # \\N (NULL) fails these conversions too: the long way names the field.
            body += [f"{v} = cells[{col}]", f"{v} = {conv}"]
            continue
        body += [f"{v} = cells[{col}]", f"if {v} == '\\\\N':", f"    {v} = None", "else:"]
        if kind not in _NO_BACKSLASH:
            body += [f"    if '\\\\' in {v}:", f"        {v} = _esc({v})"]
        body.append(f"    {v} = {conv}")
        if typer.required[i]:
            body += [f"if {v} is None:", "    raise _BadValue('missing')"]
    values = "".join(f"{n}, " for n in names)
    nones = "None, " * len(names)
    a = f"cells[{action}]" if action >= 0 else "'U'"
    w = f"cells[{ts}]" if ts >= 0 else "None"
    inner = "\n".join("                " + line for line in body)
    src = f"""
def rows(lines, n, out, last):
    asc = True
    add = out.append
    tc = _TC
    for line in lines:
        n += 1
        if not line:
            continue
        cells = line.split('\\t')
        if len(cells) != {width}:
            _width(cells, n)
        try:
            a = {a}
            k = cells[{key}]
            k = int(k) if k.isdigit() else _int(k)
            w = {w}
            w = tc.get(w) or _tsm(w)
            if a == 'D':
                r = (k, w, 'D', {nones})
            else:
                if a != 'U' and a != '':
                    raise _BadValue(a)
{inner}
                r = (k, w, 'U', {values})
        except Exception:
            r = _slow(cells, n)
            k = r[0]
        if k <= last:
            asc = False
        last = k
        add(r)
    return n, last, asc
"""
    # The source holds only integers (cell positions, the width), names made here (v0, v1,
    # ...) and the importer's own field kinds: nothing of the file's text
    # (docs/security-review.md, B102).
    exec(compile(src, f"<cd2 TSV rows of {typer.t.name}>", "exec"), env)  # nosec B102
    rows: TsvRows = env["rows"]
    return rows
