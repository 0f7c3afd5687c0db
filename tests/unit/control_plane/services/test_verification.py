"""The verification mail: its link carries the token and nothing else does; the mailer refuses to
send without an SMTP server; an invitation is accepted with exactly one proof."""

from __future__ import annotations

import pydantic
import pytest

from control_plane import schemas
from control_plane.api import errors as api_errors
from control_plane.core import config
from control_plane.integrations import mailer
from control_plane.services import errors, verification


def test_the_link_carries_the_token_after_the_configured_page() -> None:
    plain = config.Settings(EMAIL_VERIFY_URL="https://app.example.com/verify")
    assert verification.link(plain, "ev_abc") == "https://app.example.com/verify?token=ev_abc"
    query = config.Settings(EMAIL_VERIFY_URL="https://app.example.com/v?lang=en")
    assert verification.link(query, "ev_abc") == "https://app.example.com/v?lang=en&token=ev_abc"


def test_the_message_holds_the_link_and_how_long_it_works() -> None:
    text = verification.body(link="https://x/verify?token=ev_abc", hours=24)
    msg = mailer.message(sender="a@x", to="b@y", subject="Verify", body=text)
    assert (msg["From"], msg["To"], msg["Subject"]) == ("a@x", "b@y", "Verify")
    content = msg.get_content()
    assert "https://x/verify?token=ev_abc" in content
    assert "24 hours" in content
    assert content.count("ev_abc") == 1


def test_nothing_is_sent_without_an_smtp_server() -> None:
    with pytest.raises(mailer.MailUnavailable):
        mailer.send(config.Settings(SMTP_HOST=None), to="b@y", subject="s", body="b")


def test_refusals_answer_402_and_403_with_their_reason() -> None:
    paid = api_errors.problem(
        errors.PaymentRequired("add a card", reason="payment_method_required")
    )
    assert (paid.status, paid.extra["reason"]) == (402, "payment_method_required")
    closed = api_errors.problem(errors.Forbidden("no", reason="email_unverified"))
    assert (closed.status, closed.extra["reason"]) == (403, "email_unverified")


def test_conflicts_name_nobody() -> None:
    for conflict in (errors.name_unavailable(), errors.email_unavailable()):
        assert "@" not in conflict.detail
        assert "'" not in conflict.detail


def test_an_invitation_is_accepted_with_a_password_or_an_id_token_not_both() -> None:
    schemas.InvitationAccept(token="inv_x", password="correct horse battery")
    schemas.InvitationAccept(token="inv_x", id_token="eyJ.x.y")
    for both_or_none in ({}, {"password": "correct horse battery", "id_token": "eyJ.x.y"}):
        with pytest.raises(pydantic.ValidationError):
            schemas.InvitationAccept(token="inv_x", **both_or_none)
