"""Fixtures of the auth tests: the API tests' ``world`` (a real server over a real database)
and, for each test, fresh per-process memory (rate buckets, last-used notes)."""

from __future__ import annotations

from tests.security.conftest import _fresh_process_memory, world

__all__ = ["_fresh_process_memory", "world"]
