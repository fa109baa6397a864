"""Tests for helpers.placements.sufficiency: cost, capacity, gap and scenario arithmetic worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import codes
from helpers.placements import sufficiency as su
from helpers.placements.forecast import StockFlowModel

CATS = codes.PLACEMENT_CATEGORIES
COSTS = {c: {"in_house": 100, "external": 100} for c in CATS}
COSTS["Fostering: other carer"] = {"in_house": 450, "external": 950}
COSTS["Children's home"] = {"in_house": 3500, "external": 4000}
COSTS["Other residential"] = {"in_house": 2500, "external": 5000}
START = pd.Timestamp("2025-03-31")


def model(stock: dict[str, float], bands=("All",), entries=None, exits=None):
    """A model with no moves: ``stock`` by category in the first band; ``entries``: {(band, cat): per day}."""
    S = len(bands) * len(CATS)
    x = np.zeros(S)
    for cat, n in stock.items():
        x[CATS.index(cat)] = n
    ent = np.zeros(S)
    for (b, cat), lam in (entries or {}).items():
        ent[bands.index(b) * len(CATS) + CATS.index(cat)] = lam * 100   # counts over a 100-day window
    return StockFlowModel(bands=tuple(bands), categories=CATS, start=START, stock=x,
                          transition_counts=np.zeros((S, S)), exit_counts=np.zeros(S),
                          entry_counts=ent, exposure_days=np.full(S, 1000.0), window_days=100)


def inputs(capacity, share=0.0, inflation=0.0, horizon=2):
    return su.SufficiencyInputs(costs=su.unit_costs(COSTS), capacity=capacity,
                                share_in_house=pd.Series(share, index=list(CATS)), inflation=inflation,
                                horizon_years=horizon)


NO_CAPACITY = su.Capacity(foster_households=0, beds_per_household=1, foster_utilisation=1, home_beds=0,
                          home_utilisation=1, recruitment_lag_months=0)


def test_unit_costs_need_every_category():
    bad = dict(COSTS)
    del bad["Other"]
    with pytest.raises(su.SufficiencyConfigError, match="Other"):
        su.unit_costs(bad)


def test_spend_now_by_hand():
    snap = pd.DataFrame({"category": ["Fostering: other carer", "Fostering: other carer", "Children's home"],
                         "in_house": [True, False, False]})
    out = su.spend_now(snap, su.unit_costs(COSTS))
    # weekly: 450 (in-house foster) + 950 (IFA) + 4000 (external home) = 5,400
    # annual: 5,400 x 365.25 / 7 = 281,764.29
    assert out["weekly_cost"].sum() == 5400
    assert out["annual_cost"].sum() == pytest.approx(281_764.29, abs=0.01)
    assert out["children"].sum() == 3


def test_capacity_from_table_measures_ratios_and_trend():
    months = pd.period_range("2024-03", "2025-03", freq="M").astype(str)
    cap = pd.DataFrame({"month": months, "foster_households": np.linspace(88, 100, 13),
                        "foster_beds": 150, "foster_beds_occupied": 120, "home_beds": 10, "home_beds_occupied": 9})
    c = su.capacity_from_table(cap, {"recruitment_lag_months": 3})
    # last month: 150 beds / 100 households = 1.5; 120/150 = 0.8; homes 9/10 = 0.9; +12 households in 12 months
    assert (c.beds_per_household, c.foster_utilisation, c.home_utilisation) == (1.5, 0.8, 0.9)
    assert c.net_recruitment_per_year == pytest.approx(12)
    assert c.recruitment_lag_months == 3


def test_inhouse_places_and_gap_by_hand():
    cap = su.Capacity(foster_households=100, beds_per_household=1.5, foster_utilisation=0.8, home_beds=10,
                      home_utilisation=0.9, net_recruitment_per_year=12, recruitment_lag_months=6)
    p = su.inhouse_places(cap, np.array([3.0, 18.0]), extra_households_per_year=6)
    # t=3: still inside the 6-month lag: 100 households -> 100 x 1.5 x 0.8 = 120 places
    # t=18: 12 months past the lag: 100 + (12 + 6) x 1 = 118 households -> 118 x 1.2 = 141.6
    assert p["foster_households"].tolist() == pytest.approx([100, 118])
    assert p["foster_places"].tolist() == pytest.approx([120, 141.6])
    assert p["home_places"].tolist() == pytest.approx([9, 9])
    need = pd.DataFrame({"date": [START + pd.Timedelta(days=91)], "Fostering: other carer": [130.0], "Children's home": [7.0]})
    g = su.sufficiency_gap(need, cap, START).iloc[0]
    # 91 days = 2.99 months (< lag): 120 in-house places, need 130 -> 10 external; homes 7 <= 9 -> 0 external
    assert (g["inhouse_fostering"], g["external_fostering"]) == pytest.approx((120, 10))
    assert (g["inhouse_residential"], g["external_residential"]) == pytest.approx((7, 0))


def test_projected_cost_and_inflation_by_hand():
    m = model({"Fostering: other carer": 10})
    cost = su.cost_of(m, inputs(NO_CAPACITY, horizon=1))
    april = cost[(cost["date"] == "2025-04-30") & (cost["category"] == "Fostering: other carer")]
    # 10 IFA children x £950 x 30 days / 7 = £40,714.29
    assert april["cost"].sum() == pytest.approx(40_714.29, abs=0.01)
    # year 1 = 365 days: 10 x 950 x 365/7 = £495,357.14
    assert su.annual_totals(cost)[1] == pytest.approx(495_357.14, abs=0.01)
    inflated = su.cost_of(m, inputs(NO_CAPACITY, inflation=0.1, horizon=1))
    last = inflated[(inflated["date"] == "2026-03-31") & (inflated["category"] == "Fostering: other carer")]["cost"].sum()
    flat = cost[(cost["date"] == "2026-03-31") & (cost["category"] == "Fostering: other carer")]["cost"].sum()
    assert last / flat == pytest.approx(1.1 ** (365 / 365.25))   # uplift after 365 days


def test_parent_and_child_scenario_by_hand():
    m = model({"Other residential": 5})
    sc = su.Scenario("P&C", "parent_and_child", {"places": 2, "setup_cost": 300_000}, budgeted_saving=[620_000, 300_000])
    annual, savings = su.compare_scenarios(m, inputs(NO_CAPACITY, horizon=2), [sc])
    s = savings.iloc[0]
    # each year (365 days): 2 places x (5,000 - 2,500) x 365/7 = 260,714.29; year 1 less 300,000 set-up
    assert s["saving_year_1"] == pytest.approx(-39_285.71, abs=0.01)
    assert s["saving_year_2"] == pytest.approx(260_714.29, abs=0.01)
    assert s["budgeted_total"] == 920_000
    assert s["difference"] == pytest.approx(221_428.57 - 920_000, abs=0.01)
    assert not s["meets_budget"]


def test_recruitment_scenario_first_month_by_hand():
    m = model({"Fostering: other carer": 200})
    cap = su.Capacity(foster_households=100, beds_per_household=1, foster_utilisation=1, home_beds=0,
                      home_utilisation=1, net_recruitment_per_year=0, recruitment_lag_months=0)
    sc = su.Scenario("Recruit", "recruit_foster_households", {"extra_households_per_year": 12}, running_cost_per_year=36_525)
    base = su.cost_of(m, inputs(cap))
    scen = su.cost_of(m, inputs(cap), sc)
    d = pd.Timestamp("2025-04-30")
    diff = base[base["date"] == d]["cost"].sum() - scen[scen["date"] == d]["cost"].sum()
    # 30 days = 30 / 30.4375 = 0.98563 months -> 0.98563 extra households (12 a year) move a child from
    # IFA (£950) to in-house (£450): 0.98563 x 500 x 30/7 = 2,112.06; less running cost 36,525 x 30/365.25 = 3,000
    assert diff == pytest.approx(2_112.06 - 3_000, abs=0.01)


def test_edge_of_care_cuts_adolescent_entries():
    bands = ("1 to 4", "10 to 15")
    m = model({}, bands=bands, entries={("1 to 4", "Fostering: other carer"): 1.0, ("10 to 15", "Fostering: other carer"): 1.0})
    sc = su.Scenario("Edge", "edge_of_care", {"entry_reduction": 0.5, "age_bands": ["10 to 15"]}, budgeted_saving=390_000)
    annual, savings = su.compare_scenarios(m, inputs(NO_CAPACITY, horizon=2), [sc])
    base = annual[annual["scenario"] == "Baseline"].set_index("year")["cost"]
    # no exits: children = (entries per day) x days; halving half the entries leaves 1.5/2 = 75% of the
    # children, so the saving is exactly a quarter of the baseline cost each year
    assert savings.iloc[0]["saving_year_1"] == pytest.approx(0.25 * base[1])
    assert savings.iloc[0]["saving_year_2"] == pytest.approx(0.25 * base[2])
    assert savings.iloc[0]["budgeted_total"] == 780_000


def test_step_down_moves_half_in_a_year():
    m = model({"Children's home": 100})
    sc = su.Scenario("Step", "step_down", {"annual_proportion": 0.5})
    scen = su.cost_of(m, inputs(NO_CAPACITY, horizon=1), sc)
    end = scen[scen["date"] == "2026-03-31"].groupby("category")["children"].sum()
    # daily rate ln2/365.25 for 365 days: 100 x (1 - ln2/365.25)^365 = 49.98 stay (about half)
    assert end["Children's home"] == pytest.approx(100 * (1 - np.log(2) / 365.25) ** 365)
    assert end["Children's home"] == pytest.approx(50, abs=0.1)
    assert end["Fostering: other carer"] == pytest.approx(100 - end["Children's home"])


def test_budget_by_year():
    assert su.budget_by_year(390_000, 3).tolist() == [390_000] * 3
    assert su.budget_by_year([620_000, 300_000], 5).tolist() == [620_000, 300_000, 0, 0, 0]
