"""Planners: how one part of a run is cut into shards, as key ranges of its driving table.

A planner reads what it needs of a part (its bounds, a histogram, anything) over a read-only
connection and returns the key ranges of its shards, with the rows it expects in each. The
planning step (``reportcard.runs.plan``) asks a planner for every part of a run, and the
ranges' estimated rows decide the shards' scheduling priority (``reportcard.runs.priority``).

A planner's ranges must cover every key of the part's rows exactly once, in key order (shard
``seq`` follows the list, and the compile step concatenates parts by ``seq``); a part with no
row at all still gets one empty range, so its file is written (a header, or its ``if_empty``
rows). ``EqualWidthPlanner`` is the default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection

from reportcard.reports.catalog import PartQuery
from reportcard.runs.query import bounds_select


@dataclass(frozen=True)
class KeyRange:
    """Keys ``lo`` to ``hi`` (both inclusive), holding about ``rows`` of the part's rows."""

    lo: int
    hi: int
    rows: int

    @property
    def empty(self) -> bool:
        return self.lo > self.hi


EMPTY_RANGE = KeyRange(1, 0, 0)
"""The one shard of a part with no row (or no columns): it reads nothing."""


class Planner(Protocol):
    """Cuts one part into key ranges of about ``shard_rows`` rows each."""

    def plan(self, conn: Connection, pq: PartQuery, shard_rows: int) -> list[KeyRange]:
        """The part's key ranges in key order, covering each of its keys once; never empty.

        ``conn`` is read-only (the caller rolls it back); the estimated rows of all ranges
        add up to the part's row count, which becomes the run's ``total_lines``.
        """
        ...


def split_range(lo: int, hi: int, count: int, target: int) -> list[tuple[int, int]]:
    """Split ``[lo, hi]`` into about ``count / target`` ranges of equal key width."""
    if count <= 0:
        return [(EMPTY_RANGE.lo, EMPTY_RANGE.hi)]
    n = max(1, math.ceil(count / target))
    width = math.ceil((hi - lo + 1) / n)
    ranges = []
    start = lo
    while start <= hi:
        end = min(hi, start + width - 1)
        ranges.append((start, end))
        start = end + 1
    return ranges


def share_rows(count: int, n: int) -> list[int]:
    """``count`` rows shared as evenly as whole numbers allow among ``n`` ranges.

    The odd rows go to the last ranges (the highest keys, where newer rows gather), so the
    estimates add up to ``count`` exactly and never fall as the keys rise.
    """
    base, extra = divmod(count, n)
    return [base + (1 if i >= n - extra else 0) for i in range(n)]


class EqualWidthPlanner:
    """Equal key-width ranges over the part's ``[min(key), max(key)]``.

    One bounds query (min, max, count; the part's cheaper ``bounds_from`` when it declares
    one), then about ``count / shard_rows`` ranges of equal width, each expected to hold an
    equal share of the rows: keys are ids, dense enough that width tracks rows.
    """

    def plan(self, conn: Connection, pq: PartQuery, shard_rows: int) -> list[KeyRange]:
        if not pq.columns:
            return [EMPTY_RANGE]
        lo, hi, count = conn.execute(bounds_select(pq)).one()
        count = int(count or 0)
        if lo is None or count <= 0:
            return [EMPTY_RANGE]
        ranges = split_range(int(lo), int(hi), count, shard_rows)
        rows = share_rows(count, len(ranges))
        return [KeyRange(a, b, n) for (a, b), n in zip(ranges, rows, strict=True)]


DEFAULT_PLANNER: Planner = EqualWidthPlanner()
