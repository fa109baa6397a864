"""Messy and hostile input files: each is refused with a clear error or counted in the ledger.

Every file here is small and hand-made; the expected counts and lines were worked out by hand
from the file text (header = line 1).
"""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.readers import case_extracts, input_checks, ssda903
from helpers.reference import geography
from helpers.readers.ledger import ReaderError

EPISODES_HEADER = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n"


def _write(folder, name, text, encoding="utf-8"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


# ---------------------------------------------------------------------------------------
# Dates written with other settings (US order) refuse the whole file
# ---------------------------------------------------------------------------------------
def test_us_dates_refuse_the_903_file_naming_column_and_lines(tmp_path):
    # Line 2 '03/04/2023' would silently read as 3 April; line 3 '04/23/2023' can only be 23 April
    # in US order, so the file was written mm/dd/yyyy and is refused as a whole.
    _write(tmp_path / "2024", "episodes.csv", EPISODES_HEADER
           + "C1,03/04/2023,S,C2,N1,U1,PR1,,,,QX1 1AA,QX1 1AB,\n"
           + "C2,04/23/2023,S,C2,N1,U1,PR1,05/14/2023,E11,,QX1 1AA,QX1 1AB,\n"
           + "C3,05/01/2023,S,C2,N1,U1,PR1,07/30/2023,E11,,QX1 1AA,QX1 1AB,\n")
    with pytest.raises(ReaderError) as err:
        ssda903.read_ssda903(tmp_path)
    msg = str(err.value)
    assert "episodes.csv" in msg and "field DECOM" in msg and "line 3" in msg
    assert "mm/dd/yyyy" in msg and "'04/23/2023'" in msg and "re-export it with dates as dd/mm/yyyy" in msg


def test_us_dates_in_an_optional_column_refuse_too(tmp_path):
    _write(tmp_path / "2024", "episodes.csv", EPISODES_HEADER
           + "C1,03/04/2023,S,C2,N1,U1,PR1,05/14/2023,E11,,QX1 1AA,QX1 1AB,\n")
    with pytest.raises(ReaderError, match=r"line 2, field DEC: dates are not consistently dd/mm/yyyy"):
        ssda903.read_ssda903(tmp_path)


def test_us_dates_refuse_the_address_extract_and_flat_referrals(tmp_path):
    addr = _write(tmp_path, "addr.csv", "LAchildID,Postcode,LSOA,WardCode,AddressStartDate,AddressEndDate\n"
                  "A1,QX1 1AA,E01,E05,01/02/2020,\nA2,QX1 1AA,E01,E05,12/31/2020,\n")
    with pytest.raises(ReaderError, match=r"addr\.csv, line 3, field ADDRESSSTARTDATE: dates are not consistently"):
        case_extracts.read_address_extract(addr)
    flat = _write(tmp_path, "flat.csv", "LAchildID,ReferralDate,ReferralSource,PrimaryNeedCode,ClosureDate,"
                  "ReasonForClosure,ReferralNFA,Sex,BirthMonth,Ethnicity,Disability\n"
                  "A1,01/02/2020,1A,N1,02/20/2020,RC1,0,1,01/2015,WBRI,NONE\n")
    with pytest.raises(ReaderError, match=r"flat\.csv, line 2, field CLOSUREDATE: .*mm/dd/yyyy"):
        case_extracts.read_flat_referrals(flat)


def test_two_dates_with_a_time_refuse_but_one_odd_value_is_a_row_rule(tmp_path):
    _write(tmp_path / "a" / "2024", "episodes.csv", EPISODES_HEADER
           + "C1,03/04/2023,S,C2,N1,U1,PR1,05/05/2023 00:00,E11,,,,\n"
           + "C2,03/04/2023,S,C2,N1,U1,PR1,06/05/2023 00:00,E11,,,,\n")
    with pytest.raises(ReaderError, match="2 value\\(s\\) look like a date with a time"):
        ssda903.read_ssda903(tmp_path / "a")
    _write(tmp_path / "b" / "2024", "episodes.csv", EPISODES_HEADER
           + "C1,03/04/2023,S,C2,N1,U1,PR1,2023-05-05,E11,,,,\n")
    lac = ssda903.read_ssda903(tmp_path / "b")
    assert lac.ledger.issues()["rule"].str.contains("DEC not a date").sum() == 1


# ---------------------------------------------------------------------------------------
# Rows cut short
# ---------------------------------------------------------------------------------------
def test_a_row_cut_short_is_excluded_with_a_reason(tmp_path):
    # line 3 is cut after PLACE: DEC would read as blank (open for ever) if it were kept
    _write(tmp_path / "2024", "episodes.csv", EPISODES_HEADER
           + "C1,03/04/2023,S,C2,N1,U1,PR1,05/05/2023,E11,,,,\n"
           + "C2,03/04/2023,S,C2,N1,U1\n"
           + "C3,04/04/2023,S,C2,N1,U1,PR1,,,,,,\n")
    lac = ssda903.read_ssda903(tmp_path)
    assert sorted(lac.episodes["child_id"]) == ["C1", "C3"]
    issues = lac.ledger.issues()
    cut = issues[issues["rule"] == input_checks.TRUNCATED_RULE]
    assert cut[["source", "row", "action", "detail"]].values.tolist() == [["2024/episodes.csv", 3, "excluded", "only 6 field(s)"]]
    summary = lac.ledger.summary().set_index("source").loc["2024/episodes.csv"]
    assert (summary["rows_read"], summary["rows_used"], summary["rows_excluded"]) == (3, 2, 1)


def test_a_row_cut_short_in_a_quoted_file(tmp_path):
    path = _write(tmp_path, "addr.csv", 'LAchildID,Postcode,LSOA,WardCode,AddressStartDate,AddressEndDate\n'
                  '"A1","QX1 1AA","E01","E05","01/02/2020",""\n"A2","QX1 1AA"\n')
    addresses, ledger = case_extracts.read_address_extract(path)
    assert addresses["child_id"].tolist() == ["A1"]
    assert ledger.issues()["rule"].tolist() == [input_checks.TRUNCATED_RULE]


# ---------------------------------------------------------------------------------------
# Files that are not what their name says, or not UTF-8
# ---------------------------------------------------------------------------------------
def test_a_workbook_renamed_csv_says_so(tmp_path):
    import pandas as pd

    book = tmp_path / "book.xlsx"
    pd.DataFrame({"CHILD": ["C1"]}).to_excel(book, index=False)
    fake = _write(tmp_path / "2024", "header.csv", book.read_bytes())
    with pytest.raises(ReaderError) as err:
        ssda903.read_ssda903(fake)
    msg = str(err.value)
    assert "header.csv" in msg and "Excel workbook" in msg and "Save As 'CSV UTF-8" in msg
    assert "UTF-16" not in msg


def test_a_latin1_iod_csv_names_the_file_and_the_fix(tmp_path):
    path = _write(tmp_path, "iod.csv", "lsoa11cd,lsoa11nm,imd_rank,idaci_rank\nE01000001,Caf\u00e9 Row,10,20\n",
                  encoding="latin-1")
    with pytest.raises(ReaderError) as err:
        geography.read_iod(path)
    msg = str(err.value)
    assert "iod.csv, line 2" in msg and "not valid UTF-8" in msg and "CSV UTF-8" in msg


def test_a_latin1_lookup_and_population_name_the_file(tmp_path):
    lk = _write(tmp_path, "lk.csv", "LSOA11CD,LSOA11NM,WD21CD,WD21NM,LAD21CD,LAD21NM\nE01,a,E05,Caf\u00e9,E06,b\n",
                encoding="latin-1")
    with pytest.raises(ReaderError, match=r"lk\.csv, line 2: byte 0xe9 is not valid UTF-8"):
        geography.read_lsoa_ward_lookup(lk)
    pop = _write(tmp_path, "pop.csv", "lsoa11cd,pop_0_17\nE01,1\u00e9\n", encoding="latin-1")
    with pytest.raises(ReaderError, match=r"pop\.csv, line 2: byte 0xe9"):
        geography.read_lsoa_population(pop)


def test_a_truncated_geojson_names_the_file(tmp_path):
    path = _write(tmp_path, "wards.geojson", '{"type": "FeatureCollection", "features": [{"type": "Feature", "prop')
    with pytest.raises(ReaderError) as err:
        geography.read_boundaries(path)
    msg = str(err.value)
    assert "wards.geojson" in msg and "download it again" in msg


# ---------------------------------------------------------------------------------------
# CIN census: namespaces, unrecognised structure, resubmissions
# ---------------------------------------------------------------------------------------
def cin_xml(year=2024, stamp="2024-05-01T09:00:00", children="", message_ns="", children_ns=""):
    """A minimal CIN census file; ``children`` is the XML of the <Child> elements."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Message{message_ns}>\n<Header><CollectionDetails>'
            f"<Collection>CIN</Collection><Year>{year}</Year><ReferenceDate>{year}-03-31</ReferenceDate>"
            f"</CollectionDetails><Source><DateTime>{stamp}</DateTime></Source></Header>\n"
            f"<Children{children_ns}>\n{children}</Children>\n</Message>\n")


def child(cid, referral="2024-01-10", closure=""):
    close = f"<CINclosureDate>{closure}</CINclosureDate><ReasonForClosure>RC1</ReasonForClosure>" if closure else ""
    return (f"<Child><ChildIdentifiers><LAchildID>{cid}</LAchildID><PersonBirthDate>2015-01-01</PersonBirthDate>"
            f"<GenderCurrent>1</GenderCurrent></ChildIdentifiers><CINdetails><CINreferralDate>{referral}</CINreferralDate>"
            f"<ReferralSource>1A</ReferralSource><PrimaryNeedCode>N1</PrimaryNeedCode>{close}"
            "<ReferralNFA>false</ReferralNFA></CINdetails></Child>\n")


def test_children_in_another_namespace_are_an_error_not_zero_records(tmp_path):
    from helpers.readers.cin_census import read_cin_census

    path = _write(tmp_path, "ns.xml", cin_xml(children=child("A1") + child("A2"), children_ns=' xmlns="urn:other"'))
    with pytest.raises(ReaderError) as err:
        read_cin_census(path)
    msg = str(err.value)
    assert "ns.xml, line 5, element <Child>" in msg and "'urn:other'" in msg and "correct the xmlns" in msg


def test_referral_details_in_another_namespace_are_an_error(tmp_path):
    from helpers.readers.cin_census import read_cin_census

    text = cin_xml(children=child("A1") + child("A2").replace("<CINdetails>", '<CINdetails xmlns="urn:x">'))
    with pytest.raises(ReaderError, match=r"line 6, element <CINdetails>: in namespace 'urn:x'"):
        read_cin_census(_write(tmp_path, "ns2.xml", text))


def test_a_file_with_no_recognisable_children_is_an_error(tmp_path):
    from helpers.readers.cin_census import read_cin_census

    with pytest.raises(ReaderError, match="holds no <Child> record the reader recognises"):
        read_cin_census(_write(tmp_path, "empty_children.xml", cin_xml(children="<Kid/>\n")))


def test_cin_resubmission_is_decided_by_the_header_date_time(tmp_path):
    """Two returns for 2024. The corrected one (z_original.xml sorts last but is older; a_corrected
    has the later Header/Source/DateTime) is used; every record of the other is listed."""
    from helpers.readers.cin_census import read_cin_census

    _write(tmp_path, "a_corrected.xml", cin_xml(stamp="2024-06-01T10:00:00", children=child("A1", "2024-01-10", "2024-02-01")))
    _write(tmp_path, "z_original.xml", cin_xml(stamp="2024-05-01T09:00:00", children=child("A1", "2024-01-10") + child("B2")))
    cin = read_cin_census(tmp_path)
    assert cin.referrals["referral_id"].tolist() == ["A1|2024-01-10"]
    assert cin.referrals["closure_date"].iloc[0] == pd.Timestamp("2024-02-01")    # the corrected value
    assert set(cin.referrals["source_file"]) == {"a_corrected.xml"}
    issues = cin.ledger.issues()
    gone = issues[issues["rule"] == input_checks.RESUBMITTED_RULE]
    assert sorted(gone["source"]) == ["z_original.xml:children", "z_original.xml:children",
                                      "z_original.xml:referrals", "z_original.xml:referrals"]
    assert gone["detail"].str.contains("replaced by a_corrected.xml \\(header date-time 2024-06-01 10:00\\)").all()
    summary = cin.ledger.summary().set_index("source")
    assert summary.loc["z_original.xml:referrals", "rows_read"] == 2      # what the file holds
    assert summary.loc["z_original.xml:referrals", "rows_excluded"] == 2


def test_903_resubmission_uses_the_newest_folder(tmp_path):
    import os

    old = _write(tmp_path / "2024", "episodes.csv", EPISODES_HEADER + "C1,03/04/2023,S,C2,N1,U1,PR1,,,,,,\n")
    new = _write(tmp_path / "2024 resubmitted", "episodes.csv",
                 EPISODES_HEADER + "C1,03/04/2023,S,C2,N1,U1,PR1,05/05/2023,E11,,,,\n")
    os.utime(old, (1_700_000_000, 1_700_000_000))
    os.utime(new, (1_700_900_000, 1_700_900_000))
    lac = ssda903.read_ssda903(tmp_path)
    assert lac.episodes["dec"].tolist() == [pd.Timestamp("2023-05-05")]     # the resubmission's DEC
    issues = lac.ledger.issues()
    gone = issues[issues["rule"] == input_checks.RESUBMITTED_RULE]
    assert gone["source"].tolist() == ["2024/episodes.csv"]
    assert "replaced by 2024 resubmitted/episodes.csv (file modified" in gone["detail"].iloc[0]


# ---------------------------------------------------------------------------------------
# Impossible dates: before birth, implausibly early, after the data's date
# ---------------------------------------------------------------------------------------
FLAT_HEADER = ("LAchildID,ReferralDate,ReferralSource,PrimaryNeedCode,ClosureDate,ReasonForClosure,"
               "ReferralNFA,Sex,BirthMonth,Ethnicity,Disability\n")


def test_cin_referral_dated_1900_or_before_birth_is_excluded(tmp_path):
    from helpers.readers.cin_census import read_cin_census

    # child born 2015-01-01 (see child()): 2014-06-01 is 214 days before birth (an unborn child's
    # referral, kept); 2014-01-01 is 365 days before (excluded); 1900-01-01 is implausibly early.
    text = cin_xml(children=child("A1", "1900-01-01") + child("A2", "2014-01-01") + child("A3", "2014-06-01"))
    cin = read_cin_census(_write(tmp_path, "c.xml", text))
    assert cin.referrals["child_id"].tolist() == ["A3"]
    rules = cin.ledger.issues().set_index("row")["rule"]
    assert rules.loc[5].startswith("referral date implausibly early")
    assert rules.loc[6] == "referral date before the child's birth (more than 40 weeks before PersonBirthDate)"
    cin.ledger.check_reconciles()


def test_flat_export_referral_dated_2099_is_excluded(tmp_path):
    path = _write(tmp_path, "flat.csv", FLAT_HEADER
                  + "A1,01/02/2020,1A,N1,,,0,1,01/2015,WBRI,NONE\n"
                  + "A2,01/02/2099,1A,N1,,,0,1,01/2015,WBRI,NONE\n"
                  + "A3,01/02/1900,1A,N1,,,0,1,01/2015,WBRI,NONE\n"
                  + "A4,01/02/2013,1A,N1,,,0,1,01/2015,WBRI,NONE\n"
                  + "A5,01/02/2020,1A,N1,01/03/2099,RC1,0,1,01/2015,WBRI,NONE\n")
    out = case_extracts.read_flat_referrals(path, as_at="2026-10-31")
    assert out.referrals["child_id"].tolist() == ["A1", "A5"]
    assert pd.isna(out.referrals.set_index("child_id").loc["A5", "closure_date"])   # repaired: open
    rules = out.ledger.issues().set_index("row")["rule"]
    assert rules.loc[3] == "referral date after the export's date"
    assert rules.loc[4].startswith("referral date implausibly early")
    assert rules.loc[5] == "referral date before the child's birth (more than 40 weeks before BirthMonth)"
    # without as_at the file's own date is the limit: 2099 is still excluded
    assert "A2" not in case_extracts.read_flat_referrals(path).referrals["child_id"].tolist()


def test_903_dates_before_birth_or_implausibly_early_are_excluded(tmp_path):
    _write(tmp_path / "2024", "header.csv", "CHILD,SEX,DOB,ETHNIC\nC1,1,01/06/2015,WBRI\nC2,1,01/06/2015,WBRI\n"
           "C3,1,01/06/2030,WBRI\n")
    _write(tmp_path / "2024", "episodes.csv", EPISODES_HEADER
           + "C1,03/04/2014,S,C2,N1,U1,PR1,,,,,,\n"       # before DOB
           + "C2,03/04/1900,S,C2,N1,U1,PR1,,,,,,\n"       # implausibly early
           + "C2,03/04/2023,S,C2,N1,U1,PR1,,,,,,\n")
    _write(tmp_path / "2024", "missing.csv", "CHILD,MISSING,MIS_START,MIS_END\nC1,M,01/01/2015,\nC2,M,01/06/2024,\n"
           "C2,M,01/06/2023,02/06/2023\n")
    lac = ssda903.read_ssda903(tmp_path)
    assert lac.episodes["decom"].tolist() == [pd.Timestamp("2023-04-03")]
    assert lac.missing["mis_start"].tolist() == [pd.Timestamp("2023-06-01")]
    assert pd.isna(lac.header.set_index("child_id").loc["C3", "birth_month"])      # DOB in 2030 repaired
    rules = lac.ledger.issues().groupby("source")["rule"].apply(list)
    assert rules["2024/episodes.csv"] == ["DECOM implausibly early (more than 19 years before the collection's reference date)",
                                          "DECOM before the child's date of birth"]
    assert sorted(rules["2024/missing.csv"]) == ["MIS_START after the collection's reference date",
                                                 "MIS_START before the child's date of birth"]
    lac.ledger.check_reconciles()


def test_address_dates_after_the_extract_are_excluded_or_repaired(tmp_path):
    path = _write(tmp_path, "addr.csv", "LAchildID,Postcode,LSOA,WardCode,AddressStartDate,AddressEndDate\n"
                  "A1,QX1 1AA,E01,E05,01/02/2020,01/02/2099\nA2,QX1 1AA,E01,E05,01/02/2099,\n"
                  "A3,QX1 1AA,E01,E05,01/02/1901,\n")
    addresses, ledger = case_extracts.read_address_extract(path, as_at="2026-10-31")
    assert addresses["child_id"].tolist() == ["A1"] and pd.isna(addresses["end_date"].iloc[0])
    assert ledger.issues()["rule"].tolist() == ["address start date after the extract's date",
                                                "address start date implausibly early (more than 19 years before the extract's date)",
                                                "address end date after the extract's date: treated as current"]


# ---------------------------------------------------------------------------------------
# Referrals and cases that cannot be placed in a ward are counted, by reason
# ---------------------------------------------------------------------------------------
LOOKUP = pd.DataFrame({"lsoa_code": ["L1", "L2", "L3"], "lsoa_name": ["a", "b", "c"],
                       "ward_code": ["W1", "W2", "X9"], "ward_name": ["One", "Two", "Other"],
                       "lad_code": ["E06", "E06", "E07"], "lad_name": ["Us", "Us", "Them"]})


def _addresses():
    # A1 good ward; A2 ward blank, LSOA known (ward from LSOA); A3 formula typed in the ward field,
    # LSOA blank (unknown); A4 nothing; A5 another council's ward; A6 ward typo but LSOA known.
    return pd.DataFrame({
        "child_id": ["A1", "A2", "A3", "A4", "A5", "A6"], "postcode_sector": None,
        "lsoa_code": ["L1", "L2", None, None, "L3", "L1"],
        "ward_code": ["W1", None, '=HYPERLINK("http://x","y")', None, "X9", "W7"],
        "start_date": pd.Timestamp("2020-01-01"), "end_date": pd.NaT})


def test_ward_codes_are_validated_against_the_lookup():
    out, ledger = case_extracts.check_ward_codes(_addresses(), LOOKUP, "E06")
    assert out["ward_code"].tolist() == ["W1", "W2", None, None, None, "W1"]
    assert out["ward_problem"].tolist() == [None, None, case_extracts.WARD_PROBLEMS["unknown"],
                                            case_extracts.WARD_PROBLEMS["blank"],
                                            case_extracts.WARD_PROBLEMS["elsewhere"], None]
    assert sorted(ledger.issues()["rule"]) == ["ward code blank: ward from the LSOA",
                                               "ward code not in the ONS lookup: ward from the LSOA",
                                               "ward not known: set to missing", "ward not known: set to missing"]
    ledger.check_reconciles()


def test_referrals_without_a_ward_are_counted_by_reason():
    addresses, _ = case_extracts.check_ward_codes(_addresses(), LOOKUP, "E06")
    refs = pd.DataFrame({"child_id": ["A1", "A2", "A3", "A4", "A5", "A6", "Z9"],
                         "referral_date": pd.Timestamp("2021-01-01")})
    out = case_extracts.attach_ward(refs, addresses)
    assert out.attrs["address_match_counts"] == {
        "in force": 3, "none": 1, "no ward: " + case_extracts.WARD_PROBLEMS["unknown"]: 1,
        "no ward: " + case_extracts.WARD_PROBLEMS["blank"]: 1, "no ward: " + case_extracts.WARD_PROBLEMS["elsewhere"]: 1}


def test_unplaced_text_hides_small_counts_and_one_more():
    # 40 and 3 with threshold 5: 3 is hidden, so 40 is hidden too (else 3 = total - 40)
    assert case_extracts.unplaced_text({"no address": 40, "not in lookup": 3}, 5) == "no address: c; not in lookup: c"
    assert case_extracts.unplaced_text({"no address": 40, "not in lookup": 30, "blank": 0}, 5) == "no address: 40; not in lookup: 30"
    assert case_extracts.unplaced_text({"a": 40, "b": 30, "c": 2, "d": 1}, 5) == "a: 40; b: 30; c: c; d: c"


def test_locality_cases_in_an_unknown_ward_are_not_placed_with_a_reason():
    from helpers.localities import model as locality

    addresses, _ = case_extracts.check_ward_codes(_addresses(), LOOKUP, "E06")
    refs = pd.DataFrame({"child_id": ["A1", "A3", "A4", "A5", "A6", "Z9"],
                         "referral_date": pd.Timestamp("2021-01-01"), "closure_date": pd.NaT})
    no_cp = pd.DataFrame({"child_id": pd.Series([], dtype=object), "cpp_start": pd.Series([], dtype="datetime64[ns]"),
                          "cpp_end": pd.Series([], dtype="datetime64[ns]")})
    no_ep = pd.DataFrame({"child_id": pd.Series([], dtype=object), "decom": pd.Series([], dtype="datetime64[ns]"),
                          "dec": pd.Series([], dtype="datetime64[ns]")})
    ye = pd.Timestamp("2021-03-31")
    counts = locality.demand_by_ward(refs, no_cp, no_ep, addresses, [ye])
    placed = locality.placement_counts(counts, "open_cases", ye)
    assert (placed["address extract"], placed["not placed"], placed["total"]) == (2, 4, 6)
    assert placed["not placed by reason"] == {"no address": 1, case_extracts.WARD_PROBLEMS["unknown"]: 1,
                                              case_extracts.WARD_PROBLEMS["blank"]: 1,
                                              case_extracts.WARD_PROBLEMS["elsewhere"]: 1}
