"""The version-1 API router, assembled from the resource routers.

Every route passes the Idempotency-Key guard (it acts on POST and PATCH only).
"""

from fastapi import APIRouter, Depends

from control_plane.api import deps
from control_plane.api.routes import (
    api_keys,
    audit,
    auth,
    backups,
    billing,
    erasure,
    flags,
    outbox,
    placement,
    roles,
    signup,
    tenants,
    tiers,
    users,
    webhooks,
)

api_router = APIRouter(dependencies=[Depends(deps.idempotency_guard)])
api_router.include_router(signup.router)
api_router.include_router(auth.router)
api_router.include_router(tenants.router)
api_router.include_router(users.router)
api_router.include_router(roles.router)
api_router.include_router(api_keys.router)
api_router.include_router(audit.router)
api_router.include_router(tiers.router)
api_router.include_router(billing.router)
api_router.include_router(outbox.router)
api_router.include_router(flags.router)
api_router.include_router(placement.router)
api_router.include_router(backups.router)
api_router.include_router(erasure.router)
api_router.include_router(webhooks.router)
