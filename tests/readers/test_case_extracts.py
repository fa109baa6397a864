"""Tests for helpers.readers.case_extracts, plus the high-fault demo check across every reader.

child_addresses.csv by hand: A1 two addresses (QX4 7AB to 31/12/2022, then qx47cd current);
B2 the same row twice (line 5 excluded); blank LAchildID (line 6); C3 an address ending before
it starts (line 7) and a current one from 01/07/2022; E5 a start date in ISO form (line 9).
referrals_flat.csv by hand: mirrors cin_2023.xml for A1/B2/C3 (B2's row twice, C3 closed before
referred, C3's second row with bad codes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers.readers.case_extracts import (ADDRESS_COLUMNS, attach_ward, postcode_sector, read_address_extract,
                                   read_flat_referrals)
from helpers.readers.cin_census import REFERRAL_COLUMNS, read_cin_census
from helpers.readers.ledger import ReaderError
from helpers.readers.ssda903 import read_ssda903

FIX = Path(__file__).parents[1] / "fixtures" / "readers"


def test_address_extract_rules_and_degrading():
    addr, led = read_address_extract(FIX / "child_addresses.csv")
    assert list(addr.columns) == ADDRESS_COLUMNS
    # 8 rows read; excluded lines 5 (duplicate), 6 (no id), 7 (end before start), 9 (ISO date)
    assert led.summary().iloc[0][["rows_read", "rows_used", "rows_excluded"]].tolist() == [8, 4, 4]
    assert sorted(led.issues()["row"].tolist()) == [5, 6, 7, 9]
    assert addr["postcode_sector"].tolist() == ["QX4 7", "QX4 7", "QX1 2", "QX9 9"]   # never the full postcode
    assert pd.isna(addr.loc[1, "end_date"]) and addr.loc[0, "end_date"] == pd.Timestamp("2022-12-31")


@pytest.mark.parametrize("raw, sector", [("QX4 7AB", "QX4 7"), ("qx47ab", "QX4 7"), (" SW1A 1AA ", "SW1A 1"),
                                         ("QX4 7", "QX4 7"), ("M1 1AE", "M1 1"), ("NOT A POSTCODE", None), ("", None)])
def test_postcode_sector(raw, sector):
    got = postcode_sector(pd.Series([raw], dtype=object)).iloc[0]
    assert got == sector if sector else got is None


def test_unrecognised_postcode_is_repaired(tmp_path):
    path = tmp_path / "addr.csv"
    path.write_text("LAchildID,Postcode,AddressStartDate\nA1,12345,01/01/2020\n", encoding="utf-8")
    addr, led = read_address_extract(path)
    assert addr["postcode_sector"].isna().all()
    assert led.issues()["rule"].tolist() == ["postcode not recognised: sector set to missing"]


def test_address_extract_missing_column(tmp_path):
    path = tmp_path / "addr.csv"
    path.write_text("LAchildID,Postcode\nA1,QX4 7AB\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"addr\.csv, line 1, field AddressStartDate: required column missing"):
        read_address_extract(path)


def test_flat_referrals_match_the_census_rules():
    flat = read_flat_referrals(FIX / "referrals_flat.csv")
    assert list(flat.referrals.columns) == REFERRAL_COLUMNS
    # 6 rows: B2 duplicate (line 5) and C3 closed before referred (line 6) excluded
    assert flat.referrals["referral_id"].tolist() == ["A1|2022-05-03", "A1|2023-02-10", "B2|2022-07-01",
                                                      "C3|2022-08-15"]
    c3 = flat.referrals.iloc[3]
    assert c3["referral_source"] is None and pd.isna(c3["closure_date"]) and c3["closure_reason"] is None
    kids = flat.children.set_index("child_id")
    assert kids.loc["A1", "birth_month"] == pd.Timestamp("2015-06-01")
    assert kids.loc["C3", "sex"] == "U" and bool(kids.loc["C3", "disability"])
    assert set(flat.referrals["collection_year"]) == {2023}   # all referral dates Apr 2022 - Mar 2023
    flat.ledger.check_reconciles()


def test_flat_referrals_wrong_file(tmp_path):
    path = tmp_path / "flat.csv"
    path.write_text("LAchildID,ReferralDate\nA1,01/02/2023\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"field ReferralSource: required column missing; expected a flat referrals"):
        read_flat_referrals(path)


def test_attach_ward_in_force_nearest_none():
    addresses = pd.DataFrame({
        "child_id": ["A", "A", "B"], "postcode_sector": ["QX1 1"] * 3,
        "lsoa_code": ["L1", "L2", "L3"], "ward_code": ["W1", "W2", "W3"],
        "start_date": pd.to_datetime(["2020-01-01", "2022-01-01", "2023-06-01"]),
        "end_date": pd.to_datetime(["2021-12-31", None, None]),
    })
    referrals = pd.DataFrame({"child_id": ["A", "A", "B", "C"],
                              "referral_date": pd.to_datetime(["2021-05-01", "2023-01-01", "2023-05-01", "2023-01-01"])})
    out = attach_ward(referrals, addresses)
    # A 2021-05-01 inside W1's period; A 2023 inside W2 (current); B 2023-05-01 is 31 days before
    # its only address starts -> nearest W3; C has no address
    assert out["ward_code"].tolist()[:3] == ["W1", "W2", "W3"] and pd.isna(out["ward_code"].iloc[3])
    assert out["address_match"].tolist() == ["in force", "in force", "nearest", "none"]
    assert out.attrs["address_match_counts"] == {"in force": 2, "nearest": 1, "none": 1}


def test_high_fault_demo_every_source_reconciles_and_reports_faults(tmp_path):
    demo = pytest.importorskip("helpers.demo")
    out = Path(demo.generate(tmp_path / "demo", seed=3, years=3, scale=0.3, faults="high"))
    faults = json.loads((out / "faults.json").read_text(encoding="utf-8"))
    cin = read_cin_census(out / "cin")
    lac = read_ssda903(out / "ssda903")
    _, addr_ledger = read_address_extract(out / "addresses" / "child_addresses.csv")
    flat = read_flat_referrals(out / "referrals_flat.csv")
    for ledger in (cin.ledger, lac.ledger, addr_ledger, flat.ledger):
        ledger.check_reconciles()
        summ = ledger.summary()
        assert (summ["rows_read"] == summ["rows_used"] + summ["rows_excluded"]).all()
    rules = lambda led: led.issues().query("field != 'CINdetails'")["rule"].value_counts()  # noqa: E731
    cin_rules, lac_rules = rules(cin.ledger), rules(lac.ledger)
    # each injected fault is reported exactly once
    assert cin_rules.get("duplicate: same child and referral date twice in one collection year", 0) \
        == faults["cin"]["duplicate_referral"] > 0
    assert cin_rules.get("closure reason without closure date: treated as open", 0) == faults["cin"]["missing_closure_date"]
    assert lac_rules.get("overlapping episodes: DEC set to the next DECOM", 0) == faults["ssda903"]["overlapping_episode"]
    assert lac_rules.get("PLACE code not valid in the collection year: kept, category Other", 0) \
        == faults["ssda903"]["unknown_place"]
    assert lac_rules.get("PLACE_PROVIDER code not recognised: set to missing", 0) == faults["ssda903"]["unknown_provider"]
    assert lac_rules.get("episode ends before it starts (DEC before DECOM)", 0) == faults["ssda903"]["dec_before_decom"]
    # the flat export holds the census's referrals and, besides, the referrals received while a case
    # was open (the census cannot hold them): each of those falls inside an open census episode
    census_ids, flat_ids = set(cin.referrals["referral_id"]), set(flat.referrals["referral_id"])
    assert census_ids <= flat_ids
    extra = flat.referrals[~flat.referrals["referral_id"].isin(census_ids)]
    assert 0 < len(extra) < 0.1 * len(flat.referrals)
    pairs = extra[["child_id", "referral_date"]].merge(cin.referrals[["child_id", "referral_date", "closure_date"]],
                                                       on="child_id", suffixes=("", "_ep"))
    inside = pairs[(pairs["referral_date_ep"] < pairs["referral_date"])
                   & (pairs["closure_date"].isna() | (pairs["closure_date"] > pairs["referral_date"]))]
    assert inside[["child_id", "referral_date"]].drop_duplicates().shape[0] == len(extra)
