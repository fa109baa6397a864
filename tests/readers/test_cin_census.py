"""Tests for helpers.readers.cin_census on the hand-written files in tests/fixtures/readers.

cin_2023.xml (reference date 2023-03-31) and cin_2024.xml (2024-03-31) hold, by hand:

2023: A1 referrals 2022-05-03 (closed, 1 assessment, 1 CIN plan) and 2023-02-10 (open on
      31 March, so repeated in 2024 with 1 assessment, 1 s47, 1 CP plan);
      B2 (ethnicity XXXX) referrals 2022-07-01 (NFA) and 2022-08-15 (source ZZ, RC7 without a
      closure date, ReferralNFA "yes"); C3 referrals 2022-04-01 closed 2022-03-01 (with one
      assessment), 2022-13-01, 2023-05-01 (after the reference date), 2022-10-10 twice.
2024: A1 2023-02-10 (now closed 2023-08-01 RC3) and 2024-01-05; a child with blank LAchildID
      and one referral; E5 unborn (ExpectedPersonBirthDate 2024-05-01), referral 2024-03-01.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.readers.cin_census import (ASSESSMENT_COLUMNS, CHILDREN_COLUMNS, REFERRAL_COLUMNS, SUPERSEDED,
                                bare_iterparse, read_cin_census)
from helpers.readers.ledger import ReaderError

FIX = Path(__file__).parents[1] / "fixtures" / "readers"
BAD = FIX / "bad"


@pytest.fixture(scope="module")
def cin():
    return read_cin_census([FIX / "cin_2023.xml", FIX / "cin_2024.xml"])


def test_columns_and_types_follow_the_data_model(cin):
    assert list(cin.children.columns) == CHILDREN_COLUMNS
    assert list(cin.referrals.columns) == REFERRAL_COLUMNS
    assert list(cin.assessments.columns) == ASSESSMENT_COLUMNS
    for col in ("referral_date", "closure_date"):
        assert cin.referrals[col].dtype == "datetime64[ns]"
    assert cin.children["birth_month"].dtype == "datetime64[ns]"


def test_referrals_kept_after_rules_and_deduplication(cin):
    # 2023: 9 CINdetails - 5 excluded (superseded A1 2023-02-10, C3 closure<referral, C3 bad date,
    # C3 after reference date, C3 duplicate 2022-10-10) = 4; 2024: 4 - 1 (blank LAchildID) = 3.
    assert sorted(cin.referrals["referral_id"]) == [
        "A1|2022-05-03", "A1|2023-02-10", "A1|2024-01-05", "B2|2022-07-01", "B2|2022-08-15",
        "C3|2022-10-10", "E5|2024-03-01"]


def test_latest_collection_year_wins_for_repeated_referral(cin):
    row = cin.referrals.set_index("referral_id").loc["A1|2023-02-10"]
    assert row["collection_year"] == 2024 and row["source_file"] == "cin_2024.xml"
    assert row["closure_date"] == pd.Timestamp("2023-08-01") and row["closure_reason"] == "RC3"
    # its sub-records come from the 2024 copy: assessment authorised 2023-03-20, CP plan ended 2023-08-01
    assert row["n_assessments"] == 1 and row["has_s47"] and row["has_cp_plan"] and not row["has_cin_plan"]
    ass = cin.assessments.set_index("referral_id").loc["A1|2023-02-10"]
    assert ass["assessment_authorised"] == pd.Timestamp("2023-03-20")
    cpp = cin.cp_plans.iloc[0]
    assert (cpp["cpp_end"], cpp["latest_category"], cpp["n_previous_cpp"]) == (pd.Timestamp("2023-08-01"), "EMO", 1)


def test_superseded_copies_are_counted_as_excluded(cin):
    issues = cin.ledger.issues()
    sup = issues[issues["rule"] == SUPERSEDED]
    # A1's 2023 child record, its 2023-02-10 referral and that referral's assessment, s47 and CP plan
    assert sorted(sup["source"]) == sorted([
        "cin_2023.xml:children", "cin_2023.xml:referrals", "cin_2023.xml:assessments",
        "cin_2023.xml:section47", "cin_2023.xml:cp_plans"])


def test_ledger_reconciles_with_hand_counts(cin):
    summ = cin.ledger.summary().set_index("source")
    assert summ.loc["cin_2023.xml:referrals", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [9, 4, 5]
    assert summ.loc["cin_2024.xml:referrals", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [4, 3, 1]
    # assessments 2023: A1 x2 + C3 x1 read; A1 2023-02-10 superseded, C3's parent excluded
    assert summ.loc["cin_2023.xml:assessments", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [3, 1, 2]
    # B2's second referral has three repairs but counts once
    assert summ.loc["cin_2023.xml:referrals", "rows_repaired"] == 1
    cin.ledger.check_reconciles()


@pytest.mark.parametrize("rule, line", [
    ("referral after closure: closure date before referral date", 109),
    ("referral date not a date (expected YYYY-MM-DD)", 120),
    ("referral date after the collection's reference date", 126),
    ("duplicate: same child and referral date twice in one collection year", 138),
])
def test_each_referral_exclusion_rule_names_its_line(cin, rule, line):
    issues = cin.ledger.issues()
    hit = issues[(issues["rule"] == rule) & (issues["source"] == "cin_2023.xml:referrals")]
    assert hit["row"].tolist() == [line] and set(hit["action"]) == {"excluded"}


def test_repairs_on_b2_second_referral(cin):
    row = cin.referrals.set_index("referral_id").loc["B2|2022-08-15"]
    # RC7 without closure date -> open; ZZ -> missing; "yes" -> False
    assert pd.isna(row["closure_date"]) and row["closure_reason"] is None
    assert row["referral_source"] is None
    assert not row["referral_nfa"]
    rules = set(cin.ledger.issues().query("row == 92")["rule"])
    assert rules == {"closure reason without closure date: treated as open",
                     "referral source not recognised: set to missing", "ReferralNFA not true/false: set to false"}


def test_children_degraded_and_deduplicated(cin):
    kids = cin.children.set_index("child_id")
    assert sorted(kids.index) == ["A1", "B2", "C3", "E5"]          # blank LAchildID excluded
    assert kids.loc["A1", "birth_month"] == pd.Timestamp("2015-06-01")   # 14 June -> 1 June
    assert kids.loc["A1", "collection_year"] == 2024
    assert kids.loc["E5", "birth_month"] == pd.Timestamp("2024-05-01")   # expected date (unborn)
    assert kids.loc["B2", "ethnicity"] is None and bool(kids.loc["B2", "disability"])
    assert not bool(kids.loc["A1", "disability"])                      # NONE


def test_identifiers_hold_ids_and_upns(cin):
    assert {"A1", "B2", "C3", "E5", "A123456789012"} <= cin.identifiers


def test_folder_input_reads_every_xml(cin):
    assert len(read_cin_census(FIX).referrals) == len(cin.referrals)


# ------------------------------------------------------------------ unreadable files
@pytest.mark.parametrize("name, message", [
    ("empty.xml", r"empty\.xml, line 1: file is empty; expected a CIN census XML file"),
    ("not_xml.xml", r"not_xml\.xml, line 1: not well-formed XML .*expected a CIN census XML file"),
    ("truncated.xml", r"truncated\.xml, line 11: not well-formed XML \(Premature end of data"),
    ("wrong_root.xml", r"wrong_root\.xml, line 2, element <Census>: wrong root element; expected <Message>"),
    ("wrong_collection.xml", r"line 3, element <CollectionDetails>, field Collection: found 'CLA'; expected 'CIN'"),
    ("no_year.xml", r"field Year: found '20X3'; expected a four-digit collection year"),
    ("uk_dates.xml", r"uk_dates\.xml, line 8, element <CINdetails>, field CINreferralDate: found '03/05/2022'"
                     r" and no date in YYYY-MM-DD form"),
])
def test_unreadable_xml_raises_one_clear_error(name, message):
    with pytest.raises(ReaderError, match=message):
        read_cin_census(BAD / name)


def test_latin1_bytes_in_utf8_file(tmp_path):
    data = (FIX / "cin_2024.xml").read_bytes().replace(b"<LAchildID>E5", "<LAchildID>Zo\xeb".encode("latin-1"))
    path = tmp_path / "latin1.xml"
    path.write_bytes(data)
    with pytest.raises(ReaderError, match=r"latin1\.xml, line 72: text is not valid in the declared encoding"):
        read_cin_census(path)


def test_utf16_xml_with_declaration_is_read(tmp_path):
    text = (FIX / "cin_2024.xml").read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    path = tmp_path / "u16.xml"
    path.write_text(text, encoding="utf-16")
    # a well-formed UTF-16 XML file is valid XML: same 3 referrals as the UTF-8 file on its own
    assert len(read_cin_census(path).referrals) == 3


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(ReaderError, match="does not exist"):
        read_cin_census(tmp_path / "nope.xml")
    with pytest.raises(ReaderError, match=r"no files matching \*\.xml"):
        read_cin_census(tmp_path)


def test_namespaced_file_is_read(tmp_path):
    text = (FIX / "cin_2024.xml").read_text(encoding="utf-8").replace("<Message>", '<Message xmlns="http://example.org/cin">')
    path = tmp_path / "ns.xml"
    path.write_text(text, encoding="utf-8")
    assert sorted(read_cin_census(path).referrals["referral_id"]) == ["A1|2023-02-10", "A1|2024-01-05", "E5|2024-03-01"]


def test_bare_iterparse_counts_elements():
    # wrong_root.xml has exactly two elements: <Census> and <Children/>
    assert bare_iterparse(BAD / "wrong_root.xml") == 2


# ------------------------------------------------------------------ demo data
def test_demo_cin_reconciles(demo_dir):
    cin = read_cin_census(demo_dir / "cin")
    cin.ledger.check_reconciles()
    assert len(cin.referrals) > 1000
    assert not cin.referrals.duplicated(["child_id", "referral_date"]).any()


# ------------------------------------------------------------------ messy values (each distinct value cleaned once)
MESSY = """<?xml version="1.0" encoding="UTF-8"?>
<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2024</Year>
<ReferenceDate>2024-03-31</ReferenceDate></CollectionDetails></Header><Children>
<Child><ChildIdentifiers><LAchildID> K1 </LAchildID><PersonBirthDate> 2015-06-14 </PersonBirthDate>
<GenderCurrent> 2 </GenderCurrent></ChildIdentifiers><ChildCharacteristics><Ethnicity> WBRI</Ethnicity>
<Disabilities><Disability>NONE</Disability><Disability>XYZ</Disability></Disabilities></ChildCharacteristics>
<CINdetails><CINreferralDate> 2023-01-05 </CINreferralDate><ReferralSource> 2A </ReferralSource>
<PrimaryNeedCode>N1</PrimaryNeedCode><CINclosureDate>   </CINclosureDate><ReasonForClosure>RC1</ReasonForClosure>
<Assessments><AssessmentActualStartDate>2023-01-06</AssessmentActualStartDate>
<AssessmentAuthorisationDate>0001-01-01</AssessmentAuthorisationDate></Assessments>
<ChildProtectionPlans><CPPstartDate>2023-01-10</CPPstartDate><InitialCategoryOfAbuse> NEG </InitialCategoryOfAbuse>
<LatestCategoryOfAbuse>XX</LatestCategoryOfAbuse><NumberOfPreviousCPP>1.0</NumberOfPreviousCPP></ChildProtectionPlans>
<ChildProtectionPlans><CPPstartDate>2023-02-10</CPPstartDate><NumberOfPreviousCPP>2.5</NumberOfPreviousCPP>
</ChildProtectionPlans></CINdetails>
<CINdetails><CINreferralDate>2023-06-01</CINreferralDate><ReferralNFA> true </ReferralNFA></CINdetails></Child>
<Child><ChildIdentifiers><LAchildID>   </LAchildID><GenderCurrent></GenderCurrent></ChildIdentifiers>
<CINdetails><CINreferralDate>2023-02-01</CINreferralDate></CINdetails></Child>
<Child><ChildIdentifiers><LAchildID>K2</LAchildID><PersonBirthDate>  </PersonBirthDate><GenderCurrent/>
</ChildIdentifiers></Child>
</Children></Message>
"""


def test_messy_values_are_cleaned_and_reported(tmp_path):
    path = tmp_path / "messy.xml"
    path.write_text(MESSY, encoding="utf-8")
    cin = read_cin_census(path)
    kids = cin.children.set_index("child_id")
    assert sorted(kids.index) == ["K1", "K2"]                     # padded id stripped; blank id excluded
    # sex in the analysis vocabulary (helpers.readers.specs): GenderCurrent 2 -> F; blank -> U
    assert kids.loc["K1", ["sex", "ethnicity"]].tolist() == ["F", "WBRI"]
    assert kids.loc["K1", "birth_month"] == pd.Timestamp("2015-06-01") and bool(kids.loc["K1", "disability"])
    assert kids.loc["K2", "sex"] == "U" and pd.isna(kids.loc["K2", "birth_month"])
    refs = cin.referrals.set_index("referral_id")
    assert sorted(refs.index) == ["K1|2023-01-05", "K1|2023-06-01"]
    first = refs.loc["K1|2023-01-05"]
    assert first["referral_source"] == "2A" and pd.isna(first["closure_date"]) and first["closure_reason"] is None
    assert not first["referral_nfa"] and refs.loc["K1|2023-06-01", "referral_nfa"]
    assert first["n_assessments"] == 1 and first["has_cp_plan"] and not first["has_s47"]
    assert pd.isna(cin.assessments.loc[0, "assessment_authorised"])   # 0001-01-01: not a usable date
    assert cin.cp_plans["initial_category"].tolist() == ["NEG", None]
    assert cin.cp_plans["latest_category"].tolist() == [None, None]
    assert cin.cp_plans["n_previous_cpp"].tolist() == [1, pd.NA]
    issues = cin.ledger.issues()
    got = sorted(zip(issues["source"].str.split(":").str[1], issues["rule"], issues["detail"]))
    blank_child_line = next(i for i, line in enumerate(MESSY.splitlines(), 1) if "<LAchildID>   <" in line)
    assert got == sorted([
        ("assessments", "assessment authorisation date not a date: set to missing", "0001-01-01"),
        ("children", "LAchildID missing", "blank"),
        ("children", "disability code not recognised: counted as a disability", "NONE;XYZ"),
        ("children", "sex missing or not a code: set to U (not recorded)", "blank"),
        ("cp_plans", "category of abuse not recognised: set to missing", "XX"),
        ("cp_plans", "number of previous CP plans not a whole number: set to missing", "2.5"),
        ("referrals", "LAchildID missing", f"child at line {blank_child_line}"),
        ("referrals", "ReferralNFA not true/false: set to false", "None"),     # the excluded one is not repaired
        ("referrals", "closure reason without closure date: treated as open", "RC1"),
    ])
    cin.ledger.check_reconciles()


def test_output_str_columns_reject_non_strings():
    import pandera

    from helpers.readers.schemas import validate
    kids = pd.DataFrame({"child_id": ["A", 7], "sex": ["M", "F"], "birth_month": pd.to_datetime([None, None]),
                         "ethnicity": [None, "WBRI"], "disability": [False, True], "collection_year": [2024, 2024]})
    with pytest.raises(pandera.errors.SchemaErrors) as err:
        validate("cin_children", kids)
    cases = err.value.failure_cases
    assert cases.loc[cases["column"] == "child_id", "failure_case"].tolist() == [7]
    validate("cin_children", kids.assign(child_id=["A", "B"]))


# ------------------------------------------------------------------ files read side by side (processes)
def _everything(cin) -> dict:
    return {"children": cin.children, "referrals": cin.referrals, "assessments": cin.assessments,
            "cin_plans": cin.cin_plans, "section47": cin.section47, "cp_plans": cin.cp_plans,
            "issues": cin.ledger.issues(), "summary": cin.ledger.summary(), "specs": cin.ledger.specs()}


def test_files_read_side_by_side_give_exactly_the_one_process_result(demo_dir, monkeypatch):
    # The demo's years (superseded copies across years, repairs, exclusions) read in 2 processes:
    # every table, every ledger issue (with its line), the counts and the identifiers are those
    # of the read in one process.
    monkeypatch.setenv("CSC_READ_WORKERS", "1")
    one = read_cin_census(demo_dir / "cin")
    monkeypatch.setenv("CSC_READ_WORKERS", "2")
    two = read_cin_census(demo_dir / "cin")
    for name, table in _everything(one).items():
        pd.testing.assert_frame_equal(_everything(two)[name], table, obj=name)
    assert two.identifiers == one.identifiers
    assert len(one.ledger.specs()) > 1  # several files, so the two processes shared them


def test_unreadable_file_among_several_raises_its_error_when_read_side_by_side(monkeypatch):
    # The first unreadable file in file order is named, as in a one-process read.
    monkeypatch.setenv("CSC_READ_WORKERS", "2")
    with pytest.raises(ReaderError, match=r"truncated\.xml, line 11: not well-formed XML") as err:
        read_cin_census([FIX / "cin_2023.xml", BAD / "truncated.xml", BAD / "wrong_root.xml"])
    assert err.value.field is None and err.value.where == "line 11"


def test_read_workers_setting_is_checked(monkeypatch):
    monkeypatch.setenv("CSC_READ_WORKERS", "two")
    with pytest.raises(ValueError, match=r"CSC_READ_WORKERS='two': expected a whole number"):
        read_cin_census([FIX / "cin_2023.xml", FIX / "cin_2024.xml"])
