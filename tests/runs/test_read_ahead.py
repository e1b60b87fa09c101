"""read_ahead: a reader thread a few batches ahead, in order, errors raised, stopped on exit."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from reportcard.runs.query import read_ahead


def test_items_arrive_in_order_from_another_thread() -> None:
    threads: set[str] = set()

    def make() -> Iterator[int]:
        for i in range(1000):
            threads.add(threading.current_thread().name)
            yield i

    assert list(read_ahead(make, depth=3)) == list(range(1000))
    assert threads == {"read-ahead"}


def test_an_error_in_the_reader_is_raised_to_the_consumer() -> None:
    def make() -> Iterator[int]:
        yield 1
        raise LookupError("the cursor broke")

    got: list[int] = []
    with pytest.raises(LookupError, match="the cursor broke"):
        for item in read_ahead(make):
            got.append(item)
    assert got == [1]


def test_leaving_early_stops_the_reader_and_closes_its_generator() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def make() -> Iterator[int]:
        try:
            for i in range(10**9):
                produced.append(i)
                yield i
        finally:
            closed.set()

    for item in read_ahead(make, depth=2):
        if item == 5:
            break
    assert closed.wait(5)
    assert len(produced) <= 5 + 2 + 2  # never more than the queue's depth ahead
    assert not any(t.name == "read-ahead" for t in threading.enumerate())
