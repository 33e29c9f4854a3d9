"""Replay the demo history through the services, on a clock that travels with the events.

Each event is applied at its own time (the session's :class:`FrozenClock` is set to it):
members join through the members service, registered members pay through checkout (coupons,
points, top-up balance, gifts, member day and tier discounts), phone-only customers and walk-ins
through the orders service, refunds by lines through the orders service, so the programs earn,
spend, take back and re-tier exactly as they would in the shop. One transaction per day of
events; after each day the clock moves to the next midnight and the worker's tasks run (pending
points released, points and coupons expired, welcome and birthday coupons, tier evaluations).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from patron.core.clock import FrozenClock
from patron.core.config import Settings
from patron.demo.engage import CAMPAIGN_DAYS_BEFORE_NOW, launch_past_campaign
from patron.demo.generate import (
    NAMESPACE,
    DemoConfig,
    DemoEvent,
    MemberJoined,
    OrderPlaced,
    OrderRefunded,
    is_join_or_order,
)
from patron.demo.setup import DemoPrograms
from patron.demo.shopper import Shopper
from patron.imports.rows import OrderRow
from patron.members.funnel import recompute_funnel
from patron.members.models import Member
from patron.members.schemas import (
    Address,
    ConsentIn,
    ExternalId,
    MemberCreate,
    Preferences,
)
from patron.members.service import add_note, create_member
from patron.orders.schemas import OrderCreate, OrderLineIn, RefundCreate, RefundLineIn
from patron.orders.service import create_order, refund_order
from patron.portal.models import MemberJoin
from patron.portal.service import record_visit
from patron.tenancy.models import Store
from patron.worker import drain, run_once

# The worker's daily round runs at 12:05 the merchant's time; a replay "day" is the 24 hours
# before it (so the clock never goes back: events of a day, then that day's round).
WORKER_AT = timedelta(hours=12, minutes=5)
# A worker round that handled this much may have left work behind: drain until idle.
BUSY_ROUND = 150
# Registered members who joined by scanning a store's join code: few at the start of the
# history, more each month (the shop moving its customers online), up to this share at the end.
SCAN_JOIN_FIRST, SCAN_JOIN_LAST = 0.05, 0.6


@dataclass(frozen=True)
class PendingRefund:
    order_id: int
    lines: list[RefundLineIn] | None  # None: everything left


@dataclass
class ReplayResult:
    members: int = 0
    orders: int = 0
    refunds: int = 0
    worker_rounds: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def _member_create(j: MemberJoined) -> MemberCreate:
    row = j.member
    return MemberCreate(
        first_name=row.first_name,
        last_name=row.last_name,
        gender=row.gender,
        birthday=row.birthday,
        phone=row.phone,
        email=row.email,
        address=Address.model_validate(row.address) if row.address else None,
        locale=row.locale,
        preferences=Preferences.model_validate(j.preferences) if j.preferences else None,
        external_ids=[ExternalId(namespace=NAMESPACE, value=row.external_id or "")],
        tags=row.tags,
        consents=[
            ConsentIn(channel=ch, granted=granted, source=j.consent_source)
            for ch, granted in row.consents.items()
        ],
        registered=row.registered_at is not None,
        source=row.source,
    )


def _refund_plan(placed: OrderPlaced, order_id: int) -> PendingRefund | None:
    """The generator's refund as lines: the whole order, or its last line (one unit if the
    order is a single line of several units)."""
    row = placed.order
    if not row.refunds:
        return None
    total = sum(ln.total_minor for ln in row.lines) - row.order_discount_minor
    if row.refunds[0].amount_minor >= total:
        return PendingRefund(order_id, None)
    last = len(row.lines)
    quantity = 1 if last == 1 else row.lines[-1].quantity
    return PendingRefund(order_id, [RefundLineIn(line_no=last, quantity=quantity)])


def _walk_in(row: OrderRow, member_id: int | None) -> OrderCreate:
    return OrderCreate(
        external_id=row.external_id,
        member_id=member_id,
        store_code=row.store_code,
        placed_at=row.placed_at,
        discount_minor=row.order_discount_minor,
        lines=[
            OrderLineIn(
                sku=ln.sku,
                name=ln.name,
                category=ln.category,
                quantity=ln.quantity,
                unit_price_minor=ln.unit_price_minor,
                discount_minor=ln.discount_minor,
            )
            for ln in row.lines
        ],
        source=row.source,
    )


class Replay:
    """One replay of a generated history for one merchant."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: FrozenClock,
        settings: Settings,
        merchant_id: int,
        cfg: DemoConfig,
        programs: DemoPrograms,
    ) -> None:
        # The daily prediction run would sync and fit once per replayed day: not while replaying.
        settings = settings.model_copy(update={"analytics_predict_daily": False})
        self.factory, self.clock, self.settings = factory, clock, settings
        self.merchant_id, self.cfg = merchant_id, cfg
        self.zone = ZoneInfo(cfg.timezone)
        self.members: dict[str, tuple[int, bool]] = {}  # external id -> (id, registered)
        self.scanned: set[int] = set()  # members who joined by scanning a join code
        self.stores: list[int] | None = None  # the shop's stores (not the online shop)
        self.since = cfg.now - timedelta(days=int(cfg.months * 30.44))
        self.pending: dict[str, PendingRefund] = {}
        self.shopper = Shopper(merchant_id, programs, settings.secret_key, random.Random(cfg.seed))
        self.result = ReplayResult()
        self.campaign_at = cfg.now - timedelta(days=CAMPAIGN_DAYS_BEFORE_NOW)
        self.campaign_id: int | None = None

    def _day(self, event: DemoEvent) -> date:
        return (event.at.astimezone(self.zone) - WORKER_AT).date()

    def _midnight_after(self, day: date) -> datetime:
        return datetime.combine(day + timedelta(days=1), datetime.min.time(), self.zone)

    def run(self, events: Iterable[DemoEvent], progress: Callable[[int], None] | None) -> None:
        """Apply every event, a day per transaction, and let the worker run between days."""
        last: date | None = None
        for day, todays in groupby(events, key=self._day):
            if last is not None:
                self._worker_days(last, day)
            batch = list(todays)
            with self.factory.begin() as session:
                for event in batch:
                    self.clock.set(event.at)
                    self._apply(session, event)
            last = day
            if progress:
                progress(sum(map(is_join_or_order, batch)))
        if last is not None:
            self._worker_days(last, self.cfg.now.astimezone(self.zone).date())
            self.clock.set(self.cfg.now)
            self._worker()
        self.result.counts = dict(self.shopper.counts)

    def _worker_days(self, done: date, until: date) -> None:
        """The worker's round at each midnight from after ``done`` up to ``until``."""
        day = done
        while day < until:
            at = self._midnight_after(day) + WORKER_AT
            if at > self.cfg.now:
                break
            self.clock.set(at)
            if (day + timedelta(days=1)).day == 1:
                self._monthly_review()
            if self.campaign_id is None and at >= self.campaign_at:
                with self.factory.begin() as session:
                    self.campaign_id = launch_past_campaign(session, self.merchant_id)
            self._worker()
            day += timedelta(days=1)

    def _worker(self) -> None:
        """One round of every worker task; more only on a busy day (a round that did a full
        batch of something). An idle round costs as much as a busy one, and the demo runs
        hundreds of days: what is left after a light round waits for the next midnight."""
        if run_once(self.factory, self.settings) >= BUSY_ROUND:
            drain(self.factory, self.settings)
        self.result.worker_rounds += 1

    def _monthly_review(self) -> None:
        """Fans who stopped buying drift back to members as their orders age (the funnel is
        otherwise only recomputed when a member does something)."""
        with self.factory.begin() as session:
            ids = session.scalars(
                select(Member.id).where(
                    Member.merchant_id == self.merchant_id, Member.funnel_stage == "fan"
                )
            ).all()
            recompute_funnel(session, self.merchant_id, ids, "monthly review")

    def _apply(self, session: Session, event: DemoEvent) -> None:
        if isinstance(event, MemberJoined):
            self._join(session, event)
        elif isinstance(event, OrderPlaced):
            self._order(session, event)
        elif isinstance(event, OrderRefunded):
            self._refund(session, event)

    def _join(self, session: Session, event: MemberJoined) -> None:
        member = create_member(session, self.merchant_id, _member_create(event))
        for note in event.notes:
            add_note(
                session,
                self.merchant_id,
                member.id,
                note.body,
                note.channel,
                None,
                note.author,
                note.noted_at,
            )
        key = event.member.external_id or ""
        self.members[key] = (member.id, member.registered_at is not None)
        if member.registered_at is not None and self._scans(key, event.at):
            self._scan_join(session, member.id, key, event.at)
        self.result.members += 1

    def _scans(self, key: str, at: datetime) -> bool:
        """Whether this registered member joined by scanning (a fixed draw per member, against
        a share that grows over the history)."""
        span = max((self.cfg.now - self.since).total_seconds(), 1.0)
        progress = min(max((at - self.since).total_seconds() / span, 0.0), 1.0)
        share = SCAN_JOIN_FIRST + (SCAN_JOIN_LAST - SCAN_JOIN_FIRST) * progress
        draw = random.Random(f"{self.cfg.seed}:scan:{key}").random()
        return draw < share

    def _scan_join(self, session: Session, member_id: int, key: str, at: datetime) -> None:
        if self.stores is None:
            self.stores = list(
                session.scalars(
                    select(Store.id)
                    .where(Store.merchant_id == self.merchant_id, Store.channel == "store")
                    .order_by(Store.id)
                )
            )
        store = self.stores[sum(map(ord, key)) % len(self.stores)] if self.stores else None
        session.add(
            MemberJoin(
                merchant_id=self.merchant_id,
                member_id=member_id,
                store_id=store,
                source="counter-poster",
                joined_at=at,
            )
        )
        self.scanned.add(member_id)

    def _order(self, session: Session, event: OrderPlaced) -> None:
        row = event.as_placed()
        member_id, registered = self.members.get(row.member_external_id or "", (None, False))
        if member_id is not None and registered:
            index = int((row.member_external_id or "M0")[1:])
            out = self.shopper.checkout(session, member_id, index, row, event.at)
            order_id = out.order_id
            self.shopper.visit_mall(session, member_id, row.external_id)
            # Online buyers and members who joined by scanning sign in to the portal.
            if row.channel == "online" or (
                member_id in self.scanned and sum(map(ord, row.external_id)) % 2 == 0
            ):
                record_visit(session, self.merchant_id, member_id)
        else:
            order, _created = create_order(session, self.merchant_id, _walk_in(row, member_id))
            order_id = order.id
        plan = _refund_plan(event, order_id)
        if plan is not None:
            self.pending[row.external_id] = plan
        self.result.orders += 1

    def _refund(self, session: Session, event: OrderRefunded) -> None:
        plan = self.pending.pop(event.order_external_id)
        refund_order(
            session,
            self.merchant_id,
            plan.order_id,
            RefundCreate(
                external_id=event.refund.external_id,
                lines=plan.lines,
                reason=event.refund.reason,
            ),
        )
        self.result.refunds += 1


def replay_history(
    factory: sessionmaker[Session],
    clock: FrozenClock,
    settings: Settings,
    merchant_id: int,
    cfg: DemoConfig,
    programs: DemoPrograms,
    events: Iterator[DemoEvent],
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay ``events`` for the merchant through the services; the clock ends at ``cfg.now``."""
    replay = Replay(factory, clock, settings, merchant_id, cfg, programs)
    replay.run(events, progress)
    return replay.result
