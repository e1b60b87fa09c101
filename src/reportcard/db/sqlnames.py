"""The sortable name's parts in SQL, and the mark of a value the database leaves to Python.

``first_name``/``last_name`` of ``reportcard.reports.formatting`` (``names.name_parts``) as SQL
expressions, exact for names of the shape ``Surname, Given`` with nothing for Python to strip,
:data:`MARK` followed by the name otherwise (see :func:`sql_first_name`). The reports' SQL forms
(``reports.sqlformat``) and the CD2 import (``lms.cd2``: ``users.first_name``/``last_name``
from the staged sortable names) build them; kept here, below both, so that the CD2 import
does not load the reports' formatting modules (about 25 ms of the command's start).
``tests/reports/test_sqlformat.py`` compares them with the Python formatters on both
databases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text, and_, case, func, literal, or_, type_coerce

# Leads a value the database left to Python: the stored value follows it. No value computed
# in SQL starts with it (a name holding it goes to Python; times start with a digit).
MARK = "\x1e"

# Whitespace as Python's str.split()/strip() see it, but the plain space: every code point
# whose str.isspace() is true (tests/reports/test_sqlformat.py checks it against the running
# Python). Written out: finding them among the 1.1M code points took 0.1 s of every command's start.
_OTHER_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Non-ASCII characters that a case-insensitive match, or lower()/upper(), could turn into an
# ASCII letter (the suffixes' letters): a given name holding one goes to Python.
_FOLDING = "\u00df\u0130\u0131\u0149\u017f\u01f0\u1e96\u1e97\u1e98\u1e99\u1e9a\u1e9e\u212a" + (
    "\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"
)

# The suffixes of formatting._SUFFIXES, case by case in ASCII: (sr|jr|esq|senior|junior|esquire)
_WORDS = ("sr", "jr", "esq", "senior", "junior", "esquire")


def _ci(word: str) -> str:
    """``[Ss][Rr]``: the word in either case, as a GLOB or a regular expression class."""
    return "".join(f"[{c.upper()}{c}]" for c in word)


def _klass(chars: str) -> str:
    """The members of a bracket class for ``chars``, runs of code points as ranges (``a-c``).

    SQLite compares each character with every member of a GLOB class: ranges keep it short.
    """
    codes = sorted(map(ord, chars))
    runs: list[list[int]] = []
    for c in codes:
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in runs)


_SPACE_CLASS = _klass(_OTHER_SPACE)
_FOLDING_CLASS = _klass(_FOLDING)
_PG_SUFFIX = " (" + "|".join([*map(_ci, _WORDS), "[IiVv]+"]) + r")\.?$"


def _is_pg(dialect: str) -> bool:
    return dialect == "postgresql"


def find(dialect: str, text: ColumnElement[Any], sub: str) -> ColumnElement[Any]:
    """1-based position of ``sub`` in ``text``, 0 when absent (``dialect``: SQLAlchemy's
    dialect name)."""
    return func.strpos(text, sub) if _is_pg(dialect) else func.instr(text, sub)


def _has(dialect: str, text: ColumnElement[Any], klass: str) -> ColumnElement[bool]:
    """``text`` holds a character of the bracket class ``klass``."""
    if _is_pg(dialect):
        return text.op("~", is_comparison=True)(literal(f"[{klass}]"))
    return text.op("GLOB", is_comparison=True)(literal(f"*[{klass}]*"))


def _plain(dialect: str, text: ColumnElement[Any]) -> ColumnElement[bool]:
    """``text`` holds no whitespace but the plain space.

    On SQLite a GLOB class costs a comparison per member and character: the one-range test
    (printable ASCII throughout) first, the exact class only for other text.
    """
    if _is_pg(dialect):
        return ~_has(dialect, text, _SPACE_CLASS)
    return or_(
        ~text.op("GLOB", is_comparison=True)(literal("*[^ -~]*")),
        ~_has(dialect, text, _SPACE_CLASS),
    )


def _glob_or_regex(dialect: str, s: ColumnElement[Any], glob: str, regex: str) -> Any:
    return (
        s.op("~", is_comparison=True)(literal(regex))
        if _is_pg(dialect)
        else s.op("GLOB", is_comparison=True)(literal(glob))
    )


def marked(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """MARK + ``value``: the value left to Python."""
    # Typed as text: ``+`` on a DateTime would be SQLite's numeric addition.
    return literal(MARK, Text) + type_coerce(value, Text)


def sql_last_name(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """``last_name(sortable_name)`` in SQL, or MARK + the name.

    Python strips the text before the name's one comma; SQL takes it as it is when it has
    neither a space nor another whitespace character at either end (nor is empty).
    """
    s = expr
    comma = find(dialect, s, ",")
    edge = f"[^ {_SPACE_CLASS}]"
    if _is_pg(dialect):  # ascii(): the code point of the first character (regexes cost more)
        spaces = [32, *map(ord, _OTHER_SPACE)]
        edges = [
            func.ascii(s).not_in(spaces),
            func.ascii(func.substr(s, comma - 1, 1)).not_in(spaces),
        ]
    else:
        edges = [
            _glob_or_regex(dialect, s, f"{edge}*", f"^{edge}"),
            _glob_or_regex(dialect, func.substr(s, comma - 1, 1), edge, f"^{edge}$"),
        ]
    shape = and_(comma > 1, find(dialect, func.substr(s, comma + 1), ",") == 0, *edges)
    return type_coerce(case((shape, func.substr(s, 1, comma - 1)), else_=marked(s)), Text)


def sql_first_name(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """``first_name(sortable_name)`` in SQL, or MARK + the name.

    SQL takes names whose one comma is followed by one space and the given name, with no
    other space at its end and no whitespace but the plain space in it: Python strips
    nothing of that. The given name is written as it is; when it has several words and the
    last is a suffix (``Jr.``, ``III``), the words before it. Several words with a double
    space (Python joins the words back with one) or with a character that folds onto an
    ASCII letter go to Python.
    """
    s = expr
    comma = find(dialect, s, ",")
    g = func.substr(s, comma + 2)
    if _is_pg(dialect):  # string functions where they do (PostgreSQL's regexes cost more)
        # Each use of g computes it again: the tests look at s where they can. The name ends
        # with the given name; a whitespace character anywhere in s sends it to Python.
        shape = and_(
            comma > 0,
            func.strpos(func.substr(s, comma + 1), ",") == 0,
            func.substr(s, comma + 1, 2).op("LIKE", is_comparison=True)(" _"),
            func.substr(s, comma + 2, 1) != " ",
            func.right(s, 1) != " ",
            _plain(dialect, s),
        )
    else:
        shape = and_(
            _glob_or_regex(dialect, s, "*, [^ ]*", ", [^ ]"),
            ~_glob_or_regex(dialect, s, "*,*,*", ",.*,"),
            ~_glob_or_regex(dialect, s, "* ", " $"),
            _plain(dialect, g),
        )
    # The name ends with the given name: with several given words, its last word is theirs.
    if _is_pg(dialect):
        one_word = ~s.op("LIKE", is_comparison=True)(literal("%, % %"))
        suffix: ColumnElement[bool] = s.op("~", is_comparison=True)(literal(_PG_SUFFIX))
        before_last = func.regexp_replace(g, " [^ ]*$", "")
    else:
        one_word = ~s.op("GLOB", is_comparison=True)(literal("*, * *"))
        # s without one final dot ends in a word of [IiVv]+ when stripping those letters
        # leaves it ending in the space before that word.
        h = case(
            (
                s.op("GLOB", is_comparison=True)(literal("*.")),
                func.substr(s, 1, func.length(s) - 1),
            ),
            else_=s,
        )
        roman = and_(
            func.rtrim(h, "IiVv").op("GLOB", is_comparison=True)(literal("* ")),
            ~h.op("GLOB", is_comparison=True)(literal("* ")),
        )
        words = [
            s.op("GLOB", is_comparison=True)(literal(f"* {_ci(w)}{dot}"))
            for w in _WORDS
            for dot in ("", ".")
        ]
        suffix = or_(*words, roman)
        # rtrim by every character of g but the space drops the last word, then the space.
        before_last = func.rtrim(func.rtrim(g, func.replace(g, " ", "")), " ")
    given = case(
        (one_word, g),
        (or_(find(dialect, g, "  ") > 0, _has(dialect, g, _FOLDING_CLASS)), marked(s)),
        (suffix, before_last),
        else_=g,
    )
    return type_coerce(case((shape, given), else_=marked(s)), Text)
