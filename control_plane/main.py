"""The control plane's ASGI app (`uvicorn control_plane.main:app`).

Its lifespan starts the background workers (`control_plane.workers`): the outbox dispatcher
(registry → Kubernetes and Stripe), the mirror (Kubernetes → registry, and the tier catalog), the
sweeper and the usage reporter. Around the routes (`control_plane.api`): request ids, a trace
span per request (`tenantry_core.tracing`, exported when OTEL_EXPORTER_OTLP_ENDPOINT is set), the
JSON access log, rate-limit headers, Idempotency-Key records, and problem+json for every error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_fastapi_instrumentator import Instrumentator

from control_plane.api import deps, errors, idempotency, middleware, openapi
from control_plane.api import main as api_main
from control_plane.core import config, db, oidc
from control_plane.integrations import stripe_sync
from control_plane.services import features, principals, tiers
from control_plane.workers import mirror, outbox, sweeper, usage_reporter
from tenantry_core import logs, problems, serverspans, tokens, tracing


def create_app(settings: config.Settings | None = None) -> FastAPI:
    settings = settings or config.get_settings()
    logs.configure()
    tracing.configure(tracing.CONTROL_PLANE)
    principals.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.tiers = tiers.TierCache(settings.SIGNUP_TIERS)
        features.install(db.session_factory(), app.state.tiers, settings.FEATURE_FLAG_PROVIDER)
        app.state.dispatcher = None
        workers: list[
            outbox.Dispatcher | mirror.Mirror | sweeper.Sweeper | usage_reporter.Reporter
        ] = []
        if settings.RUN_BACKGROUND_WORKERS:
            app.state.dispatcher = outbox.Dispatcher(
                db.session_factory(),
                field_manager=settings.CR_FIELD_MANAGER,
                poll=settings.OUTBOX_POLL_SECONDS,
            )
            workers = [
                app.state.dispatcher,
                mirror.Mirror(db.session_factory(), app.state.tiers),
                sweeper.Sweeper(
                    db.session_factory(),
                    every=settings.BILLING_SWEEP_SECONDS,
                    wake=app.state.dispatcher.wake,
                    idempotency_ttl=dt.timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS),
                ),
            ]
            if settings.STRIPE_API_KEY and settings.APP_DATABASE_URL:
                workers.append(
                    usage_reporter.Reporter(
                        db.session_factory(),
                        stripe_sync.client(settings.STRIPE_API_KEY, settings.STRIPE_API_BASE),
                        every=settings.USAGE_REPORT_SECONDS,
                    )
                )
            for worker in workers:
                worker.start()
        yield
        for worker in workers:
            worker.stop()

    app = FastAPI(
        title=settings.PROJECT_NAME,
        lifespan=lifespan,
        telemetry=serverspans.TELEMETRY,
        openapi_url=f"{settings.API_V1_STR}/openapi.json",
        docs_url=f"{settings.API_V1_STR}/docs",
        redoc_url=None,
    )
    app.state.oidc = (
        oidc.Verifier(
            issuer=settings.OIDC_ISSUER,
            audience=settings.OIDC_AUDIENCE,
            jwks_url=settings.OIDC_JWKS_URL,
        )
        if settings.OIDC_ISSUER and settings.OIDC_AUDIENCE and settings.OIDC_JWKS_URL
        else None
    )
    problems.install(app)
    errors.install(app)

    @app.exception_handler(idempotency.Replay)
    async def _replay(request: Request, exc: idempotency.Replay) -> Response:
        headers = {**exc.headers, "Idempotent-Replayed": "true"}
        return Response(exc.body, status_code=exc.status, headers=headers)

    app.add_middleware(idempotency.Middleware, engine=db.engine)
    app.add_middleware(middleware.RateLimitHeaders)
    app.add_middleware(
        logs.AccessLog, logger="control_plane.access", fields=middleware.access_fields
    )
    app.add_middleware(serverspans.ServerSpans, fields=middleware.span_fields)
    app.add_middleware(CorrelationIdMiddleware)
    app.include_router(api_main.api_router, prefix=settings.API_V1_STR)
    app.openapi = lambda: openapi.document(app, deps.declared_permission)  # type: ignore[method-assign]
    Instrumentator().instrument(app).expose(app, include_in_schema=False)
    outbox.install_metrics(db.session_factory)

    @app.get("/.well-known/jwks.json", tags=["auth"])
    def jwks() -> dict[str, list[dict[str, str]]]:
        """The public key access tokens are signed with, for anyone verifying them."""
        return {"keys": [tokens.jwk(config.public_key(settings))]}

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


app = create_app()
