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


def name_unavailable() -> Conflict:
    """A tenant name or company that is taken; which tenant holds it is not told."""
    return Conflict("Tenant exists", "this name is not available; choose another")


def email_unavailable() -> Conflict:
    """An email that cannot be used for a new account; whose account holds it is not told."""
    return Conflict(
        "Email unavailable", "this email cannot be used for a new account; sign in instead"
    )


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
    """The caller lacks a `permission`, would grant permissions it does not hold (`missing`), or
    may not do it for a `reason` (a short code, such as `email_unverified`)."""

    def __init__(
        self,
        detail: str,
        *,
        permission: str | None = None,
        missing: list[str] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__("Forbidden", detail)
        self.permission, self.missing, self.reason = permission, missing, reason


class NotEntitled(DomainError):
    """The tenant may not use `feature` (tenantry_core.flags): its plan (`plan`) lacks it (the
    `plans` listed include it), or its flag or an override holds it back (`reason`)."""

    def __init__(self, feature: str, *, plan: str, plans: list[str], reason: str) -> None:
        if reason == "NOT_IN_PLAN":
            title = "Not in your plan"
            detail = (
                f"the {feature!r} feature is not in the {plan!r} plan; "
                f"plans that include it: {', '.join(plans) or 'none'}"
            )
        else:
            title = "Feature not available"
            detail = f"the {feature!r} feature is not available to this tenant ({reason})"
        super().__init__(title, detail)
        self.feature, self.plan, self.plans, self.reason = feature, plan, plans, reason


class PaymentRequired(DomainError):
    """What was asked needs a payment method on file first (`reason`, a short code)."""

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__("Payment Required", detail)
        self.reason = reason


class Unavailable(DomainError):
    """A dependency is not ready or not reachable; worth retrying (after `retry_after` s)."""

    def __init__(self, title: str, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(title, detail)
        self.retry_after = retry_after
