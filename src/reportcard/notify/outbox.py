"""The email outbox: write a message now (in the caller's transaction), deliver it later.

:func:`enqueue` only inserts a row in ``outbox_messages``; the mailer job
(:mod:`reportcard.notify.mail`) sends due rows with retries, so a down mail server delays a
message but never loses it, and never fails the transaction that wrote it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from reportcard.clock import utcnow
from reportcard.db.notify_tables import outbox_messages

__all__ = ["PUBLIC_URL", "enqueue", "file_link"]

# Written in a body where the server's public address belongs (``{PUBLIC_URL}/accounts/1/...``);
# the mailer replaces it with the ``public_url`` setting when it sends the message.
PUBLIC_URL = "{{public_url}}"


def file_link(account_id: int, attachment_id: int) -> str:
    """A download link for a body; the mailer fills in the address and a signed verifier.

    The verifier (:mod:`reportcard.auth.links`) is signed when the message is sent and stays
    valid as long as the file is kept (see docs/delivery.md).
    """
    return (
        f"{PUBLIC_URL}/accounts/{account_id}/files/{attachment_id}/download"
        f"?download_frd=1&verifier={{{{verifier:{attachment_id}}}}}"
    )


def enqueue(
    conn: Connection,
    *,
    to: str,
    subject: str,
    body: str,
    run_id: int | None = None,
    kind: str = "report",
    now: datetime | None = None,
) -> int:
    """Write one message for ``to`` in the outbox; returns its id. Delivery happens later."""
    at = now or utcnow()
    result = conn.execute(
        outbox_messages.insert().values(
            kind=kind,
            run_id=run_id,
            to_address=to.strip(),
            subject=" ".join(subject.split()),  # one header line
            body=body,
            state="pending",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])
