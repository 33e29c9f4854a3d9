"""The FastAPI application: API, pages, health, and the in-process worker."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine, text

from patron.api_examples import REQUEST_EXAMPLES
from patron.checkout.api import router as checkout_router
from patron.core.admission import AdmissionControl, Slots
from patron.core.body_limit import ApiBodyLimit
from patron.core.clock import Clock
from patron.core.config import Settings, get_settings
from patron.core.db import make_engine, make_session_factory
from patron.core.http import install_error_handlers
from patron.core.input_guard import InputGuard
from patron.core.logging import configure_logging
from patron.core.metrics import install_metrics
from patron.core.openapi import install_openapi
from patron.core.request_id import RequestIdMiddleware
from patron.coupons.api import router as coupons_router
from patron.engagement.api import router as engagement_router
from patron.engagement.callbacks_api import router as engagement_callbacks_router
from patron.engagement.campaigns.api import router as campaigns_router
from patron.engagement.journeys.api import router as journeys_router
from patron.engagement.segments.api import router as segments_router
from patron.imports.api import router as imports_router
from patron.ledger.api import router as ledger_router
from patron.members.api import router as members_router
from patron.members.topics_api import router as consent_topics_router
from patron.orders.api import router as orders_router
from patron.payments.api import router as payments_router
from patron.portal.api import router as portal_router
from patron.privacy.api import router as privacy_router
from patron.programs.api import router as programs_router
from patron.rewards.api import router as rewards_router
from patron.tenancy.api import router as tenancy_router
from patron.wallet.api import router as wallet_router
from patron.web.install import install_web
from patron.webhooks.api import router as webhooks_router
from patron.worker import InProcessWorker

# Requests that may write, at once, on SQLite (one writer at a time holds its lock; the next
# waits at the door): ADR 0040.
SQLITE_WRITES_IN_FLIGHT = 2

# Each domain adds its router here (one line each).
ROUTERS = [
    tenancy_router,
    members_router,
    privacy_router,
    consent_topics_router,
    orders_router,
    portal_router,
    segments_router,
    webhooks_router,
    engagement_router,
    engagement_callbacks_router,
    ledger_router,
    programs_router,
    rewards_router,
    checkout_router,
    coupons_router,
    campaigns_router,
    journeys_router,
    imports_router,
    wallet_router,
    payments_router,
]


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    run_worker: bool | None = None,
) -> FastAPI:
    """Build the app. Tests pass their own engine and clock; ``patron serve`` passes neither."""
    settings = settings or get_settings()
    engine = engine or make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout=settings.database_pool_timeout_seconds,
    )
    worker_wanted = settings.worker_in_process if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner: InProcessWorker | None = None
        if worker_wanted:
            runner = InProcessWorker(settings, app.state.sessions)
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            # A page may have started an analytics sync: let it finish with the engine (the
            # analytics store is only loaded if a page used it, ADR 0010).
            analytics_store = sys.modules.get("patron.analytics.store")
            if analytics_store is not None:
                analytics_store.wait_for_syncs()

    app = FastAPI(
        title="Patron",
        version="0.1.0",
        description=(
            "Customer loyalty and retention API. "
            "Authenticate with `Authorization: Bearer <api key>`."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_session_factory(engine, clock)
    app.state.read_sessions = make_session_factory(engine, clock, read_only=True)
    install_error_handlers(app)
    app.add_middleware(InputGuard)

    @app.get("/health", tags=["health"], operation_id="health")
    def health() -> dict[str, str]:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "database": engine.dialect.name}

    for router in ROUTERS:
        app.include_router(router)
    install_web(app, settings)
    app.add_middleware(ApiBodyLimit, settings=settings)
    install_openapi(app, examples=REQUEST_EXAMPLES)
    # Added after the pages' middleware, so it runs before them: a refused request costs no
    # session, cookie or thread.
    app.state.request_slots = Slots(settings.max_requests_in_flight)
    writes = settings.max_writes_in_flight
    if writes is None:
        writes = SQLITE_WRITES_IN_FLIGHT if engine.dialect.name == "sqlite" else 0
    app.state.write_slots = Slots(writes) if writes else None
    app.add_middleware(
        AdmissionControl,
        slots=app.state.request_slots,
        write_slots=app.state.write_slots,
        queue_seconds=settings.request_queue_seconds,
    )
    # Outside admission control: refusals are counted and carry a request id too.
    install_metrics(app, engine, app.state.request_slots, settings.metrics_token)
    app.add_middleware(RequestIdMiddleware)
    return app


def serve_app() -> FastAPI:
    """Entry point for uvicorn's factory mode."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)
