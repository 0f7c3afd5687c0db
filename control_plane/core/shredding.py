"""Crypto-shredding of the audit log's personal fields: AES-GCM under a key per data subject.

A subject is `email:<address>` (whoever the address belongs to, user or not) or `user:<id>`. A
personal value is an email address anywhere in an entry, the values of PERSONAL_KEYS (names,
addresses, IPs) and the client IP of a person (`personal_actor`); it is stored as
`enc:v1:<key id>:<base64 of nonce and ciphertext>`, the key id bound in as associated data.
Its subject is its own address for an email; otherwise the first address in the same document,
or the entry's actor. Destroying a subject's key (services.erasure) leaves every value sealed
under it unreadable: it reads as ERASED, while the entry itself stays. Pure functions: the keys
come from a callback (services.audit keeps them in `audit_subject_keys`; so does the Alembic
migration 0015).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import uuid
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc:v1:"
ERASED = "[erased]"
PERSONAL_KEYS = frozenset(
    {"email", "owner_email", "to", "full_name", "display_name", "client_ip", "ip"}
)
EMAIL = re.compile(r"[^@\s\"'<>]+@[^@\s\"'<>]+\.[A-Za-z]{2,}")

Key = tuple[uuid.UUID, bytes]
KeyFor = Callable[[str], Key]  # a subject's key, made on first use
KeyById = Callable[[uuid.UUID], bytes | None]  # None: destroyed


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def email_subject(address: str) -> str:
    return "email:" + address.strip().lower()


def actor_subject(actor: str) -> str:
    """The subject of an actor's own personal values (`user:<id>`, `api_key:<id>`, ...)."""
    return email_subject(actor) if EMAIL.fullmatch(actor) else actor


def personal_actor(actor: str) -> bool:
    """A person (a user, or an address), whose client IP is personal. Other actors' addresses
    (Stripe, workers, API keys, anonymous sign-in attempts) are kept as security records."""
    return actor.startswith("user:") or bool(EMAIL.fullmatch(actor))


def subject_hash(subject: str) -> str:
    """How a subject is found in the keys table (never stored in the audit log)."""
    return hashlib.sha256(subject.encode()).hexdigest()


def seal(key: Key, value: str) -> str:
    key_id, secret = key
    nonce = os.urandom(12)
    sealed = AESGCM(secret).encrypt(nonce, value.encode(), key_id.bytes)
    return f"{PREFIX}{key_id}:{base64.b64encode(nonce + sealed).decode()}"


def sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def unseal(value: str, key_by_id: KeyById) -> str:
    """The clear value, or ERASED when its key was destroyed."""
    key_id_text, blob = value[len(PREFIX) :].split(":", 1)
    key_id = uuid.UUID(key_id_text)
    secret = key_by_id(key_id)
    if secret is None:
        return ERASED
    raw = base64.b64decode(blob)
    return AESGCM(secret).decrypt(raw[:12], raw[12:], key_id.bytes).decode()


def _first_email(doc: Any) -> str | None:
    if isinstance(doc, str):
        found = EMAIL.search(doc)
        return found.group(0) if found else None
    items = doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else ()
    for item in items:
        if (address := _first_email(item)) is not None:
            return address
    return None


def seal_document(doc: Any, *, fallback: str, key_for: KeyFor) -> Any:
    """`doc` with its personal values sealed; `fallback` is the subject of values that name no
    address of their own (the entry's actor)."""
    address = _first_email(doc)
    subject = email_subject(address) if address else fallback

    def walk(value: Any, personal: bool) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k in PERSONAL_KEYS) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, personal) for v in value]
        if not isinstance(value, str) or sealed(value):
            return value
        if (found := EMAIL.search(value)) is not None:
            return seal(key_for(email_subject(found.group(0))), value)
        return seal(key_for(subject), value) if personal else value

    return walk(doc, False)


def open_document(doc: Any, key_by_id: KeyById) -> Any:
    """`doc` with every sealed value opened (ERASED where its key is gone)."""
    if isinstance(doc, dict):
        return {k: open_document(v, key_by_id) for k, v in doc.items()}
    if isinstance(doc, list):
        return [open_document(v, key_by_id) for v in doc]
    return unseal(doc, key_by_id) if sealed(doc) else doc


def key_ids(doc: Any) -> set[uuid.UUID]:
    """The keys the sealed values of `doc` need."""
    if isinstance(doc, dict):
        return set().union(*(key_ids(v) for v in doc.values()))
    if isinstance(doc, list):
        return set().union(*(key_ids(v) for v in doc))
    if sealed(doc):
        return {uuid.UUID(doc[len(PREFIX) :].split(":", 1)[0])}
    return set()
