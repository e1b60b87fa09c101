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
from dataclasses import dataclass

from reportcard.settings import Settings

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


def _mac(file_id: int, file_uuid: str, expires: int, secret: str) -> str:
    key = f"{secret}\x00{file_uuid}".encode()
    return hmac.new(key, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class LinkSigner:
    """Signs and checks download links with one server's settings (held by the runtime)."""

    secret: str
    seconds: int  # a link's default lifetime
    uuid_ok: bool  # Canvas's bare-uuid verifier accepted

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkSigner:
        return cls(
            secret=settings.link_secret,
            seconds=settings.download_link_seconds,
            uuid_ok=settings.download_uuid_verifier,
        )

    def sign(
        self, file_id: int, file_uuid: str, seconds: int | None = None, now: float | None = None
    ) -> str:
        """A verifier for one file, valid ``seconds`` (default: ``download_link_seconds``)."""
        ttl = self.seconds if seconds is None else seconds
        expires = expiry(ttl, time.time() if now is None else now)
        return f"{expires}-{_mac(file_id, file_uuid, expires, self.secret)}"

    def verify(self, file_id: int, file_uuid: str, verifier: str, now: float | None = None) -> bool:
        """True when ``verifier`` was signed for this file and has not expired."""
        if self.uuid_ok and hmac.compare_digest(verifier.encode(), file_uuid.encode()):
            return True
        head, sep, mac = verifier.partition("-")
        if not sep or not (head.isascii() and head.isdigit()) or len(head) > 12 or len(mac) != 32:
            return False
        expires = int(head)
        if expires <= (time.time() if now is None else now):
            return False
        expected = _mac(file_id, file_uuid, expires, self.secret)
        return hmac.compare_digest(mac.encode(), expected.encode())
