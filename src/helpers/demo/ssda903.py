"""Synthetic looked-after children and the SSDA903 CSVs (Header, Episodes, UASC, Missing).

Model (vectorised over periods of care):

* **Entries**: about 210 a year at scale 1. Entries before the first collection year are
  children not in the CIN files (long-stayers); entries from then on are drawn from the
  demo CIN children who had a section 47 enquiry (entry 3-120 days after the referral),
  re-weighted so that infants and teenagers dominate as nationally; about 7% of looked-after
  children are unaccompanied asylum-seeking children (UASC, mostly boys aged 15-17).
* **Route and exit** by age at entry: adoption (E11/E12, infants), special guardianship
  (E45-E48), return home (E4A/E4B/E13, often short, mostly under section 20, V2), or
  staying until 18 (E17/E5/E6/E8).
* **Legal status**: care proceedings start with C1 (interim care order), L2 or V2, then C2
  (full care order) after 4-11 months, and E1 (placement order) on the adoption route.
* **Placements** by age (fostering in-house/IFA/kinship, children's homes, supported
  accommodation, placed with parents...) with provider (PR0-PR5), location (inside the
  council, a neighbouring authority, or far away) and moves (Poisson, more for teenagers,
  with a heterogeneous propensity so that about 1 in 10 has 3+ placements in a year).
* Supported accommodation is written ``H5``/``P2`` in files up to collection year 2024
  and ``K3`` from 2025 (the council's system maps open placements to the new code).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import codes
from helpers.readers import specs
from .cin import birthday, day, dmy, eighteenth_birthday, upn
from .faults import pick_faults
from .ssda903_tables import write_other_tables

#: REASON_PLACE_CHANGE codes the generator draws from (a subset of codes.REASON_PLACE_CHANGE, same order as _RPC_P).
REASON_PLACE_CHANGE = ("CARPL", "CLOSE", "ALLEG", "STAND", "APPRR", "CREQB", "CREQO", "CHILD", "LAREQ", "PLACE", "OTHER")
_RPC_P = np.array([0.40, 0.05, 0.02, 0.03, 0.01, 0.12, 0.10, 0.06, 0.06, 0.05, 0.10])

ENTRIES_PER_YEAR = 165.0
UASC_ENTRIES_PER_YEAR = 20.0

# placement category -> (codes, code probabilities); provider mix; location zone mix
_CATS = ("inhouse", "ifa", "kinship", "home", "supported", "parents", "mbu", "other")
_AGE_BANDS = (0, 5, 10, 14, 16, 18)
_CAT_MIX = np.array([  # rows: age bands 0-4, 5-9, 10-13, 14-15, 16-17
    [0.40, 0.24, 0.22, 0.005, 0.0, 0.06, 0.065, 0.01],
    [0.37, 0.30, 0.20, 0.06, 0.0, 0.05, 0.0, 0.02],
    [0.31, 0.29, 0.14, 0.19, 0.0, 0.04, 0.0, 0.03],
    [0.25, 0.28, 0.11, 0.28, 0.0, 0.03, 0.0, 0.05],
    [0.09, 0.12, 0.05, 0.13, 0.58, 0.02, 0.0, 0.01],
])
_UASC_MIX = np.array([0.10, 0.30, 0.0, 0.12, 0.48, 0.0, 0.0, 0.0])
_ZONES = np.array(["inside", "neighbour", "far"])
_ZONE_MIX = {
    ("inhouse", "PR1"): (0.80, 0.18, 0.02), ("kinship", "PR1"): (0.50, 0.38, 0.12),
    ("ifa", "PR4"): (0.33, 0.50, 0.17), ("ifa", "PR5"): (0.33, 0.50, 0.17),
    ("home", "PR1"): (1.0, 0.0, 0.0), ("home", "PR2"): (0.0, 0.8, 0.2), ("home", "PR4"): (0.2, 0.45, 0.35),
    ("home", "PR5"): (0.2, 0.45, 0.35), ("supported", "PR1"): (0.9, 0.1, 0.0), ("supported", "PR4"): (0.45, 0.42, 0.13),
    ("supported", "PR5"): (0.45, 0.42, 0.13), ("parents", "PR0"): (0.85, 0.12, 0.03), ("mbu", "PR4"): (0.2, 0.5, 0.3),
    ("mbu", "PR5"): (0.2, 0.5, 0.3), ("other", "PR3"): (0.2, 0.4, 0.4), ("other", "PR4"): (0.2, 0.4, 0.4),
    ("adoption", "PR1"): (0.5, 0.4, 0.1), ("adoption", "PR2"): (0.0, 0.7, 0.3), ("adoption", "PR5"): (0.3, 0.5, 0.2),
}


def _pick(rng, options, p, n):
    p = np.asarray(p, float)
    return np.asarray(options)[rng.choice(len(options), size=n, p=p / p.sum())]


def _band(age: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(_AGE_BANDS, age, side="right") - 1, 0, 4)


def simulate_903(geo, children: pd.DataFrame, referrals: pd.DataFrame, directory: pd.DataFrame,
                 rng: np.random.Generator, window_start: date, as_at: date, scale: float) -> dict:
    """Simulate periods of care, episodes, UASC and missing episodes.

    Inputs: geography, CIN ``children`` (with ``la_child_id, upn, dob, sex, ethnicity,
    lsoa_idx``) and ``referrals``, the postcode directory, a Generator, the first day of the
    first collection year, ``as_at`` and ``scale``.
    Output: dict with ``episodes`` (one row per episode: ``child, decom, dec, rec, rne, ls,
    cin, cat, place_provider, pl_post, home_post, urn, reason_place_change`` with day
    numbers), ``kids`` (one row per looked-after child: ``child, sex, dob, ethnicity, upn,
    uasc, duc``) and ``missing``.
    """
    end = day(as_at)
    ws = day(window_start)
    first = ws - 18 * 365.25
    # ---- entries before the window: standalone children
    n_pre = rng.poisson(ENTRIES_PER_YEAR * scale * (ws - first) / 365.25 * 0.92)
    pre_entry = np.floor(rng.uniform(first, ws, n_pre))
    age_w = np.array([20, 5, 4, 4, 3.5, 3.5, 3, 3, 3, 3, 4, 5, 6, 8, 9, 10, 9, 3])
    pre_age = rng.choice(18, size=n_pre, p=age_w / age_w.sum()) + rng.uniform(0, 1, n_pre)
    # ---- entries in the window: CIN children with a section 47
    pool = referrals[referrals["s47_start"].notna() & (referrals["referral_day"] >= ws)
                     & ~referrals["front_door_duplicate"]].drop_duplicates("child_idx")
    pool_child = pool["child_idx"].to_numpy()
    dob_c = children.set_index("child_idx")["dob"]
    pool_age = (pool["referral_day"].to_numpy() - dob_c.loc[pool_child].to_numpy()) / 365.25
    n_in = rng.poisson(ENTRIES_PER_YEAR * scale * (end - ws) / 365.25)
    # weights: target entry-age profile / CIN pool age profile
    pool_band = np.clip(pool_age.astype(int), 0, 17)
    pool_hist = np.bincount(pool_band, minlength=18).astype(float)
    w = (age_w / age_w.sum())[pool_band] / np.maximum(pool_hist[pool_band], 1)
    n_in = min(n_in, int((w > 0).sum()))
    chosen = rng.choice(len(pool), size=n_in, replace=False, p=w / w.sum())
    in_entry = pool["referral_day"].to_numpy()[chosen] + np.floor(rng.uniform(3, 120, n_in))
    # entry on or before the as-at date, and at least a month before the 18th birthday
    keep = (in_entry <= end) & (in_entry < pool["referral_day"].to_numpy()[chosen] + (17.9 - pool_age[chosen]) * 365.25 - 30)
    chosen, in_entry = chosen[keep], in_entry[keep]
    in_child = pool_child[chosen]
    # ---- UASC entries (standalone)
    n_u = rng.poisson(UASC_ENTRIES_PER_YEAR * scale * (end - first) / 365.25 / 3.5)
    u_entry = np.floor(rng.uniform(ws - 3 * 365.25, end, n_u))
    u_age = rng.choice([14, 15, 16, 17], size=n_u, p=[0.08, 0.25, 0.45, 0.22]) + rng.uniform(0, 1, n_u)

    # looked-after children table
    base_id = int(children["child_idx"].max()) + 1 if len(children) else 0
    n_new = n_pre + n_u
    new_idx = base_id + np.arange(n_new)
    new_entry = np.concatenate([pre_entry, u_entry])
    new_age = np.concatenate([pre_age, u_age])
    new_dob = np.floor(new_entry - new_age * 365.25)
    uasc_new = np.concatenate([np.zeros(n_pre, bool), np.ones(n_u, bool)])
    sex_new = np.where(uasc_new, np.where(rng.uniform(size=n_new) < 0.93, "1", "2"),
                       np.where(rng.uniform(size=n_new) < 0.56, "1", "2"))
    from .cin import ETHNICITY_SHARES, _choice
    eth_new = np.where(uasc_new, _pick(rng, ["AOTH", "BAFR", "OOTH", "BOTH", "MOTH"], [0.3, 0.3, 0.25, 0.1, 0.05], n_new),
                       _choice(rng, ETHNICITY_SHARES, n_new))
    ch = children.set_index("child_idx").loc[in_child]
    kids = pd.DataFrame({
        "child_idx": np.concatenate([in_child, new_idx]),
        "child": np.concatenate([ch["la_child_id"].to_numpy(), pd.Series(new_idx + 1).map("DM{:08d}".format).to_numpy()]),
        "sex": np.concatenate([np.where(ch["sex"].to_numpy() == "2", "2", "1"), sex_new]),
        "dob": np.concatenate([ch["dob"].to_numpy(), new_dob]),
        "ethnicity": np.concatenate([ch["ethnicity"].to_numpy(), eth_new]),
        "upn": np.concatenate([np.where(ch["upn"].to_numpy() == "", "UN1", ch["upn"].to_numpy()),
                               np.where(new_age >= 5, upn(new_idx + 1), "UN1")]),
        "uasc": np.concatenate([np.zeros(len(in_child), bool), uasc_new]),
        "entry": np.concatenate([in_entry, new_entry]),
        "lsoa_idx": np.concatenate([ch["lsoa_idx"].to_numpy(), rng.choice(len(geo.lsoa), size=n_new,
                                    p=(geo.lsoa["demand"] / geo.lsoa["demand"].sum()).to_numpy())]),
    })
    kids["duc"] = np.where(kids["uasc"], eighteenth_birthday(kids["dob"].to_numpy()), np.nan)
    # a UPN for the years in which a child without one is of school age (903 rule 209: no UN1 then)
    kids["school_upn"] = upn(kids["child_idx"].to_numpy() + 1 + 500_000_000)
    n = len(kids)
    age = (kids["entry"].to_numpy() - kids["dob"].to_numpy()) / 365.25
    uasc = kids["uasc"].to_numpy()
    to18 = eighteenth_birthday(kids["dob"].to_numpy())
    # ---- route and exit
    band = _band(age)
    routes = np.array(["adoption", "sgo", "home", "to18", "other"])
    route_p = np.array([[0.36, 0.18, 0.24, 0.20, 0.02], [0.06, 0.16, 0.36, 0.40, 0.02], [0.0, 0.08, 0.45, 0.44, 0.03],
                        [0.0, 0.04, 0.40, 0.52, 0.04], [0.0, 0.0, 0.28, 0.68, 0.04]])
    r = rng.uniform(size=n)
    cum = np.cumsum(route_p[band], axis=1)
    route = routes[(r[:, None] > cum).sum(1)]
    route = np.where((route == "adoption") & (age >= 5), "sgo", route)
    route = np.where(uasc, "to18", route)
    dur = np.select([route == "adoption", route == "sgo", route == "home", route == "other"],
                    [rng.uniform(1.1, 3.0, n), rng.uniform(0.8, 3.0, n), rng.exponential(0.6, n) + 0.02, rng.uniform(0.1, 2, n)],
                    99.0) * 365.25
    exit_day = np.minimum(kids["entry"].to_numpy() + np.floor(dur), to18)
    rec = np.select(
        [route == "adoption", route == "sgo", route == "home", route == "other"],
        [_pick(rng, ["E11", "E12"], [0.4, 0.6], n), _pick(rng, ["E45", "E46", "E47", "E48"], [0.35, 0.15, 0.4, 0.1], n),
         _pick(rng, ["E4A", "E4B", "E13", "E41"], [0.6, 0.1, 0.22, 0.08], n), _pick(rng, ["E8", "E9", "E3", "E14", "E16", "E2"], [0.45, 0.2, 0.2, 0.1, 0.04, 0.01], n)],
        _pick(rng, ["E17", "E5", "E6", "E8", "E7"], [0.3, 0.35, 0.1, 0.22, 0.03], n))
    rec = np.where(uasc & (route == "to18") & (rng.uniform(size=n) < 0.04), "E15", rec)
    exit_day = np.where(rec == "E15", kids["entry"].to_numpy() + np.floor(rng.uniform(30, 300, n)), exit_day)
    exit_day = np.minimum(exit_day, to18)
    # no adoption on 31 March: the validators count a child leaving care that day as looked after
    # at 31 March, whose adoption details must then be blank (903 rules 187, 191)
    md = pd.DatetimeIndex(np.where(np.isnan(exit_day), 0, exit_day).astype("int64").astype("datetime64[D]")).strftime("%m-%d")
    exit_day = np.where((route == "adoption") & (md == "03-31") & ~np.isnan(exit_day), exit_day - 1, exit_day)
    open_ = exit_day > end
    exit_day = np.where(open_, np.nan, exit_day)
    rec = np.where(open_, "", rec)
    keep = np.isnan(exit_day) | (exit_day >= ws)
    kids, route, exit_day, rec, age = kids[keep].reset_index(drop=True), route[keep], exit_day[keep], rec[keep], age[keep]
    n = len(kids)
    entry = kids["entry"].to_numpy()
    stop = np.where(np.isnan(exit_day), end + 1, exit_day)  # working end of the period
    uasc = kids["uasc"].to_numpy()

    # ---- legal status events
    v2 = uasc | (((route == "home") | (route == "other")) & (rng.uniform(size=n) < 0.7)) | ((age >= 16) & (rng.uniform(size=n) < 0.75))
    start_ls = np.where(v2, "V2", _pick(rng, ["C1", "L2", "V2", "J1"], [0.72, 0.12, 0.14, 0.02], n))
    start_ls = np.where((start_ls == "J1") & (age < 10), "C1", start_ls)   # J1-J3 only from age 10 (903 rule 358)
    # an emergency protection order lasts at most 8 days (below); one starting in the 21 days before
    # the extract date would be read as running to 31 March by rule 362 (it fills an open end with
    # the collection end), so the part-year's last entries start under an interim care order
    start_ls = np.where((start_ls == "L2") & (kids["entry"].to_numpy() > end - 21), "C1", start_ls)
    c2_day = entry + np.floor(rng.uniform(120, 330, n))
    e1_day = c2_day + np.floor(rng.uniform(40, 200, n))
    adopt_place = np.where(route == "adoption", np.maximum(stop - np.floor(rng.uniform(150, 330, n)), e1_day + 20), np.nan)
    # an adopted child is placed for adoption at least 30 days before the adoption (903 rule 390), after
    # the placement order (E1, rule 408), which follows the care order (C2)
    adopted = (route == "adoption") & ~np.isnan(exit_day)
    adopt_place = np.where(adopted, np.minimum(adopt_place, stop - 30), adopt_place)
    e1_day = np.where(adopted, np.minimum(e1_day, adopt_place - 20), e1_day)
    c2_day = np.where(adopted, np.minimum(c2_day, e1_day - 40), c2_day)
    # foster to adopt: the placement order is made on the day the child is placed for adoption with
    # the current foster carers (A5, a change of legal status and placement, carers unchanged: RNE U;
    # 903 rules 217, 336)
    f2a = (route == "adoption") & (rng.uniform(size=n) < 0.4)
    e1_day = np.where(f2a & (adopt_place > entry), adopt_place, e1_day)
    ev = [pd.DataFrame({"k": np.arange(n), "d": entry, "ls": start_ls, "place": True, "kind": "S"})]
    has_c2 = ~v2 & (c2_day < stop)
    ev.append(pd.DataFrame({"k": np.flatnonzero(has_c2), "d": c2_day[has_c2], "ls": "C2", "place": False, "kind": "L"}))
    # an emergency protection order lasts at most 8 days (903 rule 362: never over 21): an interim
    # care order follows a week after entry
    epo = (start_ls == "L2") & (entry + 7 < stop) & (entry + 7 < c2_day)
    ev.append(pd.DataFrame({"k": np.flatnonzero(epo), "d": entry[epo] + 7, "ls": "C1", "place": False, "kind": "L"}))
    has_e1 = (route == "adoption") & has_c2 & (e1_day < stop)
    ev.append(pd.DataFrame({"k": np.flatnonzero(has_e1), "d": e1_day[has_e1], "ls": "E1", "place": False, "kind": "L"}))
    # ---- placement moves
    propensity = rng.gamma(1.2, 1 / 1.2, n) * np.select([age < 5, age < 10, age < 14], [0.45, 0.4, 0.8], 0.9)
    years = (np.minimum(stop, end) - np.maximum(entry, ws - 400)) / 365.25
    n_moves = rng.poisson(np.clip(years, 0, None) * propensity)
    mk = np.repeat(np.arange(n), n_moves)
    lo = np.maximum(entry, ws - 400)[mk]
    md = np.floor(lo + rng.uniform(0, 1, len(mk)) * (stop[mk] - lo))
    ok = (md > entry[mk]) & (md < stop[mk]) & ~(md >= adopt_place[mk])   # no move once placed for adoption
    ev.append(pd.DataFrame({"k": mk[ok], "d": md[ok], "ls": "", "place": True, "kind": "P"}))
    ha = (route == "adoption") & ~np.isnan(adopt_place) & (adopt_place > entry) & (adopt_place < stop)
    ev.append(pd.DataFrame({"k": np.flatnonzero(ha), "d": adopt_place[ha], "ls": "", "place": True, "kind": "A"}))
    ev = pd.concat(ev, ignore_index=True)
    ev = ev.sort_values(["k", "d", "kind"], kind="stable").reset_index(drop=True)
    # merge events on the same day: placement and legal change -> T
    g = ev.groupby(["k", "d"], sort=False)
    merged = g.agg(ls=("ls", "max"), place=("place", "max"), kinds=("kind", "".join)).reset_index()
    merged = merged.sort_values(["k", "d"], kind="stable").reset_index(drop=True)
    k = merged["k"].to_numpy()
    kinds = merged["kinds"].to_numpy(dtype=str)
    is_start = np.char.find(kinds, "S") >= 0
    is_adopt = np.char.find(kinds, "A") >= 0
    place_change = merged["place"].to_numpy(bool)
    ls_change = merged["ls"].to_numpy(dtype=object) != ""
    rne = np.where(is_start, "S", np.where(place_change & ls_change, "T", np.where(place_change, "P", "L")))
    # forward-fill legal status within each child
    ls = pd.Series(np.where(ls_change, merged["ls"].to_numpy(dtype=object), None)).groupby(k).ffill().to_numpy(dtype=object)
    # placement per placement segment
    seg = np.cumsum(place_change)  # global segment id (placement changes and starts)
    seg_rows = np.flatnonzero(place_change)
    seg_k = k[seg_rows]
    seg_age = (merged["d"].to_numpy()[seg_rows] - kids["dob"].to_numpy()[seg_k]) / 365.25
    seg_band = _band(seg_age)
    mix = np.where(uasc[seg_k][:, None], _UASC_MIX[None, :], _CAT_MIX[seg_band])
    cum = np.cumsum(mix / mix.sum(1, keepdims=True), axis=1)
    cat = np.array(_CATS)[(rng.uniform(size=len(seg_rows))[:, None] > cum).sum(1).clip(0, len(_CATS) - 1)]
    cat = np.where(is_adopt[seg_rows], "adoption", cat)
    cat = np.where((cat == "supported") & (seg_age < 16), "ifa", cat)
    cat = np.where((cat == "mbu") & (seg_age > 2), "inhouse", cat)
    # placed with parents only under a care order, never under section 20 (V2; 903 rule 378)
    seg_v2 = pd.Series(ls == "V2").groupby(seg).any().reindex(np.arange(1, len(seg_rows) + 1)).to_numpy()
    cat = np.where((cat == "parents") & seg_v2, "kinship", cat)
    ns = len(seg_rows)
    provider = np.select(
        [cat == "inhouse", cat == "kinship", cat == "ifa", cat == "home", cat == "supported", cat == "parents",
         cat == "mbu", cat == "adoption"],
        [np.full(ns, "PR1"), np.full(ns, "PR1"), _pick(rng, ["PR4", "PR5"], [0.72, 0.28], ns),
         _pick(rng, ["PR4", "PR1", "PR5", "PR2"], [0.80, 0.13, 0.05, 0.02], ns),
         _pick(rng, ["PR4", "PR5", "PR1"], [0.72, 0.2, 0.08], ns), np.full(ns, "PR0"),
         _pick(rng, ["PR4", "PR5"], [0.6, 0.4], ns), _pick(rng, ["PR1", "PR2", "PR5"], [0.6, 0.15, 0.25], ns)],
        _pick(rng, ["PR4", "PR3"], [0.5, 0.5], ns))
    place_code = np.select(
        [cat == "inhouse", cat == "ifa", cat == "kinship", cat == "home", cat == "parents", cat == "mbu", cat == "adoption"],
        [_pick(rng, ["U4", "U6", "U5"], [0.4, 0.56, 0.04], ns), _pick(rng, ["U4", "U6", "U5"], [0.45, 0.52, 0.03], ns),
         _pick(rng, ["U1", "U3", "U2"], [0.35, 0.6, 0.05], ns), _pick(rng, ["K2", "K1"], [0.98, 0.02], ns),
         np.full(ns, "P1"), np.full(ns, "R3"), _pick(rng, ["A5", "A6", "A3", "A4"], [0.35, 0.5, 0.05, 0.1], ns)],
        _pick(rng, ["S1", "R1", "R2", "R5", "Z1"], [0.4, 0.2, 0.1, 0.15, 0.15], ns))
    place_code = np.where(cat == "supported", _pick(rng, ["H5", "P2"], [0.85, 0.15], ns), place_code)
    # R5 (youth custody) only from age 10, S1 (residential school) from age 4 (903 rules 372, 373)
    place_code = np.where(((place_code == "R5") & (seg_age < 10)) | ((place_code == "S1") & (seg_age < 4)), "R1", place_code)
    provider = np.where(place_code == "R5", "PR3", provider)
    # a secure children's home is run by a council or privately, never PR3 (903 rule 529)
    provider = np.where(np.isin(place_code, ["K1"]), _pick(rng, ["PR2", "PR1"], [0.7, 0.3], ns), provider)
    place_code = _adoption_codes(rng, place_code, seg_k, rne[seg_rows])
    # location zone and postcodes
    zone = np.empty(ns, dtype=object)
    u = rng.uniform(size=ns)
    for (c, p), mixz in _ZONE_MIX.items():
        m = (cat == c) & (provider == p)
        cz = np.cumsum(mixz)
        zone[m] = _ZONES[np.minimum((u[m][:, None] > cz).sum(1), 2)]
    zone[zone == None] = "far"  # noqa: E711 - categories without a listed mix
    home_post = _home_postcodes(kids, directory, rng)
    pl_post = np.empty(ns, dtype=object)
    for z in _ZONES:
        pcs = directory.loc[directory["zone"] == z, "pcd"].to_numpy()
        m = zone == z
        pl_post[m] = pcs[rng.integers(0, len(pcs), m.sum())]
    at_home = (cat == "parents") & (zone == "inside")
    pl_post[at_home] = home_post[seg_k[at_home]]
    # Ofsted URN: a registered children's home or supported accommodation provider's; "XXXXXXX"
    # (agency not known) only for foster and adoption placements (903 rules 222, 242); else blank
    urn = np.where(np.isin(place_code, ["K1", "K2", "S1", "R3"]) | (cat == "supported"),
                   pd.Series(rng.integers(100000, 999999, ns)).map("SC{:06d}".format).to_numpy(),
                   np.where(np.char.startswith(place_code.astype(str), "U") | np.char.startswith(place_code.astype(str), "A"),
                            "XXXXXXX", ""))
    # a change of placement changes something the return records (903 rule 435): a move to the same
    # type, provider, postcode and URN is written with another postcode of the same zone
    same = np.append(False, (seg_k[1:] == seg_k[:-1]) & (place_code[1:] == place_code[:-1])
                     & (provider[1:] == provider[:-1]) & (pl_post[1:] == pl_post[:-1]) & (urn[1:] == urn[:-1]))
    # and only a child placed with parents is placed at the home postcode (903 rule 392d)
    same |= (place_code != "P1") & (pl_post == home_post[seg_k])
    for z in _ZONES:
        m = same & (zone == z)
        if m.any():
            pcs = directory.loc[directory["zone"] == z, "pcd"].to_numpy()
            pos = np.searchsorted(np.sort(pcs), pl_post[m])
            pl_post[m] = np.sort(pcs)[(pos + 1 + rng.integers(0, max(len(pcs) - 1, 1), m.sum())) % len(pcs)]
    si = seg - 1
    episodes = pd.DataFrame({
        "k": k, "decom": merged["d"].to_numpy(), "rne": rne, "ls": ls,
        "cat": cat[si], "place": place_code[si], "place_provider": provider[si], "pl_post": pl_post[si], "urn": urn[si],
    })
    # placed for adoption with the current foster carers on the day of the placement order: a change
    # of legal status and placement, carers unchanged (RNE U; 903 rule 217)
    episodes["rne"] = np.where((episodes["rne"] == "T") & episodes["place"].isin(["A3", "A5"]), "U", episodes["rne"])
    nxt_same = np.append(k[1:] == k[:-1], False)
    dec_next = np.append(merged["d"].to_numpy()[1:], np.nan)
    episodes["dec"] = np.where(nxt_same, dec_next, exit_day[k])
    episodes["rec"] = np.where(nxt_same, "X1", rec[k])
    episodes.loc[episodes["dec"].isna(), "rec"] = ""
    # special guardianship by former foster carers (E45/E46) only from a foster placement (903 rule 516);
    # otherwise the order is to other carers (E47/E48)
    sgo_other = episodes["rec"].isin(["E45", "E46"]) & ~episodes["place"].isin(["U1", "U2", "U3", "U4", "U5", "U6"])
    episodes.loc[sgo_other, "rec"] = episodes.loc[sgo_other, "rec"].map({"E45": "E47", "E46": "E48"})
    rpc = _pick(rng, REASON_PLACE_CHANGE, _RPC_P, len(episodes))
    # the reason is recorded on the episode that ends with the change of placement (903 rule 225)
    next_rne = np.append(rne[1:], "")
    episodes["reason_place_change"] = np.where(nxt_same & np.isin(next_rne, ["P", "T", "B", "U"]), rpc, "")
    need = np.where(uasc, "N8", _pick(rng, list(codes.CIN_CATEGORY_903), [0.64, 0.03, 0.03, 0.07, 0.13, 0.02, 0.005, 0.075], n))
    episodes["cin"] = need[k]
    episodes["home_post"] = home_post[k]
    episodes["child"] = kids["child"].to_numpy()[k]
    episodes = _supported_accommodation_reform(episodes)
    episodes = episodes[episodes["decom"] <= end]
    episodes = episodes[episodes["dec"].isna() | (episodes["dec"] >= ws)].reset_index(drop=True)
    # ---- missing episodes: about 1 in 8 looked-after children aged 11+ go missing, repeatedly
    teen = (np.maximum(entry, ws) - kids["dob"].to_numpy()) / 365.25 >= 11
    goer = teen & (rng.uniform(size=n) < 0.14)
    n_m = rng.poisson(3.0 * np.clip((np.minimum(stop, end) - np.maximum(entry, ws)) / 365.25, 0, None) * goer)
    mk = np.repeat(np.arange(n), n_m)
    lo = np.maximum(entry, ws)[mk]
    ms = np.floor(lo + rng.uniform(0, 1, len(mk)) * (np.minimum(stop, end)[mk] - lo))
    # a missing period ends within the period of care and the collection year it started in, and
    # by the extract date (903 rules 575, 577); periods still open at the extract date are left out
    ye = np.array([day(date(int(y), 3, 31)) for y in
                   pd.DatetimeIndex(ms.astype("int64").astype("datetime64[D]")).year + (pd.DatetimeIndex(
                       ms.astype("int64").astype("datetime64[D]")).month >= 4)]) if len(ms) else np.array([])
    # (ended before the day care ends: one still missing then leaves care with E8, 903 rule 580)
    me = np.minimum(np.minimum(ms + np.floor(rng.exponential(1.2, len(mk))), stop[mk] - 1), ye)
    kind = _pick(rng, ["M", "A"], [0.8, 0.2], len(mk))
    missing = pd.DataFrame({"child": kids["child"].to_numpy()[mk], "missing": kind, "mis_start": ms, "mis_end": me})
    missing = missing[(missing["mis_end"] <= end) & (missing["mis_end"] >= missing["mis_start"])]
    missing = missing.sort_values(["child", "mis_start", "mis_end"], kind="stable").reset_index(drop=True)
    # one at a time: a period starting before the child's previous one ended is left out (903 rule 574)
    child_code = pd.factorize(missing["child"])[0].astype(np.int64)
    base = child_code * 10**6
    prev_end = np.maximum.accumulate(base + missing["mis_end"].to_numpy()) - base
    prev_end = np.append(-np.inf, prev_end[:-1])
    first = np.append(True, child_code[1:] != child_code[:-1])
    missing = missing[first | (missing["mis_start"].to_numpy() > prev_end)]
    return {"episodes": episodes, "kids": kids, "missing": missing.reset_index(drop=True)}


#: From 28 October 2023 supported accommodation for 16-17s must be registered with Ofsted: P2
#: (independent living) is no longer valid (903 rule 217t) and H5 placements have the provider's URN.
SUPPORTED_REFORM = day(date(2023, 10, 28))


def _supported_accommodation_reform(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episodes as councils recorded the reform of 28 October 2023: a P2 or H5 episode open then
    ends that day (X1) and a new H5 episode (RNE P, the provider's URN) starts, so the placement
    type and URN never change within an episode from one year's return to the next (903 rules
    217t, 503D, 503F); P2 is written H5 from then on; H5 episodes before it have no URN."""
    place, decom, dec = episodes["place"].to_numpy(), episodes["decom"].to_numpy(), episodes["dec"].to_numpy()
    supported = np.isin(place, ["H5", "P2"])
    span = supported & (decom < SUPPORTED_REFORM) & ~(dec <= SUPPORTED_REFORM)
    new = episodes[span].copy()
    new["decom"], new["rne"], new["place"] = SUPPORTED_REFORM, "P", "H5"
    old = episodes.copy()
    old.loc[span, "dec"], old.loc[span, "rec"], old.loc[span, "reason_place_change"] = SUPPORTED_REFORM, "X1", "OTHER"
    old.loc[supported & (decom < SUPPORTED_REFORM), "urn"] = ""
    old.loc[(old["place"] == "P2") & (old["decom"] >= SUPPORTED_REFORM), "place"] = "H5"
    out = pd.concat([old, new], ignore_index=True)
    return out.sort_values(["k", "decom"], kind="stable").reset_index(drop=True)


def _adoption_codes(rng, place_code: np.ndarray, seg_k: np.ndarray, seg_rne: np.ndarray) -> np.ndarray:
    """Placement-for-adoption codes of the placement segments (``place_code`` A3-A6 as drawn) made
    consistent with the placement before and the episode's reason: every demo child placed for
    adoption has a placement order (E1), so A5 or A6 (903 rule 408); A5 (with the current foster
    carers) only from a foster placement (U1-U6) on the day of the placement order (rules 217, 336);
    otherwise A6 (other adopters)."""
    place_code = np.asarray(place_code, dtype=object).copy()
    adopt = np.isin(place_code, ["A3", "A4", "A5", "A6"])
    prev = np.append("", place_code[:-1]).astype(object)
    prev_foster = np.append(False, seg_k[1:] == seg_k[:-1]) & np.isin(prev, ["U1", "U2", "U3", "U4", "U5", "U6"])
    with_carers = prev_foster & np.isin(seg_rne, ["T", "U"])
    place_code[adopt] = np.where(with_carers, "A5", "A6")[adopt]
    return place_code


def _home_postcodes(kids: pd.DataFrame, directory: pd.DataFrame, rng) -> np.ndarray:
    inside = directory[directory["zone"] == "inside"]
    by = inside.groupby("lsoa_idx").indices
    pcs = inside["pcd"].to_numpy()
    li = kids["lsoa_idx"].to_numpy()
    starts = np.array([by[i][0] for i in range(int(inside["lsoa_idx"].max()) + 1)])
    counts = np.array([len(by[i]) for i in range(int(inside["lsoa_idx"].max()) + 1)])
    return pcs[starts[li] + rng.integers(0, 1 << 30, len(li)) % counts[li]]


def write_903(folder: Path, cla: dict, years: list[int], as_at: date, rng: np.random.Generator, rate: dict) -> dict:
    """Write ``ssda903/<year>/*.csv`` (every table of the year's specification: header, episodes,
    UASC, missing and, via ``ssda903_tables``, the others) and inject 903 faults.

    Returns fault counts: ``{"totals": {...}, "ssda903/<year>/episodes.csv": {...}}``.
    """
    end = day(as_at)
    ep = cla["episodes"].copy()
    bounds = {y: (day(date(y - 1, 4, 1)), min(day(date(y, 3, 31)), end)) for y in years}
    member = {y: ((ep["decom"] <= e) & (ep["dec"].isna() | (ep["dec"] >= s))).to_numpy() for y, (s, e) in bounds.items()}
    n_files = np.sum(np.vstack(list(member.values())), axis=0)
    year_of = np.full(len(ep), 0)
    for y in years:
        year_of[member[y] & (n_files == 1)] = y
    single = n_files == 1
    # overlapping: a non-final episode whose successor is in the same single file
    nxt_single = np.append(single[1:], False) & np.append(ep["child"].to_numpy()[1:] == ep["child"].to_numpy()[:-1], False)
    same_year = np.append(year_of[1:] == year_of[:-1], False)
    ye = np.array([bounds[y][1] if y else -np.inf for y in year_of])
    can_overlap = single & nxt_single & same_year & (ep["rec"].to_numpy() == "X1") & (ep["dec"].to_numpy() + 20 <= ye)
    f_overlap = pick_faults(rng, can_overlap, rate["overlapping_episode"])
    taken = f_overlap | np.append(False, f_overlap[:-1])
    f_place = pick_faults(rng, single & ~taken, rate["unknown_place"])
    f_prov = pick_faults(rng, single & ~taken & ~f_place, rate["unknown_provider"])
    closed = ep["dec"].notna().to_numpy() & (ep["rec"].to_numpy() != "X1")
    last_single = single & closed & ~taken & ~f_place & ~f_prov & ~np.append(False, taken[:-1])
    f_dec = pick_faults(rng, last_single, rate["dec_before_decom"])
    ep.loc[f_overlap, "dec"] = ep.loc[f_overlap, "dec"] + np.floor(rng.uniform(3, 20, f_overlap.sum()))
    ep.loc[f_dec, "dec"] = ep.loc[f_dec, "decom"] - np.floor(rng.uniform(1, 30, f_dec.sum()))
    ep["place_written"] = ep["place"]
    ep.loc[f_place, "place_written"] = "Z9"
    ep.loc[f_prov, "place_provider"] = "PR9"
    totals = {"overlapping_episode": int(f_overlap.sum()), "unknown_place": int(f_place.sum()),
              "unknown_provider": int(f_prov.sum()), "dec_before_decom": int(f_dec.sum())}
    out = {"totals": totals}
    kids = cla["kids"].set_index("child")
    missing = cla["missing"]
    tables_seed = int(rng.integers(1 << 31))
    for y in years:
        s, e = bounds[y]
        d = folder / str(y)
        d.mkdir(parents=True, exist_ok=True)
        m = member[y]
        rows = ep[m]
        place = rows["place_written"].to_numpy(dtype=object).copy()
        decom_rows = rows["decom"].to_numpy()
        if y >= 2025:
            place = np.where(np.isin(place, ["H5", "P2"]), "K3", place)
        if y >= 2026:
            # Z1 was split into Z11-Z14 in 2025-26; their meanings are not confirmed here, so the
            # demo writes every "other placement" as Z14 (the last of the four)
            place = np.where(place == "Z1", "Z14", place)
        dec_shown = np.where(rows["dec"].to_numpy() <= e, rows["dec"].to_numpy(), np.nan)
        provider_out = rows["place_provider"].to_numpy(dtype=object).copy()
        # no provider for the other placements Z1 / Z11-Z14 (903 rules 178, 213)
        provider_out = np.where(np.char.startswith(place.astype(str), "Z1"), "", provider_out)
        urn_out = rows["urn"].to_numpy(dtype=object).copy()
        # no URN for semi-independent (H5, to 2022-23) or independent living (P2) (903 rule 222)
        no_urn = ["H5", "P2"] if y <= 2023 else ["P2"]
        urn_out = np.where(np.isin(place, no_urn), "", urn_out)
        episodes = pd.DataFrame({
            "CHILD": rows["child"].to_numpy(), "DECOM": dmy(rows["decom"].to_numpy()), "RNE": rows["rne"].to_numpy(),
            "LS": rows["ls"].to_numpy(), "CIN": rows["cin"].to_numpy(), "PLACE": place,
            "PLACE_PROVIDER": provider_out, "DEC": dmy(dec_shown),
            "REC": np.where(np.isnan(dec_shown), "", rows["rec"].to_numpy()),
            "REASON_PLACE_CHANGE": rows["reason_place_change"].to_numpy(), "HOME_POST": rows["home_post"].to_numpy(),
            "PL_POST": rows["pl_post"].to_numpy(), "URN": urn_out})
        episodes.to_csv(d / "episodes.csv", index=False, lineterminator="\n")
        out[f"ssda903/{y}/episodes.csv"] = {
            "rows": int(len(rows)), "overlapping_episode": int(f_overlap[m].sum()), "unknown_place": int(f_place[m].sum()),
            "unknown_provider": int(f_prov[m].sum()), "dec_before_decom": int(f_dec[m].sum())}
        leavers = write_other_tables(d, y, ep, kids, s, e, tables_seed)
        looked_after = pd.unique(rows["child"])
        # the header lists the children looked after in the year and the OC3 care leavers
        ids = np.concatenate([looked_after, leavers[~np.isin(leavers, looked_after)]])
        kk = kids.loc[ids]
        dob = kk["dob"].to_numpy()
        # every girl looked after (903 rule 393); not for care leavers not looked after in the year
        mother = np.where((kk["sex"].to_numpy() == "2") & np.isin(ids, looked_after), "0", "")
        sex_out = _sex_in_year_form(kk["sex"].to_numpy(), y)
        header = pd.DataFrame({"CHILD": ids, "SEX": sex_out, "DOB": dmy(dob), "ETHNIC": kk["ethnicity"].to_numpy(),
                               "UPN": _upn_in_year(kk, y), "MOTHER": mother, "MC_DOB": ""})
        header.to_csv(d / "header.csv", index=False, lineterminator="\n")
        # UASC status of the children looked after in the year, unless it ceased before the year (rule 104)
        ku = kk[kk["uasc"].to_numpy() & np.isin(ids, looked_after) & ~(kk["duc"].to_numpy() < s)]
        pd.DataFrame({"CHILD": ku.index.to_numpy(), "SEX": _sex_in_year_form(ku["sex"].to_numpy(), y), "DOB": dmy(ku["dob"].to_numpy()),
                      "DUC": dmy(ku["duc"].to_numpy())}).to_csv(d / "uasc.csv", index=False, lineterminator="\n")
        mm = missing[(missing["mis_start"] >= s) & (missing["mis_start"] <= e)]
        pd.DataFrame({"CHILD": mm["child"].to_numpy(), "DOB": dmy(kids.loc[mm["child"].to_numpy(), "dob"].to_numpy()),
                      "MISSING": mm["missing"].to_numpy(),
                      "MIS_START": dmy(mm["mis_start"].to_numpy()),
                      "MIS_END": dmy(np.where(mm["mis_end"].to_numpy() <= e, mm["mis_end"].to_numpy(), np.nan))}).to_csv(
            d / "missing.csv", index=False, lineterminator="\n")
    return out


def _sex_in_year_form(sex: np.ndarray, year: int) -> np.ndarray:
    """SEX codes (1/2) as the year's specification has them: 1/2 to 2023-24, M/F from 2024-25."""
    if year < specs.SEX_MFU_FROM:
        return sex
    return np.array([specs.SEX_TO_ANALYSIS.get(v, v) for v in sex], dtype=object)


def _upn_in_year(kk: pd.DataFrame, year: int) -> np.ndarray:
    """UPN as written in ``year``'s header: UN1 (not yet of school age) only for a child under
    school age on 31 August before the collection year began (903 rule 209); older children
    without a UPN from the CIN records get one."""
    ref = day(date(year - 2, 8, 31))
    school_age = birthday(kk["dob"].to_numpy(), 4) <= ref
    u = kk["upn"].to_numpy(dtype=object)
    return np.where((u == "UN1") & school_age, kk["school_upn"].to_numpy(dtype=object), u)
