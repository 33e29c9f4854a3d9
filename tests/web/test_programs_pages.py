"""Program settings pages on SQLite and PostgreSQL: forms, versions, errors, roles, Chinese."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.programs import rules
from patron.programs.config import Kind
from patron.programs.models import ProgramRule
from patron.web.dashboard import program_fields as fields
from tests.conftest import Tenant
from tests.web.helpers import add_staff, csrf_of, sign_in, sign_in_as

POINTS = {"earn_points": 1, "per_minor": 100, "pending_days": 7, "welcome_bonus": 50}
TIERS = {
    "tiers": [
        {"code": "silver", "name": "Silver", "threshold": 0},
        {"code": "gold", "name": "Gold", "threshold": 5000, "discount_percent": "5"},
    ]
}


def _put(sessions: sessionmaker[Session], tenant: Tenant, kind: Kind, config: Any) -> None:
    with transaction(sessions) as s:
        rules.put_rule(s, tenant.merchant_id, kind, config, "test")


def _versions(sessions: sessionmaker[Session], tenant: Tenant, kind: Kind) -> list[ProgramRule]:
    with sessions() as s:
        return list(
            s.scalars(
                select(ProgramRule)
                .where(
                    ProgramRule.merchant_id == tenant.merchant_id, ProgramRule.kind == kind.value
                )
                .order_by(ProgramRule.version)
            )
        )


def _form(kind: Kind, config: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The form as the page fills it from ``config`` (unchecked boxes are not sent), changed."""
    values = fields.form_values(kind, config, 2)
    values.update(changes)
    return {k: v for k, v in values.items() if v is not False and v is not True} | {
        k: "on" for k, v in values.items() if v is True
    }


def test_programs_pages_render_with_the_settings(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    _put(sessions, tenant, Kind.POINTS, POINTS)
    _put(sessions, tenant, Kind.TIERS, TIERS)
    sign_in(client, tenant)
    index = client.get("/programs")
    assert index.status_code == 200
    assert "Version 1 in force" in index.text and "Not set up" in index.text
    for kind in Kind:
        page = client.get(f"/programs/{kind.value}")
        assert page.status_code == 200, kind
    points = client.get("/programs/points")
    assert 'name="per_minor" value="1.00"' in points.text
    assert 'name="welcome_bonus" value="50"' in points.text
    tiers = client.get("/programs/tiers")
    assert 'name="tiers-1-name" value="Gold"' in tiers.text
    assert 'name="tiers-1-threshold" value="5000"' in tiers.text
    assert "Version 1" in tiers.text and "In force" in tiers.text
    assert client.get("/programs/nothing").status_code == 422


def test_points_form_saves_a_new_version(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    _put(sessions, tenant, Kind.POINTS, POINTS)
    sign_in(client, tenant)
    page = client.get("/programs/points")
    stored = _versions(sessions, tenant, Kind.POINTS)[0].config
    data = _form(Kind.POINTS, stored, per_minor="2.50", earn_points="3")
    data |= {"csrf_token": csrf_of(page), "effective_from": "2031-01-01T00:00"}
    r = client.post("/programs/points", data=data, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/programs/points")
    rows = _versions(sessions, tenant, Kind.POINTS)
    assert [row.version for row in rows] == [1, 2]
    assert rows[1].config["per_minor"] == 250 and rows[1].config["earn_points"] == 3
    assert rows[1].config["welcome_bonus"] == 50
    # 2031-01-01 00:00 in Shanghai is 2030-12-31 16:00 UTC.
    assert rows[1].effective_from.isoformat() == "2030-12-31T16:00:00+00:00"
    assert rows[1].actor.startswith("staff:")
    after = client.get("/programs/points")
    assert "Saved as version 2." in after.text and "Scheduled" in after.text
    assert "per_minor" in after.text  # what changed


def test_tiers_and_bonus_levels_rows_are_read(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    sign_in(client, tenant)
    page = client.get("/programs/tiers")
    data = {
        "csrf_token": csrf_of(page),
        "growth_per": "1",
        "per_minor": "1.00",
        "evaluation_months": "12",
        "growth_window_months": "",
        "tiers-0-code": "silver",
        "tiers-0-name": "Silver",
        "tiers-0-threshold": "0",
        "tiers-0-discount_percent": "0",
        "tiers-0-points_multiplier": "1",
        "tiers-1-code": "",
        "tiers-1-name": "",
        "tiers-2-code": "gold",
        "tiers-2-name": "Gold",
        "tiers-2-threshold": "1,000",
        "tiers-2-discount_percent": "7.5",
        "tiers-2-points_multiplier": "1.5",
        "tiers-2-free_shipping": "on",
    }
    r = client.post("/programs/tiers", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    (row,) = _versions(sessions, tenant, Kind.TIERS)
    assert row.config["tiers"][1] == {
        "code": "gold",
        "name": "Gold",
        "threshold": 1000,
        "discount_percent": "7.5",
        "points_multiplier": "1.5",
        "birthday_gift": False,
        "free_shipping": True,
    }
    page = client.get("/programs/stored_value")
    r = client.post(
        "/programs/stored_value",
        data={
            "csrf_token": csrf_of(page),
            "bonus_levels-0-top_up_minor": "500",
            "bonus_levels-0-bonus_minor": "50.00",
            "bonus_levels-1-top_up_minor": "1000",
            "bonus_levels-1-bonus_minor": "120",
            "spend_order": "bonus_first",
            "used_bonus_on_refund": "merchant_absorbs",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    (sv,) = _versions(sessions, tenant, Kind.STORED_VALUE)
    assert sv.config["bonus_levels"] == [
        {"top_up_minor": 50000, "bonus_minor": 5000},
        {"top_up_minor": 100000, "bonus_minor": 12000},
    ]
    page = client.get("/programs/member_day")
    r = client.post(
        "/programs/member_day",
        data={
            "csrf_token": csrf_of(page),
            "days_of_month": ["8", "18"],
            "weekdays": "5",
            "discount_percent": "5",
            "points_multiplier": "2",
            "early_access": "member_day",
            "early_access_tiers": "gold, black",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    (md,) = _versions(sessions, tenant, Kind.MEMBER_DAY)
    assert md.config["days_of_month"] == [8, 18] and md.config["weekdays"] == [5]
    assert md.config["early_access"] == "member_day"
    assert md.config["early_access_tiers"] == ["gold", "black"]


def test_bad_values_show_the_errors_and_save_nothing(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    _put(sessions, tenant, Kind.TIERS, TIERS)
    sign_in(client, tenant)
    page = client.get("/programs/tiers")
    stored = _versions(sessions, tenant, Kind.TIERS)[0].config
    # The service refuses: the second tier is not above the first.
    data = _form(Kind.TIERS, stored, **{"tiers-1-threshold": "0"})
    r = client.post("/programs/tiers", data=data | {"csrf_token": csrf_of(page)})
    assert r.status_code == 422
    assert "Not saved. Please check the fields marked below." in r.text
    assert "Tiers go from the lowest growth up, each higher than the last." in r.text
    assert 'name="tiers-1-threshold" value="0"' in r.text  # what was typed is kept
    # A field the service bounds, and an amount that is not money: shown at the field.
    data = _form(Kind.TIERS, stored, evaluation_months="0", per_minor="abc")
    r = client.post("/programs/tiers", data=data | {"csrf_token": csrf_of(page)})
    assert r.status_code == 422
    assert "Enter an amount, like 12.50." in r.text
    data = _form(Kind.TIERS, stored, evaluation_months="0")
    r = client.post("/programs/tiers", data=data | {"csrf_token": csrf_of(page)})
    assert r.status_code == 422 and "Must be at least 1." in r.text
    assert (
        'id="f-evaluation_months" name="evaluation_months" value="0" aria-invalid="true"' in r.text
    )
    # A fraction of a fen is not an amount.
    data = _form(Kind.TIERS, stored, per_minor="1.005")
    r = client.post("/programs/tiers", data=data | {"csrf_token": csrf_of(page)})
    assert r.status_code == 422
    assert [row.version for row in _versions(sessions, tenant, Kind.TIERS)] == [1]


def test_errors_in_chinese(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    _put(sessions, tenant, Kind.TIERS, TIERS)
    sign_in(client, tenant)
    page = client.get("/programs/tiers")
    client.post(
        "/language", data={"locale": "zh_Hans", "next": "/programs", "csrf_token": csrf_of(page)}
    )
    page = client.get("/programs/tiers")
    assert "会员等级" in page.text and "保存为新版本" in page.text
    stored = _versions(sessions, tenant, Kind.TIERS)[0].config
    data = _form(Kind.TIERS, stored, evaluation_months="0")
    r = client.post("/programs/tiers", data=data | {"csrf_token": csrf_of(page)})
    assert r.status_code == 422 and "不能小于 1。" in r.text


def test_programs_need_a_manager_and_csrf(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    email, password = add_staff(sessions, tenant, "clerk")
    sign_in_as(client, email, password)
    assert client.get("/programs").status_code == 403
    page = client.get("/members")
    assert 'href="/programs"' not in page.text
    r = client.post(
        "/programs/refund_policy", data={"csrf_token": csrf_of(page), "spent_points": "cap"}
    )
    assert r.status_code == 403
    manager = TestClient(client.app)
    email, password = add_staff(sessions, tenant, "manager")
    sign_in_as(manager, email, password)
    r = manager.post("/programs/refund_policy", data={"spent_points": "cap"})
    assert r.status_code == 403  # no CSRF token
    assert _versions(sessions, tenant, Kind.REFUND_POLICY) == []
    page = manager.get("/programs/refund_policy")
    r = manager.post(
        "/programs/refund_policy",
        data={"spent_points": "cap", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert [v.config for v in _versions(sessions, tenant, Kind.REFUND_POLICY)] == [
        {"spent_points": "cap"}
    ]


def test_money_follows_the_currency_exponent() -> None:
    yen = fields.read_form(
        Kind.STORED_VALUE,
        {
            "bonus_levels-0-top_up_minor": "1500",
            "bonus_levels-0-bonus_minor": "100",
            "spend_order": "principal_first",
            "used_bonus_on_refund": "merchant_absorbs",
        },
        0,
    )
    assert yen.errors == {} and yen.config["bonus_levels"] == [
        {"top_up_minor": 1500, "bonus_minor": 100}
    ]
    bad = fields.read_form(
        Kind.STORED_VALUE,
        {"bonus_levels-0-top_up_minor": "15.5", "bonus_levels-0-bonus_minor": "1"},
        0,
    )
    assert bad.errors == {"bonus_levels.0.top_up_minor": "Enter an amount, like 12.50."}
    assert (
        fields.form_values(
            Kind.STORED_VALUE, {"bonus_levels": [{"top_up_minor": 1500, "bonus_minor": 0}]}, 0
        )["bonus_levels-0-top_up_minor"]
        == "1500"
    )
