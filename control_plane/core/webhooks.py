"""Tenant webhooks, the pure part: the `Tenantry-Signature` header (Stripe-style HMAC-SHA256 of
"<t>.<body>" with the endpoint's secret), the secret sealed at rest (AES-GCM under a key
derived from the token signing key, the endpoint id bound in), and which URLs and addresses an
endpoint may use (SSRF: https only, no private, link-local, loopback or metadata address).

Used by services.webhooks (registration) and integrations.webhooks (delivery).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import urllib.parse
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SIGNATURE_HEADER = "Tenantry-Signature"
EVENT_ID_HEADER = "Tenantry-Event-Id"
EVENT_TYPE_HEADER = "Tenantry-Event-Type"
# Cloud metadata services reachable from inside a VM (AWS, GCP, Azure: 169.254.169.254; AWS
# IPv6: fd00:ec2::254; Alibaba: 100.100.100.200), refused whatever else is allowed.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


class UnsafeUrl(ValueError):
    """A URL an endpoint may not use; the message says why."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" with the secret."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def _sealing_key(signing_key: str) -> bytes:
    return hashlib.sha256(b"tenantry webhook secrets\0" + signing_key.encode()).digest()


def seal(signing_key: str, endpoint_id: uuid.UUID, secret: str) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(_sealing_key(signing_key)).encrypt(
        nonce, secret.encode(), endpoint_id.bytes
    )


def unseal(signing_key: str, endpoint_id: uuid.UUID, sealed: bytes) -> str:
    cipher = AESGCM(_sealing_key(signing_key))
    return cipher.decrypt(sealed[:12], sealed[12:], endpoint_id.bytes).decode()


def check_url(url: str, *, allow_http_loopback: bool) -> tuple[str, int]:
    """The host and port of an endpoint URL: https (http only to a loopback host when allowed),
    no credentials in it; UnsafeUrl otherwise. Its addresses are checked with `check_address`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrl("the URL must be https://host/...")
    if parts.username or parts.password:
        raise UnsafeUrl("the URL must not hold credentials")
    if parts.scheme == "http" and not (allow_http_loopback and _loopback_name(parts.hostname)):
        raise UnsafeUrl("the URL must use https")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrl("the URL's port is not valid") from exc
    return parts.hostname, port


def _loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(address: str, *, allow_loopback: bool) -> None:
    """UnsafeUrl unless `address` (an IP a host resolved to) is a public one: never a
    metadata, private, link-local, multicast, reserved or unspecified address, nor loopback
    unless allowed."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA:
        raise UnsafeUrl(f"{ip} is a metadata address")
    if ip.is_loopback:
        if allow_loopback:
            return
        raise UnsafeUrl(f"{ip} is a loopback address")
    if (
        ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or ip in ipaddress.ip_network("100.64.0.0/10")
    ):
        raise UnsafeUrl(f"{ip} is not a public address")
