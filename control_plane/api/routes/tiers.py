"""`GET /tiers`: the tiers in the cluster and whether self-service signup offers them."""

from __future__ import annotations

from fastapi import APIRouter

from control_plane import schemas
from control_plane.api import deps
from control_plane.core import problems

router = APIRouter(prefix="/tiers", tags=["tiers"])


@router.get("", response_model=list[schemas.TierPublic])
def list_tiers(tiers: deps.TiersDep) -> list[schemas.TierPublic]:
    if not tiers.loaded.is_set():
        raise problems.Problem(
            503,
            "Tiers unavailable",
            "the tier catalog is not loaded yet",
            headers={"Retry-After": "2"},
        )
    return tiers.all()
