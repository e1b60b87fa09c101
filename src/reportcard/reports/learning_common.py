"""What the grade, outcome and submission reports share: account facts, values, extra text.

* :func:`resolve_account_facts` reads, once per run context, the account settings and feature
  flags that change headers or values (spec other-reports.md §4.1, §4.5, §4.6) into
  ``ctx.facts``.
* :func:`ruby_float` (from :mod:`reportcard.rubyfloat`) writes stored float scores as Ruby's
  ``Float#to_s`` does (``88.0``).
* :func:`login_value` picks a user's login on the root account in SQL, with the same
  preference order as the SIS export (docs/decisions/sis-export.md).
* :func:`common_extra_text` gives the ``Term: …;`` and include-deleted fragments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, exists, literal, select

from reportcard.db.learning_tables import account_settings, feature_flags
from reportcard.db.tables import account_ancestors, account_reports, accounts, pseudonyms
from reportcard.reports.aliases import named_alias
from reportcard.reports.basics import check_references
from reportcard.reports.catalog import RunContext
from reportcard.reports.params import value_to_boolean
from reportcard.rubyfloat import ruby_float

INCLUDE_DELETED_TEXT = "Include Deleted/Concluded Objects;"

# Feature flag states meaning "allowed" (may be turned on below) and "enabled" (on here).
ALLOWED_STATES = frozenset({"on", "allowed", "allowed_on"})
ENABLED_STATES = frozenset({"on", "allowed_on"})

# Locales whose decimal separator is a comma (outcome export number formatting).
COMMA_LOCALES = frozenset(
    {
        "ca", "cs", "cy", "da", "de", "el", "es", "fi", "fr", "hu", "hy", "id", "is", "it",
        "ka", "nb", "nl", "nn", "pl", "pt", "ro", "ru", "sk", "sl", "sq", "sr", "sv", "tr",
        "uk", "vi",
    }
)  # fmt: skip


def account_chain(conn: Connection, account_id: int) -> list[int]:
    """The account and its ancestors, nearest first (from the closure table)."""
    aa = account_ancestors
    rows = conn.execute(
        select(aa.c.ancestor_id).where(aa.c.account_id == account_id).order_by(aa.c.depth)
    ).scalars()
    chain = [int(r) for r in rows]
    return chain or [account_id]


def setting(conn: Connection, chain: list[int], name: str) -> str | None:
    """The nearest account setting ``name`` along ``chain`` (None when none sets it)."""
    query = select(account_settings.c.account_id, account_settings.c.value).where(
        account_settings.c.account_id.in_(chain), account_settings.c.name == name
    )
    rows = {int(r[0]): r[1] for r in conn.execute(query)}
    for account_id in chain:
        if account_id in rows:
            return rows[account_id]
    return None


def feature_state(conn: Connection, chain: list[int], feature: str) -> str | None:
    """The nearest flag state of ``feature`` along the account chain, or None (off)."""
    ff = feature_flags
    query = select(ff.c.context_id, ff.c.state).where(
        ff.c.context_type == "Account", ff.c.context_id.in_(chain), ff.c.feature == feature
    )
    rows = {int(r[0]): r[1] for r in conn.execute(query)}
    for account_id in chain:
        if account_id in rows:
            return str(rows[account_id])
    return None


def resolve_account_facts(conn: Connection, ctx: RunContext) -> None:
    """Account settings and flags the learning reports read, into ``ctx.facts``.

    * ``integration_ids``: the root account's ``include_integration_ids_in_gradebook_exports``;
    * ``override``: Final Grades Override is allowed for the report account (nearest flag);
    * ``mastery_scales``: Account-level mastery scales is enabled on the root account;
    * ``domain``: the root account's domain; ``locale``: the nearest ``default_locale``.

    It also pins ``ctx.now`` to the run's start time when there is a run record, so that
    every shard of a run computes relative windows from the same instant.
    """
    chain = account_chain(conn, ctx.account_id)
    root = [ctx.root_account_id]
    facts = ctx.facts
    facts["integration_ids"] = value_to_boolean(
        setting(conn, root, "include_integration_ids_in_gradebook_exports")
    )
    facts["override"] = feature_state(conn, chain, "final_grades_override") in ALLOWED_STATES
    facts["mastery_scales"] = (
        feature_state(conn, root, "account_level_mastery_scales") in ENABLED_STATES
    )
    facts["domain"] = conn.execute(
        select(accounts.c.domain).where(accounts.c.id == ctx.root_account_id)
    ).scalar()
    facts["locale"] = setting(conn, chain, "default_locale")
    started = conn.execute(
        select(account_reports.c.start_at).where(account_reports.c.id == ctx.report_id)
    ).scalar()
    if started is not None:
        ctx.now = started


# ---------------------------------------------------------------- values


def locale_number(value: Any, locale: str | None) -> str | None:
    """A float in the account locale's number format: ``3.0``, German ``3,0``."""
    text = ruby_float(value)
    if text is None or not locale:
        return text
    if locale.replace("_", "-").split("-")[0].lower() in COMMA_LOCALES:
        return text.replace(".", ",")
    return text


def mastered(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """A nullable boolean as ``1`` / ``0`` / blank."""
    return case((value.is_(None), None), (value, literal(1)), else_=literal(0))


def login_value(
    ctx: RunContext,
    include_deleted: bool,
    user_col: ColumnElement[Any],
    column: str,
    *,
    preferred: ColumnElement[Any] | None = None,
    name: str = "login",
) -> ColumnElement[Any]:
    """``column`` of the login chosen for ``user_col`` on the root account (correlated SQL).

    The candidates are the user's logins on the root account, deleted ones only with
    include_deleted. ``preferred`` (an enrollment's ``sis_pseudonym_id``) wins when it is a
    candidate; otherwise the first in the order workflow_state, has a SIS id first,
    unique_id, position, id: the SIS export's choice.
    """

    def candidates(alias: str) -> tuple[Any, list[ColumnElement[bool]]]:
        cand = named_alias(pseudonyms, alias)
        cond: list[ColumnElement[bool]] = [
            cand.c.user_id == user_col,
            cand.c.account_id == ctx.root_account_id,
        ]
        if not include_deleted:
            cond.append(cand.c.workflow_state != "deleted")
        return cand, cond

    cand, cond = candidates(name)
    order: list[ColumnElement[Any]] = [
        cand.c.workflow_state,
        case((cand.c.sis_user_id.is_(None), literal(1)), else_=literal(0)),
        cand.c.unique_id,
        cand.c.position,
        cand.c.id,
    ]
    if preferred is not None and ctx.dialect == "postgresql":
        # One probe of the user's logins: the preferred one sorts first when it is a
        # candidate (a CASE, not ``id = preferred``, whose NULL sorts first descending).
        # SQLite cannot refer to the outer row in a subquery's ORDER BY; it gets the probe of
        # the preferred login by primary key, then the first candidate.
        order.insert(0, case((cand.c.id == preferred, literal(0)), else_=literal(1)))
        preferred = None
    first = (
        select(cand.c[column])
        .where(and_(*cond))
        .order_by(*order)
        .limit(1)
        .correlate_except(cand)
        .scalar_subquery()
    )
    if preferred is None:
        return first
    pref, pref_cond = candidates(name + "_pref")
    pref_cond.append(pref.c.id == preferred)
    probe = select(pref.c.id).where(and_(*pref_cond)).correlate_except(pref).scalar_subquery()
    chosen = select(pref.c[column]).where(and_(*pref_cond)).correlate_except(pref)
    return case((probe.is_not(None), chosen.scalar_subquery()), else_=first)


def has_root_login(
    ctx: RunContext, include_deleted: bool, user_col: ColumnElement[Any]
) -> ColumnElement[bool]:
    """The user has a candidate login on the root account (rows without one are skipped)."""
    cand = named_alias(pseudonyms, "login_any")
    cond: list[ColumnElement[bool]] = [
        cand.c.user_id == user_col,
        cand.c.account_id == ctx.root_account_id,
    ]
    if not include_deleted:
        cond.append(cand.c.workflow_state != "deleted")
    return exists().where(*cond).correlate_except(cand)


# ---------------------------------------------------------------- parts and extra text


def checked(parts: list[str]) -> Callable[[RunContext], list[str]]:
    """``select_parts`` of a fixed part list that fails a run on an unknown term or course."""

    def select_parts(ctx: RunContext) -> list[str]:
        check_references(ctx)
        return list(parts)

    return select_parts


def term_text(ctx: RunContext) -> str:
    term = ctx.term_name if ctx.term_ids is not None and ctx.term_name else "All Terms"
    return f"Term: {term};"


def common_extra_text(ctx: RunContext, *, include_deleted: bool = True) -> list[str]:
    """``Term: …;`` and, when set and read by the report, the include-deleted fragment."""
    parts = [term_text(ctx)]
    if include_deleted and ctx.flag("include_deleted"):
        parts.append(INCLUDE_DELETED_TEXT)
    return parts
