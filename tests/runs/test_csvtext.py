"""CSV text rules: Python's writer, plus a quoted carriage return (Canvas quotes line breaks)."""

from __future__ import annotations

import csv
import io

from reportcard.runs.csvtext import BatchWriter, field, line

ROWS = [
    [1, "plain", None, "", "a,b", 'say "hi"', "two\nlines", "ünïcode ✓", 2.5, True],
    ["x", 7],
    [""],
    [None],
    [],
]


def test_a_batch_without_carriage_returns_is_pythons_writer_output() -> None:
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\n").writerows(ROWS)
    assert BatchWriter().text(ROWS) == expected.getvalue()


def test_a_carriage_return_is_quoted_like_a_newline() -> None:
    rows = [["Role\r4", "plain", None], ["a,b", "\r", ""]]
    assert BatchWriter().text(rows) == '"Role\r4",plain,\n"a,b","\r",\n'


def test_rows_by_hand_follow_the_writer_rules() -> None:
    for row in ROWS:
        expected = io.StringIO()
        csv.writer(expected, lineterminator="\r\n").writerow(row)
        assert line(row, "\r\n") == expected.getvalue(), row


def test_fields() -> None:
    assert field(None) == ""
    assert field("") == ""
    assert field(12) == "12"
    assert field('a"b') == '"a""b"'
    assert field("a\rb") == '"a\rb"'


def test_the_writer_is_reusable_across_batches() -> None:
    writer = BatchWriter()
    assert writer.text([["a", "b"]]) == "a,b\n"
    assert writer.text([["c\r", "d"]]) == '"c\r",d\n'
    assert writer.text(iter([["e", "f"]])) == "e,f\n"
