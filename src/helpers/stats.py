"""Statistics for honest comparison of rates: Wilson intervals and funnel-plot limits.

Used by the re-referral report and available to any report that compares proportions
between areas (e.g. wards or localities).

References
----------
- Wilson, E. B. (1927) "Probable inference, the law of succession, and statistical
  inference", JASA 22: 209-212. Recommended by Newcombe (1998) "Two-sided confidence
  intervals for the single proportion", Statistics in Medicine 17: 857-872, and used by
  DfE / ONS / PHE (OHID Fingertips) for proportions.
- Spiegelhalter, D. J. (2005) "Funnel plots for comparing institutional performance",
  Statistics in Medicine 24: 1185-1202: control limits around a target proportion
  at 95% (about 2 standard errors) and 99.8% (about 3 standard errors).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

#: Funnel-plot control limits used in the reports (two-sided coverage).
FUNNEL_LEVELS: tuple[float, ...] = (0.95, 0.998)


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"confidence level must lie between 0 and 1, got {level!r}")
    # the standard normal quantile (the same as scipy.stats.norm.ppf to the last digit or two, a
    # test checks; the standard library's saves loading scipy.stats, about 0.5 s, in every kernel)
    return NormalDist().inv_cdf(1 - (1 - level) / 2)


def wilson_interval(successes, trials, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion ``successes / trials``.

    Inputs: counts (scalars, arrays or Series of equal length); ``level`` the two-sided
    confidence level. Output: ``(lower, upper)`` as float arrays; NaN where ``trials`` is
    0 or missing. Definition: the score interval of Wilson (1927), recommended over the
    simple "p plus or minus 1.96 standard errors" because it stays inside 0..1 and
    behaves well for small counts (Newcombe 1998).
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(x < 0) or np.any(x > n):
        raise ValueError("successes must lie between 0 and trials")
    z = _z(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        # exactly 0 with no successes and 1 with all (the formula's limits, free of rounding)
        lower = np.where(n > 0, np.where(x == 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
        upper = np.where(n > 0, np.where(x == n, 1.0, np.clip(centre + half, 0, 1)), np.nan)
    return lower, upper


def add_wilson(df: pd.DataFrame, numerator: str, denominator: str, *, rate: str = "rate",
               level: float = 0.95, prefix: str = "") -> pd.DataFrame:
    """Return ``df`` with a rate column and its Wilson interval (``ci_low``, ``ci_high``).

    Inputs: a frame with count columns ``numerator`` and ``denominator``. Output: a copy
    with ``{prefix}{rate}``, ``{prefix}ci_low``, ``{prefix}ci_high`` (proportions 0..1; NaN
    when the denominator is 0).
    """
    out = df.copy()
    num = out[numerator].astype(float)
    den = out[denominator].astype(float)
    out[f"{prefix}{rate}"] = np.where(den > 0, num / den.where(den > 0), np.nan)
    low, high = wilson_interval(num, den, level)
    out[f"{prefix}ci_low"] = low
    out[f"{prefix}ci_high"] = high
    return out


def funnel_limits(target: float, trials, levels: tuple[float, ...] = FUNNEL_LEVELS) -> pd.DataFrame:
    """Funnel-plot control limits for a proportion around a target (e.g. the council rate).

    Inputs: ``target`` proportion p0 (0..1); ``trials`` the denominators (e.g. referrals in
    each ward, or a grid of values for drawing the funnel); ``levels`` two-sided coverages.
    Output: one row per denominator with ``n``, ``target`` and for each level ``L`` (as a
    percentage label, e.g. ``95`` and ``99.8``) ``lower_{L}`` and ``upper_{L}``.
    Definition: Spiegelhalter (2005) normal approximation to the binomial,
    ``p0 +/- z * sqrt(p0 (1 - p0) / n)``, clipped to 0..1. A ward outside the 99.8%
    limits is unlikely (1 in 500) to be there by chance alone.
    """
    if not 0 <= target <= 1:
        raise ValueError(f"target must be a proportion between 0 and 1, got {target!r}")
    n = np.asarray(trials, dtype=float)
    out = pd.DataFrame({"n": n, "target": target})
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(target * (1 - target) / np.where(n > 0, n, np.nan))
    for level in levels:
        label = f"{level * 100:g}".replace(".", "_")
        z = _z(level)
        out[f"lower_{label}"] = np.clip(target - z * se, 0, 1)
        out[f"upper_{label}"] = np.clip(target + z * se, 0, 1)
    return out


def funnel_position(rate, trials, target: float, levels: tuple[float, ...] = FUNNEL_LEVELS) -> np.ndarray:
    """Where each point falls on a funnel plot: ``"above 99.8%"``, ``"above 95%"``,
    ``"within"``, ``"below 95%"`` or ``"below 99.8%"`` (levels taken from ``levels``,
    widest last). Inputs: rates and their denominators; output: array of labels.
    """
    rate = np.asarray(rate, dtype=float)
    limits = funnel_limits(target, trials, levels)
    result = np.full(rate.shape, "within", dtype=object)
    for level in levels:  # narrower first, so the widest breached level wins
        label = f"{level * 100:g}".replace(".", "_")
        pretty = f"{level * 100:g}%"
        result = np.where(rate > limits[f"upper_{label}"].to_numpy(), f"above {pretty}", result)
        result = np.where(rate < limits[f"lower_{label}"].to_numpy(), f"below {pretty}", result)
    result = np.where(np.isnan(rate) | ~(np.asarray(trials, dtype=float) > 0), "no data", result)
    return result
