"""Tests for helpers.readers.schemas: parsing helpers, the row-rule engine and the pandera output schemas."""

from __future__ import annotations

import pandas as pd
import pandera.errors
import pytest

from helpers.readers.ledger import Ledger
from helpers.readers.schemas import RowChecks, code_not_in, parse_dates, place_invalid_for_year, to_month, validate


def test_parse_dates_flags_text_that_is_not_a_date():
    dates, bad = parse_dates(pd.Series(["01/02/2023", "31/02/2023", "", None, " 05/03/2024 "]), "%d/%m/%Y")
    assert dates.dtype == "datetime64[ns]"
    assert dates.iloc[0] == pd.Timestamp("2023-02-01") and dates.iloc[4] == pd.Timestamp("2024-03-05")
    # 31 February is text but not a date; blanks are missing, not bad
    assert bad.tolist() == [False, True, False, False, False]


def test_to_month():
    out = to_month(pd.Series(pd.to_datetime(["2015-06-14", None])))
    assert out.iloc[0] == pd.Timestamp("2015-06-01") and pd.isna(out.iloc[1])


# H5, P2 and Z1 are still valid in 2024-25 (the DfE 903 validator's 2024-25 PLACE list keeps them
# beside the new K3) and withdrawn from 2025-26 (helpers.readers.specs)
@pytest.mark.parametrize("place, year, invalid", [
    ("H5", 2025, False), ("H5", 2026, True), ("P2", 2025, False), ("P2", 2026, True), ("Z1", 2026, True),
    ("K3", 2024, True), ("K3", 2025, False),
    ("Z11", 2025, True), ("Z11", 2026, False), ("U4", 2019, False), ("XX", 2024, True), (None, 2024, False),
])
def test_place_codes_by_collection_year(place, year, invalid):
    got = place_invalid_for_year(pd.Series([place], dtype=object), pd.Series([year]))
    assert bool(got.iloc[0]) is invalid


def test_row_checks_exclude_once_and_reconcile():
    df = pd.DataFrame({"_source": "f.csv", "_row": [2, 3, 4, 5], "code": ["A", "Z", None, "Z"], "n": [1, -1, 1, -1]})
    led = Ledger()
    led.add_read("f.csv", 4)
    rc = RowChecks(df, led)
    rc.exclude(df["n"] < 0, "negative", "n", df["n"])             # lines 3 and 5
    rc.exclude(df["code"].eq("Z"), "code Z", "code", "Z")           # lines 3 and 5 already gone: no-op
    rc.repair(code_not_in(df["code"], {"A"}) | df["code"].isna(), "fill", "code", "x", "code", "A")  # line 4
    kept = rc.finish()
    assert kept["_row"].tolist() == [2, 4] and kept["code"].tolist() == ["A", "A"]
    issues = led.issues()
    assert issues[["row", "rule"]].values.tolist() == [[3, "negative"], [5, "negative"], [4, "fill"]]
    led.check_reconciles()


def _referrals(**overrides):
    frame = pd.DataFrame({
        "referral_id": ["A|2023-01-02"], "child_id": ["A"], "referral_date": pd.to_datetime(["2023-01-02"]),
        "referral_source": ["2A"], "primary_need": ["N1"], "closure_date": pd.to_datetime(["2023-02-01"]),
        "closure_reason": ["RC7"], "referral_nfa": [False], "n_assessments": [1], "has_cin_plan": [False],
        "has_s47": [False], "has_cp_plan": [False], "collection_year": [2023], "source_file": ["x.xml"],
    })
    for key, value in overrides.items():
        frame[key] = value
    return frame


def test_referral_schema_accepts_a_good_frame():
    validate("cin_referrals", _referrals())


@pytest.mark.parametrize("overrides, check", [
    ({"closure_date": pd.to_datetime(["2022-12-01"])}, "referral_date not after closure_date"),
    ({"referral_source": ["99"]}, "isin"),
    ({"closure_date": pd.to_datetime([None]), "closure_reason": ["RC7"]}, "closure reason only with closure date"),
    ({"referral_date": ["2023-01-02"]}, "dtype"),
])
def test_referral_schema_rejects_bad_frames(overrides, check):
    with pytest.raises(pandera.errors.SchemaErrors, match=check):
        validate("cin_referrals", _referrals(**overrides))


def test_referral_schema_rejects_missing_column_and_duplicates():
    with pytest.raises(pandera.errors.SchemaErrors, match="primary_need"):
        validate("cin_referrals", _referrals().drop(columns="primary_need"))
    two = pd.concat([_referrals(), _referrals()], ignore_index=True)
    with pytest.raises(pandera.errors.SchemaErrors, match="unique"):
        validate("cin_referrals", two)


def test_episode_schema_date_logic():
    ep = pd.DataFrame({
        "child_id": ["L1"], "decom": pd.to_datetime(["2023-05-01"]), "rne": ["S"], "ls": ["C2"], "cin": ["N1"],
        "place": ["U4"], "place_provider": ["PR1"], "dec": pd.to_datetime(["2023-04-01"]), "rec": ["E13"],
        "reason_place_change": [None], "home_post": ["QX4 7AB"], "pl_post": ["QX1 2CD"], "urn": [None],
        "collection_year": [2024], "source_file": ["2024/episodes.csv"],
    })
    with pytest.raises(pandera.errors.SchemaErrors, match="decom not after dec"):
        validate("903_episodes", ep)
    ep["dec"] = pd.to_datetime(["2023-06-01"])
    validate("903_episodes", ep)


@pytest.mark.parametrize("code, category", [("U1", "Fostering: kinship"), ("K2", "Children's home"),
                                            ("ZZ", "Other"), (None, "Other")])
def test_placement_category_of_unknown_code_is_other(code, category):
    from helpers.codes import placement_category
    assert placement_category(code) == category


def test_require_date_excludes_blank_then_unparseable_dates():
    # rows: 2 = a good date, 3 = blank, 4 = "31/02/2024" (not a date), 5 = ISO (not dd/mm/yyyy)
    raw = pd.Series(["01/04/2024", None, "31/02/2024", "2024-04-01"])
    df = pd.DataFrame({"DECOM": raw, "_source": "e.csv", "_row": [2, 3, 4, 5]})
    led = Ledger()
    led.add_read("e.csv", 4)
    dates, bad = parse_dates(raw, "%d/%m/%Y")
    rc = RowChecks(df, led)
    rc.require_date(dates, bad, "DECOM", "DECOM", raw)
    kept = rc.finish()
    assert kept["_row"].tolist() == [2]
    issues = led.issues().set_index("row")
    assert issues.loc[3, "rule"] == "DECOM missing"
    assert issues.loc[4, "rule"] == issues.loc[5, "rule"] == "DECOM not a date (expected dd/mm/yyyy)"
    led.check_reconciles()
