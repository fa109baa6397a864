"""Demo postcode directory: fictional postcodes with British National Grid references.

``QX`` postcodes lie inside the council's LSOAs (outward code = ward number, sector digit
= LSOA within the ward, so the sector identifies the LSOA); ``QY``/``QZ`` postcodes lie in
eight fictional neighbouring authorities ``E06999002..E06999009`` in a ring around the
council; districts ``QZ90+`` are far-away authorities ``E06999010+`` (60-250 km).
Columns as the ONS Postcode Directory: ``pcd, oseast1m, osnrth1m, laua, utla``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from .geography import Geography

_UNIT_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
POSTCODES_PER_LSOA = 12
N_NEIGHBOURS = 8
N_FAR = 8
POSTCODES_PER_NEIGHBOUR = 150
POSTCODES_PER_FAR = 30


def _units(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct two-letter unit codes (n <= 400)."""
    idx = rng.choice(400, size=n, replace=False)
    return np.char.add(_UNIT_LETTERS[idx // 20], _UNIT_LETTERS[idx % 20])


def _outward(area_idx: np.ndarray) -> np.ndarray:
    """Outward codes for 1-based ward numbers: QX1..QX99, then QW1..QW99, QV..."""
    areas = np.array(["QX", "QW", "QV", "QU", "QT", "QS", "QR", "QP", "QO", "QN", "QL"])
    a = (area_idx - 1) // 99
    d = (area_idx - 1) % 99 + 1
    return np.char.add(areas[a], d.astype(str))


def build_postcode_directory(geo: Geography, rng: np.random.Generator) -> pd.DataFrame:
    """Postcode directory for the council and its fictional neighbours.

    Output columns: ``pcd, oseast1m, osnrth1m, laua, utla`` (ONS layout) plus internal
    ``lsoa_idx`` (row of ``geo.lsoa``, -1 outside the council) and ``zone``
    (``inside``/``neighbour``/``far``), which the generator drops before writing.
    """
    lsoas_bng = geo.lsoas.to_crs("EPSG:27700")
    ward_of_lsoa = geo.lsoa["WD21CD"].to_numpy()
    ward_codes = pd.unique(geo.wards["WD22CD"]) if len(geo.wards) else pd.unique(ward_of_lsoa)
    ward_num = {c: i + 1 for i, c in enumerate(sorted(set(ward_of_lsoa)))}
    geom_by_code = dict(zip(lsoas_bng["LSOA11CD"], lsoas_bng.geometry.values))
    within = pd.Series(ward_of_lsoa).groupby(ward_of_lsoa).cumcount().to_numpy()
    rows = []
    for i, code in enumerate(geo.lsoa["LSOA11CD"]):
        poly = geom_by_code[code]
        minx, miny, maxx, maxy = poly.bounds
        pts = np.empty((0, 2))
        while len(pts) < POSTCODES_PER_LSOA:
            cand = np.column_stack([rng.uniform(minx, maxx, 60), rng.uniform(miny, maxy, 60)])
            pts = np.vstack([pts, cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]])
        pts = pts[:POSTCODES_PER_LSOA]
        outward = _outward(np.array([ward_num[ward_of_lsoa[i]]]))[0]
        sector = str(within[i] % 10)
        units = _units(POSTCODES_PER_LSOA + 2 * (within[i] // 10), rng)[:POSTCODES_PER_LSOA]
        rows.append(pd.DataFrame({"pcd": [f"{outward} {sector}{u}" for u in units],
                                  "oseast1m": np.round(pts[:, 0]).astype(int), "osnrth1m": np.round(pts[:, 1]).astype(int),
                                  "laua": geo.la_code, "utla": geo.la_code, "lsoa_idx": i, "zone": "inside"}))
    inside = pd.concat(rows, ignore_index=True)
    # LSOAs with >10 per ward share sector digits; keep postcodes unique
    inside = inside.drop_duplicates("pcd", keep="first").reset_index(drop=True)

    council = shapely.union_all(shapely.make_valid(lsoas_bng.geometry.values)).buffer(0)
    cx, cy = council.centroid.x, council.centroid.y
    minx, miny, maxx, maxy = council.bounds
    radius = 0.5 * max(maxx - minx, maxy - miny)
    out = []
    for k in range(N_NEIGHBOURS):
        la = f"E06999{k + 2:03d}"
        area = "QY" if k < 4 else "QZ"
        pts = np.empty((0, 2))
        while len(pts) < POSTCODES_PER_NEIGHBOUR:
            ang = np.radians(k * 45 + rng.uniform(-20, 20, 400))
            dist = rng.uniform(0.4 * radius, radius + 30_000, 400)
            cand = np.column_stack([cx + dist * np.cos(ang), cy + dist * np.sin(ang)])
            keep = ~shapely.contains_xy(council.buffer(800), cand[:, 0], cand[:, 1])
            pts = np.vstack([pts, cand[keep]])
        pts = pts[:POSTCODES_PER_NEIGHBOUR]
        district = (k % 4) * 20 + 1 + np.arange(POSTCODES_PER_NEIGHBOUR) // 40
        units = _units(POSTCODES_PER_NEIGHBOUR, rng)
        sectors = (np.arange(POSTCODES_PER_NEIGHBOUR) % 10).astype(str)
        pcd = [f"{area}{d} {s}{u}" for d, s, u in zip(district, sectors, units)]
        out.append(pd.DataFrame({"pcd": pcd, "oseast1m": np.round(pts[:, 0]).astype(int),
                                 "osnrth1m": np.round(pts[:, 1]).astype(int), "laua": la, "utla": la,
                                 "lsoa_idx": -1, "zone": "neighbour"}))
    for k in range(N_FAR):
        la = f"E06999{k + 10:03d}"
        ang = np.radians(rng.uniform(0, 360))
        dist = rng.uniform(60_000, 250_000)
        centre = (cx + dist * np.cos(ang), cy + dist * np.sin(ang))
        pts = np.column_stack([centre[0] + rng.normal(0, 4000, POSTCODES_PER_FAR), centre[1] + rng.normal(0, 4000, POSTCODES_PER_FAR)])
        units = _units(POSTCODES_PER_FAR, rng)
        pcd = [f"QZ{90 + k} {j % 10}{u}" for j, u in enumerate(units)]
        out.append(pd.DataFrame({"pcd": pcd, "oseast1m": np.round(pts[:, 0]).astype(int),
                                 "osnrth1m": np.round(pts[:, 1]).astype(int), "laua": la, "utla": la,
                                 "lsoa_idx": -1, "zone": "far"}))
    directory = pd.concat([inside, *out], ignore_index=True)
    return directory.drop_duplicates("pcd", keep="first").reset_index(drop=True)


def write_postcode_directory(directory: pd.DataFrame, path) -> None:
    """Write the ONS-layout CSV (internal columns dropped)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    directory[["pcd", "oseast1m", "osnrth1m", "laua", "utla"]].to_csv(path, index=False, lineterminator="\n")
