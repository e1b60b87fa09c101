"""A float as Canvas writes it: Ruby's ``Float#to_s`` (``88.0``, ``37.5``, ``1.0e+20``).

The grade and outcome reports write stored float scores this way (:func:`ruby_float`), and
``scores.<kind>_score_text`` holds it for each score, computed by the database on every write
(:mod:`reportcard.db.functions`).
"""

from __future__ import annotations

import math
from typing import Any


def ruby_float(value: Any) -> str | None:
    """A float as Ruby's ``Float#to_s`` writes it: ``88.0``, ``37.5``, ``1.0e+20``."""
    if value is None:
        return None
    f = float(value)
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    text = repr(f)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    if "." not in mantissa:
        mantissa += ".0"
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{exponent.lstrip('+-').zfill(2)}"
