"""A local OpenID Connect issuer for tests: a generated RSA key set served over HTTP as the
issuer's jwks_uri, and tokens signed with it."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://idp.example.com"
KID = "idp-1"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@contextlib.contextmanager
def serve_key_set(key: rsa.RSAPrivateKey) -> Iterator[str]:
    """Serve the key's public half as a JWKS; yields its URL."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    finally:
        server.shutdown()


def token(key: Any, email: str, *, kid: str = KID, **overrides: Any) -> str:
    """An RS256 token of the issuer for `email`, its subject derived from the lowercased email
    (overrides replace or add claims)."""
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": ISSUER,
        "aud": "tenantry",
        "sub": "idp|" + email.lower(),
        "email": email,
        "email_verified": True,
        "iat": now,
        "exp": now + dt.timedelta(minutes=5),
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
