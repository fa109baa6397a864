"""Orchestration: ``generate`` writes the whole demo council (docs/data_model.md sections 1 and 6)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from . import annex_a as annex_a_mod
from . import capacity as capacity_mod
from . import cin as cin_mod
from . import ssda903 as ssda903_mod
from .faults import FAULT_RATES, pick_faults
from .geography import Geography, fictional_geography, write_geography
from .postcodes import build_postcode_directory, write_postcode_directory

FAULT_MODES = ("none", "normal", "high")


def collection_year_of(d: date) -> int:
    """Collection year (named by the year it ends on 31 March) that contains ``d``."""
    return d.year + 1 if d.month >= 4 else d.year


def generate(out_dir, *, seed: int = 1, years: int = 5, scale: float = 1.0, as_at: date = date(2026, 10, 31),
             faults: str = "normal", geography: Geography | None = None) -> Path:
    """Generate the demo council's files under ``out_dir`` and return ``out_dir``.

    Inputs: ``seed`` (same seed and arguments give byte-identical files), ``years`` complete
    collection years before the current part-year, ``scale`` (multiplies the child
    population: 1 = one council of about 100,000 children, 150 = England), ``as_at`` (the
    data extract date; nothing after it is written), ``faults`` (``none``/``normal``/``high``
    rate of injected data-quality faults, counted in ``faults.json``) and ``geography``
    (``None`` for the fictional Kingsmoor council, or a :class:`RealGeography`).
    Output: the layout of docs/data_model.md section 1.
    """
    if faults not in FAULT_MODES:
        raise ValueError(f"faults must be one of {FAULT_MODES}, got {faults!r}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    geo = geography if geography is not None else fictional_geography(seed)
    current_year = collection_year_of(as_at)
    first_year = current_year - years
    year_list = list(range(first_year, current_year + 1))
    window_start = date(first_year - 1, 4, 1)
    sim_start = date(first_year - 6, 4, 1)  # five years' burn-in so re-referral chains are in steady state
    end = cin_mod.day(as_at)

    write_geography(geo, out / "geography", scale)
    directory = build_postcode_directory(geo, np.random.default_rng([seed, 11]))
    write_postcode_directory(directory, out / "postcodes" / "postcode_directory.csv")

    # ---- children in need
    children, referrals = cin_mod.simulate_cin(geo, np.random.default_rng([seed, 21]), sim_start, as_at, scale)
    children = _identify_children(children, np.random.default_rng([seed, 22]))
    bounds = {y: (cin_mod.day(date(y - 1, 4, 1)), min(cin_mod.day(date(y, 3, 31)), end)) for y in year_list}
    rs, rc = referrals["referral_day"].to_numpy(), referrals["closure_day"].to_numpy()
    in_year = {y: (rs <= e) & ~(rc < s) for y, (s, e) in bounds.items()}
    n_files = np.sum(np.vstack(list(in_year.values())), axis=0)
    referrals = referrals[n_files > 0].reset_index(drop=True)
    in_year = {y: v[n_files > 0] for y, v in in_year.items()}
    n_files = n_files[n_files > 0]
    frng = np.random.default_rng([seed, 31])
    rate = FAULT_RATES[faults]
    # referrals received while a case was open: held by the council's system, not in the census
    while_open = referrals["while_open"].to_numpy()
    single = (n_files == 1) & ~while_open
    closed = referrals["closure_day"].notna().to_numpy()
    referrals["duplicate_copy"] = pick_faults(frng, single, rate["duplicate_referral"])
    referrals["drop_closure_date"] = pick_faults(frng, single & closed & ~referrals["duplicate_copy"].to_numpy(),
                                                 rate["missing_closure_date"])
    fault_counts = {"cin": {"duplicate_referral": int(referrals["duplicate_copy"].sum()),
                            "missing_closure_date": int(referrals["drop_closure_date"].sum())}, "by_file": {}}
    (out / "cin").mkdir(exist_ok=True)
    openings = cin_mod.child_xml_openings(children)
    order = np.lexsort((referrals["referral_day"].to_numpy(), referrals["child_idx"].to_numpy()))
    referrals = referrals.iloc[order].reset_index(drop=True)
    in_year = {y: v[order] for y, v in in_year.items()}
    in_census = ~referrals["while_open"].to_numpy()
    for y in year_list:
        ref_y = referrals[in_year[y] & in_census]
        ref_y = ref_y.loc[ref_y.index.repeat(np.where(ref_y["duplicate_copy"], 2, 1))]
        cin_mod.write_cin_year(out / "cin" / f"CIN_census_{y}.xml", ref_y, openings, y, geo.la_old_code, bounds[y][1], as_at)
        fault_counts["by_file"][f"cin/CIN_census_{y}.xml"] = {
            "cin_details": int(len(ref_y)),
            "duplicate_referral": int(ref_y["duplicate_copy"].sum() // 2),
            "missing_closure_date": int(ref_y["drop_closure_date"].sum())}

    _write_flat_referrals(out / "referrals_flat.csv", referrals, children)
    _write_addresses(out / "addresses" / "child_addresses.csv", children, referrals, geo, directory,
                     np.random.default_rng([seed, 41]))

    # ---- looked-after children (SSDA903) and in-house capacity
    cla = ssda903_mod.simulate_903(geo, children, referrals[in_census].reset_index(drop=True), directory, np.random.default_rng([seed, 51]),
                                   window_start, as_at, scale)
    ep_faults = ssda903_mod.write_903(out / "ssda903", cla, year_list, as_at, np.random.default_rng([seed, 52]), rate)
    fault_counts["ssda903"] = ep_faults.pop("totals")
    fault_counts["by_file"].update(ep_faults)
    capacity_mod.write_capacity(out / "capacity" / "inhouse_capacity.csv", cla, window_start, as_at, scale,
                                np.random.default_rng([seed, 61]))
    # Ofsted Annex A lists at the extract date, from the same children and dates (one council's
    # workbook: not written above county scale, where a single workbook would be unrealistic)
    if scale <= annex_a_mod.MAX_SCALE:
        annex_a_mod.write_annex_a(out / "annex_a" / "annex_a.xlsx", geo, children, referrals, cla, directory, as_at,
                                  np.random.default_rng([seed, 71]))

    meta = {"la_code": geo.la_code, "la_old_code": geo.la_old_code, "la_name": geo.la_name,
            "as_at": as_at.isoformat(), "seed": seed, "scale": float(scale), "years": years,
            "collection_years": year_list, "faults": faults, "synthetic_geography": bool(geo.synthetic),
            "generator": "helpers.demo", "generator_fingerprint": generator_fingerprint(), "note": "Generated demo data: do not edit; regenerate with python -m helpers.demo"}
    (out / "council.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (out / "faults.json").write_text(json.dumps({"mode": faults, **fault_counts}, indent=2) + "\n", encoding="utf-8")
    return out


def _identify_children(children: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Add ``la_child_id``, ``upn`` and ``upn_unknown`` (unique at any scale)."""
    n = len(children)
    idx = children["child_idx"].to_numpy()
    children = children.copy()
    children["la_child_id"] = pd.Series(idx + 1).map("DM{:08d}".format).to_numpy() if n < 10**8 else pd.Series(idx + 1).map("DM{:010d}".format).to_numpy()
    age_first = (children["first_referral_day"].to_numpy() - children["dob"].to_numpy()) / 365.25
    has_upn = (age_first >= 4) & (rng.uniform(size=n) < 0.95)
    upn = cin_mod.upn(idx + 1)
    children["upn"] = np.where(has_upn, upn, "")
    children["upn_unknown"] = np.where(has_upn, "", "UN6")
    return children


def _write_flat_referrals(path: Path, ref: pd.DataFrame, children: pd.DataFrame) -> None:
    """Flat referrals CSV (section 1.4), as the council's case-management system holds them: the
    referral rows of the XML files and the referrals received while a case was still open (which
    the census cannot hold: they close with the open case)."""
    ch = children.set_index("child_idx")
    rows = ref.loc[ref.index.repeat(np.where(ref["duplicate_copy"], 2, 1))]
    c = ch.loc[rows["child_idx"].to_numpy()]
    dob = cin_mod.iso(c["dob"].to_numpy())
    closure = np.where(rows["drop_closure_date"].to_numpy(), np.nan, rows["closure_day"].to_numpy())
    flat = pd.DataFrame({
        "LAchildID": c["la_child_id"].to_numpy(),
        "ReferralDate": cin_mod.dmy(rows["referral_day"].to_numpy()),
        "ReferralSource": rows["source"].to_numpy(), "PrimaryNeedCode": rows["need"].to_numpy(),
        "ClosureDate": cin_mod.dmy(closure), "ReasonForClosure": rows["reason"].to_numpy(),
        "ReferralNFA": np.where(rows["nfa"].to_numpy(), "true", "false"),
        "Sex": c["sex"].to_numpy(), "BirthMonth": pd.Series(dob).str[5:7].to_numpy(dtype=object) + "/" + pd.Series(dob).str[0:4].to_numpy(dtype=object),
        "Ethnicity": c["ethnicity"].to_numpy(),
        "Disability": pd.Series(c["disabilities"].to_numpy()).str.split(";").str[0].to_numpy(),
    })
    flat.to_csv(path, index=False, lineterminator="\n")


def _write_addresses(path: Path, children: pd.DataFrame, referrals: pd.DataFrame, geo: Geography,
                     directory: pd.DataFrame, rng: np.random.Generator) -> None:
    """Child address extract (section 1.3) for every child in the referral files.

    Each child has a first address from before their first referral; movers get a second
    address from their move date (the first address ends the day before).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    kids = children[children["child_idx"].isin(np.unique(referrals["child_idx"]))].reset_index(drop=True)
    inside = directory[directory["zone"] == "inside"]
    first_by_lsoa = inside.groupby("lsoa_idx").indices  # positions within `inside`
    starts = np.array([first_by_lsoa[i][0] for i in range(len(geo.lsoa))])
    counts = np.array([len(first_by_lsoa[i]) for i in range(len(geo.lsoa))])
    pc = inside["pcd"].to_numpy()

    def pick(lsoa_idx):
        return pc[starts[lsoa_idx] + rng.integers(0, 1 << 30, len(lsoa_idx)) % counts[lsoa_idx]]

    n = len(kids)
    lsoa_codes = geo.lsoa["LSOA11CD"].to_numpy()
    ward_codes = geo.lsoa["WD21CD"].to_numpy()
    first_start = np.maximum(kids["dob"].to_numpy(), kids["first_referral_day"].to_numpy() - np.floor(rng.uniform(30, 2000, n)))
    move = kids["move_day"].to_numpy()
    a1 = pd.DataFrame({"child_idx": kids["child_idx"], "LAchildID": kids["la_child_id"], "Postcode": pick(kids["lsoa_idx"].to_numpy()),
                       "LSOA": lsoa_codes[kids["lsoa_idx"]], "WardCode": ward_codes[kids["lsoa_idx"]],
                       "start": first_start, "end": move - 1})
    movers = ~np.isnan(move)
    k2 = kids[movers]
    a2 = pd.DataFrame({"child_idx": k2["child_idx"], "LAchildID": k2["la_child_id"], "Postcode": pick(k2["new_lsoa_idx"].to_numpy()),
                       "LSOA": lsoa_codes[k2["new_lsoa_idx"]], "WardCode": ward_codes[k2["new_lsoa_idx"]],
                       "start": move[movers], "end": np.nan})
    addr = pd.concat([a1, a2], ignore_index=True).sort_values(["child_idx", "start"], kind="stable")
    addr["AddressStartDate"] = cin_mod.dmy(addr["start"].to_numpy())
    addr["AddressEndDate"] = cin_mod.dmy(addr["end"].to_numpy())
    addr[["LAchildID", "Postcode", "LSOA", "WardCode", "AddressStartDate", "AddressEndDate"]].to_csv(
        path, index=False, lineterminator="\n")


def generator_fingerprint() -> str:
    """sha256 (first 16 hex digits) of the sources that decide what the demo writes: this package,
    the specifications by year and the code lists. Written to ``council.json``, so a demo folder made
    by an older bundle is known to be stale."""
    import hashlib

    from helpers import codes
    from helpers.readers import specs

    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for path in [*sorted(here.glob("*.py")), Path(specs.__file__), Path(codes.__file__)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def stale_reason(out: str | Path, *, seed: int, years: int, scale: float, as_at: date, faults: str) -> str | None:
    """Why the demo folder ``out`` must be generated again, or None when it is up to date (written by
    this bundle's generator with the same arguments)."""
    meta_path = Path(out) / "council.json"
    if not meta_path.is_file():
        return "no demo data yet"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "council.json cannot be read"
    if meta.get("generator_fingerprint") != generator_fingerprint():
        return "written by another version of the generator"
    wanted = {"seed": seed, "years": years, "scale": float(scale), "as_at": as_at.isoformat(), "faults": faults}
    changed = [k for k, v in wanted.items() if meta.get(k) != v]
    return f"different {', '.join(changed)}" if changed else None
