"""The order a run's shards are taken in: longest first, the files interleaved."""

from __future__ import annotations

from reportcard.runs.priority import ShardSize, priorities


def taken(
    shards: list[ShardSize], per_row: dict[int, float] | None = None
) -> list[tuple[int, int]]:
    """(part_index, seq) of each shard, in the order workers take them."""
    ranks = priorities(shards, per_row)
    assert sorted(ranks) == list(range(len(shards)))  # one place each
    return [(s.part_index, s.seq) for _, s in sorted(zip(ranks, shards, strict=True))]


def parts(*rows_per_part: list[int]) -> list[ShardSize]:
    return [
        ShardSize(part_index=p, seq=q, rows=rows)
        for p, shard_rows in enumerate(rows_per_part)
        for q, rows in enumerate(shard_rows)
    ]


def test_longest_first_across_every_file() -> None:
    shards = parts([50, 50], [120], [7], [80, 81])
    assert taken(shards) == [(1, 0), (3, 1), (3, 0), (0, 1), (0, 0), (2, 0)]


def test_shards_of_equal_length_interleave_the_files_highest_keys_first() -> None:
    shards = parts([10, 10, 10], [10, 10, 10], [10])
    assert taken(shards) == [(0, 2), (1, 2), (2, 0), (0, 1), (1, 1), (0, 0), (1, 0)]


def test_a_slow_part_goes_before_a_longer_fast_one() -> None:
    shards = parts([250, 250], [200], [100])
    # Rows alone: the first file's shards first.
    assert taken(shards)[:2] == [(0, 1), (0, 0)]
    # Its rows cost 1 ms each, the second file's 5 ms: 200 rows of it are the longest shard.
    assert taken(shards, {0: 0.001, 1: 0.005})[0] == (1, 0)
    # The third file has no figure: it counts at the median of the others (3 ms), 0.3 s.
    assert taken(shards, {0: 0.001, 1: 0.005}) == [(1, 0), (2, 0), (0, 1), (0, 0)]


def test_no_shard_at_all() -> None:
    assert priorities([]) == []
