"""`GET /tiers`: the tiers in the cluster and whether self-service signup offers them."""

from __future__ import annotations

from fastapi import APIRouter

from control_plane import schemas
from control_plane.api import deps

router = APIRouter(prefix="/tiers", tags=["tiers"])


@router.get("", response_model=list[schemas.TierPublic])
def list_tiers(tiers: deps.TiersDep) -> list[schemas.TierPublic]:
    return tiers.all()
