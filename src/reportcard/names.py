"""A user's given and surname from the sortable name, as Canvas's SIS files write them.

``users.first_name``/``users.last_name`` hold :func:`name_parts` of ``users.sortable_name``:
the users files of the SIS export and provisioning reports read them as stored. Every writer
of a sortable name keeps them (:func:`stored_names`; an insert through SQLAlchemy that gives
a sortable name but not the parts gets them from the columns' defaults, ``db.tables``).
"""

from __future__ import annotations

import re
from typing import Any

_SUFFIXES = re.compile(r"^(sr|jr|[iv]+|esq|senior|junior|esquire)\.?$", re.IGNORECASE)


def name_parts(sortable_name: str | None) -> tuple[str | None, str | None]:
    """Given and surname from a sortable name, surname first (Canvas's ``name_parts``)."""
    if not sortable_name:
        return None, None
    surname: str | None
    if sortable_name.count(",") == 1:
        # "Surname, Given", nearly every name: what the split below makes of it, without the
        # regular expression.
        before, _, after = sortable_name.partition(",")
        surname, given = before.strip(), after.strip()
        return _without_suffix(given), (surname or None)
    parts = [p.strip() for p in re.split(r"\s*,\s*", sortable_name.strip(), maxsplit=2)]
    if len(parts) >= 2:
        surname, given = parts[0], parts[1]
        if len(parts) == 3 and parts[2] and not _SUFFIXES.match(parts[2]):
            given = f"{given} {parts[2]}".strip()
    else:
        words = parts[0].split()
        if words and _SUFFIXES.match(words[-1]) and len(words) > 1:
            words = words[:-1]
        if len(words) >= 2:
            surname, given = words[-1], " ".join(words[:-1])
        else:
            surname, given = None, " ".join(words)
    return _without_suffix(given), (surname or None)


def _without_suffix(given: str) -> str | None:
    """The given name without a trailing suffix word (``Jr.``, ``III``); None when empty."""
    given_words = given.split()
    if len(given_words) > 1 and _SUFFIXES.match(given_words[-1]):
        given = " ".join(given_words[:-1])
    return given or None


def stored_names(sortable_name: Any) -> dict[str, str | None]:
    """``first_name`` and ``last_name`` of a users row with this sortable name."""
    first, last = name_parts(sortable_name)
    return {"first_name": first, "last_name": last}
