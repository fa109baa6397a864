"""Wilson intervals and funnel-plot limits against textbook values worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.stats import add_wilson, funnel_limits, funnel_position, wilson_interval


@pytest.mark.parametrize("x, n, low, high", [
    # Newcombe (1998), Statistics in Medicine 17:857, Table II, method 3 (Wilson score)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
])
def test_wilson_matches_newcombe_1998(x, n, low, high):
    lower, upper = wilson_interval(x, n)
    assert float(lower) == pytest.approx(low, abs=5e-5)
    assert float(upper) == pytest.approx(high, abs=5e-5)


def test_wilson_zero_successes_by_hand():
    # x = 0: lower = 0, upper = z^2 / (n + z^2) = 3.8415 / 13.8415 = 0.27753 for n = 10
    lower, upper = wilson_interval(0, 10)
    assert float(lower) == 0.0
    assert float(upper) == pytest.approx(1.959964**2 / (10 + 1.959964**2), abs=1e-6)


def test_wilson_vectorised_and_empty_denominator():
    lower, upper = wilson_interval(np.array([81, 0]), np.array([263, 0]))
    assert lower[0] == pytest.approx(0.2553, abs=5e-5)
    assert np.isnan(lower[1]) and np.isnan(upper[1])
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


def test_add_wilson_columns():
    df = pd.DataFrame({"rereferrals": [81, 0], "referrals": [263, 0]})
    out = add_wilson(df, "rereferrals", "referrals")
    assert out["rate"].iloc[0] == pytest.approx(81 / 263)
    assert np.isnan(out["rate"].iloc[1])
    assert list(out.columns) == ["rereferrals", "referrals", "rate", "ci_low", "ci_high"]


def test_funnel_limits_by_hand():
    # p0 = 0.2, n = 100: se = sqrt(0.2 * 0.8 / 100) = 0.04
    # 95%: 0.2 -/+ 1.959964 * 0.04 = 0.121601, 0.278399
    # 99.8%: 0.2 -/+ 3.090232 * 0.04 = 0.076391, 0.323609
    row = funnel_limits(0.2, [100]).iloc[0]
    assert row["lower_95"] == pytest.approx(0.121601, abs=1e-6)
    assert row["upper_95"] == pytest.approx(0.278399, abs=1e-6)
    assert row["lower_99_8"] == pytest.approx(0.076391, abs=1e-6)
    assert row["upper_99_8"] == pytest.approx(0.323609, abs=1e-6)


def test_funnel_limits_clip_to_zero_and_one():
    # n = 4: se = 0.2; 99.8% lower = 0.2 - 3.09 * 0.2 < 0, clipped to 0
    row = funnel_limits(0.2, [4]).iloc[0]
    assert row["lower_99_8"] == 0.0 and row["upper_99_8"] == pytest.approx(0.2 + 3.090232 * 0.2, abs=1e-6)
    with pytest.raises(ValueError):
        funnel_limits(1.5, [10])


def test_funnel_position_labels():
    # n = 100 around 0.2: 0.30 is above 95% (0.278) but inside 99.8% (0.324); 0.35 above both;
    # 0.10 below 95% (0.122) but inside 99.8% (0.076); 0.05 below both; 0.2 within
    pos = funnel_position([0.30, 0.35, 0.10, 0.05, 0.2, np.nan], [100, 100, 100, 100, 100, 0], 0.2)
    assert pos.tolist() == ["above 95%", "above 99.8%", "below 95%", "below 99.8%", "within", "no data"]


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.998, 0.999])
def test_normal_quantile_matches_scipy_to_rounding(level):
    # helpers.stats uses the standard library's normal quantile (no scipy.stats import in the
    # kernels); it must equal scipy's to within a few units in the last place
    from scipy.stats import norm

    from helpers import stats

    assert stats._z(level) == pytest.approx(float(norm.ppf(1 - (1 - level) / 2)), rel=1e-14)
    assert stats._z(0.95) == pytest.approx(1.959964, abs=1e-6)   # the textbook value
