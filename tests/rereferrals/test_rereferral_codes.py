"""Child codes for text identifiers in any order (rereferrals._codes_from_text_bytes) and
flags that do not depend on the order of the input rows. Hand-made identifiers: the expected
grouping is written out (which rows share a child)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.rereferrals import measure as rr


def _groups(codes: np.ndarray) -> list[list[int]]:
    """Rows grouped by code, as sorted lists of positions (independent of the code values)."""
    out: dict[int, list[int]] = {}
    for i, c in enumerate(codes):
        out.setdefault(int(c), []).append(i)
    return sorted(out.values())


@pytest.mark.parametrize("ids, expected", [
    # short (one 8-byte word): rows 0 and 2 are one child
    (["B7", "A1", "B7", "C"], [[0, 2], [1], [3]]),
    # 10 characters (two words), differing only in the second word; an empty identifier is a value
    (["DM00000094", "DM00000095", "DM00000094", "", "DM0000009"], [[0, 2], [1], [3], [4]]),
    # 25 characters (four words), differing only in the last character
    (["x" * 24 + "a", "x" * 24 + "b", "x" * 24 + "a"], [[0, 2], [1]]),
])
def test_text_codes_group_exactly_like_factorize(ids, expected):
    values = np.array(ids, dtype=object)
    got = rr._codes_from_text_bytes(values)
    assert got is not None
    codes, bound = got
    assert _groups(codes) == expected and codes.min() >= 0 and codes.max() < bound
    assert _groups(pd.factorize(values)[0]) == expected


@pytest.mark.parametrize("ids", [
    ["A1", None, "A1"],            # missing: factorize's -1 must be kept
    ["A1", np.nan, "A1"],
    ["A1", 5, "5"],                # a number is not the text "5"
    ["Zoë", "Zoe", "Zoë"],         # non-ASCII
    ["y" * 40, "y" * 40],          # longer than 32 bytes
])
def test_text_codes_decline_what_factorize_must_handle(ids):
    assert rr._codes_from_text_bytes(np.array(ids, dtype=object)) is None
    codes, _ = rr._child_codes(pd.Series(ids, dtype=object))
    assert _groups(codes) == _groups(pd.factorize(np.array(ids, dtype=object))[0])


def test_flags_identical_in_any_row_order():
    # 3 children, hand-checked: C1 2024-01-10, 2024-06-01 (re), 2025-08-01 (not: > 12 months);
    # C22 2024-02-01, 2024-02-01 same day (re); C333 one referral (not).
    ref = pd.DataFrame({
        "child_id": ["C1", "C1", "C1", "C22", "C22", "C333"],
        "referral_id": ["r1", "r2", "r3", "r4", "r5", "r6"],
        "referral_date": pd.to_datetime(["2024-01-10", "2024-06-01", "2025-08-01", "2024-02-01", "2024-02-01", "2024-03-03"]),
        "closure_date": pd.to_datetime(["2024-02-01", "2024-07-01", None, "2024-02-10", "2024-03-01", None]),
        "closure_reason": ["RC8", "RC1", None, "RC1", "RC1", None],
        "referral_nfa": [False] * 6, "has_cin_plan": [False] * 6, "has_cp_plan": [False] * 6,
    })
    expected = {"r1": False, "r2": True, "r3": False, "r4": False, "r5": True, "r6": False}
    rng = np.random.default_rng(0)
    for _ in range(5):
        shuffled = ref.iloc[rng.permutation(len(ref))]
        flags = rr.flag_rereferrals(shuffled)
        assert dict(zip(flags["referral_id"], flags["is_rereferral"])) == expected
        assert list(flags.index) == list(shuffled.index)  # input order kept


def test_large_shuffled_input_matches_sorted_input():
    """Many rows (the byte-code path) give the same flags and rates as the sorted rows."""
    rng = np.random.default_rng(1)
    n = 20_000
    child = rng.integers(0, 6_000, n)
    ref = pd.DataFrame({
        "child_id": np.array([f"LA{c:08d}" for c in child], dtype=object),
        "referral_date": pd.Timestamp("2021-04-01") + pd.to_timedelta(rng.integers(0, 1500, n), "D"),
    }).drop_duplicates(["child_id", "referral_date"])
    ref["referral_id"] = ref["child_id"] + "|" + ref["referral_date"].dt.strftime("%Y-%m-%d")
    ref["closure_date"] = ref["referral_date"] + pd.Timedelta(days=30)
    ref["closure_reason"], ref["referral_nfa"], ref["has_cin_plan"], ref["has_cp_plan"] = "RC1", False, False, False
    ordered = ref.sort_values(["child_id", "referral_date"]).reset_index(drop=True)
    shuffled = ordered.iloc[rng.permutation(len(ordered))]
    a = rr.flag_rereferrals(ordered)
    b = rr.flag_rereferrals(shuffled).loc[ordered.index]
    assert (a["is_rereferral"] == b["is_rereferral"]).all() and a["is_rereferral"].any()
    start, end = rr.collection_year_bounds(2024)
    pd.testing.assert_frame_equal(rr.rereferral_rates(a, start, end), rr.rereferral_rates(b, start, end))
