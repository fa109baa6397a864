"""Tests for helpers.readers.ssda903 on the hand-written tables in tests/fixtures/readers/ssda903.

By hand (reference dates 31/03/2023 and 31/03/2024):
2023/episodes.csv lines 2-9: L1 01/05/2022 (closed), L1 10/10/2022 (open; repeated closed in 2024),
  L2 15/08/2022 H5, L2 01/02/2023 with DEC 30/01/2023 (ends before it starts), blank CHILD,
  L3 01/04/2023 (after the reference date), L3 32/01/2023 (not a date), L3 05/03/2023 PLACE ZZ,
  provider PR9, REC E11 without DEC (open; L3's next episode starts 01/06/2023 -> overlap).
2024/episodes.csv: L1 10/10/2022 closed 20/06/2023, L2 01/05/2023 K3 (not valid until 2025) twice,
  a blank line, L1 01/12/2023, L3 01/06/2023.
Consolidated: 7 episodes; 2023 file read 8 used 3 excluded 5; 2024 file read 5 used 4 excluded 1.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.readers.ledger import ReaderError
from helpers.readers.ssda903 import EPISODE_COLUMNS, HEADER_COLUMNS, SUPERSEDED, collection_year_of, read_ssda903

FIX = Path(__file__).parents[1] / "fixtures" / "readers"
BAD = FIX / "bad"


@pytest.fixture(scope="module")
def lac():
    return read_ssda903(FIX / "ssda903")


def test_columns_follow_the_data_model(lac):
    assert list(lac.episodes.columns) == EPISODE_COLUMNS
    assert list(lac.header.columns) == HEADER_COLUMNS
    assert list(lac.uasc.columns) == ["child_id", "sex", "birth_month", "duc"]
    assert list(lac.missing.columns) == ["child_id", "missing", "mis_start", "mis_end"]
    assert lac.episodes["decom"].dtype == "datetime64[ns]" and lac.episodes["dec"].dtype == "datetime64[ns]"


def test_episodes_consolidated_latest_year_wins(lac):
    ep = lac.episodes.set_index(["child_id", "decom"])
    assert len(ep) == 7
    l1 = ep.loc[("L1", pd.Timestamp("2022-10-10"))]
    assert (l1["dec"], l1["rec"], l1["collection_year"]) == (pd.Timestamp("2023-06-20"), "E4A", 2024)
    assert l1["source_file"] == "2024/episodes.csv"


def test_episode_repairs(lac):
    ep = lac.episodes.set_index(["child_id", "decom"])
    l3 = ep.loc[("L3", pd.Timestamp("2023-03-05"))]
    # unknown PLACE kept; PR9 -> missing; E11 without DEC cleared, then the overlap with the
    # next DECOM (01/06/2023) closes it with X1; postcodes upper-cased but kept in full
    assert l3["place"] == "ZZ" and l3["place_provider"] is None
    assert (l3["dec"], l3["rec"]) == (pd.Timestamp("2023-06-01"), "X1")
    assert l3["home_post"] == "QX5 1AB"
    assert ep.loc[("L2", pd.Timestamp("2023-05-01")), "place"] == "K3"


def test_episode_ledger_hand_counts(lac):
    summ = lac.ledger.summary().set_index("source")
    assert summ.loc["2023/episodes.csv", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [8, 3, 5]
    assert summ.loc["2024/episodes.csv", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [5, 4, 1]
    lac.ledger.check_reconciles()
    issues = lac.ledger.issues()
    by_line = issues[issues["source"] == "2023/episodes.csv"].set_index("row")
    assert by_line.loc[3, "rule"] == SUPERSEDED
    assert by_line.loc[5, "rule"] == "episode ends before it starts (DEC before DECOM)"
    assert by_line.loc[6, "rule"] == "CHILD missing"
    assert by_line.loc[7, "rule"] == "DECOM after the collection's reference date"
    assert by_line.loc[8, "rule"] == "DECOM not a date (expected dd/mm/yyyy)"
    place = issues[issues["field"] == "PLACE"]
    # ZZ (2023, line 9) and K3 in 2024 (line 3; line 4 is the excluded duplicate, counted once)
    assert sorted(zip(place["source"], place["detail"])) == [("2023/episodes.csv", "ZZ in 2023"),
                                                              ("2024/episodes.csv", "K3 in 2024")]
    dup = issues[issues["rule"] == "duplicate: same child and DECOM twice in one collection year"]
    assert dup["row"].tolist() == [4]


def test_header_uasc_missing(lac):
    head = lac.header.set_index("child_id")
    assert head.loc["L1", "birth_month"] == pd.Timestamp("2012-06-01")   # DOB degraded to month
    assert pd.isna(head.loc["L3", "birth_month"])                     # 2015-01-01 is not dd/mm/yyyy
    assert (head["collection_year"] == 2024).all()                    # 2023 copies superseded
    assert lac.uasc.iloc[0]["duc"] == pd.Timestamp("2027-02-03")      # read from table_c.csv by its header
    miss = lac.missing.set_index("child_id")
    assert len(lac.missing) == 2                                      # L1 end-before-start row excluded
    assert miss.loc["L3", "missing"] is None                          # type X -> missing
    assert {"L1", "L2", "L3", "A123456789012"} <= lac.identifiers


def test_collection_year_from_latest_decom_when_folder_has_no_year():
    lac = read_ssda903(FIX / "ssda903_noyear")
    # latest DECOM 15/06/2024 -> year ending 31/03/2025. H5 is still valid in 2024-25 (the DfE 903
    # validator's 2024-25 PLACE list keeps H5 and P2 next to the new K3; they go in 2025-26),
    # so nothing is reported; reviews.csv is read (one review on 01/07/2024).
    assert set(lac.episodes["collection_year"]) == {2025}
    assert lac.ledger.issues().empty
    assert lac.reviews[["child_id", "participation", "collection_year"]].values.tolist() == [["L1", "PN1", 2025]]


@pytest.mark.parametrize("day, year", [("2024-06-15", 2025), ("2024-03-31", 2024), ("2024-04-01", 2025)])
def test_collection_year_of(day, year):
    assert collection_year_of(pd.Timestamp(day)) == year


@pytest.mark.parametrize("name, message", [
    ("empty.csv", r"empty\.csv, line 1: file is empty; expected an SSDA903 table"),
    ("utf16.csv", r"utf16\.csv, line 1: file is UTF-16 encoded; expected UTF-8"),
    ("latin1.csv", r"latin1\.csv, line 3: byte 0xeb is not valid UTF-8; expected a UTF-8 file"),
    ("wrong_table.csv", r"wrong_table\.csv, line 1: header not recognised \(LACHILDID,.*expected one of the SSDA903 tables"),
    ("episodes_no_place.csv", r"line 1, field PLACE: required column missing from the episodes table"),
    ("extra_field.csv", r"extra_field\.csv, line 3: row has 5 fields; expected 4"),
    ("iso_decom.csv", r"iso_decom\.csv, line 2, field DECOM: found '2022-05-01' and no date in dd/mm/yyyy form"),
    ("no_year", r"cannot tell the collection year: put the tables in a folder named by the year"),
])
def test_unreadable_tables_raise_one_clear_error(name, message):
    with pytest.raises(ReaderError, match=message):
        read_ssda903(BAD / name)


def test_missing_folder():
    with pytest.raises(ReaderError, match="does not exist"):
        read_ssda903(FIX / "no_such_folder")


def test_demo_903_reconciles_and_codes_known(demo_dir):
    lac = read_ssda903(demo_dir / "ssda903")
    lac.ledger.check_reconciles()
    assert len(lac.episodes) > 500
    assert not lac.episodes.duplicated(["child_id", "decom"]).any()
