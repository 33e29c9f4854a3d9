"""Campaign uplift: treated vs held-out members, with 95% confidence intervals.

Pure functions over member outcomes (the campaign module gathers them). The repurchase-rate
difference uses Newcombe's hybrid score interval (method 10 of Newcombe 1998, built from two
Wilson intervals): unlike the Wald interval it stays inside [-1, 1] and keeps its coverage for
small groups and rates near 0 or 1. Revenue per member uses Welch's t interval (unequal
variances), the usual choice for skewed spend with groups of different sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from patron.core.deferred import deferred_module

if TYPE_CHECKING:
    from scipy import special
else:
    # Campaign pages and the API import this module at start-up; SciPy (a second of CPU) loads
    # only when a revenue interval is first computed (ADR 0010).
    special = deferred_module("scipy.special")

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Difference:
    treated: float
    holdout: float
    difference: float
    low: float
    high: float


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError("need 0 <= successes <= n and n > 0")
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    den = 1 + z * z / n
    return (centre - spread) / den, (centre + spread) / den


def rate_difference(
    treated_buyers: int, treated: int, holdout_buyers: int, holdout: int
) -> Difference:
    """Difference of repurchase rates (treated − holdout) with Newcombe's 95% interval."""
    p1, p2 = treated_buyers / treated, holdout_buyers / holdout
    l1, u1 = wilson_interval(treated_buyers, treated)
    l2, u2 = wilson_interval(holdout_buyers, holdout)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Difference(p1, p2, d, low, high)


def mean_difference(treated: Sequence[float], holdout: Sequence[float]) -> Difference:
    """Difference of mean revenue per member (treated − holdout), Welch 95% interval.

    Each group needs two members or more; members who bought nothing count with 0.
    """
    n1, n2 = len(treated), len(holdout)
    if n1 < 2 or n2 < 2:
        raise ValueError("each group needs at least two members")
    m1, m2 = math.fsum(treated) / n1, math.fsum(holdout) / n2
    v1 = math.fsum((x - m1) ** 2 for x in treated) / (n1 - 1)
    v2 = math.fsum((x - m2) ** 2 for x in holdout) / (n2 - 1)
    return _welch(n1, m1, v1, n2, m2, v2)


def mean_difference_from_sums(
    treated: tuple[int, int, int], holdout: tuple[int, int, int]
) -> Difference:
    """As :func:`mean_difference`, from each group's (members, Σ revenue, Σ revenue²) in integer
    minor units (what a database aggregates); the variance is computed exactly in integers."""
    (n1, s1, q1), (n2, s2, q2) = treated, holdout
    if n1 < 2 or n2 < 2:
        raise ValueError("each group needs at least two members")
    v1 = (n1 * q1 - s1 * s1) / (n1 * (n1 - 1))
    v2 = (n2 * q2 - s2 * s2) / (n2 * (n2 - 1))
    return _welch(n1, s1 / n1, v1, n2, s2 / n2, v2)


def _welch(n1: int, m1: float, v1: float, n2: int, m2: float, v2: float) -> Difference:
    se2 = v1 / n1 + v2 / n2
    d = m1 - m2
    if se2 == 0:
        return Difference(m1, m2, d, d, d)
    dof = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    # stdtrit is the Student t quantile function (what scipy.stats.t.ppf calls).
    half = float(special.stdtrit(dof, 0.975)) * math.sqrt(se2)
    return Difference(m1, m2, d, d - half, d + half)
