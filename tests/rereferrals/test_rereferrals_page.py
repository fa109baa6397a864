"""The re-referral report's sections (helpers.rereferrals.page) on a small hand-made council.

Four children, nine referrals (the sensitivity history of test_measure.py, whose rates under
every definition are worked out there by hand); two wards. Every expected value below is worked
out by hand in the comments. Sections publish through a real Report into a temporary folder.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest

from helpers.publishing import charts, report
from helpers.readers import between_returns as br
from helpers.readers.ledger import Ledger
from helpers.rereferrals import measure as rr
from helpers.rereferrals import page
from test_measure import sensitivity_history

WARD = {"S1": "W1", "S2": "W1", "S3": "W2", "S4": "W2"}


@pytest.fixture
def shown(monkeypatch):
    """Charts and other outputs the sections show, instead of displaying them."""
    out = {"charts": [], "other": []}

    def show(chart, description):
        charts.to_spec(chart)  # the chart must build (data inlined, theme applied)
        out["charts"].append(description)

    monkeypatch.setattr(charts, "show", show)
    monkeypatch.setattr(page, "_display", out["other"].append)
    return out


def hand_made(threshold: int = 1) -> page.Figures:
    refs = sensitivity_history()
    refs["ward_code"] = refs["child_id"].map(WARD)
    refs["lsoa_code"] = refs["child_id"].map({"S1": "L1", "S2": "L2", "S3": "L3", "S4": "L4"})
    refs.attrs["address_match_counts"] = {"in force": 7, "nearest": 1, "none": 1}
    children = pd.DataFrame({"child_id": ["S1", "S2", "S3", "S4"], "sex": ["1", "2", "1", "2"],
                             "birth_month": pd.to_datetime(["2015-01-01"] * 4),
                             "ethnicity": ["WBRI"] * 4, "disability": [False] * 4,
                             "collection_year": [2025] * 4})
    base = page.base_definition({})
    f = page.Figures(cfg={"council": {"la_name": "Testshire", "region": "Test region"}, "data": {}},
                     threshold=threshold, base=base, duplicate_days=7,
                     definitions=rr.alternative_definitions(7, base))
    f.cin = SimpleNamespace(children=children, referrals=refs, ledger=Ledger())
    # IDACI decile 1 (most deprived 20%) for S1 and S2; 5 and 10 for S3 and S4
    f.iod = pd.DataFrame({"lsoa_code": ["L1", "L2", "L3", "L4"], "imd_decile": [1, 2, 5, 10],
                          "idaci_decile": [1, 2, 5, 10]})
    f.iod.attrs["iod_attribution"] = "mhclg_iod2019"
    f.ward_names = pd.Series({"W1": "North", "W2": "South"})
    f.ledger = Ledger()
    f.referrals = refs
    f.as_at = pd.Timestamp("2025-03-31")
    f.coverage = br.Coverage(cin_end=f.as_at, list3_start=None, list3_end=None, data_end=f.as_at,
                             added=0, gap=False)
    f.window = br.latest_twelve_months(f.as_at)
    f.data_start = pd.Timestamp("2023-04-01")  # S3's first referral (June 2023) is in 2023-24
    f.year = 2025
    return page.measures(f)


@pytest.fixture
def fig():
    return hand_made()


def published(tmp_path, name):
    return pd.read_csv(tmp_path / "tables" / f"{name}.csv", dtype=str)  # "c" marks a hidden cell


# -- small pure pieces --------------------------------------------------------------------------
def test_words_and_numbers():
    assert page.pct(0.2345) == "23.4%" or page.pct(0.2345) == "23.5%"  # 23.45 rounds either way
    assert page.pct(0.5) == "50.0%" and page.pct(None) == "not available"
    assert page.pct(float("nan")) == "not available"
    assert page.year_label(2026) == "2025-26" and page.year_label(2000) == "1999-00"
    assert page.lower_first("Referral source") == "referral source"
    assert page.count_text(1234) == "1,234" and page.count_text("c") == "c"
    assert page.direction_word(0.006) == "up" and page.direction_word(-0.006) == "down"
    assert page.direction_word(0.004) == "about the same as"


def test_base_definition_from_config():
    d = page.base_definition({"window": 365, "window_unit": "days", "inclusive": False})
    assert (d.name, d.window, d.unit, d.inclusive) == ("dfe", 365, "days", False)
    assert d.label == "DfE definition: previous referral within 365 days"
    assert page.base_definition({}).label == "DfE definition: previous referral within 12 calendar months"


def test_run_as_at():
    as_at = pd.Timestamp("2026-10-31")
    # cut at the end of the run month
    assert page.run_as_at(as_at, "2026-08") == pd.Timestamp("2026-08-31")
    assert page.run_as_at(as_at, "") == as_at
    # an extract date given: Annex A's later date does not move it
    assert page.run_as_at(as_at, "", pd.Timestamp("2026-11-15"), extract_dated=True) == as_at
    # no extract date: the lists' latest date, never beyond the run month
    assert page.run_as_at(as_at, "", pd.Timestamp("2026-11-15"), extract_dated=False) == pd.Timestamp("2026-11-15")
    assert page.run_as_at(as_at, "2026-11", pd.Timestamp("2026-12-15"), extract_dated=False) == pd.Timestamp("2026-11-30")


def test_england_for_year():
    eng = pd.Series({2024: 0.21, 2025: 0.226})
    assert page.england_for_year(eng, 2025) == (0.226, 2025)
    assert page.england_for_year(eng, 2026) == (0.226, 2025)       # not yet published: the latest
    assert page.england_for_year(pd.Series(dtype=float), 2025) == (None, None)
    bench = pd.DataFrame({"comparator": ["England", "Region", "England"], "time_period": [2024, 2024, 2025],
                          "rereferral_rate": [0.21, 0.3, 0.226]})
    assert page.england_rates(bench).to_dict() == {2024: 0.21, 2025: 0.226}
    assert page.england_rates(None).empty


def test_texts_by_hand():
    step = pd.Series({"month": pd.Timestamp("2024-05-01"), "mean_before": 1 / 3, "mean_after": 16 / 3})
    assert page.step_sentence(step) == ("Near-duplicates stepped up from about 0 a month to about 5 a month "
                                        "from May 2024.")
    assert page.step_sentence(pd.Series({"month": pd.NaT})) == ""
    two = pd.DataFrame({"group": ["Police", "Schools", "Health"], "rate": [0.25, None, 0.5]})
    assert page.breakdown_text(two) == "Highest: Health (50.0%); lowest: Police (25.0%)."
    assert page.breakdown_text(two.iloc[:2]) == ("Only Police can be shown (25.0%); the other groups are "
                                                 "too small.")
    assert page.breakdown_text(two.iloc[1:2]) == "All groups are too small to show."
    gaps = pd.DataFrame({"gap_band": [b[0] for b in rr.TIME_SINCE_BANDS[:6]] + [rr.TIME_SINCE_NONE],
                         "referrals": [1, 1, 1, 1, 1, 2, 3]})
    # the first five bands are within 12 months: 5 of 10 referrals
    assert page.share_within_a_year(gaps) == pytest.approx(0.5)


def test_deprivation_and_outcome_texts():
    dep = pd.DataFrame({"collection_year": [2024, 2025, 2024, 2025, 2024, 2025],
                        "deprivation": ["Most deprived 20%"] * 2 + ["Middle 60%"] * 2 + ["Least deprived 20%"] * 2,
                        "rate": [0.30, 0.40, 0.20, 0.10, 0.10, 0.30]})
    most, least = page.deprivation_trends(dep)
    assert most.to_dict() == {2024: 0.30, 2025: 0.40}
    assert least.to_dict() == pytest.approx({2024: 0.15, 2025: 0.20})      # means of 0.2, 0.1 and 0.1, 0.3
    assert page.deprivation_text(most, least) == (
        "In the most deprived fifth of neighbourhoods the rate went from 30.0% in 2023-24 to 40.0% in "
        "2024-25; elsewhere it averaged 15.0% and 20.0%.")
    assert page.deprivation_text(most.iloc[:1], least).startswith("Deprivation trends could not be shown")
    apart = pd.DataFrame({"group": ["No further action", "<b>Closed</b>"], "rate": [0.4, 0.1],
                          "ci_low": [0.3, 0.05], "ci_high": [0.5, 0.2]})
    text = page.outcome_text(apart)  # 0.3 > 0.2: intervals apart, a finding; names escaped
    assert "40.0% of those ending 'No further action'" in text and "&lt;b&gt;Closed&lt;/b&gt;" in text
    overlap = apart.assign(ci_low=[0.15, 0.05])
    assert page.outcome_text(overlap).startswith("the share of closed cases referred again")
    assert page.outcome_text(apart.iloc[:1]) == "too few closed cases to compare by how they ended."


def test_funnel_list3_and_address_texts():
    funnel = pd.DataFrame({"ward_name": ["North", "South", "East"],
                           "funnel_position": ["above 99.8%", "within", "suppressed"]})
    assert page.funnel_text(funnel, 0.25) == ("Funnel plot of wards around the council rate of 25.0%. "
                                              "1 ward(s) lie outside the 99.8% limits: North.")
    row = pd.Series({"compared": 10, "agree": 7, "list_higher": 2, "list_lower": "c", "not_compared": 0})
    text = page.list3_text(row)
    assert "of 10 referrals in List 3" in text and "for 7; it is higher for 2 and lower for c" in text
    counts = {"in force": 1200, "nearest": 30, "none": 3, "no ward: outside the council": 12}
    text = page.address_match_text(counts, threshold=5)
    assert "referral date: 1,200; by the nearest address: 30." in text
    assert "outside the council" in text  # 3 with no address is small: not quoted as 3
    assert "no address: 3" not in text


def test_recording_text_by_hand():
    now = pd.Series({"dfe": 0.30, "duplicates_collapsed": 0.25})
    then = pd.Series({"dfe": 0.20, "duplicates_collapsed": 0.22})
    text = page.recording_text("Step.", 7, 2026, 2024, 12.4, 3.0, now, then)
    # as recorded +10.0 points; collapsed +3.0 points: 7 of the 10 points are recording
    assert "averaged 12 a month in 2025-26 against 3 in 2023-24" in text
    assert "from\n  20.0% in 2023-24 to 30.0% in 2025-26 (+10.0 points)" in text
    assert "from 22.0% to 25.0%\n  (+3.0 points)" in text


def test_sensitivity_display_and_km_steps():
    sens = pd.DataFrame({"definition": ["dfe", "days_365"], "label": ["DfE", "365 days"],
                         "referrals": [7, 7], "rereferrals": [4, 1], "rate": [4 / 7, 1 / 7],
                         "ci_low": [0.2, 0.01], "ci_high": [0.8, 0.5],
                         "change_vs_reference": [0.0, -0.0123]})
    # 1 re-referral is small at threshold 1: its count and rate are hidden ("c")
    shown = page.sensitivity_display(rr.publishable(sens, 1, group_cols=["definition"]))
    assert shown["rate"].tolist() == ["57.1%", "c"]
    assert shown["change_vs_reference"].tolist() == ["+0.0 pts", "-1.2 pts"]
    # with the source of each row (the "made while open" row is measured on the referrals extract)
    sourced = page.sensitivity_display(rr.publishable(sens.assign(source=[rr.SOURCE_CENSUS, rr.SOURCE_EXTRACT]), 1,
                                                      group_cols=["definition"]))
    assert sourced["source"].tolist() == [rr.SOURCE_CENSUS, rr.SOURCE_EXTRACT]
    steps = pd.DataFrame({"group": ["A", "A"], "month": [3, 6], "episodes": [10, 3], "rereferred": [6, 1],
                          "cumulative_rereferred": [0.2, 0.4], "ci_low": [0.1, 0.2], "ci_high": [0.3, 0.6]})
    safe = page.km_steps_safe(steps, threshold=5)
    # month 6: 3 episodes is small, so its share and interval are hidden; month 3 (6 of 10) shown
    assert safe["cumulative_rereferred"].isna().tolist() == [False, True]
    assert safe["ci_low"].isna().tolist() == [False, True] and safe["ci_high"].isna().tolist() == [False, True]


# -- measures and sections on the hand-made council ----------------------------------------------
def test_measures_by_hand(fig):
    # 2024-25: 7 referrals, 4 re-referrals (S1 4 May, S1 1 Nov, S2, S4), children 4, re-referred 3
    assert (fig.this_year["referrals"], fig.this_year["rereferrals"]) == (7, 4)
    assert (fig.this_year["children_referred"], fig.this_year["children_rereferred"]) == (4, 3)
    # 2023-24: S3 June 2023 and S2 October 2023, neither a re-referral
    assert (fig.last_year["referrals"], fig.last_year["rereferrals"]) == (2, 0)
    # S1 has three referrals within 12 months (1 May, 4 May, 1 Nov 2024): one child of four
    assert fig.repeat["children_repeat"] == 1 and fig.repeat["share"] == pytest.approx(0.25)
    assert fig.flags.set_index("child_id")["ward"].to_dict() == {"S1": "North", "S2": "North",
                                                                 "S3": "South", "S4": "South"}
    assert fig.england.empty and fig.benchmarks is None    # no DfE table C1 configured
    assert fig.dims() == page.BREAKDOWNS                    # no locality map
    assert fig.period == (pd.Timestamp("2024-04-01"), pd.Timestamp("2025-03-31"))


def test_write_summary_by_hand(fig, tmp_path):
    rep = report.Report(tmp_path, threshold=1)
    page.write_summary(rep, fig)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert (s["referrals"], s["rereferrals"], s["children_referred"], s["children_rereferred"]) == (7, 4, 4, 3)
    assert s["rereferral_rate"] == pytest.approx(4 / 7) and s["child_rereferral_rate"] == pytest.approx(0.75)
    assert s["previous_year_rereferral_rate"] == 0.0 and s["england_rereferral_rate"] is None
    assert s["children_three_plus_referrals"] == "c"         # 1 child: small, suppressed
    # test_measure.py works these out by hand: 6 months 3/7, 24 months 5/7, collapsed 3/6
    assert s["rate_window_6m"] == pytest.approx(3 / 7) and s["rate_window_24m"] == pytest.approx(5 / 7)
    assert s["rate_duplicates_collapsed"] == pytest.approx(0.5)
    assert (s["period_start"], s["period_end"]) == ("2024-04-01", "2025-03-31")


def test_headline(fig, tmp_path):
    text = page.headline_text("LEAD", fig)
    assert text.strip().startswith("LEAD")
    # the lead (here "LEAD") is the latest 12 months; the statutory year's rate is given once, here
    assert ("**2024-25, the last statutory year (April to March): 57.1%.**\n4 of 7 referrals were about a child"
            in text)
    assert text.count("57.1%") == 1
    assert "up from last year's 0.0%. England's rate was not available for this run." in text
    # with England's published rates: the statutory year's own, else the latest before it
    fig.england = pd.Series({2024: 0.214, 2025: 0.226})
    assert "England's was 22.6% in 2024-25." in page.headline_text("LEAD", fig)
    fig.england = pd.Series({2024: 0.214})
    assert "England's was 21.4% in 2023-24." in page.headline_text("LEAD", fig)
    fig.england = pd.Series(dtype=float)
    assert "75.0% of the 4 children referred" in text
    # near-duplicates collapsed: 3 of 6 = 50.0%, 50.0 - 57.1 = -7.1 points
    assert "the rate is 50.0% (-7.1 percentage points)" in text
    assert "**Repeat referrals:** c children (25.0% of those referred)" in text
    rep = report.Report(tmp_path, threshold=1)
    page.show_headline(rep, fig)
    s = json.loads((tmp_path / "summary.json").read_text())
    # the 12 months to March 2025 are the statutory year: 7 referrals, 4 re-referrals
    assert (s["latest_12m_referrals"], s["latest_12m_rereferrals"]) == (7, 4)
    assert s["latest_12m_from_annex_a"] == 0


def test_trend_and_recording_sections(fig, tmp_path, shown):
    rep = report.Report(tmp_path, threshold=1)
    page.show_trend(rep, fig)
    roll = published(tmp_path, "rolling_rate")
    # a complete window needs 12 months of look-back before it: data from April 2023, so only the
    # 12 months to March 2025 (look-back from April 2023) are complete
    assert roll["month"].iloc[-1].startswith("2025-03") and len(roll) == 1
    # 12 months to March 2025 = the year: 7 referrals, 4 re-referrals
    assert roll[["referrals", "rereferrals"]].iloc[-1].tolist() == ["7", "4"]
    page.show_recording(rep, fig)
    rec = published(tmp_path, "monthly_recording_view")
    assert "near_duplicates" in rec and len(shown["charts"]) == 2
    assert shown["charts"][1].startswith("Monthly re-referral rate as recorded")


def test_definitions_and_breakdowns(fig, tmp_path, shown):
    rep = report.Report(tmp_path, threshold=1)
    page.show_definitions(rep, fig)
    sens = published(tmp_path, "definition_sensitivity").set_index("definition")
    assert sens.loc["dfe", "referrals"] == "7" and sens.loc["window_24m", "rereferrals"] == "5"
    assert "ranges from" not in shown["charts"][0] and "range from" in shown["charts"][0]
    page.show_breakdowns(rep, fig)
    by_sex = published(tmp_path, "by_sex_label")
    # every breakdown published; 7 characteristics + the gap distribution = 8 more charts
    assert len(shown["charts"]) == 1 + 7 + 1 and len(by_sex) >= 1
    gaps = published(tmp_path, "gap_between_referrals")
    assert "gap_band" in gaps
    # 4 of the 7 referrals came within 12 months of a previous one
    assert "57.1% of all referrals in the year came within 12 months" in shown["charts"][-1]


def test_deprivation_funnel_and_time_sections(fig, tmp_path, shown):
    rep = report.Report(tmp_path, threshold=1)
    page.show_deprivation(rep, fig)
    dep = published(tmp_path, "by_deprivation_and_year")
    assert set(dep["collection_year"]) == {"2024", "2025"}         # the data start in 2023-24
    most = dep[(dep["collection_year"] == "2025") & (dep["deprivation"] == "Most deprived 20%")].iloc[0]
    # S1 and S2 live in IDACI deciles 1 and 2: S1 x3 + S2 = 4 referrals, 3 re-referrals in 2024-25
    assert (most["referrals"], most["rereferrals"]) == ("4", "3")
    # 2023-24: S2's one referral is small (threshold 1), so only 2024-25's 3/4 is charted
    assert fig.most.to_dict() == {2025: 0.75}
    page.show_ward_funnel(rep, fig)
    funnel = published(tmp_path, "ward_funnel").set_index("ward_name")
    # North: S1 x3 + S2 = 4 referrals in the year; South: S3 + S4 x2 = 3
    assert funnel.loc["North", "referrals"] == "4" and funnel.loc["South", "referrals"] == "3"
    page.show_time_to_rereferral(rep, fig)
    assert (tmp_path / "tables" / "time_to_rereferral.csv").is_file()
    assert fig.closure_safe is not None and len(shown["other"]) == 1   # the medians table
    assert len(shown["charts"]) == 3


def test_benchmarks_section(fig, tmp_path, shown, monkeypatch):
    rep = report.Report(tmp_path, threshold=1)
    markdown = []
    monkeypatch.setattr(page, "_markdown", markdown.append)
    page.show_benchmarks(rep, fig)
    assert markdown[0].startswith("**Benchmarks were not available for this run**")
    fig.benchmarks = pd.DataFrame({"time_period": [2024, 2025], "comparator": ["England", "England"],
                                   "rereferral_rate": [0.21, 0.226]})
    fig.england = page.england_rates(fig.benchmarks)
    fig.c1 = pd.DataFrame()
    fig.c1_path = tmp_path / "c1.csv"
    monkeypatch.setattr(page.bm, "neighbour_note", lambda *a: "NOTE")
    page.show_benchmarks(rep, fig)
    bench = published(tmp_path, "benchmarks")
    # England's two years, then the council's 2025 (2024's look-back starts before the data)
    assert bench["comparator"].tolist() == ["England", "England", "Testshire"]
    assert float(bench["rereferral_rate"].iloc[-1]) == pytest.approx(4 / 7)
    assert "England 2024-25: 22.6%." in shown["charts"][-1] and markdown[-1] == "NOTE"


def test_what_changed(fig, tmp_path, shown, monkeypatch):
    rep = report.Report(tmp_path, threshold=1)
    page.show_recording(rep, fig)
    page.show_deprivation(rep, fig)
    page.show_time_to_rereferral(rep, fig)
    # no earlier year with a complete look-back: compared with 2023-24 itself
    assert page.comparison_year(fig) == 2024
    markdown = []
    monkeypatch.setattr(page, "_markdown", markdown.append)
    page.show_what_changed(fig)
    text = markdown[0]
    assert "- **Recording:**" in text and "- **Need:**" in text and "- **Outcome of the previous referral:**" in text
    # 2024-25 as recorded 57.1% (4/7)
    assert "to 57.1% in 2024-25" in text


def test_explorer_redraws_one_breakdown(fig):
    pytest.importorskip("ipywidgets")
    drawn = []
    box = page.explorer(fig, show=lambda chart, description: drawn.append(description))
    assert drawn == ["Re-referral rate by referral source, year to March 2025, DfE definition: previous "
                     "referral within 12 calendar months."]
    pick_dim = box.children[0].children[0]
    pick_dim.value = "Sex"           # moving a control redraws
    assert drawn[-1].startswith("Re-referral rate by sex, year to March 2025")


def test_explorer_only_when_interactive(fig, tmp_path, shown):
    page.show_explorer(report.Report(tmp_path, threshold=1), fig)
    assert shown["other"] == []


def test_data_quality_and_list3(fig, tmp_path, shown, monkeypatch):
    rep = report.Report(tmp_path, threshold=1)
    markdown = []
    monkeypatch.setattr(page, "_markdown", markdown.append)
    page.show_data_quality(rep, fig)
    # 7 in force, 1 nearest: both shown (1 is small at threshold 1: "c")
    assert "referral date: 7; by the nearest address: c." in markdown[0]
    page.show_list3_check(rep, fig)             # no Annex A: nothing
    assert len(markdown) == 1
    # List 3 holds S4's 1 July 2024 referral with "2 referrals in the last 12 months" (ours: 2) and
    # S1's 1 Nov 2024 with 2 (ours: 3, the list is lower)
    fig.flags = rr.flag_definition(fig.referrals, fig.base)
    fig.annex = SimpleNamespace(referrals=pd.DataFrame({
        "child_id": ["S4", "S1"], "referral_date": pd.to_datetime(["2024-07-01", "2024-11-01"]),
        "referrals_12m": [2, 2]}))
    page.show_list3_check(rep, fig)
    recon = published(tmp_path, "annex_a_referral_counts").iloc[0]
    assert recon["compared"] == "2"
    assert "of 2 referrals in List 3" in markdown[-1]


def test_children_only_keeps_children_and_ledger_and_empties_the_rest():
    # hand-made: a two-child census; every other table has one row
    from helpers.readers.cin_census import CINCensus
    from helpers.readers.ledger import Ledger

    children = pd.DataFrame({"child_id": ["A", "B"], "sex": ["M", "F"]})
    one = lambda **cols: pd.DataFrame({k: [v] for k, v in cols.items()})  # noqa: E731
    ledger = Ledger()
    cin = CINCensus(children=children, referrals=one(referral_id="A|1", child_id="A"),
                    assessments=one(referral_id="A|1", factors="1A"), cin_plans=one(child_id="A"),
                    section47=one(child_id="A"), cp_plans=one(child_id="B"), ledger=ledger,
                    identifiers={"A", "B"})
    slim = page.children_only(cin)
    assert slim.children is children and slim.ledger is ledger
    for name in ("referrals", "assessments", "cin_plans", "section47", "cp_plans"):
        table = getattr(slim, name)
        assert len(table) == 0 and list(table.columns) == list(getattr(cin, name).columns), name
    assert slim.identifiers == set()
    assert len(cin.referrals) == 1 and cin.identifiers == {"A", "B"}  # the caller's census untouched
