"""Demo geography: a fictional council's wards and LSOA-like areas, or a real council's.

Two sources of geography feed the generator:

* :func:`make_geography` builds a fictional, contiguous council: wards are Voronoi cells
  of jittered points inside a convex "blob", each ward split into 4-9 LSOA-like areas by
  a second Voronoi step inside the ward, so a ward is exactly the union of its LSOAs and
  the council is one contiguous shape. Deprivation follows distance to a "town centre"
  (a few very deprived urban wards, most areas middling), mapped to national IMD/IDACI
  ranks (1 = most deprived of 32,844 English LSOAs), deciles and scores.
* :class:`RealGeography` reads a real council's published ONS/MHCLG files.

Both give a :class:`Geography` that the generator writes in the layout of
``docs/data_model.md`` section 1 (``geography/`` folder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, Polygon

N_LSOAS_ENGLAND = 32_844

#: Fictional council identity (codes that cannot be mistaken for a real council's).
DEMO_LA_CODE = "E06999001"
DEMO_LA_OLD_CODE = "999"
DEMO_LA_NAME = "Kingsmoor Borough Council (demo)"
DEMO_LAD_NAME = "Kingsmoor"

#: Centre of the invented place (lon, lat), in the East Midlands; the geometry is fictional.
DEMO_CENTRE_LONLAT = (-1.05, 52.85)

# National distribution of the IMD 2019 score by rank fraction (0 = most deprived),
# quantiles computed from the published IoD2019 file (32,844 LSOAs). Used to turn a
# synthetic national rank into a realistic score.
_IMD_SCORE_BY_RANK_FRACTION = (
    (0.0, 92.73), (0.01, 68.4), (0.02, 63.06), (0.05, 53.72), (0.1, 43.86), (0.2, 33.25),
    (0.3, 26.57), (0.4, 21.55), (0.5, 17.65), (0.6, 14.24), (0.7, 11.3), (0.8, 8.62),
    (0.9, 5.91), (0.95, 4.32), (1.0, 0.54),
)
# IDACI score (share of children in income-deprived families) by rank fraction.
# The IDACI score file is not among the published rank files, so this curve is an *approximation*
# of the published distribution (median about 0.13, most deprived about 0.85); it is
# only used for the fictional council and documented in data/README.md.
_IDACI_SCORE_BY_RANK_FRACTION = (
    (0.0, 0.85), (0.01, 0.55), (0.05, 0.43), (0.1, 0.36), (0.2, 0.28), (0.3, 0.22),
    (0.4, 0.17), (0.5, 0.13), (0.6, 0.10), (0.7, 0.075), (0.8, 0.054), (0.9, 0.035),
    (1.0, 0.005),
)

_WARD_PREFIXES = (
    "Ash", "Bram", "Brook", "Castle", "Church", "Elm", "Fern", "Glen", "Hawth", "Holly",
    "Kings", "Lark", "Lea", "Mill", "Moor", "Oak", "Pen", "Quarry", "Red", "Rose",
    "Salt", "Stone", "Thorn", "Wil", "Wood", "Yew", "Alder", "Birch", "Cole", "Dun",
)
_WARD_SUFFIXES = (
    "field", "ford", "ley", "wick", "ton", " Green", " Park", " Hill", " Vale", "bury",
    " Heath", "combe", " Cross", "stead", " Common", "well", "dale", " End", "gate", "hurst",
)

AGE_COLS = [f"age_{a}" for a in range(18)]


def score_from_rank_fraction(rank_fraction: np.ndarray, curve=_IMD_SCORE_BY_RANK_FRACTION) -> np.ndarray:
    """Interpolate a deprivation score from a national rank fraction (0 = most deprived)."""
    xs, ys = zip(*curve)
    return np.interp(rank_fraction, xs, ys)


def imd_score_from_rank(rank: np.ndarray) -> np.ndarray:
    """IMD 2019 score implied by a national IMD rank (1..32,844), from the national quantiles."""
    return score_from_rank_fraction((np.asarray(rank, float) - 0.5) / N_LSOAS_ENGLAND)


def idaci_score_from_rank(rank: np.ndarray) -> np.ndarray:
    """Approximate IDACI score implied by a national IDACI rank (see module note)."""
    return score_from_rank_fraction((np.asarray(rank, float) - 0.5) / N_LSOAS_ENGLAND, _IDACI_SCORE_BY_RANK_FRACTION)


def ward_names(n: int) -> list[str]:
    """``n`` distinct invented ward names (deterministic)."""
    names = [p + s for s in _WARD_SUFFIXES for p in _WARD_PREFIXES]
    names = names[::7] + [x for i, x in enumerate(names) if i % 7]  # vary suffixes between neighbours
    if n > len(names):
        extra = [f"{names[i % len(names)]} {['North', 'South', 'East', 'West'][(i // len(names)) % 4]}"
                 for i in range(n - len(names))]
        names += extra
    if n > len(set(names)):  # pragma: no cover - only for absurd n
        names = [f"Ward {i + 1}" for i in range(n)]
    return names[:n]


def _blob(rng: np.random.Generator, radius: float, n_vertices: int = 64) -> Polygon:
    """A convex, gently irregular council outline centred on (0, 0) (units: km)."""
    angles = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    wobble = 1 + 0.12 * np.sin(2 * angles + rng.uniform(0, 6.3)) + 0.08 * np.sin(3 * angles + rng.uniform(0, 6.3))
    pts = np.column_stack([1.25 * radius * wobble * np.cos(angles), 0.85 * radius * wobble * np.sin(angles)])
    return MultiPoint([tuple(p) for p in pts]).convex_hull


def _random_points_in(poly: Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random points inside ``poly`` (rejection sampling)."""
    minx, miny, maxx, maxy = poly.bounds
    pts = np.empty((0, 2))
    while len(pts) < n:
        cand = np.column_stack([rng.uniform(minx, maxx, 4 * n + 8), rng.uniform(miny, maxy, 4 * n + 8)])
        pts = np.vstack([pts, cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]])
    return pts[:n]


def _voronoi_cells(points: np.ndarray, clip: Polygon) -> list[Polygon]:
    """Voronoi cells of ``points`` clipped to the convex polygon ``clip``, in input order.
    Cells of a convex clip are convex, hence single polygons."""
    if len(points) == 1:
        return [clip]
    cells = shapely.voronoi_polygons(MultiPoint([tuple(p) for p in points]), extend_to=clip, ordered=True)
    return [cell.intersection(clip) for cell in shapely.get_parts(cells)]


def _planar_coverage(polys: list[Polygon]) -> list[Polygon]:
    """Rebuild adjacent polygons so neighbours share identical vertices along every common
    edge (no T-junctions), as in ONS boundary files; contiguity graphs (queen/rook, libpysal's definitions)
    then see every shared border."""
    geoms = shapely.set_precision(np.array(polys, dtype=object), 1e-6)
    lines = shapely.union_all(shapely.boundary(geoms))  # noded linework
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    # each face belongs to the polygon holding its interior point (nearest, for slivers)
    owner = shapely.STRtree(geoms).query_nearest(shapely.point_on_surface(faces), all_matches=False)
    face_owner = np.empty(len(faces), int)
    face_owner[owner[0]] = owner[1]
    out = []
    for i in range(len(geoms)):
        mine = faces[face_owner == i]
        out.append(mine[0] if len(mine) == 1 else shapely.union_all(mine))
    return out


def _lloyd(points: np.ndarray, clip: Polygon, iterations: int) -> np.ndarray:
    """Spread points evenly by moving each to its Voronoi cell's centroid."""
    for _ in range(iterations):
        cells = _voronoi_cells(points, clip)
        points = np.array([[c.centroid.x, c.centroid.y] for c in cells])
    return points


def make_geography(n_wards: int = 50, lsoas_per_ward: tuple[int, int] = (4, 9), seed: int = 1,
                   *, centre_lonlat: tuple[float, float] = DEMO_CENTRE_LONLAT,
                   km_per_ward: float = 2.6, la_code: str = DEMO_LA_CODE, la_name: str = DEMO_LAD_NAME):
    """Build a fictional contiguous council of wards made of LSOA-like areas.

    Inputs: ``n_wards`` (50 for the demo council; 300 or 1,000 for benchmarks),
    ``lsoas_per_ward`` (inclusive range of LSOAs per ward), ``seed``.
    Output: ``(wards, lsoas)``, two GeoDataFrames in EPSG:4326.
    ``wards``: ``WD22CD`` (``E05999001``...), ``WD22NM``, ``LAD22CD``, ``LAD22NM``, geometry.
    ``lsoas``: ``LSOA11CD`` (``E01999001``...), ``LSOA11NM``, ``WD22CD``, ``town_distance``
    (distance from the town centre as a share of the council's width), geometry.
    Each ward is the union of its LSOAs; every ward touches another; the council is one
    contiguous polygon. Codes use ``E05990001``/``E01990001`` upwards beyond 999 areas.
    """
    rng = np.random.default_rng([seed, 7001])
    lo, hi = lsoas_per_ward
    n_lsoa = rng.integers(lo, hi + 1, size=n_wards)
    radius = km_per_ward * np.sqrt(n_wards) / 2.0
    blob = _blob(rng, radius)
    ward_pts = _lloyd(_random_points_in(blob, n_wards, rng), blob, 2)
    ward_cells = _voronoi_cells(ward_pts, blob)
    town = np.array([0.35 * radius, -0.15 * radius])  # off-centre, so deprived wards cluster
    lsoa_geoms, lsoa_ward = [], []
    for w, cell in enumerate(ward_cells):
        pts = _lloyd(_random_points_in(cell, int(n_lsoa[w]), rng), cell, 1)
        cells = _voronoi_cells(pts, cell)
        lsoa_geoms.extend(cells)
        lsoa_ward.extend([w] * len(cells))
    lsoa_ward = np.array(lsoa_ward)
    lsoa_geoms = _planar_coverage(lsoa_geoms)
    cent = np.array([[g.centroid.x, g.centroid.y] for g in lsoa_geoms])
    town_distance = np.hypot(*(cent - town).T) / (2 * radius)

    lon0, lat0 = centre_lonlat
    kx = 1 / (111.32 * np.cos(np.radians(lat0)))
    ky = 1 / 110.57

    def to_lonlat(g):
        return shapely.transform(g, lambda xy: np.column_stack([lon0 + xy[:, 0] * kx, lat0 + xy[:, 1] * ky]))

    base_w = 999000 if n_wards < 1000 else 990000
    ward_codes = [f"E05{base_w + i + 1:06d}" for i in range(n_wards)]
    n_total = len(lsoa_geoms)
    base_l = 999000 if n_total < 1000 else 990000
    lsoa_codes = [f"E01{base_l + i + 1:06d}" for i in range(n_total)]
    within = pd.Series(lsoa_ward).groupby(lsoa_ward).cumcount().to_numpy()
    lsoa_names = [f"{la_name} {w + 1:03d}{chr(65 + k % 26)}" for w, k in zip(lsoa_ward, within)]
    lsoas = gpd.GeoDataFrame({
        "LSOA11CD": lsoa_codes, "LSOA11NM": lsoa_names,
        "WD22CD": [ward_codes[w] for w in lsoa_ward], "town_distance": town_distance,
    }, geometry=[to_lonlat(g) for g in lsoa_geoms], crs="EPSG:4326")
    geoms = lsoas.geometry.values
    ward_geoms = [shapely.union_all(geoms[lsoa_ward == w]) for w in range(n_wards)]
    wards = gpd.GeoDataFrame({"WD22CD": ward_codes, "WD22NM": ward_names(n_wards), "LAD22CD": la_code,
                              "LAD22NM": la_name}, geometry=ward_geoms, crs="EPSG:4326")
    return wards, lsoas


@dataclass
class Geography:
    """Everything the generator needs about the council's areas.

    ``lsoa`` (one row per LSOA): ``LSOA11CD, LSOA11NM, WD21CD, WD21NM, LAD21CD, LAD21NM,
    imd_score, imd_rank, imd_decile, idaci_rank, idaci_decile, idaci_score (NaN when not
    published), age_0..age_17, pop_all_ages, demand``; ``demand`` is a relative referral
    propensity (mean 1) from :func:`demand_index`.
    ``wards``/``lsoas``: GeoDataFrames (EPSG:4326) as written to ``geography/``.
    ``iod``/``population``: tables in the published column layouts.
    """

    la_code: str
    la_old_code: str
    la_name: str
    lsoa: pd.DataFrame
    wards: object
    lsoas: object
    iod: pd.DataFrame
    population: pd.DataFrame
    synthetic: bool = True
    extra: dict = field(default_factory=dict)


def demand_index(imd_score: np.ndarray, idaci_rank: np.ndarray) -> np.ndarray:
    """Relative referral propensity of an LSOA from deprivation (mean over LSOAs = 1).

    Uses the national IDACI rank (1 = most deprived of 32,844) and the IMD score, both
    published for every LSOA (so it works on the real file, which lacks the IDACI score):
    ``exp(1.4 * (1 - rank_fraction)^2 + 0.012 * imd_score)``, normalised to mean 1. The
    most deprived areas get about four to five times the rate of the least deprived
    (intervention rates rise steeply with deprivation; Bywaters et al. 2016).
    """
    frac = (np.asarray(idaci_rank, float) - 0.5) / N_LSOAS_ENGLAND
    d = np.exp(1.4 * (1 - frac) ** 2 + 0.012 * np.asarray(imd_score, float))
    return d / d.mean()


def fictional_geography(seed: int = 1, n_wards: int = 50) -> Geography:
    """The Kingsmoor demo council: geometry plus deprivation and child population per LSOA."""
    from scipy.stats import norm

    wards, lsoas = make_geography(n_wards, (4, 9), seed)
    rng = np.random.default_rng([seed, 7002])
    n = len(lsoas)
    td = lsoas["town_distance"].to_numpy()
    ward_idx = pd.factorize(lsoas["WD22CD"])[0]
    ward_effect = rng.normal(0, 0.35, ward_idx.max() + 1)[ward_idx]
    # latent deprivation: very high near the town centre, middling elsewhere, ward effect
    latent = -2.6 * np.exp(-(td / 0.16) ** 2) + 0.25 + ward_effect + rng.normal(0, 0.55, n) + 0.6 * td
    imd_frac = np.clip(norm.cdf(latent), 0.0005, 0.9995)
    idaci_frac = np.clip(norm.cdf(0.9 * latent + rng.normal(0, 0.35, n)), 0.0005, 0.9995)
    idaopi_frac = np.clip(norm.cdf(0.8 * latent + rng.normal(0, 0.5, n)), 0.0005, 0.9995)
    imd_rank = np.ceil(imd_frac * N_LSOAS_ENGLAND).astype(int)
    idaci_rank = np.ceil(idaci_frac * N_LSOAS_ENGLAND).astype(int)
    idaopi_rank = np.ceil(idaopi_frac * N_LSOAS_ENGLAND).astype(int)
    imd_score = np.round(imd_score_from_rank(imd_rank) * rng.uniform(0.97, 1.03, n), 3)
    idaci_score = np.round(idaci_score_from_rank(idaci_rank), 3)
    # children per LSOA: about 300, more in deprived areas; single years of age
    children = np.round(rng.gamma(16, 1, n) * 17 * (1 + 0.35 * (1 - idaci_frac))).astype(int)
    age_profile = np.linspace(1.0, 1.08, 18)
    age_profile /= age_profile.sum()
    ages = np.vstack([rng.multinomial(c, age_profile) for c in children])
    names = dict(zip(wards["WD22CD"], wards["WD22NM"]))
    lsoa = pd.DataFrame({
        "LSOA11CD": lsoas["LSOA11CD"].to_numpy(), "LSOA11NM": lsoas["LSOA11NM"].to_numpy(),
        "WD21CD": lsoas["WD22CD"].to_numpy(), "WD21NM": lsoas["WD22CD"].map(names).to_numpy(),
        "LAD21CD": DEMO_LA_CODE, "LAD21NM": DEMO_LAD_NAME,
        "imd_score": imd_score, "imd_rank": imd_rank, "imd_decile": np.ceil(imd_frac * 10).astype(int),
        "idaci_rank": idaci_rank, "idaci_decile": np.ceil(idaci_frac * 10).astype(int), "idaci_score": idaci_score,
        "idaopi_rank": idaopi_rank, "idaopi_decile": np.ceil(idaopi_frac * 10).astype(int),
    })
    lsoa[AGE_COLS] = ages
    pop_all = np.round(children / rng.uniform(0.18, 0.25, n)).astype(int)
    lsoa["pop_all_ages"] = pop_all
    lsoa["demand"] = demand_index(imd_score, idaci_rank)
    iod = pd.DataFrame({
        "lsoa11cd": lsoa.LSOA11CD, "lsoa11nm": lsoa.LSOA11NM, "lad19cd": DEMO_LA_CODE, "lad19nm": DEMO_LAD_NAME,
        "imd_score": imd_score, "imd_rank": imd_rank, "imd_decile": lsoa.imd_decile,
        "idaci_rank": idaci_rank, "idaci_decile": lsoa.idaci_decile,
        "idaopi_rank": idaopi_rank, "idaopi_decile": lsoa.idaopi_decile,
        "pop_total_mid2015": np.round(pop_all * 0.97).astype(int),
        "pop_children_0_15_mid2015": np.round(ages[:, :16].sum(1) * 0.98).astype(int),
        "pop_16_59_mid2015": np.round(pop_all * 0.57).astype(int),
        "pop_60_plus_mid2015": np.round(pop_all * 0.24).astype(int),
        "pop_working_age_18_59_64_mid2015": np.round(pop_all * 0.60 * 4) / 4,
        "idaci_score": idaci_score,
    })
    return Geography(DEMO_LA_CODE, DEMO_LA_OLD_CODE, DEMO_LA_NAME, lsoa, wards,
                     lsoas.drop(columns=["WD22CD", "town_distance"]), iod, population_table(lsoa), True)


def population_table(lsoa: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    """Population in the ONS single-year-of-age CSV layout (counts multiplied by ``scale``)."""
    ages = np.round(lsoa[AGE_COLS].to_numpy() * scale).astype(np.int64)
    pop = pd.DataFrame({"lsoa11cd": lsoa.LSOA11CD.to_numpy(), "lsoa11nm": lsoa.LSOA11NM.to_numpy(),
                        "pop_all_ages_mid2020": np.round(lsoa["pop_all_ages"].to_numpy() * scale).astype(np.int64)})
    for i, c in enumerate(AGE_COLS):
        pop[c] = ages[:, i]
    pop["pop_0_17_mid2020"] = ages.sum(1)
    pop["pop_0_15_mid2020"] = ages[:, :16].sum(1)
    return pop


class RealGeography(Geography):
    """A real council's geography, read from the published ONS and MHCLG files."""

    @classmethod
    def from_files(cls, la_code: str, lookup_csv, iod_csv, population_csv, ward_geojson, lsoa_geojson,
                   *, la_old_code: str = "999", la_name: str | None = None,
                   utla_lookup_csv=None) -> "RealGeography":
        """Read a real council's geography.

        Inputs: ``la_code`` (LAD21CD, e.g. ``E06000060``; or a county's upper-tier code, e.g.
        Staffordshire ``E10000028``, with ``utla_lookup_csv`` the ONS LTLA-to-UTLA lookup
        (``LTLA23CD, UTLA23CD, UTLA23NM``): the county is built from its districts, each LSOA
        keeping its district's LAD21CD); the ONS LSOA11->WD21->LAD21 lookup
        CSV; the IoD2019 combined CSV (``lsoa11cd, imd_score, imd_rank, imd_decile,
        idaci_rank, idaci_decile, ...``); the ONS mid-2020 single-year-of-age population CSV;
        ward and LSOA GeoJSON (ONS BGC). ``la_old_code`` is the three-digit DfE code written
        to the CIN ``LEA`` field (not in these files; default ``999``).
        Output: a :class:`RealGeography`. The real IoD file has no IDACI score, so
        ``idaci_score`` is left blank and the demand index uses IDACI rank and IMD score.
        Raises ``ValueError`` naming the file when the council's LSOAs are missing.
        """
        districts, county_name = [la_code], None
        if utla_lookup_csv is not None:
            utla = pd.read_csv(utla_lookup_csv, dtype=str, encoding="utf-8-sig")
            missing = {"LTLA23CD", "UTLA23CD", "UTLA23NM"} - set(utla.columns)
            if missing:
                raise ValueError(f"{utla_lookup_csv}: lacks columns {sorted(missing)} (the ONS LTLA-UTLA lookup)")
            rows = utla[utla["UTLA23CD"] == la_code]
            if len(rows):
                districts = sorted(rows["LTLA23CD"].unique())
                county_name = str(rows["UTLA23NM"].iloc[0])
        lookup = pd.read_csv(lookup_csv, dtype=str)
        lookup = lookup[lookup["LAD21CD"].isin(districts)].sort_values("LSOA11CD", kind="stable").reset_index(drop=True)
        if lookup.empty:
            hint = "" if utla_lookup_csv is not None else " (for a county's upper-tier code pass utla_lookup_csv)"
            raise ValueError(f"{lookup_csv}: no LSOAs with LAD21CD in {districts}{hint}")
        absent = sorted(set(districts) - set(lookup["LAD21CD"]))
        if absent:
            raise ValueError(f"{lookup_csv}: no LSOAs for districts {absent} of {la_code}")
        iod = pd.read_csv(iod_csv, dtype={"lsoa11cd": str})
        iod = lookup[["LSOA11CD"]].merge(iod, left_on="LSOA11CD", right_on="lsoa11cd", how="left", validate="1:1")
        if iod["imd_score"].isna().any():
            missing = iod.loc[iod["imd_score"].isna(), "LSOA11CD"].tolist()[:5]
            raise ValueError(f"{iod_csv}: no IoD2019 row for LSOAs {missing}")
        iod = iod.drop(columns=["LSOA11CD"])
        iod["idaci_score"] = np.nan
        pop = pd.read_csv(population_csv, dtype={"lsoa11cd": str})
        pop = lookup[["LSOA11CD"]].merge(pop, left_on="LSOA11CD", right_on="lsoa11cd", how="left", validate="1:1")
        if pop["age_0"].isna().any():
            raise ValueError(f"{population_csv}: LSOAs of {la_code} missing from the population file")
        pop = pop.drop(columns=["LSOA11CD"])
        wards = gpd.read_file(ward_geojson)
        if "LAD22CD" in wards:
            wards = wards[wards["LAD22CD"].isin(districts)]
        wards = wards[["WD22CD", "WD22NM", "LAD22CD", "LAD22NM", "geometry"]].sort_values("WD22CD", kind="stable")
        lsoas = gpd.read_file(lsoa_geojson)
        lsoas = lsoas[lsoas["LSOA11CD"].isin(lookup["LSOA11CD"])][["LSOA11CD", "LSOA11NM", "geometry"]]
        lsoas = lsoas.sort_values("LSOA11CD", kind="stable").reset_index(drop=True)
        if len(lsoas) != len(lookup):
            raise ValueError(f"{lsoa_geojson}: {len(lsoas)} LSOA polygons for {len(lookup)} LSOAs of {la_code}")
        wards = wards.reset_index(drop=True).set_crs("EPSG:4326", allow_override=True)
        lsoas = lsoas.set_crs("EPSG:4326", allow_override=True)
        lsoa = lookup.copy()
        for c in ("imd_score", "imd_rank", "imd_decile", "idaci_rank", "idaci_decile", "idaci_score"):
            lsoa[c] = iod[c].to_numpy()
        lsoa[AGE_COLS] = pop[AGE_COLS].to_numpy().astype(int)
        lsoa["pop_all_ages"] = pop["pop_all_ages_mid2020"].to_numpy()
        lsoa["demand"] = demand_index(lsoa["imd_score"].to_numpy(), lsoa["idaci_rank"].to_numpy())
        name = la_name or county_name or str(lookup["LAD21NM"].iloc[0])
        return cls(la_code, la_old_code, name, lsoa, wards, lsoas, iod, pop, synthetic=False)


def write_geography(geo: Geography, out: Path, scale: float = 1.0) -> None:
    """Write the ``geography/`` files (docs/data_model.md section 1); populations x ``scale``."""
    out.mkdir(parents=True, exist_ok=True)
    geo.lsoa[["LSOA11CD", "LSOA11NM", "WD21CD", "WD21NM", "LAD21CD", "LAD21NM"]].to_csv(
        out / "lsoa_ward_lad_lookup.csv", index=False, lineterminator="\n")
    geo.iod.to_csv(out / "iod_lsoa.csv", index=False, lineterminator="\n")
    pop = population_table(geo.lsoa, scale) if (geo.synthetic or scale != 1.0) else geo.population
    pop.to_csv(out / "population_lsoa.csv", index=False, lineterminator="\n")
    write_geojson(geo.wards, out / "wards.geojson")
    write_geojson(geo.lsoas, out / "lsoas.geojson")


def write_geojson(gdf, path: Path) -> None:
    """Deterministic GeoJSON (coordinates rounded to 6 dp, about 0.1 m)."""
    props = [c for c in gdf.columns if c != "geometry"]
    feats = []
    for row, geom in zip(gdf[props].itertuples(index=False), gdf.geometry.values):
        gj = shapely.geometry.mapping(geom)
        feats.append({"type": "Feature",
                      "properties": {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(props, row)},
                      "geometry": {"type": gj["type"], "coordinates": _round_coords(gj["coordinates"])}})
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
           "features": feats}
    path.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")


def _round_coords(c):
    if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
        return [round(float(c[0]), 6), round(float(c[1]), 6)]
    return [_round_coords(x) for x in c]
