"""Anonymous callers' Idempotency-Keys are namespaced by client, and sealed for their actor."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from control_plane.api import idempotency


def test_anonymous_keys_belong_to_the_client_address() -> None:
    assert idempotency.anonymous("127.0.0.2") == "anonymous:127.0.0.2"
    assert idempotency.anonymous("127.0.0.2") != idempotency.anonymous("127.0.0.3")
    assert idempotency.anonymous(None) == "anonymous:unknown"


def test_a_stored_response_opens_only_for_its_own_actor() -> None:
    first, second = idempotency.anonymous("10.0.0.1"), idempotency.anonymous("10.0.0.2")
    sealed = idempotency.seal("key", first, b"secret")
    assert idempotency.unseal("key", first, sealed) == b"secret"
    with pytest.raises(InvalidTag):
        idempotency.unseal("key", second, sealed)
