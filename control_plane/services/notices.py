"""Telling a tenant's billing contact what happens: one template per message (a subject, a plain
text and an HTML body), queued in the outbox in the transaction of the change it tells about.

`queue` records a SEND_MAIL outbox entry to the tenant's owner email (nothing when it has none);
workers.outbox renders it with `render` when it sends it, retries it while the SMTP server
refuses, and leaves it a dead letter (GET /outbox?state=dead) after OUTBOX_MAX_ATTEMPTS. A
message that names `$portal_url` gets a fresh customer-portal session at sending time.
Used by services.billing (trial ending, payment failed, suspended, resumed, offboarding
scheduled), services.tenants (offboarding scheduled), workers.mirror (offboarding completed),
services.exports (export ready) and workers.outbox (render).
"""

from __future__ import annotations

import datetime as dt
import enum
import html
import string
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from control_plane import models


class Notice(enum.StrEnum):
    TRIAL_ENDING = "trial_ending"
    PAYMENT_FAILED = "payment_failed"
    SUSPENDED = "suspended"
    RESUMED = "resumed"
    OFFBOARDING_SCHEDULED = "offboarding_scheduled"
    OFFBOARDING_COMPLETED = "offboarding_completed"
    OWNER_INVITATION = "owner_invitation"  # mailed by workers.outbox with its one-time link
    INVITATION = "invitation"  # an invitation made in the API, mailed the same way
    EXPORT_READY = "export_ready"  # to the requester (services.exports)


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    html: str

    @property
    def needs_portal(self) -> bool:
        return "$portal_url" in self.text


TEMPLATES = {
    Notice.TRIAL_ENDING: Template(
        "Your $company trial ends on $trial_end",
        "The trial of $company on Tenantry ends on $trial_end. To keep using the $tier plan, add\n"
        "a payment method in the billing portal:\n\n$portal_url\n",
        "<p>The trial of <b>$company</b> on Tenantry ends on $trial_end. To keep using the $tier "
        'plan, add a payment method in the <a href="$portal_url">billing portal</a>.</p>',
    ),
    Notice.PAYMENT_FAILED: Template(
        "Payment failed for $company (attempt $attempt)",
        "We could not collect the payment for $company (attempt $attempt). Stripe will try\n"
        "again. Update the payment method in the billing portal:\n\n$portal_url\n\n"
        "If the payment still fails, $company will be suspended on $grace_until.\n",
        "<p>We could not collect the payment for <b>$company</b> (attempt $attempt). Stripe will "
        'try again. Update the payment method in the <a href="$portal_url">billing portal</a>.'
        "</p><p>If the payment still fails, $company will be suspended on $grace_until.</p>",
    ),
    Notice.SUSPENDED: Template(
        "$company is suspended",
        "$company is suspended: its payment is overdue. Your data is kept. Pay the open invoice\n"
        "in the billing portal and it resumes at once:\n\n$portal_url\n",
        "<p><b>$company</b> is suspended: its payment is overdue. Your data is kept. Pay the open "
        'invoice in the <a href="$portal_url">billing portal</a> and it resumes at once.</p>',
    ),
    Notice.RESUMED: Template(
        "$company is running again",
        "Thank you: the payment for $company arrived and it is running again.\n",
        "<p>Thank you: the payment for <b>$company</b> arrived and it is running again.</p>",
    ),
    Notice.OFFBOARDING_SCHEDULED: Template(
        "$company will be offboarded on $offboard_after",
        "$company is closed and suspended. Its data is deleted or retained by its policy on\n"
        "$offboard_after. Until then an owner can restore it\n"
        "(POST /api/v1/tenants/$tenant_id/restore).\n",
        "<p><b>$company</b> is closed and suspended. Its data is deleted or retained by its policy "
        "on $offboard_after. Until then an owner can restore it "
        "(<code>POST /api/v1/tenants/$tenant_id/restore</code>).</p>",
    ),
    Notice.OWNER_INVITATION: Template(
        "You are invited to own $company on Tenantry",
        "You are the owner of $company on Tenantry. Accept the invitation, once, within $hours\n"
        "hours:\n\n$link\n",
        "<p>You are the owner of <b>$company</b> on Tenantry. Accept the "
        '<a href="$link">invitation</a>, once, within $hours hours.</p>',
    ),
    Notice.INVITATION: Template(
        "You are invited to join $company on Tenantry",
        "You are invited to join $company on Tenantry as $role. Accept the invitation, once,\n"
        "before $expires:\n\n$link\n",
        "<p>You are invited to join <b>$company</b> on Tenantry as $role. Accept the "
        '<a href="$link">invitation</a>, once, before $expires.</p>',
    ),
    Notice.EXPORT_READY: Template(
        "The export of $company is ready",
        "The export of $company's data you asked for is ready ($rows rows, $size bytes). Its\n"
        "download link, valid for a limited time, is in the export's status on the app's API:\n\n"
        "GET /api/exports/$export_id\n",
        "<p>The export of <b>$company</b>'s data you asked for is ready ($rows rows, $size bytes)."
        " Its download link, valid for a limited time, is in the export's status on the app's "
        "API: <code>GET /api/exports/$export_id</code>.</p>",
    ),
    Notice.OFFBOARDING_COMPLETED: Template(
        "$company has been offboarded",
        "$company has been offboarded: its workload is gone and its data was handled by its\n"
        "deletion policy. Its users can no longer sign in.\n",
        "<p><b>$company</b> has been offboarded: its workload is gone and its data was handled "
        "by its deletion policy. Its users can no longer sign in.</p>",
    ),
}


def day(moment: dt.datetime | int | None) -> str:
    """A date as the messages show it (a Stripe timestamp or a datetime, in UTC)."""
    if moment is None:
        return "an unknown date"
    if isinstance(moment, int):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def queue(
    session: Session,
    tenant: models.Tenant,
    notice: Notice,
    to: str | None = None,
    **params: str | int,
) -> models.OutboxEntry | None:
    """Record the message to `to` (by default the tenant's owner email) in the outbox (None
    without an address)."""
    to = to or tenant.owner_email
    if not to:
        return None
    entry = models.OutboxEntry(
        tenant=tenant,
        action=models.OutboxAction.SEND_MAIL,
        payload={
            "notice": str(notice),
            "to": to,
            "params": {
                "company": tenant.company,
                "tier": tenant.tier,
                "tenant_id": str(tenant.id),
                **params,
            },
        },
    )
    session.add(entry)
    return entry


def render(notice: str, params: dict[str, Any]) -> tuple[str, str, str]:
    """The subject, plain text and HTML of a message (ValueError for an unknown notice,
    KeyError for a missing parameter: the entry is retried, then dead)."""
    template = TEMPLATES[Notice(notice)]
    values = {key: str(value) for key, value in params.items()}
    escaped = {key: html.escape(value) for key, value in values.items()}
    return (
        string.Template(template.subject).substitute(values),
        string.Template(template.text).substitute(values),
        string.Template(template.html).substitute(escaped),
    )
