"""Rate limits per API key and per client address (API, dashboard sign-in, portal sign-in
links): 429 with Retry-After, each limit from the settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from tests.conftest import Tenant


@pytest.fixture
def make_client(settings: Settings, engine: Engine, clock: FrozenClock) -> Iterator[object]:
    """``make_client(address=…, **limits)``: an app with these settings, seen from ``address``;
    clients made in one test share the app (and its counters)."""
    apps: dict[str, object] = {}
    opened: list[TestClient] = []

    def make(address: str = "192.0.2.10", **overrides: object) -> TestClient:
        if "app" not in apps:
            apps["app"] = create_app(
                settings.model_copy(update=overrides), engine=engine, clock=clock, run_worker=False
            )
        c = TestClient(apps["app"], client=(address, 40000))  # type: ignore[arg-type]
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def _limited(r: object) -> int:
    assert r.status_code == 429, r.text  # type: ignore[attr-defined]
    wait = int(r.headers["retry-after"])  # type: ignore[attr-defined]
    assert 1 <= wait <= 60
    return wait


def test_api_is_limited_per_key(make_client: object, tenant: Tenant) -> None:
    client = make_client(rate_limit_api_key="3/minute")  # type: ignore[operator]
    for _ in range(3):
        assert client.get("/api/v1/merchant", headers=tenant.headers).status_code == 200
    over = client.get("/api/v1/merchant", headers=tenant.headers)
    _limited(over)
    assert over.json()["error"]["code"] == "rate_limited"
    # Another key from the same address is counted apart.
    assert client.get("/api/v1/merchant", headers=tenant.clerk_headers).status_code == 200


def test_api_is_limited_per_address(make_client: object, tenant: Tenant) -> None:
    client = make_client(rate_limit_api_address="4/minute")  # type: ignore[operator]
    for headers in (tenant.headers, tenant.clerk_headers, {}, {"Authorization": "Bearer x"}):
        assert client.get("/api/v1/merchant", headers=headers).status_code in {200, 401}
    _limited(client.get("/api/v1/merchant", headers=tenant.clerk_headers))
    elsewhere = make_client(address="198.51.100.20")  # type: ignore[operator]
    assert elsewhere.get("/api/v1/merchant", headers=tenant.headers).status_code == 200


def test_sign_in_posts_are_limited_per_address(make_client: object, tenant: Tenant) -> None:
    client = make_client(rate_limit_sign_in_address="2/minute")  # type: ignore[operator]
    for _ in range(2):
        r = client.post("/login", data={"email": tenant.owner_email, "password": "x"})
        assert r.status_code == 403  # no CSRF token: refused after the limit counted it
    over = client.post("/login", data={"email": tenant.owner_email, "password": "x"})
    _limited(over)
    assert "Too many attempts" in over.text
    assert client.get("/login").status_code == 200  # the page itself is not limited


def test_portal_sign_in_links_are_limited_per_token_and_address(make_client: object) -> None:
    client = make_client(  # type: ignore[operator]
        rate_limit_portal_token="2/minute", rate_limit_portal_address="4/minute"
    )
    for _ in range(2):
        assert client.get("/portal/signin/guess-one").status_code == 404
    _limited(client.get("/portal/signin/guess-one"))
    assert client.get("/portal/signin/guess-two").status_code == 404
    _limited(client.get("/portal/signin/guess-three"))  # the address's fifth


def test_limits_can_be_switched_off(make_client: object, tenant: Tenant) -> None:
    client = make_client(rate_limit_enabled=False, rate_limit_api_key="1/minute")  # type: ignore[operator]
    for _ in range(3):
        assert client.get("/api/v1/merchant", headers=tenant.headers).status_code == 200
