"""Rails-style bracket parameters: ``parameters[users]=true``, ``enrollment_state[]=a``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEG = re.compile(r"\[([^\[\]]*)\]")


class ParamError(ValueError):
    """Keys that contradict each other (``a=1`` and ``a[b]=2``)."""


def _assign(target: dict[str, Any], path: list[str], value: Any, full: str) -> None:
    key = path[0]
    rest = path[1:]
    if not rest:
        target[key] = value
        return
    if rest[0] == "":  # a[] = value  or a[][b] (treated as a list of scalars)
        current = target.setdefault(key, [])
        if not isinstance(current, list):
            raise ParamError(f"conflicting parameter {full!r}")
        current.append(value)
        return
    current = target.setdefault(key, {})
    if not isinstance(current, dict):
        raise ParamError(f"conflicting parameter {full!r}")
    _assign(current, rest, value, full)


def parse_pairs(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Nest flat ``(key, value)`` pairs the way Rails does."""
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        m = _KEY.match(raw_key)
        if not m:
            out[raw_key] = value
            continue
        path = [m.group(1), *_SEG.findall(m.group(2))]
        _assign(out, path, value, raw_key)
    return out


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` merged into a copy of ``base`` (nested dicts merge, other values replace)."""
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out
