"""Uplift intervals against published worked examples."""

from __future__ import annotations

import pytest

from patron.analytics.uplift import mean_difference, rate_difference, wilson_interval


def test_wilson_interval_newcombe_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 → 0.2553 to 0.3662.
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


def test_rate_difference_newcombe_method_10() -> None:
    # Newcombe (1998) table II, example (a): 56/70 vs 48/80 → difference 0.2000,
    # method 10 interval 0.0524 to 0.3339.
    d = rate_difference(56, 70, 48, 80)
    assert d.difference == pytest.approx(0.2, abs=1e-12)
    assert (round(d.low, 4), round(d.high, 4)) == (0.0524, 0.3339)


def test_mean_difference_welch() -> None:
    # Treated 1,2,3,4,5 (mean 3, var 2.5); holdout 0,0,1,1 (mean 0.5, var 1/3).
    # se² = 2.5/5 + (1/3)/4 = 7/12; dof = (49/144) / (1/16 + 1/432) = 5.25 exactly;
    # t(0.975, 5.25) = 2.5340… → half width 2.5340 × √(7/12) = 1.9355… (same as scipy's
    # ttest_ind(equal_var=False).confidence_interval()).
    d = mean_difference([1, 2, 3, 4, 5], [0, 0, 1, 1])
    assert d.difference == 2.5
    assert (round(d.low, 4), round(d.high, 4)) == (0.5645, 4.4355)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    with pytest.raises(ValueError):
        mean_difference([1.0], [1.0, 2.0])
