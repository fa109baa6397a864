"""Disclosure control for every published table, chart and headline figure.

The rules (the same for every report; the threshold comes from the council config,
``[publish] suppression_threshold``, default 5):

1. **Primary suppression.** A count from 1 up to and including the threshold is suppressed.
   A count of 0 may be shown (it reveals no child).
2. **Rates built on suppressed counts.** A rate or percentage is suppressed when its
   numerator or its denominator is suppressed, or is itself from 1 to the threshold.
3. **Secondary suppression.** A suppressed cell must not be recoverable by subtraction from a
   total. Every count column is treated as summing to a total that may be published
   elsewhere (within each group of ``group_cols`` if given; the whole column otherwise), and
   every ``row_totals`` entry names a total column and the columns that add up to it. In each
   such group, when exactly one cell is suppressed, the next smallest non-zero cell is
   suppressed too. This is repeated until nothing changes, because a secondary suppression
   in a column can leave a single suppressed cell in a row group.

Suppressed cells hold a missing value (``pd.NA``) in the frame that :func:`suppress` returns,
so charts simply leave them out, and are written as the marker ``c`` (DfE's convention:
"confidential") in published CSV files and tables (:func:`for_display`,
``helpers.publishing.report.Report.table``). In a declared count or rate column, every missing value is
shown as ``c``.

The returned frame records what was declared in ``frame.attrs["disclosure"]`` so that
``Report.table`` can check it before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import re
from typing import Any

import numpy as np
import pandas as pd

MARKER = "c"
"""Shown in place of a suppressed value in published CSV files and HTML tables."""

DEFAULT_THRESHOLD = 5


class DisclosureError(ValueError):
    """A table that would publish a small count, or that declares nothing to check."""


def is_small(value: Any, threshold: int) -> bool:
    """True when ``value`` is a count from 1 to ``threshold`` (a count that must be suppressed)."""
    if value is None or value is pd.NA:
        return False
    try:
        if pd.isna(value):
            return False
    except (TypeError, ValueError):
        return False
    return 1 <= float(value) <= threshold


def suppress_value(value: Any, threshold: int = DEFAULT_THRESHOLD) -> Any:
    """One headline count: returns the marker ``"c"`` for a count from 1 to ``threshold``, else the value.

    Use for counts written to ``summary.json`` or quoted in the text of a report.
    """
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, got {threshold}")
    return MARKER if is_small(value, threshold) else value


def _small_mask(series: pd.Series, threshold: int) -> pd.Series:
    numeric = pd.to_numeric(series, errors="coerce")
    return ((numeric >= 1) & (numeric <= threshold)).fillna(False).astype(bool)


def _secondary_pass(values: pd.DataFrame, mask: pd.DataFrame, cell_groups: list[list[tuple[Any, str]]]) -> bool:
    """Suppress one more cell in every group that has exactly one suppressed cell; True if anything changed.

    The complementary cell is chosen to lose as little as possible: first a cell in a row that
    already has a hidden count (its rate is hidden anyway, so nothing more is lost; a zero there
    may be hidden too), otherwise the smallest non-zero cell. Zeros elsewhere are left alone:
    showing a zero reveals no child.
    """
    changed = False
    row_hidden = mask.any(axis=1)
    for cells in cell_groups:
        suppressed = [cell for cell in cells if mask.at[cell]]
        if len(suppressed) != 1:
            continue
        candidates = []
        for position, cell in enumerate(cells):
            if mask.at[cell] or pd.isna(values.at[cell]):
                continue
            value = float(values.at[cell])
            already = bool(row_hidden.iat[cell[0]]) and cell[0] != suppressed[0][0]
            if value <= 0 and not already:
                continue
            candidates.append((0 if already else 1, value, position, cell))
        if not candidates:
            continue
        chosen = min(candidates)[3]
        mask.at[chosen] = True
        row_hidden.iat[chosen[0]] = True
        changed = True
    return changed


def suppress(
    df: pd.DataFrame,
    count_cols: Sequence[str],
    rate_cols: Mapping[str, tuple[str, str]] | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    group_cols: Sequence[str] | None = None,
    row_totals: Mapping[str, Sequence[str]] | None = None,
    secondary: bool = True,
    also_group_cols: Sequence[Sequence[str]] = (),
) -> pd.DataFrame:
    """Apply primary, rate and secondary suppression to an aggregate table.

    Parameters
    ----------
    df:
        One row per published cell group (e.g. one row per ward, or per month). Never child-level.
    count_cols:
        Columns holding counts of children, referrals, placements...
    rate_cols:
        ``{"rate": ("numerator", "denominator")}``: each rate or percentage column and the
        count columns it is built from. The numerator and denominator are treated as count
        columns too.
    threshold:
        Counts from 1 to ``threshold`` are suppressed (config ``publish.suppression_threshold``).
    group_cols:
        Rows that share these values sum to a published total (e.g. ``["year"]`` when each
        year's rows add up to that year's total). Default: each count column as a whole.
    row_totals:
        ``{"total": ["part_a", "part_b"]}`` when a total column equals the sum of other
        columns in the same row.
    also_group_cols:
        Further groupings whose sums are published, for a cross-tabulation: e.g. a table by
        ``category`` and ``provider`` where each category's total is published elsewhere on the
        page gets ``also_group_cols=[["category"]]`` (and each column is still protected as a
        whole, or by ``group_cols``).
    secondary:
        Apply secondary suppression (default True). Turn off only for a table whose cells
        sum to nothing that is published, and say so in the notebook.

    Returns
    -------
    A copy of ``df`` with suppressed counts and rates set to missing (nullable ``Int64`` and
    ``Float64`` dtypes) and ``attrs["disclosure"]`` recording the declared columns, the
    threshold and the number of cells suppressed.
    """
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, got {threshold}")
    rate_cols = dict(rate_cols or {})
    row_totals = {k: list(v) for k, v in (row_totals or {}).items()}
    counts: list[str] = list(dict.fromkeys(list(count_cols) + [c for pair in rate_cols.values() for c in pair]))
    for total, parts in row_totals.items():
        counts.extend(c for c in [total, *parts] if c not in counts)
    missing = [c for c in [*counts, *rate_cols, *(group_cols or []), *(c for g in also_group_cols for c in g)] if c not in df.columns]
    if missing:
        raise KeyError(f"suppress: columns not in the table: {missing}")

    out = df.copy()
    values = out[counts].apply(pd.to_numeric, errors="coerce")
    # Work on positional labels so that duplicate index labels cannot confuse the masks.
    values = values.reset_index(drop=True)
    mask = pd.DataFrame({c: _small_mask(values[c], threshold) for c in counts})
    primary = int(mask.to_numpy().sum())

    if secondary:
        cell_groups: list[list[tuple[Any, str]]] = []
        if group_cols:
            keys = out[list(group_cols)].reset_index(drop=True)
            groups = [list(idx) for _, idx in keys.groupby(list(group_cols), dropna=False, sort=False).groups.items()]
        else:
            groups = [list(range(len(out)))]
        for extra in also_group_cols:
            keys = out[list(extra)].reset_index(drop=True)
            groups = groups + [list(idx) for _, idx in keys.groupby(list(extra), dropna=False, sort=False).groups.items()]
        for col in counts:
            for rows in groups:
                cell_groups.append([(row, col) for row in rows])
        for total, parts in row_totals.items():
            for row in range(len(out)):
                cell_groups.append([(row, c) for c in [total, *parts]])
        while _secondary_pass(values, mask, cell_groups):
            pass

    for col in counts:
        column = values[col].round().astype("Int64") if _is_whole(values[col]) else values[col].astype("Float64")
        column = column.mask(mask[col].to_numpy(), pd.NA)
        out[col] = column.to_numpy()
        out[col] = out[col].astype(column.dtype)

    for rate, (numerator, denominator) in rate_cols.items():
        hide = mask[numerator] | mask[denominator]
        rate_values = pd.to_numeric(out[rate].reset_index(drop=True), errors="coerce").astype("Float64")
        rate_values = rate_values.mask(hide.to_numpy(), pd.NA)
        out[rate] = rate_values.to_numpy()
        out[rate] = out[rate].astype("Float64")

    out.attrs["disclosure"] = {
        "count_cols": counts,
        "rate_cols": {k: list(v) for k, v in rate_cols.items()},
        "threshold": threshold,
        "primary_suppressed": primary,
        "total_suppressed": int(mask.to_numpy().sum()),
    }
    return out


def _is_whole(series: pd.Series) -> bool:
    present = series.dropna()
    return bool(len(present) == 0 or np.all(np.isclose(present.astype(float) % 1, 0)))


def declared_columns(df: pd.DataFrame, count_cols: Iterable[str] | None = None) -> tuple[list[str], dict[str, list[str]]]:
    """Count and rate columns declared for ``df``: the ``count_cols`` argument, else those recorded by :func:`suppress`."""
    info = df.attrs.get("disclosure") or {}
    if count_cols is not None:
        return list(count_cols), dict(info.get("rate_cols", {}))
    if not info:
        raise DisclosureError(
            "this table declares no count columns: pass it through disclosure.suppress(...) first, "
            "or give count_cols=[...] (count_cols=[] for a table that holds no counts)"
        )
    return list(info["count_cols"]), dict(info.get("rate_cols", {}))


def check_safe(df: pd.DataFrame, threshold: int, count_cols: Iterable[str] | None = None) -> None:
    """Raise :class:`DisclosureError` if a declared count column holds a count from 1 to ``threshold``.

    Also checks that every declared rate is missing wherever its numerator or denominator
    is missing or small. The message names the column and the first offending row.
    """
    counts, rates = declared_columns(df, count_cols)
    for col in counts:
        if col not in df.columns:
            raise DisclosureError(f"declared count column {col!r} is not in the table")
        small = _small_mask(df[col], threshold)
        if small.any():
            first = df.index[small.to_numpy()][0]
            raise DisclosureError(
                f"column {col!r} holds {int(small.sum())} unsuppressed count(s) from 1 to {threshold} "
                f"(first at row {first!r}): pass the table through disclosure.suppress(...)"
            )
    for rate, (numerator, denominator) in rates.items():
        if rate not in df.columns or numerator not in df.columns or denominator not in df.columns:
            continue
        hidden_base = df[numerator].isna() | df[denominator].isna() | _small_mask(df[numerator], threshold) | _small_mask(df[denominator], threshold)
        shown = df[rate].notna().to_numpy().copy()
        # Rates shown to the nearest whole percent for a large group hidden only as the
        # complement of another (helpers.rereferrals.measure.publishable checks they narrow nothing).
        for row in (df.attrs.get("disclosure") or {}).get("rounded_rate_rows", []):
            value = df[rate].iat[row]
            if pd.notna(value) and abs(100 * float(value) - round(100 * float(value))) < 1e-9:
                shown[row] = False
        if (hidden_base.to_numpy() & shown).any():
            raise DisclosureError(f"rate column {rate!r} is shown where {numerator!r} or {denominator!r} is suppressed")


def for_display(df: pd.DataFrame, count_cols: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy for publishing: missing values in declared count and rate columns become ``"c"``.

    Other columns are left as they are (missing values there are written as empty cells in CSV).
    """
    counts, rates = declared_columns(df, count_cols)
    out = df.copy()
    for col in [*counts, *rates]:
        if col not in out.columns:
            continue
        column = out[col].astype(object)
        out[col] = column.where(column.notna(), MARKER)
    return out


#: Words that make a number in text a count of people or records.
COUNT_NOUNS = (r"child(?:ren)?|referrals?|re-referrals?|episodes?|periods|cases?|placements?|young people|"
               r"famil(?:y|ies)|records?|carers?|households?|girls?|boys?|babies|people|assessments?|plans?")
_TEXT_COUNT = re.compile(
    rf"(?<![\d.,£$%/-])(\d{{1,3}}(?:,\d{{3}})*|\d+)(?![\d.,%])\s+(?:[A-Za-z'-]+\s+)?(?:{COUNT_NOUNS})\b",
    re.IGNORECASE,
)


def small_counts_in_text(text: str, threshold: int = DEFAULT_THRESHOLD) -> list[str]:
    """Phrases in ``text`` that quote a count from 1 to ``threshold`` of people or records
    ("4 episodes", "3 more children"); years, percentages, money and decimals are not counts."""
    found = []
    for m in _TEXT_COUNT.finditer(text):
        value = int(m.group(1).replace(",", ""))
        if 1 <= value <= threshold:
            found.append(m.group(0))
    return found


def check_text(text: str, threshold: int = DEFAULT_THRESHOLD) -> None:
    """Raise :class:`DisclosureError` if ``text`` quotes a small count (see :func:`small_counts_in_text`).

    Text numbers must come from :func:`suppress_value` (``c``) or say "fewer than N"."""
    bad = small_counts_in_text(text, threshold)
    if bad:
        raise DisclosureError(f"text quotes a count from 1 to {threshold}: {bad[:3]} (use disclosure.suppress_value or say 'fewer than {threshold + 1}')")


def suppress_crosstab(df: pd.DataFrame, row: str, column: str, count: str, threshold: int = DEFAULT_THRESHOLD,
                      total: str = "Total") -> pd.DataFrame:
    """A two-way table with its row totals, suppressed together: one row per ``row`` value, one
    column per ``column`` value and a ``total`` column (primary and secondary suppression across
    rows, down columns and against the totals, so no hidden cell comes back by subtraction).

    Use it when the same figures are published both split (e.g. placement type by in-house or
    external provider) and whole (placement type alone, in another table or the text): take
    both from the returned frame, e.g. ``wide[total]`` for the whole figures and
    :func:`crosstab_long` for the split ones.
    """
    wide = df.pivot_table(index=row, columns=column, values=count, aggfunc="sum", fill_value=0, observed=True)
    parts = [str(c) for c in wide.columns]
    wide.columns = parts
    wide = wide.reset_index()
    wide[total] = wide[parts].sum(axis=1)
    return suppress(wide, count_cols=[*parts, total], threshold=threshold, row_totals={total: parts})


def crosstab_long(wide: pd.DataFrame, row: str, column: str, count: str, total: str = "Total") -> pd.DataFrame:
    """The split figures of :func:`suppress_crosstab` in long form (one row per pair), keeping its
    suppression; pairs that are zero are left out (as a count table built by grouping would)."""
    parts = [c for c in wide.columns if c not in (row, total)]
    long = wide.melt(id_vars=row, value_vars=parts, var_name=column, value_name=count)
    long = long[~(long[count].notna() & (pd.to_numeric(long[count], errors="coerce") == 0))]
    long = long.sort_values([row, column], ignore_index=True)
    long.attrs["disclosure"] = {"count_cols": [count], "rate_cols": {}, "threshold": wide.attrs["disclosure"]["threshold"]}
    return long
