"""FastAPI dependencies as Annotated aliases: the database session, settings, the principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from control_plane.core import config, db, problems, security
from control_plane.services import mirror, outbox


def get_session() -> Iterator[Session]:
    with db.session_factory()() as session:
        yield session


def get_tiers(request: Request) -> mirror.TierCache:
    tiers: mirror.TierCache = request.app.state.tiers
    return tiers


def get_dispatcher(request: Request) -> outbox.Dispatcher | None:
    dispatcher: outbox.Dispatcher | None = request.app.state.dispatcher
    return dispatcher


_bearer = HTTPBearer(auto_error=False)


def get_principal(
    settings: Annotated[config.Settings, Depends(config.get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> security.Principal:
    return security.authenticate(
        credentials.credentials if credentials else None,
        secret=settings.SECRET_KEY,
        issuer=settings.JWT_ISSUER,
        audience=settings.JWT_AUDIENCE,
    )


def get_loaded_tiers(tiers: Annotated[mirror.TierCache, Depends(get_tiers)]) -> mirror.TierCache:
    """The tier catalog, or 503 until its first list from Kubernetes arrived."""
    if not tiers.loaded.is_set():
        raise problems.Problem(
            503,
            "Tiers unavailable",
            "the tier catalog is not loaded yet",
            headers={"Retry-After": "2"},
        )
    return tiers


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[config.Settings, Depends(config.get_settings)]
TiersDep = Annotated[mirror.TierCache, Depends(get_loaded_tiers)]
DispatcherDep = Annotated[outbox.Dispatcher | None, Depends(get_dispatcher)]
CurrentPrincipal = Annotated[security.Principal, Depends(get_principal)]
