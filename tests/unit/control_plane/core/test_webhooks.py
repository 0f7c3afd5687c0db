"""Unit tests of control_plane.core.webhooks: the signature header, the sealed secret, and
which URLs and addresses an endpoint may use."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest
from cryptography.exceptions import InvalidTag

from control_plane.core import webhooks


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"evt_1"}'
    expected = hmac.new(b"whsec_abc", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.signature_header("whsec_abc", 1700000000, body) == (
        f"t=1700000000,v1={expected}"
    )
    assert webhooks.signature("whsec_other", 1700000000, body) != expected
    assert webhooks.signature("whsec_abc", 1700000001, body) != expected


def test_a_sealed_secret_opens_only_with_its_key_and_endpoint() -> None:
    endpoint = uuid.uuid4()
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    sealed = webhooks.seal("signing-key", endpoint, secret)
    assert secret.encode() not in sealed
    assert webhooks.unseal("signing-key", endpoint, sealed) == secret
    with pytest.raises(InvalidTag):
        webhooks.unseal("another-key", endpoint, sealed)
    with pytest.raises(InvalidTag):
        webhooks.unseal("signing-key", uuid.uuid4(), sealed)


@pytest.mark.parametrize(
    ("url", "allow", "host", "port"),
    [
        ("https://hooks.example.com/in", False, "hooks.example.com", 443),
        ("https://hooks.example.com:8443/in", False, "hooks.example.com", 8443),
        ("http://127.0.0.1:9000/hook", True, "127.0.0.1", 9000),
        ("http://localhost/hook", True, "localhost", 80),
    ],
)
def test_allowed_urls(url: str, allow: bool, host: str, port: int) -> None:
    assert webhooks.check_url(url, allow_http_loopback=allow) == (host, port)


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://hooks.example.com/in", False),
        ("http://hooks.example.com/in", True),  # http only to loopback, even in development
        ("http://127.0.0.1:9000/hook", False),
        ("ftp://hooks.example.com/in", False),
        ("https://user:pw@hooks.example.com/in", False),
        ("https:///no-host", False),
        ("https://hooks.example.com:99999/in", False),
        ("not a url", False),
    ],
)
def test_refused_urls(url: str, allow: bool) -> None:
    with pytest.raises(webhooks.UnsafeUrl):
        webhooks.check_url(url, allow_http_loopback=allow)


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.64.0.1",
        "100.100.100.200",
        "0.0.0.0",  # noqa: S104 - an address refused, not bound
        "224.0.0.1",
        "fd00:ec2::254",
        "fe80::1%eth0",
        "fc00::1",
        "::ffff:10.0.0.1",
        "127.0.0.1",
        "::1",
    ],
)
def test_refused_addresses(address: str) -> None:
    with pytest.raises(webhooks.UnsafeUrl):
        webhooks.check_address(address, allow_loopback=False)


def test_public_addresses_and_allowed_loopback() -> None:
    webhooks.check_address("93.184.216.34", allow_loopback=False)
    webhooks.check_address("2606:2800:220:1::1", allow_loopback=False)
    webhooks.check_address("127.0.0.1", allow_loopback=True)
    webhooks.check_address("::1", allow_loopback=True)
    with pytest.raises(webhooks.UnsafeUrl):  # metadata stays refused whatever is allowed
        webhooks.check_address("169.254.169.254", allow_loopback=True)
    with pytest.raises(webhooks.UnsafeUrl):
        webhooks.check_address("10.0.0.1", allow_loopback=True)
