"""Reference geography: deprivation, the LSOA-to-ward lookup, child population and boundaries.

Readers take the official files **as published** and return tidy frames with the same
column names whatever the source, so one code path serves the demo council and a real one:

- English Indices of Deprivation 2019 (MHCLG): the File 1 (IMD), File 3 (IDACI & IDAOPI) and
  File 6 (population denominators) workbooks, or the combined CSV in
  ``iod2019_lsoa11_imd_idaci_population.csv`` layout (plus ``idaci_score`` in the demo's copy).
- ONS "LSOA (2011) to Ward (2021) to LAD (2021)" lookup, as xlsx or CSV.
- ONS mid-year child population by LSOA (single year of age).
- Ward and LSOA boundaries as GeoJSON (EPSG:4326, ONS property names such as ``WD22CD``).

:func:`ward_profile` aggregates LSOAs to wards, weighting deprivation scores by the number of
children aged 0-17, and records every LSOA that cannot be matched in a
:class:`helpers.readers.ledger.Ledger`. :func:`contiguity_graph` builds the ward (or LSOA) adjacency
graph used to group wards into contiguous localities (``helpers.localities.model``).

Definitions
-----------
- **IDACI percentile** (``idaci_percentile``): the LSOA's national position on the Income
  Deprivation Affecting Children Index, from its official rank (1 = most deprived of the
  32,844 English LSOAs): ``100 * (1 - (rank - 0.5) / 32844)``. 100 = most deprived, 50 = the
  middle of England. Used because the IDACI *score* is not in the published rank files.
- **Child-weighted mean**: sum of (value x children aged 0-17) / sum of children, over the
  ward's LSOAs that have both a value and a child count. If a ward's LSOAs all have zero
  children, the plain mean is used instead.
- **Ward decile** (``imd_decile``, ``idaci_decile``): the national decile (1 = most deprived
  10% of LSOAs) in which the ward's child-weighted mean rank falls.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from helpers.readers.input_checks import read_reference_csv
from helpers.readers.ledger import Ledger, ReaderError

#: Number of LSOAs (2011) in England ranked by IoD2019: the denominator of ranks and deciles.
N_LSOA_ENGLAND_2019 = 32_844

#: Projected coordinate reference system for areas, lengths and distances (British National Grid).
BRITISH_NATIONAL_GRID = "EPSG:27700"

IOD_COLUMNS = ["lsoa_code", "lsoa_name", "lad_code", "lad_name", "imd_score", "imd_rank", "imd_decile",
               "idaci_rank", "idaci_decile", "idaci_percentile", "idaci_score"]

# Published header text (substrings, lower case) -> tidy name, for the MHCLG workbooks.
_IOD_WORKBOOK_COLUMNS = {
    "lsoa code (2011)": "lsoa_code",
    "lsoa name (2011)": "lsoa_name",
    "local authority district code (2019)": "lad_code",
    "local authority district name (2019)": "lad_name",
    "index of multiple deprivation (imd) score": "imd_score",
    "index of multiple deprivation (imd) rank": "imd_rank",
    "index of multiple deprivation (imd) decile": "imd_decile",
    "income deprivation affecting children index (idaci) score": "idaci_score",
    "income deprivation affecting children index (idaci) rank": "idaci_rank",
    "income deprivation affecting children index (idaci) decile": "idaci_decile",
    "dependent children aged 0-15": "pop_children_0_15_mid2015",
}
# Combined CSV (snake_case) -> tidy name.
_IOD_CSV_COLUMNS = {"lsoa11cd": "lsoa_code", "lsoa11nm": "lsoa_name", "lad19cd": "lad_code",
                    "lad19nm": "lad_name"}
# Sheets of the workbooks that hold the data (the others are notes and terms).
_IOD_DATA_SHEETS = ("IMD2019", "IoD2019 IDACI & IDAOPI", "Population Denominators", "IoD2019 Scores")


def _require(frame: pd.DataFrame, columns: Iterable[str], path: Path | str, expected: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReaderError(str(path), "line 1", missing[0], f"required column missing ({expected})")


def idaci_percentile_from_rank(rank: pd.Series | np.ndarray, n_lsoas: int = N_LSOA_ENGLAND_2019) -> pd.Series:
    """National IDACI percentile from the official rank (1 = most deprived).

    ``100 * (1 - (rank - 0.5) / n_lsoas)``: rank 1 of 32,844 gives 99.998, the last rank 0.002.
    """
    return 100.0 * (1.0 - (pd.Series(rank, dtype="float64") - 0.5) / n_lsoas)


def _read_iod_workbook(path: Path) -> pd.DataFrame:
    sheets = pd.read_excel(path, sheet_name=None)
    frames = []
    for name, sheet in sheets.items():
        if name not in _IOD_DATA_SHEETS and not any("lsoa code" in str(c).lower() for c in sheet.columns):
            continue
        rename = {}
        for col in sheet.columns:
            low = str(col).lower()
            for key, tidy in _IOD_WORKBOOK_COLUMNS.items():
                if low.startswith(key) and tidy not in rename.values():
                    rename[col] = tidy
                    break
        frames.append(sheet[list(rename)].rename(columns=rename))
    if not frames:
        raise ReaderError(str(path), "sheets", "LSOA code (2011)", "a sheet with an 'LSOA code (2011)' column")
    out = frames[0]
    for f in frames[1:]:
        out = out.merge(f[["lsoa_code"] + [c for c in f.columns if c not in out.columns]], on="lsoa_code")
    _require(out, ["lsoa_code"], path, "an MHCLG IoD2019 workbook")
    return out


def read_iod(path: str | Path | Sequence[str | Path], edition: int | str | None = None) -> pd.DataFrame:
    """Read IoD2019 LSOA data as MHCLG publishes it (or IoD2025: see below).

    ``edition`` (the config's ``[geography] iod_edition``): 2019, 2025, or None to tell from the
    file's headers ("LSOA code (2011)" / ``lsoa11cd`` = 2019, "LSOA code (2021)" / ``lsoa21cd`` =
    2025). IoD2025 files are read by :func:`helpers.reference.deprivation.read_iod_2025`; a file whose
    headers name the other edition's LSOAs is refused with a clear error. The frame's ``attrs``
    record the edition (:func:`helpers.reference.deprivation.edition_of`).

    Input: the combined CSV (``iod2019_lsoa11_imd_idaci_population.csv`` layout, optionally with
    ``idaci_score``), one or more of the File 1 / File 3 / File 6 workbooks (a list of paths,
    joined on LSOA code), or a folder (its combined CSV if present, else its ``File_*.xlsx``).

    Output: one row per LSOA with ``lsoa_code, lsoa_name, lad_code, lad_name, imd_score,
    imd_rank, imd_decile, idaci_rank, idaci_decile, idaci_percentile, idaci_score`` (scores
    NaN when the source does not hold them: the workbooks carry ranks only).
    ``idaci_percentile`` is defined in the module docstring.
    """
    from helpers.reference import deprivation

    first = Path(path) if isinstance(path, (str, Path)) else Path(list(path)[0])
    vintage = deprivation.file_vintage(first)
    wanted = deprivation.edition(edition).year if edition not in (None, "") else deprivation.EDITION_BY_VINTAGE.get(vintage, 2019)
    if vintage and deprivation.EDITION_BY_VINTAGE[vintage] != wanted:
        raise ReaderError(str(first), "line 1", f"LSOA code ({vintage})",
                          f"the config says IoD{wanted} (LSOA {deprivation.EDITIONS[wanted].lsoa_vintage}) but this file is "
                          f"IoD{deprivation.EDITION_BY_VINTAGE[vintage]} on {vintage} LSOAs; set [geography] iod_edition to match")
    if wanted == 2025:
        return deprivation.read_iod_2025(path)
    def choose(folder: Path) -> list[Path]:
        csvs = sorted(folder.glob("*.csv"))
        return csvs[:1] if csvs else sorted(folder.glob("File_*.xlsx"))

    frames = []
    paths = deprivation.iod_files(path, choose, "an IoD2019 CSV or File_*.xlsx workbooks")
    for p in paths:
        if p.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            frames.append(_read_iod_workbook(p))
        else:
            raw = read_reference_csv(p, "the IoD combined CSV", dtype={"lsoa11cd": str, "lad19cd": str})
            published, _ = deprivation.published_columns(raw.columns)
            if "lsoa11cd" not in raw.columns and "lsoa_code" in published.values():
                # File 7 (or File 1/3 saved as CSV) with MHCLG's own headers
                frames.append(raw[list(published)].rename(columns=published))
                continue
            _require(raw, ["lsoa11cd", "imd_rank", "idaci_rank"], p, "IoD2019 combined CSV columns")
            frames.append(raw.rename(columns=_IOD_CSV_COLUMNS))
    iod = frames[0]
    for f in frames[1:]:
        iod = iod.merge(f[["lsoa_code"] + [c for c in f.columns if c not in iod.columns]], on="lsoa_code", how="outer")
    _require(iod, ["lsoa_code", "idaci_rank"], paths[0], "IDACI rank (File 3 or the combined CSV)")
    for col in IOD_COLUMNS:
        if col not in iod.columns:
            iod[col] = np.nan
    iod["lsoa_code"] = iod["lsoa_code"].astype(str).str.strip()
    iod["idaci_percentile"] = idaci_percentile_from_rank(iod["idaci_rank"]).to_numpy()
    extra = [c for c in iod.columns if c not in IOD_COLUMNS and c.startswith("pop_")]
    out = iod[IOD_COLUMNS + extra].reset_index(drop=True)
    out.attrs.update(deprivation.EDITIONS[2019].attrs())
    return out


def _ward_columns(columns: Iterable[str], prefix: str) -> tuple[str, str] | None:
    """Find ONS code/name columns such as WD21CD/WD21NM for a geography prefix (any year)."""
    for col in columns:
        m = re.fullmatch(rf"{prefix}(\d\d)CD", str(col).upper())
        if m:
            name = next((c for c in columns if str(c).upper() == f"{prefix}{m.group(1)}NM"), None)
            return col, name
    return None


def read_lsoa_ward_lookup(path: str | Path) -> pd.DataFrame:
    """Read the ONS LSOA (2011) -> ward -> local authority lookup (xlsx or CSV, as published).

    Output: ``lsoa_code, lsoa_name, ward_code, ward_name, lad_code, lad_name`` (all text).
    The ward and LAD year (WD21, WD22, ...) is taken from the column names.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(str(path), "file", None, "file not found")
    if path.suffix.lower() in (".xlsx", ".xls"):
        raw = pd.read_excel(path, sheet_name=0, dtype=str)
    else:
        raw = read_reference_csv(path, "the ONS LSOA-to-ward lookup (CSV)", dtype=str)
    cols = list(raw.columns)
    found = {p: _ward_columns(cols, p) for p in ("LSOA", "WD", "LAD")}
    for prefix, hit in found.items():
        if hit is None:
            raise ReaderError(str(path), "line 1", f"{prefix}..CD", "ONS lookup columns LSOA11CD, WD21CD, LAD21CD")
    out = pd.DataFrame({
        "lsoa_code": raw[found["LSOA"][0]], "lsoa_name": raw[found["LSOA"][1]] if found["LSOA"][1] else pd.NA,
        "ward_code": raw[found["WD"][0]], "ward_name": raw[found["WD"][1]] if found["WD"][1] else pd.NA,
        "lad_code": raw[found["LAD"][0]], "lad_name": raw[found["LAD"][1]] if found["LAD"][1] else pd.NA,
    })
    for col in ("lsoa_code", "ward_code", "lad_code"):
        out[col] = out[col].str.strip()
    return out


def read_lsoa_population(path: str | Path) -> pd.DataFrame:
    """Read ONS mid-year population by LSOA with single years of age.

    Output: ``lsoa_code, children_0_17, children_0_15, population_all_ages``. Children 0-17 is
    ``pop_0_17_mid2020`` when present, otherwise the sum of ``age_0`` .. ``age_17``.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(str(path), "file", None, "file not found")
    raw = read_reference_csv(path, "ONS population by LSOA (CSV)", dtype={"lsoa11cd": str, "lsoa21cd": str})
    code = next((c for c in raw.columns if c.lower() in ("lsoa11cd", "lsoa21cd", "lsoa_code", "lsoa code")
                 or re.fullmatch(r"lsoa (20\d\d )?code( \(20\d\d\))?", c.strip().lower())), None)
    if code is None:
        raise ReaderError(str(path), "line 1", "lsoa11cd", "an LSOA code column")
    ages = [f"age_{a}" for a in range(18)]

    def total(pattern: str, upto: int) -> pd.Series:
        col = next((c for c in raw.columns if re.fullmatch(pattern, c)), None)
        if col is not None:
            return raw[col]
        have = [a for a in ages[: upto + 1] if a in raw.columns]
        if len(have) != upto + 1:
            raise ReaderError(str(path), "line 1", f"age_0..age_{upto}", "single-year-of-age columns or a total")
        return raw[have].sum(axis=1)

    allages = next((c for c in raw.columns if c.startswith("pop_all_ages")), None)
    return pd.DataFrame({
        "lsoa_code": raw[code].astype(str).str.strip(),
        "children_0_17": total(r"pop_0_17(_mid\d{4})?", 17).astype("float64"),
        "children_0_15": total(r"pop_0_15(_mid\d{4})?", 15).astype("float64"),
        "population_all_ages": raw[allages].astype("float64") if allages else np.nan,
    })


def read_boundaries(path: str | Path):
    """Read ward or LSOA boundaries (GeoJSON as ONS publishes them, any CRS; returned in EPSG:4326).

    Output: a GeoDataFrame with ``ward_code, ward_name, lad_code, lad_name`` (ward layers, any
    ``WDyyCD`` year) or ``lsoa_code, lsoa_name`` (LSOA layers), plus ``geometry``.
    """
    import geopandas as gpd

    path = Path(path)
    if not path.is_file():
        raise ReaderError(str(path), "file", None, "file not found")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio/GDAL errors name no file and suggest nothing
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ReaderError(str(path), "file", None,
                          f"not a readable boundary file ({reason}); it may be cut short or not GeoJSON: "
                          "download it again from the ONS Open Geography Portal (GeoJSON)") from None
    cols = list(gdf.columns)
    ward = _ward_columns(cols, "WD")
    lsoa = _ward_columns(cols, "LSOA")
    if ward:
        lad = _ward_columns(cols, "LAD")
        out = gpd.GeoDataFrame({
            "ward_code": gdf[ward[0]].astype(str), "ward_name": gdf[ward[1]] if ward[1] else pd.NA,
            "lad_code": gdf[lad[0]] if lad else pd.NA, "lad_name": gdf[lad[1]] if lad and lad[1] else pd.NA,
        }, geometry=gdf.geometry, crs=gdf.crs)
    elif lsoa:
        out = gpd.GeoDataFrame({"lsoa_code": gdf[lsoa[0]].astype(str), "lsoa_name": gdf[lsoa[1]] if lsoa[1] else pd.NA},
                               geometry=gdf.geometry, crs=gdf.crs)
    else:
        raise ReaderError(str(path), "properties", "WDyyCD or LSOA11CD", "ward or LSOA code property")
    if out.crs is None:
        out = out.set_crs(4326)
    return out.to_crs(4326)


def _weighted_mean(frame: pd.DataFrame, group: str, value: str, weight: str) -> pd.Series:
    """Weight-by-``weight`` mean of ``value`` per ``group``; plain mean where total weight is 0."""
    ok = frame[value].notna() & frame[weight].notna()
    f = frame.loc[ok, [group, value, weight]]
    sums = (f[value] * f[weight]).groupby(f[group]).sum()
    wsum = f[weight].groupby(f[group]).sum()
    plain = f[value].groupby(f[group]).mean()
    return (sums / wsum.where(wsum > 0)).fillna(plain)


def ward_profile(lsoa_lookup: pd.DataFrame, iod: pd.DataFrame, population: pd.DataFrame,
                 la_code: str | Iterable[str]) -> tuple[pd.DataFrame, Ledger]:
    """Aggregate LSOA deprivation and child population to wards for one council.

    Inputs: ``lsoa_lookup`` from :func:`read_lsoa_ward_lookup`; ``iod`` from :func:`read_iod`;
    ``population`` from :func:`read_lsoa_population`; ``la_code`` an ONS LAD code, or several
    (a county's districts).

    Output ``(wards, ledger)``. ``wards`` has one row per ward: ``ward_code, ward_name,
    lad_code, n_lsoas, children_0_17, imd_score, idaci_score, idaci_percentile,
    imd_rank_mean, idaci_rank_mean, imd_decile, idaci_decile`` (scores, percentiles and ranks
    are child-weighted means, see the module docstring). ``ledger`` (source
    ``"ward profile: LSOAs"``) counts the council's LSOAs read and used, with one exclusion per
    LSOA that has no IoD2019 row or no population row (such an LSOA adds nothing to its ward),
    and one per LSOA in the IoD file for this council that the lookup does not place in a ward.
    """
    codes = {la_code} if isinstance(la_code, str) else set(la_code)
    n_lsoas = int(iod.attrs.get("n_lsoas", N_LSOA_ENGLAND_2019))   # 33,755 for IoD2025 (helpers.reference.deprivation)
    iod_name = f"IoD{iod.attrs.get('iod_edition', 2019)}"
    source = "ward profile: LSOAs"
    ledger = Ledger()
    lk = lsoa_lookup[lsoa_lookup["lad_code"].isin(codes)].drop_duplicates("lsoa_code")
    if lk.empty:
        raise ValueError(f"no LSOAs for {sorted(codes)} in the LSOA-to-ward lookup")
    ledger.add_read(source, len(lk))
    merged = lk.merge(iod.drop(columns=["lsoa_name", "lad_code", "lad_name"], errors="ignore"),
                      on="lsoa_code", how="left", indicator="_iod")
    merged = merged.merge(population[["lsoa_code", "children_0_17"]], on="lsoa_code", how="left",
                          indicator="_pop")
    no_iod = merged["_iod"] == "left_only"
    no_pop = (merged["_pop"] == "left_only") & ~no_iod
    ledger.exclude_rows(source, [None] * int(no_iod.sum()), f"LSOA not in {iod_name} file", "lsoa_code",
                        merged.loc[no_iod, "lsoa_code"].to_numpy())
    ledger.exclude_rows(source, [None] * int(no_pop.sum()), "LSOA not in population file", "lsoa_code",
                        merged.loc[no_pop, "lsoa_code"].to_numpy())
    if "lad_code" in iod.columns:
        stray = iod[iod["lad_code"].isin(codes) & ~iod["lsoa_code"].isin(lk["lsoa_code"])]
        if len(stray):
            ledger.add_read(source, len(stray))
            ledger.exclude_rows(source, [None] * len(stray), "LSOA not in ward lookup", "lsoa_code",
                                stray["lsoa_code"].to_numpy())
    used = merged[~no_iod & ~no_pop]
    ledger.add_used(source, len(used))

    names = lk.groupby("ward_code").agg(ward_name=("ward_name", "first"), lad_code=("lad_code", "first"),
                                        n_lsoas=("lsoa_code", "size"))
    wards = names.copy()
    wards["children_0_17"] = used.groupby("ward_code")["children_0_17"].sum()
    for value, out_name in [("imd_score", "imd_score"), ("idaci_score", "idaci_score"),
                            ("idaci_percentile", "idaci_percentile"), ("imd_rank", "imd_rank_mean"),
                            ("idaci_rank", "idaci_rank_mean")]:
        if value in used.columns and used[value].notna().any():
            wards[out_name] = _weighted_mean(used, "ward_code", value, "children_0_17")
        else:
            wards[out_name] = np.nan
    for rank, decile in [("imd_rank_mean", "imd_decile"), ("idaci_rank_mean", "idaci_decile")]:
        wards[decile] = np.ceil(wards[rank] / n_lsoas * 10).clip(1, 10).astype("Int64")
    wards["children_0_17"] = wards["children_0_17"].fillna(0.0)
    return wards.reset_index()[["ward_code", "ward_name", "lad_code", "n_lsoas", "children_0_17", "imd_score",
                                "idaci_score", "idaci_percentile", "imd_rank_mean", "idaci_rank_mean",
                                "imd_decile", "idaci_decile"]], ledger


def lsoa_profile(lsoa_lookup: pd.DataFrame, iod: pd.DataFrame, population: pd.DataFrame,
                 la_code: str | Iterable[str]) -> pd.DataFrame:
    """The council's LSOAs as building blocks, with the same columns as :func:`ward_profile`.

    Output: ``lsoa_code, lsoa_name, ward_code, ward_name, lad_code, children_0_17, imd_score,
    idaci_score, idaci_percentile, idaci_rank, idaci_decile``; LSOAs without a population row
    get 0 children (they are listed by :func:`ward_profile`'s ledger).
    """
    codes = {la_code} if isinstance(la_code, str) else set(la_code)
    lk = lsoa_lookup[lsoa_lookup["lad_code"].isin(codes)].drop_duplicates("lsoa_code")
    out = (lk.merge(iod.drop(columns=["lsoa_name", "lad_code", "lad_name"], errors="ignore"), on="lsoa_code", how="left")
             .merge(population[["lsoa_code", "children_0_17"]], on="lsoa_code", how="left"))
    out["children_0_17"] = out["children_0_17"].fillna(0.0)
    return out[["lsoa_code", "lsoa_name", "ward_code", "ward_name", "lad_code", "children_0_17", "imd_score",
                "idaci_score", "idaci_percentile", "idaci_rank", "idaci_decile"]].reset_index(drop=True)


def shared_boundary_pairs(geometries, rule: str = "queen") -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, of polygons (positions in ``geometries``) that are neighbours.

    ``rule``: ``"queen"``, sharing at least one boundary vertex, or ``"rook"``, sharing a
    boundary segment (two consecutive vertices of a ring). These are libpysal's ``Queen`` and
    ``Rook`` definitions (exact vertex coordinates, every ring of every part of a multipolygon);
    a test checks the same neighbours as libpysal on ONS ward and LSOA boundaries. Vectorised
    with shapely and pandas: about 20 ms for a county's 500 LSOAs, and no libpysal (or the
    scipy.stats it loads, about 1.5 s) to import. Output: an integer array of shape (m, 2),
    sorted.
    """
    import shapely

    if rule not in ("queen", "rook"):
        raise ValueError(f"rule must be 'queen' or 'rook', not {rule!r}")
    geoms = np.asarray(geometries, dtype=object)
    parts, part_of = shapely.get_parts(geoms, return_index=True)          # multipolygons -> polygons
    rings, ring_part = shapely.get_rings(parts, return_index=True)       # exterior and holes
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    owner = part_of[ring_part[ring_of]]
    if rule == "queen":
        keys = coords
    else:
        same_ring = ring_of[1:] == ring_of[:-1]
        a, b, owner = coords[:-1][same_ring], coords[1:][same_ring], owner[:-1][same_ring]
        swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))   # direction ignored
        keys = np.hstack([np.where(swap[:, None], b, a), np.where(swap[:, None], a, b)])
    if len(keys) == 0:
        return np.empty((0, 2), dtype=int)
    key_id = np.unique(keys + 0.0, axis=0, return_inverse=True)[1].ravel()   # + 0.0: -0.0 is 0.0
    held = pd.DataFrame({"key": key_id, "area": owner}).drop_duplicates()
    held = held[held.duplicated("key", keep=False)]                           # keys two or more areas hold
    both = held.merge(held, on="key")
    both = both[both["area_x"] < both["area_y"]]
    out = np.unique(both[["area_x", "area_y"]].to_numpy(dtype=int), axis=0)
    return out.reshape(-1, 2)


def contiguity_graph(areas, id_col: str, *, rule: str = "queen", connect_islands: bool = True) -> nx.Graph:
    """Adjacency graph of areas (wards or LSOAs) from their polygons.

    Inputs: a GeoDataFrame ``areas`` and the column holding each area's code. ``rule`` is
    ``"queen"`` (areas sharing a boundary point are neighbours) or ``"rook"`` (a boundary
    segment), as libpysal defines them (:func:`shared_boundary_pairs`). With
    ``connect_islands`` (default), every disconnected part of the map (an island, or a gap left
    by generalised boundaries) is joined to the nearest other part by one edge between the two
    closest areas (distance in EPSG:27700); such edges carry ``bridge=True``.

    Output: an undirected ``networkx.Graph`` whose nodes are the codes, with node attributes
    ``x, y`` (centroid in EPSG:27700, metres).
    """
    ids = areas[id_col].astype(str).tolist()
    if len(set(ids)) != len(ids):
        raise ValueError(f"{id_col} is not unique")
    projected = areas.to_crs(BRITISH_NATIONAL_GRID) if areas.crs is not None else areas
    pairs = shared_boundary_pairs(projected.geometry.values, rule)
    graph = nx.Graph()
    cent = projected.geometry.centroid
    graph.add_nodes_from((code, {"x": float(x), "y": float(y)}) for code, x, y in zip(ids, cent.x, cent.y))
    graph.add_edges_from((ids[i], ids[j]) for i, j in pairs.tolist())
    if connect_islands:
        geoms = dict(zip(ids, projected.geometry))
        comps = sorted(nx.connected_components(graph), key=len, reverse=True)
        while len(comps) > 1:
            small = comps.pop()
            rest = set().union(*comps)
            best = None
            for a in small:
                for b in rest:
                    d = geoms[a].distance(geoms[b])
                    if best is None or d < best[0]:
                        best = (d, a, b)
            graph.add_edge(best[1], best[2], bridge=True)
            comps = sorted(nx.connected_components(graph), key=len, reverse=True)
    return graph


def locate_points(easting, northing, areas, id_col: str, *, tolerance_m: float = 100.0) -> pd.Series:
    """The area holding each British National Grid point (point-in-polygon).

    Inputs: ``easting``, ``northing`` in metres (EPSG:27700; NaN = unknown), as Series (the
    output keeps their index) or arrays; ``areas`` a GeoDataFrame (any CRS) with ``id_col``.
    Rule: the area whose polygon holds the point (geopandas ``sjoin``, predicate
    ``intersects``, after projecting the areas to EPSG:27700); a point on a shared border goes
    to the area whose code sorts first. A point outside every polygon but within
    ``tolerance_m`` of one goes to the nearest (generalised boundaries leave gaps along
    rivers and coasts); beyond that, or with no grid reference, the result is NaN.
    Output: a Series of area codes.
    """
    import geopandas as gpd

    index = easting.index if isinstance(easting, pd.Series) else pd.RangeIndex(len(easting))
    e = pd.to_numeric(pd.Series(np.asarray(easting, dtype=float), index=index), errors="coerce")
    n = pd.to_numeric(pd.Series(np.asarray(northing, dtype=float), index=index), errors="coerce")
    out = pd.Series(np.nan, index=index, dtype=object)
    ok = e.notna() & n.notna()
    if not ok.any() or len(areas) == 0:
        return out
    polys = areas[[id_col, "geometry"]].to_crs(BRITISH_NATIONAL_GRID).rename(columns={id_col: "_area"})
    pts = gpd.GeoDataFrame({"_pt": np.flatnonzero(ok.to_numpy())},
                           geometry=gpd.points_from_xy(e[ok], n[ok]), crs=BRITISH_NATIONAL_GRID)
    hit = gpd.sjoin(pts, polys, how="inner", predicate="intersects")
    hit = hit.sort_values(["_pt", "_area"]).drop_duplicates("_pt")
    found = dict(zip(hit["_pt"], hit["_area"]))
    rest = pts[~pts["_pt"].isin(found)]
    if len(rest) and tolerance_m > 0:
        near = gpd.sjoin_nearest(rest, polys, how="inner", max_distance=tolerance_m)
        near = near.sort_values(["_pt", "_area"]).drop_duplicates("_pt")
        found.update(zip(near["_pt"], near["_area"]))
    pos = np.array(sorted(found), dtype=int)
    if len(pos):
        out.iloc[pos] = [found[p] for p in pos]
    return out
