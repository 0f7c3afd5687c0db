"""Checks that nobody grants what they do not hold: a role given to a user or an invitation, a
custom role's permissions, an API key's scopes, a change to someone who outranks the caller.

Built on the pure rules of `core.permissions`; raises domain errors. Used by services.members,
roles and api_keys.
"""

from __future__ import annotations

from collections.abc import Iterable

from control_plane.core import permissions
from control_plane.services import auth, errors


def no_escalation(*, actor: auth.Actor, granted: Iterable[str], what: str) -> None:
    """Refuse (errors.Forbidden, naming the `missing` ones) permissions the actor lacks."""
    if actor.platform_admin:
        return
    beyond = permissions.escalates(granted, actor.permissions)
    if beyond:
        raise errors.Forbidden(
            f"{what} would need permissions the caller does not hold", missing=beyond
        )


def checked_permissions(*, actor: auth.Actor, names: list[str], field: str, what: str) -> list[str]:
    """Permission names parsed (errors.InvalidInput for an unknown one) and held by the actor."""
    try:
        granted = sorted(str(p) for p in permissions.parse(names))
    except ValueError as exc:
        raise errors.InvalidInput(
            "Unknown permission",
            str(exc),
            field=field,
            reason=str(exc),
            allowed=permissions.Permission,
        ) from exc
    no_escalation(actor=actor, granted=granted, what=what)
    return granted
