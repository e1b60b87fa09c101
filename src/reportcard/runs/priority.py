"""Scheduling priority of a run's shards: longest first, the files interleaved.

Workers take a running run's queued shards in ``priority`` order (0 first; the embedded
worker's query and the Celery publisher both read the column), so the order is decided once,
here, when the run is planned, and stored with each shard.

The order is longest first over all the run's files together (the longest-processing-time
rule): the long shards start while every worker is free and the short ones fill the gaps at
the end, so that two workers finish together instead of one waiting on a long shard picked up
last. A shard's length is its estimated rows times its part's seconds per row in recent runs
(``reportcard.runs.costs``); a part without a figure counts at the median of the others', and
with no figure at all the order is by estimated rows. Shards of equal length are interleaved
across files (the first shard of each file, then the second of each, ...), and within a file
the highest keys go first, where newer, still-live rows gather.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ShardSize:
    """What the order needs of one planned shard: where it sits and its estimated rows."""

    part_index: int
    seq: int
    rows: int


def priorities(
    shards: Sequence[ShardSize], per_row: Mapping[int, float] | None = None
) -> list[int]:
    """Each shard's priority (0 = taken first), in the order ``shards`` were given.

    ``per_row`` maps a part index to its seconds per row, where known.
    """
    known = {i: c for i, c in (per_row or {}).items() if c > 0}
    default = statistics.median(known.values()) if known else 1.0
    work = [s.rows * known.get(s.part_index, default) for s in shards]
    by_part: dict[int, list[int]] = {}
    for i, s in enumerate(shards):
        by_part.setdefault(s.part_index, []).append(i)
    turn = [0] * len(shards)  # a shard's place among its own file's shards
    for members in by_part.values():
        members.sort(key=lambda i: (-shards[i].rows, -shards[i].seq))
        for k, i in enumerate(members):
            turn[i] = k
    order = sorted(range(len(shards)), key=lambda i: (-work[i], turn[i], shards[i].part_index))
    out = [0] * len(shards)
    for rank, i in enumerate(order):
        out[i] = rank
    return out
