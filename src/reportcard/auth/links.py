"""Signed download links: a verifier that names one file and an expiry, and cannot be altered.

The verifier of ``/files/:id/download?verifier=...`` is ``<expires>-<mac>``: ``expires`` is a
Unix time and ``mac`` the first 32 hex digits of HMAC-SHA256 over ``<file id>:<expires>`` keyed
with the file's own random ``uuid`` and the server's ``link_secret`` setting. Changing the file id
or the expiry breaks the MAC; a file's uuid is random per file, so a link to one file says
nothing about another; a deleted file answers 404 whatever the link. Comparison is constant-time.

The expiry is rounded **up** to a multiple of 1/100 of the link's lifetime (at least one second;
864 s for the default day): a link is valid for at least its lifetime and at most 1% longer,
and every answer built within one such bucket carries the same verifier, so a status poll's
bytes do not change from one second to the next (and can be cached for that long).

Canvas's own verifier is the bare attachment uuid and never expires; that form is accepted only
when ``download_uuid_verifier`` is on.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import Any

_config: dict[str, Any] = {"secret": None, "seconds": None, "uuid_ok": None}


# Expiries are rounded up to a multiple of lifetime / EXPIRY_BUCKETS.
EXPIRY_BUCKETS = 100


def bucket_seconds(ttl: int) -> int:
    """The step expiries of links valid ``ttl`` seconds are rounded up to."""
    return max(1, ttl // EXPIRY_BUCKETS)


def expiry(ttl: int, now: float) -> int:
    """When a link signed at ``now`` for ``ttl`` seconds expires: rounded up to the bucket."""
    step = bucket_seconds(ttl)
    earliest = math.ceil(now + ttl)
    return -(-earliest // step) * step


def configure(*, secret: str, seconds: int, uuid_ok: bool) -> None:
    """Set the process's link settings (``create_app`` does; otherwise read from settings)."""
    _config.update(secret=secret, seconds=seconds, uuid_ok=uuid_ok)


def _settings() -> tuple[str, int, bool]:
    if _config["secret"] is None:
        from reportcard.settings import get_settings

        s = get_settings()
        configure(
            secret=s.link_secret,
            seconds=s.download_link_seconds,
            uuid_ok=s.download_uuid_verifier,
        )
    return str(_config["secret"]), int(_config["seconds"]), bool(_config["uuid_ok"])


def _mac(file_id: int, file_uuid: str, expires: int, secret: str) -> str:
    key = f"{secret}\x00{file_uuid}".encode()
    return hmac.new(key, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def sign(file_id: int, file_uuid: str, seconds: int | None = None, now: float | None = None) -> str:
    """A verifier for one file, valid ``seconds`` (default: ``download_link_seconds``)."""
    secret, default, _ = _settings()
    ttl = default if seconds is None else seconds
    expires = expiry(ttl, time.time() if now is None else now)
    return f"{expires}-{_mac(file_id, file_uuid, expires, secret)}"


def verify(file_id: int, file_uuid: str, verifier: str, now: float | None = None) -> bool:
    """True when ``verifier`` was signed for this file and has not expired."""
    secret, _, uuid_ok = _settings()
    if uuid_ok and hmac.compare_digest(verifier.encode(), file_uuid.encode()):
        return True
    head, sep, mac = verifier.partition("-")
    if not sep or not (head.isascii() and head.isdigit()) or len(head) > 12 or len(mac) != 32:
        return False
    expires = int(head)
    if expires <= (time.time() if now is None else now):
        return False
    return hmac.compare_digest(mac.encode(), _mac(file_id, file_uuid, expires, secret).encode())
