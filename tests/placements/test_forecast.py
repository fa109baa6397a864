"""Tests for helpers.placements.forecast: one-step arithmetic by hand, rate fitting, ageing, back-test, speed."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from helpers.placements import forecast as fc

EP_COLS = ["child_id", "decom", "rne", "ls", "cin", "place", "place_provider", "dec", "rec",
           "reason_place_change", "home_post", "pl_post", "urn", "collection_year", "source_file"]


def episodes(rows):
    """rows: (child, decom, rne, place, dec, rec)."""
    return pd.DataFrame([{
        "child_id": c, "decom": pd.Timestamp(d0), "rne": rne, "ls": "C2", "cin": "N1", "place": place,
        "place_provider": "PR1", "dec": pd.Timestamp(d1) if d1 else pd.NaT, "rec": rec,
        "reason_place_change": None, "home_post": None, "pl_post": None, "urn": None,
        "collection_year": 2024, "source_file": "x"} for c, d0, rne, place, d1, rec in rows], columns=EP_COLS)


def test_one_step_two_state_by_hand():
    # States A, B. Stock 100, 50. Daily rates A->B 0.01, B->A 0.004; exits A 0.02, B 0.006; entries 2, 1.
    # A: 100 - 100*(0.01+0.02) + 50*0.004 + 2 = 100 - 3 + 0.2 + 2 = 99.2
    # B: 50 - 50*(0.004+0.006) + 100*0.01 + 1 = 50 - 0.5 + 1 + 1 = 51.5
    R = np.array([[0.0, 0.01], [0.004, 0.0]])
    out = fc.step(np.array([100.0, 50.0]), R, np.array([0.02, 0.006]), np.array([2.0, 1.0]))
    assert out == pytest.approx([99.2, 51.5])
    T = fc.daily_matrix(R, np.array([0.02, 0.006]))
    assert T.sum(axis=1) == pytest.approx([0.98, 0.994])  # rows lose only the exit rate


def _two_state_model():
    return fc.StockFlowModel(
        bands=("All",), categories=("A", "B"), start=pd.Timestamp("2025-03-31"),
        stock=np.array([100.0, 50.0]),
        # counts over exposure of 1000 child-days per state reproduce the rates above
        transition_counts=np.array([[0.0, 10.0], [4.0, 0.0]]), exit_counts=np.array([20.0, 6.0]),
        entry_counts=np.array([2.0, 1.0]) * 100, exposure_days=np.array([1000.0, 1000.0]), window_days=100)


def test_projection_mean_and_process_variance_by_hand():
    m = _two_state_model()
    out = fc.project(m, horizon_years=1 / 12, n_draws=0, interval=0.9)  # 30 April: 30 daily steps
    # Check against a hand-rolled loop of the one-step formula (30 steps), and the variance
    # formula on day 1 worked by hand:
    x = np.array([100.0, 50.0])
    for _ in range(30):
        x = fc.step(x, m.transition_rates, m.exit_rates, m.entry_rates)
    tot = out[out["group"] == "Total"].iloc[0]
    assert tot["forecast"] == pytest.approx(x.sum())
    # Day-1 variance of the total: stayers A 100*0.98*0.02 = 1.96; B 50*0.994*0.006 = 0.2982;
    # entrants Poisson(3) -> 3; total 5.2582.
    T = fc.daily_matrix(m.transition_rates, m.exit_rates)
    stay = T.sum(axis=1)
    var1 = (m.stock * stay * (1 - stay)).sum() + m.entry_rates.sum()
    assert var1 == pytest.approx(5.2582)
    assert tot["upper"] > tot["forecast"] > tot["lower"]


def test_fit_rates_and_ageing_by_hand():
    # Window 01/01/2024 - 10/01/2024 (10 days). All children aged 10-15 except child 3, who turns 16
    # on 06/01/2024. Bands: 10 to 15, 16 and 17; categories: Fostering: other carer (F), Children's home (H).
    ep = episodes([
        ("1", "2023-12-01", "S", "U4", "2024-01-05", "X1"),   # F: 01-04 Jan = 4 days, then moves to H
        ("1", "2024-01-05", "P", "K2", None, None),           # H: 05-10 Jan = 6 days
        ("2", "2024-01-03", "S", "K2", "2024-01-08", "E13"),  # entry to H; H: 03-07 Jan = 5 days; exit
        ("3", "2023-06-01", "S", "K2", None, None),           # H 10-15: 01-05 Jan = 5 days; ages; H 16+: 06-10 = 5 days
    ])
    header = pd.DataFrame({"child_id": ["1", "2", "3"], "birth_month": pd.to_datetime(["2012-01-01", "2012-01-01", "2008-01-06"])})
    bands = ((10, 16, "10 to 15"), (16, 18, "16 and 17"))
    cats = ("Fostering: other carer", "Children's home")
    m = fc.fit_model(ep, header, "2024-01-01", "2024-01-10", categories=cats, bands=bands)
    # state order: (10-15,F)=0, (10-15,H)=1, (16+,F)=2, (16+,H)=3
    assert m.window_days == 10
    assert m.exposure_days.tolist() == [4, 16, 0, 5]          # H 10-15: 6 + 5 + 5
    assert m.transition_counts[0, 1] == 1                     # placement move F -> H
    assert m.transition_counts[1, 3] == 1                     # ageing H 10-15 -> H 16+
    assert m.transition_counts.sum() == 2
    assert m.exit_counts.tolist() == [0, 1, 0, 0]
    assert m.entry_counts.tolist() == [0, 1, 0, 0]
    assert m.transition_rates[0, 1] == pytest.approx(1 / 4)
    assert m.transition_rates[1, 3] == pytest.approx(1 / 16)
    assert m.exit_rates[1] == pytest.approx(1 / 16)
    assert m.entry_rates[1] == pytest.approx(1 / 10)
    assert m.stock.tolist() == [0, 1, 0, 1]                   # at 10 Jan: child 1 (H, 12), child 3 (H, 16)


def test_ageing_out_at_18_is_an_exit():
    ep = episodes([("1", "2023-01-01", "S", "U4", None, None)])
    header = pd.DataFrame({"child_id": ["1"], "birth_month": pd.to_datetime(["2006-01-05"])})
    m = fc.fit_model(ep, header, "2024-01-01", "2024-01-10", categories=("Fostering: other carer",),
                     bands=((16, 18, "16 and 17"),))
    # 18th birthday 05/01/2024: exposure 01-04 Jan = 4 days, then one exit (leaves the model)
    assert m.exposure_days.tolist() == [4] and m.exit_counts.tolist() == [1] and m.stock.tolist() == [0]


def test_scenario_levers_on_rates():
    m = _two_state_model()
    R, q, lam = fc.adjusted_rates(m, {"All": 0.8}, moves=[("A", "B", 0.5)])
    assert lam == pytest.approx([1.6, 0.8])                   # entries 2, 1 cut by 20%
    # half of a year-long stock moves in a year: rate ln(2)/365.25 = 0.0018977 added to A->B
    assert R[0, 1] == pytest.approx(0.01 + np.log(2) / 365.25)
    assert (q == m.exit_rates).all()


def test_backtest_on_stationary_synthetic_data():
    ep, hd = fc.synthetic_episodes(3000, seed=2)
    bt = fc.backtest(ep, hd, "2025-03-31", reference_years=2, n_draws=100).set_index("group")
    # a stationary process should be forecast one year ahead within 10% (stated bound)
    assert bt.loc["Total", "abs_pct_error"] < 10
    assert bt.loc["Total", "within_band"]
    assert bt.loc["Total", "actual"] == pytest.approx(3000, rel=0.15)


@pytest.mark.slow
def test_national_size_forecast_runs():
    """England-sized input fits and projects (its speed is measured by the benchmarks, not here)."""
    ep, hd = fc.synthetic_episodes(80_000, seed=1)
    model = fc.fit_model(ep, hd, "2023-04-01", "2025-03-31")
    out = fc.project(model, horizon_years=5, n_draws=200)
    assert model.stock.sum() == pytest.approx(80_000, rel=0.1)
    assert out["date"].max() == pd.Timestamp("2030-03-31")


def test_start_stock_uses_date_of_birth_mid_month():
    """Hand-made: a child born 20 Oct 2008 in foster care from 2024 until the 18th birthday
    (20 Oct 2026). On 15 Oct 2026 the child is 17 and looked after: in the start stock. With only
    the birth month (1 Oct 2008) the child would look 18 and be dropped."""
    from helpers.placements import forecast as fc
    episodes = pd.DataFrame({"child_id": ["A"], "decom": pd.to_datetime(["2024-01-10"]), "rne": ["S"], "ls": ["C2"],
                             "cin": ["N1"], "place": ["U4"], "place_provider": ["PR1"], "dec": pd.to_datetime(["2026-10-20"]),
                             "rec": ["E8"], "reason_place_change": [None], "home_post": [None], "pl_post": [None], "urn": [None],
                             "collection_year": [2027], "source_file": ["x"]})
    header = pd.DataFrame({"child_id": ["A"], "sex": ["1"], "birth_month": pd.to_datetime(["2008-10-01"]),
                           "date_of_birth": pd.to_datetime(["2008-10-20"]), "ethnicity": ["WBRI"], "collection_year": [2027]})
    prep = fc.prepare_episodes(episodes, header)
    assert fc.start_stock(prep, "2026-10-15").sum() == 1
    assert fc.start_stock(prep, "2026-10-19").sum() == 1      # the day before the birthday
    assert fc.start_stock(prep, "2026-10-20").sum() == 0      # left care on the 18th birthday
    month_only = fc.prepare_episodes(episodes, header.drop(columns="date_of_birth"))
    assert fc.start_stock(month_only, "2026-10-15").sum() == 0


def test_start_stock_equals_looked_after_count_every_day_of_a_year(demo_dir):
    """The forecast's start stock equals an independent count of children looked after (an open
    episode, short breaks aside) on every day from 1 Nov 2025 to 31 Oct 2026 (the demo's year to
    its extract date), and fit_model starts from it on a mid-month date."""
    from helpers.placements import forecast as fc, where as placements
    from helpers.readers import ssda903
    lac = ssda903.read_ssda903(demo_dir / "ssda903")
    prep = fc.prepare_episodes(lac.episodes, lac.header)
    eps = lac.episodes[~lac.episodes["ls"].isin(list(placements.SHORT_BREAK_LEGAL_STATUSES))]
    days = pd.date_range("2025-11-01", "2026-10-31", freq="D")
    assert len(days) == 365
    short = []
    for d in days:
        model_count = fc.start_stock(prep, d).sum()
        looked_after = eps.loc[placements.open_at(eps, d), "child_id"].nunique()
        if model_count != looked_after:
            short.append((d.date(), model_count, looked_after))
    assert short == []
    model = fc.fit_model(lac.episodes, lac.header, "2024-10-16", "2026-10-15")
    assert model.stock.sum() == len(placements.cla_at_date(lac.episodes, lac.header, lac.uasc, "2026-10-15")) > 400
