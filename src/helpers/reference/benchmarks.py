"""Benchmarks against England, the council's region and its statistical neighbours (DfE tables).

The tables come either from the national snapshot committed with the bundle
(:mod:`helpers.reference`) or from a council's own downloads of the files as published; both have
the EES layout read by :mod:`helpers.reference.dfe_stats` and :mod:`helpers.reference.dfe_cla_stats`.

**Statistical neighbours** are the councils the council names in its config
(``[council] statistical_neighbours``, ONS ``E0...`` or three-digit DfE codes), normally the DfE
children's services statistical neighbour list. A benchmark shows their **median**: the middle
value of the neighbours that have a published (unsuppressed) figure for that year; the label says
how many that was. Neighbours missing from a table are named on the page.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from helpers.reference import dfe_cla_stats


def _codes(neighbours: Iterable[str] | None) -> list[str]:
    return [str(c).strip() for c in (neighbours or []) if str(c).strip()]


def neighbour_rows(df: pd.DataFrame, neighbours: Iterable[str] | None) -> pd.DataFrame:
    """Local-authority rows of a DfE frame whose new (ONS) or old (DfE) code is a neighbour's."""
    codes = set(_codes(neighbours))
    la = df[df["geographic_level"] == "Local authority"]
    return la[la["new_la_code"].isin(codes) | la["old_la_code"].isin(codes)]


def neighbour_note(df: pd.DataFrame, neighbours: Iterable[str] | None, table: str = "the DfE table",
                   source: str = "") -> str:
    """One sentence for the page: which statistical neighbours are shown, and which were not found;
    ``source`` (the config's ``statistical_neighbours_source``) says where the list comes from.

    Example (hand-checked in the tests): two codes, one in the table ->
    "Statistical neighbours (from the council config): Derby. Not in the DfE table: E06999999."
    """
    codes = _codes(neighbours)
    if not codes:
        return "No statistical neighbours are listed in the council config, so none are shown."
    rows = neighbour_rows(df, codes)
    latest = rows.sort_values("time_period").drop_duplicates("new_la_code", keep="last")
    found = {c: n for c, n in zip(latest["new_la_code"], latest["la_name"])}
    found.update({o: n for o, n in zip(latest["old_la_code"], latest["la_name"])})
    names = [found[c] for c in codes if c in found]
    missing = [c for c in codes if c not in found]
    text = f"Statistical neighbours (from the council config): {', '.join(names) if names else 'none found'}."
    if missing:
        text += f" Not in {table}: {', '.join(missing)}."
    if source.strip():
        text += f" Where the list comes from: {source.strip().rstrip('.')}."
    return text


def _pick(frame: pd.DataFrame, conditions: dict[str, str], value: str = "children_percent") -> pd.Series:
    """``value`` by area for rows matching ``conditions``: England, region and each LA (by new code)."""
    mask = np.ones(len(frame), dtype=bool)
    for col, val in conditions.items():
        mask &= (frame[col] == val).to_numpy()
    return frame[mask]


def placement_benchmarks(characteristics: pd.DataFrame, stability: pd.DataFrame, *, region: str | None = None,
                         neighbours: Iterable[str] | None = None, year: int | None = None) -> pd.DataFrame:
    """Placement headline measures for England, the region and the statistical neighbours' median.

    Inputs: DfE frames from :func:`helpers.reference.dfe_cla_stats.read_cla_characteristics` and
    :func:`~helpers.reference.dfe_cla_stats.read_placement_stability`; the region name as DfE spells it;
    neighbour codes; the year (default: latest in ``characteristics``).
    Output: one row per measure (``measure``, ``key``), columns ``england``, ``region`` and
    ``neighbours_median`` (DfE published percentages; NaN where not published) and
    ``neighbours_n`` (neighbours with a figure). Measures: placed outside the LA boundary, more
    than 20 miles from home, in the council's own provision (31 March), three or more placements
    in the year, long-term stability.
    """
    year = year or dfe_cla_stats.latest_year(characteristics)
    measures = [
        ("pct_outside_boundary", "Placed outside the LA boundary (%)", characteristics,
         {"characteristic_group": "Locality of placement", "breakdown": "Placed outside the local authority boundary"}),
        ("pct_over_20_miles", "Placed more than 20 miles from home (%)", characteristics,
         {"characteristic_group": "Distance between home and placement", "breakdown": "Placed more than 20 miles from home"}),
        ("pct_in_house", "In own (in-house) provision (%)", characteristics,
         {"characteristic_group": "Place providers", "breakdown": "Own provision (by the LA)"}),
        ("pct_three_or_more", "Three or more placements in the year (%)", stability,
         {"cla_group": "CLA on 31 March", "placement_stability": "With 3 or more placements during the year"}),
        ("pct_long_term_stable", "Long-term stability (%)", stability,
         {"cla_group": "Children looked after continuously for at least 2.5 years on 31 March aged under 16 years",
          "placement_stability": "Living with the same carer for at least 2 years"}),
    ]
    rows = []
    for key, label, frame, cond in measures:
        f = _pick(frame[frame["time_period"] == year], cond)
        nat = f.loc[f["geographic_level"] == "National", "children_percent"]
        reg = f.loc[(f["geographic_level"] == "Regional") & (f["region_name"] == region), "children_percent"] if region else pd.Series(dtype=float)
        sn = neighbour_rows(f, neighbours)["children_percent"].dropna()
        rows.append({"measure": label, "key": key,
                     "england": float(nat.iat[0]) if len(nat) else np.nan,
                     "region": float(reg.iat[0]) if len(reg) else np.nan,
                     "neighbours_median": float(sn.median()) if len(sn) else np.nan,
                     "neighbours_n": int(len(sn)), "year": int(year)})
    return pd.DataFrame(rows)


def cla_rate_benchmarks(numbers: pd.DataFrame, *, region: str | None = None,
                        neighbours: Iterable[str] | None = None) -> pd.DataFrame:
    """Children looked after on 31 March per 10,000 children, by year: England, the region and the
    neighbours' median. Output: ``time_period, comparator, rate_per_10000`` (long form, for a chart)."""
    n = numbers[numbers["population_type"] == "Children looked after on 31 March each year"]
    parts = [n[n["geographic_level"] == "National"].assign(comparator="England")]
    if region:
        parts.append(n[(n["geographic_level"] == "Regional") & (n["region_name"] == region)].assign(comparator=region))
    sn = neighbour_rows(n, neighbours).dropna(subset=["rate_per_10000"])
    if len(sn):
        med = sn.groupby("time_period").agg(rate_per_10000=("rate_per_10000", "median"),
                                            k=("new_la_code", "nunique")).reset_index()
        med["comparator"] = "Statistical neighbours (median of " + med["k"].astype(str) + ")"
        parts.append(med)
    out = pd.concat(parts, ignore_index=True)[["time_period", "comparator", "rate_per_10000"]]
    out["time_period"] = out["time_period"].astype(int)
    return out.sort_values(["comparator", "time_period"], ignore_index=True)
