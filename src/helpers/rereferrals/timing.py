"""Time to re-referral after a case closes: Kaplan-Meier curves, medians, cohorts by outcome.

For each closed children-in-need episode (a referral whose case has a closure date), the
time to re-referral is the number of days from the closure to the same child's next
referral made *after* the closure date. Episodes with no later referral by the censor date
(the end of the data) are censored there. The cumulative proportion re-referred by time t is
``1 - S(t)`` where ``S`` is the Kaplan-Meier survival function (:func:`kaplan_meier`, the same
estimate and intervals as lifelines' ``KaplanMeierFitter``), which uses censored episodes correctly (a case closed last month
has had little time to be re-referred). Cohorts are compared by the outcome of the closed
episode (``helpers.rereferrals.measure.referral_outcome``: NFA, assessed not in need, closed after
CIN plan, after CP plan, other).

This is not the DfE measure (which counts from the previous *referral*); it answers "how
soon after we close a case do children come back?", which is what members ask about
closing work too early.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.rereferrals.measure import PREVIOUS_OUTCOMES, _DAY0, _KEY_BASE, referral_outcome
from helpers.stats import _z, wilson_interval

#: Days in an average month, to report curves at whole months.
DAYS_PER_MONTH = 365.25 / 12


def closure_cohort(referrals: pd.DataFrame, cohort_start, cohort_end, censor_date) -> pd.DataFrame:
    """Closed episodes in a period and the time to the child's next referral.

    Inputs: the ``referrals`` table (all supplied years, data_model section 2); episodes
    with ``closure_date`` from ``cohort_start`` to ``cohort_end`` (inclusive) form the cohort;
    ``censor_date`` the last date the data cover (referrals after it are not seen).
    Output: one row per closed episode with ``referral_id``, ``child_id``, ``closure_date``,
    ``outcome`` (of the closed episode), ``next_referral_date`` (NaT if none by the censor
    date), ``rereferred`` (bool: the event), ``days`` (closure to next referral, or to the
    censor date; at least 0). Vectorised with ``searchsorted`` on (child, day) keys.
    """
    start, end, censor = pd.Timestamp(cohort_start), pd.Timestamp(cohort_end), pd.Timestamp(censor_date)
    child_code, _ = pd.factorize(referrals["child_id"], sort=False)
    day = (referrals["referral_date"].to_numpy(dtype="datetime64[D]") - _DAY0).astype(np.int64)
    key = np.sort(child_code.astype(np.int64) * _KEY_BASE + day)

    closed = referrals["closure_date"].between(start, min(end, censor)).to_numpy()
    cohort = referrals.loc[closed, ["referral_id", "child_id", "closure_date"]].copy()
    cohort["outcome"] = referral_outcome(referrals.loc[closed]).to_numpy()
    c = child_code[closed].astype(np.int64) * _KEY_BASE
    close_day = (cohort["closure_date"].to_numpy(dtype="datetime64[D]") - _DAY0).astype(np.int64)
    censor_day = int((np.datetime64(censor.date(), "D") - _DAY0).astype(np.int64))
    pos = np.searchsorted(key, c + close_day, side="right")  # first referral strictly after closure
    has_next = pos < len(key)
    next_key = np.where(has_next, key[np.minimum(pos, len(key) - 1)], -1)
    same_child = has_next & (next_key // _KEY_BASE == c // _KEY_BASE)
    next_day = next_key - c
    event = same_child & (next_day <= censor_day)
    cohort["next_referral_date"] = np.where(event, _DAY0 + next_day.astype("timedelta64[D]"),
                                            np.datetime64("NaT")).astype("datetime64[ns]")
    cohort["rereferred"] = event
    cohort["days"] = np.maximum(np.where(event, next_day, censor_day) - close_day, 0).astype(float)
    cohort["followup_days"] = (censor_day - close_day).astype(float)
    return cohort.reset_index(drop=True)


@dataclass
class KaplanMeier:
    """A Kaplan-Meier fit: at each time of ``timeline`` (0 and every duration), the survival
    ``survival`` and its confidence interval ``lower``, ``upper``; ``median`` the first time the
    survival is at or below one half (infinite if it never is)."""

    timeline: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    median: float

    def at(self, times) -> np.ndarray:
        """The step function's value in force at each of ``times`` (the last step at or before it)."""
        idx = np.searchsorted(self.timeline, np.asarray(times, dtype=float), side="right") - 1
        return np.where(idx >= 0, self.survival[np.maximum(idx, 0)], np.nan)


def kaplan_meier(durations, events, level: float = 0.95) -> KaplanMeier:
    """The Kaplan-Meier estimate of survival from right-censored ``durations`` (``events`` True
    where the event was seen), with the exponential Greenwood interval at ``level``.

    Rule: at each time t, ``n`` episodes still followed (duration at least t) and ``d`` events;
    ``S(t) = prod(1 - d / n)``; ``V(t) = sum(d / (n (n - d)))`` (a term with ``n = d`` counts 0);
    the interval is ``exp(-exp(log(-log S) -/+ z sqrt(V) / log S))``, 1 where ``S`` is 1. These
    are lifelines' ``KaplanMeierFitter`` estimate, interval and median exactly (a test compares
    them); written out so that a kernel need not import lifelines (and the scipy.stats and
    autograd it loads, about 0.9 s).
    """
    days = np.asarray(durations, dtype=float)
    seen = np.asarray(events, dtype=bool)
    timeline = np.unique(np.concatenate([[0.0], days]))
    n = len(days) - np.searchsorted(np.sort(days), timeline, side="left")
    event_days = np.sort(days[seen])
    d = np.searchsorted(event_days, timeline, side="right") - np.searchsorted(event_days, timeline, side="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.cumsum(np.log(n - d) - np.log(n))
        var = np.cumsum(np.where(n > d, d / (n * (n - d.astype(float))), 0.0))
        z = _z(level)
        lower = np.exp(-np.exp(np.log(-log_s) - z * np.sqrt(var) / log_s))
        upper = np.exp(-np.exp(np.log(-log_s) + z * np.sqrt(var) / log_s))
    survival = np.exp(log_s)
    below = np.flatnonzero(survival <= 0.5)
    median = float(timeline[below[0]]) if len(below) else float("inf")
    return KaplanMeier(timeline, survival, np.nan_to_num(lower, nan=1.0), np.nan_to_num(upper, nan=1.0), median)


def km_table(cohort: pd.DataFrame, *, by: str | None = "outcome", months: int = 24) -> pd.DataFrame:
    """Kaplan-Meier cumulative proportion re-referred at each whole month after closure.

    Inputs: ``cohort`` from :func:`closure_cohort`; ``by`` a grouping column (None = all
    episodes together); ``months`` the horizon. Output: one row per group and month
    ``0..months`` with ``group``, ``month``, ``episodes`` (in the group), ``at_risk``
    (episodes still followed and not yet re-referred just after that month), ``rereferred``
    (events up to that month), ``cumulative_rereferred`` (1 - KM survival) and its 95%
    confidence interval ``ci_low``, ``ci_high`` (exponential Greenwood, :func:`kaplan_meier`). Counts
    are raw: suppress them before publishing.
    """
    groups = [("All closed cases", cohort)] if by is None else [
        (name, sub) for name, sub in cohort.groupby(by, sort=False, observed=True)]
    if by is not None and by == "outcome":
        rank = {name: i for i, name in enumerate(PREVIOUS_OUTCOMES)}
        groups.sort(key=lambda g: rank.get(g[0], len(rank)))
    grid_days = np.arange(months + 1) * DAYS_PER_MONTH
    frames = []
    for name, sub in groups:  # one fit per cohort group (a handful), each vectorised
        if len(sub) == 0:
            continue
        km = kaplan_meier(sub["days"], sub["rereferred"])
        surv = km.at(grid_days)
        # step functions: the value in force at each grid time is the last step at or before it
        idx = np.searchsorted(km.timeline, grid_days, side="right") - 1
        lower_s = km.lower[np.maximum(idx, 0)]
        upper_s = km.upper[np.maximum(idx, 0)]
        days = sub["days"].to_numpy()
        event = sub["rereferred"].to_numpy()
        at_risk = (days[None, :] > grid_days[:, None]).sum(axis=1)
        events = ((days[None, :] <= grid_days[:, None]) & event[None, :]).sum(axis=1)
        frames.append(pd.DataFrame({
            "group": name, "month": np.arange(months + 1), "episodes": len(sub), "at_risk": at_risk,
            "rereferred": events, "cumulative_rereferred": 1 - surv,
            "ci_low": np.where(idx >= 0, 1 - upper_s, 0.0), "ci_high": np.where(idx >= 0, 1 - lower_s, 0.0),
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["group", "month", "episodes", "at_risk", "rereferred", "cumulative_rereferred", "ci_low", "ci_high"])


def median_times(cohort: pd.DataFrame, *, by: str | None = "outcome", within_days: int = 365) -> pd.DataFrame:
    """Median time to re-referral and the share re-referred within a year, by group.

    Inputs: ``cohort`` from :func:`closure_cohort`; ``by`` grouping column (None = all);
    ``within_days`` the horizon for the share. Output: one row per group with ``group``,
    ``episodes``, ``rereferred``, ``km_median_days`` (Kaplan-Meier median: the time by which
    half the episodes would be re-referred; NaN when fewer than half are re-referred in the
    data, i.e. "not reached"), ``median_days_if_rereferred`` (median among those who came
    back) and ``rereferred_within`` (KM proportion re-referred within ``within_days``).
    """
    groups = [("All closed cases", cohort)] if by is None else list(cohort.groupby(by, sort=False, observed=True))
    rows = []
    for name, sub in groups:  # a handful of groups
        if len(sub) == 0:
            continue
        km = kaplan_meier(sub["days"], sub["rereferred"])
        median = km.median
        back = sub.loc[sub["rereferred"], "days"]
        rows.append({
            "group": name, "episodes": int(len(sub)), "rereferred": int(sub["rereferred"].sum()),
            "km_median_days": median if np.isfinite(median) else np.nan,
            "median_days_if_rereferred": float(back.median()) if len(back) else np.nan,
            "rereferred_within": float(1 - km.at([within_days])[0]),
        })
    out = pd.DataFrame(rows)
    if len(out):
        rank = {name: i for i, name in enumerate(PREVIOUS_OUTCOMES)}
        out = out.sort_values("group", key=lambda s: s.map(lambda g: rank.get(g, len(rank))), ignore_index=True)
    return out


def share_followed_up(cohort: pd.DataFrame, within_days: int = 365) -> pd.DataFrame:
    """Crude share re-referred within ``within_days`` among episodes followed that long
    (closed at least ``within_days`` before the censor date), with a Wilson interval: a
    check on the Kaplan-Meier figure that needs no modelling. Output: one row with
    ``episodes_followed``, ``rereferred_within``, ``share``, ``ci_low``, ``ci_high``."""
    sub = cohort[cohort["followup_days"] >= within_days]
    n = int(len(sub))
    x = int((sub["rereferred"] & (sub["days"] <= within_days)).sum())
    low, high = wilson_interval(x, n)
    return pd.DataFrame({"episodes_followed": [n], "rereferred_within": [x], "share": [x / n if n else np.nan],
                         "ci_low": [float(low)], "ci_high": [float(high)]})


def share_back_by(cohort: pd.DataFrame, by: str = "outcome", within_days: int = 365, admin_days: int = 7) -> pd.DataFrame:
    """Of closed cases that ended each way, the share referred again within ``within_days``.

    A closure cohort, not a re-referral breakdown: the base is cases *closed* (each followed
    for the full ``within_days``: closed at least that long before the censor date), so the
    figure is not true by definition the way "re-referral rate by outcome of the previous
    referral" is (every referral with a previous one inside 12 months is a re-referral).
    A case followed by a new referral within ``admin_days`` of its closure is left out: it was
    closed *because* the new referral was opened (an administrative closure, or a recording
    duplicate), so counting it would make "closed that way" look like "came back" by definition.
    Output: ``group``, ``episodes`` (cases followed), ``rereferred`` (back within the window),
    ``rate`` with a 95% Wilson interval ``ci_low``/``ci_high``, in outcome order;
    ``attrs["closed_for_new_referral"]`` counts the cases left out.
    """
    followed = cohort[cohort["followup_days"] >= within_days]
    administrative = followed["rereferred"] & (followed["days"] <= admin_days)
    sub = followed[~administrative]
    rows = []
    for name, g in sub.groupby(by, sort=False, observed=True):
        n = int(len(g))
        x = int((g["rereferred"] & (g["days"] <= within_days)).sum())
        low, high = wilson_interval(x, n)
        rows.append({"group": name, "episodes": n, "rereferred": x, "rate": x / n if n else np.nan,
                     "ci_low": float(low), "ci_high": float(high)})
    out = pd.DataFrame(rows, columns=["group", "episodes", "rereferred", "rate", "ci_low", "ci_high"])
    rank = {name: i for i, name in enumerate(PREVIOUS_OUTCOMES)}
    out = out.sort_values("group", key=lambda s: s.map(lambda g: rank.get(g, len(rank))), ignore_index=True)
    out.attrs["closed_for_new_referral"] = int(administrative.sum())
    return out


def gap_distribution(flags: pd.DataFrame, period_start, period_end) -> pd.DataFrame:
    """How long after the previous referral each referral in the period came: counts by band.

    The distribution of the gap, not a rate: under the DfE definition every referral within 12
    months of a previous one *is* a re-referral, so a "rate by time since previous referral" is
    100% below 12 months and 0% above by definition. Input: flags with ``days_since_previous``,
    ``referral_date`` and ``counted``. Output: ``gap_band`` (``rereferrals.TIME_SINCE_BANDS``
    order, plus "No previous referral"), ``referrals``, ``share`` of referrals in the period.
    """
    from helpers.rereferrals.measure import TIME_SINCE_BANDS, TIME_SINCE_NONE, _band

    start, end = pd.Timestamp(period_start), pd.Timestamp(period_end)
    days = flags.loc[flags["counted"] & flags["referral_date"].between(start, end), "days_since_previous"]
    bands = _band(days.to_numpy(dtype=float), TIME_SINCE_BANDS, TIME_SINCE_NONE)
    order = [b[0] for b in TIME_SINCE_BANDS] + [TIME_SINCE_NONE]
    counts = pd.Series(bands).value_counts().reindex(order, fill_value=0)
    out = pd.DataFrame({"gap_band": order, "referrals": counts.to_numpy().astype(int)})
    total = out["referrals"].sum()
    out["share"] = out["referrals"] / total if total else np.nan
    return out
