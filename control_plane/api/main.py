"""The version-1 API router, assembled from the resource routers."""

from fastapi import APIRouter

from control_plane.api.routes import billing, signup, tenants, tiers

api_router = APIRouter()
api_router.include_router(signup.router)
api_router.include_router(tenants.router)
api_router.include_router(tiers.router)
api_router.include_router(billing.router)
