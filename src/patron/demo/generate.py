"""The demo history as one time-ordered stream of events.

``events(config)`` yields :class:`MemberJoined`, :class:`OrderPlaced` and :class:`OrderRefunded`
in time order (a member always before their first order). Today the stream is bulk-written
(:mod:`patron.demo.write`); later capabilities replay it through their services — purchases
through the loyalty programs, joins into journeys — at each event's time on a moving clock.

Memory stays bounded for any number of members: time is cut into calendar-month windows, and for
each window every block of customers is regenerated from its seed (cheap, vectorised) and only the
window's orders are kept, as numpy arrays; rows are built one at a time as they are yielded.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from patron.demo.basket import PRICE, REFUND_REASONS, Baskets, baskets
from patron.demo.catalogue import (
    CATALOGUE,
    CATEGORY_NAMES,
    CURRENCY,
    ONLINE_STORE,
    PHYSICAL_STORES,
    TIMEZONE,
)
from patron.demo.model import (
    STREAM_BASKET,
    Customers,
    Kind,
    Population,
    Timeline,
    block_rng,
    customers,
    timeline,
)
from patron.demo.people import (
    CONSENT_CHANNELS,
    CONSENT_SOURCES,
    NOTE_CHANNELS,
    NOTES,
    STAFF,
    Profiles,
    kind_source,
    person,
    profiles,
)
from patron.demo.seasonality import ShopCalendar, build_calendar
from patron.imports.rows import MemberRow, OrderLineRow, OrderRow, RefundRow

IntArray = npt.NDArray[np.int64]
NAMESPACE = "demo"
SOURCE = "demo"
AT_THE_TILL = 90  # seconds between signing up at the till and paying


@dataclass(frozen=True)
class DemoConfig:
    members: int = 5_000
    seed: int = 42
    months: int = 18
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    timezone: str = TIMEZONE


@dataclass(frozen=True, slots=True)
class DemoNote:
    noted_at: datetime
    author: str
    channel: str
    body: str


@dataclass(frozen=True, slots=True)
class MemberJoined:
    """A person becomes known to the shop (signs up, or gives a phone number at the till)."""

    at: datetime
    member: MemberRow
    kind: str  # registered | never_bought | phone_only
    preferences: dict[str, list[str]]
    consent_source: str
    notes: tuple[DemoNote, ...]


@dataclass(frozen=True, slots=True)
class OrderPlaced:
    """An order. ``order.refunds`` holds its later refunds, for writers that store final state."""

    at: datetime
    order: OrderRow

    def as_placed(self) -> OrderRow:
        """The order as the till sent it (refunds arrive later as :class:`OrderRefunded`)."""
        return replace(self.order, refunds=[])


@dataclass(frozen=True, slots=True)
class OrderRefunded:
    at: datetime
    order_external_id: str
    refund: RefundRow


DemoEvent = MemberJoined | OrderPlaced | OrderRefunded


def member_external_id(index: int) -> str:
    return f"M{index:07d}"


def order_external_id(index: int, ordinal: int) -> str:
    return f"D{index:07d}-{ordinal:03d}"


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class _Block:
    """What one block contributes to one window."""

    c: Customers
    tl: Timeline
    p: Profiles
    orders: IntArray  # indices into tl
    joiners: IntArray  # local customer indices
    join_at: IntArray
    b: Baskets
    line_start: IntArray


def join_times(c: Customers, tl: Timeline, p: Profiles, cal: ShopCalendar, now_ts: int) -> IntArray:
    """When each person of a block became known (registration, or first purchase)."""
    start = int(cal.start_utc.timestamp())
    acquired = np.minimum(start + (c.acquired * 86_400).astype(np.int64), now_ts)
    bought = tl.first_at >= 0
    early = (p.signed_up_early * 86_400).astype(np.int64)
    registered = np.maximum(tl.first_at - np.where(early > 0, early, AT_THE_TILL), start)
    at = np.where(c.kind == Kind.PHONE_ONLY, tl.first_at, registered)
    return np.where(bought, at, acquired)


class _Window:
    def __init__(self, cfg: DemoConfig, cal: ShopCalendar, pop: Population, index: int) -> None:
        self.cfg, self.cal, self.pop, self.index = cfg, cal, pop, index
        self.now_ts = int(cfg.now.timestamp())

    def block(self, blk: int, lo: int, hi: int, lo_ts: int, hi_ts: int) -> _Block:
        c = customers(self.cfg.seed, self.pop, blk, self.cal)
        tl = timeline(self.cfg.seed, c, blk, self.cal, self.now_ts)
        p = profiles(self.cfg.seed, blk, c)
        orders = np.flatnonzero((tl.day >= lo) & (tl.day < hi))
        join_at = join_times(c, tl, p, self.cal, self.now_ts)
        joiners = np.flatnonzero((join_at >= lo_ts) & (join_at < hi_ts) & (c.kind != Kind.WALK_IN))
        owner = tl.customer[orders]
        rng = block_rng(self.cfg.seed, blk, STREAM_BASKET, self.index)
        b = baskets(rng, c.spend[owner], c.favourites[owner], self.cal.season[tl.day[orders]])
        line_start = np.cumsum(b.line_count) - b.line_count
        return _Block(c, tl, p, orders, joiners, join_at[joiners], b, line_start)


def _member_event(blk: _Block, i: int, at: int, now_ts: int) -> MemberJoined:
    c, p = blk.c, blk.p
    kind = Kind(int(c.kind[i]))
    who = person(p, c, i, phone_only=kind == Kind.PHONE_ONLY)
    index = c.first + i
    consents = {}
    if kind != Kind.PHONE_ONLY:
        consents = {ch: bool(g) for ch, g in zip(CONSENT_CHANNELS, p.consent[i], strict=True)}
        if who.email is None:
            consents.pop("email")
    joined = _ts(at)
    notes = tuple(
        DemoNote(
            noted_at=_ts(at + int((now_ts - at) * ((k + 1) / (int(p.note_count[i]) + 1)))),
            author=STAFF[(index + k) % len(STAFF)],
            channel=NOTE_CHANNELS[(index + k) % len(NOTE_CHANNELS)],
            body=NOTES[int(p.note_pick[i, k])],
        )
        for k in range(int(p.note_count[i]))
    )
    row = MemberRow(
        line=0,
        external_id=member_external_id(index),
        namespace=NAMESPACE,
        first_name=who.first_name,
        last_name=who.last_name,
        email=who.email,
        phone=who.phone,
        gender=who.gender,
        birthday=who.birthday,
        address=who.address,
        locale=who.locale,
        tags=who.tags,
        registered_at=None if kind == Kind.PHONE_ONLY else joined,
        created_at=joined,
        consents=consents,
        note=None,
        source=kind_source(kind),
    )
    source = CONSENT_SOURCES[int(p.consent_source[i])]
    return MemberJoined(joined, row, kind.name.lower(), who.preferences, source, notes)


def _store_code(blk: _Block, cust: int, ordinal: int, online: bool) -> str:
    if online:
        return ONLINE_STORE.code
    home = int(blk.c.home_store[cust])
    # One visit in seven is to another of the shop's stores (deterministic, no extra draw).
    index = blk.c.first + cust
    if (index * 31 + ordinal) % 7 == 0:
        home = (home + 1 + ordinal) % len(PHYSICAL_STORES)
    return PHYSICAL_STORES[home].code


def _refund(
    blk: _Block, j: int, lines: list[OrderLineRow], discount: int, placed: int, now_ts: int
) -> RefundRow | None:
    kind = int(blk.b.refund_kind[j])
    at = placed + int(blk.b.refund_delay[j])
    if kind == 0 or at > now_ts:
        return None
    totals = [x.total_minor for x in lines]
    total = sum(totals) - discount
    amount = total
    last = lines[-1]
    if kind == 2 and (len(lines) > 1 or last.quantity > 1):
        share = discount * totals[-1] // max(sum(totals), 1)
        amount = (totals[-1] - share) // (last.quantity if len(lines) == 1 else 1)
    if amount <= 0:
        return None
    reason = REFUND_REASONS[int(blk.b.refund_reason[j])]
    return RefundRow(external_id="", refunded_at=_ts(at), amount_minor=amount, reason=reason)


def _order_event(blk: _Block, j: int, now_ts: int) -> OrderPlaced:
    t = int(blk.orders[j])
    tl, c = blk.tl, blk.c
    cust, ordinal = int(tl.customer[t]), int(tl.ordinal[t])
    index, placed = c.first + cust, int(tl.at[t])
    b, first_line = blk.b, int(blk.line_start[j])
    lines = []
    for k in range(first_line, first_line + int(b.line_count[j])):
        product = CATALOGUE[int(b.product[k])]
        lines.append(
            OrderLineRow(
                sku=product.sku,
                name=product.name,
                category=CATEGORY_NAMES[product.category],
                quantity=int(b.quantity[k]),
                unit_price_minor=int(PRICE[int(b.product[k])]),
                discount_minor=int(b.line_discount[k]),
            )
        )
    discount = min(int(b.order_discount[j]), sum(x.total_minor for x in lines))
    external_id = order_external_id(index, ordinal)
    refund = _refund(blk, j, lines, discount, placed, now_ts)
    if refund is not None:
        refund.external_id = f"{external_id}-R1"
    kind = int(c.kind[cust])
    online = bool(tl.online[t])
    row = OrderRow(
        line=0,
        external_id=external_id,
        member_external_id=None if kind == Kind.WALK_IN else member_external_id(index),
        member_email=None,
        member_phone=None,
        store_code=_store_code(blk, cust, ordinal, online),
        channel="online" if online else "store",
        placed_at=_ts(placed),
        currency=CURRENCY,
        status="completed",
        order_discount_minor=discount,
        lines=lines,
        refunds=[refund] if refund else [],
        source=SOURCE,
        namespace=NAMESPACE,
    )
    return OrderPlaced(row.placed_at, row)


def month_windows(cal: ShopCalendar) -> list[tuple[int, int]]:
    """Day ranges [lo, hi) of the calendar months in the period (the first and last partial)."""
    cuts = [i for i in range(1, cal.days) if (cal.first_day + timedelta(days=i)).day == 1]
    bounds = [0, *cuts, cal.days]
    return list(pairwise(bounds))


def day_start_ts(cal: ShopCalendar, day: int) -> int:
    offset = cal.utc_offset_seconds[min(day, cal.days - 1)] - cal.utc_offset_seconds[0]
    return int(cal.start_utc.timestamp()) + day * 86_400 - int(offset)


def _window_events(win: _Window, lo: int, hi: int, lo_ts: int, hi_ts: int) -> Iterator[DemoEvent]:
    """The members and orders of one window, in time order (members first on ties)."""
    blocks = [win.block(b, lo, hi, lo_ts, hi_ts) for b in range(win.pop.blocks)]
    at = np.concatenate([np.concatenate((k.join_at, k.tl.at[k.orders])) for k in blocks])
    prio = np.concatenate([np.repeat([0, 1], [len(k.joiners), len(k.orders)]) for k in blocks])
    which = np.concatenate(
        [np.full(len(k.joiners) + len(k.orders), n, dtype=np.int64) for n, k in enumerate(blocks)]
    )
    local = np.concatenate(
        [np.concatenate((np.arange(len(k.joiners)), np.arange(len(k.orders)))) for k in blocks]
    )
    for e in np.lexsort((local, which, prio, at)):
        blk, i = blocks[int(which[e])], int(local[e])
        if prio[e] == 0:
            yield _member_event(blk, int(blk.joiners[i]), int(blk.join_at[i]), win.now_ts)
        else:
            yield _order_event(blk, i, win.now_ts)


def _windows(cfg: DemoConfig) -> Iterator[tuple[_Window, int, int, int, int]]:
    """Each calendar-month window with its day range and its time range."""
    cal = build_calendar(cfg.now, cfg.months, cfg.timezone)
    pop = Population.of(cfg.members)
    windows = month_windows(cal)
    for w, (lo, hi) in enumerate(windows):
        lo_ts = day_start_ts(cal, lo) if w else -(2**62)
        hi_ts = day_start_ts(cal, hi) if w < len(windows) - 1 else 2**62
        yield _Window(cfg, cal, pop, w), lo, hi, lo_ts, hi_ts


def joins_and_orders(cfg: DemoConfig) -> int:
    """How many :class:`MemberJoined` and :class:`OrderPlaced` events :func:`events` yields
    (the demo's progress bar counts them), from the draws alone: no row is built."""
    total = 0
    for win, lo, hi, lo_ts, hi_ts in _windows(cfg):
        for b in range(win.pop.blocks):
            blk = win.block(b, lo, hi, lo_ts, hi_ts)
            total += len(blk.joiners) + len(blk.orders)
    return total


def is_join_or_order(event: DemoEvent) -> bool:
    return not isinstance(event, OrderRefunded)


def events(cfg: DemoConfig) -> Iterator[DemoEvent]:
    """The whole demo history, in time order, deterministic for ``cfg`` (seed, size, now)."""
    refunds: list[tuple[datetime, int, OrderRefunded]] = []
    seq = 0
    for win, lo, hi, lo_ts, hi_ts in _windows(cfg):
        for event in _window_events(win, lo, hi, lo_ts, hi_ts):
            while refunds and refunds[0][0] < event.at:
                yield heapq.heappop(refunds)[2]
            seq += 1
            if isinstance(event, MemberJoined):
                event.member.line = seq
            elif isinstance(event, OrderPlaced):
                event.order.line = seq
                for refund in event.order.refunds:
                    item = OrderRefunded(refund.refunded_at, event.order.external_id, refund)
                    heapq.heappush(refunds, (refund.refunded_at, seq, item))
            yield event
    while refunds:
        yield heapq.heappop(refunds)[2]
