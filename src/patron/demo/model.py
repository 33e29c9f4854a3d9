"""The generative model of who buys when (see docs/decisions/0700-demo-generative-model.md).

Customers are simulated in blocks of ``BLOCK`` people; everything about a block is a function of
``(seed, block)`` only, so a block can be regenerated for each time window instead of being kept
in memory, and the output does not depend on how the work is split.

Per customer (BG/NBD with Gamma-Gamma spend):
- acquisition time from a growing, seasonal acquisition rate (monthly cohorts);
- purchase rate λ ~ Gamma(r, α) and dropout probability p ~ Beta(a, b): after the first purchase,
  repeat purchases arrive as a Poisson process of rate λ in *shop time* (calendar time stretched
  by the seasonal intensity), and after each repeat purchase the customer leaves with probability p;
- spend level ν ~ Gamma(q, γ); each order's value is Gamma(p_s, ν) (Fader & Hardie's Gamma-Gamma).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from patron.demo.catalogue import CATEGORIES, PHYSICAL_STORES, SEASONAL_CATEGORY
from patron.demo.seasonality import ShopCalendar

BLOCK = 20_000
STREAM_PARAMS, STREAM_TIMES, STREAM_PROFILE, STREAM_BASKET = 1, 2, 3, 4

# Population mix of the N members; walk-ins come on top (never identified, orders anonymous).
KIND_SHARES = {"registered": 0.70, "never_bought": 0.12, "phone_only": 0.18}
WALK_IN_SHARE = 0.12  # walk-in people per member
# BG/NBD: λ ~ Gamma(shape r, mean λ̄ per year); p ~ Beta(a, b).
RATE_SHAPE, RATE_MEAN_PER_YEAR = 0.35, 22.0
RATE_CAP_PER_YEAR = 150.0  # nobody buys tea more than about every other day
DROPOUT_A, DROPOUT_B = 1.1, 10.0
# Gamma-Gamma: order value ~ Gamma(p, rate ν), ν ~ Gamma(q, rate γ): mean p·γ/(q-1) yuan.
SPEND_P, SPEND_Q, SPEND_GAMMA = 4.0, 3.5, 165.0
ONLINE_A, ONLINE_B = 0.6, 1.6  # each customer's share of online orders
ACQUISITION_GROWTH = (0.5, 1.5)  # acquisition rate at the start and the end of the period
REGISTERED_BEFORE_BUYING = 0.25  # registered members who signed up days before the first purchase
# Popularity of the non-seasonal categories when a customer picks favourites.
FAVOURITE_WEIGHTS = np.array([1.4, 1.3, 1.0, 0.8, 0.7, 1.0, 0.9, 0.9, 0.8, 0.0])
STORE_HOUR_WEIGHTS = np.array([3, 5, 6, 7, 6, 7, 8, 9, 9, 8, 6, 3], dtype=np.float64)  # 10-21 h
ONLINE_HOUR_WEIGHTS = np.array(
    [4, 2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 6, 5, 5, 5, 6, 7, 8, 10, 11, 10, 7], dtype=np.float64
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class Kind(IntEnum):
    REGISTERED = 0
    NEVER_BOUGHT = 1
    PHONE_ONLY = 2
    WALK_IN = 3


def block_rng(seed: int, block: int, stream: int, window: int = 0) -> np.random.Generator:
    """An independent random stream for one block (and one time window)."""
    return np.random.default_rng([seed, block, stream, window])


@dataclass(frozen=True)
class Population:
    """Sizes: ``members`` people with a profile, then ``walk_ins`` anonymous people."""

    members: int
    walk_ins: int

    @classmethod
    def of(cls, members: int) -> Population:
        return cls(members, round(members * WALK_IN_SHARE))

    @property
    def people(self) -> int:
        return self.members + self.walk_ins

    @property
    def blocks(self) -> int:
        return -(-self.people // BLOCK)

    def block_range(self, block: int) -> tuple[int, int]:
        return block * BLOCK, min((block + 1) * BLOCK, self.people)


@dataclass(frozen=True)
class Customers:
    """Parameters of the people of one block (index i = global index ``first + i``)."""

    first: int
    kind: IntArray
    acquired: FloatArray  # calendar days since the start of the period
    rate: FloatArray  # purchases per day of shop time
    dropout: FloatArray
    spend: FloatArray  # ν of Gamma-Gamma
    online_share: FloatArray
    home_store: IntArray  # index into PHYSICAL_STORES
    favourites: IntArray  # (n, 3) category indices, -1 = none

    @property
    def size(self) -> int:
        return len(self.kind)


def _acquisition_days(rng: np.random.Generator, cal: ShopCalendar, n: int) -> FloatArray:
    growth = np.linspace(*ACQUISITION_GROWTH, cal.days)
    # New customers come in the busy seasons too, but less sharply than purchases do.
    rate = growth * cal.intensity**0.7
    cumulative = np.concatenate(([0.0], np.cumsum(rate)))
    u = rng.uniform(0.0, cumulative[-1], n)
    return np.interp(u, cumulative, np.arange(cal.days + 1, dtype=np.float64))


def _favourites(rng: np.random.Generator, n: int) -> IntArray:
    weights = FAVOURITE_WEIGHTS / FAVOURITE_WEIGHTS.sum()
    # Gumbel top-k: three distinct categories per person, drawn by popularity.
    keys = np.log(weights + 1e-300) + rng.gumbel(size=(n, len(weights)))
    ranked = np.argsort(-keys, axis=1)[:, :3].astype(np.int64)
    count = rng.choice([1, 2, 3], size=n, p=[0.3, 0.45, 0.25])
    ranked[np.arange(3)[None, :] >= count[:, None]] = -1
    return ranked


def customers(seed: int, pop: Population, block: int, cal: ShopCalendar) -> Customers:
    """The parameters of one block of people (deterministic in ``seed`` and ``block``)."""
    rng = block_rng(seed, block, STREAM_PARAMS)
    lo, hi = pop.block_range(block)
    n = hi - lo
    shares = np.array(list(KIND_SHARES.values()))
    kind = rng.choice(3, size=n, p=shares / shares.sum()).astype(np.int64)
    kind[np.arange(lo, hi) >= pop.members] = Kind.WALK_IN
    rate = np.minimum(
        rng.gamma(RATE_SHAPE, RATE_MEAN_PER_YEAR / RATE_SHAPE / 365.0, n), RATE_CAP_PER_YEAR / 365.0
    )
    online = rng.beta(ONLINE_A, ONLINE_B, n)
    online[kind == Kind.WALK_IN] = 0.0
    store_weights = np.array([s.weight for s in PHYSICAL_STORES])
    return Customers(
        first=lo,
        kind=kind,
        acquired=_acquisition_days(rng, cal, n),
        rate=rate,
        dropout=rng.beta(DROPOUT_A, DROPOUT_B, n),
        spend=rng.gamma(SPEND_Q, 1.0 / SPEND_GAMMA, n),
        online_share=online,
        home_store=rng.choice(len(PHYSICAL_STORES), size=n, p=store_weights / store_weights.sum()),
        favourites=_favourites(rng, n),
    )


@dataclass(frozen=True)
class Timeline:
    """Every purchase of one block, sorted by (customer, time)."""

    customer: IntArray  # local index into the block's Customers
    ordinal: IntArray  # 0 = first purchase of that customer
    at: IntArray  # seconds since the Unix epoch, UTC
    day: IntArray  # day index in the calendar
    online: BoolArray
    first_at: IntArray  # per customer: time of the first purchase (-1 = never bought)


def _repeat_days(
    rng: np.random.Generator, c: Customers, cal: ShopCalendar
) -> tuple[IntArray, FloatArray]:
    """Repeat purchases: Poisson in shop time, cut by BG/NBD dropout."""
    start = cal.warp(c.acquired)
    horizon = cal.cumulative[-1] - start
    buyers = c.kind != Kind.NEVER_BOUGHT
    n_events = np.where(buyers, rng.poisson(c.rate * horizon), 0)
    # J ~ Geometric(p): the customer leaves right after their J-th repeat purchase.
    kept = np.minimum(n_events, rng.geometric(c.dropout))
    owner = np.repeat(np.arange(c.size), n_events)
    # Given their number, Poisson arrivals are sorted uniforms over the horizon.
    u = rng.random(len(owner))
    order = np.lexsort((u, owner))
    u = u[order]
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(n_events) - n_events, n_events)
    keep = rank < np.repeat(kept, n_events)
    owner, u = owner[keep], u[keep]
    warped = start[owner] + u * horizon[owner]
    return owner, cal.unwarp(warped)


def _seconds_in_day(rng: np.random.Generator, online: BoolArray) -> IntArray:
    hours = np.where(
        online,
        rng.choice(24, size=len(online), p=ONLINE_HOUR_WEIGHTS / ONLINE_HOUR_WEIGHTS.sum()),
        10 + rng.choice(12, size=len(online), p=STORE_HOUR_WEIGHTS / STORE_HOUR_WEIGHTS.sum()),
    )
    return hours * 3600 + rng.integers(0, 3600, len(online))


def timeline(seed: int, c: Customers, block: int, cal: ShopCalendar, now_ts: int) -> Timeline:
    """All purchases of a block from acquisition to ``now_ts`` (deterministic per block)."""
    rng = block_rng(seed, block, STREAM_TIMES)
    buyers = np.flatnonzero(c.kind != Kind.NEVER_BOUGHT)
    rep_owner, rep_days = _repeat_days(rng, c, cal)
    owner = np.concatenate((buyers, rep_owner))
    days = np.concatenate((c.acquired[buyers], rep_days))
    day = np.minimum(days.astype(np.int64), cal.days - 1)
    online = rng.random(len(owner)) < c.online_share[owner]
    local = day * 86_400 + _seconds_in_day(rng, online)
    start = int(cal.start_utc.timestamp())
    at = start + local - (cal.utc_offset_seconds[day] - cal.utc_offset_seconds[0])
    keep = at <= now_ts
    owner, at, day, online = owner[keep], at[keep], day[keep], online[keep]
    order = np.lexsort((at, owner))
    owner, at, day, online = owner[order], at[order], day[order], online[order]
    counts = np.bincount(owner, minlength=c.size)
    starts = np.cumsum(counts) - counts
    ordinal = np.arange(len(owner)) - np.repeat(starts, counts)
    first_at = np.full(c.size, -1, dtype=np.int64)
    first_at[owner[ordinal == 0]] = at[ordinal == 0]
    return Timeline(owner, ordinal, at, day, online, first_at)


SEASONAL_INDEX = CATEGORIES.index(SEASONAL_CATEGORY)
