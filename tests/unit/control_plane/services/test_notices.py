"""Each notice renders a subject, a plain text and an HTML body from its parameters."""

import datetime as dt

import pytest

from control_plane.integrations import mailer
from control_plane.services import billing_rules, notices

PARAMS = {
    "company": "Acme <Corp>",
    "tier": "standard",
    "tenant_id": "0b7c",
    "trial_end": "2026-12-01 00:00 UTC",
    "attempt": 2,
    "grace_until": "2026-12-08 00:00 UTC",
    "portal_url": "https://billing.example/p/1?a=1&b=2",
    "offboard_after": "2026-12-24 00:00 UTC",
    "link": "https://tenantry.example/accept-invitation?token=inv_x",
    "hours": 72,
    "role": "admin",
    "expires": "2026-12-04 00:00 UTC",
    "export_id": "5f1e",
    "rows": 100001,
    "size": 2048,
}


@pytest.mark.parametrize("notice", list(notices.Notice))
def test_every_notice_has_a_text_and_an_html_body(notice: notices.Notice) -> None:
    subject, text, html = notices.render(notice, PARAMS)
    assert "Acme <Corp>" in subject
    assert "Acme <Corp>" in text
    assert "Acme &lt;Corp&gt;" in html  # escaped in HTML only
    assert "$" not in subject + text + html


def test_the_dunning_mail_names_the_attempt_the_deadline_and_the_portal() -> None:
    subject, text, html = notices.render("payment_failed", PARAMS)
    assert subject == "Payment failed for Acme <Corp> (attempt 2)"
    assert "https://billing.example/p/1?a=1&b=2" in text
    assert 'href="https://billing.example/p/1?a=1&amp;b=2"' in html
    assert "2026-12-08 00:00 UTC" in text
    assert notices.TEMPLATES[notices.Notice.PAYMENT_FAILED].needs_portal
    assert not notices.TEMPLATES[notices.Notice.RESUMED].needs_portal


def test_a_missing_parameter_or_an_unknown_notice_fails_loudly() -> None:
    with pytest.raises(KeyError):
        notices.render("payment_failed", {"company": "Acme"})
    with pytest.raises(ValueError, match="welcome"):
        notices.render("welcome", PARAMS)


def test_dates_are_shown_in_utc() -> None:
    assert notices.day(0) == "1970-01-01 00:00 UTC"
    moment = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert notices.day(moment) == "2026-01-02 01:04 UTC"
    assert notices.day(None) == "an unknown date"


def test_a_message_with_html_is_multipart_with_a_stable_id() -> None:
    msg = mailer.message(
        sender="a@b", to="c@d", subject="s", body="text", html="<p>x</p>", message_id="<m@t>"
    )
    assert msg["Message-ID"] == "<m@t>"
    assert [part.get_content_type() for part in msg.iter_parts()] == ["text/plain", "text/html"]


State = billing_rules.State


@pytest.mark.parametrize(
    ("event", "before", "after", "told"),
    [
        ("customer.subscription.trial_will_end", State.TRIALING, State.TRIALING, ["trial_ending"]),
        ("invoice.payment_failed", State.ACTIVE, State.PAST_DUE, ["payment_failed"]),
        ("invoice.payment_failed", State.PAST_DUE, State.PAST_DUE, ["payment_failed"]),
        ("invoice.payment_failed", State.SUSPENDED, State.SUSPENDED, []),
        ("payment_intent.payment_failed", State.ACTIVE, State.PAST_DUE, []),
        ("invoice.paid", State.SUSPENDED, State.ACTIVE, ["resumed"]),
        ("invoice.paid", State.PAST_DUE, State.ACTIVE, []),
        ("customer.subscription.deleted", State.ACTIVE, State.CANCELED, ["offboarding_scheduled"]),
        ("customer.subscription.updated", State.ACTIVE, State.ACTIVE, []),
    ],
)
def test_what_an_event_tells(event: str, before: State, after: State, told: list[str]) -> None:
    assert billing_rules.notices(event, before, after) == told


def test_the_invitation_names_the_role_the_deadline_and_the_link() -> None:
    subject, text, html = notices.render("invitation", PARAMS)
    assert subject == "You are invited to join Acme <Corp> on Tenantry"
    assert "as admin" in text
    assert "before 2026-12-04 00:00 UTC" in text
    assert "https://tenantry.example/accept-invitation?token=inv_x" in text
    assert 'href="https://tenantry.example/accept-invitation?token=inv_x"' in html


def test_the_export_ready_mail_says_where_the_link_is() -> None:
    subject, text, html = notices.render("export_ready", PARAMS)
    assert subject == "The export of Acme <Corp> is ready"
    assert "GET /api/exports/5f1e" in text
    assert "100001 rows" in html
