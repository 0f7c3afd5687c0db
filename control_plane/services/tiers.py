"""The tier catalog: the Tiers in the cluster as the API shows them, held in memory.

workers.mirror fills it from Kubernetes (a list, then watch events); the api reads it for
`GET /tiers`, signup, tier changes, entitlements and each tier's rate limit.
"""

from __future__ import annotations

import threading
from typing import Any

from control_plane import schemas


class TierCache:
    """The Tiers in the cluster, as the API shows them; `loaded` once the first list arrived."""

    def __init__(self, signup_tiers: list[str]) -> None:
        self.signup_tiers = set(signup_tiers)
        self._tiers: dict[str, schemas.TierPublic] = {}
        self.loaded = threading.Event()

    def _public(self, obj: dict[str, Any]) -> schemas.TierPublic:
        spec, name = obj.get("spec") or {}, obj["metadata"]["name"]
        return schemas.TierPublic(
            name=name,
            display_name=str(spec.get("displayName") or name),
            isolation=spec["isolation"],
            quota=dict(spec.get("quota") or {}),
            rate_limit_per_minute=int(spec.get("rateLimitPerMinute", 600)),
            features=list(spec.get("features") or []),
            self_service=name in self.signup_tiers,
        )

    def replace(self, items: list[dict[str, Any]]) -> None:
        self._tiers = {obj["metadata"]["name"]: self._public(obj) for obj in items}
        self.loaded.set()

    def update(self, event: str, obj: dict[str, Any]) -> None:
        tiers = dict(self._tiers)
        if event == "DELETED":
            tiers.pop(obj["metadata"]["name"], None)
        else:
            tiers[obj["metadata"]["name"]] = self._public(obj)
        self._tiers = tiers

    def all(self) -> list[schemas.TierPublic]:
        return sorted(self._tiers.values(), key=lambda t: t.name)

    def get(self, name: str | None) -> schemas.TierPublic | None:
        return self._tiers.get(name or "")

    def self_service(self) -> set[str]:
        return {name for name in self._tiers if name in self.signup_tiers}

    def names(self) -> set[str]:
        return set(self._tiers)

    def rate_limit(self, tier: str | None) -> int | None:
        """The tier's requests a minute, None for an unknown tier."""
        found = self.get(tier)
        return found.rate_limit_per_minute if found else None
