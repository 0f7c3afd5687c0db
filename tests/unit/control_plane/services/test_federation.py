"""An OIDC identity links by email only to an account that proved itself (its password and its
verified email), never to an admin."""

from __future__ import annotations

import datetime as dt

from control_plane import models
from control_plane.services import federation

NOW = dt.datetime.now(dt.UTC)


def test_only_a_member_who_signed_in_with_the_password_may_be_linked() -> None:
    proved = models.User(
        email="a@example.com",
        is_platform_admin=False,
        password_signed_in_at=NOW,
        email_verified_at=NOW,
    )
    assert federation.refusal(proved) is None
    unverified = models.User(
        email="e@example.com", is_platform_admin=False, password_signed_in_at=NOW
    )
    assert "verify the account's email" in (federation.refusal(unverified) or "")
    never = models.User(email="b@example.com", is_platform_admin=False)
    assert "password" in (federation.refusal(never) or "")
    admin = models.User(email="c@example.com", is_platform_admin=True, password_signed_in_at=NOW)
    assert "platform admin" in (federation.refusal(admin) or "")
    taken = models.User(
        email="d@example.com", is_platform_admin=False, password_signed_in_at=NOW, oidc_subject="x"
    )
    assert "another identity" in (federation.refusal(taken) or "")
