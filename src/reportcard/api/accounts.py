"""Account and term endpoints clients use to find the account to report on."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import and_, select
from starlette.responses import Response

from reportcard.api.pagination import counted_page, link_header, page_of
from reportcard.api.reports import root_zone
from reportcard.auth.permissions import admin_account_ids
from reportcard.db.engine import read_conn
from reportcard.db.tables import account_ancestors, accounts, enrollment_terms
from reportcard.reports.params import value_to_boolean
from reportcard.service.deps import ServicesDep, UserDep, authorize_account
from reportcard.service.errors import json_response
from reportcard.service.serializers import account_json, term_json

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])


@router.get("", summary="List accounts", operation_id="list_accounts")
def list_accounts(request: Request, svc: ServicesDep, user: UserDep) -> Response:
    """Accounts the current user administers (an empty list for everyone else)."""
    page = page_of(request)
    with read_conn(svc.engine) as conn:
        ids = admin_account_ids(conn, user.id)
        rows = conn.execute(
            select(accounts)
            .where(accounts.c.id.in_(ids))
            .order_by(accounts.c.id)
            .offset(page.offset)
            .limit(page.per_page)
        ).all()
        body = [account_json(r) for r in rows]
    return json_response(body, headers={"Link": link_header(request, page, len(ids))})


@router.get("/{account_id}", summary="Get a single account", operation_id="get_account")
def get_account(account_id: str, svc: ServicesDep, user: UserDep) -> Response:
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        return json_response(account_json(account))


@router.get(
    "/{account_id}/sub_accounts",
    summary="Get the sub-accounts of an account",
    operation_id="list_sub_accounts",
)
def sub_accounts(account_id: str, request: Request, svc: ServicesDep, user: UserDep) -> Response:
    """Direct children (``recursive=true``: every descendant), not deleted, by id."""
    page = page_of(request)
    recursive = value_to_boolean(request.query_params.get("recursive"))
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        if recursive:
            cond = accounts.c.id.in_(
                select(account_ancestors.c.account_id).where(
                    account_ancestors.c.ancestor_id == account.id,
                    account_ancestors.c.depth > 0,
                )
            )
        else:
            cond = accounts.c.parent_account_id == account.id
        alive = accounts.c.workflow_state != "deleted"
        total, rows = counted_page(
            conn, accounts, and_(cond, alive), page, order_by=[accounts.c.id]
        )
        body = [account_json(r) for r in rows]
    return json_response(body, headers={"Link": link_header(request, page, total)})


@router.get(
    "/{account_id}/terms", summary="List enrollment terms", operation_id="list_enrollment_terms"
)
def terms(account_id: str, request: Request, svc: ServicesDep, user: UserDep) -> Response:
    """The root account's terms as ``{"enrollment_terms": [...]}``; ``workflow_state`` filters."""
    page = page_of(request)
    wanted = request.query_params.getlist("workflow_state[]") or request.query_params.getlist(
        "workflow_state"
    )
    with read_conn(svc.engine) as conn:
        account = authorize_account(conn, user, account_id)
        root_id = account.root_account_id or account.id
        cond = enrollment_terms.c.root_account_id == root_id
        if wanted and "all" not in wanted:
            cond = cond & enrollment_terms.c.workflow_state.in_(wanted)
        elif not wanted:
            cond = cond & (enrollment_terms.c.workflow_state != "deleted")
        total, rows = counted_page(
            conn, enrollment_terms, cond, page, order_by=[enrollment_terms.c.id]
        )
        tz = root_zone(conn, account)
        body = {"enrollment_terms": [term_json(r, tz) for r in rows]}
    return json_response(body, headers={"Link": link_header(request, page, total)})
