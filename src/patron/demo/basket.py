"""What is in each order: lines, quantities, discounts and refunds — drawn for many orders at once.

The order value follows the customer's Gamma-Gamma spend level; the basket is then filled from
the customer's favourite categories (or the season's best sellers) with products whose price
suits that value, so big spenders buy clay teapots and gift boxes, small ones 50 g tins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from patron.demo.catalogue import CATALOGUE, CATEGORIES, SEASONAL_CATEGORY, SEASONS
from patron.demo.model import FAVOURITE_WEIGHTS, SPEND_P

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

PRICE = np.array([p.price_minor for p in CATALOGUE], dtype=np.int64)
_CAT = np.array([CATEGORIES.index(p.category) for p in CATALOGUE], dtype=np.int64)
_SEASONAL = CATEGORIES.index(SEASONAL_CATEGORY)
_GIFTS = CATEGORIES.index("Gift sets")
_POPULAR = np.array([2.0 if "bestseller" in p.tags else 1.0 for p in CATALOGUE])
_NEW = np.array(["new" in p.tags for p in CATALOGUE])
FAVOURITE_SHARE = 0.6  # a line comes from the customer's favourite categories
REFUND_SHARE, FULL_REFUND_SHARE = 0.03, 0.55
REFUND_REASONS = ("changed mind", "damaged in delivery", "wrong item", "quality", "duplicate order")
# Extra weight on categories per season (index into SEASONS), on top of base popularity.
_SEASON_BOOST: dict[str, dict[str, float]] = {
    "spring": {"Gift sets": 3.0, SEASONAL_CATEGORY: 4.0},
    "mid-autumn": {"Gift sets": 2.5, SEASONAL_CATEGORY: 5.0},
    "double-11": {"Teaware": 2.0, "Gift sets": 1.3},
    "christmas": {"Gift sets": 1.5, SEASONAL_CATEGORY: 1.2},
    "dragon-boat": {SEASONAL_CATEGORY: 1.5},
}
GIFT_SEASON_VALUE = 1.25  # orders are bigger before Spring Festival and Mid-Autumn


def _season_weights() -> FloatArray:
    weights = np.tile(FAVOURITE_WEIGHTS, (len(SEASONS), 1))
    for season, boosts in _SEASON_BOOST.items():
        s = SEASONS.index(season)
        for category, boost in boosts.items():
            c = CATEGORIES.index(category)
            weights[s, c] = boost if category == SEASONAL_CATEGORY else weights[s, c] * boost
    normalised: FloatArray = weights / weights.sum(axis=1, keepdims=True)
    return normalised


SEASON_CATEGORY_WEIGHTS = _season_weights()


def _pools() -> dict[tuple[int, int], IntArray]:
    """Products by (category, season); seasonal boxes only exist in their season."""
    pools: dict[tuple[int, int], IntArray] = {}
    for s, season in enumerate(SEASONS):
        for c, category in enumerate(CATEGORIES):
            if category == SEASONAL_CATEGORY:
                members = [i for i, p in enumerate(CATALOGUE) if p.season == season and season]
            else:
                members = [i for i, p in enumerate(CATALOGUE) if p.category == category]
            if members:
                pools[(c, s)] = np.array(members, dtype=np.int64)
    return pools


POOLS = _pools()
HAS_POOL = np.zeros((len(CATEGORIES), len(SEASONS)), dtype=np.bool_)
for _c, _s in POOLS:
    HAS_POOL[_c, _s] = True


@dataclass(frozen=True)
class Baskets:
    """Lines of ``m`` orders, flattened in order of the orders."""

    line_count: IntArray  # per order
    product: IntArray  # per line, index into CATALOGUE
    quantity: IntArray
    line_discount: IntArray
    order_discount: IntArray  # per order
    refund_kind: IntArray  # per order: 0 none, 1 full, 2 the last line (or one unit of it)
    refund_delay: IntArray  # seconds after the order
    refund_reason: IntArray


def _categories(rng: np.random.Generator, favourites: IntArray, season: IntArray) -> IntArray:
    n = len(season)
    cumulative = np.cumsum(SEASON_CATEGORY_WEIGHTS[season], axis=1)
    seasonal = (rng.random(n)[:, None] > cumulative).sum(axis=1)
    column = rng.integers(0, 3, n)
    valid = (favourites >= 0).sum(axis=1)
    column = np.where(valid > 0, column % np.maximum(valid, 1), 0)
    favourite = favourites[np.arange(n), column]
    use_favourite = (rng.random(n) < FAVOURITE_SHARE) & (favourite >= 0)
    category = np.where(use_favourite, favourite, np.minimum(seasonal, len(CATEGORIES) - 1))
    # No seasonal box outside its season: the shelf shows gift sets instead.
    return np.where(HAS_POOL[category, season], category, _GIFTS)


def _products(
    rng: np.random.Generator, category: IntArray, season: IntArray, target: FloatArray
) -> IntArray:
    product = np.empty(len(category), dtype=np.int64)
    key = category * len(SEASONS) + np.where(category == _SEASONAL, season, 0)
    for k in np.unique(key):
        c, s = divmod(int(k), len(SEASONS))
        pool = POOLS[(c, s)]
        rows = np.flatnonzero(key == k)
        # Prefer products priced near the line's share of the order value.
        distance = np.abs(np.log(PRICE[pool][None, :] / target[rows][:, None]))
        weights = np.exp(-distance / 0.7) * _POPULAR[pool][None, :]
        cumulative = np.cumsum(weights, axis=1)
        u = rng.random(len(rows)) * cumulative[:, -1]
        product[rows] = pool[np.minimum((u[:, None] > cumulative).sum(axis=1), len(pool) - 1)]
    return product


def _order_discounts(rng: np.random.Generator, paid: IntArray, season: IntArray) -> IntArray:
    """满减 coupons (spend X, save Y), more of them around Double 11."""
    double_11 = season == SEASONS.index("double-11")
    u = rng.random(len(paid)) / np.where(double_11, 2.5, 1.0)
    yuan = paid // 100
    discount = np.select(
        [(yuan >= 800) & (u < 0.25), (yuan >= 400) & (u < 0.2), (yuan >= 200) & (u < 0.12)],
        [10_000, 4_000, 2_000],
        0,
    )
    small = (discount == 0) & (yuan >= 50) & (rng.random(len(paid)) < 0.04)
    return np.where(small, 1_000, discount).astype(np.int64)


def baskets(
    rng: np.random.Generator, spend: FloatArray, favourites: IntArray, season: IntArray
) -> Baskets:
    """Draw the baskets of orders whose customers have ``spend`` (ν) and ``favourites``."""
    m = len(season)
    gift_season = np.isin(season, [SEASONS.index("spring"), SEASONS.index("mid-autumn")])
    value = rng.gamma(SPEND_P, 1.0 / spend) * np.where(gift_season, GIFT_SEASON_VALUE, 1.0)
    line_count = np.clip(1 + rng.poisson(np.minimum(value / 300.0, 3.0)), 1, 5).astype(np.int64)
    owner = np.repeat(np.arange(m), line_count)
    line_season = season[owner]
    category = _categories(rng, favourites[owner], line_season)
    target = value[owner] / line_count[owner] * 100.0
    product = _products(rng, category, line_season, target)
    cheap = PRICE[product] < 10_000
    quantity = np.where(cheap, 1 + rng.poisson(0.4, len(owner)), 1)
    gifts = np.isin(category, [_SEASONAL, _GIFTS]) & gift_season[owner]
    quantity = np.minimum(np.where(gifts, quantity + rng.poisson(0.4, len(owner)), quantity), 6)
    gross = quantity * PRICE[product]
    promo = np.where(line_season == SEASONS.index("double-11"), 0.15, 0.10)
    on_promo = (_NEW[product] & (rng.random(len(owner)) < 0.5)) | (
        (line_season == SEASONS.index("double-11")) & (rng.random(len(owner)) < 0.5)
    )
    line_discount = np.where(on_promo, np.round(gross * promo / 100.0) * 100, 0).astype(np.int64)
    paid = np.bincount(owner, weights=gross - line_discount, minlength=m).astype(np.int64)
    refund = rng.random(m) < REFUND_SHARE
    full = rng.random(m) < FULL_REFUND_SHARE
    return Baskets(
        line_count=line_count,
        product=product,
        quantity=quantity.astype(np.int64),
        line_discount=line_discount,
        order_discount=_order_discounts(rng, paid, season),
        refund_kind=np.where(refund, np.where(full, 1, 2), 0).astype(np.int64),
        refund_delay=(86_400 * (1 + rng.exponential(3.0, m))).astype(np.int64),
        refund_reason=rng.integers(0, len(REFUND_REASONS), m),
    )
