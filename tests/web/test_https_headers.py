"""Production headers: HSTS only when Patron is served over https, the others always."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from tests.conftest import Tenant


def test_hsts_and_production_headers_over_https(
    settings: Settings, engine: Engine, clock: FrozenClock, tenant: Tenant
) -> None:
    https = settings.model_copy(update={"base_url": "https://loyalty.example.com"})
    app = create_app(https, engine=engine, clock=clock, run_worker=False)
    with TestClient(app, base_url="https://loyalty.example.com") as c:
        first = c.get("/login")
        assert "; secure" in first.headers["set-cookie"].lower()
        for r in (first, c.get("/api/v1/merchant", headers=tenant.headers)):
            assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["cross-origin-opener-policy"] == "same-origin"
            assert "camera=()" in r.headers["permissions-policy"]
        page = c.get("/login")
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_no_hsts_over_plain_http(client: TestClient) -> None:
    r = client.get("/login")
    assert "strict-transport-security" not in r.headers
    assert r.headers["cross-origin-opener-policy"] == "same-origin"
