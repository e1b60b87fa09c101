"""Checking and typing one record's values in Python (SQLite staging, and error diagnosis).

On PostgreSQL values are staged as text and typed by the apply's SQL; when that fails, the
files are read again through :func:`convert_record` to name the file, line and field.
"""

from __future__ import annotations

import json
import re
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
