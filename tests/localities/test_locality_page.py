"""The locality report's text templates and tables (helpers.localities.page) on hand-made data.

Every expected value is worked out by hand in the comments. The sections that need a whole
sizing (maps, sweep, assignment) run on the demo council in tests/notebooks/test_report_pages.py.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from helpers.localities import model as locality
from helpers.localities import page


def test_say_count_and_last_march():
    assert page.say_count(1234, 5) == "1,234" and page.say_count(0, 5) == "0"
    assert page.say_count(5, 5) == "fewer than 6" and page.say_count(6, 5) == "6"
    # the latest 31 March on or before the date
    assert page.last_march(pd.Timestamp("2026-10-31")) == pd.Timestamp("2026-03-31")
    assert page.last_march(pd.Timestamp("2026-03-31")) == pd.Timestamp("2026-03-31")
    assert page.last_march(pd.Timestamp("2026-03-30")) == pd.Timestamp("2025-03-31")
    assert page.last_march(pd.Timestamp("2026-01-15")) == pd.Timestamp("2025-03-31")


def test_links_and_districts_texts():
    links = pd.DataFrame({"reason": ["island or corner-only join", "ward in pieces", "ward in pieces"]})
    text = page.links_text(links)
    assert " 1 neighbourhoods touch the rest of the council only at a corner point" in text
    assert " 2 wards have neighbourhoods (LSOAs) that do not touch the rest of the ward" in text
    assert text.endswith(" The links are listed in the table of explicit links.")
    assert page.links_text(pd.DataFrame({"reason": []})) == ""
    assert page.districts_text(True, 1, True, {}, None) == (
        " The council is a single district, so keeping districts whole changes nothing.")
    assert page.districts_text(True, 2, True, {"North <A>": 3, "South": 2}, None) == (
        " Existing districts are kept whole: each locality lies inside one of the 2 districts "
        "(North &lt;A&gt;: 3, South: 2 localities).")
    assert page.districts_text(True, 2, False, {}, "Not possible.") == " Not possible."
    assert page.districts_text(True, 2, False, {}, None).startswith(" Keeping districts whole was asked for")
    assert page.districts_text(False, 2, False, {}, None) == ""


def test_posts_by_role_text_by_hand():
    # two localities; locality 2 has no team manager post of its own and shares locality 1's
    rows = []
    for role in locality.ROLES:
        rows += [{"locality": 1, "role": role, "fte": 1.5, "posts": 2},
                 {"locality": 2, "role": role, "fte": 0.25, "posts": 0 if role == "team_managers" else 1},
                 {"locality": "Council total", "role": role, "fte": 1.75, "posts": 2}]
    est = pd.DataFrame(rows)
    posts = pd.Series({f"posts_{r}": 2 for r in locality.ROLES})
    sharing = pd.DataFrame({"role": ["team_managers"], "locality": [2], "shared_with": [1]})
    names = {1: "North", 2: "South & <East>"}
    assert page.shared_posts_text(sharing, "team_managers", names) == "South &amp; &lt;East&gt; shares with North"
    assert page.shared_posts_text(sharing, "social_workers", names) == ""
    text = page.posts_by_role_text(est, posts, sharing, names)
    # FTE per role: 1.5 + 0.25 = 1.75 (the council-total rows are left out)
    assert "- Social workers: 1.8 FTE, 2 posts\n" in text
    assert text.endswith("- Team managers: 1.8 FTE, 2 posts (no post of its own: South &amp; &lt;East&gt; "
                         "shares with North)")
    unknown = sharing.assign(shared_with=[99])
    assert "shares with a neighbouring locality" in page.shared_posts_text(unknown, "team_managers", names)


def test_localities_safe_rounds_and_suppresses():
    table = pd.DataFrame({"locality": [1, 2], "locality_name": ["A", "B"], "n_wards": [3, 2],
                          "children_0_17": [1200.4, 3.2], "idaci_percentile": [55.555, 40.0],
                          "projected_cases": [80.6, 40.2], "workload_index": [1.333, 0.667],
                          **{c: [2.0, 1.0] for c in locality.FTE_ROLES}, "fte_total": [8.0, 4.0],
                          "posts_social_workers": [2, 1], "posts_family_support_workers": [2, 1],
                          "posts_senior_practitioners": [1, 1], "posts_team_managers": [1, 0],
                          "polsby_popper": [0.4567, 0.3]})
    safe = page.localities_safe(table, threshold=5)
    # 3 children (rounded from 3.2) is small: hidden, and another cell with it so the total does not tell
    assert pd.isna(safe.loc[1, "children_0_17"]) and pd.isna(safe.loc[0, "children_0_17"])
    assert safe.loc[0, "projected_cases"] == 81 and safe.loc[0, "idaci_percentile"] == 55.56
    assert safe.loc[0, "polsby_popper"] == 0.46


def test_demand_model_text_by_hand():
    model = SimpleNamespace(family="negbin", params={"idaci_percentile": 0.02}, alpha=0.5)
    text = page.demand_model_text(model, "open_cases", 5, 0.02)
    # exp(10 x 0.02) = exp(0.2) = 1.2214 -> 1.22; 1 / alpha = 2.0; growth 2%
    assert "a negative binomial\nregression" in text and "(over 5 years)" in text
    assert "**1.22**" in text and "(expected + 2.0)" in text and "at 2% a year" in text
    poisson = page.demand_model_text(SimpleNamespace(family="poisson", params={"idaci_percentile": 0.0},
                                                     alpha=0.0), "open_cases", 5, 0.0)
    assert "a Poisson" in poisson and "(expected + inf)" in poisson and "**1.00**" in poisson


def test_observed_vs_modelled_by_hand():
    model_table = pd.DataFrame({"ward_code": ["W1", "W2", "W3"], "observed_total": [50.4, 3.0, 30.0],
                                "expected": [45.0, 6.0, 28.0], "shrunk": [48.0, 5.0, 29.0], "n_years": [5, 5, 5]})
    wards = pd.DataFrame({"ward_code": ["W1", "W2", "W3"], "ward_name": ["North", "South", "East"]})
    out = page.observed_vs_modelled(model_table, wards, threshold=5).set_index("ward_name")
    # North: 50 over 5 years = 10 a year; South's 3 is small: hidden, no dot height; East (the
    # smallest other ward) hidden with it so the total does not give South's count away
    assert out.loc["North", "observed"] == 10.0
    assert pd.isna(out.loc["South", "observed_total"]) and pd.isna(out.loc["South", "observed"])
    assert pd.isna(out.loc["East", "observed"]) and out.loc["East", "expected"] == 28.0


def test_placement_text_by_hand():
    placement = {"total": 500, "address extract": 480, "903 home postcode": 12, "not placed": 8,
                 "not placed by reason": {"no address": 8}}
    text = page.placement_text(placement, 2026, True, threshold=5)
    assert text.startswith("Of 500 open cases at 31 March 2026, 480 were placed in a ward")
    assert "12 (looked-after children with no address" in text and "; 8 could not be placed" in text
    small = dict(placement, **{"not placed": 3, "not placed by reason": {}})
    text = page.placement_text(small, 2026, False, threshold=5)
    assert "fewer than 6 could not be placed" in text and "(no postcode directory is configured" in text


def test_money_texts_and_table_by_hand():
    comp = pd.DataFrame({"role": ["all"], "role_label": ["All roles"], "current_posts": [100.0],
                         "current_agency_share": [0.25], "current_annual_cost": [5_000_000.0],
                         "proposed_fte": [110.04], "proposed_posts": [112.0],
                         "proposed_annual_cost_now": [6_000_000.0], "proposed_agency_share": [0.1],
                         "proposed_annual_cost_converted": [5_500_000.0]})
    shown = page.comparison_for_members(comp)
    assert shown.columns.tolist() == list(page.COMPARISON_LABELS.values())
    assert shown["Agency today"].iloc[0] == "25%" and shown["Proposed FTE"].iloc[0] == 110.0
    assert shown["Cost a year today"].iloc[0] == "£5.00m"
    years = pd.DataFrame({"financial_year": ["2026-27", "2027-28"], "months": [5, 12],
                          "net_saving": [100_000.0, 400_000.0], "budgeted_saving": [150_000.0, 300_000.0]})
    case = pd.Series({"workstream": "Locality model", "investment": 0.0, "gross_saving": 500_000.0,
                      "net_saving": 500_000.0, "cashable": 500_000.0, "growth_avoidance": 0.0,
                      "gross_saving_low": None, "gross_saving_high": None, "break_even": None, "roi": None})
    text = page.establishment_cost_text(comp.set_index("role").loc["all"], years, case, "HR, 2026")
    assert text.startswith("**The proposed establishment of 112 posts would cost about £6.00m a year")
    assert "(25% agency today, 10% after conversion)" in text and "costs £5.00m a year (HR, 2026)" in text
    assert "- 2026-27 (5 months): net saving £100,000 against £150,000 budgeted" in text
    assert "- 2027-28: net saving £400,000 against £300,000 budgeted" in text


def test_checks_table_by_hand():
    f = SimpleNamespace(sizing=SimpleNamespace(balance={"ratio_max_min": 1.2, "cv": 0.05},
                                               contiguity=pd.DataFrame({"contiguous": [True, True, False]})),
                        baseline_balance={"ratio_max_min": 2.0, "cv": 0.3}, baseline_contiguous=1,
                        compact=pd.DataFrame({"polsby_popper": [0.2, 0.4, 0.6]}),
                        baseline_compact=pd.DataFrame({"polsby_popper": [0.1, 0.2, 0.3]}))
    checks = page.checks_table(f).set_index("grouping")
    assert checks.loc["Proposed localities", "localities_in_one_piece"] == 2     # two of three
    assert checks.loc["Proposed localities", "mean_compactness"] == pytest.approx(0.4)
    assert checks.loc["Baseline: equal-workload strips", "largest_to_smallest"] == 2.0
    assert checks.loc["Baseline: equal-workload strips", "mean_compactness"] == pytest.approx(0.2)


def test_settings_from_parameters_and_config(tmp_path, demo_config):
    # the demo config with its data paths pointed at the session's generated demo (a fresh clone has no data/)
    f = page.settings(demo_config, n_localities=7, building_block="ward",
                      sw_caseload=12.0, seed=3)
    assert (f.n_localities, f.building_block, f.seed, f.staffing["sw_caseload"]) == (7, "ward", 3, 12.0)
    # the config's values when the parameters are left at their defaults
    g = page.settings(demo_config)
    opts = g.cfg["locality"]
    assert g.n_localities == int(opts.get("n_localities", 21))
    assert g.seed == int(opts.get("seed", 0)) and g.building_block == opts.get("building_block", "auto")
    assert g.growth["growth_rate"] == float(opts.get("growth_rate", 0.0))
    assert not math.isnan(g.target_ratio)


def test_dates_only_keeps_what_the_headline_counts():
    from helpers.readers import between_returns as br
    from helpers.readers.cin_census import CINCensus
    from helpers.readers.ledger import Ledger

    # hand-made: 3 CIN referrals (2025-06-01, 2025-12-01, 2026-02-01, all in 2025-26) and 2 List 3
    # referrals after the census (2026-04-03, 2026-05-10); the 12 months to October 2026
    # (November 2025 on) hold 2025-12-01, 2026-02-01 and the two List 3 ones = 4; the same
    # months a year earlier (November 2024 to October 2025) hold 2025-06-01 = 1
    refs = pd.DataFrame({"referral_id": ["A|1", "B|1", "C|1"], "child_id": ["A", "B", "C"],
                         "referral_date": pd.to_datetime(["2025-06-01", "2025-12-01", "2026-02-01"]),
                         "referral_nfa": [False, True, False], "collection_year": [2026, 2026, 2026]})
    cp = pd.DataFrame({"child_id": ["A"], "cpp_start": pd.to_datetime(["2025-07-01"])})
    led = Ledger()
    led.add_read("cin.xml", 3)
    cin = CINCensus(children=pd.DataFrame(), referrals=refs, assessments=pd.DataFrame(), cin_plans=pd.DataFrame(),
                    section47=pd.DataFrame(), cp_plans=cp, ledger=led)
    slim = page.dates_only(cin)
    assert list(slim.referrals.columns) == ["referral_date", "collection_year"] and len(slim.referrals) == 3
    assert len(slim.cp_plans) == 0 and list(slim.cp_plans.columns) == ["child_id", "cpp_start"]
    assert slim.ledger is led
    l3 = pd.DataFrame({"child_id": ["D", "A"], "referral_date": pd.to_datetime(["2026-04-03", "2026-05-10"]),
                       "referral_nfa": ["No", "No"]})
    window = br.latest_twelve_months("2026-10-31")
    counts = []
    for c in (cin, slim):
        combined, cov = br.extend_referrals(c.referrals, l3, br.statutory_end(c.referrals, "2026-10-31"), "2026-10-31")
        counts.append(br.referrals_twelve_months(combined, window, 2026))
    assert counts[0] == counts[1] == {"referrals": 4, "referrals_prev": 1, "referrals_statutory": 3}
