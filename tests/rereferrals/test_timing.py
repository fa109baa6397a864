"""Time to re-referral: closure cohorts and Kaplan-Meier figures worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.rereferrals import timing as rt
from helpers.rereferrals import measure as rr
from test_measure import make_referrals  # same builder: tests/ is on sys.path under pytest

CENSOR = "2024-12-31"


def history() -> pd.DataFrame:
    return make_referrals([
        # f: closed 1 Jan 2024 (NFA), next referral 11 Jan: event at 10 days
        {"child": "f", "date": "2023-12-20", "closed": "2024-01-01", "nfa": True}, {"child": "f", "date": "2024-01-11"},
        # a: closed 1 Jan (CIN plan), next 31 Jan: event at 30 days
        {"child": "a", "date": "2023-10-01", "closed": "2024-01-01", "cin": True}, {"child": "a", "date": "2024-01-31"},
        # b: closed 1 Jan (CIN plan), next 1 Mar: event at 60 days
        {"child": "b", "date": "2023-10-01", "closed": "2024-01-01", "cin": True}, {"child": "b", "date": "2024-03-01"},
        # c: closed 30 Nov (NFA), nothing after: censored at 31 days
        {"child": "c", "date": "2024-11-20", "closed": "2024-11-30", "nfa": True},
        # d: closed 1 Jan (CIN plan), nothing after: censored at 365 days
        {"child": "d", "date": "2023-10-01", "closed": "2024-01-01", "cin": True},
        # e: closed 1 Jan (CIN plan); its other referral (15 Dec) came before the closure, none after:
        # censored at 365 days
        {"child": "e", "date": "2023-10-01", "closed": "2024-01-01", "cin": True}, {"child": "e", "date": "2023-12-15"},
        # g: referral after the censor date is not seen: censored at 365 days
        {"child": "g", "date": "2023-10-01", "closed": "2024-01-01", "reason": "RC8"}, {"child": "g", "date": "2025-02-01"},
    ])


def test_closure_cohort_times_and_events():
    cohort = rt.closure_cohort(history(), "2024-01-01", "2024-12-31", CENSOR).set_index("child_id")
    # open episodes (no closure) are not in the cohort: one closed episode per child
    assert sorted(cohort.index) == list("abcdefg")
    assert cohort["days"].to_dict() == {"f": 10, "a": 30, "b": 60, "c": 31, "d": 365, "e": 365, "g": 365}
    assert cohort["rereferred"].to_dict() == {"f": True, "a": True, "b": True, "c": False, "d": False,
                                              "e": False, "g": False}
    assert cohort.loc["f", "outcome"] == rr.OUTCOME_NFA and cohort.loc["g", "outcome"] == rr.OUTCOME_NOT_IN_NEED
    assert cohort.loc["a", "next_referral_date"] == pd.Timestamp("2024-01-31")
    assert pd.isna(cohort.loc["g", "next_referral_date"])


def test_kaplan_meier_all_episodes_by_hand():
    cohort = rt.closure_cohort(history(), "2024-01-01", "2024-12-31", CENSOR)
    table = rt.km_table(cohort, by=None, months=12).set_index("month")
    # times: 10 (event, 7 at risk), 30 (event, 6), 31 (censored), 60 (event, 4), 365 x3 censored
    # S(10) = 6/7; S(30) = 6/7 * 5/6 = 5/7; S(60) = 5/7 * 3/4 = 15/28
    # month 1 = 30.44 days: 1 - 5/7 = 2/7; month 2 = 60.9 days: 1 - 15/28 = 13/28
    assert table.loc[0, "cumulative_rereferred"] == pytest.approx(0.0)
    assert table.loc[1, "cumulative_rereferred"] == pytest.approx(2 / 7)
    assert table.loc[2, "cumulative_rereferred"] == pytest.approx(13 / 28)
    assert table.loc[12, "cumulative_rereferred"] == pytest.approx(13 / 28)
    # at risk just after month 1 (30.44 days): days > 30.44 -> b, c, d, e, g = 5; events so far 2
    assert (table.loc[1, "at_risk"], table.loc[1, "rereferred"]) == (5, 2)
    assert table.loc[2, "ci_low"] < 13 / 28 < table.loc[2, "ci_high"]


def test_medians_and_groups_by_outcome():
    cohort = rt.closure_cohort(history(), "2024-01-01", "2024-12-31", CENSOR)
    med = rt.median_times(cohort, by="outcome").set_index("group")
    # NFA: f (event 10), c (censored 31): S(10) = 1/2 -> KM median 10 days
    assert med.loc[rr.OUTCOME_NFA, "km_median_days"] == pytest.approx(10)
    # CIN plan: a 30, b 60 events; d, e censored 365: S(30) = 3/4, S(60) = 3/4 * 2/3 = 1/2 -> median 60
    assert med.loc[rr.OUTCOME_CIN_PLAN, "km_median_days"] == pytest.approx(60)
    assert med.loc[rr.OUTCOME_CIN_PLAN, "median_days_if_rereferred"] == pytest.approx(45)
    assert med.loc[rr.OUTCOME_CIN_PLAN, "rereferred_within"] == pytest.approx(0.5)
    # not in need: g never re-referred in the data: median not reached
    assert np.isnan(med.loc[rr.OUTCOME_NOT_IN_NEED, "km_median_days"])
    assert list(med.index) == [rr.OUTCOME_NFA, rr.OUTCOME_NOT_IN_NEED, rr.OUTCOME_CIN_PLAN]  # display order
    # all together: S(60) = 15/28 > 1/2 and no later events: median not reached
    overall = rt.median_times(cohort, by=None).iloc[0]
    assert np.isnan(overall["km_median_days"]) and overall["episodes"] == 7


def test_share_followed_up_uses_only_fully_followed_episodes():
    cohort = rt.closure_cohort(history(), "2024-01-01", "2024-12-31", CENSOR)
    # followed 365 days: closed 1 Jan 2024 (365 days to 31 Dec): f, a, b, d, e, g = 6 (c closed 30 Nov is not)
    # re-referred within 365 days among them: f, a, b = 3
    row = rt.share_followed_up(cohort, 365).iloc[0]
    assert (row["episodes_followed"], row["rereferred_within"]) == (6, 3)
    assert row["share"] == pytest.approx(0.5)


def test_share_back_by_outcome_leaves_out_closures_for_a_new_referral():
    """Hand-made cohort, all followed for a year. NFA: 4 cases, back after 30 and 400 days and
    never (x2) -> 1 of 4 within 365 = 25%. Other closure: 2 cases back after 1 and 3 days (closed
    because a new referral was opened) -> left out, so the group has no cases and no row."""
    import pandas as pd

    from helpers.rereferrals import timing as rt

    cohort = pd.DataFrame({
        "outcome": ["No further action"] * 4 + ["Other closure"] * 2,
        "days": [30, 400, 500, 500, 1, 3], "rereferred": [True, True, False, False, True, True],
        "followup_days": [500] * 6})
    out = rt.share_back_by(cohort, by="outcome")
    assert out["group"].tolist() == ["No further action"]
    assert out["episodes"].tolist() == [4] and out["rereferred"].tolist() == [1]
    assert out["rate"].iloc[0] == 0.25
    assert out.attrs["closed_for_new_referral"] == 2


def _datasets():
    rng = np.random.default_rng(11)
    days = np.round(rng.exponential(200, 300))            # ties, some zero-length follow-up
    yield "random", days, rng.random(300) < 0.6
    yield "all censored", np.array([5.0, 10, 10, 40]), np.array([False] * 4)
    yield "all events, ending at zero survival", np.array([0.0, 3, 3, 7]), np.array([True] * 4)
    yield "last at risk all re-referred", np.array([1.0, 2, 2, 9, 9]), np.array([False, True, False, True, True])
    yield "one episode", np.array([30.0]), np.array([True])


@pytest.mark.parametrize("name, days, events", list(_datasets()), ids=[d[0] for d in _datasets()])
def test_kaplan_meier_matches_lifelines(name, days, events):
    # an independent computation: lifelines' KaplanMeierFitter (estimate, exponential Greenwood
    # interval, median, value at given times)
    from lifelines import KaplanMeierFitter

    km = rt.kaplan_meier(days, events)
    ref = KaplanMeierFitter().fit(days, event_observed=events)
    assert km.timeline.tolist() == ref.timeline.tolist()
    assert km.survival == pytest.approx(ref.survival_function_.iloc[:, 0].to_numpy(), abs=1e-12)
    ci = ref.confidence_interval_survival_function_
    assert km.lower == pytest.approx(ci.iloc[:, 0].to_numpy(), abs=1e-9)
    assert km.upper == pytest.approx(ci.iloc[:, 1].to_numpy(), abs=1e-9)
    assert km.median == ref.median_survival_time_
    grid = np.array([0.0, 1.5, 10, 100, 1000])
    assert km.at(grid) == pytest.approx(ref.survival_function_at_times(grid).to_numpy(), abs=1e-12)


def test_kaplan_meier_by_hand():
    # durations 2, 4 (censored), 6, 6; at t=2: 4 at risk, 1 event -> S = 3/4; t=4: censored;
    # t=6: 2 at risk, 2 events -> S = 0. Median: first time S <= 0.5 = 6.
    km = rt.kaplan_meier([2, 4, 6, 6], [True, False, True, True])
    assert km.timeline.tolist() == [0, 2, 4, 6]
    assert km.survival == pytest.approx([1, 0.75, 0.75, 0])
    assert km.median == 6 and km.lower[0] == 1 and km.upper[0] == 1
    assert km.at([1, 5, 100]) == pytest.approx([1, 0.75, 0])
