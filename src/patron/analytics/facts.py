"""The facts every metric starts from: purchases, first purchases, periods and filters.

All metric modules build Ibis expressions from the tables of one backend (DuckDB by default,
PySpark when one machine is not enough); nothing here executes a query. Times are the
merchant's wall-clock time (the ``*_local`` columns written by the sync), so a "day" is the
merchant's day (ARCHITECTURE §3.5).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
from ibis.common.exceptions import TableNotFound

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")
# Not purchases: fully refunded and cancelled orders (docs/analytics.md).
NOT_PURCHASE = ("refunded", "cancelled")
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Filters:
    """Which orders a metric looks at. Empty means "all"."""

    stores: Sequence[int] = ()
    channels: Sequence[str] = ()
    # A segment: the member ids it holds (evaluated by the caller, e.g. a segment rule).
    members: Sequence[int] | None = None
    # Tier names; needs the ``member_tiers(merchant_id, member_id, tier)`` table.
    tiers: Sequence[str] = ()


@dataclass(frozen=True)
class Scope:
    """One merchant, a half-open window of local dates [start, end) and a period size."""

    merchant_id: int
    start: date
    end: date
    period: Period = "month"
    filters: Filters = field(default_factory=Filters)

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}")
        if self.end <= self.start:
            raise ValueError("the window must end after it starts")

    @property
    def start_ts(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time())

    @property
    def end_ts(self) -> datetime:
        return datetime.combine(self.end, datetime.min.time())

    @property
    def first_index(self) -> int:
        return date_period_index(self.start, self.period)

    @property
    def last_index(self) -> int:
        """Index of the period holding the window's last day."""
        return date_period_index(self.end - timedelta(days=1), self.period)


def period_index(ts: ir.TimestampValue, period: Period) -> ir.IntegerValue:
    """A consecutive integer per period, so "the previous period" is ``index - 1`` on any engine.

    day: days since 1970-01-01; week: ISO weeks (Monday first) since the Monday 1969-12-29;
    month: ``year * 12 + month - 1``.
    """
    if period == "month":
        return ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1
    days = ts.epoch_seconds().cast("int64") // 86400
    if period == "day":
        return days
    # 1970-01-01 was a Thursday: shifting by 3 days puts every Monday on a multiple of 7.
    return (days + 3) // 7


def date_period_index(d: date, period: Period) -> int:
    """The Python twin of :func:`period_index` for a date."""
    if period == "month":
        return d.year * 12 + d.month - 1
    days = (d - EPOCH).days
    return days if period == "day" else (days + 3) // 7


def period_start(index: int, period: Period) -> date:
    """The first day of the period with this index."""
    if period == "month":
        return date(index // 12, index % 12 + 1, 1)
    if period == "day":
        return EPOCH + timedelta(days=index)
    return EPOCH + timedelta(days=index * 7 - 3)


def day_number(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole local days since 1970-01-01 (calendar day of a wall-clock timestamp)."""
    return ts.epoch_seconds().cast("int64") // 86400


# Tables already looked up on a connection: each lookup asks the engine for the schema (a
# query); a page's ~30 metrics ask for the same dozen tables. Kept as long as the connection,
# by identity (Ibis backends compare equal when they point at the same database).
_looked_up: dict[int, dict[str, ir.Table | None]] = {}


def copy_table(con: Any, name: str) -> ir.Table | None:
    """The copy's table ``name`` on this connection (None when the copy does not hold it)."""
    key = id(con)
    if key not in _looked_up:
        _looked_up[key] = {}
        weakref.finalize(con, _looked_up.pop, key, None)
    known = _looked_up[key]
    if name not in known:
        try:
            known[name] = con.table(name)
        except TableNotFound:
            known[name] = None
    return known[name]


def merchant_table(con: Any, name: str, merchant_id: int) -> ir.Table:
    """One table of the analytics copy, restricted to one merchant (tenancy, §3.6)."""
    t = copy_table(con, name)
    if t is None:
        raise TableNotFound(name)
    return t.filter(t.merchant_id == merchant_id)


def has_table(con: Any, name: str) -> bool:
    """Whether the analytics copy holds ``name`` (Ibis 12's DuckDB ``list_tables`` fails on
    DuckDB 2, so ask for the table itself)."""
    return copy_table(con, name) is not None


def forget_tables(con: Any) -> None:
    """Drop what :func:`copy_table` knows of ``con`` (after its tables were replaced)."""
    _looked_up.pop(id(con), None)


def all_purchases(con: Any, merchant_id: int) -> ir.Table:
    """Every purchase of the merchant, all time, all stores: the basis of "first purchase".

    A purchase is an order that is neither cancelled nor fully refunded. Its value is the net
    paid amount ``total_minor - refunded_minor``.
    """
    o = merchant_table(con, "orders", merchant_id)
    o = o.filter(~o.status.isin(NOT_PURCHASE))
    return o.select(
        order_id=o.id,
        member_id=o.member_id,
        store_id=o.store_id,
        channel=o.channel,
        placed_local=o.placed_local,
        net_minor=(o.total_minor - o.refunded_minor).cast("int64"),
    )


def filtered_purchases(con: Any, scope: Scope) -> ir.Table:
    """Purchases that pass the scope's filters (any time; callers cut the window)."""
    p = all_purchases(con, scope.merchant_id)
    f = scope.filters
    if f.stores:
        p = p.filter(p.store_id.isin(list(f.stores)))
    if f.channels:
        p = p.filter(p.channel.isin(list(f.channels)))
    return member_filtered(con, scope, p)


def member_filtered(con: Any, scope: Scope, t: ir.Table) -> ir.Table:
    """Rows of ``t`` whose ``member_id`` is in the scope's segment and tiers (if any)."""
    f = scope.filters
    if f.members is not None:
        t = t.filter(t.member_id.isin(list(f.members)))
    if f.tiers:
        tiers = merchant_table(con, "member_tiers", scope.merchant_id)
        in_tier = tiers.filter(tiers.tier_code.isin(list(f.tiers))).member_id
        t = t.filter(t.member_id.isin(in_tier))
    return t


def in_window(p: ir.Table, scope: Scope, column: str = "placed_local") -> ir.Table:
    ts = p[column]
    return p.filter((ts >= ibis.literal(scope.start_ts)) & (ts < ibis.literal(scope.end_ts)))


def first_purchases(con: Any, merchant_id: int) -> ir.Table:
    """``member_id, first_local, first_order_id``: each customer's first purchase with the
    merchant (any store; of two at the same instant, the lower order id)."""
    return _firsts(all_purchases(con, merchant_id))


def _firsts(p: ir.Table) -> ir.Table:
    p = p.filter(p.member_id.notnull())
    w = ibis.window(group_by=p.member_id, order_by=[p.placed_local, p.order_id])
    r = p.mutate(n=ibis.row_number().over(w))
    return r.filter(r.n == 0).select(
        "member_id", first_local="placed_local", first_order_id="order_id"
    )


class Facts:
    """The tables every customer metric of one scope starts from, derived once from the orders.

    Each is an Ibis expression built on first use. With ``cache=True`` (what
    :func:`patron.analytics.suite.compute_suite` asks for) each is materialised in the engine
    the first time it is used (``Table.cache()``: a DuckDB temporary table, a persisted Spark
    DataFrame) and every later metric reads the stored rows instead of re-aggregating the
    orders; the engine drops them when this object is garbage collected (ADR 0503). Without
    caching they are plain sub-expressions, so a metric called on its own computes the same
    figures from the same definitions.
    """

    def __init__(self, con: Any, scope: Scope, *, cache: bool = False) -> None:
        self.con = con
        self.scope = scope
        self.cache = cache
        self._shared: dict[str, ir.Table] = {}

    def keep(self, t: ir.Table) -> ir.Table:
        """``t`` materialised in the engine when caching, else ``t`` itself."""
        return t.cache() if self.cache else t

    def shared(self, name: str, build: Callable[[], ir.Table]) -> ir.Table:
        """A table several metrics read (e.g. the revenue ranks), built and kept once."""
        if name not in self._shared:
            self._shared[name] = self.keep(build())
        return self._shared[name]

    @cached_property
    def purchases(self) -> ir.Table:
        """``order_id, member_id, placed_local, net_minor, pidx, day``: the
        :func:`filtered_purchases` (any time) with the scope's period index and the local day
        number (:func:`day_number`) of ``placed_local``."""
        p = filtered_purchases(self.con, self.scope)
        return self.keep(
            p.select(
                "order_id",
                "member_id",
                "placed_local",
                "net_minor",
                pidx=period_index(p.placed_local, self.scope.period),
                day=day_number(p.placed_local),
            )
        )

    @cached_property
    def firsts(self) -> ir.Table:
        """:func:`first_purchases` (all purchases, whatever the filters)."""
        f = self.scope.filters
        if not (f.stores or f.channels or f.tiers or f.members is not None):
            # No filter: the purchases are all purchases, read them from the cached facts.
            return self.keep(_firsts(self.purchases))
        return self.keep(first_purchases(self.con, self.scope.merchant_id))

    @cached_property
    def customer_periods(self) -> ir.Table:
        """``pidx, member_id, orders, revenue, is_new, retained``: one row per known customer
        and period with a purchase, periods ``first_index - 1 .. last_index``. ``is_new``: the
        period holds the customer's first purchase; ``retained``: they also bought in the
        previous period (the previous row of the customer's period set, no self-join)."""
        scope = self.scope
        p = self.purchases
        p = p.filter(
            p.member_id.notnull() & (p.pidx >= scope.first_index - 1) & (p.pidx <= scope.last_index)
        )
        cp = p.group_by(["pidx", "member_id"]).aggregate(
            orders=p.count(), revenue=p.net_minor.sum()
        )
        firsts = self.firsts
        cp = cp.join(firsts, "member_id").select(
            "pidx",
            "member_id",
            "orders",
            "revenue",
            is_new=cp.pidx == period_index(firsts.first_local, scope.period),
        )
        prev = cp.pidx.lag().over(ibis.window(group_by=cp.member_id, order_by=cp.pidx))
        return self.keep(cp.mutate(retained=prev.notnull() & (prev == cp.pidx - 1)))

    @cached_property
    def window_customers(self) -> ir.Table:
        """``member_id, orders, revenue, last_day``: each known customer who bought in the
        window, with their purchases, net revenue and last purchase day in the window."""
        p = in_window(self.purchases, self.scope)
        p = p.filter(p.member_id.notnull())
        per = p.group_by("member_id").aggregate(
            orders=p.count(), revenue=p.net_minor.sum(), last_day=p.day.max()
        )
        return self.keep(per)


def ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """``num / den`` as a double, NULL when the denominator is 0 (never a division error)."""
    return ibis.ifelse(den == 0, ibis.null("float64"), num.cast("float64") / den.cast("float64"))
