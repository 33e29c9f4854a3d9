"""Property: random histories across several members keep the ledger exact, and refunding
everything returns every member to what they had before, by the stated policies.

A hypothesis state machine drives purchases at the till (with points, stored value and coupons),
partial and full refunds, top-ups (at the till, and paid through a provider whose report
arrives several times), coupon issues, points-mall redemptions and their fulfilment
or cancellation, clock jumps, the ``patron expire`` run and the coupon worker (expiry, and
restoring coupons of fully refunded orders). The refund policy for spent points (debt or cap)
and the points expiry rule are drawn per history.

After every step: each asset's postings sum to zero, ``verify`` finds nothing, no member
balance is negative (except points under the debt policy), balances are exact integers, the
lots agree with the expiry run, coupon and mall stock counts add up, and the coupons in use
belong to orders not fully refunded.

At the end every order is refunded in full, then every mall order that may still be cancelled
is cancelled. Each member then has exactly the stored value their top-ups gave them, no growth
and no pending points, every coupon back (or expired by its date, or voided with its cancelled
voucher), and points equal to their welcome points plus what the cap policy forgave, less what
expired and what the mall orders they kept cost.

Histories are derandomized (the same ones every run) so CI is deterministic;
``PATRON_PROPERTY_EXAMPLES=N`` runs N histories instead of the default 25.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from patron.checkout import service as checkout
from patron.checkout.schemas import CommitRequest
from patron.core.clock import FrozenClock, utcnow
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.coupons import automation, mall
from patron.coupons import service as coupons
from patron.coupons.models import CouponCode, CouponTemplate, MallItem, MallOrder
from patron.coupons.schemas import MallItemIn, TemplateIn
from patron.ledger import queries
from patron.ledger.models import JournalEntry, LedgerAccount, PointsLot, Posting
from patron.ledger.tasks import expire_until_idle
from patron.ledger.verify import verify
from patron.members.schemas import MemberCreate
from patron.members.service import create_member
from patron.orders.models import Order
from patron.orders.schemas import RefundCreate, RefundLineIn
from patron.orders.service import refund_order
from patron.payments import service as payments
from patron.payments.providers.base import TradeStatus
from patron.programs import bonuses, stored_value
from patron.programs.models import OrderPayment
from tests.conftest import START, make_tenant
from tests.programs.helpers import POINTS, STORED, typical_program

EXAMPLES = int(os.environ.get("PATRON_PROPERTY_EXAMPLES", "25"))
STEPS = 30
SEQ = itertools.count()
MEMBERS = 3
EXPIRY_RULES: list[dict[str, Any]] = [
    {"mode": "never"},
    {"mode": "rolling", "months": 1},
    {"mode": "end_of_month", "months": 0},
]
# (kind, name, points price, stock, per-member limit); the voucher issues TEMPLATES[2].
MALL_ITEMS: list[tuple[str, str, int, int | None, int | None]] = [
    ("gift", "Celadon cup", 300, 4, 2),
    ("product", "Tea tin", 800, None, None),
    ("voucher", "5 off voucher", 200, 6, None),
]
TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "10 off",
        "kind": "amount_off",
        "amount_off_minor": 1000,
        "valid_days": 20,
        "per_member_limit": 2,
    },
    {"name": "10% off", "kind": "percent_off", "percent_off": 10, "max_discount_minor": 3000},
    {"name": "5 off", "kind": "amount_off", "amount_off_minor": 500, "valid_days": 30},
]
MALL_MOVES = ["ready", "shipped", "collected", "delivered", "cancelled"]
OPEN_MALL = {"pending", "ready", "shipped"}
# Refusals a step may meet; anything else fails the property.
REFUND_REFUSED = {"refund_exceeds_quantity", "nothing_to_refund"}
MALL_REFUSED = {"insufficient_balance", "mall_out_of_stock", "mall_member_limit_reached"}
MOVE_REFUSED = {"mall_order_transition", "mall_voucher_used"}
ISSUE_REFUSED = {"coupon_member_limit_reached"}


def _action(name: str, **args: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.tuples(st.just(name), st.fixed_dictionaries(args))


WHO = st.integers(0, MEMBERS - 1)
PICK = st.integers(0, 10**6)
ACTIONS = st.one_of(
    _action(
        "buy",
        who=WHO,
        price=st.one_of(st.sampled_from([30000, 60000, 90000]), st.integers(100, 90000)),
        qty=st.integers(1, 3),
        use_points=st.booleans(),
        use_stored=st.booleans(),
        use_codes=st.integers(0, 2),
    ),
    _action("refund", pick=PICK, whole=st.booleans()),
    _action("top_up", who=WHO, amount=st.integers(1000, 60000)),
    _action("pay_top_up", who=WHO, amount=st.integers(1000, 60000), times=st.integers(1, 3)),
    _action("issue_coupon", who=WHO, template=st.integers(0, 2)),
    _action("redeem_in_mall", who=WHO, item=st.integers(0, 2), qty=st.integers(1, 2)),
    _action("move_mall_order", pick=PICK, move=st.sampled_from(MALL_MOVES)),
    _action("jump", days=st.integers(0, 40), run=st.booleans()),
)


def expired_points(s: Session, member: int) -> int:
    """Points of this member the ledger has expired so far: what went to the shop's
    ``points_expired`` account in entries on the member's points (the expiry run's, and a
    refund's whose given-back points returned to lots already past their date)."""
    member_points = (
        select(Posting.entry_id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(LedgerAccount.member_id == member, LedgerAccount.asset == "points")
    )
    total = s.scalar(
        select(func.coalesce(func.sum(Posting.amount), 0))
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(
            LedgerAccount.member_id.is_(None),
            LedgerAccount.code == "points_expired",
            Posting.entry_id.in_(member_points),
        )
    )
    return int(total or 0)


def bonus_for(amount: int) -> int:
    """The stored-value bonus the typical program's levels give (highest level reached)."""
    levels = [lv for lv in STORED["bonus_levels"] if amount >= lv["top_up_minor"]]
    return max((lv["bonus_minor"] for lv in levels), default=0)


class LoyaltyHistory(RuleBasedStateMachine):
    """One merchant, several members, a random history (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session], clock: FrozenClock) -> None:
        super().__init__()
        self.sessions = sessions
        self.clock = clock
        self.n = 0
        self.m = 0
        self.policy = "debt"
        self.expiry: dict[str, Any] = {}
        self.members: list[int] = []
        self.templates: list[int] = []
        self.items: list[int] = []
        self.stock: dict[int, int] = {}
        self.orders: list[int] = []
        self.mall_orders: list[int] = []
        self.topped: dict[int, tuple[int, int]] = {}
        self.welcome: dict[int, int] = {}

    # Set-up ------------------------------------------------------------------------------------

    @initialize(
        policy=st.sampled_from(["debt", "cap"]),
        expiry=st.sampled_from(EXPIRY_RULES),
        pending_days=st.sampled_from([0, 7]),
        welcome=st.sampled_from([2000, 0]),
    )
    def set_up(self, policy: str, expiry: dict[str, Any], pending_days: int, welcome: int) -> None:
        self.clock.set(START)  # every history starts at the same time: replays see the same
        if expiry.get("months") == 0:
            pending_days = 0  # else refused: points could expire while still pending
        self.policy, self.expiry = policy, expiry
        self.m = make_tenant(self.sessions, f"prop-{next(SEQ)}").merchant_id
        typical_program(
            self.sessions,
            self.m,
            points={
                **POINTS,
                "expiry": expiry,
                "pending_days": pending_days,
                "welcome_bonus": welcome,
            },
            refund_policy={"spent_points": policy},
        )
        with transaction(self.sessions) as s:
            for i in range(MEMBERS):
                member = create_member(
                    s,
                    self.m,
                    MemberCreate(first_name=f"M{i}", phone=f"+86138000002{i:02d}", registered=True),
                )
                self.members.append(member.id)
                bonuses.grant_welcome_bonus(s, self.m, member.id)
                self.welcome[member.id] = welcome
            self.templates = [
                coupons.create_template(s, self.m, TemplateIn(stackable=True, **t)).id
                for t in TEMPLATES
            ]
            for kind, name, price, stock, limit in MALL_ITEMS:
                data = MallItemIn(
                    kind=kind,  # type: ignore[arg-type]
                    name=name,
                    points_price=price,
                    stock=stock,
                    per_member_limit=limit,
                    template_id=self.templates[2] if kind == "voucher" else None,
                )
                item = mall.create_item(s, self.m, data)
                self.items.append(item.id)
                if stock is not None:
                    self.stock[item.id] = stock
        self.topped = dict.fromkeys(self.members, (0, 0))

    # Helpers -----------------------------------------------------------------------------------

    def _key(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def _member(self, pick: int) -> int:
        return self.members[pick % len(self.members)]

    def _snapshot(self) -> dict[str, Any]:
        """Everything a refused step must leave as it was."""
        with transaction(self.sessions) as s:
            return {
                "balances": {
                    mb: queries.member_balances(s, self.m, mb).balances for mb in self.members
                },
                "entries": s.scalar(select(func.count()).where(JournalEntry.merchant_id == self.m)),
                "stock": list(
                    s.execute(
                        select(MallItem.id, MallItem.stock)
                        .where(MallItem.merchant_id == self.m)
                        .order_by(MallItem.id)
                    )
                ),
                "mall": list(
                    s.execute(
                        select(MallOrder.id, MallOrder.status)
                        .where(MallOrder.merchant_id == self.m)
                        .order_by(MallOrder.id)
                    )
                ),
                "codes": list(
                    s.execute(
                        select(CouponCode.id, CouponCode.status)
                        .where(CouponCode.merchant_id == self.m)
                        .order_by(CouponCode.id)
                    )
                ),
            }

    def _refusable(self, refused: set[str], work: Callable[[Session], None]) -> bool:
        """Run ``work`` in one transaction; a refusal must be one of ``refused`` and must leave
        everything as it was. Returns whether the work was done."""
        before = self._snapshot()
        try:
            with transaction(self.sessions) as s:
                work(s)
        except PatronError as exc:
            assert exc.code in refused, (exc.code, exc.message)
            assert self._snapshot() == before
            return False
        return True

    def _follow_coupon_events(self) -> None:
        """The coupon worker: restores coupons used on fully refunded orders."""
        with transaction(self.sessions) as s:
            while automation.follow_events(s):
                pass

    def _usable_codes(self, s: Session, member: int) -> list[str]:
        now = utcnow(s)
        return [
            c.code
            for c, _t in coupons.member_coupons(s, self.m, member, status="issued")
            if c.expires_at is None or c.expires_at > now
        ]

    # Steps -------------------------------------------------------------------------------------

    @rule(action=ACTIONS)
    def step(self, action: tuple[str, dict[str, Any]]) -> None:
        """One action of the history. A single rule rather than one per action: hypothesis
        switches rules off at random per history ("swarm testing"), which at 25 histories
        left some actions and their combinations (buy, then refund) almost untried."""
        name, args = action
        getattr(self, name)(**args)

    def buy(
        self, who: int, price: int, qty: int, use_points: bool, use_stored: bool, use_codes: int
    ) -> None:
        member = self._member(who)
        with transaction(self.sessions) as s:
            codes = self._usable_codes(s, member)[:use_codes]
            req = CommitRequest(
                member_id=member,
                points="max" if use_points else None,
                stored_value="max" if use_stored else None,
                coupon_codes=codes,
                lines=[
                    {"name": "A", "quantity": qty, "unit_price_minor": price},
                    {"name": "B", "quantity": 1, "unit_price_minor": 999},
                ],
            )
            out = checkout.commit(s, self.m, req, self._key("k"), "clerk")
            self.orders.append(out.order_id)
            used = s.scalars(
                select(CouponCode.code).where(CouponCode.redeemed_order_id == out.order_id)
            ).all()
            assert sorted(used) == sorted(codes)

    def refund(self, pick: int, whole: bool) -> None:
        if not self.orders:
            return
        order = self.orders[pick % len(self.orders)]
        lines = None if whole else [RefundLineIn(line_no=1, quantity=1)]
        data = RefundCreate(external_id=self._key("r"), lines=lines)

        def work(s: Session) -> None:
            refund_order(s, self.m, order, data)

        self._refusable(REFUND_REFUSED, work)
        self._follow_coupon_events()

    def top_up(self, who: int, amount: int) -> None:
        member = self._member(who)
        with transaction(self.sessions) as s:
            stored_value.top_up(s, self.m, member, amount, self._key("t"), "clerk")
        principal, bonus = self.topped[member]
        self.topped[member] = (principal + amount, bonus + bonus_for(amount))

    def pay_top_up(self, who: int, amount: int, times: int) -> None:
        """A top-up paid through a provider (docs/payments.md): a verified report with another
        amount is refused, then the right one arrives ``times`` times — credited once."""
        member = self._member(who)
        with transaction(self.sessions) as s:
            if not payments.usable_providers(s, self.m):
                payments.put_settings(
                    s, self.m, "wechat_pay", enabled=True, base_url=None, credentials={}
                )
            out_trade_no = payments.new_order(s, self.m, member, "wechat_pay", amount).out_trade_no
        wrong = TradeStatus(out_trade_no, "paid", amount + 1, "CNY", "4200-wrong")
        try:
            with transaction(self.sessions) as s:
                payments.apply_status(s, self.m, "wechat_pay", wrong)
            raise AssertionError("a report with another amount was taken")
        except payments.PaymentRefused as exc:
            assert exc.code == "amount_mismatch"
        paid = TradeStatus(out_trade_no, "paid", amount, "CNY", f"4200{out_trade_no}")
        for _ in range(times):
            with transaction(self.sessions) as s:
                assert payments.apply_status(s, self.m, "wechat_pay", paid).status == "paid"
        principal, bonus = self.topped[member]
        self.topped[member] = (principal + amount, bonus + bonus_for(amount))

    def issue_coupon(self, who: int, template: int) -> None:
        member, template_id = self._member(who), self.templates[template]

        def work(s: Session) -> None:
            coupons.issue_code(s, self.m, template_id, member, actor="test")

        self._refusable(ISSUE_REFUSED, work)

    def redeem_in_mall(self, who: int, item: int, qty: int) -> None:
        item_id, key = self.items[item], self._key("mall")
        with transaction(self.sessions) as s:  # richest first: most picks can pay
            rich = sorted(
                self.members,
                key=lambda mb: -queries.member_balances(s, self.m, mb).points_spendable,
            )
        member = rich[who % len(rich)]

        def work(s: Session) -> None:
            before = queries.member_balances(s, self.m, member).balances["points"]
            expired_before = expired_points(s, member)
            order, replayed = mall.redeem(s, self.m, member, item_id, qty, key, "test")
            assert not replayed
            after = queries.member_balances(s, self.m, member).balances["points"]
            # spending first expires what is past its date, then takes exactly the price
            expired = expired_points(s, member) - expired_before
            assert before - expired - after == order.points == MALL_ITEMS[item][2] * qty
            self.mall_orders.append(order.id)

        self._refusable(MALL_REFUSED, work)

    def move_mall_order(self, pick: int, move: str) -> None:
        if not self.mall_orders:
            return
        order_id = self.mall_orders[pick % len(self.mall_orders)]

        def work(s: Session) -> None:
            order = mall.get_order(s, self.m, order_id)
            before = queries.member_balances(s, self.m, order.member_id).balances["points"]
            mall.update_order(s, self.m, order_id, move, "test", None)
            after = queries.member_balances(s, self.m, order.member_id).balances["points"]
            assert after - before == (order.points if move == "cancelled" else 0)

        self._refusable(MOVE_REFUSED, work)

    def jump(self, days: int, run: bool) -> None:
        """Move the clock; with ``run``, then run the schedule."""
        self.clock.advance(timedelta(days=days))
        if run:
            self._run_schedule()

    def _run_schedule(self) -> None:
        """``patron expire`` (release, expire, announce until idle) and the coupon worker; then
        nothing spendable, pending or issued is past its date. (Later steps at the same time
        may bring some back: a cancelled mall order returns points to the lots they came from,
        keeping their dates, for the next run to expire.)"""
        expire_until_idle(self.sessions, self.m)
        with transaction(self.sessions) as s:
            while coupons.expire_due(s):
                pass
        self._follow_coupon_events()
        with transaction(self.sessions) as s:
            now = utcnow(s)
            due = s.scalar(
                select(func.count()).where(
                    PointsLot.merchant_id == self.m,
                    PointsLot.released_at.is_not(None),
                    PointsLot.remaining > 0,
                    PointsLot.expires_at <= now,
                )
            )
            waiting = s.scalar(
                select(func.count()).where(
                    PointsLot.merchant_id == self.m,
                    PointsLot.released_at.is_(None),
                    PointsLot.available_at <= now,
                )
            )
            stale = s.scalar(
                select(func.count()).where(
                    CouponCode.merchant_id == self.m,
                    CouponCode.status == "issued",
                    CouponCode.expires_at <= now,
                )
            )
            assert (due, waiting, stale) == (0, 0, 0)

    # Invariants --------------------------------------------------------------------------------

    @invariant()
    def ledger_is_exact(self) -> None:
        if not self.m:
            return
        with transaction(self.sessions) as s:
            assert verify(s, self.m) == []
            sums = s.execute(
                select(Posting.asset, func.sum(Posting.amount))
                .where(Posting.merchant_id == self.m)
                .group_by(Posting.asset)
            ).all()
            assert all(int(total) == 0 for _asset, total in sums), sums
            negative = s.execute(
                select(LedgerAccount.member_id, LedgerAccount.asset, LedgerAccount.balance).where(
                    LedgerAccount.merchant_id == self.m,
                    LedgerAccount.member_id.is_not(None),
                    LedgerAccount.balance < 0,
                )
            ).all()
            allowed = {"points"} if self.policy == "debt" else set()
            assert all(asset in allowed for _m, asset, _b in negative), negative
            for member in self.members:
                b = queries.member_balances(s, self.m, member)
                split = [b.points_spendable, b.points_pending, b.points_past_expiry]
                assert all(type(v) is int for v in [*b.balances.values(), *split])
                assert b.points_spendable + b.points_past_expiry == max(b.balances["points"], 0)
            if self.expiry["mode"] == "never":
                assert [expired_points(s, mb) for mb in self.members] == [0] * MEMBERS

    @invariant()
    def coupons_and_stock_add_up(self) -> None:
        if not self.m:
            return
        with transaction(self.sessions) as s:
            for template in s.scalars(
                select(CouponTemplate).where(CouponTemplate.merchant_id == self.m)
            ):
                codes = s.scalar(select(func.count()).where(CouponCode.template_id == template.id))
                assert template.issued_count == codes
            # a coupon in use belongs to an order that is not fully refunded (the worker
            # restores the others after each refund)
            in_use = s.execute(
                select(CouponCode.code, Order.status)
                .join(Order, Order.id == CouponCode.redeemed_order_id)
                .where(CouponCode.merchant_id == self.m)
            ).all()
            assert all(status != "refunded" for _c, status in in_use), in_use
            redeemed = s.scalar(
                select(func.count()).where(
                    CouponCode.merchant_id == self.m, CouponCode.status == "redeemed"
                )
            )
            assert redeemed == len(in_use)
            for item_id, initial in self.stock.items():
                item = mall.get_item(s, self.m, item_id)
                held = s.scalar(
                    select(func.coalesce(func.sum(MallOrder.quantity), 0)).where(
                        MallOrder.item_id == item_id, MallOrder.status != "cancelled"
                    )
                )
                assert item.stock == initial - int(held or 0)
            for order in s.scalars(select(MallOrder).where(MallOrder.merchant_id == self.m)):
                assert (order.refund_entry_id is not None) == (order.status == "cancelled")
                is_voucher = order.item_id == self.items[2]
                assert (order.coupon_code_id is not None) == is_voucher

    # The end: refund everything ----------------------------------------------------------------

    def teardown(self) -> None:
        if sys.exc_info()[0] is None and self.m:  # not while a step's failure is on its way
            self.refund_everything()

    def refund_everything(self) -> None:
        with transaction(self.sessions) as s:
            for order_id in self.orders:
                order = s.get(Order, order_id)
                assert order is not None
                if order.status != "refunded":
                    refund_order(s, self.m, order_id, RefundCreate(external_id=f"all-{order_id}"))
        self._follow_coupon_events()
        with transaction(self.sessions) as s:
            for order in s.scalars(select(MallOrder).where(MallOrder.merchant_id == self.m)):
                code = (
                    coupons.get_code(s, self.m, order.coupon_code_id)
                    if order.coupon_code_id is not None
                    else None
                )
                voucher_back = code is not None and code.status == "issued"
                if order.status in OPEN_MALL or voucher_back:
                    mall.update_order(s, self.m, order.id, "cancelled", "test", "all back")
            while coupons.expire_due(s):
                pass
        self.ledger_is_exact()
        self.coupons_and_stock_add_up()
        with transaction(self.sessions) as s:
            now = utcnow(s)
            for member in self.members:
                self._member_is_back(s, member, now)

    def _member_is_back(self, s: Session, member: int, now: Any) -> None:
        b = queries.member_balances(s, self.m, member).balances
        assert (b["stored_principal"], b["stored_bonus"]) == self.topped[member]
        assert (b["growth"], b["points_pending"]) == (0, 0)
        forgiven = s.scalar(
            select(func.coalesce(func.sum(OrderPayment.points_forgiven), 0)).where(
                OrderPayment.member_id == member
            )
        )
        expired = expired_points(s, member)
        kept = s.scalar(
            select(func.coalesce(func.sum(MallOrder.points), 0)).where(
                MallOrder.member_id == member, MallOrder.status != "cancelled"
            )
        )
        if self.policy == "debt":
            assert int(forgiven or 0) == 0
        if self.expiry["mode"] == "never":
            assert expired == 0
        start = self.welcome[member]
        assert b["points"] == start + int(forgiven or 0) - expired - int(kept or 0)
        for code, _template in coupons.member_coupons(s, self.m, member):
            voided = s.scalar(
                select(func.count()).where(
                    MallOrder.coupon_code_id == code.id, MallOrder.status == "cancelled"
                )
            )
            if voided:
                assert code.status == "voided"
            elif code.expires_at is not None and code.expires_at <= now:
                assert code.status == "expired"
            else:
                assert code.status == "issued", (code.code, code.status)


def test_random_histories_keep_the_ledger_exact(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    run_state_machine_as_test(
        lambda: LoyaltyHistory(sessions, clock),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            print_blob=False,
        ),
    )
