"""Readers for the DfE looked-after children tables as published, and England benchmarks.

Source: DfE, "Children looked after in England including adoptions" (explore-education-statistics,
reporting year ending 31 March; OGL v3.0). Files as published (provenance in ``helpers.reference.SOURCES``):

* ``cla_number_and_rate_per_10k_children.csv``: children looked after on 31 March, starting and
  ceasing, counts and rates per 10,000 children;
* ``la_cla_during_year_new_placements.csv``: location of new placements (inside/outside the LA
  boundary x under/over 20 miles) and reasons for placement change;
* ``la_cla_placement_stability.csv``: 3 or more placements in the year; long-term stability
  (children under 16 looked after 2.5+ years, living with the same carer for 2+ years);
* ``cla_on_31_march_by_characteristics_2021_2025_via_dfe_dashboard.csv``: children on 31 March by
  placement type, provider, locality, distance, legal status, age, UASC (DfE's processed copy).

Suppression and other symbols (EES): ``c`` suppressed, ``x`` not available, ``z`` not applicable,
``k`` below 0.5%, ``u`` low reliability, ``low``: the numeric column is NaN and the symbol is kept in
``<column>_symbol``. Readers take a path and return tidy frames; benchmark functions take frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers.readers.input_checks import read_reference_csv

SUPPRESSION_SYMBOLS: dict[str, str] = {
    "c": "suppressed (small number)",
    "x": "not available",
    "z": "not applicable",
    "k": "rounds to 0%",
    "u": "low reliability",
    "low": "low (fewer than 0.5)",
}

#: Our placement categories (helpers.codes.PLACEMENT_CATEGORIES) -> DfE "Placement" breakdown
#: labels in the 31 March characteristics table. Residential schools (S1) are a separate DfE line
#: but part of our "Other residential".
DFE_PLACEMENT_GROUP: dict[str, str] = {
    "Fostering: kinship": "Foster placements",
    "Fostering: other carer": "Foster placements",
    "Children's home": "Secure homes and children's homes",
    "Supported accommodation": "Independent and semi-independent living arrangements/supported accommodation",
    "Placed with parents": "Placed with parents or other person with parental responsibility",
    "Placed for adoption": "Placed for adoption",
    "Other residential": "Other residential settings",
    "Other": "Other placements",
}

_KEY_COLUMNS = ["time_period", "geographic_level", "region_code", "region_name", "old_la_code", "new_la_code", "la_name"]


def _read_ees(path: str | Path, value_columns: list[str]) -> pd.DataFrame:
    df = read_reference_csv(path, "a DfE published table (EES CSV)", dtype=str, keep_default_na=False, na_values=[""])
    missing = [c for c in ["time_period", "geographic_level", *value_columns] if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: expected columns {missing} (DfE EES layout)")
    df["time_period"] = pd.to_numeric(df["time_period"].str[:4], errors="coerce").astype("Int64")
    for col in value_columns:
        raw = df[col].str.strip()
        df[col] = pd.to_numeric(raw, errors="coerce")
        df[f"{col}_symbol"] = raw.where(raw.str.lower().isin(SUPPRESSION_SYMBOLS)).astype("string")
    return df


def read_cla_numbers(path: str | Path) -> pd.DataFrame:
    """``cla_number_and_rate_per_10k_children.csv`` -> key columns, ``population_type``,
    ``population_estimate``, ``children_count``, ``rate_per_10000`` (+ ``_symbol`` columns)."""
    df = _read_ees(path, ["population_estimate", "children_count", "rate_per_10000"])
    return df[[c for c in _KEY_COLUMNS if c in df] + ["population_type", "population_estimate", "children_count",
                                                      "rate_per_10000", "children_count_symbol", "rate_per_10000_symbol"]]


def read_new_placements(path: str | Path) -> pd.DataFrame:
    """``la_cla_during_year_new_placements.csv`` -> key columns, ``characteristic``, ``breakdown``,
    ``children_count``, ``children_percent`` (+ ``_symbol``)."""
    df = _read_ees(path, ["children_count", "children_percent"])
    return df[[c for c in _KEY_COLUMNS if c in df] + ["characteristic", "breakdown", "children_count", "children_percent",
                                                      "children_count_symbol", "children_percent_symbol"]]


def read_placement_stability(path: str | Path) -> pd.DataFrame:
    """``la_cla_placement_stability.csv`` -> key columns, ``cla_group``, ``placement_stability``,
    ``children_count``, ``children_percent`` (+ ``_symbol``)."""
    df = _read_ees(path, ["children_count", "children_percent"])
    return df[[c for c in _KEY_COLUMNS if c in df] + ["cla_group", "placement_stability", "children_count",
                                                      "children_percent", "children_count_symbol", "children_percent_symbol"]]


def read_cla_characteristics(path: str | Path) -> pd.DataFrame:
    """31 March characteristics table -> key columns, ``characteristic_group``, ``breakdown``,
    ``children_count``, ``children_percent`` (+ ``_symbol``)."""
    df = _read_ees(path, ["children_count", "children_percent"])
    return df[[c for c in _KEY_COLUMNS if c in df] + ["characteristic_group", "breakdown", "children_count",
                                                      "children_percent", "children_count_symbol", "children_percent_symbol"]]


# --------------------------------------------------------------------------
# Benchmarks: the council beside England (and its region when present)
# --------------------------------------------------------------------------

def _area_rows(df: pd.DataFrame, la_code: str | None, region: str | None) -> dict[str, pd.DataFrame]:
    out = {"England": df[df["geographic_level"] == "National"]}
    if region:
        out[region] = df[(df["geographic_level"] == "Regional") & (df["region_name"] == region)]
    if la_code:
        out["This council"] = df[(df["geographic_level"] == "Local authority") & (df["new_la_code"] == la_code)]
    return out


def cla_trend(numbers: pd.DataFrame, la_code: str | None = None, region: str | None = None) -> pd.DataFrame:
    """Children looked after on 31 March by year: ``area, time_period, children_count, rate_per_10000``."""
    n = numbers[numbers["population_type"] == "Children looked after on 31 March each year"]
    frames = [rows.assign(area=area) for area, rows in _area_rows(n, la_code, region).items()]
    return pd.concat(frames)[["area", "time_period", "children_count", "rate_per_10000"]].sort_values(["area", "time_period"]).reset_index(drop=True)


def latest_year(df: pd.DataFrame) -> int:
    """Most recent reporting year in a DfE frame."""
    return int(df["time_period"].max())


def characteristic_percentages(
    characteristics: pd.DataFrame, group: str, year: int | None = None, la_code: str | None = None, region: str | None = None
) -> pd.DataFrame:
    """Percentages for one ``characteristic_group`` (e.g. ``"Placement"``, ``"Locality of placement"``,
    ``"Distance between home and placement"``, ``"Place providers"``): ``area, breakdown,
    children_count, children_percent`` for the year (default latest), Totals dropped."""
    year = year or latest_year(characteristics)
    c = characteristics[(characteristics["characteristic_group"] == group) & (characteristics["time_period"] == year)
                        & (characteristics["breakdown"] != "Total")]
    frames = [rows.assign(area=area) for area, rows in _area_rows(c, la_code, region).items()]
    return pd.concat(frames)[["area", "breakdown", "children_count", "children_percent"]].reset_index(drop=True)


def england_headline(characteristics: pd.DataFrame, stability: pd.DataFrame, year: int | None = None) -> dict[str, float]:
    """England figures matching the report's headline (DfE published percentages, year ending 31 March):
    ``cla``, ``pct_outside_boundary``, ``pct_over_20_miles``, ``pct_own_provision``,
    ``pct_three_or_more_placements``, ``pct_long_term_stable``, ``year``."""
    year = year or latest_year(characteristics)
    nat = characteristics[(characteristics["geographic_level"] == "National") & (characteristics["time_period"] == year)]
    pick = lambda g, b, col="children_percent": float(nat.loc[(nat["characteristic_group"] == g) & (nat["breakdown"] == b), col].iat[0])  # noqa: E731
    s = stability[(stability["geographic_level"] == "National") & (stability["time_period"] == year)]
    pick_s = lambda grp, b: float(s.loc[(s["cla_group"] == grp) & (s["placement_stability"] == b), "children_percent"].iat[0])  # noqa: E731
    return {
        "year": year,
        "cla": pick("Placement", "Total", "children_count"),
        "pct_outside_boundary": pick("Locality of placement", "Placed outside the local authority boundary"),
        "pct_over_20_miles": pick("Distance between home and placement", "Placed more than 20 miles from home"),
        "pct_own_provision": pick("Place providers", "Own provision (by the LA)"),
        "pct_three_or_more_placements": pick_s("CLA on 31 March", "With 3 or more placements during the year"),
        "pct_long_term_stable": pick_s(
            "Children looked after continuously for at least 2.5 years on 31 March aged under 16 years",
            "Living with the same carer for at least 2 years"),
    }


def placement_mix_comparison(local_counts: pd.Series, characteristics: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """The council's mix (children by our category) beside England's published mix, in DfE groups.

    Output: ``dfe_group, council_children, council_percent, england_percent`` (percent of all
    children looked after). The council's percentages are of its own total.
    """
    grouped = local_counts.groupby(local_counts.index.map(DFE_PLACEMENT_GROUP)).sum()
    eng = characteristic_percentages(characteristics, "Placement", year)
    eng = eng[eng["area"] == "England"].set_index("breakdown")["children_percent"]
    groups = list(dict.fromkeys(DFE_PLACEMENT_GROUP.values()))
    out = pd.DataFrame({"dfe_group": groups})
    out["council_children"] = grouped.reindex(groups, fill_value=0).to_numpy()
    total = out["council_children"].sum()
    out["council_percent"] = 100 * out["council_children"] / total if total else np.nan
    out["england_percent"] = eng.reindex(groups).to_numpy()
    return out
