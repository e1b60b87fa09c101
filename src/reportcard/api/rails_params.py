"""Rails-style bracket parameters: ``parameters[users]=true``, ``enrollment_state[]=a``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEG = re.compile(r"\[([^\[\]]*)\]")


# Rack's own limit (``Rack::Utils.param_depth_limit``): deeper keys or JSON are a 400.
MAX_DEPTH = 100


class ParamError(ValueError):
    """Keys that contradict each other (``a=1`` and ``a[b]=2``), or nest too deeply."""


def too_deep(depth: int) -> ParamError:
    return ParamError(f"The request's parameters are nested deeper than {depth} levels.")


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape such as "\ud800"
        return False
    return True


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise ParamError when lists and objects in ``value`` nest deeper than ``limit``, or a
    key or string in it is not Unicode text (JSON lets ``"\ud800"`` through; it could be
    stored, but no answer that echoes it could ever be written)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not _unicode(item):
                raise ParamError("The request contains a lone UTF-16 surrogate, not Unicode text.")
            continue
        if isinstance(item, dict):
            children: Any = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise too_deep(limit)
        stack.extend((child, depth + 1) for child in children)


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
        if len(path) > MAX_DEPTH:
            raise too_deep(MAX_DEPTH)
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
