"""Tenant webhooks, the outgoing part: resolving an endpoint's host and refusing it unless every
address it resolves to is allowed (core.webhooks), and POSTing one signed event to it.

Used by services.webhooks (the check at registration) and workers.outbox (delivery, which
checks again: a name may resolve elsewhere since it was registered). Redirects are not
followed, so an endpoint cannot send the request on to an address it could not register.
"""

from __future__ import annotations

import socket
import time

import httpx

from control_plane.core import webhooks


class DeliveryFailed(Exception):
    """The endpoint could not be reached or did not answer 2xx: the entry is retried."""


def check(url: str, *, allow_loopback: bool) -> None:
    """UnsafeUrl unless `url` is allowed and its host resolves only to allowed addresses."""
    host, port = webhooks.check_url(url, allow_http_loopback=allow_loopback)
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise webhooks.UnsafeUrl(f"the host {host} does not resolve") from exc
    for *_, sockaddr in found:
        webhooks.check_address(str(sockaddr[0]), allow_loopback=allow_loopback)


def post(
    url: str, *, secret: str, event_id: str, event_type: str, body: bytes, timeout: float
) -> int:
    """POST the event, signed now; the status, or DeliveryFailed."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tenantry-Webhooks/1",
        webhooks.SIGNATURE_HEADER: webhooks.signature_header(secret, int(time.time()), body),
        webhooks.EVENT_ID_HEADER: event_id,
        webhooks.EVENT_TYPE_HEADER: event_type,
    }
    try:
        response = httpx.post(
            url, content=body, headers=headers, timeout=timeout, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook {event_id} to {url}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"webhook {event_id} to {url}: answered {response.status_code}")
    return response.status_code
