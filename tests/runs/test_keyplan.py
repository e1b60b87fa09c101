"""Whether SQLite walks a statement by its key (``runs.keyplan``): the outermost loop of its
plan searching the key's table over a range of the key."""

from __future__ import annotations

from reportcard.runs.keyplan import key_range_search


def _plan(*details: tuple[int, str]) -> list[tuple[int, int, int, str]]:
    return [(i + 2, parent, 0, d) for i, (parent, d) in enumerate(details)]


def test_a_search_of_the_keys_table_over_a_range_of_its_key_walks_it() -> None:
    by_rowid = _plan(
        (0, "SEARCH pseudonyms USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
        (0, "LIST SUBQUERY 3"),
        (4, "SCAN sv USING INDEX ix_enrollments_student_view"),
        (0, "SEARCH users USING INTEGER PRIMARY KEY (rowid=?)"),
    )
    assert key_range_search(by_rowid, "pseudonyms", "id")
    by_index = _plan(
        (0, "SEARCH e USING COVERING INDEX ix_e_root (root_id=? AND user_id>? AND user_id<?)")
    )
    assert key_range_search(by_index, "e", "user_id")
    # The plan's rows as bytes (a connection reading text as bytes).
    assert key_range_search(
        [(2, 0, 0, b"SEARCH t USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)")], "t", "id"
    )


def test_any_other_outermost_loop_does_not() -> None:
    cases = [
        # another table first: every chunk would read it again
        _plan(
            (0, "SEARCH grp USING INDEX ix_groups_root_sis (root_account_id=?)"),
            (0, "SEARCH gm USING INDEX ix_gm_group (group_id=? AND rowid>? AND rowid<?)"),
        ),
        _plan((0, "SCAN course"), (0, "SEARCH e USING INDEX ix (course_id=? AND id>? AND id<?)")),
        # the key's table, but not over the key's range
        _plan((0, "SEARCH t USING INDEX ix_t_root (root_id=?)")),
        _plan((0, "SEARCH t USING INDEX ix_t_other (other>? AND other<?)")),
        _plan((0, "SEARCH t USING INTEGER PRIMARY KEY (rowid>?)")),
        _plan((0, "SCAN t")),
        # a subquery's rows do not count: only the statement's own loops
        _plan(
            (0, "CO-ROUTINE sub"), (1, "SEARCH t USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)")
        ),
        [],
    ]
    for plan in cases:
        assert not key_range_search(plan, "t", "id"), plan
