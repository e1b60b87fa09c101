"""Canvas pagination: ``page``/``per_page`` (default 10, max 100) and absolute ``Link`` URLs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from sqlalchemy import ColumnElement, Connection, Row, Table, func, select

from reportcard.ids import is_id
from reportcard.service.errors import not_found

_DROP = {"page", "per_page", "access_token", "api_key"}
# Characters a path may carry as they are (RFC 3986 pchar and "/"); everything else, such as
# the Cyrillic of ``sis_account_id:КАФЕДРА-1`` or a "%" the client escaped, is percent-encoded
# as UTF-8, so a Link header is always ASCII.
PATH_SAFE = "/:@!$&'()*+,;=~"


def url_path(path: str) -> str:
    """A decoded request path as it goes into a URL (ASCII, percent-encoded UTF-8)."""
    return quote(path, safe=PATH_SAFE)


@dataclass(frozen=True)
class Page:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_of(request: Request, default: int = 10, maximum: int = 100) -> Page:
    q = request.query_params
    try:
        per_page = int(q.get("per_page", default))
    except ValueError:
        per_page = default
    per_page = max(1, min(maximum, per_page))
    raw_page = q.get("page", "1")
    if not is_id(raw_page) or len(raw_page) > 9 or int(raw_page) < 1:
        raise not_found()
    return Page(int(raw_page), per_page)


def link_header(request: Request, page: Page, total: int) -> str:
    """``current, next, prev, first, last`` rels with the caller's own base URL."""
    here = request.url
    base = f"{here.scheme}://{here.netloc}{url_path(here.path)}"
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in _DROP]

    def url(n: int) -> str:
        query = urlencode([*kept, ("page", str(n)), ("per_page", str(page.per_page))])
        return f"{base}?{query}"

    last = max(1, -(-total // page.per_page))
    links = [f'<{url(page.page)}>; rel="current"']
    if page.page < last:
        links.append(f'<{url(page.page + 1)}>; rel="next"')
    if page.page > 1:
        links.append(f'<{url(page.page - 1)}>; rel="prev"')
    links.append(f'<{url(1)}>; rel="first"')
    links.append(f'<{url(last)}>; rel="last"')
    return ",".join(links)


def counted_page(
    conn: Connection,
    table: Table,
    cond: ColumnElement[bool],
    page: Page,
    *,
    order_by: Sequence[ColumnElement[Any]],
) -> tuple[int, Sequence[Row[Any]]]:
    """How many rows of ``table`` match ``cond`` (for the Link header), and those of ``page``."""
    total = conn.execute(select(func.count()).select_from(table).where(cond)).scalar_one()
    rows = conn.execute(
        select(table).where(cond).order_by(*order_by).offset(page.offset).limit(page.per_page)
    ).all()
    return int(total), rows
