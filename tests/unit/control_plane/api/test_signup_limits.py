"""Signup's rate-limit key: one per IPv4 address, one per IPv6 /64."""

from control_plane.api.routes import signup
from control_plane.core import config


def test_a_client_is_its_ipv4_address_or_its_ipv6_64() -> None:
    assert signup.client_key("203.0.113.7") == "signup:203.0.113.7"
    assert signup.client_key("2001:db8:1:2:3:4:5:6") == "signup:2001:db8:1:2::/64"
    assert signup.client_key("2001:db8:1:2::9") == signup.client_key("2001:db8:1:2:ffff::1")
    assert signup.client_key("2001:db8:1:3::1") != signup.client_key("2001:db8:1:2::1")
    assert signup.client_key("::ffff:203.0.113.7") == "signup:203.0.113.7"


def test_an_unknown_client_has_a_key_of_its_own() -> None:
    assert signup.client_key(None) == "signup:unknown"
    assert signup.client_key("testclient") == "signup:testclient"


def test_signup_limits_are_settings() -> None:
    settings = config.Settings(SIGNUP_PER_CLIENT_PER_MINUTE=3, SIGNUP_GLOBAL_PER_MINUTE=50)
    assert (settings.SIGNUP_PER_CLIENT_PER_MINUTE, settings.SIGNUP_GLOBAL_PER_MINUTE) == (3, 50)
