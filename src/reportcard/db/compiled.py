"""Compiling a statement into an engine's cache of compiled SQL without executing it.

SQLAlchemy compiles a statement the first time a process executes it and finds the compiled
form in the engine's cache afterwards (keyed by the statement's structure, its parameters'
names and whether it runs as an executemany). A worker compiles the statements its runs will
execute while it warms up (``runs.warmup``), so that its first run of a part finds them ready;
some of them (a part's bounds, an INSERT) cannot be executed then: they would read a whole
table or write. :func:`precompile` puts a statement's compiled form where executing it would,
through the same SQLAlchemy call ``Connection.execute`` makes (``_compile_w_cache``, which is
not public API: a SQLAlchemy upgrade that changes it makes the warm-up log a warning and the
first run compile, as before; ``tests/runs/test_warmup.py`` checks the cache is hit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.base import Executable


def precompile(
    conn: Connection,
    stmt: Executable,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Compile ``stmt`` into ``conn``'s engine cache as ``conn.execute(stmt, params)`` would,
    without executing it. ``params``: the parameters it will be executed with (their names
    are part of the cache key; a list of more than one is an executemany)."""
    many = list(params) if isinstance(params, Sequence) else [params] if params else []
    cached_compile(conn, stmt, many[0] if many else None, many=len(many) > 1)


def cached_compile(
    conn: Connection,
    stmt: Executable,
    params: Mapping[str, Any] | None = None,
    *,
    many: bool = False,
) -> Any:
    """``stmt``'s compiled form from ``conn``'s engine cache (compiled into it first if it is
    not there), as ``conn.execute(stmt, params)`` would find it (``many``: as an executemany
    with parameters of these names). The form holds the bound values of the statement first
    compiled into the cache, not necessarily ``stmt``'s."""
    options = conn.get_execution_options()
    cache = options.get("compiled_cache", conn.engine._compiled_cache)
    compiled, _, _, _ = stmt._compile_w_cache(
        dialect=conn.dialect,
        compiled_cache=cache,
        column_keys=sorted(params or ()),
        for_executemany=many,
        schema_translate_map=options.get("schema_translate_map"),
    )
    return compiled
