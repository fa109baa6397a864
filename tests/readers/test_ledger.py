"""Tests for helpers.readers.ledger: counts, issues, merge, reconciliation and ReaderError messages."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.readers.ledger import Ledger, ReaderError


def test_summary_counts_read_used_repaired_excluded():
    led = Ledger()
    led.add_read("a.csv", 5)
    led.exclude("a.csv", 3, "CHILD missing", "CHILD", "blank")
    led.exclude_rows("a.csv", [4, 6], "DECOM missing", "DECOM", "blank")
    # two repairs on line 2 count as one repaired row; line 5 is a second row
    led.repair("a.csv", 2, "PLACE code not valid", "PLACE", "ZZ")
    led.repair("a.csv", 2, "REC without DEC", "REC", "E11")
    led.repair_rows("a.csv", [5], "LS code not recognised", "LS", ["Q9"])
    led.add_used("a.csv", 2)
    summ = led.summary().set_index("source")
    # hand count: read 5; excluded lines 3, 4, 6 = 3; used 2; repaired rows {2, 5} = 2
    assert summ.loc["a.csv"].to_dict() == {"rows_read": 5, "rows_used": 2, "rows_repaired": 2, "rows_excluded": 3}
    led.check_reconciles()


def test_repaired_then_excluded_row_counts_only_as_excluded():
    led = Ledger()
    led.add_read("e.csv", 2)
    led.repair("e.csv", 2, "DEC not a date: treated as open", "DEC", "x")
    led.exclude("e.csv", 2, "duplicate: superseded by later collection year", "DECOM", "2024")
    led.add_used("e.csv", 1)
    summ = led.summary().set_index("source")
    assert summ.loc["e.csv", "rows_repaired"] == 0
    assert summ.loc["e.csv", "rows_excluded"] == 1


def test_check_reconciles_fails_when_a_row_is_lost():
    led = Ledger()
    led.add_read("b.csv", 4)
    led.add_used("b.csv", 2)
    led.exclude("b.csv", 5, "CHILD missing", "CHILD", "blank")
    # 4 read != 2 used + 1 excluded
    with pytest.raises(AssertionError, match=r"b.csv: read 4 != used 2 \+ excluded 1"):
        led.check_reconciles()


def test_issues_columns_and_row_numbers():
    led = Ledger()
    led.add_read("x.xml:referrals", 2)
    led.exclude("x.xml:referrals", 17, "referral date missing", "CINreferralDate", "blank")
    led.add_used("x.xml:referrals", 1)
    issues = led.issues()
    assert list(issues.columns) == ["source", "row", "rule", "field", "action", "detail"]
    assert issues.loc[0, "row"] == 17 and issues.loc[0, "action"] == "excluded"
    assert Ledger().issues().empty


def test_merge_adds_counts_and_issues_without_changing_inputs():
    a, b = Ledger(), Ledger()
    a.add_read("s", 3); a.add_used("s", 2); a.exclude("s", 4, "r1", None, "d")
    b.add_read("s", 2); b.add_used("s", 2)
    b.add_read("t", 1); b.exclude("t", 2, "r2", "F", "d")
    merged = a.merge(b)
    summ = merged.summary().set_index("source")
    # s: read 3+2=5, used 2+2=4, excluded 1; t: read 1, excluded 1
    assert summ.loc["s", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [5, 4, 1]
    assert summ.loc["t", ["rows_read", "rows_used", "rows_excluded"]].tolist() == [1, 0, 1]
    merged.check_reconciles()
    assert a.summary().set_index("source").loc["s", "rows_read"] == 3


def test_by_rule_counts_without_row_numbers():
    led = Ledger()
    led.add_read("a", 3)
    led.exclude_rows("a", [2, 3], "CHILD missing", "CHILD", "blank")
    led.repair("a", 4, "LS code not recognised", "LS", "Q")
    table = led.by_rule()
    assert "row" not in table.columns
    assert dict(zip(table["rule"], table["rows"])) == {"CHILD missing": 2, "LS code not recognised": 1}


def test_reader_error_names_file_place_field_and_expectation():
    err = ReaderError("episodes.csv", "line 1", "DECOM", "required column missing")
    assert str(err) == "episodes.csv, line 1, field DECOM: required column missing"
    assert isinstance(err, ValueError)
    assert str(ReaderError("a.xml", "line 3", None, "x")) == "a.xml, line 3: x"


def test_repaired_rows_later_excluded_are_counted_once_per_source():
    # By hand: a.csv rows 2, 3, 4 repaired; row 3 later excluded; row 4 repaired twice; one
    # repair without a row. b.csv row 3 repaired (same row number as a.csv's excluded row,
    # another source: still a repair) and row 5 excluded. a.csv: read 5, used 4, excluded 1,
    # repaired 2 (rows 2 and 4) + 1 without a row = 3. b.csv: read 4, used 3, excluded 1, repaired 1.
    led = Ledger()
    led.add_read("a.csv", 5)
    led.add_read("b.csv", 4)
    led.repair_rows("a.csv", np.array([2, 3, 4]), "trimmed", "X", "v")
    led.repair("a.csv", 4, "other repair", "Y", "w")
    led.repair("a.csv", None, "file-level repair", None, "")
    led.exclude_rows("a.csv", np.array([3]), "bad", "X", "v")
    led.repair_rows(np.array(["b.csv"]), np.array([3]), "trimmed", "X", "v")
    led.exclude("b.csv", 5, "bad", "X", "v")
    led.add_used("a.csv", 4)
    led.add_used("b.csv", 3)
    summary = led.summary().set_index("source")
    assert summary.loc["a.csv"].tolist() == [5, 4, 3, 1]
    assert summary.loc["b.csv"].tolist() == [4, 3, 1, 1]
    led.check_reconciles()
    assert led.issue_columns(["source", "rule"]).equals(led.issues()[["source", "rule"]])


def test_only_keeps_the_chosen_sources_counts_issues_and_specs():
    led = Ledger()
    led.add_read("book.xlsx:List 3", 4)
    led.add_read("book.xlsx:List 8", 2)
    led.exclude("book.xlsx:List 3", 5, "child identifier missing", "Child Unique ID", "blank")
    led.exclude_rows(["book.xlsx:List 3", "book.xlsx:List 8"], [6, 2], "duplicate", "Child Unique ID", "x")
    led.add_used("book.xlsx:List 3", 2)
    led.add_used("book.xlsx:List 8", 1)
    led.note_spec("book.xlsx", "Annex A", 2027, 2026)
    eight = led.only(lambda s: s.endswith(":List 8"))
    # by hand: List 8 read 2, used 1, one exclusion (row 2); List 3's rows gone
    assert eight.summary().to_dict("records") == [
        {"source": "book.xlsx:List 8", "rows_read": 2, "rows_used": 1, "rows_repaired": 0, "rows_excluded": 1}]
    assert eight.issues()["row"].tolist() == [2]
    eight.check_reconciles()
    assert len(eight.specs()) == 1
    assert len(led.issues()) == 3   # the original is unchanged
