"""Outgoing mail: one message through the SMTP server the Settings name (`SMTP_*`).

The only code that speaks SMTP. `message` builds the message (pure, unit tested); `send` delivers
it or raises MailUnavailable. With no `SMTP_HOST` nothing is sent. Callers must not log what
they mail (it may hold a one-time token). Used by services.verification and workers.outbox (the
notices of services.notices).
"""

from __future__ import annotations

import email.message
import email.utils
import smtplib

from control_plane.core import config


class MailUnavailable(Exception):
    """The message could not be handed to the SMTP server."""


def message(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    html: str | None = None,
    message_id: str | None = None,
) -> email.message.EmailMessage:
    """A plain-text message, with an HTML alternative when given. `message_id` (a stable one
    for a message that may be sent again) or a new one."""
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="tenantry")
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def send(
    settings: config.Settings,
    *,
    to: str,
    subject: str,
    body: str,
    html: str | None = None,
    message_id: str | None = None,
) -> None:
    """Deliver one message (MailUnavailable if the server refuses or cannot be reached)."""
    if settings.SMTP_HOST is None:
        raise MailUnavailable("no SMTP_HOST is configured")
    msg = message(
        sender=settings.MAIL_FROM,
        to=to,
        subject=subject,
        body=body,
        html=html,
        message_id=message_id,
    )
    try:
        with smtplib.SMTP(settings.SMTP_HOST, settings.SMTP_PORT, timeout=10) as smtp:
            if settings.SMTP_STARTTLS:
                smtp.starttls()
            if settings.SMTP_USERNAME and settings.SMTP_PASSWORD:
                smtp.login(settings.SMTP_USERNAME, settings.SMTP_PASSWORD.get_secret_value())
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailUnavailable(f"{type(exc).__name__}: {exc}") from exc
