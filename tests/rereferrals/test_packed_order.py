"""The fast ordering of referrals by child and date (issue 16): text identifiers read as
mixed-radix integers in their own sort order (rereferrals._lexical_keys), one sort of packed
(child, day, row) integers (rereferrals._packed_order), its fallback when the parts do not fit
64 bits, and the second thread that works out outcomes meanwhile. Every expected value is
worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.rereferrals import measure as rr


# ------------------------------------------------------------------ lexical keys


def test_lexical_keys_by_hand():
    # Identifiers "B7", "A1", "B7", "C" (bytes B=66, A=65, C=67, "7"=55, "1"=49).
    # Position 0 takes 65..67: base 3, digits B=1, A=0, C=2.
    # Position 1 takes 49, 55 and the pad byte 0 ("C" is shorter): 0..55, base 56.
    # Keys: B7 = 1*56 + 55 = 111; A1 = 0*56 + 49 = 49; C = 2*56 + 0 = 112; bound 3*56 = 168.
    keys, bound = rr._lexical_keys(np.array(["B7", "A1", "B7", "C"], dtype=object))
    assert keys.tolist() == [111, 49, 111, 112] and bound == 168


def test_lexical_keys_drop_positions_every_identifier_shares():
    # "DM04", "DM17", "DM09": positions 0 and 1 are the same everywhere (base 1, left out);
    # position 2 takes "0".."1" (base 2), position 3 "4".."9" (base 6, digits "4"=0 .. "9"=5).
    # Keys: DM04 = 0*6 + 0 = 0; DM17 = 1*6 + 3 = 9; DM09 = 0*6 + 5 = 5; bound 2*6 = 12.
    keys, bound = rr._lexical_keys(np.array(["DM04", "DM17", "DM09"], dtype=object))
    assert keys.tolist() == [0, 9, 5] and bound == 12


def test_text_columns_tell_one_length_from_several():
    # "abc", "d", "ef", "gh": 8 bytes + 3 separators = 12 = 4 * (2 + 1), as if all were 2 long,
    # but the first separator is byte 3, not byte 2: identifiers of several lengths, padded.
    columns, lengths, fixed = rr._text_columns(np.array(["abc", "d", "ef", "gh"], dtype=object), 64)
    assert not fixed and lengths.tolist() == [3, 1, 2, 2]
    assert [bytes(row) for row in columns] == [b"adeg", b"b\0fh", b"c\0\0\0"]
    # "ab", "cd", "ef": every identifier 2 bytes
    columns, lengths, fixed = rr._text_columns(np.array(["ab", "cd", "ef"], dtype=object), 64)
    assert fixed and lengths.tolist() == [2, 2, 2]
    assert [bytes(row) for row in columns] == [b"ace", b"bdf"]


def test_lexical_keys_exact_near_the_limit():
    # 61 positions each "y" or "z" (base 2, "y" = 0): the keys are 61-bit binary numbers, and
    # the raw bytes (122 at each position) overflow 64 bits on the way: the result is still exact.
    ids = ["y" * 61, "z" * 61, "y" * 60 + "z", "z" + "y" * 60]
    keys, bound = rr._lexical_keys(np.array(ids, dtype=object))
    assert bound == 2 ** 61
    assert keys.tolist() == [0, 2 ** 61 - 1, 1, 2 ** 60]


def test_lexical_keys_combine_runs_of_positions():
    # 12 digit positions "0".."9" (base 10): the raw value of more than 9 positions passes
    # 2**32, so the keys are built in two runs and folded; the key is the number itself.
    ids = ["000000000000", "123456789012", "999999999999", "000000000001"]
    keys, bound = rr._lexical_keys(np.array(ids, dtype=object))
    assert bound == 10 ** 12
    assert keys.tolist() == [0, 123456789012, 999999999999, 1]


@pytest.mark.parametrize("ids", [
    ["b", "a", "ab", "", "a", "B", "é", "e", "éa"],          # prefixes, empty, case, non-ASCII
    ["DM0000009", "DM00000094", "DM00000095", "DM0000009"],  # a shorter identifier sorts first
])
def test_lexical_keys_follow_python_string_order(ids):
    keys, bound = rr._lexical_keys(np.array(ids, dtype=object))
    assert 0 <= keys.min() and keys.max() < bound
    # same key exactly when same identifier, and key order is sorted() order
    by_key = [ids[i] for i in np.argsort(keys, kind="stable")]
    assert by_key == sorted(ids)
    for i in range(len(ids)):
        for j in range(len(ids)):
            assert (keys[i] == keys[j]) == (ids[i] == ids[j])


@pytest.mark.parametrize("ids", [
    ["A1", None, "A1"],        # missing: left to pd.factorize
    ["A1", 5, "5"],            # not text
    ["A", "A\0", "A"],         # holds the separator
    ["y" * 65, "y" * 65],      # longer than 64 bytes
    ["0" * 16, "z" * 16],      # 16 positions of base 75 ("0".."z"): 75**16 > 2**62
])
def test_lexical_keys_decline(ids):
    assert rr._lexical_keys(np.array(ids, dtype=object)) is None


# ------------------------------------------------------------------ packed sort


def test_packed_order_by_hand():
    # rows: 0 (child 1, day 10), 1 (child 0, day 5, id "b"), 2 (child 1, day 3), 3 (child 0, day 5, id "a").
    # Child 0 first: rows 1 and 3 share a day, so referral_id order: "a" (row 3), then "b" (row 1);
    # then child 1: day 3 (row 2), day 10 (row 0).
    order, child, day = rr._packed_order(np.array([1, 0, 1, 0]), 2, np.array([10, 5, 3, 5]),
                                         np.array(["c", "b", "d", "a"], dtype=object))
    assert order.tolist() == [3, 1, 2, 0]
    assert child.tolist() == [1, 1, 2, 2]  # child code + 1 (a missing identifier, -1, becomes 0)
    assert day.tolist() == [5, 5, 3, 10]


def test_packed_order_keeps_row_order_when_ids_tie():
    # the same child, day and referral_id on rows 2 and 0 (a duplicated record): row order kept
    order, _, _ = rr._packed_order(np.array([0, 0, 0]), 1, np.array([7, 7, 7]), np.array(["x", "w", "x"], dtype=object))
    assert order.tolist() == [1, 0, 2]


def test_packed_order_none_when_already_in_order():
    # (child, day) strictly increasing: nothing to reorder
    order, child, day = rr._packed_order(np.array([-1, 0, 0, 1]), 2, np.array([4, 1, 2, 1]),
                                         np.array(["a", "b", "c", "d"], dtype=object))
    assert order is None and child.tolist() == [0, 1, 1, 2] and day.tolist() == [4, 1, 2, 1]


def test_packed_order_declines_when_the_parts_need_more_than_63_bits():
    # child codes below 2**60 need 61 bits (code + 1), days 0..3 need 2, rows 0..2 need 2: 65 bits
    assert rr._packed_order(np.array([5, 2**60 - 1, 5]), 2**60, np.array([0, 3, 1]),
                            np.array(["a", "b", "c"], dtype=object)) is None
    # a missing referral date (NaT as a day number) is left to the fallback too
    nat_day = (np.array(["NaT", "2024-01-01"], dtype="datetime64[D]") - rr._DAY0).astype(np.int64)
    assert rr._packed_order(np.array([0, 1]), 2, nat_day, np.array(["a", "b"], dtype=object)) is None


def _referrals(child_ids, dates, ids=None) -> pd.DataFrame:
    n = len(child_ids)
    return pd.DataFrame({
        "referral_id": ids or [f"r{i}" for i in range(n)], "child_id": np.array(child_ids, dtype=object),
        "referral_date": pd.to_datetime(dates), "closure_date": pd.NaT, "closure_reason": None,
        "referral_nfa": False, "has_cin_plan": False, "has_cp_plan": False,
    })


def test_flags_when_child_keys_do_not_fit_the_packed_sort():
    # Identifiers 9 characters long spanning "0".."z" at every position: keys need 9 base-75
    # digits (75**9 = 7.5e16: 57 bits) + days (2023-01-01 .. 2024-06-30: 546, 10 bits) + rows
    # (0..5: 3 bits) = 70 bits, over 63: the argsort fallback orders the referrals.
    a, b = "0" * 9, "z" * 9
    ref = _referrals([b, a, b, a, a, b], ["2024-06-30", "2023-01-01", "2023-02-01", "2023-12-31", "2024-06-30", "2024-03-01"])
    keys, bound = rr._lexical_keys(ref["child_id"].to_numpy())
    assert bound == 75 ** 9
    day = (ref["referral_date"].to_numpy(dtype="datetime64[D]") - rr._DAY0).astype(np.int64)
    assert rr._packed_order(keys, bound, day, ref["referral_id"].to_numpy()) is None
    flags = rr.flag_rereferrals(ref)
    # a: 2023-01-01 (first), 2023-12-31 (364 days: re), 2024-06-30 (182 days: re);
    # b: 2023-02-01 (first), 2024-03-01 (394 days, after 2024-02-01: not), 2024-06-30 (121 days: re).
    assert flags["is_rereferral"].tolist() == [True, False, False, True, True, False]
    assert flags["days_since_previous"].fillna(-1).tolist() == [121, -1, -1, 364, 182, 394]
    assert flags.index.equals(ref.index)


# ------------------------------------------------------------------ flags, and the second thread


def test_flags_in_any_row_order_by_hand():
    # C1: 2024-01-10, 2024-06-01 (re), 2025-08-01 (not: 14 months); C2: 2024-02-01 twice (the
    # second, by referral_id "r5" after "r4", is a re-referral); C3 one referral.
    ref = _referrals(["C1", "C2", "C1", "C3", "C2", "C1"],
                     ["2025-08-01", "2024-02-01", "2024-01-10", "2024-03-03", "2024-02-01", "2024-06-01"],
                     ["r3", "r5", "r1", "r6", "r4", "r2"])
    flags = rr.flag_rereferrals(ref)
    assert dict(zip(flags["referral_id"], flags["is_rereferral"])) == {
        "r1": False, "r2": True, "r3": False, "r4": False, "r5": True, "r6": False}


def test_repeated_rows_by_hand(monkeypatch):
    monkeypatch.setattr(rr, "_SINGLES_FROM", 2)
    # codes 3, 0, 3, 1, -1, 2, -1 (bound 4): child 3 on rows 0 and 2, the missing identifier
    # (-1, one group like pd.factorize's) on rows 4 and 6; children 0, 1, 2 once each.
    got = rr._repeated_rows(np.array([3, 0, 3, 1, -1, 2, -1]), 4, np.array([5, 1, 2, 3, 4, 5, 6]))
    assert got.tolist() == [0, 2, 4, 6]
    # rows already in child-date order: nothing left out (no sort is needed at all)
    assert rr._repeated_rows(np.array([0, 1, 1, 2]), 3, np.array([9, 1, 2, 0])) is None
    # bound over twice the rows: the count table would be large
    assert rr._repeated_rows(np.array([90, 0, 90, 1]), 100, np.array([1, 1, 2, 1])) is None
    # fewer than an eighth of the rows would be left out: not worth it
    assert rr._repeated_rows(np.array([1, 0, 1, 0]), 2, np.array([5, 1, 2, 3])) is None


def test_flags_with_children_of_one_referral_left_out_of_the_sort(monkeypatch):
    monkeypatch.setattr(rr, "_SINGLES_FROM", 2)
    # "B" twice (2024-01-05, then 2024-03-01 within 12 months: re, 56 days), "A", "C", "D" once.
    ref = _referrals(["B", "A", "C", "B", "D"], ["2024-03-01", "2024-02-01", "2023-01-01", "2024-01-05", "2022-05-05"])
    ref["closure_date"] = pd.to_datetime(["2024-04-01", None, None, "2024-02-01", None])
    ref["closure_reason"] = ["RC1", None, None, "RC8", None]
    codes_, bound = rr._child_codes(ref["child_id"], sparse=True)
    day = (ref["referral_date"].to_numpy(dtype="datetime64[D]") - rr._DAY0).astype(np.int64)
    assert rr._repeated_rows(codes_, bound, day).tolist() == [0, 3]  # only B's rows are sorted
    flags = rr.flag_rereferrals(ref, referrals_in_window=True)
    assert flags["is_rereferral"].tolist() == [True, False, False, False, False]
    assert flags["days_since_previous"].fillna(-1).tolist() == [56, -1, -1, -1, -1]
    assert flags["previous_referral_date"].tolist() == [pd.Timestamp("2024-01-05")] + [pd.NaT] * 4
    # B's first case closed 2024-02-01 with RC8 (assessed, not in need) before the next referral
    assert flags["previous_outcome"].tolist() == [rr.OUTCOME_NOT_IN_NEED] + [rr.OUTCOME_NONE] * 4
    assert flags["open_at_referral"].tolist() == [False] * 5
    assert flags["referrals_in_window"].tolist() == [2, 1, 1, 1, 1]
    assert flags["counted"].all() and flags.index.equals(ref.index)


def test_run_both_reraises_from_the_thread():
    def fail():
        raise ValueError("in the thread")

    with pytest.raises(ValueError, match="in the thread"):
        rr._run_both(fail, lambda: 1)
    assert rr._run_both(lambda: 1, lambda: 2) == (1, 2)
