"""Disclosure control: expected values worked out by hand in the comments."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.publishing import disclosure
from helpers.publishing.disclosure import MARKER, DisclosureError


def test_primary_suppression_hides_1_to_threshold_and_keeps_zero():
    # Threshold 5: 1 and 5 are hidden, 0 and 6 are shown. No secondary (cells sum to nothing).
    df = pd.DataFrame({"team": list("ABCD"), "n": [0, 1, 5, 6]})
    out = disclosure.suppress(df, count_cols=["n"], threshold=5, secondary=False)
    assert out["n"].isna().tolist() == [False, True, True, False]
    assert out["n"].iloc[0] == 0 and out["n"].iloc[3] == 6


def test_threshold_comes_from_argument():
    # Threshold 10: 6 and 10 are hidden too; 11 stays.
    df = pd.DataFrame({"n": [6, 10, 11]})
    out = disclosure.suppress(df, count_cols=["n"], threshold=10, secondary=False)
    assert out["n"].isna().tolist() == [True, True, False]


def test_secondary_suppression_hides_next_smallest_when_one_cell_hidden():
    # Column total 10+3+0+7+50 = 70 is published elsewhere: 3 alone could be recovered as
    # 70-10-0-7-50. The next smallest non-zero cell is 7, so 7 is hidden too; the zero stays.
    df = pd.DataFrame({"ward": list("ABCDE"), "n": [10, 3, 0, 7, 50]})
    out = disclosure.suppress(df, count_cols=["n"], threshold=5)
    assert out["n"].isna().tolist() == [False, True, False, True, False]
    assert out.attrs["disclosure"]["primary_suppressed"] == 1
    assert out.attrs["disclosure"]["total_suppressed"] == 2


def test_secondary_not_needed_when_two_cells_already_hidden():
    df = pd.DataFrame({"n": [2, 4, 30, 40]})
    out = disclosure.suppress(df, count_cols=["n"], threshold=5)
    assert out["n"].isna().tolist() == [True, True, False, False]


def test_secondary_suppression_within_groups():
    # Year 2024: 2, 20, 30 -> 2 primary, 20 secondary. Year 2025: 8, 9 -> nothing hidden.
    df = pd.DataFrame({"year": [2024, 2024, 2024, 2025, 2025], "n": [2, 30, 20, 8, 9]})
    out = disclosure.suppress(df, count_cols=["n"], threshold=5, group_cols=["year"])
    assert out["n"].isna().tolist() == [True, False, True, False, False]


def test_row_totals_cascade_until_stable():
    # Row totals: total = nfa + other. Row 0: nfa=3 hidden (primary); within the row the next
    # smallest non-zero is other=17 -> hidden. Column other now has one hidden cell (17) so the
    # next smallest in that column, 25 (row 1), is hidden; then row 1 has one hidden cell (25)
    # and its next smallest, nfa=10, is hidden. Column nfa: 3 and 10 hidden (two) -> stable.
    # Column total: 20 and 35 both shown, nothing hidden there.
    df = pd.DataFrame({"total": [20, 35, 100], "nfa": [3, 10, 40], "other": [17, 25, 60]})
    out = disclosure.suppress(df, count_cols=["total", "nfa", "other"], threshold=5, row_totals={"total": ["nfa", "other"]})
    assert out["nfa"].isna().tolist() == [True, True, False]
    assert out["other"].isna().tolist() == [True, True, False]
    assert out["total"].isna().tolist() == [False, False, False]
    # Nothing hidden can be recovered: row 0 total 20 = ? + ?, column nfa total 53 = ? + ? + 40.


def test_rates_hidden_when_numerator_or_denominator_hidden():
    # Row A: 12/40 shown. Row B: numerator 4 hidden -> rate hidden. Row C: denominator 3 hidden -> rate hidden.
    # No secondary: the rows are independent teams whose sums are not published.
    df = pd.DataFrame({"team": list("ABC"), "re": [12, 4, 0], "refs": [40, 50, 3]})
    df["rate"] = df["re"] / df["refs"]
    out = disclosure.suppress(df, count_cols=[], rate_cols={"rate": ("re", "refs")}, threshold=5, secondary=False)
    assert out["rate"].isna().tolist() == [False, True, True]
    assert out["rate"].iloc[0] == pytest.approx(0.3)
    # Numerator and denominator are treated as counts themselves.
    assert out["re"].isna().tolist() == [False, True, False]
    assert out["refs"].isna().tolist() == [False, False, True]


def test_for_display_uses_marker():
    df = pd.DataFrame({"n": [3, 40, 50]})
    shown = disclosure.for_display(disclosure.suppress(df, count_cols=["n"], threshold=5))
    # 3 primary, 40 secondary.
    assert shown["n"].tolist() == [MARKER, MARKER, 50]


def test_check_safe_refuses_small_counts():
    raw = pd.DataFrame({"n": [3, 40]})
    with pytest.raises(DisclosureError, match="'n'"):
        disclosure.check_safe(raw, 5, count_cols=["n"])
    disclosure.check_safe(disclosure.suppress(raw, count_cols=["n"], threshold=5), 5)


def test_check_safe_refuses_rate_on_hidden_numerator():
    df = pd.DataFrame({"re": [pd.NA, 20], "refs": [50, 60], "rate": [0.06, 0.33]}).astype({"re": "Int64"})
    df.attrs["disclosure"] = {"count_cols": ["re", "refs"], "rate_cols": {"rate": ["re", "refs"]}}
    with pytest.raises(DisclosureError, match="rate"):
        disclosure.check_safe(df, 5)


def test_check_safe_needs_declared_columns():
    with pytest.raises(DisclosureError, match="declares no count columns"):
        disclosure.check_safe(pd.DataFrame({"n": [100]}), 5)


def test_suppress_value_for_headlines():
    assert disclosure.suppress_value(4, 5) == MARKER
    assert disclosure.suppress_value(0, 5) == 0
    assert disclosure.suppress_value(6, 5) == 6


def test_missing_column_is_named():
    with pytest.raises(KeyError, match="nope"):
        disclosure.suppress(pd.DataFrame({"n": [1]}), count_cols=["nope"], threshold=5)


def test_complementary_cell_is_taken_from_a_row_already_hidden():
    # Sex breakdown: referrals Female 2670, Indeterminate 3, Male 2807, Not recorded 40;
    # re-referrals 655, 1, 673, 0. Referrals column: 3 hidden (primary) -> the smallest other, 40
    # (Not recorded), hidden. Re-referrals column: 1 hidden -> the cell in a row already hidden is
    # preferred, even though it is 0: Not recorded's 0. Female and Male stay shown.
    df = pd.DataFrame({"group": ["Female", "Indeterminate", "Male", "Not recorded"],
                       "referrals": [2670, 3, 2807, 40], "rereferrals": [655, 1, 673, 0]})
    out = disclosure.suppress(df, count_cols=["referrals", "rereferrals"], threshold=5)
    assert out["referrals"].isna().tolist() == [False, True, False, True]
    assert out["rereferrals"].isna().tolist() == [False, True, False, True]


def test_crosstab_with_totals_leaves_nothing_to_subtract():
    # Adoption: external 3 (primary), in-house 11, total 14. Row: 3 hidden -> 11 or 14? The row
    # group is (total, parts): the smallest other non-zero is 11 -> hidden... but then the
    # in-house column has one hidden cell (11) -> its smallest other non-zero, 20, is hidden, and
    # Fostering's row then hides its smallest other, external 30. Worked through:
    wide = disclosure.suppress_crosstab(pd.DataFrame({
        "category": ["Adoption", "Adoption", "Fostering", "Fostering", "Homes", "Homes"],
        "provider": ["External", "In-house", "External", "In-house", "External", "In-house"],
        "children": [3, 11, 30, 20, 40, 50]}), "category", "provider", "children", threshold=5)
    hidden = {(r, c) for r in range(3) for c in ("External", "In-house", "Total") if pd.isna(wide.at[r, c])}
    # every row, every column with a hidden cell has at least two
    for r in range(3):
        assert len([c for c in ("External", "In-house", "Total") if (r, c) in hidden]) != 1
    for c in ("External", "In-house", "Total"):
        assert len([r for r in range(3) if (r, c) in hidden]) != 1
    assert (0, "External") in hidden
    long = disclosure.crosstab_long(wide, "category", "provider", "children")
    assert long["children"].isna().sum() == sum(1 for r, c in hidden if c != "Total")


def test_small_counts_in_text():
    assert disclosure.small_counts_in_text("codes not recognised: 4 episodes", 5) == ["4 episodes"]
    assert disclosure.small_counts_in_text("3 more children and 12 months; 2 years; 25.1% of 4.5 referrals; 2026 referrals", 5) == ["3 more children"]
    with pytest.raises(DisclosureError, match="4 episodes"):
        disclosure.check_text("4 episodes", 5)
    disclosure.check_text("c episodes, fewer than 6 children, 1,204 referrals", 5)


def test_a_small_number_of_other_things_is_not_a_count_of_children():
    assert disclosure.small_counts_in_text("2 teams with few children; 3 districts of children", 5) == []
