"""Re-referrals to children's social care: the DfE measure, its sensitivity to definition,
and what drives it.

Definition (DfE, "Children in need" statistics, table C1 "Referrals and re-referrals by
local authority"): a referral is a **re-referral** when the same child had a previous
referral **within 12 months** before it. Every referral counts, including referrals that
led to no further action (NFA), which stay in the denominator. DfE publishes

- the referral-level rate: re-referrals / referrals in the year, and
- the child-level rate: children with at least one re-referral / children referred.

Two details are not fixed by the published definition (``docs/definitions.md``), so
they are explicit parameters here, with these documented defaults:

- ``unit="months"``: "within 12 months" means up to the same date 12 calendar months later
  (a previous referral on 29 Feb is followed to 28 Feb of the next year); ``unit="days"``
  with ``window=365`` uses a fixed day count instead.
- ``inclusive=True``: a referral on the exact anniversary (12 months to the day) counts as
  a re-referral ("within" includes the boundary). ``inclusive=False`` excludes it.
- Look-back crosses collection years: every referral supplied counts as a possible
  "previous" referral, including those before the reporting period. Rates for a period
  whose look-back starts before the first supplied referral are flagged
  (``lookback_complete`` is False) because they undercount.
- Two referrals of the same child on the same day (possible in raw exports, not after the
  CIN census reader's de-duplication): the second counts as a re-referral (0 days after).

All functions are vectorised (sort by child and date, shift, ``searchsorted``); no per-child
Python loops. Inputs are the ``referrals`` and ``children`` tables of
``docs/data_model.md`` section 2.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from helpers import codes
from helpers.readers import specs
from helpers.stats import add_wilson, funnel_position

#: Columns of the referrals table this module needs (data_model section 2).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "referral_id", "child_id", "referral_date", "closure_date", "closure_reason",
    "referral_nfa", "has_cin_plan", "has_cp_plan",
)

#: Outcome of a (previous) referral, in display order.
OUTCOME_NFA = "No further action"
OUTCOME_NOT_IN_NEED = "Assessed, not in need"
OUTCOME_CIN_PLAN = "Closed after CIN plan"
OUTCOME_CP_PLAN = "Closed after CP plan"
OUTCOME_OTHER = "Other closure"
OUTCOME_OPEN = "Previous case still open"
OUTCOME_NONE = "No previous referral"
PREVIOUS_OUTCOMES: tuple[str, ...] = (
    OUTCOME_NFA, OUTCOME_NOT_IN_NEED, OUTCOME_CIN_PLAN, OUTCOME_CP_PLAN, OUTCOME_OTHER,
    OUTCOME_OPEN, OUTCOME_NONE,
)

#: Age bands as DfE publishes children in need (age at referral, from month of birth).
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("Unborn", -10_000, -1), ("Under 1", 0, 0), ("1 to 4", 1, 4), ("5 to 9", 5, 9),
    ("10 to 15", 10, 15), ("16 and over", 16, 10_000),
)

#: Time since the previous referral (days, upper bounds inclusive), in display order.
TIME_SINCE_BANDS: tuple[tuple[str, int], ...] = (
    ("Up to 7 days", 7), ("8 to 30 days", 30), ("1 to 3 months", 91), ("3 to 6 months", 182),
    ("6 to 12 months", 366), ("1 to 2 years", 731), ("Over 2 years", 10**7),
)
TIME_SINCE_NONE = "No previous referral"

_DAY0 = np.datetime64("1900-01-01", "D")
_NO_END = np.int64(10**7)  # "day" of a case with no closure: far beyond any real date
_END_BASE = np.int64(1 << 24)  # more than _NO_END: (child, end day) packs into one int64
_KEY_BASE = np.int64(1 << 18)  # more days than 1900..2500: (child, day) packs into one int64
_SMALL_CODE = 1 << 38  # child codes below this pack with an end day (or day) into one int64
_NS_PER_DAY = np.int64(86_400 * 10**9)
_DAY0_NS = _DAY0.astype("datetime64[ns]").astype(np.int64)
_NAT_INT = np.datetime64("NaT", "ns").astype(np.int64)


@dataclass(frozen=True)
class Definition:
    """One definition of a re-referral (the parameters of :func:`flag_rereferrals`).

    ``name`` is the key used in tables and in ``summary.json`` (as ``rate_{name}``);
    ``label`` is the plain-English description shown to members.
    """

    name: str
    label: str
    window: int = 12
    unit: str = "months"
    inclusive: bool = True
    measure_from: str = "referral"
    exclude_nfa: bool = False
    collapse_duplicates_days: int | None = None
    exclude_open: bool = False

    def kwargs(self) -> dict:
        d = asdict(self)
        d.pop("name")
        d.pop("label")
        return d


#: The DfE measure (default settings).
DFE = Definition("dfe", "DfE definition: previous referral within 12 calendar months")


def alternative_definitions(duplicate_days: int = 7, base: Definition = DFE) -> tuple[Definition, ...]:
    """The reference definition followed by the alternatives shown in the sensitivity table.

    Inputs: ``duplicate_days``, the gap (days) within which a second referral of the same
    child is treated as a recording duplicate; ``base`` the reference definition (default
    the DfE measure; a council may set another window or boundary rule in its config, and
    every alternative then changes one thing from it). Output: tuple of :class:`Definition`,
    ``base`` first (named ``"dfe"``).
    """
    base = replace(base, name="dfe")
    months = replace(base, unit="months")
    return (
        base,
        replace(base, name="days_365", label="Window of 365 days instead of 12 calendar months", unit="days", window=365),
        replace(months, name="window_6m", label="Window of 6 months", window=6),
        replace(months, name="window_24m", label="Window of 24 months", window=24),
        replace(base, name="from_closure", label="Window counted from the previous case closing, not the previous referral",
                measure_from="closure"),
        replace(base, name="excluding_nfa", label="Referrals with no further action left out", exclude_nfa=True),
        replace(base, name="duplicates_collapsed",
                label=f"Referrals within {duplicate_days} days of the previous one treated as duplicates",
                collapse_duplicates_days=duplicate_days),
        replace(base, name="excluding_open", label="Referrals made while a previous case was still open left out",
                exclude_open=True),
    )


# --------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------


def collection_year(dates: pd.Series) -> pd.Series:
    """Collection year of each date: the year in which the year to 31 March ends
    (1 April 2024 to 31 March 2025 is ``2025``). Input: datetime Series; output: Int64."""
    d = pd.to_datetime(dates)
    return (d.dt.year + (d.dt.month >= 4).astype(int)).astype("Int64")


def collection_year_bounds(year: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of a collection year (``2025`` -> 2024-04-01, 2025-03-31)."""
    return pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)


def shift_days(days: np.ndarray, window: int, unit: str) -> np.ndarray:
    """Dates as ``datetime64[D]`` moved by ``window`` calendar months (``unit="months"``; the
    day is clamped to the end of a shorter month, so 29 Feb + 12 months = 28 Feb and
    31 Jan - 2 months = 30 Nov) or by ``window`` days (``unit="days"``). A negative
    ``window`` moves back; NaT stays NaT. Pure numpy, vectorised."""
    days = np.asarray(days, dtype="datetime64[D]")
    if unit == "days":
        return days + np.timedelta64(window, "D")
    if unit != "months":
        raise ValueError(f"unit must be 'months' or 'days', got {unit!r}")
    month = days.astype("datetime64[M]")
    day_of_month = days - month.astype("datetime64[D]")
    target = month + np.timedelta64(window, "M")
    days_in_target = (target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")
    return target.astype("datetime64[D]") + np.minimum(day_of_month, days_in_target - np.timedelta64(1, "D"))


def _shift_day_numbers(day: np.ndarray, window: int, unit: str) -> np.ndarray:
    """:func:`shift_days` for day numbers (days since 1900-01-01, int64). Calendar work is
    done once per distinct day in the range through a lookup table, then indexed."""
    if len(day) == 0:
        return day.copy()
    lo, hi = int(day.min()), int(day.max())
    table_days = _DAY0 + np.arange(lo, hi + 1).astype("timedelta64[D]")
    table = (shift_days(table_days, window, unit) - _DAY0).astype(np.int64)
    return table[day - lo]


def shift_window(dates: pd.Series, window: int, unit: str) -> pd.Series:
    """:func:`shift_days` for a datetime Series (returns ``datetime64[ns]``, same index)."""
    shifted = shift_days(dates.to_numpy(dtype="datetime64[D]"), window, unit)
    return pd.Series(shifted.astype("datetime64[ns]"), index=dates.index)


def _check_columns(referrals: pd.DataFrame, required=REQUIRED_COLUMNS) -> None:
    missing = [c for c in required if c not in referrals.columns]
    if missing:
        raise KeyError(f"referrals table lacks columns {missing} (see docs/data_model.md section 2)")


def referral_outcome(referrals: pd.DataFrame) -> pd.Series:
    """Outcome of each referral, for the "previous outcome" breakdown.

    Input: referrals with ``referral_nfa``, ``closure_reason`` (CIN census ReasonForClosure),
    ``has_cp_plan``, ``has_cin_plan``. Output: Series of labels, first match wins:
    NFA -> "No further action"; closure reason in ``codes.CLOSED_AFTER_ASSESSMENT``
    (RC8/RC9) -> "Assessed, not in need"; any child protection plan -> "Closed after CP
    plan"; any CIN plan -> "Closed after CIN plan"; otherwise "Other closure". Whether the
    case was still open when the next referral came is decided by :func:`flag_rereferrals`.
    """
    codes_ = _outcome_codes(referrals)
    return pd.Series(np.asarray(PREVIOUS_OUTCOMES, dtype=object)[codes_], index=referrals.index, dtype=object)


def _outcome_codes(referrals: pd.DataFrame) -> np.ndarray:
    """Outcome of each referral as an index into :data:`PREVIOUS_OUTCOMES` (int8)."""
    nfa = referrals["referral_nfa"].fillna(False).astype(bool).to_numpy()
    not_in_need = referrals["closure_reason"].isin(codes.CLOSED_AFTER_ASSESSMENT).to_numpy()
    cp = referrals["has_cp_plan"].fillna(False).astype(bool).to_numpy()
    cin = referrals["has_cin_plan"].fillna(False).astype(bool).to_numpy()
    idx = PREVIOUS_OUTCOMES.index
    return np.select([nfa, not_in_need, cp, cin],
                     [idx(OUTCOME_NFA), idx(OUTCOME_NOT_IN_NEED), idx(OUTCOME_CP_PLAN), idx(OUTCOME_CIN_PLAN)],
                     default=idx(OUTCOME_OTHER)).astype(np.int8)


def _child_codes(child_id: pd.Series, *, sparse: bool = False) -> tuple[np.ndarray, int]:
    """Integer code for each child identifier (equal identifiers, equal codes; a missing
    identifier is -1) and an upper bound ``n`` on the codes (codes are ``< n``), int64.

    Fast paths, fastest first: a categorical ``child_id`` (its codes, no hashing: readers
    should supply categorical identifiers at national scale); identifiers already sorted
    (the order of the CIN census and flat exports; one comparison of neighbours); text
    identifiers in any order (:func:`_lexical_keys`, else :func:`_codes_from_text_bytes`:
    integers from the UTF-8 bytes, no string hashing); otherwise ``pd.factorize``. Only which
    rows share a child matters, never the code values. ``sparse=True`` returns
    :func:`_lexical_keys` as they are (``bound`` may then be far above the number of rows)
    instead of renumbering them ``0 .. distinct - 1``."""
    if isinstance(child_id.dtype, pd.CategoricalDtype):
        return child_id.cat.codes.to_numpy().astype(np.int64), len(child_id.cat.categories)
    values = child_id.to_numpy()
    if len(values) >= 2 and _ascending(values):
        change = np.empty(len(values), dtype=bool)
        change[0] = False
        np.not_equal(values[1:], values[:-1], out=change[1:])
        codes_ = np.cumsum(change, dtype=np.int64)
        return codes_, int(codes_[-1]) + 1
    lexical = _lexical_keys(values)
    if lexical is not None:
        keys, bound = lexical
        if sparse or bound <= max(4 * len(keys), _DENSE_ENOUGH):
            return keys, bound
        codes_, uniques = pd.factorize(keys, sort=False)
        return codes_.astype(np.int64), len(uniques)
    fast = _codes_from_text_bytes(values)
    if fast is not None:
        return fast
    codes_, uniques = pd.factorize(values, sort=False)
    return codes_.astype(np.int64), len(uniques)


#: Codes below this bound are used as they are (a table of this many flags is small);
#: sparser codes are renumbered.
_DENSE_ENOUGH = 1 << 24

_WORD = 8
_MAX_WORDS = 4


_SEPARATOR = "\x00"


def _text_columns(values: np.ndarray, max_width: int) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """The UTF-8 bytes of text identifiers, one row per byte position.

    The identifiers are joined once into one UTF-8 buffer (``str.join``: one visit to each
    string, a memory copy, no per-string Python call) and split again at the separators with
    numpy. Returns ``(columns, lengths, fixed)``: ``columns`` is ``(width, n)`` uint8
    (``columns[j]`` the ``j``-th byte of every identifier; ``width`` the longest identifier in
    bytes; shorter identifiers padded with zero bytes), ``lengths`` the byte lengths and
    ``fixed`` True when every identifier has the same length. (Byte positions as contiguous
    rows: numpy then works on each position at full speed.)

    Returns None (the caller falls back to ``pd.factorize``) when any identifier is not ``str``
    (missing values, bytes, numbers), cannot be encoded as UTF-8, contains the separator
    (NUL, which XML cannot hold), when every identifier is empty or the longest is over
    ``max_width`` bytes, or when there are fewer than two.
    """
    n = len(values)
    if n < 2 or values.dtype != object:
        return None
    try:
        data = _SEPARATOR.join(values.tolist()).encode("utf-8")  # TypeError: not all str
    except (TypeError, UnicodeError):
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    if len(buf) - np.count_nonzero(buf) != n - 1:  # the n - 1 separators, unless an identifier holds one
        return None
    width = (len(buf) + 1) // n - 1  # the width every identifier has if they are all one length
    if (len(buf) + 1) % n == 0 and width > 0 and not buf[width::width + 1].any():
        # the n - 1 separators are exactly every (width + 1)-th byte: all of one length
        if width > max_width:
            return None
        # identifier i is buf[i * (width + 1):][:width]; a strided view, transposed by one copy
        rows = np.lib.stride_tricks.as_strided(buf, shape=(n, width), strides=(width + 1, 1), writeable=False)
        return np.ascontiguousarray(rows.T), np.full(n, width, dtype=np.int64), True
    ends = np.flatnonzero(buf == 0)
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends + 1
    lengths = np.empty(n, dtype=np.int64)
    lengths[:-1] = ends - starts[:-1]
    lengths[-1] = len(buf) - starts[-1]
    width = int(lengths.max())
    if width == 0 or width > max_width:
        return None
    columns = np.zeros((width, n), dtype=np.uint8)
    for j in range(width):
        has = lengths > j
        columns[j, has] = buf[starts[has] + j]
    return columns, lengths, False


def _codes_from_text_bytes(values: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Integer codes for text identifiers in any order without hashing Python strings.

    Hashing millions of string objects in shuffled order (``pd.factorize``) is slow because
    every lookup follows a pointer to a string somewhere else in memory and hashes it in
    Python's object layer. Instead the identifiers' UTF-8 bytes are laid out in a fixed-width
    block (:func:`_text_columns`) cut into 8-byte words read as unsigned integers, and the
    words are numbered one at a time with integer factorization; a pair (codes so far, next
    word) is combined into one integer exactly. When identifiers differ in length, the length
    is one more "word", so "A" and "A\\0" differ. Equal identifiers give equal codes and
    different identifiers different codes (UTF-8 is one-to-one; each word is numbered
    exactly, no hash collisions).

    Returns None (the caller factorizes) when :func:`_text_columns` does (not all ``str``,
    missing values, NUL in an identifier) or an identifier is longer than 32 bytes.
    """
    layout = _text_columns(values, _MAX_WORDS * _WORD)
    if layout is None:
        return None
    columns_, lengths, fixed = layout
    width, n = columns_.shape
    n_words = -(-width // _WORD)
    padded = np.zeros((n, n_words * _WORD), dtype=np.uint8)
    padded[:, :width] = columns_.T
    words = padded.view(np.uint64)  # shape (n, n_words); only equality matters, not text order
    columns = [words[:, j] for j in range(n_words)] + ([] if fixed else [lengths])
    first_code, first_uniques = pd.factorize(columns[0], sort=False)
    code, bound = first_code.astype(np.int64), len(first_uniques)
    for column in columns[1:]:
        word_code, word_uniques = pd.factorize(column, sort=False)
        k = len(word_uniques)
        if bound * k >= (1 << 62) // int(_KEY_BASE):
            code, uniques = pd.factorize(code, sort=False)
            bound = len(uniques)
            code = code.astype(np.int64)
        code = code * k + word_code
        bound *= k
    if bound > 4 * n:  # keep codes dense enough for bincount-based counting
        code, uniques = pd.factorize(code, sort=False)
        return code.astype(np.int64), len(uniques)
    return code, bound


def _fold(keys: np.ndarray, base: int, part: np.ndarray) -> np.ndarray:
    """``keys * base + part`` in place, uint64 (wrapping modulo 2**64)."""
    keys *= np.uint64(base)
    keys += part
    return keys


#: Longest identifier (UTF-8 bytes) numbered by :func:`_lexical_keys`.
_LEXICAL_MAX_WIDTH = 64


def _lexical_keys(values: np.ndarray) -> tuple[np.ndarray, int] | None:
    """One integer per text identifier, in the identifiers' own sort order, with no hashing
    and no string comparisons.

    The identifiers' UTF-8 bytes are laid out by position (:func:`_text_columns`, shorter
    ones padded with zero bytes). Each byte position takes values between its smallest and largest
    byte over all identifiers, so position ``j`` is a digit in base ``max_j - min_j + 1``
    (``"0"``-``"9"``: base 10; a position every identifier shares: base 1, left out) and the
    identifier is read as one mixed-radix number, first byte most significant. Equal
    identifiers give equal keys, different ones different keys, and ``a < b`` (Python's
    string order: UTF-8 byte order is code point order; a zero pad byte sorts before any
    byte, as a prefix sorts first) exactly when ``key(a) < key(b)``.

    Returns ``(keys, bound)`` (int64 keys, all ``< bound``), or None when
    :func:`_text_columns` does or the product of the bases reaches 2**62 (the caller then
    numbers identifiers another way).
    """
    layout = _text_columns(values, _LEXICAL_MAX_WIDTH)
    if layout is None:
        return None
    columns = layout[0]
    lo = columns.min(axis=1).astype(np.int64)
    hi = columns.max(axis=1).astype(np.int64)
    # Horner's rule, first byte most significant. The raw bytes are accumulated (the smallest
    # byte of each position is subtracted once at the end, as ``offset``) in unsigned integers,
    # whose wrap-around is exact modulo 2**64: the result, below 2**62, is exact. Runs of
    # positions whose raw value stays below 2**32 are combined in uint32 first (half the memory
    # traffic), then folded into the uint64 keys.
    keys = None
    part, part_max, part_base = None, 0, 1
    bound, offset = 1, 0
    for j in np.flatnonzero(hi > lo):
        base = int(hi[j] - lo[j]) + 1
        bound *= base
        if bound >= 1 << 62:
            return None
        offset = offset * base + int(lo[j])
        if part is not None and part_max * base + int(hi[j]) >= 1 << 32:
            keys = part.astype(np.uint64) if keys is None else _fold(keys, part_base, part)
            part, part_max, part_base = None, 0, 1
        if part is None:
            part = columns[j].astype(np.uint32)
        else:
            part *= np.uint32(base)
            part += columns[j]
        part_max, part_base = part_max * base + int(hi[j]), part_base * base
    if part is not None:
        keys = part.astype(np.uint64) if keys is None else _fold(keys, part_base, part)
    if keys is None:  # every identifier the same
        return np.zeros(columns.shape[1], dtype=np.int64), 1
    keys -= np.uint64(offset % (1 << 64))
    keys = keys.view(np.int64)
    return keys, bound


def _ascending(values: np.ndarray) -> bool:
    """True when every value is ``>=`` the one before. A missing value (NaN, None, pd.NA)
    never passes (NaN compares False; None and pd.NA raise), nor do mixed types."""
    try:
        # a cheap look at the first rows first: shuffled input fails here without a full pass
        head = values[:1025]
        if not bool(np.all(head[1:] >= head[:-1])):
            return False
        return bool(np.all(values[1:] >= values[:-1]))
    except TypeError:
        return False


def _count_distinct(codes_: np.ndarray, n: int) -> int:
    """Number of distinct non-negative codes (codes from :func:`_child_codes`, all ``< n``);
    like ``nunique``, a missing identifier (-1) is not counted."""
    codes_ = codes_[codes_ >= 0]
    if len(codes_) == 0:
        return 0
    seen = np.zeros(n, dtype=bool)
    seen[codes_] = True
    return int(np.count_nonzero(seen))


def _child_day_order_or_none(child_code: np.ndarray, day: np.ndarray, referral_id: np.ndarray) -> np.ndarray | None:
    """:func:`_child_day_order`, or ``None`` when the rows are already in that order with no
    two rows of a child on one day (then no reordering is needed at all)."""
    key = child_code.astype(np.int64) * _KEY_BASE + day
    if len(key) < 2 or bool((key[1:] > key[:-1]).all()):
        return None
    return _child_day_order(child_code, day, referral_id)


def _child_day_order(child_code: np.ndarray, day: np.ndarray, referral_id: np.ndarray) -> np.ndarray:
    """Positions that sort referrals by child, then date, then (same-day ties only, which
    the CIN census reader has already removed) referral_id. One integer sort."""
    key = child_code.astype(np.int64) * _KEY_BASE + day
    order = np.argsort(key, kind="quicksort")
    k = key[order]
    tie = k[1:] == k[:-1]
    if tie.any():
        tied = np.zeros(len(order), dtype=bool)
        tied[1:] |= tie
        tied[:-1] |= tie
        secondary = np.zeros(len(order), dtype=np.int64)
        secondary[order[tied]] = pd.factorize(referral_id[order[tied]], sort=True)[0]
        order = np.lexsort((secondary, key))
    return order


def _run_both(first, second):
    """Run ``first()`` in a new thread and ``second()`` in this one; return both results
    (re-raising an exception from either). Worth it only for work that releases the GIL
    (numpy sorts and ufuncs on large arrays)."""
    box: dict = {}

    def target():
        try:
            box["value"] = first()
        except BaseException as exc:  # noqa: BLE001  re-raised below, in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        second_value = second()
    finally:
        thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"], second_value


def _packed_order(child_code: np.ndarray, bound: int, day: np.ndarray, referral_id: np.ndarray,
                  positions: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray] | None:
    """Child-then-date order by sorting one packed integer per referral.

    ``(child_code + 1, day - first day, row)`` are packed into one int64 (child highest, row
    lowest) and sorted with a plain sort (no ``argsort``): the sorted integers give the order
    (their low bits) and the child and day of each position, with no gathers. Same-day
    referrals of a child are then put in ``referral_id`` order (``pd.factorize(sort=True)``,
    ties kept in row order), as :func:`_child_day_order` does.

    Inputs: ``child_code`` (int64, ``-1 <= code < bound``; -1, a missing identifier, is one
    group), ``day`` (int64 day numbers), ``referral_id``. Output ``(order, child, day)``:
    ``order`` the input positions in child-date order (None when the rows are already in
    that order with no two rows of a child on one day), ``child`` (``child_code + 1``) and
    ``day`` in that order. None when the three parts need more than 63 bits (the caller
    falls back to :func:`_child_day_order`) or a date is missing.

    ``positions`` (ascending): the rows ``child_code`` and ``day`` were taken from, when they
    are some of the rows only; ``referral_id`` is then every row's, and ``order`` gives rows
    (``positions`` itself when the selected rows are already in order, never None).
    """
    n = len(child_code)
    if n == 0:
        return (None if positions is None else positions), child_code + 1, day
    d_lo, d_hi = int(day.min()), int(day.max())
    if d_lo < -(1 << 40):  # NaT
        return None
    day_bits = (d_hi - d_lo).bit_length()
    row_bits = max(1, (n - 1).bit_length())
    if int(bound).bit_length() + day_bits + row_bits > 63:
        return None
    packed = child_code + 1
    packed <<= day_bits
    packed += day
    packed -= d_lo
    head = packed[:1025]
    if bool((head[1:] > head[:-1]).all()) and bool((packed[1:] > packed[:-1]).all()):
        # already in order, no same-day pairs: nothing to reorder
        return (None if positions is None else positions), child_code + 1, day
    packed <<= row_bits
    packed |= np.arange(n, dtype=np.int64)
    packed.sort()
    order = packed & ((1 << row_bits) - 1)
    packed >>= row_bits  # (child, day)
    tie = packed[1:] == packed[:-1]
    if tie.any():
        tied = np.zeros(n, dtype=bool)
        tied[1:] |= tie
        tied[:-1] |= tie
        at = np.flatnonzero(tied)
        rows = order[at]
        secondary = pd.factorize(referral_id[rows if positions is None else positions[rows]], sort=True)[0]
        order[at] = rows[np.lexsort((secondary, packed[at]))]
    sorted_day = (packed & ((1 << day_bits) - 1)) + d_lo
    packed >>= day_bits
    return (order if positions is None else positions[order]), packed, sorted_day


#: Inputs at least this long leave children with one referral out of the sort.
_SINGLES_FROM = 1 << 16


def _repeated_rows(child_code: np.ndarray, bound: int, day: np.ndarray) -> np.ndarray | None:
    """Rows (ascending) of the children with more than one referral, or None.

    A child's only referral has no previous referral and is no one's previous referral, so
    it needs no place in the child-date order: leaving such rows out of the sort (about half
    of them nationally) halves the sort and the work done in that order. Children are counted
    with one ``bincount`` over the codes (``-1 <= code < bound``). None (sort every row) for
    short inputs, when ``bound`` is over twice the rows (the count table would be large),
    when the first rows are already in child-date order (sorted input needs no sort at all),
    or when fewer than an eighth of the rows would be left out.
    """
    n = len(child_code)
    if n < _SINGLES_FROM or bound + 1 > 2 * n:
        return None
    head_c, head_d = child_code[:1025], day[:1025]
    if bool(((head_c[1:] > head_c[:-1]) | ((head_c[1:] == head_c[:-1]) & (head_d[1:] >= head_d[:-1]))).all()):
        return None
    shifted = child_code + 1 if int(child_code.min()) < 0 else child_code
    counts = np.bincount(shifted, minlength=bound + 1)
    np.minimum(counts, 2, out=counts)
    repeated = counts.astype(np.uint8)[shifted] == 2
    if 8 * (n - int(np.count_nonzero(repeated))) < n:
        return None
    return np.flatnonzero(repeated)


def _dense_child_codes(child_code: np.ndarray) -> np.ndarray:
    """Codes ``0, 1, 2, ...`` numbering the children of a child-sorted code array in order."""
    codes_ = np.empty(len(child_code), dtype=np.int64)
    if len(child_code):
        codes_[0] = 0
        np.not_equal(child_code[1:], child_code[:-1], out=codes_[1:])
        np.cumsum(codes_, out=codes_)
    return codes_


def _same_child_as_previous_row(child_code: np.ndarray) -> np.ndarray:
    """True where the row above is the same child (data sorted by child, date)."""
    same = np.zeros(len(child_code), dtype=bool)
    same[1:] = child_code[1:] == child_code[:-1]
    return same


def _count_in_window(child_code: np.ndarray, day: np.ndarray, window: int, unit: str) -> np.ndarray:
    """For each referral (sorted by child, date; ``day`` = days since 1900), how many
    referrals of the same child fall in the window ending on it (from ``date - window`` to
    ``date``, both inclusive), itself included. ``searchsorted`` on a (child, day) key."""
    start_day = _shift_day_numbers(day, -window, unit)
    code = child_code.astype(np.int64) * _KEY_BASE
    key = code + day
    lower = np.searchsorted(key, code + start_day, side="left")
    upper = np.searchsorted(key, key, side="right")
    return upper - lower


# --------------------------------------------------------------------------------------
# The measure
# --------------------------------------------------------------------------------------


def flag_rereferrals(
    referrals: pd.DataFrame,
    *,
    window: int = 12,
    unit: str = "months",
    inclusive: bool = True,
    measure_from: str = "referral",
    exclude_nfa: bool = False,
    collapse_duplicates_days: int | None = None,
    exclude_open: bool = False,
    referrals_in_window: bool = False,
) -> pd.DataFrame:
    """Flag each referral that is a re-referral.

    Inputs
    ------
    referrals : the ``referrals`` table (data_model section 2), every supplied year (the
        look-back uses all of them).
    window, unit : the re-referral window: ``window`` calendar months (``unit="months"``,
        default 12, the DfE measure) or ``window`` days (``unit="days"``, e.g. 365).
    inclusive : whether a referral exactly ``window`` after the previous one counts
        (default True).
    measure_from : ``"referral"`` (DfE: from the previous referral date) or ``"closure"``
        (from the latest closure of the child's previous cases; a referral made while a
        previous case is still open is then always within the window).
    exclude_nfa : drop NFA referrals entirely (neither counted nor used as "previous").
    collapse_duplicates_days : when set to N, a referral made within N days of the same
        child's previous referral is treated as a recording duplicate and dropped (chained:
        each is compared with the referral just before it).
    exclude_open : referrals made while a previous case of the child was still open
        (closure after the new referral date, or no closure) are not counted
        (``counted`` False) but remain in the history.
    referrals_in_window : also add the ``referrals_in_window`` column (needed by
        :func:`repeat_referral_children`; default False: the flag and the rates do not
        need it, and it costs a search over every referral). :func:`flag_definition`
        adds it by default.

    Performance: rows may come in any order. Sorted or categorical ``child_id`` needs no
    hashing at all; text identifiers in any other order are read as integers from their
    UTF-8 bytes (:func:`_lexical_keys`); only other identifiers (missing, bytes, mixed types,
    longer than 64 bytes) fall back to hashing with ``pd.factorize``. Referrals are put in
    child-then-date order by one sort of packed integers (:func:`_packed_order`), falling back to ``argsort`` when child, day and row number do
    not fit 63 bits together; each referral's outcome and case end are worked out in a second
    thread meanwhile (numpy sorts without holding the GIL).

    Output
    ------
    The referrals kept under the definition, in their input order and index, with columns
    ``previous_referral_date``, ``days_since_previous`` (float, NaN for a first referral),
    (dates are taken to the day: any time of day is ignored)
    ``previous_outcome`` (see :data:`PREVIOUS_OUTCOMES`), ``open_at_referral`` (bool),
    ``referrals_in_window`` (only with ``referrals_in_window=True``: this child's referrals
    in the window ending on this one, itself included), ``is_rereferral`` (bool) and
    ``counted`` (bool: in numerator and denominator under this definition).
    """
    _check_columns(referrals)
    if measure_from not in ("referral", "closure"):
        raise ValueError(f"measure_from must be 'referral' or 'closure', got {measure_from!r}")
    if unit not in ("months", "days"):
        raise ValueError(f"unit must be 'months' or 'days', got {unit!r}")
    if window <= 0:
        raise ValueError(f"window must be positive, got {window!r}")
    df = referrals
    if exclude_nfa:
        df = df[~df["referral_nfa"].fillna(False).astype(bool).to_numpy()]

    # Work on plain arrays in child-then-date order; results are scattered back to the
    # input order at the end (no reordering of the whole frame). ``order`` is None when the
    # input is already in that order (then nothing is gathered or scattered).
    child_all, bound = _child_codes(df["child_id"], sparse=True)
    day_all = (df["referral_date"].to_numpy(dtype="datetime64[D]") - _DAY0).astype(np.int64)
    referral_id = df["referral_id"].to_numpy()

    def case_ends() -> tuple[np.ndarray, np.ndarray]:
        # each referral's outcome and the day its case ended (``_NO_END``: still open); done
        # in a second thread while the referrals are sorted
        closure = df["closure_date"].to_numpy(dtype="datetime64[D]")
        return _outcome_codes(df), np.where(np.isnat(closure), _NO_END, (closure - _DAY0).astype(np.int64))

    def order_rows():
        positions = _repeated_rows(child_all, bound, day_all)
        if positions is None:
            return _packed_order(child_all, bound, day_all, referral_id)
        return _packed_order(child_all[positions], bound, day_all[positions], referral_id, positions)

    (outcome_all, end_all), packed = _run_both(case_ends, order_rows)
    n_all = len(child_all)
    if packed is not None:
        order, child_code, day = packed
    else:  # too many bits to pack (or a missing date): sort by (child, day) with argsort
        if bound > 4 * len(child_all):
            child_all = pd.factorize(child_all, sort=False)[0].astype(np.int64)
        order = _child_day_order_or_none(child_all, day_all, referral_id)
        child_code = child_all if order is None else child_all[order]
        day = day_all if order is None else day_all[order]
    if n_all and not (0 <= child_code[0] and child_code[-1] < _SMALL_CODE):
        child_code = _dense_child_codes(child_code)  # 0, 1, 2, ... in child order

    def take(values: np.ndarray) -> np.ndarray:  # input order -> child-date order
        return values if order is None else values[order]

    if collapse_duplicates_days is not None:
        same = _same_child_as_previous_row(child_code)
        gap = np.zeros(len(day), dtype=np.int64)
        gap[1:] = day[1:] - day[:-1]
        duplicate = same & (gap <= collapse_duplicates_days)
        if duplicate.any():
            keep_input = np.ones(len(df), dtype=bool)
            keep_input[duplicate if order is None else order[duplicate]] = False
            df = df[keep_input]
            day_all, outcome_all, end_all = day_all[keep_input], outcome_all[keep_input], end_all[keep_input]
            if order is not None:
                # positions of kept rows among the filtered frame, still in child-date order
                new_pos = np.cumsum(keep_input) - 1
                order = new_pos[order[~duplicate]]
            # (order None: the kept rows are still in child-date order)
            child_code, day = child_code[~duplicate], day[~duplicate]

    n = len(day)
    same = _same_child_as_previous_row(child_code)
    prev_day = np.zeros(n, dtype=np.int64)
    prev_day[1:] = day[:-1]

    # Latest end of any previous case of the child; a case with no closure never ends.
    # The end day and the outcome are gathered into child-date order together when they fit
    # one int32 (one random gather instead of two).
    if order is not None and n and 0 <= int(end_all.min()) and int(end_all.max()) <= _NO_END:
        both = (end_all << 3).astype(np.int32)
        both |= outcome_all
        both = both[order]
        outcome = (both & 7).astype(np.int8)
        end = (both >> 3).astype(np.int64)
    else:
        end, outcome = take(end_all), take(outcome_all)
    # running maximum within each child: child codes are non-decreasing in this order, so a
    # plain running maximum of (child, end) packed into one integer never crosses children
    child_base = child_code * _END_BASE
    end_cummax = np.maximum.accumulate(child_base + end) - child_base
    prev_end = np.zeros(n, dtype=np.int64)
    prev_end[1:] = end_cummax[:-1]
    open_at_referral = same & (prev_end > day)

    prev_outcome = np.full(n, PREVIOUS_OUTCOMES.index(OUTCOME_NONE), dtype=np.int8)
    prev_outcome[1:] = outcome[:-1]
    prev_outcome[~same] = PREVIOUS_OUTCOMES.index(OUTCOME_NONE)
    prev_outcome[open_at_referral] = PREVIOUS_OUTCOMES.index(OUTCOME_OPEN)

    if measure_from == "referral":
        anchor = prev_day
    else:  # from the latest previous closure; still-open cases are handled below
        anchor = np.where(open_at_referral | ~same, 0, prev_end)
    limit = _shift_day_numbers(anchor, window, unit)
    within = (day <= limit) if inclusive else (day < limit)
    if measure_from == "closure":
        within = within | open_at_referral  # still open: no gap at all since the previous case
    is_rereferral = same & within
    gap = day - prev_day  # days since the previous referral (meaningful where ``same``)
    gap[~same] = 0

    if order is not None:
        # Back to input order with one random scatter: (gap, previous outcome, flag) packed
        # into one int32 (int64 for gaps of more than 2**27 days), unpacked in input order.
        gap_bits = int(gap.max()).bit_length() if n else 0
        if gap_bits + 4 <= 63:
            packed_type = np.int32 if gap_bits + 4 <= 31 else np.int64
            u = gap.astype(packed_type)
            u <<= 4
            u |= prev_outcome.astype(packed_type) << 1
            u |= is_rereferral
            # rows not in ``order`` (children with one referral): no previous referral
            scattered = np.full(len(df), PREVIOUS_OUTCOMES.index(OUTCOME_NONE) << 1, dtype=packed_type)
            scattered[order] = u
            is_rereferral = (scattered & 1).astype(bool)
            prev_outcome = ((scattered >> 1) & 7).astype(np.int8)
            gap = (scattered >> 4).astype(np.int64, copy=False)
        else:
            is_rereferral, prev_outcome, gap = (
                _scatter(is_rereferral, order, len(df), False),
                _scatter(prev_outcome, order, len(df), PREVIOUS_OUTCOMES.index(OUTCOME_NONE)),
                _scatter(gap, order, len(df), 0))
        same = prev_outcome != PREVIOUS_OUTCOMES.index(OUTCOME_NONE)
        open_at_referral = prev_outcome == PREVIOUS_OUTCOMES.index(OUTCOME_OPEN)

    out = df.copy(deep=False)  # new columns do not touch the caller's frame
    # previous referral date as datetime64[ns] directly from day numbers (NaT for none)
    out["previous_referral_date"] = np.where(same, (day_all - gap) * _NS_PER_DAY + _DAY0_NS, _NAT_INT).view("datetime64[ns]")
    out["days_since_previous"] = np.where(same, gap, np.nan)
    out["previous_outcome"] = pd.Categorical.from_codes(prev_outcome, categories=list(PREVIOUS_OUTCOMES))
    out["open_at_referral"] = open_at_referral
    if referrals_in_window:
        out["referrals_in_window"] = _scatter(_count_in_window(child_code, day, window, unit), order, len(df), 1)
    out["is_rereferral"] = is_rereferral
    out["counted"] = ~open_at_referral if exclude_open else np.ones(len(df), dtype=bool)
    return out


def _scatter(values: np.ndarray, order: np.ndarray | None, size: int, fill) -> np.ndarray:
    """Values in child-date order back to input order (``order`` None: already input order);
    rows not in ``order`` (children with one referral) get ``fill``."""
    if order is None:
        return values
    result = np.full(size, fill, dtype=values.dtype)
    result[order] = values
    return result


def flag_definition(referrals: pd.DataFrame, definition: Definition, *,
                    referrals_in_window: bool = True) -> pd.DataFrame:
    """:func:`flag_rereferrals` with the settings of a :class:`Definition`. The flags feed
    every breakdown of the report, so ``referrals_in_window`` (for
    :func:`repeat_referral_children`) is added unless ``referrals_in_window=False``."""
    return flag_rereferrals(referrals, **definition.kwargs(), referrals_in_window=referrals_in_window)


def rereferral_rates(flags: pd.DataFrame, period_start, period_end, *, lookback_months: int = 12,
                     data_start=None) -> pd.DataFrame:
    """Referral-level and child-level re-referral rates for referrals made in a period.

    Inputs: ``flags`` from :func:`flag_rereferrals`; ``period_start``/``period_end``
    (dates, both inclusive); ``lookback_months`` the window used (to judge whether the
    supplied history reaches back far enough); ``data_start`` the first date the supplied
    data covers (default: the earliest referral in ``flags``).
    Output: one-row frame with ``period_start, period_end, referrals, rereferrals,
    rereferral_rate, rate_ci_low, rate_ci_high, children_referred, children_rereferred,
    child_rereferral_rate, child_ci_low, child_ci_high, lookback_complete``.
    Definitions (DfE): referral-level rate = re-referrals / referrals made in the period;
    child-level rate = children with at least one re-referral in the period / children
    with at least one referral in the period.
    """
    start, end = pd.Timestamp(period_start), pd.Timestamp(period_end)
    in_period = (flags["counted"] & flags["referral_date"].between(start, end)).to_numpy(dtype=bool)
    child_id = flags["child_id"]
    if child_id.dtype == object:  # a plain numpy selection (no new index)
        children = pd.Series(child_id.to_numpy()[in_period], dtype=object, copy=False)
    else:
        children = child_id[in_period]
    rereferred = flags["is_rereferral"].to_numpy(dtype=bool)[in_period]
    # distinct children from integer codes (``nunique`` on millions of strings is slow)
    child_code, n_codes = _child_codes(children)
    n_children = _count_distinct(child_code, n_codes)
    n_children_rereferred = _count_distinct(child_code[rereferred], n_codes)
    first = pd.Timestamp(data_start) if data_start is not None else flags["referral_date"].min()
    row = pd.DataFrame({
        "period_start": [start], "period_end": [end],
        "referrals": [int(in_period.sum())], "rereferrals": [int(rereferred.sum())],
        "children_referred": [n_children], "children_rereferred": [n_children_rereferred],
        "lookback_complete": [bool(pd.notna(first) and first <= start - pd.DateOffset(months=lookback_months))],
    })
    row = add_wilson(row, "rereferrals", "referrals", rate="rereferral_rate", prefix="")
    row = row.rename(columns={"ci_low": "rate_ci_low", "ci_high": "rate_ci_high"})
    row = add_wilson(row, "children_rereferred", "children_referred", rate="child_rereferral_rate")
    return row.rename(columns={"ci_low": "child_ci_low", "ci_high": "child_ci_high"})


def rolling_rate(flags: pd.DataFrame, *, months: int = 12, lookback_months: int = 12,
                 data_start=None, data_end=None) -> pd.DataFrame:
    """Rolling re-referral rate by month: for each month, referrals and re-referrals made
    in the ``months`` months ending with it (referral-level rate, DfE definition as
    flagged in ``flags``).

    Inputs: ``flags`` from :func:`flag_rereferrals`; ``months`` the rolling span (12 =
    "year to date" as DfE publishes annually); ``data_start``/``data_end`` the dates the
    data covers (default: first/last referral).
    Output: one row per calendar month with ``month`` (1st of month), ``month_end``,
    ``referrals``, ``rereferrals`` (in that month alone), ``referrals_rolling``,
    ``rereferrals_rolling``, ``rate`` (rolling), ``ci_low``, ``ci_high`` and ``complete``
    (True when the rolling span and its look-back lie inside the data, and the month is
    complete).
    """
    # only the two columns the rate needs (filtering the whole flags frame copied every column:
    # 2.5 GB more at England scale)
    counted = flags[["referral_date", "is_rereferral"]][flags["counted"].to_numpy(dtype=bool)]
    first = pd.Timestamp(data_start) if data_start is not None else counted["referral_date"].min()
    last = pd.Timestamp(data_end) if data_end is not None else counted["referral_date"].max()
    month = counted["referral_date"].dt.to_period("M")
    monthly = counted.groupby(month)["is_rereferral"].agg(["size", "sum"])
    span = pd.period_range(first.to_period("M"), last.to_period("M"), freq="M")
    monthly = monthly.reindex(span, fill_value=0)
    out = pd.DataFrame({
        "month": span.to_timestamp(how="start"),
        "month_end": span.to_timestamp(how="end").normalize(),
        "referrals": monthly["size"].to_numpy().astype(int),
        "rereferrals": monthly["sum"].to_numpy().astype(int),
    })
    out["referrals_rolling"] = out["referrals"].rolling(months, min_periods=months).sum()
    out["rereferrals_rolling"] = out["rereferrals"].rolling(months, min_periods=months).sum()
    out = add_wilson(out, "rereferrals_rolling", "referrals_rolling", rate="rate")
    span_start = out["month"] - pd.DateOffset(months=months - 1)
    out["complete"] = ((span_start - pd.DateOffset(months=lookback_months)) >= first.to_period("M").to_timestamp()) & (
        out["month_end"] <= last) & out["referrals_rolling"].notna()
    return out


def near_duplicate(flags_or_referrals: pd.DataFrame, days: int) -> pd.Series:
    """True for a referral made within ``days`` days (inclusive) of the same child's previous
    referral: a likely recording duplicate. Input: referrals (any order); output: bool
    Series aligned to the input index."""
    child_code, _ = pd.factorize(flags_or_referrals["child_id"], sort=False)
    day = (flags_or_referrals["referral_date"].to_numpy(dtype="datetime64[D]") - _DAY0).astype(np.int64)
    order = _child_day_order(child_code, day, flags_or_referrals["referral_id"].to_numpy())
    c, d = child_code[order], day[order]
    dup = np.zeros(len(order), dtype=bool)
    dup[1:] = (c[1:] == c[:-1]) & ((d[1:] - d[:-1]) <= days)
    result = np.empty(len(order), dtype=bool)
    result[order] = dup
    return pd.Series(result, index=flags_or_referrals.index)


# --------------------------------------------------------------------------------------
# Sensitivity to definition
# --------------------------------------------------------------------------------------


def _with_categorical_child(referrals: pd.DataFrame) -> pd.DataFrame:
    """``referrals`` with ``child_id`` as a categorical (a shallow copy), so that the several
    passes of a sensitivity analysis hash the identifiers once rather than once per pass."""
    if isinstance(referrals["child_id"].dtype, pd.CategoricalDtype):
        return referrals
    out = referrals.copy(deep=False)
    codes_, uniques = pd.factorize(out["child_id"], sort=False)  # no sorting of the identifiers
    out["child_id"] = pd.Categorical.from_codes(codes_, categories=pd.Index(uniques))
    return out


#: Where each row of :func:`sensitivity_table` is measured (its ``source`` column).
SOURCE_CENSUS = "CIN census"
SOURCE_EXTRACT = "case-management referrals extract"


def sensitivity_table(referrals: pd.DataFrame, period_start, period_end,
                      definitions: tuple[Definition, ...] | None = None, *,
                      open_source: pd.DataFrame | None = None, source: str = SOURCE_CENSUS,
                      open_source_name: str = SOURCE_EXTRACT) -> pd.DataFrame:
    """The period's re-referral rate under each definition.

    Inputs: the ``referrals`` table (all supplied years); the reporting period (dates,
    inclusive); ``definitions`` (default :func:`alternative_definitions`, the first taken
    as the reference). ``open_source``: optionally, the referrals of the council's own
    case-management extract (e.g. :func:`helpers.readers.case_extracts.read_flat_referrals`), which
    holds the referrals received while a case was still open. The CIN census cannot hold
    those (the DfE forbids overlapping episodes), so on census data a definition that leaves
    them out (``exclude_open``) changes nothing; with ``open_source`` such definitions are
    measured on the extract instead. ``source``/``open_source_name`` name the two sources.

    Output: one row per definition with ``definition`` (name), ``label``, ``source`` (where
    it was measured), the columns of :func:`rereferral_rates`, ``reference_rate`` (the
    reference definition's rate on the same source) and ``change_vs_reference``
    (``rereferral_rate - reference_rate``, in proportion points: the effect of the
    definition alone, never of a change of source).
    """
    definitions = definitions or alternative_definitions()
    sources = {source: _with_categorical_child(referrals)}
    if open_source is not None:
        sources[open_source_name] = _with_categorical_child(open_source)
    rows, reference = [], {}
    for definition in definitions:  # a handful of definitions, each fully vectorised
        where = open_source_name if (definition.exclude_open and open_source is not None) else source
        if where not in reference:  # the reference definition on this source, measured once
            reference[where] = _rates_on(sources[where], definitions[0], period_start, period_end)
        rates = (reference[where].copy() if definition is definitions[0]
                 else _rates_on(sources[where], definition, period_start, period_end))
        rates.insert(0, "source", where)
        rates.insert(0, "label", definition.label)
        rates.insert(0, "definition", definition.name)
        rates["reference_rate"] = reference[where]["rereferral_rate"].iloc[0]
        rows.append(rates)
    out = pd.concat(rows, ignore_index=True)
    out["change_vs_reference"] = out["rereferral_rate"] - out["reference_rate"]
    return out


def _rates_on(referrals: pd.DataFrame, definition: Definition, period_start, period_end) -> pd.DataFrame:
    """:func:`rereferral_rates` of one definition (look-back judged from the data's start)."""
    flags = flag_definition(referrals, definition, referrals_in_window=False)
    lookback = definition.window if definition.unit == "months" else int(np.ceil(definition.window / 28))
    return rereferral_rates(flags, period_start, period_end, lookback_months=lookback,
                            data_start=referrals["referral_date"].min())


def monthly_recording_view(referrals: pd.DataFrame, *, duplicate_days: int = 7,
                           definition: Definition = DFE) -> pd.DataFrame:
    """Month by month: the rate as recorded, the rate with near-duplicates collapsed, and
    the number of near-duplicate referrals, to separate a change in the underlying rate
    from a change in recording.

    Inputs: the ``referrals`` table; ``duplicate_days`` (a referral within this many days
    of the child's previous one is a near-duplicate); ``definition`` the base definition.
    Output: one row per month with ``month``, ``referrals``, ``rereferrals``, ``rate``
    (monthly, as recorded), ``near_duplicates``, ``near_duplicate_share``,
    ``referrals_collapsed``, ``rereferrals_collapsed``, ``rate_collapsed``,
    ``rate_excess`` (rate minus rate_collapsed: the part due to near-duplicates).
    Reading: if ``rate`` rises while ``rate_collapsed`` stays flat and ``near_duplicates``
    jumps, the rise is recording; if both rates rise together it is underlying.
    """
    # only the columns the flags read, and only the flags' columns this view counts, so that the
    # filters below copy 4 columns rather than every column of the referrals (2.3 GB at its
    # peak at England scale)
    _check_columns(referrals)
    referrals = _with_categorical_child(referrals[list(REQUIRED_COLUMNS)])
    kept = ["referral_id", "child_id", "referral_date", "is_rereferral"]
    recorded = flag_definition(referrals, definition, referrals_in_window=False)
    collapsed = flag_definition(referrals, replace(definition, collapse_duplicates_days=duplicate_days),
                                referrals_in_window=False)
    recorded = recorded[kept][recorded["counted"].to_numpy(dtype=bool)]
    collapsed = collapsed[kept][collapsed["counted"].to_numpy(dtype=bool)]
    dup = near_duplicate(recorded, duplicate_days)
    m1 = recorded["referral_date"].dt.to_period("M")
    a = pd.DataFrame({"referrals": recorded.groupby(m1).size(),
                      "rereferrals": recorded.groupby(m1)["is_rereferral"].sum(),
                      "near_duplicates": dup.groupby(m1).sum()})
    m2 = collapsed["referral_date"].dt.to_period("M")
    b = pd.DataFrame({"referrals_collapsed": collapsed.groupby(m2).size(),
                      "rereferrals_collapsed": collapsed.groupby(m2)["is_rereferral"].sum()})
    out = a.join(b, how="outer").fillna(0).astype(int).sort_index()
    out.index = out.index.to_timestamp(how="start")
    out = out.rename_axis("month").reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = out["rereferrals"] / out["referrals"].where(out["referrals"] > 0)
        out["rate_collapsed"] = out["rereferrals_collapsed"] / out["referrals_collapsed"].where(out["referrals_collapsed"] > 0)
        out["near_duplicate_share"] = out["near_duplicates"] / out["referrals"].where(out["referrals"] > 0)
    out["rate_excess"] = out["rate"] - out["rate_collapsed"]
    return out


# --------------------------------------------------------------------------------------
# What drives it: breakdowns
# --------------------------------------------------------------------------------------


def _band(values: np.ndarray, bands, none_label: str | None = None) -> np.ndarray:
    uppers = np.array([b[-1] for b in bands], dtype=float)
    labels = np.array([b[0] for b in bands], dtype=object)
    idx = np.searchsorted(uppers, values, side="left")
    idx = np.clip(idx, 0, len(labels) - 1)
    out = labels[idx]
    if none_label is not None:
        out = np.where(np.isnan(values), none_label, out)
    return out


def age_band(birth_month: pd.Series, at: pd.Series) -> pd.Series:
    """DfE age band at a date from the month of birth (1st of month, as degraded on read):
    age in whole years = completed months / 12. Output labels from :data:`AGE_BANDS`;
    "Unknown" when the birth month is missing."""
    b = pd.to_datetime(birth_month)
    a = pd.to_datetime(at)
    months = (a.dt.year - b.dt.year) * 12 + (a.dt.month - b.dt.month)
    years = np.floor(months.to_numpy(dtype=float) / 12)
    labels = _band(years, [(label, hi) for label, _lo, hi in AGE_BANDS])
    return pd.Series(np.where(np.isnan(years), "Unknown", labels), index=birth_month.index, dtype=object)


def _left_lookup(left: pd.DataFrame, right: pd.DataFrame, key: str) -> pd.DataFrame:
    """``left.merge(right.drop_duplicates(key), on=key, how="left")`` (the first row of each key): the same
    rows, columns, values and dtypes (a missing match gives NaN/NaT, and a bool column with a
    missing match becomes object, as in the merge) and a fresh 0..n-1 index, but ``left``'s
    columns are shared, not copied, and the key is looked up once. At England scale (4.3
    million referrals, 3 million children) the merge copied every column of the flags and
    needed about 3.6 GB more at its peak."""
    right = right.drop_duplicates(key)
    position = pd.Index(right[key]).get_indexer(left[key])
    out = left.copy(deep=False)
    out.index = pd.RangeIndex(len(out))
    for column in right.columns:
        if column != key:
            values = right[column].array  # an extension array (Int64, categorical) keeps its dtype
            if isinstance(values, pd.arrays.NumpyExtensionArray):
                values = values.to_numpy()  # numpy: missing matches promote as in a merge
            out[column] = pd.api.extensions.take(values, position, allow_fill=True)
    return out


def add_characteristics(flags: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """Add the breakdown columns used by the report.

    Inputs: ``flags`` from :func:`flag_rereferrals`; ``children`` table (data_model
    section 2). Output: ``flags`` with ``source_group`` (``codes.REFERRAL_SOURCE_GROUPS``),
    ``primary_need_label`` (``codes.PRIMARY_NEED_CODES``), ``age_band`` (at referral, DfE
    bands), ``sex_label`` (``specs.SEX_CODES``: M/F/U), ``ethnicity_group``
    (``codes.ETHNICITY_GROUPS``), ``disability_label`` ("Disabled"/"Not disabled"),
    ``time_since_previous`` (:data:`TIME_SINCE_BANDS`) and ``collection_year``. Unknown or
    missing codes become "Unknown".
    """
    child_cols = children[["child_id", "sex", "birth_month", "ethnicity", "disability"]]
    out = _left_lookup(flags, child_cols, "child_id")  # the first row of each child, as before
    out["source_group"] = out["referral_source"].map(codes.REFERRAL_SOURCE_GROUPS).fillna("Unknown")
    out["primary_need_label"] = out["primary_need"].map(codes.PRIMARY_NEED_CODES).fillna("Unknown")
    out["age_band"] = age_band(out["birth_month"], out["referral_date"])
    out["sex_label"] = out["sex"].map(specs.SEX_CODES).fillna("Unknown")
    out["ethnicity_group"] = out["ethnicity"].map(codes.ETHNICITY_GROUPS).fillna("Unknown")
    out["disability_label"] = _shared_labels(
        ["Disabled", "Not disabled", "Unknown"],
        np.select([out["disability"].eq(True), out["disability"].eq(False)], [0, 1], default=2))
    out["time_since_previous"] = _band(out["days_since_previous"].to_numpy(dtype=float), TIME_SINCE_BANDS,
                                       TIME_SINCE_NONE)
    out["collection_year"] = collection_year(out["referral_date"])
    return out


def breakdown(flags: pd.DataFrame, by: str | list[str], period_start, period_end) -> pd.DataFrame:
    """Referrals, re-referrals and the re-referral rate (with a 95% Wilson interval) by one
    or more characteristics, for referrals made in a period.

    Inputs: ``flags`` (with characteristic columns, e.g. from :func:`add_characteristics`);
    ``by`` column name(s); period dates (inclusive). Output: one row per group with the
    ``by`` columns, ``referrals``, ``rereferrals``, ``children_referred``,
    ``children_rereferred``, ``rate``, ``ci_low``, ``ci_high``, ``share_of_referrals``.
    Missing group values are shown as "Unknown". Counts are not yet suppressed: pass the
    result through ``helpers.publishing.disclosure.suppress`` before publishing or charting.
    """
    by = [by] if isinstance(by, str) else list(by)
    start, end = pd.Timestamp(period_start), pd.Timestamp(period_end)
    needed = list(dict.fromkeys([*by, "referral_id", "child_id", "is_rereferral"]))
    sub = flags.loc[flags["counted"] & flags["referral_date"].between(start, end), needed]  # a copy of 3-5 columns, not all
    for col in by:
        if sub[col].dtype == object or isinstance(sub[col].dtype, pd.CategoricalDtype):
            sub[col] = sub[col].astype(object).where(sub[col].notna(), "Unknown")
    sub["_rr_child"] = sub["child_id"].where(sub["is_rereferral"])
    out = sub.groupby(by, dropna=False, observed=True).agg(
        referrals=("referral_id", "size"), rereferrals=("is_rereferral", "sum"),
        children_referred=("child_id", "nunique"), children_rereferred=("_rr_child", "nunique"),
    ).reset_index()
    out[["rereferrals", "children_rereferred"]] = out[["rereferrals", "children_rereferred"]].astype(int)
    out = add_wilson(out, "rereferrals", "referrals", rate="rate")
    total = out["referrals"].sum()
    out["share_of_referrals"] = out["referrals"] / total if total else np.nan
    return out


def repeat_referral_children(flags: pd.DataFrame, period_start, period_end, *, min_referrals: int = 3) -> pd.DataFrame:
    """Children with ``min_referrals`` or more referrals within the definition's window
    (12 months by default, as Ofsted's Annex A list 3 counts "referrals in last 12
    months"), at any referral made in the period.

    Inputs: ``flags`` from :func:`flag_definition`, or :func:`flag_rereferrals` with
    ``referrals_in_window=True`` (uses that column); period dates (inclusive). Output: one-row frame with ``children_referred``,
    ``children_repeat`` (children reaching ``min_referrals``), ``share`` and its Wilson
    interval ``ci_low``, ``ci_high``; ``min_referrals`` echoed.
    """
    if "referrals_in_window" not in flags.columns:
        raise KeyError("flags lack referrals_in_window: flag with flag_rereferrals(..., referrals_in_window=True) "
                       "or flag_definition")
    start, end = pd.Timestamp(period_start), pd.Timestamp(period_end)
    sub = flags.loc[flags["counted"] & flags["referral_date"].between(start, end), ["child_id", "referrals_in_window"]]
    per_child = sub.groupby("child_id", observed=True)["referrals_in_window"].max()
    out = pd.DataFrame({"min_referrals": [min_referrals], "children_referred": [int(len(per_child))],
                        "children_repeat": [int((per_child >= min_referrals).sum())]})
    return add_wilson(out, "children_repeat", "children_referred", rate="share")


def add_area(flags: pd.DataFrame, lsoa_deciles: pd.DataFrame | None = None,
             locality_map: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add deprivation deciles and locality to referrals that already carry ``lsoa_code``
    and ``ward_code`` (from ``helpers.readers.case_extracts.attach_ward``).

    Inputs: ``lsoa_deciles`` with ``lsoa_code, imd_decile, idaci_decile`` (1 = most
    deprived 10% of English LSOAs, IoD2019); ``locality_map`` with ``ward_code, locality``.
    Output: ``flags`` with ``imd_decile``, ``idaci_decile`` (Int64) and ``locality``
    ("Unknown" when the ward is not in the map or unknown). Missing frames are skipped.
    """
    out = flags
    if lsoa_deciles is not None:
        dec = lsoa_deciles[["lsoa_code", "imd_decile", "idaci_decile"]]
        out = _left_lookup(out, dec, "lsoa_code")  # the first row of each LSOA
        for col in ("imd_decile", "idaci_decile"):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    if locality_map is not None and "block_code" in locality_map.columns:
        # block table (helpers.localities.model Sizing.block_table): a referral's block is its LSOA when that
        # LSOA is a block (a split ward's neighbourhood), else its ward
        m = locality_map.drop_duplicates("block_code").set_index("block_code")["locality"]
        by_lsoa = out["lsoa_code"].map(m) if "lsoa_code" in out.columns else pd.Series(np.nan, index=out.index)
        out = out.assign(locality=by_lsoa.fillna(out["ward_code"].map(m)).fillna("Unknown"))
    elif locality_map is not None:
        loc = locality_map[["ward_code", "locality"]].drop_duplicates("ward_code")
        out = out.merge(loc, on="ward_code", how="left", validate="many_to_one")
        out["locality"] = out["locality"].fillna("Unknown")
    return out


def deprivation_group(decile: pd.Series) -> pd.Series:
    """Group IoD deciles (1 = most deprived) into three bands for charts with fewer, larger
    counts: "Most deprived 20%" (1-2), "Middle 60%" (3-8), "Least deprived 20%" (9-10);
    "Unknown" when missing."""
    d = pd.to_numeric(decile, errors="coerce").to_numpy(dtype=float)
    code = np.select([d <= 2, d <= 8, d <= 10], [0, 1, 2], default=3)  # NaN compares False: "Unknown"
    return pd.Series(_shared_labels(["Most deprived 20%", "Middle 60%", "Least deprived 20%", "Unknown"], code),
                     index=decile.index, dtype=object)


def _shared_labels(labels: list[str], code: np.ndarray) -> np.ndarray:
    """``labels[code]`` as an object array whose rows share the label strings: a label column
    built from numpy text (``np.select`` on strings) holds a new string object per row, about
    60 bytes each, 260 MB a column for England's 4.3 million referrals."""
    return np.array(labels, dtype=object)[code]


def read_lsoa_deciles(path) -> pd.DataFrame:
    """Read LSOA deciles from a combined IoD CSV: IoD2019 (``iod2019_lsoa11_imd_idaci_population.csv``
    layout, ``lsoa11cd``) or IoD2025 (``lsoa21cd``), with ``imd_decile``, ``idaci_decile``.
    Output: ``lsoa_code, imd_decile, idaci_decile``. A fallback for when ``helpers.reference.geography``
    is not available."""
    header = pd.read_csv(path, nrows=0).columns
    code = "lsoa21cd" if "lsoa21cd" in header else "lsoa11cd"
    raw = pd.read_csv(path, usecols=[code, "imd_decile", "idaci_decile"], dtype={code: str})
    return raw.rename(columns={code: "lsoa_code"})


def read_locality_map(path) -> pd.DataFrame:
    """Read a locality map: the locality report's ``block_to_locality.csv`` (``block_code,
    ward_code, locality`` and optionally ``locality_name``: every block once; the locality shown is
    its name when given) or a ward-to-locality CSV (``ward_code, locality``). Raises ``ValueError``
    naming the file when a column is missing or a block (ward) appears twice."""
    raw = pd.read_csv(path, dtype=str)
    if "block_code" in raw.columns:
        raw["block_code"] = raw["block_code"].str.strip()
        dup = raw["block_code"][raw["block_code"].duplicated()]
        if len(dup):
            raise ValueError(f"{path}: block {dup.iloc[0]} is mapped to more than one locality")
        if "locality" not in raw.columns:
            raise ValueError(f"{path}: block table lacks the column 'locality'")
        if "locality_name" in raw.columns:
            raw["locality"] = raw["locality_name"].fillna(raw["locality"])
        return raw[["block_code", "ward_code", "locality"]] if "ward_code" in raw.columns else raw[["block_code", "locality"]]
    missing = {"ward_code", "locality"} - set(raw.columns)
    if missing:
        raise ValueError(f"{path}: locality map lacks columns {sorted(missing)} (expected ward_code, locality)")
    raw["ward_code"] = raw["ward_code"].str.strip()
    dup = raw["ward_code"][raw["ward_code"].duplicated()]
    if len(dup):
        raise ValueError(f"{path}: ward {dup.iloc[0]} is mapped to more than one locality")
    return raw[["ward_code", "locality"]]


def ward_funnel(flags: pd.DataFrame, period_start, period_end, *, area: str = "ward_code") -> pd.DataFrame:
    """Ward (or other area) rates placed on a funnel plot around the council rate.

    Inputs: ``flags`` with an ``area`` column; period dates. Output: one row per area with
    ``referrals``, ``rereferrals``, ``rate``, ``ci_low``, ``ci_high``, ``council_rate`` and
    ``funnel_position`` (``helpers.stats.funnel_position``: within, above/below 95% or
    99.8% limits). Unknown areas are left out (they are counted in the data-quality notes).
    """
    start, end = pd.Timestamp(period_start), pd.Timestamp(period_end)
    columns = list(dict.fromkeys([area, "counted", "referral_date", "referral_id", "child_id", "is_rereferral"]))
    sub = flags.loc[flags["counted"] & flags["referral_date"].between(start, end), columns]
    council_rate = float(sub["is_rereferral"].mean()) if len(sub) else np.nan
    known = sub[sub[area].notna()]
    table = breakdown(known, area, start, end)
    table["council_rate"] = council_rate
    table["funnel_position"] = funnel_position(table["rate"], table["referrals"], council_rate)
    return table


# --------------------------------------------------------------------------------------
# Reporting period and publishing
# --------------------------------------------------------------------------------------


def latest_complete_year(as_at) -> int:
    """The latest collection year (ending 31 March) wholly covered by data as at a date:
    31 Oct 2026 -> 2026 (April 2025 to March 2026); 31 Mar 2026 -> 2026; 30 Mar 2026 -> 2025."""
    as_at = pd.Timestamp(as_at)
    year_of_date = as_at.year + (1 if as_at.month >= 4 else 0)
    return year_of_date if (as_at.month, as_at.day) == (3, 31) else year_of_date - 1


#: Columns that are derived from a rate and must be hidden with it.
_DERIVED_FROM_RATE = ("ci_low", "ci_high")


def publishable(table: pd.DataFrame, threshold: int, *, group_cols: list[str] | None = None,
                rate: str = "rate", numerator: str = "rereferrals", denominator: str = "referrals") -> pd.DataFrame:
    """Disclosure-control a breakdown table (from :func:`breakdown`, :func:`ward_funnel` or
    :func:`rereferral_rates`) before it is shown, charted or published.

    Inputs: the table; ``threshold`` (config ``publish.suppression_threshold``); optional
    ``group_cols`` (rows sharing these values sum to a published total, e.g. a year).
    Output: ``helpers.publishing.disclosure.suppress`` applied to every count column present
    (``referrals``, ``rereferrals``, ``children_referred``, ``children_rereferred``) with the
    rate tied to its numerator and denominator; the Wilson interval (``ci_low``,
    ``ci_high``) and ``share_of_referrals`` are hidden wherever the rate or the referrals
    are hidden.
    """
    from helpers.publishing import disclosure  # the publishing module; imported here to keep analysis importable alone

    counts = [c for c in ("referrals", "rereferrals", "children_referred", "children_rereferred") if c in table.columns]
    rate_cols = {rate: (numerator, denominator)} if rate in table.columns else {}
    safe = disclosure.suppress(table, count_cols=counts, rate_cols=rate_cols, threshold=threshold,
                               group_cols=group_cols)
    if rate in safe.columns and rate_cols and not group_cols:
        safe = _show_rounded_rates(table, safe, threshold, rate, numerator, denominator)
    if rate in safe.columns:
        hidden = safe[rate].isna().to_numpy()
        for col in _DERIVED_FROM_RATE:  # hidden with the rate (and already for whole-percent rates)
            if col in safe.columns:
                safe[col] = safe[col].astype("Float64").mask(hidden, pd.NA)
    if "share_of_referrals" in safe.columns:
        safe["share_of_referrals"] = safe["share_of_referrals"].astype("Float64").mask(safe["referrals"].isna().to_numpy(), pd.NA)
    return safe


def _feasible_small_values(raw: pd.DataFrame, safe: pd.DataFrame, threshold: int, numerator: str, denominator: str,
                           shown_percent: dict[int, int]) -> dict[int, set[int]] | None:
    """Every value a differencing attack could give each primary-hidden denominator cell, knowing
    the column totals, the shown cells and the whole-percent rates in ``shown_percent``
    ({row: percent}). None when the pattern is not the simple one this check covers."""
    import itertools

    hidden_den = [i for i in range(len(safe)) if pd.isna(safe[denominator].iat[i])]
    hidden_num = [i for i in range(len(safe)) if pd.isna(safe[numerator].iat[i])]
    primary_den = [i for i in hidden_den if 1 <= raw[denominator].iat[i] <= threshold]
    secondary_den = [i for i in hidden_den if i not in primary_den]
    primary_num = [i for i in hidden_num if 1 <= raw[numerator].iat[i] <= threshold]
    secondary_num = [i for i in hidden_num if i not in primary_num]
    if len(secondary_den) > 1 or len(secondary_num) > 1 or len(primary_den) > 3 or len(primary_num) > 3:
        return None
    den_total, num_total = int(raw[denominator].sum()), int(raw[numerator].sum())
    den_rest = den_total - int(pd.to_numeric(safe[denominator], errors="coerce").fillna(0).sum())
    num_rest = num_total - int(pd.to_numeric(safe[numerator], errors="coerce").fillna(0).sum())
    feasible: dict[int, set[int]] = {i: set() for i in primary_den}
    small = range(1, threshold + 1)
    for den_values in itertools.product(small, repeat=len(primary_den)):
        den = dict(zip(primary_den, den_values))
        left = den_rest - sum(den_values)
        if secondary_den:
            if left < 0:
                continue
            den[secondary_den[0]] = left
        elif left != 0:
            continue
        for num_values in itertools.product(*[range(0, threshold + 1)] * len(primary_num)):
            num = dict(zip(primary_num, num_values))
            left_num = num_rest - sum(num_values)
            if secondary_num:
                if left_num < 0:
                    continue
                num[secondary_num[0]] = left_num
            elif left_num != 0:
                continue
            ok = True
            for i in hidden_den:
                n_i = num.get(i, raw[numerator].iat[i] if i not in hidden_num else None)
                if n_i is None or n_i > den[i] or (i in shown_percent and den[i] and round(100 * n_i / den[i]) != shown_percent[i]):
                    ok = False
                    break
            if ok:
                for i in primary_den:
                    feasible[i].add(den[i])
    return feasible


def _show_rounded_rates(raw: pd.DataFrame, safe: pd.DataFrame, threshold: int, rate: str, numerator: str,
                        denominator: str, min_referrals: int = 50) -> pd.DataFrame:
    """Show the rate, to the nearest whole percent, of a large group whose counts were hidden only
    to protect another group (secondary suppression), when that cannot narrow any hidden small
    count to one value (checked by trying every value the attack could try).

    Without this, a breakdown with one tiny group (e.g. sex "Indeterminate") hides one of the
    two large groups, and a chart of rates shows one bar."""
    raw = raw.reset_index(drop=True)
    out = safe.reset_index(drop=True).copy()
    candidates = [i for i in range(len(out))
                  if pd.isna(out[rate].iat[i]) and raw[denominator].iat[i] >= min_referrals
                  and raw[numerator].iat[i] > threshold and raw[denominator].iat[i] - raw[numerator].iat[i] > threshold]
    if not candidates:
        return safe
    percents = {i: int(round(100 * raw[numerator].iat[i] / raw[denominator].iat[i])) for i in candidates}
    feasible = _feasible_small_values(raw, out, threshold, numerator, denominator, percents)
    if feasible is None or any(len(v) < 2 for v in feasible.values()):
        return safe
    out[rate] = out[rate].astype("Float64")
    for i in candidates:
        out.loc[i, rate] = percents[i] / 100
        # The interval at full precision would give the number of referrals back: left out.
        for col in _DERIVED_FROM_RATE:
            if col in out.columns:
                out[col] = out[col].astype("Float64")
                out.loc[i, col] = pd.NA
    out.attrs = dict(safe.attrs)
    info = dict(out.attrs.get("disclosure", {}))
    info["rounded_rate_rows"] = candidates
    out.attrs["disclosure"] = info
    out.index = safe.index
    return out


def recording_step(view: pd.DataFrame, *, column: str = "near_duplicates", months: int = 12) -> pd.DataFrame:
    """The month where a monthly count steps up most: the largest rise from the mean of the
    ``months`` months before to the mean of that month and the ``months - 1`` after.

    Input: a monthly frame with ``month`` and ``column`` (e.g. from
    :func:`monthly_recording_view`); missing months count as 0. Output: one row with
    ``month`` (first month of the higher level), ``mean_before``, ``mean_after`` and
    ``step`` (after minus before). Used to date a change of recording practice such as a
    new front-door system creating duplicate referrals; only months with a full window on
    both sides are considered.
    """
    s = view.set_index("month")[column].astype(float)
    s = s.reindex(pd.date_range(s.index.min(), s.index.max(), freq="MS"), fill_value=0.0)
    before = s.rolling(months).mean().shift(1)
    after = s[::-1].rolling(months).mean()[::-1]
    diff = (after - before).dropna()
    if diff.empty:
        return pd.DataFrame({"month": [pd.NaT], "mean_before": [np.nan], "mean_after": [np.nan], "step": [np.nan]})
    m = diff.idxmax()
    return pd.DataFrame({"month": [m], "mean_before": [before[m]], "mean_after": [after[m]], "step": [diff[m]]})
