"""Why a use case refused: the domain errors services raise.

Each kind says what went wrong, not how to answer it: `api.errors` maps every kind to its
problem+json document (status, title, members, headers). Raised by the services, and by the
api's dependencies where they refuse for the same reasons.
"""

from __future__ import annotations

from collections.abc import Iterable


class DomainError(Exception):
    """A refusal with a short title and a detail for the caller."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title, self.detail = title, detail


class NotFound(DomainError):
    """No such thing, or none the caller may see (the two are indistinguishable)."""

    def __init__(self, detail: str) -> None:
        super().__init__("Not Found", detail)


class Conflict(DomainError):
    """The request contradicts the current state: a name taken, a tenant already offboarded."""


class InvalidInput(DomainError):
    """A well-formed input the domain refuses: an unknown name, a cursor it never issued.

    `field` names the input (in the request body unless `location` says otherwise), `reason`
    says what is wrong with it, and `allowed` lists the valid values when they are few."""

    def __init__(
        self,
        title: str,
        detail: str,
        *,
        field: str,
        reason: str,
        allowed: Iterable[str] | None = None,
        location: str = "body",
    ) -> None:
        super().__init__(title, detail)
        self.field, self.reason, self.location = field, reason, location
        self.allowed = sorted(allowed) if allowed is not None else None


class UnknownTier(InvalidInput):
    """A tier that does not exist, or (given what is `offered`) is not offered to the caller."""

    def __init__(self, tier: str, *, offered: Iterable[str] | None = None) -> None:
        why = "is not offered" if offered is not None else "does not exist"
        super().__init__(
            "Unknown tier",
            f"tier {tier!r} {why}",
            field="tier",
            reason="unknown tier",
            allowed=offered,
        )


class Unauthorized(DomainError):
    """No credential, or one that is invalid, expired or revoked."""

    def __init__(self, detail: str) -> None:
        super().__init__("Unauthorized", detail)


class Forbidden(DomainError):
    """The caller lacks a `permission`, or would grant permissions it does not hold (`missing`)."""

    def __init__(
        self, detail: str, *, permission: str | None = None, missing: list[str] | None = None
    ) -> None:
        super().__init__("Forbidden", detail)
        self.permission, self.missing = permission, missing


class Unavailable(DomainError):
    """A dependency is not ready or not reachable; worth retrying (after `retry_after` s)."""

    def __init__(self, title: str, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(title, detail)
        self.retry_after = retry_after
