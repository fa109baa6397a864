"""Readers for DfE published statistics (Explore Education Statistics CSV format).

Explore Education Statistics (EES) files are tidy CSVs with the standard geography
columns ``time_period, time_identifier, geographic_level, country_code, country_name,
region_code, region_name, old_la_code, new_la_code, la_name`` followed by the filter and
indicator columns of the table. Indicator cells hold a number or one of the EES symbols
(:data:`EES_SYMBOLS`), so they are read as text and converted here: a symbol becomes NaN
in the number column and is kept, per cell, in a ``{column}_symbol`` column.

Source: DfE, "Children in need", table C1 "Referrals and re-referrals by local
authority" (`c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv`; Open
Government Licence v3.0). Attribution: "Contains public sector information licensed under
the Open Government Licence v3.0. Source: Department for Education, Children in need,
reporting year 2025."
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers.readers.input_checks import read_reference_csv

#: Symbols that EES and DfE statistics publications put in place of a number.
#: (GSS / DfE symbol conventions; "u" appears in older CIN tables.)
EES_SYMBOLS: dict[str, str] = {
    "c": "confidential: suppressed to protect individuals",
    "x": "not available / not applicable for this area",
    "z": "not applicable",
    "u": "low reliability",
    "low": "rounds to zero but is not zero",
    ":": "not available",
    ".": "not applicable",
    "k": "rounds to zero (older tables)",
    "..": "not available (older tables)",
}

#: Geography columns of every EES file.
GEOGRAPHY_COLUMNS: tuple[str, ...] = (
    "time_period", "time_identifier", "geographic_level", "country_code", "country_name",
    "region_code", "region_name", "old_la_code", "new_la_code", "la_name",
)

#: Indicator columns of table C1, as published.
C1_INDICATORS: tuple[str, ...] = (
    "referral_count", "rereferral_count", "rereferral_percent", "no_further_action_count",
    "no_further_action_percent", "not_in_need_count", "not_in_need_percent", "referral_child_count",
    "rereferral_child_count", "rereferral_child_percent",
)

#: C1 indicators the benchmarks need; the others may be left out (the bundle's trimmed snapshot,
#: ``helpers.reference``, keeps only these) and are then NaN.
C1_REQUIRED: tuple[str, ...] = (
    "referral_count", "rereferral_count", "rereferral_percent", "referral_child_count",
    "rereferral_child_count", "rereferral_child_percent",
)

GEOGRAPHIC_LEVELS: tuple[str, ...] = ("National", "Regional", "Local authority")


class DfEFileError(ValueError):
    """A published file that does not have the expected columns: names the file and columns."""


def parse_ees_numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Turn an EES indicator column (text) into numbers.

    Input: a Series of text cells. Output: ``(values, symbols)``: ``values`` float (NaN for
    symbols and blanks), ``symbols`` the symbol text where the cell held one (else None).
    Thousands separators (``1,234``) are accepted. Raises ``ValueError`` naming the first
    cell that is neither a number nor a known symbol.
    """
    text = raw.astype("string").str.strip()
    values = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
    is_symbol = text.isin(list(EES_SYMBOLS))
    unknown = values.isna() & text.notna() & (text != "") & ~is_symbol
    if unknown.any():
        first = unknown.idxmax()
        raise ValueError(f"row {first}: {raw.name!r} holds {text[first]!r}, which is neither a number nor an EES symbol "
                         f"({', '.join(EES_SYMBOLS)})")
    symbols = text.where(is_symbol).astype(object)
    symbols = symbols.where(symbols.notna(), None)
    return values.astype(float), symbols


def read_ees_csv(path: str | Path, indicators: tuple[str, ...],
                 optional: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read an EES CSV as published: geography columns as text (``time_period`` as int),
    each indicator as float with a companion ``{indicator}_symbol`` column.

    Inputs: the file path and the indicator columns expected. Output: one row per
    published row. Raises :class:`DfEFileError` naming the file when columns are missing;
    indicators listed in ``optional`` may be absent (they are then NaN, symbol None).
    """
    path = Path(path)
    raw = read_reference_csv(path, "a DfE published table (EES CSV)", dtype=str, keep_default_na=False)
    raw.columns = [c.strip() for c in raw.columns]
    for col in optional:
        if col not in raw.columns:
            raw[col] = ""
    missing = [c for c in (*GEOGRAPHY_COLUMNS, *indicators) if c not in raw.columns]
    if missing:
        raise DfEFileError(f"{path}: missing columns {missing}; is this the EES CSV of the right table?")
    out = raw.copy()
    for col in GEOGRAPHY_COLUMNS:
        out[col] = out[col].str.strip().replace("", None)
    out["time_period"] = pd.to_numeric(out["time_period"], errors="raise").astype(int)
    for col in indicators:
        try:
            values, symbols = parse_ees_numbers(raw[col])
        except ValueError as exc:
            raise DfEFileError(f"{path}: {exc}") from exc
        out[col] = values
        out[f"{col}_symbol"] = symbols
    return out


def read_c1(path: str | Path) -> pd.DataFrame:
    """DfE table C1 "Referrals and re-referrals by local authority", as published.

    Input: path to the EES CSV. Output: one row per year and area, with the geography
    columns, ``category``, the indicators of :data:`C1_INDICATORS` as floats (NaN where DfE
    published a symbol) and ``{indicator}_symbol`` columns, plus ``area_code`` (the
    country, region or new LA code for the row's level) and ``area_name``.
    ``rereferral_percent`` is DfE's referral-level rate in per cent (re-referrals within
    12 months of a previous referral / referrals in the year); ``rereferral_child_percent``
    the child-level rate.
    """
    c1 = read_ees_csv(path, C1_INDICATORS, optional=tuple(c for c in C1_INDICATORS if c not in C1_REQUIRED))
    level = c1["geographic_level"]
    unknown = sorted(set(level) - set(GEOGRAPHIC_LEVELS))
    if unknown:
        raise DfEFileError(f"{path}: unexpected geographic_level values {unknown}")
    c1["area_code"] = np.select([level == "National", level == "Regional"],
                                [c1["country_code"], c1["region_code"]], default=c1["new_la_code"])
    c1["area_name"] = np.select([level == "National", level == "Regional"],
                                [c1["country_name"], c1["region_name"]], default=c1["la_name"])
    return c1


def c1_benchmarks(c1: pd.DataFrame, *, region: str | None = None,
                  statistical_neighbours: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """Re-referral rates for benchmarking, by year: England, the region, and the median of
    the statistical neighbours.

    Inputs: ``c1`` from :func:`read_c1`; ``region`` a region name as DfE spells it (e.g.
    "East Midlands"); ``statistical_neighbours`` LA codes (new ONS ``E0...`` or old
    three-digit codes). Output: one row per year and comparator with ``time_period``,
    ``comparator`` ("England", the region name, "Statistical neighbours (median of N)"),
    ``referral_count``, ``rereferral_count``, ``rereferral_rate`` (proportion 0..1, DfE
    published per cent / 100) and ``rereferral_child_rate``. Neighbours with a suppressed
    rate are left out of the median (and out of N).
    """
    cols = ["time_period", "referral_count", "rereferral_count", "rereferral_percent", "rereferral_child_percent"]
    parts = []
    england = c1[c1["geographic_level"] == "National"][cols].assign(comparator="England")
    parts.append(england)
    if region:
        reg = c1[(c1["geographic_level"] == "Regional") & (c1["region_name"].str.casefold() == region.casefold())]
        parts.append(reg[cols].assign(comparator=region))
    neighbours = {str(code).strip() for code in statistical_neighbours}
    if neighbours:
        la = c1[(c1["geographic_level"] == "Local authority")
                & (c1["new_la_code"].isin(neighbours) | c1["old_la_code"].isin(neighbours))]
        la = la[la["rereferral_percent"].notna()]
        if len(la):
            med = la.groupby("time_period").agg(
                referral_count=("referral_count", "median"), rereferral_count=("rereferral_count", "median"),
                rereferral_percent=("rereferral_percent", "median"),
                rereferral_child_percent=("rereferral_child_percent", "median"),
                n=("new_la_code", "nunique")).reset_index()
            med["comparator"] = "Statistical neighbours (median of " + med["n"].astype(str) + ")"
            parts.append(med[cols + ["comparator"]])
    out = pd.concat(parts, ignore_index=True)
    out["rereferral_rate"] = out["rereferral_percent"] / 100
    out["rereferral_child_rate"] = out["rereferral_child_percent"] / 100
    return out[["time_period", "comparator", "referral_count", "rereferral_count", "rereferral_rate",
                "rereferral_child_rate"]].sort_values(["comparator", "time_period"], ignore_index=True)
