"""Annex A reader on a hand-made workbook: renamed headings, coded and uncoded categories, Excel
and text dates, extra columns, title and blank rows. Every expected value below was worked out by
hand from the rows written in the test."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from openpyxl import Workbook

from helpers.readers import annex_a
from helpers.readers.ledger import ReaderError


def _workbook(path):
    wb = Workbook()
    ws = wb.active
    ws.title = "Contents"
    ws.append(["This workbook holds Annex A lists"])
    # List 3 with a title row, renamed headings, an extra column, a blank row, mixed dates and codes
    l3 = wb.create_sheet("List 3 Referrals")
    l3.append(["Annex A List 3: referrals in the last six months"])
    l3.append(["Child ID", "Sex", "Ethnic group", "DOB", "Age", "Referral Date", "Source of referral",
               "NFA?", "No. of referrals in last 12 months", "Team", "Allocated Worker", "Notes"])
    l3.append(["C1", "a) Male", "a) White", dt.datetime(2015, 5, 3), 11, dt.datetime(2026, 6, 1), "g) Police",
               "b) No", 1, "North Team", "Jo Bloggs", "anything"])
    l3.append(["C2", "F", "BAFR", "03/02/2010", 16, "15/07/2026", "Schools", "Yes", "2", "South Team", "Al Smith", None])
    l3.append([None, None, None, None, None, None, None, None, None, None, None, None])          # blank row
    l3.append(["C3", "2 - Female", "Mixed", "2012-01-09", 14, 46234, "d) Health services", "N", 3, "North Team", "Jo Bloggs", None])
    l3.append(["C4", "Wizard", "x", "31/02/2010", 16, "01/08/2026", "Police", "No", "three", "South Team", "Al Smith", None])
    l3.append(["", "M", "White", None, None, "02/08/2026", "Police", "No", 1, "North Team", "Jo Bloggs", None])    # no child id
    l3.append(["C5", "M", "White", None, None, "next week", "Police", "No", 1, "North Team", "Jo Bloggs", None])   # bad key date
    l3.append(["C1", "a) Male", "a) White", dt.datetime(2015, 5, 3), 11, "01/06/2026", "g) Police", "b) No", 1, "North Team", "Jo Bloggs", None])  # duplicate
    l3.append(["C6", "M", "White", None, None, "05/11/2026", "Police", "No", 1, "North Team", "Jo Bloggs", None])  # after extract date
    # List 8 named "L8", with curly quotes and a stray bracket in headings
    l8 = wb.create_sheet("L8")
    l8.append(["Child Unique ID", "Gender", "Ethnicity", "Date of Birth", "Age",
               "Unaccompanied Asylum Seeking Child (UASC) within the Last 12 Months (Y/N))", "Does the Child have a Disability",
               "Date Started to be Looked After", "Child\u2019s Category of Need", "Child's Legal Status",
               "Number of Placements in the Last 12 months", "Date Ceased to be Looked After", "Start Date of Most Recent Placement",
               "Placement Type", "Placement Provider", "Placement postcode", "Placement Location", "Allocated Team", "Allocated Worker"])
    l8.append(["C7", "b) Female", "f) Not stated", "01/01/2012", 14, "b) No", "No", dt.datetime(2025, 1, 10), "a) Abuse or neglect (N1)",
               "b) Full care orders (C2)", 2, None, "01/09/2026", "h) Children's homes", "b) Private", "AB1 2CD", "b) Out", "CLA Team", "Kim Lee"])
    l8.append(["C8", "1 - Male", "WBRI", "14/03/2009", 17, "Y", "Unknown", "20/05/2026", "N4", "V2", 1, None, "20/05/2026",
               "U4", "PR1", "AB3 4EF", "In", "CLA Team", "Kim Lee"])
    wb.save(path)


@pytest.fixture()
def book(tmp_path):
    path = tmp_path / "annex_a.xlsx"
    _workbook(path)
    (tmp_path / "list_7_cp.csv").write_text(
        "Child Unique Identifier,Gender,Ethnicity,Date of Birth,Age of Child (Years),Does the Child have a Disability,"
        "CP Plan Start Date,Initial Category of Abuse,Latest Category of Abuse,CP Plan End Date,"
        "Number of Previous Child Protection Plans,Allocated Team,Allocated Worker,Extra\n"
        "C9,Male,White,01/01/2020,6,No,01/04/2026,a) Neglect,Emotional abuse,,0,Safeguarding,Pat Doe,x\n"
        ",,,,,,,,,,,,,\n"
        "C9,Male,White,01/01/2020,6,No,01/04/2026,a) Neglect,Emotional abuse,,0,Safeguarding,Pat Doe,x\n",
        encoding="utf-8")
    return tmp_path


def test_list3_values(book):
    a = annex_a.read_annex_a(book, as_at="2026-10-31")
    r = a.referrals.set_index("child_id")
    assert list(r.index) == ["C2", "C3", "C4", "C1"]          # C1's duplicate: the later row is kept
    assert r.loc["C1", "sex"] == "M" and r.loc["C2", "sex"] == "F" and r.loc["C3", "sex"] == "F"
    assert r.loc["C4", "sex"] is None                          # "Wizard": not recognised, repaired to blank
    assert r.loc["C2", "ethnicity"] == "Black or Black British" and r.loc["C3", "ethnicity"] == "Mixed"
    assert r.loc["C1", "referral_date"] == pd.Timestamp("2026-06-01")            # text date on the kept copy
    assert r.loc["C2", "referral_date"] == pd.Timestamp("2026-07-15")
    assert r.loc["C3", "referral_date"] == pd.Timestamp("2026-07-31")            # Excel serial 46234
    assert r.loc["C3", "date_of_birth"] == pd.Timestamp("2012-01-09")
    assert pd.isna(r.loc["C4", "date_of_birth"])                                  # 31/02: not a date, blank
    assert list(r["referral_source"]) == ["Schools", "Health services", "Police", "Police"]
    assert list(r["referral_nfa"]) == ["Yes", "No", "No", "No"]
    assert list(r["referrals_12m"].astype("float").fillna(-1)) == [2, 3, -1, 1]  # "three" -> blank
    assert list(r["allocated_team"]) == ["South Team", "North Team", "South Team", "North Team"]
    assert "allocated_worker" not in a.referrals.columns and "Notes" not in a.referrals.columns
    assert a.worker_names >= {"Jo Bloggs", "Al Smith", "Kim Lee", "Pat Doe"}


def test_ledger_reconciles_every_list(book):
    a = annex_a.read_annex_a(book, as_at="2026-10-31")
    a.ledger.check_reconciles()
    s = a.ledger.summary().set_index("source")
    # List 3: 8 non-blank rows; no id, bad date, C1's first copy, after extract date excluded -> 4 used
    assert s.loc["annex_a.xlsx:List 3", "rows_read"] == 8
    assert s.loc["annex_a.xlsx:List 3", "rows_excluded"] == 4
    assert s.loc["annex_a.xlsx:List 3", "rows_used"] == 4
    assert s.loc["annex_a.xlsx:List 8", "rows_read"] == 2 and s.loc["annex_a.xlsx:List 8", "rows_used"] == 2
    assert s.loc["list_7_cp.csv:List 7", "rows_read"] == 2 and s.loc["list_7_cp.csv:List 7", "rows_used"] == 1
    rules = a.ledger.by_rule().set_index("rule")["rows"]
    assert rules["child identifier missing"] == 1
    assert rules["referral date not a date (expected dd/mm/yyyy)"] == 1
    assert rules["referral date after the extract date"] == 1
    assert rules["Gender not recognised: set to blank"] == 1
    assert rules["Number of Referrals in Last 12 Months not a whole number: set to blank"] == 1


def test_list8_and_list7(book):
    a = annex_a.read_annex_a(book, as_at="2026-10-31")
    c = a.cla.set_index("child_id")
    assert c.loc["C7", "sex"] == "F" and c.loc["C8", "sex"] == "M"
    assert c.loc["C7", "uasc"] == "No" and c.loc["C8", "uasc"] == "Yes"
    assert c.loc["C7", "category_of_need"] == "N1" and c.loc["C8", "category_of_need"] == "N4"
    assert c.loc["C7", "cla_start"] == pd.Timestamp("2025-01-10")
    assert c.loc["C7", "placement_type"] == "Children's homes" and c.loc["C8", "placement_type"] == "Foster placement"
    assert c.loc["C7", "placement_provider"] == "Private" and c.loc["C8", "placement_provider"] == "Own LA"
    assert c.loc["C7", "placement_location"] == "Out" and c.loc["C8", "placement_location"] == "In"
    assert c.loc["C7", "placements_12m"] == 2
    assert c.loc["C7", "allocated_team"] == "CLA Team"
    cp = a.cp
    assert list(cp["child_id"]) == ["C9"] and cp["initial_category"].iloc[0] == "NEG" and cp["latest_category"].iloc[0] == "EMO"
    assert cp["cpp_start"].iloc[0] == pd.Timestamp("2026-04-01")
    assert a.cin.empty and list(a.cin.columns)[:2] == ["child_id", "sex"]


def test_default_as_at_is_latest_date(book):
    a = annex_a.read_annex_a(book)
    assert a.as_at == pd.Timestamp("2026-11-05")     # C6's referral is the latest event date
    assert "C6" in set(a.referrals["child_id"])


@pytest.mark.parametrize("raw, name, expected", [
    ("a) Male", "sex", "M"), ("Male", "sex", "M"), ("M", "sex", "M"), ("1 - Male", "sex", "M"), ("1", "sex", "M"),
    ("b) Female", "sex", "F"), ("2 - Female", "sex", "F"), ("c) Not stated/recorded", "sex", "U"), ("d) Neither", "sex", "U"),
    ("g) Police", "referral_source", "Police"), ("6", "referral_source", "Police"), ("Police", "referral_source", "Police"),
    ("a) Abuse or neglect (N1)", "need", "N1"), ("N5", "need", "N5"), ("Family dysfunction", "need", "N5"),
    ("Abuse or neglect (N1)", "need", "N1"), ("U4", "placement_type", "Foster placement"),
    ("K2", "placement_type", "Children's homes"), ("h) Children's homes", "placement_type", "Children's homes"),
    ("WBRI", "ethnicity", "White"), ("WBRI - White British", "ethnicity", "White"), ("APKN", "ethnicity", "Asian or Asian British"),
    ("REFU", "ethnicity", "Not stated"), ("Y", "yes_no", "Yes"), ("b) No", "yes_no", "No"),
    ("Wizard", "sex", None), ("z) Nothing", "need", None),
])
def test_categories(raw, name, expected):
    assert annex_a._Normaliser(name)(raw) == expected


@pytest.mark.parametrize("value, expected", [
    (dt.datetime(2026, 3, 1, 0, 0), "2026-03-01"), ("01/03/2026", "2026-03-01"), ("1/3/2026", "2026-03-01"),
    ("01-03-2026", "2026-03-01"), ("2026-03-01", "2026-03-01"), (46082, "2026-03-01"), ("46082", "2026-03-01"),
])
def test_dates(value, expected):
    d, ok = annex_a.parse_date(value)
    assert ok and d == pd.Timestamp(expected)


def test_unreadable_dates():
    for value in ("31/02/2026", "March 2026", "03/30/2026"):
        assert annex_a.parse_date(value) == (None, False)
    assert annex_a.parse_date("") == (None, True)


def test_list_names():
    assert annex_a.list_number("List 3") == 3
    assert annex_a.list_number("List_8 CLA") == 8
    assert annex_a.list_number("L6") == 6
    assert annex_a.list_number("Contents") is None


def test_missing_key_column_names_file(tmp_path):
    (tmp_path / "list_3.csv").write_text("Child Unique ID,Gender\nC1,M\n", encoding="utf-8")
    with pytest.raises(ReaderError, match=r"list_3\.csv, List 3, row 1, field Date of referral: required column missing"):
        annex_a.read_annex_a(tmp_path)


def test_no_lists(tmp_path):
    (tmp_path / "other.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ReaderError, match="no Annex A list"):
        annex_a.read_annex_a(tmp_path)


def test_workbook_people_for_the_publishing_guard(book):
    from helpers.publishing import run as publish
    ids, dobs, workers = annex_a.workbook_people(book / "annex_a.xlsx")
    assert {"C1", "C2", "C3", "C7", "C8"} <= ids
    assert dt.date(2015, 5, 3) in dobs and dt.date(2010, 2, 3) in dobs
    assert workers == {"Jo Bloggs", "Al Smith", "Kim Lee"}
    found = publish.collect_identifiers([book])
    assert {"Jo Bloggs", "Al Smith", "Kim Lee", "Pat Doe"} <= found.workers   # the workbook and the List 7 CSV
    assert [f.kind for f in publish.scan_text("Kim Lee holds 12 cases", "page", found)] == ["worker name"]
    assert publish.scan_text("Children in Care 1 holds 12 cases", "page", found) == []


def test_only_lists_empties_the_others_and_keeps_their_ledger_rows_out(book):
    whole = annex_a.read_annex_a(book, as_at="2026-10-31")
    eight = annex_a.only_lists(whole, (8,))
    assert eight.cla.equals(whole.cla) and len(eight.cla) == 2
    for name in ("referrals", "cin", "cp"):
        assert getattr(eight, name).empty
        assert list(getattr(eight, name).dtypes) == list(getattr(whole, name).dtypes)
    # the ledger as if only List 8 had been read: 2 rows read, 2 used
    assert eight.ledger.summary()[["source", "rows_read", "rows_used"]].values.tolist() == [["annex_a.xlsx:List 8", 2, 2]]
    assert eight.as_at == whole.as_at and sorted(eight.lists_found) == [8]
    assert annex_a.only_lists(whole, annex_a.ALL_LISTS) is whole
    with pytest.raises(ValueError, match="not 5"):
        annex_a.only_lists(whole, (5,))


def test_load_configured_reads_once_at_the_extract_date(book, tmp_path_factory, monkeypatch):
    import json

    from helpers.readers import input_cache

    elsewhere = tmp_path_factory.mktemp("council")  # outside the Annex A folder, whose files are the key
    monkeypatch.delenv(input_cache.ENV_HASHES, raising=False)
    monkeypatch.setenv(input_cache.ENV_DIR, str(elsewhere / "cache"))
    tmp_path = elsewhere
    meta = tmp_path / "council.json"
    meta.write_text(json.dumps({"as_at": "2026-10-31"}), encoding="utf-8")
    cfg = {"_root": tmp_path, "publish": {}, "data": {"annex_a": book, "council_meta": meta}}
    first = annex_a.load_configured(cfg)
    eight = annex_a.load_configured(cfg, lists=(8,))
    assert [e["action"] for e in input_cache.EVENTS[-2:]] == ["parsed", "cached"]   # one parse for both
    # the extract date from council.json: C6's referral of 5 November is after it, so excluded
    assert first.as_at == pd.Timestamp("2026-10-31") and "C6" not in set(first.referrals["child_id"])
    assert list(first.referrals["child_id"]) == ["C2", "C3", "C4", "C1"]
    assert eight.referrals.empty and len(eight.cla) == 2
    # without council.json: the lists' latest date; without [data] annex_a: None
    meta.unlink()
    assert annex_a.load_configured(cfg).as_at == pd.Timestamp("2026-11-05")
    assert annex_a.load_configured({**cfg, "data": {}}) is None
