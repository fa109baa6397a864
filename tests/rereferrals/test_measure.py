"""Re-referral measure on small hand-made referral histories.

Every expected value is worked out by hand in the comments (DfE definition: a referral is
a re-referral when the same child had a previous referral within 12 months before it).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from helpers.rereferrals import measure as rr

YEAR_2025 = ("2024-04-01", "2025-03-31")  # collection year 2024-25


def make_referrals(rows: list[dict]) -> pd.DataFrame:
    """Referrals table with the data_model columns; each row gives child, date and overrides."""
    records = []
    for i, r in enumerate(rows):
        date = pd.Timestamp(r["date"])
        records.append({
            "referral_id": r.get("id", f"{r['child']}|{date:%Y-%m-%d}|{i}"),
            "child_id": r["child"],
            "referral_date": date,
            "referral_source": r.get("source", "6"),
            "primary_need": r.get("need", "N1"),
            "closure_date": pd.Timestamp(r["closed"]) if r.get("closed") else pd.NaT,
            "closure_reason": r.get("reason"),
            "referral_nfa": r.get("nfa", False),
            "n_assessments": 1,
            "has_cin_plan": r.get("cin", False),
            "has_s47": False,
            "has_cp_plan": r.get("cp", False),
            "collection_year": int(rr.collection_year(pd.Series([date])).iloc[0]),
            "source_file": "hand-made",
        })
    df = pd.DataFrame.from_records(records)
    df["referral_date"] = df["referral_date"].astype("datetime64[ns]")
    df["closure_date"] = df["closure_date"].astype("datetime64[ns]")
    return df


def flag_of(flags: pd.DataFrame, child: str, date: str) -> bool:
    row = flags[(flags["child_id"] == child) & (flags["referral_date"] == pd.Timestamp(date))]
    assert len(row) == 1, f"expected one referral for {child} on {date}"
    return bool(row["is_rereferral"].iloc[0])


# ---------------------------------------------------------------------- boundary cases


def test_exactly_twelve_months_counts_only_when_inclusive():
    # 10 May 2023 + 12 calendar months = 10 May 2024: the boundary itself.
    refs = make_referrals([{"child": "A", "date": "2023-05-10"}, {"child": "A", "date": "2024-05-10"},
                           {"child": "B", "date": "2023-05-10"}, {"child": "B", "date": "2024-05-11"}])
    inclusive = rr.flag_rereferrals(refs, inclusive=True)
    exclusive = rr.flag_rereferrals(refs, inclusive=False)
    assert flag_of(inclusive, "A", "2024-05-10") is True
    assert flag_of(exclusive, "A", "2024-05-10") is False
    # one day past the anniversary is outside under both settings
    assert flag_of(inclusive, "B", "2024-05-11") is False
    assert flag_of(exclusive, "B", "2024-05-11") is False


def test_same_day_second_referral_is_a_rereferral_first_is_not():
    refs = make_referrals([{"child": "S", "date": "2024-06-01", "id": "S-a"},
                           {"child": "S", "date": "2024-06-01", "id": "S-b"}])
    flags = rr.flag_rereferrals(refs)
    # sorted by child, date, referral_id: S-a first (no previous), S-b 0 days after S-a
    assert flags.set_index("referral_id")["is_rereferral"].to_dict() == {"S-a": False, "S-b": True}
    assert flags.set_index("referral_id").loc["S-b", "days_since_previous"] == 0


def test_first_referral_in_data_is_never_a_rereferral():
    refs = make_referrals([{"child": "C", "date": "2024-07-01"}])
    flags = rr.flag_rereferrals(refs)
    assert flags["is_rereferral"].tolist() == [False]
    assert np.isnan(flags["days_since_previous"].iloc[0])
    assert flags["previous_outcome"].iloc[0] == rr.OUTCOME_NONE


def test_lookback_crosses_collection_years():
    # 1 Dec 2023 is in collection year 2024; 15 Apr 2024 is in 2025 and 4.5 months later.
    refs = make_referrals([{"child": "D", "date": "2023-12-01"}, {"child": "D", "date": "2024-04-15"}])
    flags = rr.flag_rereferrals(refs)
    assert flag_of(flags, "D", "2024-04-15") is True
    rates = rr.rereferral_rates(flags, *YEAR_2025).iloc[0]
    # only the April referral is in 2024-25: 1 referral, 1 re-referral
    assert (rates["referrals"], rates["rereferrals"]) == (1, 1)
    # look-back: data start 1 Dec 2023 is after 1 Apr 2023, so the year's look-back is incomplete
    assert bool(rates["lookback_complete"]) is False


def test_nfa_referral_counts_as_previous_and_in_denominator_unless_excluded():
    refs = make_referrals([{"child": "E", "date": "2024-05-01", "nfa": True, "closed": "2024-05-01"},
                           {"child": "E", "date": "2024-08-01"}])
    dfe = rr.flag_rereferrals(refs)
    assert flag_of(dfe, "E", "2024-08-01") is True  # 3 months after the NFA referral
    rates = rr.rereferral_rates(dfe, *YEAR_2025).iloc[0]
    assert (rates["referrals"], rates["rereferrals"]) == (2, 1)  # NFA stays in the denominator
    no_nfa = rr.flag_rereferrals(refs, exclude_nfa=True)
    assert len(no_nfa) == 1
    assert flag_of(no_nfa, "E", "2024-08-01") is False  # its only previous referral is gone


def test_overlapping_episodes_and_excluding_open():
    # F's first case is still open (no closure) when the second referral arrives.
    refs = make_referrals([{"child": "F", "date": "2024-04-10"},
                           {"child": "F", "date": "2024-09-01", "closed": "2024-10-01"}])
    dfe = rr.flag_rereferrals(refs)
    assert flag_of(dfe, "F", "2024-09-01") is True
    second = dfe[dfe["referral_date"] == "2024-09-01"].iloc[0]
    assert bool(second["open_at_referral"]) is True
    assert second["previous_outcome"] == rr.OUTCOME_OPEN
    excluded = rr.flag_rereferrals(refs, exclude_open=True)
    rates = rr.rereferral_rates(excluded, *YEAR_2025).iloc[0]
    # only the first referral is counted: 1 referral, 0 re-referrals
    assert (rates["referrals"], rates["rereferrals"]) == (1, 0)


def test_case_closed_on_the_day_of_the_next_referral_is_not_open():
    refs = make_referrals([{"child": "F2", "date": "2024-04-10", "closed": "2024-06-01"},
                           {"child": "F2", "date": "2024-06-01"}])
    flags = rr.flag_rereferrals(refs)
    assert bool(flags["open_at_referral"].iloc[1]) is False


def test_calendar_months_versus_365_days_across_a_leap_day():
    refs = make_referrals([
        # G: 1 Mar 2023 -> 1 Mar 2024 is 12 calendar months but 366 days (29 Feb 2024 between)
        {"child": "G", "date": "2023-03-01"}, {"child": "G", "date": "2024-03-01"},
        # H: 29 Feb 2024 + 12 months = 28 Feb 2025 (clamped); + 365 days = 28 Feb 2025 too
        {"child": "H", "date": "2024-02-29"}, {"child": "H", "date": "2025-02-28"},
        {"child": "K", "date": "2024-02-29"}, {"child": "K", "date": "2025-03-01"},
    ])
    months = rr.flag_rereferrals(refs, unit="months", window=12)
    days = rr.flag_rereferrals(refs, unit="days", window=365)
    assert flag_of(months, "G", "2024-03-01") is True
    assert flag_of(days, "G", "2024-03-01") is False
    assert flag_of(months, "H", "2025-02-28") is True
    assert flag_of(days, "H", "2025-02-28") is True
    assert flag_of(months, "K", "2025-03-01") is False
    assert flag_of(days, "K", "2025-03-01") is False  # 366 days


def test_bad_parameters_are_refused():
    refs = make_referrals([{"child": "A", "date": "2024-01-01"}])
    with pytest.raises(ValueError):
        rr.flag_rereferrals(refs, unit="weeks")
    with pytest.raises(ValueError):
        rr.flag_rereferrals(refs, measure_from="assessment")
    with pytest.raises(KeyError):
        rr.flag_rereferrals(refs.drop(columns="closure_date"))


# ---------------------------------------------------------------------- rates


def period_history() -> pd.DataFrame:
    return make_referrals([
        {"child": "P1", "date": "2023-06-01"}, {"child": "P1", "date": "2024-05-01"},  # 11 months: yes
        {"child": "P1", "date": "2024-12-01"},                                            # 7 months: yes
        {"child": "P2", "date": "2024-06-01"},                                            # first: no
        {"child": "P3", "date": "2023-01-01"}, {"child": "P3", "date": "2024-06-01"},  # 17 months: no
        {"child": "P4", "date": "2024-03-15"}, {"child": "P4", "date": "2024-04-02"},  # across years: yes
    ])


def test_referral_and_child_level_rates_by_hand():
    flags = rr.flag_rereferrals(period_history())
    rates = rr.rereferral_rates(flags, *YEAR_2025).iloc[0]
    # In 2024-25: P1 x2, P2, P3 (Jun 24), P4 (Apr 24) = 5 referrals; re-referrals P1 x2 + P4 = 3
    assert rates["referrals"] == 5 and rates["rereferrals"] == 3
    assert rates["rereferral_rate"] == pytest.approx(3 / 5)
    # children referred P1..P4 = 4; re-referred P1, P4 = 2
    assert rates["children_referred"] == 4 and rates["children_rereferred"] == 2
    assert rates["child_rereferral_rate"] == pytest.approx(0.5)
    assert rates["rate_ci_low"] < 0.6 < rates["rate_ci_high"]
    # data start 1 Jan 2023 is before 1 Apr 2023: 12-month look-back complete
    assert bool(rates["lookback_complete"]) is True
    later_start = rr.rereferral_rates(flags, *YEAR_2025, data_start="2023-06-01").iloc[0]
    assert bool(later_start["lookback_complete"]) is False


def test_rolling_twelve_month_rate_by_hand():
    refs = make_referrals([
        {"child": "A", "date": "2023-01-15"},
        {"child": "A", "date": "2024-01-10"},  # 2023-01-15 + 12 months = 2024-01-15 >= 10 Jan: yes
        {"child": "A", "date": "2024-12-20"},  # 11 months after 10 Jan 2024: yes
        {"child": "B", "date": "2024-06-01"},  # first: no
    ])
    flags = rr.flag_rereferrals(refs)
    roll = rr.rolling_rate(flags, data_start="2023-01-01", data_end="2024-12-31").set_index("month")
    assert len(roll) == 24  # Jan 2023 .. Dec 2024
    assert np.isnan(roll.loc["2023-11-01", "rate"])  # fewer than 12 months so far
    # 12 months to Dec 2023: only Jan 2023 (1 referral, 0 re-referrals)
    assert roll.loc["2023-12-01", "rate"] == 0
    # 12 months to Nov 2024 (Dec 23..Nov 24): Jan 24 (re) and Jun 24 (not): 1/2
    assert roll.loc["2024-11-01", "rate"] == pytest.approx(0.5)
    # 12 months to Dec 2024 (Jan..Dec 24): Jan (re), Jun (not), Dec (re): 2/3
    assert roll.loc["2024-12-01", ["referrals_rolling", "rereferrals_rolling"]].tolist() == [3, 2]
    assert roll.loc["2024-12-01", "rate"] == pytest.approx(2 / 3)
    # Dec 2024: span Jan-Dec 2024, look-back to Jan 2023 = first month of data: complete
    assert bool(roll.loc["2024-12-01", "complete"]) is True
    assert bool(roll.loc["2024-11-01", "complete"]) is False
    # by default the data end at the last referral (20 Dec 2024), so December is a part month
    assert bool(rr.rolling_rate(flags).set_index("month").loc["2024-12-01", "complete"]) is False


# ---------------------------------------------------------------------- sensitivity


def sensitivity_history() -> pd.DataFrame:
    return make_referrals([
        {"child": "S1", "date": "2024-05-01", "nfa": True, "closed": "2024-05-01"},
        {"child": "S1", "date": "2024-05-04", "closed": "2024-05-20"},    # 3 days later: near-duplicate
        {"child": "S1", "date": "2024-11-01", "closed": "2024-12-01"},
        {"child": "S2", "date": "2023-10-01", "closed": "2024-08-01"},
        {"child": "S2", "date": "2024-09-15"},                            # 11.5 months; 1.5 after closure
        {"child": "S3", "date": "2023-06-01", "closed": "2023-07-01"},
        {"child": "S3", "date": "2024-10-01"},                            # 16 months; 15 after closure
        {"child": "S4", "date": "2024-06-01"},                            # still open...
        {"child": "S4", "date": "2024-07-01"},                            # ...when this arrives
    ])


def test_sensitivity_table_every_definition_by_hand():
    table = rr.sensitivity_table(sensitivity_history(), *YEAR_2025, rr.alternative_definitions(duplicate_days=7))
    got = table.set_index("definition")[["referrals", "rereferrals"]].apply(tuple, axis=1).to_dict()
    # In 2024-25: S1 x3, S2 x1, S3 x1, S4 x2 = 7 referrals.
    expected = {
        # DfE: S1 4 May (3 days), S1 1 Nov (6 months after 4 May), S2 (11.5 m), S4 (1 m) = 4
        "dfe": (7, 4),
        # 365 days: same four (3, 181, 350, 30 days); S3 is 488 days
        "days_365": (7, 4),
        # 6 months: S2 (11.5 m) drops out; 4 May + 6 m = 4 Nov >= 1 Nov keeps S1's third
        "window_6m": (7, 3),
        # 24 months: S3 (16 m) joins
        "window_24m": (7, 5),
        # from closure: S1 4 May (closed 1 May), S1 1 Nov (closed 20 May), S2 (closed 1 Aug),
        # S4 (previous still open); S3 closed 1 Jul 2023 + 12 m = 1 Jul 2024 < 1 Oct: no
        "from_closure": (7, 4),
        # no NFA: S1 1 May gone, so S1 4 May is a first referral; S1 Nov, S2, S4 = 3 of 6
        "excluding_nfa": (6, 3),
        # duplicates within 7 days: S1 4 May collapsed into 1 May; S1 Nov, S2, S4 = 3 of 6
        "duplicates_collapsed": (6, 3),
        # open at referral: S4 1 Jul not counted; S1 4 May (1 May case closed), S1 Nov, S2 = 3 of 6
        "excluding_open": (6, 3),
    }
    assert got == expected
    dfe = table.set_index("definition").loc["dfe"]
    assert dfe["children_referred"] == 4 and dfe["children_rereferred"] == 3  # S1, S2, S4
    assert table.set_index("definition").loc["window_6m", "change_vs_reference"] == pytest.approx(3 / 7 - 4 / 7)


def test_sensitivity_table_reads_referrals_made_while_open_from_the_extract_by_hand():
    """The census cannot hold S4's second referral (1 Jul 2024, made while its 1 Jun case was open:
    no overlapping episodes); the council's extract (sensitivity_history) does."""
    extract = sensitivity_history()
    census = extract[~((extract["child_id"] == "S4") & (extract["referral_date"] == "2024-07-01"))]
    defs = (rr.DFE, replace(rr.DFE, name="excluding_open", label="open left out", exclude_open=True))
    on_census = rr.sensitivity_table(census, *YEAR_2025, defs).set_index("definition")
    # census only: 2024-25 has S1 x3, S2, S3, S4 = 6; re-referrals S1 4 May, S1 Nov, S2 = 3. Leaving
    # out referrals made while open changes nothing: the census holds none.
    assert on_census.loc["dfe", ["referrals", "rereferrals"]].tolist() == [6, 3]
    assert on_census.loc["excluding_open", ["referrals", "rereferrals"]].tolist() == [6, 3]
    assert on_census.loc["excluding_open", "change_vs_reference"] == 0
    assert set(on_census["source"]) == {rr.SOURCE_CENSUS}
    both = rr.sensitivity_table(census, *YEAR_2025, defs, open_source=extract).set_index("definition")
    assert both.loc["dfe", ["referrals", "rereferrals", "source"]].tolist() == [6, 3, rr.SOURCE_CENSUS]
    # on the extract: DfE 4 of 7 (S4 1 Jul is a re-referral); leaving it out: 3 of 6
    ex = both.loc["excluding_open"]
    assert (ex["referrals"], ex["rereferrals"], ex["source"]) == (6, 3, rr.SOURCE_EXTRACT)
    assert ex["reference_rate"] == pytest.approx(4 / 7)
    assert ex["change_vs_reference"] == pytest.approx(3 / 6 - 4 / 7)  # against the same source, not the census


def test_monthly_recording_view_separates_duplicates():
    view = rr.monthly_recording_view(sensitivity_history(), duplicate_days=7).set_index("month")
    may = view.loc["2024-05-01"]
    # May 2024: S1 1 May (first) and 4 May (re-referral, 3 days after: near-duplicate)
    assert (may["referrals"], may["rereferrals"], may["near_duplicates"]) == (2, 1, 1)
    # collapsed: only 1 May remains, not a re-referral
    assert (may["referrals_collapsed"], may["rereferrals_collapsed"]) == (1, 0)
    assert may["rate"] == pytest.approx(0.5) and may["rate_collapsed"] == 0
    assert may["rate_excess"] == pytest.approx(0.5)
    july = view.loc["2024-07-01"]  # S4 30 days after its previous: a re-referral, not a duplicate
    assert (july["referrals"], july["rereferrals"], july["near_duplicates"], july["rate_excess"]) == (1, 1, 0, 0)


def test_near_duplicate_flag_chains_and_keeps_input_order():
    refs = make_referrals([{"child": "J", "date": "2024-05-20"}, {"child": "J", "date": "2024-05-01"},
                           {"child": "J", "date": "2024-05-03"}, {"child": "Z", "date": "2024-05-02"}])
    # sorted: 1 May (first), 3 May (2 days: dup), 20 May (17 days after 3 May: not); Z alone
    assert rr.near_duplicate(refs, 7).tolist() == [False, False, True, False]
    collapsed = rr.flag_rereferrals(refs, collapse_duplicates_days=7)
    # input order kept: 20 May (row 0) and 1 May (row 1) remain, 3 May (row 2) is gone
    assert collapsed[collapsed["child_id"] == "J"]["referral_date"].dt.day.tolist() == [20, 1]
    assert collapsed.index.tolist() == [0, 1, 3]
    assert flag_of(collapsed, "J", "2024-05-20") is True  # 19 days after 1 May


# ---------------------------------------------------------------------- breakdowns


def test_previous_outcome_categories():
    refs = make_referrals([
        {"child": "Q", "date": "2022-01-01", "nfa": True, "closed": "2022-01-01"},
        {"child": "Q", "date": "2022-03-01", "closed": "2022-04-01", "reason": "RC8"},
        {"child": "Q", "date": "2022-06-01", "closed": "2022-12-01", "reason": "RC7", "cp": True, "cin": True},
        {"child": "Q", "date": "2023-02-01", "closed": "2023-05-01", "reason": "RC7", "cin": True},
        {"child": "Q", "date": "2023-07-01", "closed": "2023-08-01", "reason": "RC7"},
        {"child": "Q", "date": "2023-10-01"},  # open
        {"child": "Q", "date": "2023-11-01"},
    ])
    flags = rr.flag_rereferrals(refs)
    assert flags["previous_outcome"].tolist() == [
        rr.OUTCOME_NONE, rr.OUTCOME_NFA, rr.OUTCOME_NOT_IN_NEED, rr.OUTCOME_CP_PLAN,
        rr.OUTCOME_CIN_PLAN, rr.OUTCOME_OTHER, rr.OUTCOME_OPEN,
    ]


def test_add_characteristics_age_bands_and_labels():
    refs = make_referrals([{"child": c, "date": "2024-05-01", "source": s, "need": n}
                           for c, s, n in [("a", "3A", "N1"), ("b", "6", "N4"), ("c", "2A", "N2"),
                                           ("d", "1C", "N0"), ("e", "XX", None)]])
    children = pd.DataFrame({
        "child_id": ["a", "b", "c", "d", "e"],
        "sex": ["M", "F", "M", "U", None],   # the analysis vocabulary (helpers.readers.specs.SEX_CODES)
        # age at 1 May 2024 in completed months: a 47 (3 y), b -1 (unborn), c 11 (0 y), d 12 (1 y), e 192 (16 y)
        "birth_month": pd.to_datetime(["2020-06-01", "2024-06-01", "2023-06-01", "2023-05-01", "2008-05-01"]),
        "ethnicity": ["WBRI", "APKN", "BAFR", "NOBT", "ZZZZ"],
        "disability": [True, False, False, None, False],
        "collection_year": [2025] * 5,
    })
    out = rr.add_characteristics(rr.flag_rereferrals(refs), children).set_index("child_id")
    assert out["age_band"].to_dict() == {"a": "1 to 4", "b": "Unborn", "c": "Under 1", "d": "1 to 4", "e": "16 and over"}
    assert out["source_group"].to_dict() == {"a": "Health services", "b": "Police", "c": "Schools",
                                             "d": "Individual", "e": "Unknown"}
    assert out.loc["b", "primary_need_label"] == "Family in acute stress"
    assert out.loc["e", "primary_need_label"] == "Unknown"
    assert out["ethnicity_group"].to_dict() == {"a": "White", "b": "Asian or Asian British", "c": "Black or Black British",
                                                "d": "Refused or not obtained", "e": "Unknown"}
    assert out["disability_label"].to_dict() == {"a": "Disabled", "b": "Not disabled", "c": "Not disabled",
                                                 "d": "Unknown", "e": "Not disabled"}
    # the 5 rows share the 3 label strings (not one string object per row: memory at England scale)
    assert out["disability_label"].dtype == object and len({id(v) for v in out["disability_label"]}) == 3
    assert out.loc["e", "sex_label"] == "Unknown" and out.loc["b", "sex_label"] == "Female"
    assert (out["time_since_previous"] == rr.TIME_SINCE_NONE).all()
    assert (out["collection_year"] == 2025).all()


def test_time_since_previous_bands():
    refs = make_referrals([{"child": "T", "date": d} for d in
                           ["2022-01-01", "2022-01-08", "2022-01-16", "2022-04-01", "2024-06-01"]])
    out = rr.add_characteristics(rr.flag_rereferrals(refs), pd.DataFrame(
        {"child_id": ["T"], "sex": ["M"], "birth_month": pd.to_datetime(["2015-01-01"]),
         "ethnicity": ["WBRI"], "disability": [False], "collection_year": [2025]}))
    # gaps: none, 7 days, 8 days, 75 days, 792 days
    assert out["time_since_previous"].tolist() == [rr.TIME_SINCE_NONE, "Up to 7 days", "8 to 30 days",
                                                   "1 to 3 months", "Over 2 years"]


def test_breakdown_counts_rates_and_children():
    refs = make_referrals([
        {"child": "A", "date": "2024-05-01", "source": "6"}, {"child": "A", "date": "2024-07-01", "source": "6"},
        {"child": "B", "date": "2024-05-01", "source": "6"},
        {"child": "C", "date": "2024-05-01", "source": "2A"}, {"child": "C", "date": "2024-06-01", "source": "2A"},
        {"child": "C", "date": "2024-08-01", "source": "2A"},
        {"child": "D", "date": "2023-05-01", "source": "2A"},  # before the period: history only
    ])
    flags = rr.add_characteristics(rr.flag_rereferrals(refs), pd.DataFrame(
        {"child_id": list("ABCD"), "sex": ["M"] * 4, "birth_month": pd.to_datetime(["2015-01-01"] * 4),
         "ethnicity": ["WBRI"] * 4, "disability": [False] * 4, "collection_year": [2025] * 4}))
    table = rr.breakdown(flags, "source_group", *YEAR_2025).set_index("source_group")
    # Police: A May (no), A Jul (yes), B (no): 3 referrals, 1 re-referral, children 2, re-referred 1
    assert table.loc["Police", ["referrals", "rereferrals", "children_referred", "children_rereferred"]].tolist() == [3, 1, 2, 1]
    # Schools: C May (no), Jun (yes), Aug (yes): 3 referrals, 2 re-referrals, 1 child
    assert table.loc["Schools", ["referrals", "rereferrals", "children_referred", "children_rereferred"]].tolist() == [3, 2, 1, 1]
    assert table.loc["Schools", "rate"] == pytest.approx(2 / 3)
    assert table["share_of_referrals"].sum() == pytest.approx(1.0)


def test_children_with_three_or_more_referrals_in_twelve_months():
    refs = make_referrals([
        # R1: at 1 Dec 2024 the window back to 1 Dec 2023 holds Jan, Jun, Dec 2024 = 3
        {"child": "R1", "date": "2024-01-10"}, {"child": "R1", "date": "2024-06-01"}, {"child": "R1", "date": "2024-12-01"},
        # R2: never 3 within 12 months (May 23 -> Feb 24 -> Aug 24: at most 2)
        {"child": "R2", "date": "2023-05-01"}, {"child": "R2", "date": "2024-02-01"}, {"child": "R2", "date": "2024-08-01"},
        {"child": "R3", "date": "2024-05-01"},
    ])
    flags = rr.flag_rereferrals(refs, referrals_in_window=True)
    assert flags.set_index(["child_id", "referral_date"]).loc[("R1", "2024-12-01"), "referrals_in_window"] == 3
    out = rr.repeat_referral_children(flags, *YEAR_2025).iloc[0]
    # children referred in 2024-25: R1, R2, R3 = 3; with 3+: R1 = 1
    assert (out["children_referred"], out["children_repeat"]) == (3, 1)
    assert out["share"] == pytest.approx(1 / 3)


def test_ward_funnel_positions_by_hand():
    rows = []
    for i in range(200):  # ward A: 200 children x 2 referrals a month apart: 400 referrals, 200 re-referrals
        rows += [{"child": f"A{i}", "date": "2024-05-01"}, {"child": f"A{i}", "date": "2024-06-01"}]
    rows += [{"child": f"B{i}", "date": "2024-05-01"} for i in range(400)]  # ward B: 400, none
    for i in range(3):  # ward C: 3 children x 2 + 4 singles = 10 referrals, 3 re-referrals
        rows += [{"child": f"C{i}", "date": "2024-05-01"}, {"child": f"C{i}", "date": "2024-07-01"}]
    rows += [{"child": f"C{i}", "date": "2024-05-01"} for i in range(3, 7)]
    refs = make_referrals(rows)
    refs["ward_code"] = refs["child_id"].str[0].map({"A": "W_A", "B": "W_B", "C": "W_C"})
    table = rr.ward_funnel(rr.flag_rereferrals(refs), *YEAR_2025).set_index("ward_code")
    # council rate = (200 + 0 + 3) / (400 + 400 + 10) = 203 / 810
    assert table["council_rate"].iloc[0] == pytest.approx(203 / 810)
    # n=400: se = sqrt(0.2506 * 0.7494 / 400) = 0.02167; 99.8% limits 0.2506 -/+ 3.09 * 0.02167 = 0.184, 0.318
    assert table.loc["W_A", "funnel_position"] == "above 99.8%"
    assert table.loc["W_B", "funnel_position"] == "below 99.8%"
    # n=10: rate 0.3, 95% limits 0.2506 -/+ 1.96 * 0.137 = -0.018, 0.519: within
    assert table.loc["W_C", "funnel_position"] == "within"


def test_add_area_deciles_and_locality():
    refs = make_referrals([{"child": "A", "date": "2024-05-01"}, {"child": "B", "date": "2024-05-01"},
                           {"child": "C", "date": "2024-05-01"}])
    refs["lsoa_code"] = ["L1", "L2", None]
    refs["ward_code"] = ["W1", "W2", None]
    deciles = pd.DataFrame({"lsoa_code": ["L1", "L2"], "imd_decile": [1, 9], "idaci_decile": [2, 10]})
    localities = pd.DataFrame({"ward_code": ["W1"], "locality": ["North"]})
    out = rr.add_area(rr.flag_rereferrals(refs), deciles, localities).set_index("child_id")
    assert out["idaci_decile"].tolist()[:2] == [2, 10] and pd.isna(out.loc["C", "idaci_decile"])
    assert out["locality"].to_dict() == {"A": "North", "B": "Unknown", "C": "Unknown"}
    assert rr.deprivation_group(out["idaci_decile"]).tolist() == ["Most deprived 20%", "Least deprived 20%", "Unknown"]
    # deciles 1-2, 3-8, 9-10; anything else (missing, out of range) "Unknown"; rows share the label strings
    groups = rr.deprivation_group(pd.Series([1, 2, 3, 8, 9, 10, None, 11, 2], dtype="Int64"))
    assert groups.tolist() == ["Most deprived 20%"] * 2 + ["Middle 60%"] * 2 + ["Least deprived 20%"] * 2 + \
        ["Unknown"] * 2 + ["Most deprived 20%"]
    assert len({id(v) for v in groups}) == 4


def test_read_locality_map_rejects_duplicates(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("ward_code,locality\nW1,North\nW2,South\n", encoding="utf-8")
    assert rr.read_locality_map(good)["locality"].tolist() == ["North", "South"]
    bad = tmp_path / "bad.csv"
    bad.write_text("ward_code,locality\nW1,North\nW1,South\n", encoding="utf-8")
    with pytest.raises(ValueError, match="W1"):
        rr.read_locality_map(bad)


def test_collection_year_bounds():
    assert rr.collection_year(pd.Series(pd.to_datetime(["2024-03-31", "2024-04-01"]))).tolist() == [2024, 2025]
    assert rr.collection_year_bounds(2025) == (pd.Timestamp("2024-04-01"), pd.Timestamp("2025-03-31"))


def test_latest_complete_year():
    assert rr.latest_complete_year("2026-10-31") == 2026  # April 2025 - March 2026 complete
    assert rr.latest_complete_year("2026-03-31") == 2026
    assert rr.latest_complete_year("2026-03-30") == 2025
    assert rr.latest_complete_year("2026-04-01") == 2026


def test_publishable_hides_small_counts_and_their_rates_and_intervals():
    table = pd.DataFrame({"source_group": ["Police", "Schools", "Housing"], "referrals": [40, 30, 3],
                          "rereferrals": [10, 2, 1], "children_referred": [35, 28, 3], "children_rereferred": [9, 2, 1]})
    from helpers.stats import add_wilson
    table = add_wilson(table, "rereferrals", "referrals", rate="rate")
    table["share_of_referrals"] = table["referrals"] / 73
    safe = rr.publishable(table, threshold=5).set_index("source_group")
    # Police: nothing small, all shown
    assert safe.loc["Police", "rate"] == pytest.approx(0.25) and pd.notna(safe.loc["Police", "ci_low"])
    # Schools: 2 re-referrals (small): rate and interval hidden; its 30 referrals are hidden too
    # by secondary suppression (the smallest other cell), else 73 - 40 - 30 would reveal Housing's 3
    assert pd.isna(safe.loc["Schools", "rereferrals"]) and pd.isna(safe.loc["Schools", "rate"])
    assert pd.isna(safe.loc["Schools", "ci_high"]) and pd.isna(safe.loc["Schools", "referrals"])
    assert safe.loc["Police", "referrals"] == 40
    # Housing: 3 referrals (small): share of referrals hidden too
    assert pd.isna(safe.loc["Housing", "referrals"]) and pd.isna(safe.loc["Housing", "share_of_referrals"])


def test_recording_step_finds_the_month_of_the_jump():
    months = pd.date_range("2023-01-01", periods=8, freq="MS")
    view = pd.DataFrame({"month": months, "near_duplicates": [0, 0, 1, 0, 5, 6, 5, 4]})
    out = rr.recording_step(view, months=3).iloc[0]
    # candidates Apr..Jun 2023 (3 months either side): Apr: before (0+0+1)/3, after (0+5+6)/3, step 10/3;
    # May: before (0+1+0)/3 = 1/3, after (5+6+5)/3 = 16/3, step 5; Jun: before 2, after 5, step 3. Largest: May.
    assert out["month"] == pd.Timestamp("2023-05-01")
    assert out["mean_before"] == pytest.approx(1 / 3) and out["mean_after"] == pytest.approx(16 / 3)
    assert out["step"] == pytest.approx(5)


def test_alternative_definitions_follow_the_configured_base():
    base = rr.Definition("council", "365 days, anniversary excluded", window=365, unit="days", inclusive=False)
    defs = {d.name: d for d in rr.alternative_definitions(5, base)}
    assert list(defs)[0] == "dfe" and defs["dfe"].unit == "days" and defs["dfe"].inclusive is False
    # window alternatives are in calendar months; the others change one thing from the base
    assert (defs["window_6m"].window, defs["window_6m"].unit) == (6, "months")
    assert (defs["from_closure"].window, defs["from_closure"].unit, defs["from_closure"].measure_from) == (365, "days", "closure")
    assert defs["duplicates_collapsed"].collapse_duplicates_days == 5 and defs["excluding_nfa"].inclusive is False


# ------------------------------------------------- input order and child_id type (fast paths)


def mixed_history() -> pd.DataFrame:
    """Several children, with same-day pairs, open cases, NFA, near-duplicates, a child with
    no identifier and a 12-month boundary: every branch of the flag."""
    return make_referrals([
        {"child": "C2", "date": "2023-05-10", "closed": "2023-06-01", "reason": "RC8"},
        {"child": "C2", "date": "2024-05-10", "nfa": True},
        {"child": "C2", "date": "2024-05-14", "closed": "2024-09-01", "cp": True},
        {"child": "C1", "date": "2022-01-31", "closed": "2022-03-01", "cin": True},
        {"child": "C1", "date": "2023-01-31"},  # still open at the next referral
        {"child": "C1", "date": "2023-03-01", "id": "b"}, {"child": "C1", "date": "2023-03-01", "id": "a"},
        {"child": "C3", "date": "2024-02-29"}, {"child": "C3", "date": "2025-02-28"},
        {"child": None, "date": "2024-06-01"}, {"child": None, "date": "2024-07-01"},
        {"child": "C4", "date": "2024-10-01", "closed": "2024-10-20", "reason": "RC9"},
    ])


SETTINGS = [
    {}, {"inclusive": False}, {"unit": "days", "window": 365}, {"window": 6}, {"measure_from": "closure"},
    {"exclude_nfa": True}, {"collapse_duplicates_days": 7}, {"exclude_open": True},
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_flags_do_not_depend_on_row_order_or_child_id_type(settings):
    refs = mixed_history()
    base = rr.flag_rereferrals(refs, referrals_in_window=True, **settings)
    known = refs.dropna(subset=["child_id"])  # other children's flags do not depend on the missing-id rows
    base_known = base.dropna(subset=["child_id"])
    ordered = refs.sort_values(["child_id", "referral_date", "referral_id"], na_position="first").reset_index(drop=True)
    variants = [
        (ordered, base),  # sorted but with missing ids: hashed
        (known.sort_values(["child_id", "referral_date", "referral_id"]), base_known),  # sorted fast path
        (known.sort_values(["child_id", "referral_date"], ascending=[True, False]), base_known),  # sorted ids, dates not
        (refs.assign(child_id=refs["child_id"].astype("category")), base),  # categorical codes
        (refs.iloc[::-1], base),  # any order
    ]
    for variant, expected in variants:
        got = rr.flag_rereferrals(variant, referrals_in_window=True, **settings)
        assert list(got.columns) == list(expected.columns)
        # the kept referrals, in the variant's own order and index
        assert got.index.equals(variant.index[variant.index.isin(got.index)])
        pd.testing.assert_frame_equal(
            got.drop(columns="child_id").sort_values("referral_id").reset_index(drop=True),
            expected.drop(columns="child_id").sort_values("referral_id").reset_index(drop=True))
        assert got["child_id"].astype(object).tolist() == variant.loc[got.index, "child_id"].astype(object).tolist()


def test_sorted_input_keeps_input_order_and_index():
    refs = mixed_history()
    ordered = refs.sort_values(["child_id", "referral_date", "referral_id"]).dropna(subset=["child_id"])
    ordered.index = ordered.index * 10 + 7  # an index that is not 0..n-1
    flags = rr.flag_rereferrals(ordered)
    assert flags.index.equals(ordered.index)
    assert flags["referral_id"].tolist() == ordered["referral_id"].tolist()
    # C1: Jan 22 (first), Jan 23 (12 months to the day: re-referral), Mar 23 "a" then "b" (same day)
    c1 = flags[flags["child_id"] == "C1"].set_index("referral_id")["is_rereferral"]
    assert c1.tolist() == [False, True, True, True]


def test_referrals_in_window_only_when_asked():
    refs = mixed_history()
    plain = rr.flag_rereferrals(refs)
    assert "referrals_in_window" not in plain.columns
    full = rr.flag_rereferrals(refs, referrals_in_window=True)
    pd.testing.assert_frame_equal(full.drop(columns="referrals_in_window"), plain)
    # flag_definition (the report's path) adds it, so repeat_referral_children works on its output
    assert "referrals_in_window" in rr.flag_definition(refs, rr.DFE).columns
    with pytest.raises(KeyError, match="referrals_in_window"):
        rr.repeat_referral_children(plain, *YEAR_2025)


@pytest.mark.parametrize("kind", ["object", "categorical", "sorted", "shuffled"])
def test_rates_count_distinct_children_like_nunique(kind):
    refs = mixed_history()
    if kind == "categorical":
        refs = refs.assign(child_id=refs["child_id"].astype("category"))
    elif kind == "sorted":
        refs = refs.sort_values(["child_id", "referral_date", "referral_id"]).reset_index(drop=True)
    elif kind == "shuffled":
        refs = refs.sample(frac=1, random_state=3)
    flags = rr.flag_rereferrals(refs)
    for period in (YEAR_2025, ("2022-04-01", "2023-03-31"), ("2010-01-01", "2030-12-31"), ("1990-01-01", "1990-12-31")):
        rates = rr.rereferral_rates(flags, *period).iloc[0]
        sub = flags[flags["counted"] & flags["referral_date"].between(*map(pd.Timestamp, period))]
        assert rates["referrals"] == len(sub)
        assert rates["children_referred"] == sub["child_id"].nunique()  # missing ids not counted
        assert rates["children_rereferred"] == sub.loc[sub["is_rereferral"], "child_id"].nunique()
    # 2024-25 by hand: C2 May (re), C2 May 14 (re), C3 Feb 25 (re: 29 Feb + 12 months = 28 Feb),
    # C4 Oct (first), two referrals with no child id (the second a re-referral of the "missing" group).
    rates = rr.rereferral_rates(flags, *YEAR_2025).iloc[0]
    assert (rates["referrals"], rates["rereferrals"]) == (6, 4)
    assert (rates["children_referred"], rates["children_rereferred"]) == (3, 2)


def test_child_codes_fast_paths_match_factorize():
    cases = [["a", "b", "b", "c"], ["a", None, "b"], [np.nan, np.nan], ["a", "a", np.nan], ["b", "a", "b"],
             ["x"], [np.nan], [3, 3, 5], [1.0, np.nan, 2.0], pd.array(["a", "a", pd.NA, "b"], dtype="string")]
    for values in cases:
        s = pd.Series(values)
        got, n = rr._child_codes(s)
        want, uniques = pd.factorize(s)
        # same grouping (codes may be numbered differently), missing ids -1, all codes < n
        assert ((got == -1) == (want == -1)).all()
        assert len(set(zip(got.tolist(), want.tolist()))) == len(set(want.tolist()))
        assert (got < n).all() and rr._count_distinct(got, n) == len(uniques)


def _sex_table(female, indeterminate, male):
    from helpers.stats import add_wilson

    t = pd.DataFrame({"group": ["Female", "Indeterminate", "Male"],
                      "referrals": [female[0], indeterminate[0], male[0]], "rereferrals": [female[1], indeterminate[1], male[1]]})
    return add_wilson(t, "rereferrals", "referrals", rate="rate")


def test_large_group_hidden_only_as_a_complement_shows_a_whole_percent_rate():
    # Referrals: Indeterminate 3 (primary) -> Female 2,670 (the smaller large group) hidden too.
    # Re-referrals: 0 for Indeterminate is shown, so Female's 655 is shown. An attacker knows
    # Female + Indeterminate = 5,480 - 2,807 = 2,673, so Female is 2,668..2,672 and 655 / that is
    # 24.51%..24.55%: every case rounds to 25%, so 25% narrows nothing. Interval left out.
    safe = rr.publishable(_sex_table((2670, 655), (3, 0), (2807, 673)), 5)
    assert safe["rate"].iloc[0] == pytest.approx(0.25)
    assert pd.isna(safe["ci_low"].iloc[0]) and pd.isna(safe["referrals"].iloc[0])
    assert pd.isna(safe["rate"].iloc[1])
    from helpers.publishing import disclosure

    disclosure.check_safe(safe, 5)


def test_whole_percent_rate_withheld_when_it_would_narrow_the_small_count():
    # Female 60 referrals, 30 re-referrals; Indeterminate 2, 0. Female is 57..61 (62 - 1..5):
    # 30/57 = 53%, 30/58 = 52%, 30/59 = 51%, 30/60 = 50%, 30/61 = 49%: each value of the hidden
    # count gives a different whole percent, so showing 50% would give the 2 back: withheld.
    safe = rr.publishable(_sex_table((60, 30), (2, 0), (100, 40)), 5)
    assert pd.isna(safe["rate"].iloc[0])


def test_left_lookup_is_a_left_merge_on_a_unique_key():
    # hand-made: child C has no row in the lookup (NaN/NaT, bool column becomes object as in a
    # merge); a missing key matches the lookup's missing key, as pandas merges do; the left
    # frame's index is replaced by 0..n-1, its columns are shared (not copied)
    from helpers.rereferrals.measure import _left_lookup

    left = pd.DataFrame({"child_id": ["A", "B", "C", None, "A"], "x": [1, 2, 3, 4, 5]}, index=[10, 11, 12, 13, 14])
    right = pd.DataFrame({"child_id": ["A", "B", None, "D"], "sex": ["M", "F", "U", "M"],
                          "birth": pd.to_datetime(["2010-01-01", "2011-01-01", None, "2012-01-01"]),
                          "disabled": [True, False, True, False], "n": pd.array([1, None, 3, 4], dtype="Int64")})
    out = _left_lookup(left, right, "child_id")
    assert list(out.index) == [0, 1, 2, 3, 4]
    assert out["sex"].tolist()[:2] == ["M", "F"] and pd.isna(out["sex"][2]) and out["sex"].tolist()[3:] == ["U", "M"]
    assert out["disabled"].dtype == object and out["disabled"].tolist()[:2] == [True, False] and pd.isna(out["disabled"][2])
    assert str(out["n"].dtype) == "Int64" and out["n"].tolist()[0] == 1 and out["n"].isna().tolist() == [False, True, True, False, False]
    assert pd.isna(out["birth"][2]) and out["birth"][4] == pd.Timestamp("2010-01-01")
    pd.testing.assert_frame_equal(out, left.merge(right, on="child_id", how="left", validate="many_to_one"))
    assert "sex" not in left.columns                          # the caller's frame is untouched
    all_found = _left_lookup(left.iloc[:2], right, "child_id")
    assert all_found["disabled"].dtype == bool                # every child found: stays bool
