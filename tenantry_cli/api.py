"""The control-plane API as the `tenantry` CLI calls it, as a platform admin: a bearer token from
`--token`/TENANTRY_TOKEN, or one signed in with TENANTRY_ADMIN_EMAIL and
TENANTRY_ADMIN_PASSWORD at the first call that needs it. Errors come back as `ApiError` with the
problem+json detail.
"""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """The API refused (a problem document) or could not be reached."""


class Api:
    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        email: str | None,
        password: str | None,
        timeout: float = 15.0,
    ) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/") + "/api/v1", timeout=timeout)
        self.token, self.email, self.password = token, email, password

    def _token(self) -> str:
        if self.token:
            return self.token
        if not (self.email and self.password):
            raise ApiError(
                "no credentials: pass --token (TENANTRY_TOKEN) or set TENANTRY_ADMIN_EMAIL "
                "and TENANTRY_ADMIN_PASSWORD"
            )
        body = self._send("POST", "/auth/login", {"email": self.email, "password": self.password})
        self.token = str(body["access_token"])
        return self.token

    def _send(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        headers = {} if path == "/auth/login" else {"Authorization": f"Bearer {self._token()}"}
        try:
            response = self.http.request(
                method,
                path,
                json=body,
                params={k: v for k, v in params.items() if v is not None},
                headers=headers,
            )
        except httpx.TransportError as exc:
            where = self.http.base_url
            raise ApiError(f"the control plane at {where} is unreachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
                detail = problem.get("detail") or problem.get("title")
            except ValueError:
                detail = response.text[:200]
            raise ApiError(f"{method} {path}: {response.status_code} {detail}")
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self._send("GET", path, **params)

    def post(self, path: str, body: Any = None) -> Any:
        return self._send("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self._send("PATCH", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self._send("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self._send("DELETE", path)

    def pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a cursor-paged list."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get(path, cursor=cursor, **params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if cursor is None:
                return items
