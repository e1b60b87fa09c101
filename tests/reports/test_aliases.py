"""``reports.aliases.named_alias``: one alias object per table and name, its columns made."""

from __future__ import annotations

from reportcard.db.tables import accounts, courses
from reportcard.reports.aliases import named_alias


def test_a_named_alias_is_made_once_per_table_and_name() -> None:
    blueprint = named_alias(courses, "blueprint")
    assert named_alias(courses, "blueprint") is blueprint
    assert blueprint.name == "blueprint" and blueprint.element is courses
    assert named_alias(courses, "bp") is not blueprint
    assert named_alias(accounts, "blueprint") is not blueprint
    assert named_alias(accounts, "blueprint").element is accounts
    # the column collection is made before any caller reads it
    assert "_columns" in blueprint.__dict__ or "c" in blueprint.__dict__
    assert [c.name for c in blueprint.c] == [c.name for c in courses.c]
