"""Parsing numeric ids from text safely.

``str.isdigit`` is true for ``"²"`` and ``"٣"``, which ``int`` rejects or reads as another
digit, and a 30-digit id overflows the database's BIGINT: both used to end in a 500. An id
here is 1 to 19 ASCII digits no larger than the largest BIGINT.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1


def parse_id(text: object) -> int | None:
    """The id ``text`` spells, or None."""
    if not isinstance(text, str) or not 0 < len(text) <= 19:
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def is_id(text: object) -> bool:
    return parse_id(text) is not None
