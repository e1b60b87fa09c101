"""Rails-style bracket parameters."""

from __future__ import annotations

import pytest

from reportcard.api.rails_params import ParamError, deep_merge, parse_pairs


def test_nesting_and_arrays() -> None:
    assert parse_pairs(
        [
            ("parameters[users]", "true"),
            ("parameters[enrollment_states][]", "active"),
            ("parameters[enrollment_states][]", "invited"),
            ("parameters[a][b]", "1"),
            ("per_page", "5"),
        ]
    ) == {
        "parameters": {
            "users": "true",
            "enrollment_states": ["active", "invited"],
            "a": {"b": "1"},
        },
        "per_page": "5",
    }


def test_conflicting_keys_raise() -> None:
    with pytest.raises(ParamError):
        parse_pairs([("a", "1"), ("a[b]", "2")])
    with pytest.raises(ParamError):
        parse_pairs([("a[b]", "1"), ("a[]", "2")])


def test_odd_keys_are_kept_verbatim() -> None:
    assert parse_pairs([("weird]key", "1")]) == {"weird]key": "1"}


def test_deep_merge_body_over_query() -> None:
    assert deep_merge({"parameters": {"a": "1", "b": "1"}}, {"parameters": {"b": "2"}}) == {
        "parameters": {"a": "1", "b": "2"}
    }
