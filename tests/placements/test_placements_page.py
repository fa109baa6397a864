"""The placement sufficiency report's sections (helpers.placements.page) on hand-made data.

Hand-made SSDA903 episodes (the builders of test_where.py), a hand-made snapshot of
children looked after, and the small no-movement stock-and-flow model of test_sufficiency.py.
Every expected value is worked out by hand in the comments. Sections publish through a real
Report into a temporary folder.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest

from helpers import codes
from helpers.placements import forecast, page
from helpers.placements import sufficiency as su
from helpers.publishing import charts, report
from helpers.readers.ledger import Ledger
from test_where import NO_UASC, episodes, header
from test_sufficiency import NO_CAPACITY, inputs, model

FOSTER, HOME = "Fostering: other carer", "Children's home"


@pytest.fixture
def shown(monkeypatch):
    out = {"charts": [], "other": [], "markdown": []}

    def show(chart, description):
        charts.to_spec(chart)
        out["charts"].append(description)

    monkeypatch.setattr(charts, "show", show)
    monkeypatch.setattr(page, "_display", out["other"].append)
    monkeypatch.setattr(page, "_markdown", out["markdown"].append)
    return out


def snapshot() -> pd.DataFrame:
    # 8 children: 6 fostered (4 in-house, 2 external), 2 in external children's homes
    return pd.DataFrame({"category": [FOSTER] * 6 + [HOME] * 2,
                         "in_house": [True] * 4 + [False] * 4,
                         "home_post": ["QX1 1AA"] * 8, "pl_post": ["QX1 1AB"] * 8})


def hand_made(threshold: int = 1) -> page.Figures:
    cfg = {"council": {"la_code": "E06999001", "region": "Test region"}, "placements": {}, "_root": "."}
    f = page.Figures(cfg=cfg, threshold=threshold, in_house=("PR1",), reference_years=2, interval=0.9,
                     inflation=0.0, horizon_years=2, n_draws=0)
    ep = episodes([
        ("A", "2024-01-10", "S", "C2", "U4", "PR1", None, None, 2024),          # in care throughout
        ("B", "2025-02-01", "S", "C2", "K2", "PR4", None, None, 2025),          # entry Feb 2025
        ("C", "2024-06-01", "S", "C2", "U4", "PR1", "2025-01-20", "E13", 2025),  # exit Jan 2025
    ])
    f.data = SimpleNamespace(episodes=ep, header=header({"A": "2012-01-01", "B": "2010-01-01",
                                                         "C": "2015-01-01"}),
                             uasc=NO_UASC, ledger=Ledger())
    f.episodes = ep
    f.code_issues = pd.DataFrame({"episodes": []})
    f.as_at = pd.Timestamp("2025-03-31")
    f.period_start, f.period_end = page.report_period(f.as_at)
    f.snapshot = snapshot()
    f.located = pd.DataFrame({"outside_boundary": [True, True] + [False] * 6,
                              "over_20_miles": [True] + [False] * 7, "distance_known": [True] * 8})
    f.where = {"pct_outside_boundary": 25.0, "pct_over_20_miles": 12.5, "pct_distance_unknown": 0.0}
    f.stability = {"pct_three_or_more": 10.0, "pct_long_term_stable": 70.0}
    f.costs = su.unit_costs({c: {"in_house": 100, "external": 100} for c in codes.PLACEMENT_CATEGORIES}
                            | {FOSTER: {"in_house": 450, "external": 950}, HOME: {"in_house": 3500, "external": 4000}})
    f.weekly_cost, f.annual_cost = 10_000.0, 521_785.7
    f.pct_in_house = page.pct_true(f.snapshot["in_house"])
    return f


def with_forecast(f: page.Figures) -> page.Figures:
    """The no-movement model of test_sufficiency: 40 fostered, 6 in homes, no entries or exits,
    so the forecast stays at 46 and its range has no width (no draws)."""
    f.model = model({FOSTER: 40, HOME: 6})
    f.inputs = inputs(NO_CAPACITY, horizon=2)
    f.capacity = NO_CAPACITY
    f.fc = forecast.project(f.model, 2, interval=0.9, n_draws=0)
    f.fy = page.forecast_at_years(f.fc, f.model.start, 2)
    f.scenarios = []
    f.annual, f.savings = su.compare_scenarios(f.model, f.inputs, f.scenarios)
    f.gap = su.sufficiency_gap(su.need_by_month(f.fc), f.capacity, f.model.start)
    f.backtest = pd.DataFrame({"group": ["Total", FOSTER, HOME], "actual": [50, 44, 2],
                               "forecast": [46.04, 40.0, 6.0], "lower": [40.0, 35.0, 3.0],
                               "upper": [52.0, 45.0, 9.0], "error": [-3.96, -4.0, 4.0],
                               "abs_pct_error": [7.92, 9.09, 200.0], "within_band": [True, True, True]})
    f.backtest_error = 7.92
    return f


@pytest.fixture
def fig():
    return hand_made()


def published(tmp_path, name):
    return pd.read_csv(tmp_path / "tables" / f"{name}.csv", dtype=str)


def test_small_pieces():
    # a month given: the period ends on its last day (if before the as-at date)
    assert page.report_period(pd.Timestamp("2025-03-31"), "2025-01") == (pd.Timestamp("2024-02-01"),
                                                                        pd.Timestamp("2025-01-31"))
    assert page.report_period(pd.Timestamp("2025-03-31")) == (pd.Timestamp("2024-04-01"),
                                                             pd.Timestamp("2025-03-31"))
    assert page.pct_true(pd.Series([True, False, False, False])) == 25.0
    assert pd.isna(page.pct_true(pd.Series([], dtype=bool)))
    assert page.saving_key("Recruit 10 carers!") == "saving_recruit_10_carers"
    fy = {1: {"forecast": 50, "lower": 45, "upper": 55}, 3: {"forecast": None, "lower": None, "upper": None},
          5: {"forecast": None, "lower": None, "upper": None}}
    keys = page.forecast_keys(fy)
    assert keys["forecast_1y"] == 50 and keys["forecast_1y_upper"] == 55 and keys["forecast_3y_lower"] is None
    assert len(keys) == 9
    assert page.dfe_paths_present({"a": None}) is False and page.dfe_paths_present({}) is True


def test_texts_by_hand():
    where = {"pct_outside_boundary": 25.0, "pct_over_20_miles": 12.5, "pct_distance_unknown": 4.0}
    stab = {"pct_three_or_more": 10.0, "pct_long_term_stable": 70.4}
    text = page.distance_text(where, stab)
    assert "boundary: **25%**; more than 20 miles from home: **12%** (distance not known for 4%)" in text
    assert "**10%** had three or more placements" in text and "**70%** had lived" in text
    savings = pd.DataFrame({"scenario": ["Recruit <carers>"], "saving_total": [1_200_000.0],
                            "budgeted_total": [1_000_000.0], "meets_budget": [True]})
    assert page.scenario_lines(savings, 5) == ("- **Recruit &lt;carers&gt;**: modelled saving £1.20m over 5 "
                                               "years against £1.00m budgeted (meets the budget).")
    pub, num = page.rounded_savings(savings.assign(saving_2026=[1234.0], difference=[200_499.0]))
    assert num == ["saving_total", "budgeted_total", "saving_2026", "difference"]   # money columns
    assert pub["saving_2026"].iloc[0] == 1000 and pub["difference"].iloc[0] == 200_000
    assert pub["meets_budget"].iloc[0] == True  # noqa: E712 - not money: untouched


def test_placement_mix_by_hand(fig, tmp_path, shown):
    mix, totals = page.placement_mix(fig.snapshot, threshold=1)
    # fostering: 4 in-house, 2 external = 6; homes: 2 external; nothing is 1, so nothing hidden
    assert totals[FOSTER] == 6 and totals[HOME] == 2
    got = mix.set_index(["category", "provider_type"])["children"]
    assert got[(FOSTER, "In-house")] == 4 and got[(FOSTER, "External")] == 2
    rep = report.Report(tmp_path, threshold=1)
    page.show_placement_mix(rep, fig)
    assert "Fostering with other carers is the largest group (6 children)." in shown["charts"][0]
    # at threshold 2, homes' 2 external children are hidden, and with them a second cell
    _, totals2 = page.placement_mix(fig.snapshot, threshold=2)
    assert pd.isna(totals2[HOME])


def test_headline_and_summary(fig, tmp_path):
    f = with_forecast(fig)
    text = page.headline_text("LEAD", f)
    assert text.strip().startswith("LEAD")
    # 8 children; 25% outside; 12.5 -> "12%" (half to even); 4 of 8 in-house = 50%
    assert "looked after **8 children**" in text and "**25%** were placed outside" in text
    assert "**50%** were in the" in text and "**£10,000 a week**" in text
    # no-movement model: 46 children in three years... beyond the 2-year horizon: "n/a"
    assert "about\n**n/a children**" in text
    assert "7.9% away from what happened" in text
    # a lead that already says how many children were looked after at the period end: not said twice
    said = page.headline_text(f"On {f.period_end.day} {f.period_end:%B %Y} the council looked after **8 children**.", f)
    assert said.count("looked after **8 children**") == 1 and "Of them,\n**25%** were placed outside" in said
    rep = report.Report(tmp_path, threshold=1)
    page.write_summary(rep, f)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["cla_at_period_end"] == 8 and s["pct_in_house"] == 50.0
    assert s["forecast_1y"] == 46 and s["forecast_3y"] is None      # horizon 2 years
    assert s["backtest_error"] == 7.9 and s["scenario_savings"] == {}
    page.show_headline(rep, f)
    s = json.loads((tmp_path / "summary.json").read_text())
    # 12 months to March 2025: A and B looked after at the end (C left in January)
    assert s["latest_12m_start"] == "2024-04-01" and "statutory_year_end" in s


def test_trend_flows_distance(fig, tmp_path, shown):
    rep = report.Report(tmp_path, threshold=1)
    page.show_trend_and_flows(rep, fig)
    flows = published(tmp_path, "entries_exits_by_month")
    # the year to March 2025: C entered June 2024, B February 2025 (2); C left January 2025 (1)
    assert shown["markdown"][0] == ("In the year to 31 March 2025, 2 periods of care began and c ended.")
    assert len(flows) == 12
    trend = published(tmp_path, "cla_trend_by_category")
    assert "children" in trend and fig.trend is not None
    page.show_distance_and_stability(rep, fig)
    loc = published(tmp_path, "location_of_placements")
    assert "children" in loc and "**25%**" in shown["markdown"][-1]


def test_annex_a_list8(fig, tmp_path, shown):
    rep = report.Report(tmp_path, threshold=1)
    page.show_annex_a_list8(rep, fig)              # no Annex A: nothing shown
    assert shown["markdown"] == []
    # an Annex A extract no newer than the 903 (31 March 2025): says so, publishes nothing
    fig.annex = SimpleNamespace(as_at=pd.Timestamp("2025-03-31"), cla=pd.DataFrame(), ledger=Ledger())
    page.show_annex_a_list8(rep, fig)
    assert "(List 8, 31 March 2025) is no more recent than the looked-after return" in shown["markdown"][0]


def test_england_tables(fig, tmp_path, shown):
    england = {"year": 2025, "pct_outside_boundary": 40.0, "pct_over_20_miles": 15.0,
               "pct_own_provision": 30.0, "pct_three_or_more_placements": 10.0, "pct_long_term_stable": 71.0}
    bench = page.england_table(fig.where, fig.stability, 50.0, england)
    assert bench.columns.tolist() == ["measure", "this_council", "england_2025"]
    assert bench["this_council"].tolist() == [25.0, 12.5, 50.0, 10.0, 70.0]
    assert bench["england_2025"].tolist() == [40.0, 15.0, 30.0, 10.0, 71.0]
    rep = report.Report(tmp_path, threshold=1)
    page.show_england(rep, fig)                     # no DfE tables configured
    assert shown["markdown"] == ["DfE tables not configured: no England comparison in this run."]
    rates = pd.DataFrame({"time_period": [2024, 2025], "comparator": ["England"] * 2,
                          "rate_per_10000": [70.0, 71.0]})
    charts.to_spec(page.cla_rate_chart(rates))


def test_forecast_and_gap(fig, tmp_path, shown):
    f = with_forecast(fig)
    page.show_trend_and_flows(report.Report(tmp_path / "x", threshold=1), f)   # the history
    rep = report.Report(tmp_path, threshold=1)
    f.category_safe = pd.Series({FOSTER: 6, HOME: pd.NA, "Total": 8})
    page.show_forecast(rep, f)
    total = published(tmp_path, "forecast_total")
    assert set(total["forecast"].astype(float)) == {46.0}                 # no movement
    bt = published(tmp_path, "backtest").set_index("group")
    # homes' actual is hidden because the placement mix hides homes' total; its error with it
    assert bt.loc[HOME, "actual"] == "c" and pd.isna(bt.loc[HOME, "abs_pct_error"])
    assert bt.loc["Total", "actual"] == "50" and bt.loc["Total", "forecast"] == "46"   # a whole number written without ".0"
    assert shown["markdown"][-1].startswith("**Track record (back-test).** Fitted on data to 31 March 2024")
    assert "forecast 46 children against 50 actually looked after: an error of 7.9%" in shown["markdown"][-1]
    page.show_sufficiency_gap(rep, f)
    gap = published(tmp_path, "sufficiency_gap")
    # no in-house places: all 40 foster and 6 home placements bought externally, years 1 and 2
    assert gap["external_fostering"].astype(float).tolist() == [40.0, 40.0]
    assert gap["external_residential"].astype(float).tolist() == [6.0, 6.0]
    # extra a year: (40 x (950 - 450) + 6 x (4000 - 3500)) x 365.25 / 7 = 23,000 x 52.18 = £1.20m
    assert "costs about £1.20m more a year now (year 1), £1.20m in year 2" in shown["markdown"][-1]


def test_shortfall_cost_and_gap_by_year_by_hand(fig):
    gap_pub = pd.DataFrame({"external_fostering": [2.0], "external_residential": [1.0]})
    # 2 x 500 + 1 x 500 = 1,500 a week; x 365.25 / 7 = 78,267.86
    assert page.shortfall_cost(gap_pub, fig.costs).iloc[0] == pytest.approx(78_267.857, abs=0.01)
    dates = pd.date_range("2025-04-30", periods=30, freq="ME")
    gap = pd.DataFrame({c: range(30) for c in page.GAP_COLUMNS if c not in ("year", "date")}).assign(date=dates)
    out = page.gap_by_year(gap, pd.Timestamp("2025-03-31"), 2)
    # nearest month ends to 31 March 2026 and 2027 are rows 11 and 23
    assert out["year"].tolist() == [1, 2] and out["need_fostering"].tolist() == [11, 23]


def test_scenarios_business_cases_and_sliders(fig, tmp_path, shown):
    f = with_forecast(fig)
    f.scenarios = [su.Scenario("Recruit carers", "recruit_foster_households", {"extra_households_per_year": 10},
                               running_cost_per_year=150_000, budgeted_saving=100_000)]
    f.annual, f.savings = su.compare_scenarios(f.model, f.inputs, f.scenarios)
    rep = report.Report(tmp_path, threshold=1)
    page.show_scenarios(rep, f)
    sav = published(tmp_path, "scenario_savings")
    assert sav["scenario"].tolist() == ["Recruit carers"]
    assert float(sav["saving_total"].iloc[0]) % 1000 == 0                 # rounded to £1,000
    assert shown["markdown"][-1].startswith("- **Recruit carers**: modelled saving")
    page.show_business_cases(rep, f)                                       # no [finance]: defaults
    assert (tmp_path / "tables" / "scenario_business_case.csv").is_file()
    s = json.loads((tmp_path / "summary.json").read_text())
    assert list(s["scenario_business_cases"]) == ["Recruit carers"]
    page.show_scenario_sliders(rep, f)                                     # published: no sliders
    n = len(shown["other"])
    pytest.importorskip("ipywidgets")
    box = page.scenario_sliders(f)
    assert box is not None and len(shown["other"]) == n + 1                # drawn once at the start


def test_case_summary_and_members_table():
    cases = pd.DataFrame({"workstream": ["Plan"], "investment": [100_000.4], "gross_saving": [350_000.6],
                          "net_saving": [250_000.2], "cashable": [50_000.0], "growth_avoidance": [300_000.6],
                          "gross_saving_low": [200_000.0], "gross_saving_high": [500_000.0],
                          "break_even": ["2026-09-01"], "roi": [2.50049], "other": [1.5]})
    assert page.case_summary(cases) == {"Plan": {"investment": 100_000, "gross_saving": 350_001,
                                                 "net_saving": 250_000, "cashable": 50_000,
                                                 "growth_avoidance": 300_001, "gross_saving_low": 200_000,
                                                 "gross_saving_high": 500_000, "break_even": "2026-09-01",
                                                 "roi": 2.5}}
    shown = page.cases_for_members(cases)
    assert shown["Breaks even"].iloc[0] == "September 2026" and shown["Return on investment"].iloc[0] == "250%"
    none = page.cases_for_members(cases.assign(break_even=[None], roi=[None]))
    assert none["Breaks even"].iloc[0] == "not within the forecast" and none["Return on investment"].iloc[0] == "n/a"


def test_data_quality(fig, tmp_path, shown):
    rep = report.Report(tmp_path, threshold=1)
    fig.code_issues = pd.DataFrame({"episodes": [3, 4]})
    page.show_data_quality(rep, fig)
    assert shown["markdown"][0].startswith("Placement codes not recognised for their collection year: 7 episodes")
    keys = [a["key"] for a in json.loads((tmp_path / "attribution.json").read_text())]
    assert keys == ["ons"]
    assert (tmp_path / "tables").is_dir()
