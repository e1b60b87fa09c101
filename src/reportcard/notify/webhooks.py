"""Webhooks: signed JSON events POSTed when a run completes or fails, with retries and a log.

- A run-ended listener writes one ``webhook_deliveries`` row per matching endpoint (registered
  on the run's account or any ancestor, subscribed to the event) in the transaction that ends
  the run, with the exact JSON body to send.
- A periodic job (:func:`send_due`) claims due rows with a conditional UPDATE, POSTs them and
  records the status code, the attempts and the last error; a failure is retried after
  ``REPORTCARD_WEBHOOK_RETRY_SECONDS``, doubling each time, until
  ``REPORTCARD_WEBHOOK_MAX_ATTEMPTS``.
- Signature: header ``X-Reportcard-Signature: t=<unix seconds>,v1=<hex>`` where ``hex`` is
  HMAC-SHA256 with the endpoint's secret over ``f"{t}.{body}"`` (:func:`verify_signature`).
- SSRF: the host is resolved and every address must be public (not loopback, private,
  link-local (cloud metadata), multicast, reserved or unspecified), and so must every IPv4
  address an IPv6 address embeds (IPv4-mapped and -compatible, NAT64, 6to4, Teredo), unless
  it is listed in ``REPORTCARD_WEBHOOK_ALLOWED_HOSTS``; checked at registration and again
  at each send, and the POST goes to the address that was checked (no second lookup, no
  redirects followed).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import Connection, Engine, Select, and_, or_, select, update

from reportcard.clock import utcnow
from reportcard.db.engine import read_conn
from reportcard.db.schedule_tables import report_webhooks, webhook_deliveries
from reportcard.db.tables import account_ancestors
from reportcard.notify.outbox import PUBLIC_URL
from reportcard.reports.formatting import to_utc
from reportcard.runs.hooks import Hooks
from reportcard.settings import Settings
from reportcard.storage.base import Storage

__all__ = [
    "EVENTS",
    "SIGNATURE_HEADER",
    "AddressRefused",
    "check_url",
    "new_secret",
    "send_due",
    "sign",
    "verify_signature",
]

log = logging.getLogger(__name__)

EVENTS = ("report.completed", "report.failed")
SIGNATURE_HEADER = "X-Reportcard-Signature"
_STATE_EVENT = {"complete": "report.completed", "error": "report.failed"}
_MAX_BACKOFF = 6 * 3600.0


class AddressRefused(ValueError):
    """The URL is not an allowed webhook destination; the message says why."""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, *, tolerance: float = 300, now: float | None = None
) -> bool:
    """What a receiver does: recompute the HMAC and check the timestamp is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# ---------------------------------------------------------------------------------- SSRF
def _allowed_entries(settings: Settings) -> tuple[set[str], list[Any]]:
    names: set[str] = set()
    nets: list[Any] = []
    for raw in settings.webhook_allowed_hosts.split(","):
        item = raw.strip().lower()
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            names.add(item.rstrip("."))
    return names, nets


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use prefix
_V4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d (RFC 4291)


def embedded_ipv4(ip: Any) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and may be routed to.

    IPv4-mapped (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), NAT64
    (``64:ff9b::a.b.c.d`` and the local-use ``64:ff9b:1::/48``), 6to4 (``2002:AABB:CCDD::``)
    and Teredo (server and de-obfuscated client).
    """
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in _NAT64 or ip in _NAT64_LOCAL or ip in _V4_COMPATIBLE:
        found.append(low32)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def _public_one(ip: Any) -> bool:
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _public(ip: Any) -> bool:
    """A public address, whose embedded IPv4 addresses (if any) are all public too.

    An IPv4-mapped or NAT64 address (64:ff9b::/96) is what its IPv4 address is: a NAT64
    gateway sends it there. Every other form (6to4, Teredo, IPv4-compatible, local-use NAT64)
    must be public itself and carry only public IPv4 addresses.
    """
    inner = embedded_ipv4(ip)
    if isinstance(ip, ipaddress.IPv6Address) and (ip.ipv4_mapped is not None or ip in _NAT64):
        return all(_public_one(v4) for v4 in inner)
    return _public_one(ip) and all(_public_one(v4) for v4 in inner)


@dataclass(frozen=True)
class Target:
    url: str  # the URL with the checked address in place of the host
    host: str  # the Host header
    sni: str | None  # TLS server name (https)


def check_url(url: str, settings: Settings) -> Target:
    """Resolve ``url``'s host and check every address; the pinned target, or AddressRefused."""
    if not isinstance(url, str) or len(url) > 2048:
        raise AddressRefused("url must be an http(s) URL of at most 2048 characters")
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError as exc:  # "http://[::1" and the like
        raise AddressRefused("url must be an absolute http:// or https:// URL") from exc
    if parts.scheme not in ("http", "https") or not hostname:
        raise AddressRefused("url must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise AddressRefused("url must not carry credentials")
    host = hostname.lower().rstrip(".")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise AddressRefused("url has an invalid port") from exc
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"host {host!r} does not resolve") from exc
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise AddressRefused(f"host {host!r} does not resolve")
    names, nets = _allowed_entries(settings)
    for ip in addresses:
        allowed = host in names or any(ip in net for net in nets)
        if not allowed and not _public(ip):
            raise AddressRefused(
                f"{host!r} resolves to {ip}, a non-public address; webhooks may only reach "
                "public addresses (see REPORTCARD_WEBHOOK_ALLOWED_HOSTS)"
            )
    ip = addresses[0]
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(pinned, host_header, host if parts.scheme == "https" else None)


# ---------------------------------------------------------------------------------- events
def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(run: Any, event: str, delivery: str, now: datetime, base: str) -> str:
    """The JSON body of one delivery (stored verbatim; the signature covers these bytes)."""
    file_url = None
    if run.attachment_id is not None:
        file_url = f"{base}/accounts/{run.account_id}/files/{run.attachment_id}/download"
    payload = {
        "event": event,
        "delivery_id": delivery,
        "created_at": _iso(now),
        "report": {
            "id": int(run.id),
            "report": run.report_type,
            "account_id": int(run.account_id),
            "root_account_id": int(run.root_account_id),
            "user_id": None if run.user_id is None else int(run.user_id),
            "status": run.workflow_state,
            "file_url": file_url,
            "attachment_id": None if run.attachment_id is None else int(run.attachment_id),
            "message": run.message,
            "parameters": run.parameters or {},
            "created_at": _iso(run.created_at),
            "started_at": _iso(run.start_at),
            "ended_at": _iso(run.end_at),
        },
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=False, default=str)


def queue_webhook_events(conn: Connection, run: Any) -> None:
    """Write a delivery for each endpoint of the run's account (or an ancestor) that wants it.

    Runs in a savepoint: a failure here is logged and never undoes the run's transition.
    """
    try:
        with conn.begin_nested():
            _queue(conn, run)
    except Exception:
        log.exception("could not queue the webhook events of run %s", run.id)


def endpoints_of(account_id: int) -> Select[Any]:
    """The active, enabled endpoints of the account and of its ancestors."""
    chain = select(account_ancestors.c.ancestor_id).where(
        account_ancestors.c.account_id == account_id
    )
    w = report_webhooks.c
    return select(report_webhooks).where(
        or_(w.account_id.in_(chain), w.account_id == account_id),
        w.workflow_state == "active",
        w.enabled.is_(True),
    )


def _prime(conn: Connection) -> None:
    """The run-ended listener's read, compiled at a worker's warm-up (an account no row has)."""
    conn.execute(endpoints_of(0)).all()


def _queue(conn: Connection, run: Any) -> None:
    event = _STATE_EVENT.get(run.workflow_state)
    if event is None:
        return
    hooks = conn.execute(endpoints_of(run.account_id)).all()
    if not hooks:
        return
    now = utcnow()
    base = PUBLIC_URL  # replaced by REPORTCARD_PUBLIC_URL when the delivery is sent
    for hook in hooks:
        if event not in (hook.events or []):
            continue
        delivery = uuid.uuid4().hex
        conn.execute(
            webhook_deliveries.insert().values(
                webhook_id=hook.id,
                run_id=run.id,
                event=event,
                uuid=delivery,
                payload=event_body(run, event, delivery, now, base),
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


# ---------------------------------------------------------------------------------- sending
def backoff(settings: Settings, attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: retry_seconds x 2^(attempts-1), capped."""
    seconds = settings.webhook_retry_seconds * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(seconds, _MAX_BACKOFF))


def _post(settings: Settings, url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST to the pinned address; the status code (raises on a transport error)."""
    target = check_url(url, settings)
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    extensions = {"sni_hostname": target.sni} if target.sni else {}
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        response = client.post(
            target.url,
            content=body,
            headers={**headers, "Host": target.host},
            extensions=extensions,
        )
        return int(response.status_code)


def _claim(engine: Engine, now: datetime, worker: str, limit: int, stale: datetime) -> list[int]:
    d = webhook_deliveries.c
    with read_conn(engine) as conn:
        ids = [
            int(i)
            for i in conn.execute(
                select(d.id)
                .where(
                    or_(
                        and_(d.state == "pending", d.next_attempt_at <= now),
                        and_(d.state == "sending", d.claimed_at < stale),
                    )
                )
                .order_by(d.next_attempt_at, d.id)
                .limit(limit)
            ).scalars()
        ]
        conn.rollback()
    claimed = []
    for delivery_id in ids:
        with engine.begin() as conn:
            res = conn.execute(
                update(webhook_deliveries)
                .where(
                    d.id == delivery_id,
                    or_(
                        and_(d.state == "pending", d.next_attempt_at <= now),
                        and_(d.state == "sending", d.claimed_at < stale),
                    ),
                )
                .values(state="sending", claimed_by=worker, claimed_at=now)
            )
            if res.rowcount == 1:
                claimed.append(delivery_id)
    return claimed


def send_one(engine: Engine, settings: Settings, delivery_id: int, now: datetime) -> str:
    """Attempt one claimed delivery; returns its new state."""
    d = webhook_deliveries.c
    with read_conn(engine) as conn:
        row = conn.execute(select(webhook_deliveries).where(d.id == delivery_id)).one()
        hook = conn.execute(
            select(report_webhooks).where(report_webhooks.c.id == row.webhook_id)
        ).first()
        conn.rollback()
    status: int | None = None
    error: str | None = None
    final = False
    if hook is None or hook.workflow_state != "active":
        error, final = "the webhook was deleted", True
    else:
        public = (settings.public_url or "http://127.0.0.1:8000").rstrip("/")
        body = row.payload.replace(PUBLIC_URL, public).encode()
        timestamp = int(to_utc(now).timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "reportcard-webhooks",
            "X-Reportcard-Event": row.event,
            "X-Reportcard-Delivery": row.uuid,
            SIGNATURE_HEADER: sign(hook.secret, timestamp, body),
        }
        try:
            status = _post(settings, hook.url, body, headers)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except AddressRefused as exc:
            error, final = f"refused: {exc}", True
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
    gone = hook is None or hook.workflow_state != "active"
    attempts = int(row.attempts) + (0 if gone else 1)
    if error is None:
        values: dict[str, Any] = {"state": "delivered", "delivered_at": now}
    elif final or attempts >= settings.webhook_max_attempts:
        values = {"state": "failed"}
    else:
        values = {"state": "pending", "next_attempt_at": now + backoff(settings, attempts)}
    values.update(
        attempts=attempts,
        last_status_code=status,
        last_error=error,
        claimed_by=None,
        claimed_at=None,
    )
    with engine.begin() as conn:
        conn.execute(
            update(webhook_deliveries)
            .where(d.id == delivery_id, d.state == "sending")
            .values(**values)
        )
    if error is not None:
        log.info("webhook delivery %s: %s", delivery_id, error)
    return str(values["state"])


def send_due(
    engine: Engine, settings: Settings, now: datetime | None = None, limit: int = 50
) -> int:
    """Send every due delivery once; returns how many attempts were made."""
    now = now or utcnow()
    worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
    stale = now - timedelta(seconds=settings.webhook_timeout_seconds * 3 + 60)
    done = 0
    for delivery_id in _claim(engine, now, worker, limit, stale):
        try:
            send_one(engine, settings, delivery_id, now)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", delivery_id)
        done += 1
    return done


def _job(engine: Engine, storage: Storage, settings: Settings, now: datetime) -> int:
    return send_due(engine, settings, now)


def install(hooks: Hooks) -> None:
    hooks.on_run_ended(queue_webhook_events)
    hooks.on_warm_up(_prime)
    hooks.every("webhook_deliveries", lambda s: s.webhook_poll_seconds, _job)
