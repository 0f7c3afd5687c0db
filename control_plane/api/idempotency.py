"""`Idempotency-Key` on POST and PATCH: a retried request gets the first one's response.

The route dependency (api.deps.idempotency_guard, through `claim`) records the key for the
authenticated actor (an anonymous caller: for its client address, see `anonymous`, so one
client can neither block nor replay another's key) before the handler runs, in its own
transaction: a new key proceeds, a finished one is replayed (`Replay`), one still running
answers 409, and the same key with another method, path or body answers 422. The ASGI
middleware (`Middleware`, installed by `control_plane.main`) then stores the response; a 5xx or
a crash releases the key so the client may retry. Records live for `IDEMPOTENCY_TTL_HOURS`.

Stored responses may hold secrets shown once (tokens, API keys, invitations), so a record keeps
only a hash of the key and the response encrypted (AES-GCM) with a key derived from the
Idempotency-Key: reading the table without the client's key reveals nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any

import anyio
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from control_plane import models
from tenantry_core import problems

HEADER = "Idempotency-Key"
METHODS = frozenset({"POST", "PATCH"})
MAX_KEY_LENGTH = 255
KEY_PATTERN = rf"^[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}$"  # visible ASCII, as UUIDs and ULIDs are
STATE_KEY = "idempotency"
_KEPT_HEADERS = ("content-type", "location")


@dataclass(frozen=True)
class Claim:
    actor: str
    key: str  # as the client sent it: it decrypts the stored response; never stored itself

    @property
    def ref(self) -> str:
        return key_ref(self.key)


def anonymous(client_ip: str | None) -> str:
    """The namespace of an anonymous caller's keys: its client address."""
    return f"anonymous:{client_ip or 'unknown'}"


def key_ref(key: str) -> str:
    """What the table stores in place of the key."""
    return hashlib.sha256(b"ref:" + key.encode()).hexdigest()


def _cipher(key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(b"enc:" + key.encode()).digest())


def seal(key: str, actor: str, body: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + _cipher(key).encrypt(nonce, body, actor.encode())


def unseal(key: str, actor: str, sealed: bytes) -> bytes:
    return _cipher(key).decrypt(sealed[:12], sealed[12:], actor.encode())


class Replay(Exception):
    """The stored response of an earlier request with the same key."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers


def body_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def claim(
    engine: Engine, *, actor: str, key: str, method: str, path: str, body: bytes, ttl: dt.timedelta
) -> Claim:
    """Reserve `key` for this request, or raise Replay / a 409 or 422 problem."""
    if not re.fullmatch(KEY_PATTERN, key):
        raise problems.Problem(
            400, "Invalid Idempotency-Key", f"the key must be 1 to {MAX_KEY_LENGTH} characters"
        )
    digest = body_hash(method, path, body)
    table = models.IdempotencyRecord
    ref = key_ref(key)
    with engine.connect() as conn:
        conn.execute(
            delete(table).where(
                table.actor == actor,
                table.key == ref,
                table.created_at < dt.datetime.now(dt.UTC) - ttl,
            )
        )
        inserted = conn.execute(
            insert(table)
            .values(actor=actor, key=ref, method=method, path=path, body_hash=digest)
            .on_conflict_do_nothing()
            .returning(table.key)
        ).scalar()
        conn.commit()
        if inserted is not None:
            return Claim(actor, key)
        found = conn.execute(
            select(
                table.body_hash, table.status, table.response_body, table.response_headers
            ).where(table.actor == actor, table.key == ref)
        ).first()
    if found is None:  # released between our insert and select: the client may simply retry
        raise _in_progress()
    if found.body_hash != digest:
        raise problems.Problem(
            422,
            "Idempotency-Key reused",
            "this key was used for a different request; use a new key for a new request",
        )
    if found.status is None:
        raise _in_progress()
    body = unseal(key, actor, found.response_body) if found.response_body else b""
    raise Replay(found.status, body, dict(found.response_headers or {}))


def _in_progress() -> problems.Problem:
    return problems.Problem(
        409,
        "Request in progress",
        "a request with this Idempotency-Key is still being processed",
        headers={"Retry-After": "1"},
    )


def complete(engine: Engine, claimed: Claim, status: int, body: bytes, headers: Any) -> None:
    table = models.IdempotencyRecord
    where = (table.actor == claimed.actor, table.key == claimed.ref)
    with engine.begin() as conn:
        if status >= 500:
            conn.execute(delete(table).where(*where))
            return
        kept = {k: v for k, v in headers.items() if k.lower() in _KEPT_HEADERS}
        conn.execute(
            update(table)
            .where(*where)
            .values(
                status=status,
                response_body=seal(claimed.key, claimed.actor, body),
                response_headers=kept,
            )
        )


class Middleware:
    """Stores the response of a claimed request (see `claim`); pure ASGI, streams untouched."""

    def __init__(self, app: ASGIApp, engine: Any) -> None:
        self.app, self.engine = app, engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        status, headers, chunks = 500, dict[str, str](), list[bytes]()
        stored = False

        async def store() -> None:
            nonlocal stored
            claimed = (scope.get("state") or {}).get(STATE_KEY)
            if isinstance(claimed, Claim) and not stored:
                stored = True
                body = b"".join(chunks)
                await anyio.to_thread.run_sync(
                    complete, self.engine(), claimed, status, body, headers
                )

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    await store()  # before the client has the whole answer: a retry replays it
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            await store()  # the app failed before answering: release the key (a 5xx)
