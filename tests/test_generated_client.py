"""A typed Python client generated from /openapi.json (openapi-python-client, offline) works
against a live server: a member, a product, points by hand, a checkout, the balance and a list
page by page, each answer a generated model (ADR 0034)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine

from patron.app import create_app
from patron.core.clock import FrozenClock
from patron.core.config import Settings
from tests.conftest import Tenant
from tests.live import live_server

PACKAGE = "patron_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The client package, generated once per test process from the app's document."""
    where = tmp_path_factory.mktemp("generated")
    spec = where / "openapi.json"
    spec.write_text(json.dumps(create_app(Settings(), run_worker=False).openapi()))
    config = where / "config.yaml"
    # No formatter run (the import is the check); the membership card's SVG comes as bytes.
    config.write_text(
        "post_hooks: []\ncontent_type_overrides:\n  image/svg+xml: application/octet-stream\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(where / PACKAGE),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # A warning means a part of the document the generator could not type.
    assert "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    return where


def _load(where: Path, module: str) -> ModuleType:
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))
    return importlib.import_module(f"{PACKAGE}.{module}")


def test_a_generated_client_runs_a_sale(
    generated: Path, settings: Settings, engine: Engine, clock: FrozenClock, tenant: Tenant
) -> None:
    client_module = _load(generated, "client")
    models = _load(generated, "models")
    api: dict[str, Any] = {
        name: _load(generated, f"api.{name}")
        for name in (
            "members.create_member",
            "members.list_members",
            "orders.create_product",
            "ledger.adjust_member_balance",
            "ledger.member_balances",
            "checkout.checkout_commit",
            "programs.put_program_rule",
        )
    }
    app = create_app(settings, engine=engine, clock=clock, run_worker=False)
    with live_server(app) as base_url:
        token = tenant.headers["Authorization"].removeprefix("Bearer ")
        patron = client_module.AuthenticatedClient(base_url=base_url, token=token)
        with patron:
            rule = api["programs.put_program_rule"].sync(
                "points",
                client=patron,
                body=models.RuleIn.from_dict({"config": {"earn_points": 1, "per_minor": 100}}),
            )
            assert isinstance(rule, models.RuleOut) and rule.version == 1, rule
            mei = api["members.create_member"].sync(
                client=patron, body=models.MemberCreate(first_name="Mei", last_name="Lin")
            )
            assert isinstance(mei, models.MemberDetail), mei
            lee = api["members.create_member"].sync(
                client=patron, body=models.MemberCreate(first_name="Lee")
            )
            assert isinstance(lee, models.MemberDetail)
            tea = api["orders.create_product"].sync(
                client=patron,
                body=models.ProductCreate(sku="TEA-01", name="Jasmine tea", price_minor=1800),
            )
            assert isinstance(tea, models.ProductOut)
            assert (tea.sku, tea.price_minor) == ("TEA-01", 1800)
            given = api["ledger.adjust_member_balance"].sync(
                mei.id,
                client=patron,
                idempotency_key="welcome-mei",
                body=models.AdjustmentIn(
                    asset=models.Asset.POINTS,
                    amount=300,
                    reason_code="welcome",
                    description="Welcome to the tea house",
                ),
            )
            assert isinstance(given, models.EntryOut), given
            cart = models.CommitRequest(
                member_id=mei.id, lines=[models.CartLineIn(sku="TEA-01", quantity=2)]
            )
            till = {"client": patron, "idempotency_key": "till-1-sale-0001", "body": cart}
            sale = api["checkout.checkout_commit"].sync(**till)
            assert isinstance(sale, models.CommitOut), sale
            assert isinstance(sale.quote, models.QuoteOut)
            assert (sale.replayed, sale.order_external_id) == (False, "checkout-till-1-sale-0001")
            quote = sale.quote
            assert (quote.subtotal_minor, quote.total_minor, quote.cash_due_minor) == (3600,) * 3
            assert quote.points_to_earn == 36
            again = api["checkout.checkout_commit"].sync_detailed(**till)
            assert again.status_code == 200 and again.parsed.order_id == sale.order_id
            balances = api["ledger.member_balances"].sync(mei.id, client=patron)
            assert isinstance(balances, models.BalancesOut)
            # Points from a sale stay pending through the return window (default 7 days).
            assert (balances.points_spendable, balances.points_pending) == (300, 36)
            first = api["members.list_members"].sync(client=patron, limit=1)
            assert isinstance(first, models.PageMemberOut)
            assert [m.first_name for m in first.items] == ["Lee"]
            assert isinstance(first.items[0], models.MemberOut)
            second = api["members.list_members"].sync(
                client=patron, limit=1, cursor=first.next_cursor
            )
            assert [m.id for m in second.items] == [mei.id]
            assert second.next_cursor is None
            refused = api["members.create_member"].sync(
                client=patron, body=models.MemberCreate(first_name="Mei", email="not-an-email")
            )
            assert isinstance(refused, models.Error)
            assert refused.error.code == "invalid_email"
