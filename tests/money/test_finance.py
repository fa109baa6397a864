"""Money (helpers.money.finance): unit tests on small hand-made figures.

Every expected value below was worked out by hand (the arithmetic is in the comment beside it),
not copied from the code's output.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.money import finance
from helpers.money.finance import RoleCost
from support import check_adds_up

REPO = Path(__file__).resolve().parents[2]


# --- financial years and money for members -------------------------------------------------

def test_financial_year_labels():
    assert finance.fy_start_year("2026-04-01") == 2026
    assert finance.fy_start_year("2027-03-31") == 2026
    assert finance.fy_label(2026) == "2026-27" and finance.fy_label(1999) == "1999-00"
    assert finance.parse_fy("2026-27") == 2026
    assert finance.fy_of(pd.Series(pd.to_datetime(["2026-03-31", "2026-04-30"]))).tolist() == ["2025-26", "2026-27"]
    for bad in ("2026/27", "2026-28", "26-27"):
        with pytest.raises(finance.FinanceConfigError, match="2026-27"):
            finance.parse_fy(bad)


def test_money_for_members():
    assert finance.money(2_994_000) == "£2.99m"
    assert finance.money(332_000) == "£332,000"
    assert finance.money(331_600) == "£332,000"      # nearest £1,000
    assert finance.money(-1_234_567) == "\u2212\u2060£1.23m"      # minus sign joined to the pound sign
    assert finance.money(950) == "£950"
    assert finance.money(None) == "n/a"


def test_month_axis_starts_after_the_as_at_date_and_splits_financial_years():
    axis = finance.month_axis("2027-01-31", 1)
    # Feb and Mar 2027 fall in 2026-27 (28 + 31 = 59 days), Apr 2027 to Jan 2028 in 2027-28 (365 - 59 = 306 days)
    assert len(axis) == 12
    by = axis.groupby("financial_year")["days"].sum()
    assert by.to_dict() == {"2026-27": 59, "2027-28": 306}
    assert axis["fy_index"].tolist() == [0, 0] + [1] * 10


# --- workforce cost ----------------------------------------------------------------------

def test_workforce_cost_hand_worked():
    # employed = 40,000 x 1.30 = 52,000; agency = 52,000 x 1.5 = 78,000
    # paid posts = 10 x (1 - 0.05) = 9.5; cost = 9.5 x (0.75 x 52,000 + 0.25 x 78,000) = 9.5 x 58,500 = 555,750
    est = pd.DataFrame({"role": ["social_workers"], "costed": [10.0]})
    out = finance.workforce_cost(est, {"social_workers": RoleCost(40_000, 0.30, 0.50)}, 0.25, vacancy_factor=0.05)
    row = out.iloc[0]
    assert row["employed_cost_per_post"] == pytest.approx(52_000)
    assert row["agency_cost_per_post"] == pytest.approx(78_000)
    assert row["paid"] == pytest.approx(9.5)
    assert row["agency_posts"] == pytest.approx(2.375)     # 9.5 x 0.25
    assert row["annual_cost"] == pytest.approx(555_750)


def test_workforce_cost_errors_name_the_role():
    est = pd.DataFrame({"role": ["team_managers"], "costed": [1.0]})
    with pytest.raises(finance.FinanceConfigError, match="team_managers"):
        finance.workforce_cost(est, {"social_workers": RoleCost(1)}, 0.0)
    with pytest.raises(finance.FinanceConfigError, match="agency share"):
        finance.workforce_cost(est, {"team_managers": RoleCost(1)}, 1.5)


def test_establishment_from_locality_table_and_long_form():
    wide = pd.DataFrame({"locality": ["A", "B"],
                         "fte_social_workers": [3.3, 2.2], "posts_social_workers": [4, 3],
                         "fte_family_support_workers": [1.1, 0.9], "posts_family_support_workers": [2, 1],
                         "fte_senior_practitioners": [0.55, 0.37], "posts_senior_practitioners": [1, 1],
                         "fte_team_managers": [0.6, 0.4], "posts_team_managers": [1, 1]})
    est = finance.establishment(wide)
    assert est["role"].tolist() == list(finance.ROLES)
    sw = est.set_index("role").loc["social_workers"]
    assert sw["fte"] == pytest.approx(5.5) and sw["posts"] == 7 and sw["costed"] == 7     # 3.3 + 2.2; 4 + 3
    long = pd.DataFrame({"locality": ["A", "A", "B"], "role": ["social_workers", "team_managers", "social_workers"],
                         "fte": [3.3, 0.6, 2.2], "posts": [4, 1, 3]})
    est2 = finance.establishment(long, basis="fte").set_index("role")
    assert est2.loc["social_workers", "costed"] == pytest.approx(5.5)
    assert est2.loc["family_support_workers", "posts"] == 0          # roles missing from the input cost nothing
    with pytest.raises(ValueError, match="unknown roles"):
        finance.establishment(pd.DataFrame({"role": ["chef"], "fte": [1], "posts": [1]}))


def test_agency_conversion_trajectory():
    # 30% agency today; conversion 0, 50%, 80% by financial year; the last value carries on
    shares = finance.agency_share_by_year(0.30, [0.0, 0.5, 0.8], [0, 1, 2, 3, 4])
    assert shares == pytest.approx([0.30, 0.15, 0.06, 0.06, 0.06])
    assert finance.agency_share_by_year(0.2, [], [0, 3]) == pytest.approx([0.2, 0.2])


def _settings(**over) -> finance.FinanceSettings:
    same = RoleCost(40_000, 0.0, 1.0)   # employed 40,000; agency 80,000
    base = dict(roles={r: same for r in finance.ROLES},
                current_posts={"social_workers": 10.0, "family_support_workers": 0.0, "senior_practitioners": 0.0, "team_managers": 0.0},
                current_agency_share={r: 0.5 for r in finance.ROLES}, current_source="hand-made",
                agency_conversion=(0.0, 0.5), horizon_years=1.0)
    base.update(over)
    return finance.FinanceSettings(**base)


def _proposed(sw_posts: float) -> pd.DataFrame:
    return pd.DataFrame({"role": list(finance.ROLES), "fte": [sw_posts, 0, 0, 0], "posts": [sw_posts, 0, 0, 0],
                         "costed": [sw_posts, 0, 0, 0]})


def test_locality_savings_by_year_from_agency_conversion_and_fewer_posts():
    # today: 10 posts, half agency: 10 x (0.5 x 40,000 + 0.5 x 80,000) = 600,000 a year
    # proposed 8 posts: 2026-27 (no conversion, 50% agency) 8 x 60,000 = 480,000 a year;
    #                   2027-28 (half converted, 25% agency) 8 x (0.75 x 40,000 + 0.25 x 80,000) = 400,000 a year
    # months after 31 Jan 2027: 59 days in 2026-27, 306 days in 2027-28 (no inflation, no growth)
    monthly = finance.locality_monthly(_proposed(8), _settings(), "2027-01-31")
    _, years, summary = finance.business_case(monthly)
    y = years.set_index("financial_year")
    assert y.loc["2026-27", "gross_saving"] == pytest.approx(120_000 * 59 / 365.25)
    assert y.loc["2027-28", "gross_saving"] == pytest.approx(200_000 * 306 / 365.25)
    # no demand growth: baseline = today, so every pound saved is cashable
    assert summary["growth_avoidance"] == pytest.approx(0)
    assert summary["cashable"] == pytest.approx(summary["gross_saving"])
    assert summary["roi"] is None                     # nothing invested
    assert summary["break_even"] == pd.Timestamp("2027-02-28")


def test_locality_growth_avoided_investment_and_pay_inflation():
    # 10% demand growth a year; one-off 100,000 in 2026-27; same establishment proposed (10 posts, 50% agency, no conversion)
    s = _settings(agency_conversion=(), locality_one_off={"2026-27": 100_000.0})
    monthly = finance.locality_monthly(_proposed(10), s, "2027-01-31", demand_growth=0.10)
    # proposal = baseline (both grow with demand): no saving, so net = -100,000 and it never breaks even
    _, years, summary = finance.business_case(monthly)
    assert summary["gross_saving"] == pytest.approx(0)
    assert summary["net_saving"] == pytest.approx(-100_000)
    assert summary["break_even"] is None and summary["roi"] == pytest.approx(-1.0)
    assert monthly.loc[0, "one_off"] == 100_000 and monthly["one_off"].sum() == 100_000
    # pay inflation 3%: the month ending 31 Jan 2028 (365 days on) costs 600,000 x 1.03 x 31/365.25
    s2 = _settings(pay_inflation=0.03)
    m2 = finance.locality_monthly(_proposed(10), s2, "2027-01-31")
    assert m2["today"].iloc[-1] == pytest.approx(600_000 * 1.03 ** (365 / 365.25) * 31 / 365.25)


# --- cashable / avoidance split, break-even, business case --------------------------------

@pytest.mark.parametrize("baseline, today, plan, cashable, avoided", [
    (110, 100, 90, 10, 10),     # spend falls 10 below today and avoids 10 of growth
    (110, 100, 105, 0, 5),      # spend still rises (to 105): the whole saving of 5 is avoided growth
    (95, 100, 90, 5, 0),        # baseline already falling: the saving of 5 is all cashable
    (100, 100, 110, -10, 0),    # a cost pressure is negative cashable, never negative avoidance
])
def test_cashable_and_growth_avoidance(baseline, today, plan, cashable, avoided):
    c, a = finance.split_saving([baseline - plan], [baseline], [today])
    assert c[0] == pytest.approx(cashable) and a[0] == pytest.approx(avoided)


@pytest.mark.parametrize("net, expected", [
    ([-100, 30, 30, 30, 30], 4),   # cumulative -100, -70, -40, -10, 20: month 5
    ([-10, 20, -20, 20], 3),       # dips back below zero in month 3: break-even is month 4
    ([5, 5], 0),                   # never below zero: the first month
    ([-10, 5], None),              # still -5 at the horizon
])
def test_break_even(net, expected):
    dates = pd.date_range("2027-01-31", periods=len(net), freq="ME")
    got = finance.break_even(dates, np.cumsum(net))
    assert got == (None if expected is None else dates[expected])


def _monthly_hand_made():
    # Jan, Feb, Mar 2027 (2026-27) and Apr 2027 (2027-28); baseline 100, plan 80, today 90 a month;
    # one-off 50 in January, running 5 a month
    dates = pd.date_range("2027-01-31", periods=4, freq="ME")
    return pd.DataFrame({"date": dates, "days": [31, 28, 31, 30], "financial_year": ["2026-27"] * 3 + ["2027-28"],
                         "baseline": 100.0, "today": 90.0, "plan": 80.0, "one_off": [50.0, 0, 0, 0], "running": 5.0,
                         "baseline_low": 90.0, "baseline_high": 120.0})


def test_business_case_hand_worked():
    months, years, s = finance.business_case(_monthly_hand_made())
    # gross 20 a month = 80; investment 55, 5, 5, 5 = 70; net -35, 15, 15, 15 -> cumulative -35, -20, -5, 10
    assert months["cumulative_net"].tolist() == pytest.approx([-35, -20, -5, 10])
    assert s["gross_saving"] == pytest.approx(80) and s["investment"] == pytest.approx(70) and s["net_saving"] == pytest.approx(10)
    assert s["break_even"] == pd.Timestamp("2027-04-30") and s["months_to_break_even"] == 4
    assert s["roi"] == pytest.approx(10 / 70)
    # baseline 100 is 10 above today's 90: 10 a month avoided growth, the other 10 cashable
    assert s["cashable"] == pytest.approx(40) and s["growth_avoidance"] == pytest.approx(40)
    y = years.set_index("financial_year")
    assert y.loc["2026-27", "months"] == 3 and y.loc["2026-27", "gross_saving"] == pytest.approx(60)
    assert y.loc["2026-27", "cumulative_net"] == pytest.approx(-5) and y.loc["2027-28", "cumulative_net"] == pytest.approx(10)
    # range: the plan cuts spend by 20%; low baseline 90 -> saving 18 a month, all cashable (no growth above today's 90);
    # high baseline 120 -> saving 24 a month, all avoided growth (120 - 90 = 30 >= 24)
    assert s["gross_saving_low"] == pytest.approx(72) and s["gross_saving_high"] == pytest.approx(96)
    assert s["cashable_low"] == pytest.approx(72) and s["growth_avoidance_low"] == pytest.approx(0)
    assert s["cashable_high"] == pytest.approx(0) and s["growth_avoidance_high"] == pytest.approx(96)


def test_cost_by_financial_year_includes_the_plans_investment():
    months, _, _ = finance.business_case(_monthly_hand_made())
    table = finance.cost_by_year(finance.WorkstreamMoney(years=pd.DataFrame(), cases=pd.DataFrame(), months={"Plan": months}))
    # baseline: 3 x 100 = 300 in 2026-27, 100 in 2027-28; plan: 3 x 80 + investment (55 + 5 + 5) = 305, then 80 + 5 = 85
    assert table.to_dict("list") == {"plan": ["Baseline", "Baseline", "Plan", "Plan"],
                                     "financial_year": ["2026-27", "2027-28", "2026-27", "2027-28"],
                                     "months": [3, 1, 3, 1], "cost": [300.0, 100.0, 305.0, 85.0]}


def test_placement_monthly_separates_investment_from_spend():
    dates = pd.DatetimeIndex(["2026-11-30", "2026-12-31"])
    base = pd.DataFrame({"date": np.repeat(dates, 2), "category": ["Fostering", "Home"] * 2, "provider_type": "External",
                         "cost": [300.0, 700.0, 310.0, 720.0]})
    scen = pd.concat([
        base.assign(cost=[300.0, 600.0, 300.0, 600.0]),
        pd.DataFrame({"date": dates, "category": "Scenario cost", "provider_type": "Parent-and-child", "cost": [-50.0, -50.0]}),
        pd.DataFrame({"date": dates, "category": "Scenario cost", "provider_type": "Set-up", "cost": [200.0, 0.0]}),
        pd.DataFrame({"date": dates, "category": "Scenario cost", "provider_type": "Running cost", "cost": [10.0, 10.0]}),
    ], ignore_index=True)
    fc_total = pd.DataFrame({"date": dates, "forecast": [100.0, 100.0], "lower": [90.0, 80.0], "upper": [110.0, 125.0]})
    m = finance.placement_monthly(base, scen, "2026-10-31", inflation=0.0, total_forecast=fc_total)
    # baseline 1,000 then 1,030; plan = 900 - 50 = 850 each month (set-up and running are investment, not spend)
    assert m["baseline"].tolist() == pytest.approx([1000, 1030])
    assert m["plan"].tolist() == pytest.approx([850, 850])
    assert m["one_off"].tolist() == [200, 0] and m["running"].tolist() == [10, 10]
    # today's run rate: 1,000 over November's 30 days = 33.33 a day; December's 31 days = 1,033.33
    assert m["today"].tolist() == pytest.approx([1000, 1000 * 31 / 30])
    # range: baseline x lower/forecast and upper/forecast
    assert m["baseline_low"].tolist() == pytest.approx([900, 824]) and m["baseline_high"].tolist() == pytest.approx([1100, 1287.5])
    assert m["financial_year"].tolist() == ["2026-27", "2026-27"]


# --- summary against budget ----------------------------------------------------------------

def _years(name, fys, months, gross):
    n = len(fys)
    return pd.DataFrame({"financial_year": fys, "months": months, "one_off": [0.0] * n, "running": [0.0] * n,
                         "investment": [0.0] * n, "gross_saving": gross, "net_saving": gross, "cumulative_net": np.cumsum(gross),
                         "cashable": gross, "growth_avoidance": [0.0] * n})


def test_budget_is_pro_rated_for_a_part_year_and_the_summary_adds_up():
    fys = ["2026-27", "2027-28", "2028-29"]
    a = finance.workstream_years("Locality staffing", _years("a", fys, [5, 12, 12], [100.0, 2_000.0, 3_000.0]),
                                 {"2026-27": 1_200.0, "2027-28": 2_400.0, "2028-29": 2_400.0})
    # 2026-27 covers 5 months: budget 1,200 x 5/12 = 500
    assert a["budgeted_saving"].tolist() == pytest.approx([500, 2_400, 2_400])
    assert a["difference"].tolist() == pytest.approx([-400, -400, 600])
    # a plan with running costs of 20 a year: the budget is compared with the net saving (gross - investment)
    b_years = _years("b", fys, [5, 12, 12], [50.0, 60.0, 70.0]).assign(running=20.0, investment=20.0)
    b_years["net_saving"] = b_years["gross_saving"] - 20.0
    b = finance.workstream_years("Edge of care", b_years, {"2027-28": 100.0})
    table = finance.savings_against_budget(pd.concat([a, b]), fys)
    t = table.set_index(["workstream", "measure"])
    assert t.loc[("All workstreams", "Modelled saving"), "2027-28"] == pytest.approx(2_040)          # 2,000 + (60 - 20)
    assert t.loc[("All workstreams", "Budgeted saving"), "All years"] == pytest.approx(5_400)        # 500 + 2,400 + 2,400 + 100
    assert t.loc[("Edge of care", "Difference"), "All years"] == pytest.approx(20)                   # (180 - 60) - 100
    check_adds_up(table, fys)


def test_headline_names_the_gaps():
    fys = ["2026-27"]
    a = finance.workstream_years("Locality staffing", _years("a", fys, [12], [250_000.0]), {"2026-27": 332_000.0})
    b = finance.workstream_years("Edge of care", _years("b", fys, [12], [500_000.0]), {"2026-27": 390_000.0})
    c = finance.workstream_years("Parent and child", _years("c", fys, [12], [0.0]), {"2026-27": 620_000.0})
    table = finance.savings_against_budget(pd.concat([a, b, c]), fys)
    text = finance.headline(table, "2026-27", 12)
    # supported = min(250,332) + min(500,390) + min(0,620) = 640,000 of 1,342,000 budgeted
    assert text.startswith("£640,000 of the £1.34m budgeted for 2026-27 is supported by the modelled plans")
    assert "the gap is in Parent and child (£620,000 short) and Locality staffing (£82,000 short)." in text
    assert "pro-rated" in finance.headline(table, "2026-27", 5)


def test_chart_builds_from_money_totals():
    fys = ["2026-27", "2027-28"]
    a = finance.workstream_years("Locality staffing", _years("a", fys, [12, 12], [1e6, 2e6]), {"2026-27": 1.5e6})
    spec = finance.savings_chart(a, fys).to_dict()
    assert len(spec["layer"]) == 2
    bars = next(v for v in spec["datasets"].values() if v and "workstream" in v[0])
    assert [round(b["saving_m"], 2) for b in bars] == [1.0, 2.0]                 # £ million of the net saving
    members = finance.for_members(pd.DataFrame({"w": ["A", "A", "B"], "x": [1e6, -2e6, 5.0]}), ["x"], group_col="w")
    assert members["w"].tolist() == ["A", "", "B"] and members["x"].tolist() == ["£1.00m", "\u2212\u2060£2.00m", "£5"]


# --- config ----------------------------------------------------------------------------

def test_demo_config_finance_parses():
    cfg = tomllib.loads((REPO / "configs" / "demo.toml").read_text(encoding="utf-8"))
    s = finance.settings_from_config(cfg)
    assert s.current_source and "llustrative" in s.current_source
    assert s.budgets["Locality staffing"] == {"2026-27": 332_000, "2027-28": 2_331_000, "2028-29": 2_883_000}
    assert set(s.roles) == set(finance.ROLES) and s.summary_years >= 3


def test_budget_incremental_basis_and_scenario_fallback():
    s = _settings(budgets={"A": {"2027-28": 200.0, "2026-27": 100.0}}, budget_basis="incremental", horizon_years=2.0)
    assert finance.budget_by_fy(s, "A") == {"2026-27": 100.0, "2027-28": 300.0}
    # a scenario not in [finance.budgets]: its budgeted_saving by year from the first financial year
    assert finance.budget_by_fy(s, "B", [620.0, 300.0], "2026-27") == {"2026-27": 620.0, "2027-28": 300.0}
    assert finance.budget_by_fy(s, "B", 10.0, "2026-27") == {"2026-27": 10.0, "2027-28": 10.0, "2028-29": 10.0}


def test_config_errors_name_the_key():
    cfg = tomllib.loads((REPO / "configs" / "demo.toml").read_text(encoding="utf-8"))
    cfg["finance"]["budgets"]["Locality staffing"] = {"2026/27": 1}
    with pytest.raises(finance.FinanceConfigError, match="2026/27"):
        finance.settings_from_config(cfg)
    cfg = tomllib.loads((REPO / "configs" / "demo.toml").read_text(encoding="utf-8"))
    del cfg["finance"]["current_establishment"]["source"]
    with pytest.raises(finance.FinanceConfigError, match="source"):
        finance.settings_from_config(cfg)
    with pytest.raises(finance.FinanceConfigError, match=r"\[finance\]"):
        finance.settings_from_config({})


def test_a_budget_for_no_workstream_is_refused():
    s = _settings(budgets={"Edge of care": {"2026-27": 1.0}, "Edge-of-care team": {"2026-27": 1.0}})
    finance.check_budget_names(_settings(budgets={"Locality staffing": {}}), ["Locality staffing", "Edge-of-care team"])
    with pytest.raises(finance.FinanceConfigError, match="Edge of care"):
        finance.check_budget_names(s, ["Locality staffing", "Edge-of-care team"])


def test_config_text_is_escaped_for_pages():
    assert finance.md_text("<b>Team_A</b> *x* [y](z)") == "&lt;b&gt;Team\\_A&lt;/b&gt; \\*x\\* \\[y\\](z)"
    fys = ["2026-27"]
    a = finance.workstream_years("<i>Edge</i>", _years("a", fys, [12], [0.0]), {"2026-27": 10_000.0})
    table = finance.savings_against_budget(a, fys)
    assert "&lt;i&gt;Edge&lt;/i&gt;" in finance.headline(table, "2026-27", 12, markdown=True)
    assert "<i>Edge</i>" in finance.headline(table, "2026-27", 12)          # plain text for summary.json
    row = finance.case_row("<i>Edge</i>", {"investment": 0.0, "gross_saving": 0.0, "net_saving": 0.0, "cashable": 0.0,
                                            "growth_avoidance": 0.0, "break_even": None, "roi": None})
    assert finance.case_sentence(row).startswith("**&lt;i&gt;Edge&lt;/i&gt;**")


def test_run_file_reads_this_run_or_the_latest_published_month(tmp_path):
    cfg = {"_root": tmp_path, "publish": {}}
    run_dir = tmp_path / "build" / "2026-10"
    (run_dir / "locality_sizing" / "tables").mkdir(parents=True)
    (run_dir / "locality_sizing" / "tables" / "x.csv").write_text("a\n1\n")
    # in a publishing run: the sibling report's folder of the same run
    got = finance.run_file(cfg, str(run_dir / "savings_summary"), "locality_sizing", "tables/x.csv")
    assert got == run_dir / "locality_sizing" / "tables" / "x.csv"
    assert finance.run_file(cfg, str(run_dir / "savings_summary"), "placement_sufficiency", "tables/x.csv") is None
    # interactive (no output_dir): the latest month under reports/
    for month in ("2026-09", "2026-10"):
        d = tmp_path / "reports" / month / "locality_sizing" / "tables"
        d.mkdir(parents=True)
        (d / "x.csv").write_text("a\n1\n")
    assert finance.run_file(cfg, "", "locality_sizing", "tables/x.csv") == tmp_path / "reports" / "2026-10" / "locality_sizing" / "tables" / "x.csv"


def test_names_read_back_from_a_published_csv_are_the_configs(tmp_path):
    # the CSV writer neutralises "=X" as "'=X"; reading it back with the config's names restores "=X"
    fys = ["2026-27"]
    y = finance.workstream_years("=HYPERLINK(1)", _years("a", fys, [12], [5.0]), {})
    path = tmp_path / "y.csv"
    y.assign(workstream="'" + y["workstream"]).to_csv(path, index=False)
    assert finance.read_years(path, ["=HYPERLINK(1)", "Other"])["workstream"].tolist() == ["=HYPERLINK(1)"]
    assert finance.read_years(path)["workstream"].tolist() == ["'=HYPERLINK(1)"]
