"""Specifications by collection year (helpers.readers.specs) and the readers' recognition of them.

Hand-made files; every expected value below is worked out by hand from the DfE change log
(docs/data_model.md, "Specifications by collection year").
"""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.readers import specs
from helpers.readers.cin_census import read_cin_census
from helpers.readers.ssda903 import NOT_USED, read_ssda903


# ------------------------------------------------------------------ the spec data, year by year
def test_cin_sex_element_and_codes_by_year():
    assert [specs.cin_spec(y).sex_element for y in specs.YEARS] == (
        ["GenderCurrent"] * 3 + ["Sex"] * 3)                     # 2021-22..2023-24, then 2024-25..2026-27
    assert specs.cin_spec(2024).sex_codes == {"0", "1", "2", "9"}
    assert specs.cin_spec(2025).sex_codes == {"M", "F", "U"}
    assert "Sex" in specs.cin_spec(2026).child_identifiers and "GenderCurrent" not in specs.cin_spec(2026).child_identifiers


def test_cin_code_lists_change_in_the_right_year():
    assert "5D" not in specs.cin_spec(2022).referral_sources and "5D" in specs.cin_spec(2023).referral_sources
    assert "RC9" not in specs.cin_spec(2022).reasons_for_closure and "RC9" in specs.cin_spec(2023).reasons_for_closure
    assert specs.cin_spec(2025).primary_need["N1"] == "Abuse or neglect"
    assert specs.cin_spec(2026).primary_need["N1"] == "Abuse, neglect and exploitation"
    assert "PreProceedingsandFGDM" in specs.cin_spec(2027).cin_details_modules
    assert "PreProceedingsandFGDM" not in specs.cin_spec(2026).cin_details_modules
    assert specs.cin_spec(2027).draft and not specs.cin_spec(2026).draft
    assert {"18A", "19A"}.isdisjoint(specs.cin_spec(2024).assessment_factors)  # split in 2020-21
    assert "24A" in specs.cin_spec(2022).assessment_factors
    # outside the range: nearest year covered
    assert specs.cin_spec(2019).year == 2022 and specs.cin_spec(2030).year == 2027


def test_ssda903_tables_and_codes_by_year():
    assert set(specs.ssda903_tables(2023)) == {"header", "episodes", "reviews", "uasc", "oc2", "oc3", "ad1",
                                               "placed_for_adoption", "previous_permanence", "missing"}
    assert "sw_episodes" in specs.ssda903_tables(2024) and "sw_episodes" not in specs.ssda903_tables(2023)
    assert "dolo" in specs.ssda903_tables(2027) and "dolo" not in specs.ssda903_tables(2026)
    assert specs.ssda903_tables(2024)["header"].code_lists["SEX"] == {"1", "2"}
    assert specs.ssda903_tables(2025)["header"].code_lists["SEX"] == {"M", "F", "U"}
    assert specs.ssda903_tables(2025)["uasc"].code_lists["SEX"] == {"M", "F", "U"}
    place = {y: specs.ssda903_tables(y)["episodes"].code_lists["PLACE"] for y in specs.YEARS}
    assert "K3" not in place[2024] and "K3" in place[2025]
    assert {"H5", "P2", "Z1"} <= place[2025] and not {"H5", "P2", "Z1"} & place[2026]
    assert {"Z11", "Z12", "Z13", "Z14"} <= place[2026] and "Z11" not in place[2025]
    assert specs.ssda903_tables(2022)["missing"].columns == ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END")
    for name, t in specs.ssda903_tables(2027).items():
        assert specs.ssda903_table_of(reversed(t.columns)) == name     # order ignored
    assert specs.ssda903_table_of(["CHILD", "FOO"]) is None


def test_sex_to_analysis_maps_old_and_new_codes():
    got = {v: specs.sex_to_analysis(v) for v in ["1", "2", "0", "9", "M", "F", "U", " f ", "X", None]}
    assert got == {"1": "M", "2": "F", "0": "U", "9": "U", "M": "M", "F": "F", "U": "U", " f ": "F", "X": None,
                   None: None}


# ------------------------------------------------------------------ CIN census reader
def _cin(year: int, identifiers: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>{year}</Year>
<ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails></Header><Children>
<Child><ChildIdentifiers><LAchildID>A1</LAchildID><PersonBirthDate>2015-06-14</PersonBirthDate>{identifiers}
</ChildIdentifiers><CINdetails><CINreferralDate>{year - 1}-05-01</CINreferralDate><ReferralSource>2A</ReferralSource>
<PrimaryNeedCode>N1</PrimaryNeedCode><ReferralNFA>0</ReferralNFA></CINdetails></Child>
</Children></Message>
"""


def test_cin_2025_26_sex_f_reads_female_without_repair(tmp_path):
    path = tmp_path / "CIN_2026.xml"
    path.write_text(_cin(2026, "<Sex>F</Sex>"), encoding="utf-8")
    cin = read_cin_census(path)
    assert cin.children["sex"].tolist() == ["F"]
    assert cin.ledger.issues().empty                              # nothing repaired, nothing excluded
    spec = cin.ledger.specs()
    assert spec[["file", "return", "collection_year", "spec"]].values.tolist() == [
        ["CIN_2026.xml", "CIN census", 2026, "2025-26"]]


def test_cin_2023_24_gendercurrent_reads_without_repair(tmp_path):
    path = tmp_path / "CIN_2024.xml"
    path.write_text(_cin(2024, "<GenderCurrent>2</GenderCurrent>"), encoding="utf-8")
    cin = read_cin_census(path)
    assert cin.children["sex"].tolist() == ["F"]
    assert cin.ledger.issues().empty
    assert cin.ledger.specs()["spec"].tolist() == ["2023-24"]


@pytest.mark.parametrize("year, element, expected", [
    (2026, "<GenderCurrent>1</GenderCurrent>", "M"),   # old element in a 2025-26 file
    (2025, "<Sex>2</Sex>", "F"),                       # new element, old code
    (2024, "<Sex>F</Sex>", "F"),                       # new element in a 2023-24 file
])
def test_cin_sex_in_another_years_form_is_mapped_and_reported(tmp_path, year, element, expected):
    path = tmp_path / f"CIN_{year}.xml"
    path.write_text(_cin(year, element), encoding="utf-8")
    cin = read_cin_census(path)
    assert cin.children["sex"].tolist() == [expected]
    issues = cin.ledger.issues()
    assert issues["rule"].tolist() == ["sex in another year's form (GenderCurrent 0/1/2/9 to 2023-24, "
                                       "Sex M/F/U from 2024-25): mapped to M/F/U"]
    assert issues["action"].tolist() == ["repaired"]


def test_cin_sex_not_a_code_is_u_and_reported(tmp_path):
    path = tmp_path / "CIN_2026.xml"
    path.write_text(_cin(2026, "<Sex>Female</Sex>"), encoding="utf-8")
    cin = read_cin_census(path)
    assert cin.children["sex"].tolist() == ["U"]
    assert cin.ledger.issues()["rule"].tolist() == ["sex missing or not a code: set to U (not recorded)"]


def test_cin_spec_outside_range_uses_nearest(tmp_path):
    path = tmp_path / "CIN_2021.xml"
    path.write_text(_cin(2021, "<GenderCurrent>1</GenderCurrent>"), encoding="utf-8")
    spec = read_cin_census(path).ledger.specs()
    assert spec["spec_year"].tolist() == [2022] and "outside the years covered" in spec["note"].iloc[0]


# ------------------------------------------------------------------ SSDA903 reader
HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
EPISODES = ("CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n"
            "C1,01/05/{y0},S,C2,N1,U4,PR1,,,,AB1 2CD,AB1 3CD,SC123456\n")


def _write_903(folder, year: int, header_rows: str, extra: dict[str, str] | None = None):
    d = folder / str(year)
    d.mkdir(parents=True)
    (d / "header.csv").write_text(HEADER + header_rows, encoding="utf-8")
    (d / "episodes.csv").write_text(EPISODES.format(y0=year - 1), encoding="utf-8")
    for name, text in (extra or {}).items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def test_903_2025_26_header_sex_f_reads_female_without_repair(tmp_path):
    _write_903(tmp_path, 2026, "C1,F,14/06/2015,WBRI,,,\n")
    lac = read_ssda903(tmp_path)
    assert lac.header["sex"].tolist() == ["F"]
    assert lac.ledger.issues().empty
    spec = lac.ledger.specs().set_index("file")
    assert spec.loc["2026/header.csv", "spec"] == "2025-26" and spec.loc["2026/episodes.csv", "return"] == "SSDA903"


def test_903_2023_24_header_sex_2_reads_female_without_repair(tmp_path):
    _write_903(tmp_path, 2024, "C1,2,14/06/2015,WBRI,,,\n")
    lac = read_ssda903(tmp_path)
    assert lac.header["sex"].tolist() == ["F"] and lac.ledger.issues().empty


@pytest.mark.parametrize("year, code, expected, rule", [
    (2026, "1", "M", "SEX code of another year's form (1/2 to 2023-24, M/F/U from 2024-25): mapped to M/F/U"),
    (2024, "M", "M", "SEX code of another year's form (1/2 to 2023-24, M/F/U from 2024-25): mapped to M/F/U"),
    (2026, "0", None, "SEX code not recognised: set to missing"),     # 0 is a CIN code, never a 903 one
])
def test_903_sex_of_another_year_or_no_code(tmp_path, year, code, expected, rule):
    _write_903(tmp_path, year, f"C1,{code},14/06/2015,WBRI,,,\n")
    lac = read_ssda903(tmp_path)
    assert lac.header["sex"].tolist() == [expected]
    assert lac.ledger.issues()["rule"].tolist() == [rule]
    if code in ("1", "M"):
        assert "mapped, see repairs" in lac.ledger.specs().set_index("file").loc[f"{year}/header.csv", "note"]


def test_903_reviews_oc3_read_and_other_tables_counted(tmp_path):
    extra = {
        "reviews.csv": "CHILD,DOB,REVIEW,REVIEW_CODE\nC1,14/06/2015,10/06/2025,PN1\nC1,14/06/2015,01/12/2025,XX\n"
                       "C1,14/06/2015,01/05/2026,PN0\n",
        "oc3.csv": "CHILD,DOB,IN_TOUCH,ACTIV,ACCOM\nC9,14/06/2007,YES,F2,S2\n",
        "oc2.csv": "CHILD,DOB,SDQ_SCORE,SDQ_REASON,CONVICTED,HEALTH_CHECK,IMMUNISATIONS,TEETH_CHECK,"
                   "HEALTH_ASSESSMENT,SUBSTANCE_MISUSE,INTERVENTION_RECEIVED,INTERVENTION_OFFERED\n"
                   "C1,14/06/2015,10,,0,1,1,1,1,0,,\n",
        "sw_episodes.csv": "CHILD,DOB,SW_ID,SW_DECOM,SW_DEC,SW_REASON\nC1,14/06/2015,SW1,01/05/2025,,\n"
                           "C1,14/06/2015,SW2,01/05/2024,01/05/2025,MANAGE\n",
    }
    _write_903(tmp_path, 2026, "C1,F,14/06/2015,WBRI,,,\n", extra)
    lac = read_ssda903(tmp_path)
    # reviews: 01/05/2026 is after 31/03/2026 (excluded); XX is not a participation code (set to missing)
    assert lac.reviews["review_date"].tolist() == [pd.Timestamp("2025-06-10"), pd.Timestamp("2025-12-01")]
    assert lac.reviews["participation"].tolist() == ["PN1", None]
    assert lac.oc3[["child_id", "in_touch", "activity", "accommodation"]].values.tolist() == [["C9", "YES", "F2", "S2"]]
    summ = lac.ledger.summary().set_index("source")
    assert summ.loc["2026/oc2.csv", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [1, 0, 1]
    assert summ.loc["2026/sw_episodes.csv", ["rows_read", "rows_excluded"]].tolist() == [2, 2]
    issues = lac.ledger.issues()
    assert set(issues.loc[issues["source"] == "2026/sw_episodes.csv", "rule"]) == {NOT_USED}
    assert set(issues.loc[issues["source"] == "2026/sw_episodes.csv", "detail"]) == {"sw_episodes"}
    notes = lac.ledger.specs().set_index("file")["note"]
    assert notes["2026/sw_episodes.csv"] == "2025-26 SSDA903 specification: sw_episodes table"
    lac.ledger.check_reconciles()


def test_903_table_from_a_later_year_is_noted(tmp_path):
    extra = {"sw_episodes.csv": "CHILD,DOB,SW_ID,SW_DECOM,SW_DEC,SW_REASON\nC1,14/06/2015,SW1,01/05/2022,,\n"}
    _write_903(tmp_path, 2023, "C1,2,14/06/2015,WBRI,,,\n", extra)
    notes = read_ssda903(tmp_path).ledger.specs().set_index("file")["note"]
    assert "table not in the 2022-23 specification" in notes["2023/sw_episodes.csv"]


def test_903_missing_without_dob_column_is_noted(tmp_path):
    extra = {"missing.csv": "CHILD,MISSING,MIS_START,MIS_END\nC1,M,01/06/2025,02/06/2025\n"}
    _write_903(tmp_path, 2026, "C1,F,14/06/2015,WBRI,,,\n", extra)
    lac = read_ssda903(tmp_path)
    assert len(lac.missing) == 1
    assert "columns of the specification missing: DOB" in lac.ledger.specs().set_index("file").loc[
        "2026/missing.csv", "note"]


# ------------------------------------------------------------------ modules across years (CIN)
def _cin_ref(year: int, modules: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>{year}</Year>
<ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails></Header><Children>
<Child><ChildIdentifiers><LAchildID>A1</LAchildID><PersonBirthDate>2015-06-14</PersonBirthDate>
<Sex>F</Sex></ChildIdentifiers><CINdetails><CINreferralDate>2024-02-01</CINreferralDate>
<ReferralSource>2A</ReferralSource><PrimaryNeedCode>N1</PrimaryNeedCode><ReferralNFA>0</ReferralNFA>{modules}
</CINdetails></Child></Children></Message>
"""


def test_cin_modules_left_out_of_a_later_census_are_kept(tmp_path):
    # 2023-24: assessment (authorised 20/02/2024) and CIN plan; 2024-25: the same referral, still
    # open, with only the CIN plan (the census leaves out the assessment completed before its year)
    ass = ("<Assessments><AssessmentActualStartDate>2024-02-02</AssessmentActualStartDate>"
           "<AssessmentAuthorisationDate>2024-02-20</AssessmentAuthorisationDate></Assessments>")
    plan = "<CINPlanDates><CINPlanStartDate>2024-02-25</CINPlanStartDate></CINPlanDates>"
    (tmp_path / "CIN_2024.xml").write_text(_cin_ref(2024, ass + plan).replace("<Sex>F</Sex>",
                                                                           "<GenderCurrent>2</GenderCurrent>"))
    (tmp_path / "CIN_2025.xml").write_text(_cin_ref(2025, plan))
    cin = read_cin_census(tmp_path)
    ref = cin.referrals.iloc[0]
    assert len(cin.referrals) == 1 and ref["collection_year"] == 2025
    assert ref["n_assessments"] == 1 and ref["has_cin_plan"]             # the 2024 assessment is kept
    assert cin.assessments["referral_id"].tolist() == ["A1|2024-02-01"]
    assert cin.cin_plans["cin_plan_start"].tolist() == [pd.Timestamp("2024-02-25")]   # one plan, not two
    issues = cin.ledger.issues()
    assert sorted(zip(issues["source"], issues["rule"])) == [
        ("CIN_2024.xml:children", "duplicate: superseded by later collection year"),
        ("CIN_2024.xml:cin_plans", "duplicate: superseded by later collection year"),
        ("CIN_2024.xml:referrals", "duplicate: superseded by later collection year")]
    cin.ledger.check_reconciles()
