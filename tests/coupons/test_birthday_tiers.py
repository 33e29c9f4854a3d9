"""Birthday coupons and the tiers' birthday gift (ADR 0357): once a tier setting marks some
tiers with ``birthday_gift``, only their members get the birthday templates; with none marked,
every registered member does, as before."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.db import transaction
from patron.coupons import automation
from patron.coupons.models import CouponCode
from patron.programs.models import MemberTier
from tests.conftest import START, Tenant
from tests.coupons.helpers import template
from tests.programs.helpers import TIERS, new_member, typical_program

BIRTHDAY = date(1990, 3, 10)  # START is 2026-03-10 10:00 in Shanghai


def _tiers(gifted: set[str]) -> dict[str, Any]:
    tiers = copy.deepcopy(TIERS)
    for tier in tiers["tiers"]:
        tier["birthday_gift"] = tier["code"] in gifted
    return tiers


def _members(sessions: sessionmaker[Session], merchant_id: int) -> dict[str, int]:
    """An entry-tier member with no tier row yet, a silver, a gold and a gold born tomorrow."""
    ids = {
        "new": new_member(sessions, merchant_id, "+8613800000001", BIRTHDAY),
        "silver": new_member(sessions, merchant_id, "+8613800000002", BIRTHDAY),
        "gold": new_member(sessions, merchant_id, "+8613800000003", BIRTHDAY),
        "gold_tomorrow": new_member(sessions, merchant_id, "+8613800000004", date(1990, 3, 11)),
    }
    with transaction(sessions) as s:
        for who, code in (("silver", "silver"), ("gold", "gold"), ("gold_tomorrow", "gold")):
            s.add(
                MemberTier(
                    merchant_id=merchant_id,
                    member_id=ids[who],
                    tier_code=code,
                    floor_code=code,
                    since=START,
                    evaluated_at=START,
                    rule_version=1,
                )
            )
    return ids


def _given(sessions: sessionmaker[Session], template_id: int) -> set[tuple[int | None, str]]:
    with transaction(sessions) as s:
        rows = s.execute(
            select(CouponCode.member_id, CouponCode.reason_key).where(
                CouponCode.template_id == template_id
            )
        )
        return {(m, str(r)) for m, r in rows}


def test_only_tiers_with_a_birthday_gift_get_it(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m, tiers=_tiers({"gold", "black"}))
    ids = _members(sessions, m)
    tid = template(sessions, m, auto_issue_on=["birthday"], valid_days=30)
    for _ in range(2):  # the second pass issues nothing more
        with transaction(sessions) as s:
            automation.issue_birthday_coupons(s, START)
    assert _given(sessions, tid) == {(ids["gold"], "birthday:2026")}


def test_entry_tier_gift_reaches_members_not_yet_evaluated(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m, tiers=_tiers({"silver"}))
    ids = _members(sessions, m)
    tid = template(sessions, m, auto_issue_on=["birthday"])
    with transaction(sessions) as s:
        assert automation.issue_birthday_coupons(s, START) == 2
    assert _given(sessions, tid) == {
        (ids["new"], "birthday:2026"),
        (ids["silver"], "birthday:2026"),
    }


def test_no_tier_marked_everyone_gets_it_and_template_tiers_narrow(
    sessions: sessionmaker[Session], tenant: Tenant
) -> None:
    m = tenant.merchant_id
    typical_program(sessions, m, tiers=_tiers(set()))
    ids = _members(sessions, m)
    everyone = template(sessions, m, name="Birthday", auto_issue_on=["birthday"])
    gold_only = template(
        sessions, m, name="Gold birthday", auto_issue_on=["birthday"], tier_codes=["gold"]
    )
    with transaction(sessions) as s:
        assert automation.issue_birthday_coupons(s, START) == 4
    assert _given(sessions, everyone) == {
        (ids["new"], "birthday:2026"),
        (ids["silver"], "birthday:2026"),
        (ids["gold"], "birthday:2026"),
    }
    assert _given(sessions, gold_only) == {(ids["gold"], "birthday:2026")}
    # Tomorrow, the other gold member.
    with transaction(sessions) as s:
        assert automation.issue_birthday_coupons(s, datetime(2026, 3, 11, 2, tzinfo=UTC)) == 2
    assert (ids["gold_tomorrow"], "birthday:2026") in _given(sessions, gold_only)
