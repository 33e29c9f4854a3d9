"""Segment rules over programs: tier and balances, with exact member sets."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.core.errors import InvalidInput
from patron.engagement.segments.service import preview
from patron.programs.stored_value import top_up
from tests.conftest import Tenant
from tests.programs.helpers import balances, new_member, typical_program
from tests.programs.test_tiers_and_days import _order


def _members(sessions: sessionmaker[Session], m: int, rules: dict[str, Any]) -> set[int]:
    with transaction(sessions) as s:
        found = preview(s, m, rules, sample=50)
        assert found["count"] == len(found["sample"])
        return {member.id for member in found["sample"]}


def test_tier_and_balance_fields(sessions: sessionmaker[Session], tenant: Tenant) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m)
    gold = new_member(sessions, m, "+8613800000001")
    silver = new_member(sessions, m, "+8613800000002")
    nobody = new_member(sessions, m, "+8613800000003")  # never bought: no tier row yet
    _order(sessions, m, gold, "A-1", 120000)
    _order(sessions, m, silver, "B-1", 30000)
    with transaction(sessions) as s:
        top_up(s, m, silver, 10000, "t-1", actor="test")
    assert balances(sessions, m, gold)["points_pending"] == 1200
    assert balances(sessions, m, silver)["stored_principal"] == 10000

    assert _members(sessions, m, {"field": "tier", "op": "eq", "value": "gold"}) == {gold}
    assert _members(sessions, m, {"field": "tier", "op": "in", "value": ["gold", "silver"]}) == {
        gold,
        silver,
    }
    assert _members(sessions, m, {"field": "tier", "op": "ne", "value": "gold"}) == {
        silver,
        nobody,
    }
    assert _members(sessions, m, {"field": "tier", "op": "eq", "value": None}) == {nobody}
    assert _members(sessions, m, {"field": "growth", "op": "gte", "value": 1000}) == {gold}
    assert _members(
        sessions, m, {"field": "pending_points", "op": "between", "value": [1, 500]}
    ) == {silver}
    assert _members(sessions, m, {"field": "points_balance", "op": "eq", "value": 0}) == {
        gold,
        silver,
        nobody,
    }  # all still pending
    assert _members(sessions, m, {"field": "stored_value_balance", "op": "eq", "value": 12000}) == {
        silver
    }  # 100.00 principal + 20.00 bonus


@pytest.mark.parametrize(
    "rule",
    [
        {"field": "tier", "op": "eq", "value": 3},
        {"field": "tier", "op": "gt", "value": "gold"},
        {"field": "points_balance", "op": "gt", "value": "lots"},
        {"field": "growth", "op": "in", "value": [1, 2]},
    ],
)
def test_bad_program_rules_are_refused(
    sessions: sessionmaker[Session], tenant: Tenant, rule: dict[str, Any]
) -> None:
    with transaction(sessions) as s, pytest.raises(InvalidInput) as err:
        preview(s, tenant.merchant_id, rule)
    assert err.value.code == "invalid_segment_rule"
