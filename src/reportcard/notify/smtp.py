"""Talking to the SMTP server: open a connection as the settings say, send one message.

Errors are sorted into permanent ones (the server refused this message or recipient with a
5xx code: retrying cannot help) and transient ones (no connection, timeouts, 4xx, a login the
operator may still fix), which the mailer retries later.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from reportcard.settings import Settings

DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


class SendError(Exception):
    """A message could not be sent; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def connect(settings: Settings) -> smtplib.SMTP:
    """An open, authenticated connection; raises SendError (transient) when there is none."""
    security = settings.smtp_security
    port = settings.smtp_port or DEFAULT_PORTS[security]
    try:
        smtp: smtplib.SMTP
        if security == "tls":
            smtp = smtplib.SMTP_SSL(
                settings.smtp_host,
                port,
                timeout=settings.smtp_timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, port, timeout=settings.smtp_timeout)
        try:
            smtp.ehlo_or_helo_if_needed()
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
        except BaseException:
            smtp.close()
            raise
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(
            f"cannot connect to {settings.smtp_host}:{port}: {_text(exc)}", permanent=False
        ) from exc
    return smtp


def build(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.smtp_sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    domain = settings.smtp_sender.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(body)
    return msg


def send(smtp: smtplib.SMTP, settings: Settings, to: str, subject: str, body: str) -> None:
    """Send one message on an open connection; raises SendError."""
    if "@" not in to or any(c in to for c in "\r\n,;<>"):
        raise SendError(f"not an email address: {to!r}", permanent=True)
    try:
        smtp.send_message(build(settings, to, subject, body))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise SendError(_text(exc), permanent=all(c >= 500 for c in codes)) from exc
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        raise SendError(_text(exc), permanent=exc.smtp_code >= 500) from exc
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        raise SendError(_text(exc), permanent=isinstance(exc, ValueError)) from exc


def _text(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{rcpt}: {code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
            for rcpt, (code, msg) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error
        text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
