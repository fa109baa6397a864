"""Figures between statutory returns: the latest-twelve-months window, List 3 referrals after the
latest CIN census, List 3's counts reconciled, team caseloads and the List 8 snapshot. Expected
values are worked out by hand in each test; the demo test compares Annex A against the full CIN."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers.readers import annex_a, between_returns as br, cin_census
from helpers.rereferrals import measure as rr


@pytest.mark.parametrize("as_at, expected", [
    ("2026-10-31", ("2025-11-01", "2026-10-31", "2024-11-01", "2025-10-31")),
    ("2026-10-15", ("2025-10-16", "2026-10-15", "2024-10-16", "2025-10-15")),
    ("2024-02-29", ("2023-03-01", "2024-02-29", "2022-03-01", "2023-02-28")),
    ("2026-03-31", ("2025-04-01", "2026-03-31", "2024-04-01", "2025-03-31")),
])
def test_latest_twelve_months(as_at, expected):
    w = br.latest_twelve_months(as_at)
    assert (w.start, w.end, w.prev_start, w.prev_end) == tuple(pd.Timestamp(x) for x in expected)


def test_window_labels():
    assert br.latest_twelve_months("2026-10-31").label == "the 12 months to October 2026"
    assert br.latest_twelve_months("2026-10-31").short == "Nov 2025 to Oct 2026"
    assert br.latest_twelve_months("2026-10-15").label == "the 12 months to 15 October 2026"


def _referrals(rows):
    df = pd.DataFrame(rows, columns=["child_id", "referral_date", "collection_year"])
    df["referral_date"] = pd.to_datetime(df["referral_date"])
    df["referral_id"] = df["child_id"] + "|" + df["referral_date"].dt.strftime("%Y-%m-%d")
    df["closure_date"] = pd.NaT
    df["closure_reason"] = None
    df["referral_nfa"] = False
    df["has_cin_plan"] = False
    df["has_cp_plan"] = False
    return df


def _list3(rows):
    df = pd.DataFrame(rows, columns=["child_id", "referral_date", "referral_nfa", "referrals_12m"])
    df["referral_date"] = pd.to_datetime(df["referral_date"])
    df["referrals_12m"] = df["referrals_12m"].astype("Int64")
    return df


def test_statutory_end():
    refs = _referrals([("A", "2025-06-01", 2026), ("B", "2026-02-01", 2026)])
    assert br.statutory_end(refs, "2026-10-31") == pd.Timestamp("2026-03-31")
    assert br.statutory_end(refs, "2026-02-15") == pd.Timestamp("2026-02-15")


def test_extend_and_reconcile():
    # CIN to 31 March 2026: A referred June 2025; List 3 from 1 April: A again in May 2026 (a
    # re-referral: within 12 months of June 2025), B in July 2026 (first), A in Nov 2026 (after the run date).
    refs = _referrals([("A", "2025-06-01", 2026)])
    # C on 3 April: List 3 starts within a week of the census end, so April is covered.
    l3 = _list3([("C", "2026-04-03", "No", 1), ("A", "2026-05-10", "No", 2), ("B", "2026-07-01", "Yes", 2),
                 ("A", "2026-11-02", "No", 3)])
    combined, cov = br.extend_referrals(refs, l3, "2026-03-31", "2026-10-31")
    assert cov.extended and cov.added == 3 and cov.data_end == pd.Timestamp("2026-10-31")
    assert list(combined["child_id"]) == ["A", "C", "A", "B"]
    assert list(combined["referral_nfa"]) == [False, False, False, True]
    assert (combined["source_file"].iloc[1:] == br.LIST3_SOURCE).all() if "source_file" in combined else True
    flags = rr.flag_definition(combined, rr.DFE)
    assert list(flags["is_rereferral"]) == [False, False, True, False]
    rec = br.reconcile_list3_counts(flags, l3).iloc[0]
    # C: 1 = 1 and A May: 2 = 2 (agree); B: list 2 > ours 1 (list higher); A Nov: not in our data
    assert (rec["compared"], rec["agree"], rec["list_higher"], rec["list_lower"], rec["not_compared"]) == (3, 2, 1, 0, 1)


def test_extend_gap_adds_nothing():
    refs = _referrals([("A", "2025-06-01", 2026)])
    l3 = _list3([("A", "2026-05-10", "No", 2)])       # List 3 starts 10 May: April is not covered
    combined, cov = br.extend_referrals(refs, l3, "2026-03-31", "2026-10-31")
    assert cov.gap and not cov.extended and cov.data_end == pd.Timestamp("2026-03-31") and len(combined) == 1


def test_team_caseloads_suppress_small_teams():
    cin = pd.DataFrame({"child_id": [f"c{i}" for i in range(20)], "allocated_team": ["North"] * 12 + ["South"] * 6 + ["Tiny"] * 2})
    cp = pd.DataFrame({"child_id": ["c0", "c1", "c2", "c3", "c4", "c5", "c12", "c13", "c14", "c15", "c16", "c17"],
                       "allocated_team": ["North"] * 6 + ["South"] * 6})
    cla = pd.DataFrame({"child_id": ["x1"], "allocated_team": ["Care"]})
    t = br.team_caseloads(cin, cp, cla, threshold=5).set_index("team")
    assert t.loc["North", "children_in_need"] == 12 and t.loc["North", "child_protection"] == 6
    assert t.loc["South", "child_protection"] == 6
    assert pd.isna(t.loc["Tiny", "children"]) and pd.isna(t.loc["Care", "looked_after"])   # 2 and 1: suppressed
    # Tiny's 2 alone hidden would be 20 - 12 - 6. Secondary suppression hides a second cell of the column, taken
    # first from a row that already has a hidden count (helpers.publishing.disclosure): Care's 0, so South's 6 stays visible and
    # the column only tells Tiny + Care = 2 (0+2, 1+1 or 2+0)
    assert pd.isna(t.loc["Care", "children_in_need"]) and t.loc["South", "children_in_need"] == 6
    assert t.loc["All teams", "children_in_need"] == 20
    assert t.loc["All teams", "children"] == 21 and t.loc["All teams", "child_protection"] == 12
    assert pd.isna(t.loc["All teams", "looked_after"])        # a total of 1 is itself a small count


def test_list8_snapshot():
    cla = pd.DataFrame({"child_id": list("abcdefgh"), "placement_type": ["Foster placement"] * 6 + ["Children's homes"] * 2,
                        "placement_provider": ["Own LA"] * 8, "placement_location": ["In"] * 8,
                        "placements_12m": pd.array([1, 1, 1, 3, 4, 1, 1, 2], dtype="Int64")})
    s = br.list8_snapshot(cla, threshold=5)
    assert s["total"] == 8 and s["moved_3_plus"] == 2
    t = s["by_type"].set_index("group")["children"]
    assert pd.isna(t["Children's homes"]) and pd.isna(t["Foster placement"])    # 2 hidden, so 6 hidden too (total 8 is shown)


@pytest.fixture(scope="module")
def demo_without_2027(demo_dir):
    as_at = pd.Timestamp(json.loads((demo_dir / "council.json").read_text())["as_at"])
    files = sorted((demo_dir / "cin").glob("*.xml"))
    full = cin_census.read_cin_census(files)
    part = cin_census.read_cin_census([f for f in files if "2027" not in f.name])
    annex = annex_a.read_annex_a(demo_dir / "annex_a", as_at=as_at)
    return as_at, full, part, annex


def test_demo_rereferrals_from_annex_a_equal_full_cin(demo_without_2027):
    """With the 2026-27 CIN census removed, CIN to March 2026 + List 3 give the same monthly and
    rolling re-referral figures to October 2026 as the full CIN data."""
    as_at, full, part, annex = demo_without_2027
    cin_end = br.statutory_end(part.referrals, as_at)
    assert cin_end == pd.Timestamp("2026-03-31")
    combined, cov = br.extend_referrals(part.referrals, annex.referrals, cin_end, as_at, annex.as_at)
    assert cov.extended and cov.data_end == as_at
    data_start = rr.collection_year_bounds(int(full.referrals["collection_year"].min()))[0]
    f_full = rr.flag_definition(full.referrals[full.referrals["referral_date"] <= as_at], rr.DFE)
    f_ext = rr.flag_definition(combined, rr.DFE)
    r_full = rr.rolling_rate(f_full, data_start=data_start, data_end=as_at)
    r_ext = rr.rolling_rate(f_ext, data_start=data_start, data_end=cov.data_end)
    cols = ["month", "referrals", "rereferrals", "referrals_rolling", "rereferrals_rolling", "rate", "complete"]
    pd.testing.assert_frame_equal(r_full[cols], r_ext[cols])
    assert r_ext["month"].iloc[-1] == pd.Timestamp("2026-10-01") and r_ext["complete"].iloc[-1]
    w = br.latest_twelve_months(as_at)
    a = rr.rereferral_rates(f_full, w.start, w.end).iloc[0]
    b = rr.rereferral_rates(f_ext, w.start, w.end).iloc[0]
    assert (a["referrals"], a["rereferrals"]) == (b["referrals"], b["rereferrals"]) and a["referrals"] > 4000
    rec = br.reconcile_list3_counts(f_ext, annex.referrals).iloc[0]
    assert rec["compared"] == len(annex.referrals) and 0 < rec["list_higher"] + rec["list_lower"] < 0.1 * rec["compared"]


def test_rereferral_headline_text():
    # hand-made: latest 12 months 25 of 100 (25.0%); a year earlier 20 of 100 (20.0%)
    rates = pd.DataFrame({"which": ["latest", "year earlier"], "referrals": [100, 100], "rereferrals": [25, 20],
                          "rereferral_rate": [0.25, 0.20], "lookback_complete": [True, True]})
    w = br.latest_twelve_months("2026-10-31")
    cov = br.Coverage(pd.Timestamp("2026-03-31"), pd.Timestamp("2026-04-01"), pd.Timestamp("2026-10-31"),
                      pd.Timestamp("2026-10-31"), 10, False)
    text = br.rereferral_headline(rates, w, 5, coverage=cov, run_end="2026-10-31")
    assert text.startswith("**In the 12 months to October 2026, 25.0% of referrals were re-referrals** (25 of 100), "
                           "against 20.0% in the same months a year earlier (the 12 months to October 2025).")
    assert "statutory" not in text   # the statutory year's rate follows once, in the page's next paragraph
    assert "Referrals after 31 March 2026 come from the council's Ofsted Annex A list of referrals (List 3)" in text
    small = rates.assign(rereferrals=[3, 20])
    assert "(c of 100)" in br.rereferral_headline(small, w, 5)
    short = br.Coverage(pd.Timestamp("2026-03-31"), None, None, pd.Timestamp("2026-03-31"), 0, False)
    assert "The data reach only March 2026" in br.rereferral_headline(rates, br.latest_twelve_months("2026-03-31"), 5,
                                                                       coverage=short, run_end="2026-10-31")


def test_placements_headline_text():
    # hand-made figures; 3 exits a year earlier is small and is not quoted
    fig = {"entries": 120, "exits": 110, "entries_prev": 100, "exits_prev": 3, "cla_end": 496, "cla_prev_end": 480,
           "cla_statutory": 490, "pct_three_or_more": 9.6, "pct_three_or_more_statutory": 10.2}
    text = br.placements_headline(fig, br.latest_twelve_months("2026-10-31"), 5, statutory_end="2026-03-31",
                                  england={"pct_three_or_more_placements": 10.0, "year": 2025})
    assert text.startswith("**In the 12 months to October 2026, 120 children started to be looked after and 110 left care** "
                           "(100 and c in the same months a year earlier).")
    assert "On 31 October 2026 the council looked after **496 children**, against 480 a year earlier and 490 on 31 March 2026" in text
    assert "10% of them" in text and "England: 10% in 2024-25." in text


def test_cla_twelve_months_by_hand():
    # A: in care 1 Jan 2025 - 10 Feb 2026 (one placement); B: from 5 May 2026, moved 3 times since;
    # window Nov 2025 - Oct 2026: entries B (1), exits A (1); a year earlier: entries A (1)? no: A started Jan 2025 (in
    # Nov 2024 - Oct 2025) -> 1 entry, 0 exits. Looked after 31 Oct 2026: B; 31 Oct 2025: A; 31 Mar 2026: none.
    from helpers.placements import where as placements
    rows = [("A", "2025-01-01", "S", "U4", "2026-02-10", "E13"), ("B", "2026-05-05", "S", "U4", "2026-06-01", "X1"),
            ("B", "2026-06-01", "P", "U6", "2026-08-01", "X1"), ("B", "2026-08-01", "P", "K2", None, None)]
    ep = pd.DataFrame([{"child_id": c, "decom": pd.Timestamp(d0), "rne": r, "ls": "C2", "cin": "N1", "place": p,
                        "place_provider": "PR1", "dec": pd.Timestamp(d1) if d1 else pd.NaT, "rec": rec,
                        "reason_place_change": None, "home_post": None, "pl_post": None, "urn": None,
                        "collection_year": 2027, "source_file": "x"} for c, d0, r, p, d1, rec in rows])
    ep = placements.categorise_placements(ep)
    header = pd.DataFrame({"child_id": ["A", "B"], "sex": ["1", "2"], "birth_month": pd.to_datetime(["2010-01-01", "2012-05-01"]),
                           "ethnicity": ["WBRI", "WBRI"], "collection_year": [2027, 2027]})
    uasc = pd.DataFrame({"child_id": pd.Series(dtype=object), "duc": pd.Series(dtype="datetime64[ns]")})
    f = br.cla_twelve_months(ep, header, uasc, br.latest_twelve_months("2026-10-31"), "2026-03-31")
    assert (f["entries"], f["exits"], f["entries_prev"], f["exits_prev"]) == (1, 1, 1, 0)
    assert (f["cla_end"], f["cla_prev_end"], f["cla_statutory"]) == (1, 1, 0)
    assert f["pct_three_or_more"] == 100.0     # B: three placements in the year, the one child looked after


def test_referrals_twelve_months_and_locality_headline():
    refs = _referrals([("A", "2024-12-01", 2025), ("B", "2025-05-01", 2026), ("C", "2025-12-01", 2026),
                       ("D", "2026-05-01", 2027), ("E", "2026-10-31", 2027)])
    w = br.latest_twelve_months("2026-10-31")
    f = br.referrals_twelve_months(refs, w, 2026)
    # Nov 2025 - Oct 2026: C, D, E; Nov 2024 - Oct 2025: A, B; Apr 2025 - Mar 2026: B, C
    assert f == {"referrals": 3, "referrals_prev": 2, "referrals_statutory": 2}
    big = {"referrals": 1100, "referrals_prev": 1000, "referrals_statutory": 1050}
    text = br.locality_headline(big, w, 5, statutory_year=2026, england=(0.021, 2025))
    assert text == ("**In the 12 months to October 2026, the council received 1,100 referrals**, against 1,000 in the same "
                    "months a year earlier (+10%); in 2025-26, the last statutory year, it received 1,050. England's referrals "
                    "changed by +2.1% between 2023-24 and 2024-25.")
    assert "received c referrals" in br.locality_headline(f, w, 5, statutory_year=2026)


def test_england_referral_change():
    c1 = pd.DataFrame({"geographic_level": ["National", "National", "Regional"], "time_period": [2024, 2025, 2025],
                       "referral_count": [600000.0, 630000.0, 1.0]})
    change, year = br.england_referral_change(c1)
    assert year == 2025 and change == pytest.approx(0.05)


def test_teams_text():
    teams = pd.DataFrame({"team": ["North", "South", "Tiny", "All teams"], "children": pd.array([40, 30, None, 73], dtype="Int64")})
    loc = pd.DataFrame({"projected_cases": [100.4, 120.6]})
    text = br.teams_text(teams, loc, "2026-10-31", 5)
    assert text == ("On 31 October 2026, 73 children with an open case were allocated to 3 teams in the council's Ofsted Annex A "
                    "lists. The teams shown hold between 30 and 40 children each (1 team with few children not shown). The 2 "
                    "proposed localities would each hold between 100 and 121 projected open cases. Workers are not shown, and no "
                    "figure is given per worker.")
