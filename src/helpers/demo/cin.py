"""Synthetic children in need: children, referrals (CIN episodes) and the CIN census XML.

Model (all vectorised per "generation" of referrals, no per-child loops):

* **First referrals** arrive per LSOA and month as Poisson counts proportional to the
  child population x the LSOA's deprivation ``demand`` index x a gentle upward trend.
* **Outcome** of each referral: NFA (about 6%, more for police referrals), else an
  assessment; then section 47 (about 22% of referrals; half go to an initial child
  protection conference, most of those to a CP plan, about 10% of referrals), a CIN plan,
  or closure after assessment (RC8 no further action / RC9 early help).
* **Re-referral**: after closure, the child is referred again with a probability from a
  logistic model of deprivation, age and the previous outcome (NFA > assessed not in need
  > CP plan > CIN plan); in the most deprived areas (IDACI decile 1-2) the propensity
  rises year on year (a real rise to find). The gap after closure is short (exponential,
  mean 100 days) or long (1-4 years).
* **Front-door artefact**: from 1 April 2024 (a new front-door system) some referrals are
  preceded 1-5 days earlier by a duplicate referral of the same child, closed at once;
  this inflates the recorded re-referral rate without any change in need.

Dates are held as float day numbers (days since 1970-01-01, NaN = none) until written.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from helpers import codes
from helpers.readers import specs

EPOCH = np.datetime64("1970-01-01", "D")
FRONT_DOOR_CHANGE = date(2024, 4, 1)
#: Share of referrals from FRONT_DOOR_CHANGE preceded by a duplicate referral 1-5 days earlier.
FRONT_DOOR_DUPLICATE_RATE = 0.035
#: Share of re-referrals (after an episode open 60+ days) made while that episode is still open.
WHILE_OPEN_SHARE = 0.12

#: Referral source shares (England-like: police ~30%, schools ~20%, health ~15%).
REFERRAL_SOURCE_SHARES = {
    "6": 0.29, "2A": 0.18, "2B": 0.02, "3A": 0.025, "3B": 0.03, "3C": 0.01, "3D": 0.02, "3E": 0.035,
    "3F": 0.03, "1A": 0.05, "1B": 0.01, "1C": 0.01, "1D": 0.01, "5A": 0.02, "5B": 0.03, "5C": 0.03,
    "5D": 0.05, "4": 0.02, "7": 0.02, "8": 0.04, "9": 0.01, "10": 0.05,
}
#: Primary need at assessment (N1 abuse or neglect ~55%).
PRIMARY_NEED_SHARES = {
    "N1": 0.56, "N2": 0.04, "N3": 0.03, "N4": 0.10, "N5": 0.15, "N6": 0.025, "N7": 0.005,
    "N8": 0.02, "N9": 0.04, "N0": 0.03,
}
ETHNICITY_SHARES = {
    "WBRI": 0.62, "WIRI": 0.005, "WIRT": 0.005, "WOTH": 0.06, "WROM": 0.01, "MWBC": 0.03, "MWBA": 0.01,
    "MWAS": 0.015, "MOTH": 0.03, "AIND": 0.015, "APKN": 0.03, "ABAN": 0.01, "AOTH": 0.015, "BCRB": 0.015,
    "BAFR": 0.03, "BOTH": 0.01, "CHNE": 0.003, "OOTH": 0.025, "REFU": 0.005, "NOBT": 0.032,
}
#: Age (completed years) at a child's first referral: peaks in infancy and the early teens.
FIRST_REFERRAL_AGE_WEIGHTS = np.array([13, 6, 6, 6, 6, 6, 6, 5.5, 5.5, 5.5, 6, 6.5, 7, 7.5, 7.5, 7, 5, 3], float)
CATEGORY_OF_ABUSE_SHARES = {"NEG": 0.50, "EMO": 0.36, "PHY": 0.07, "SAB": 0.04, "MUL": 0.03}
#: Assessment factor codes the generator draws from (a subset of codes.ASSESSMENT_FACTORS,
#: same order as FACTOR_WEIGHTS).
ASSESSMENT_FACTORS = ("1B", "1C", "2B", "2C", "3A", "3B", "3C", "4A", "4B", "4C", "5B", "5C", "6C", "7A",
                      "8B", "9A", "10A", "11A", "14A", "15A", "16A", "17A", "18B", "19B", "21", "22A", "23A", "24A")
FACTOR_WEIGHTS = np.array([2, 6, 2, 6, 8, 9, 14, 5, 5, 16, 1, 4, 2, 1, 2, 1, 3, 2, 3, 3, 8, 7, 1, 2, 5, 0.5, 2, 2], float)


def _choice(rng, shares: dict, n: int, p_override=None) -> np.ndarray:
    keys = np.array(list(shares))
    p = np.array(list(shares.values()), float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def day(d) -> float:
    """Day number (days since 1970-01-01) of a date."""
    return float((np.datetime64(d, "D") - EPOCH).astype(int))


def simulate_cin(geo, rng: np.random.Generator, sim_start: date, as_at: date, scale: float,
                 referrals_per_month: float = 400.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate children and their referrals from ``sim_start`` to ``as_at``.

    Inputs: a geography (``geo.lsoa`` with ``demand``, ``idaci_decile``, ``age_*``), a numpy
    Generator, the simulation start (a burn-in before the first collection year), ``as_at``,
    the population ``scale`` and the target referrals a month at scale 1.
    Outputs: ``children`` (one row per child: ``child_idx, dob, sex, ethnicity,
    disabilities, lsoa_idx, move_day, new_lsoa_idx``) and ``referrals`` (one row per
    referral with day-number columns; see :func:`_outcomes`). Events after ``as_at`` are
    cut off (an episode still open at ``as_at`` has no closure).
    """
    lsoa = geo.lsoa
    n_lsoa = len(lsoa)
    children_pop = lsoa[[f"age_{a}" for a in range(18)]].to_numpy().sum(1).astype(float)
    demand = lsoa["demand"].to_numpy()
    deprived = (lsoa["idaci_decile"].to_numpy() <= 2)
    start, end = day(sim_start), day(as_at)
    months = pd.date_range(pd.Timestamp(sim_start), pd.Timestamp(as_at), freq="MS")
    m_start = np.array([day(m.date()) for m in months])
    m_len = np.diff(np.append(m_start, end + 1))
    # first referrals: about 60% of all referrals are a child's first in the period
    weight = children_pop * demand
    base = 0.60 * referrals_per_month * scale / weight.sum()
    years_in = (m_start - day(date(2021, 4, 1))) / 365.25
    trend = np.clip(1 + 0.015 * years_in, 0.8, None)  # referrals rising gently
    lam = base * weight[:, None] * trend[None, :] * (m_len[None, :] / 30.4)
    counts = rng.poisson(lam)  # (lsoa, month)
    lsoa_idx = np.repeat(np.tile(np.arange(n_lsoa), len(months)), counts.T.ravel())
    month_idx = np.repeat(np.repeat(np.arange(len(months)), n_lsoa), counts.T.ravel())
    ref_day = m_start[month_idx] + np.floor(rng.uniform(0, 1, len(lsoa_idx)) * m_len[month_idx])
    n_child = len(lsoa_idx)
    order = np.argsort(ref_day, kind="stable")
    lsoa_idx, ref_day = lsoa_idx[order], ref_day[order]

    # children
    w = FIRST_REFERRAL_AGE_WEIGHTS / FIRST_REFERRAL_AGE_WEIGHTS.sum()
    age_years = rng.choice(18, size=n_child, p=w)
    dob = ref_day - np.floor(age_years * 365.25 + rng.uniform(0, 365, n_child)) - 1
    sex = np.where(rng.uniform(size=n_child) < 0.515, "1", "2")
    sex[rng.uniform(size=n_child) < 0.002] = "9"
    ethnicity = _choice(rng, ETHNICITY_SHARES, n_child)
    disabled = rng.uniform(size=n_child) < 0.085
    dis_codes = np.array([c for c in codes.DISABILITY_CODES if c != "NONE"])
    d1 = dis_codes[rng.integers(0, len(dis_codes), n_child)]
    d2 = dis_codes[rng.integers(0, len(dis_codes), n_child)]
    two = rng.uniform(size=n_child) < 0.3
    disabilities = np.where(~disabled, "NONE", np.where(two & (d1 != d2), np.char.add(np.char.add(d1.astype(str), ";"), d2.astype(str)), d1))
    # about 15% of children move once during the period; most within their ward
    moves = rng.uniform(size=n_child) < 0.15
    move_day = np.where(moves, ref_day + np.floor(rng.uniform(30, 1500, n_child)), np.nan)
    move_day[move_day > end] = np.nan
    ward_codes = lsoa["WD21CD"].to_numpy()
    same_ward = rng.uniform(size=n_child) < 0.6
    rand_lsoa = rng.choice(n_lsoa, size=n_child, p=weight / weight.sum())
    # a random other LSOA in the same ward: pick from the ward's LSOAs
    ward_id, ward_lsoas = pd.factorize(ward_codes)
    by_ward = pd.Series(np.arange(n_lsoa)).groupby(ward_id).apply(np.array).to_dict()
    ward_size = np.array([len(by_ward[k]) for k in range(len(ward_lsoas))])
    ward_start = np.concatenate([[0], np.cumsum(ward_size)[:-1]])
    flat = np.concatenate([by_ward[k] for k in range(len(ward_lsoas))])
    cw = ward_id[lsoa_idx]
    same_pick = flat[ward_start[cw] + rng.integers(0, 1 << 30, n_child) % ward_size[cw]]
    new_lsoa = np.where(same_ward, same_pick, rand_lsoa)
    children = pd.DataFrame({"child_idx": np.arange(n_child), "dob": dob, "sex": sex, "ethnicity": ethnicity,
                             "disabilities": disabilities, "lsoa_idx": lsoa_idx,
                             "move_day": np.where(np.isnan(move_day) | (new_lsoa == lsoa_idx), np.nan, move_day),
                             "new_lsoa_idx": new_lsoa, "first_referral_day": ref_day})

    # referral chains, one generation at a time
    gens, extra = [], []
    cur_child = np.arange(n_child)
    cur_day = ref_day
    prev_nfa_count = np.zeros(n_child)
    g = 0
    while len(cur_child) and g < 40:
        age = (cur_day - dob[cur_child]) / 365.25
        cur_lsoa = np.where(np.isnan(children["move_day"].to_numpy()[cur_child]) | (cur_day < children["move_day"].to_numpy()[cur_child]),
                            lsoa_idx[cur_child], new_lsoa[cur_child])
        out = _outcomes(rng, cur_day, age, g)
        out["child_idx"] = cur_child
        out["lsoa_idx"] = cur_lsoa
        out["generation"] = g
        gens.append(out)
        # re-referral propensity
        last = np.where(np.isnan(out["closure_day"]), np.inf, out["closure_day"])
        outcome_effect = np.select(
            [out["nfa"], out["reason"].isin(["RC8", "RC9"]), out["cpp_start"].notna(), out["cin_plan_start"].notna()],
            [0.55, 0.35, 0.15, 0.0], 0.0)
        yrs = np.clip((cur_day - day(date(2021, 4, 1))) / 365.25, 0, None)
        dep = deprived[cur_lsoa]
        logit = (-0.95 + 0.45 * np.log(demand[cur_lsoa]) + outcome_effect
                 + np.select([age < 1, (age >= 10) & (age < 16), age >= 16], [0.15, 0.2, -0.6], 0.0)
                 + np.where(dep, 0.12 * yrs, 0.0) + 0.15 * np.minimum(g, 3))
        p = 1 / (1 + np.exp(-logit))
        again = rng.uniform(size=len(p)) < p
        short = rng.uniform(size=len(p)) < 0.62
        gap = np.where(short, 1 + np.floor(rng.exponential(100, len(p))), np.floor(rng.uniform(365, 1460, len(p))))
        nxt = last + gap
        # Some new concerns arrive while a long episode (CIN or CP plan) is still open. The
        # council's case-management system records them as referrals, but the CIN census may
        # not hold overlapping episodes (CIN rules 8820, 4014, 8815...), so they are kept apart
        # (``while_open``) and written only to the flat referrals extract: what "excluding
        # referrals made while open" measures.
        open_for = np.where(np.isfinite(last), last - cur_day, 0.0)
        during = (open_for > 60) & (rng.uniform(size=len(p)) < WHILE_OPEN_SHARE)
        w_day = cur_day + 30 + np.floor(rng.uniform(size=len(p)) * (open_for - 30))
        during &= (w_day <= end) & ((w_day - dob[cur_child]) < 17.9 * 365.25)
        if during.any():
            extra.append(_while_open_rows(rng, out[during], w_day[during]))
        ok = again & np.isfinite(nxt) & (nxt <= end) & ((nxt - dob[cur_child]) < 17.9 * 365.25)
        cur_child, cur_day = cur_child[ok], nxt[ok]
        g += 1
    referrals = pd.concat(gens, ignore_index=True)
    referrals["while_open"] = False

    # front-door artefact: duplicate referrals 1-5 days before a real one, from April 2024,
    # never inside the child's previous episode (the census forbids overlaps)
    referrals = referrals.sort_values(["child_idx", "referral_day"], kind="stable").reset_index(drop=True)
    same_child = np.append(False, referrals["child_idx"].to_numpy()[1:] == referrals["child_idx"].to_numpy()[:-1])
    prev_close = np.where(same_child, np.append(np.nan, referrals["closure_day"].to_numpy()[:-1]), -np.inf)
    prev_close = np.where(np.isnan(prev_close), np.inf, prev_close)
    after = referrals["referral_day"].to_numpy() >= day(FRONT_DOOR_CHANGE) + 5
    dup = after & (rng.uniform(size=len(referrals)) < FRONT_DOOR_DUPLICATE_RATE)
    k_all = rng.integers(1, 6, len(referrals))
    dup &= referrals["referral_day"].to_numpy() - k_all > prev_close
    # ... and never before the child's birth (CIN rule 8520: the census has no unborn children here)
    dup &= referrals["referral_day"].to_numpy() - k_all > dob[referrals["child_idx"].to_numpy()]
    src = referrals[dup]
    k = k_all[dup]
    dups = _blank_like(src)
    dups["referral_day"] = src["referral_day"].to_numpy() - k
    dups["source"] = src["source"].to_numpy()
    nfa = rng.uniform(size=len(src)) < 0.4
    dups["nfa"] = nfa
    dups["closure_day"] = dups["referral_day"] + np.where(nfa, 0, np.minimum(rng.integers(0, 3, len(src)), k - 1))
    dups["reason"] = np.where(nfa, "RC8", "RC7")
    dups["need"] = np.where(nfa, "N0", src["need"].to_numpy())
    dups["child_idx"] = src["child_idx"].to_numpy()
    dups["lsoa_idx"] = src["lsoa_idx"].to_numpy()
    dups["generation"] = -1
    dups["front_door_duplicate"] = True
    referrals["front_door_duplicate"] = False
    referrals = pd.concat([referrals, dups] + extra, ignore_index=True)
    referrals["while_open"] = referrals["while_open"].fillna(False).astype(bool)
    # drop duplicate (child, day) keys the artefact could create with a real referral
    referrals = referrals.sort_values(["child_idx", "referral_day", "generation"], kind="stable")
    referrals = referrals.drop_duplicates(["child_idx", "referral_day"], keep="last").reset_index(drop=True)
    referrals = referrals[referrals["referral_day"] >= start].reset_index(drop=True)
    _cut_at(referrals, end)
    # number of previous CP plans of the child (at the start of each plan)
    has_cp = referrals["cpp_start"].notna().astype(int)
    referrals["n_previous_cpp"] = has_cp.groupby(referrals["child_idx"]).cumsum() - has_cp
    return children, referrals


def _while_open_rows(rng, episodes: pd.DataFrame, ref_day: np.ndarray) -> pd.DataFrame:
    """Referrals received while ``episodes`` are still open, on ``ref_day``: as a council's
    case-management system holds them, linked to the open case (no modules of their own; they
    close with it, with its reason). Flagged ``while_open``; never written to the CIN census."""
    rows = _blank_like(episodes)
    rows["referral_day"] = ref_day
    rows["source"] = _choice(rng, REFERRAL_SOURCE_SHARES, len(episodes))
    rows["need"] = episodes["need"].to_numpy()
    rows["closure_day"] = episodes["closure_day"].to_numpy()
    rows["reason"] = episodes["reason"].to_numpy()
    for c in ("child_idx", "lsoa_idx", "generation"):
        rows[c] = episodes[c].to_numpy()
    rows["front_door_duplicate"] = False
    rows["while_open"] = True
    return rows


def _blank_like(src: pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame(index=range(len(src)))
    for c in src.columns:
        if src[c].dtype == float:
            df[c] = np.nan
        elif src[c].dtype == bool:
            df[c] = False
        else:
            df[c] = ""
    return df


def _outcomes(rng, ref_day: np.ndarray, age: np.ndarray, generation: int) -> pd.DataFrame:
    """Outcome and dates of each referral (see module docstring for the model)."""
    n = len(ref_day)
    u = lambda: rng.uniform(size=n)  # noqa: E731
    source = _choice(rng, REFERRAL_SOURCE_SHARES, n)
    need = _choice(rng, PRIMARY_NEED_SHARES, n)
    nfa = u() < np.where(source == "6", 0.075, 0.048)
    nan = np.full(n, np.nan)
    assess_start = np.where(nfa, nan, ref_day + np.floor(rng.exponential(3, n)))
    auth = assess_start + np.floor(np.where(u() < 0.85, rng.uniform(8, 45, n), rng.uniform(45, 90, n)))
    n_factors = rng.integers(1, 5, n)
    fw = FACTOR_WEIGHTS / FACTOR_WEIGHTS.sum()
    fidx = rng.choice(len(ASSESSMENT_FACTORS), size=(n, 4), p=fw)
    factors_arr = np.array(ASSESSMENT_FACTORS)[fidx]
    p_s47 = np.where(need == "N1", 0.29, 0.12) * np.where(source == "6", 1.15, 1.0)
    s47 = ~nfa & (u() < p_s47)
    s47_start = np.where(s47, ref_day + np.floor(rng.exponential(2, n)), nan)
    icpc = s47 & (u() < 0.5)
    icpc_target = np.where(s47, s47_start + 21, nan)
    icpc_day = np.where(icpc, s47_start + np.floor(rng.uniform(8, 30, n)), nan)
    icpc_day = _weekday(icpc_day)                       # conferences are held on weekdays (CIN rule 8875)
    cpp = icpc & (u() < 0.88)
    cpp_start = np.where(cpp, icpc_day, nan)
    cpp_end = cpp_start + np.floor(rng.lognormal(np.log(270), 0.5, n))
    step_down = cpp & (u() < 0.5)
    r = u()
    cin_plan = ~nfa & ~cpp & (r < 0.38)
    not_in_need = ~nfa & ~cpp & ~cin_plan
    cin_start = np.where(cin_plan, auth + np.floor(rng.uniform(0, 14, n)), np.where(step_down, cpp_end, nan))
    cin_end = cin_start + np.floor(rng.lognormal(np.log(180), 0.55, n))
    closure = np.select([nfa, not_in_need, cin_plan | step_down, cpp], [ref_day, auth, cin_end, cpp_end], nan)
    # a section 47 whose conference is planned closes only after the conference (CIN rule 8868)
    closure = np.where(icpc & ~cpp, np.fmax(closure, icpc_day), closure)
    later = rng.choice(np.array(["RC7", "RC5", "RC3", "RC4", "RC6"]), size=n, p=[0.9, 0.04, 0.025, 0.02, 0.015])
    later = np.where((later == "RC6") & (age < 17), "RC7", later)
    reason = np.where(nfa, "RC8", np.where(not_in_need, np.where(u() < 0.55, "RC8", "RC9"), later))
    # RC8/RC9 mean "closed after assessment": no section 47 activity (CIN rule 2990)
    reason = np.where(np.isin(reason, ["RC8", "RC9"]) & s47, "RC7", reason)
    need = np.where(nfa & (u() < 0.7), "N0", need)
    cat = _choice(rng, CATEGORY_OF_ABUSE_SHARES, n)
    cat_latest = np.where(u() < 0.9, cat, _choice(rng, CATEGORY_OF_ABUSE_SHARES, n))
    return pd.DataFrame({
        "referral_day": ref_day, "source": source, "need": need, "nfa": nfa,
        "closure_day": closure, "reason": reason,
        "assess_start": assess_start, "assess_auth": auth,
        "factors": np.where(nfa, "", pd.Series([_factor_list(f[:k]) for f, k in zip(factors_arr.tolist(), n_factors)], dtype=object).to_numpy()) if n else np.array([], dtype=object),
        "cin_plan_start": cin_start, "cin_plan_end": cin_end,
        "s47_start": s47_start, "icpc_target": icpc_target, "icpc_day": icpc_day,
        "cpp_start": cpp_start, "cpp_end": cpp_end, "cat_initial": np.where(cpp, cat, ""), "cat_latest": np.where(cpp, cat_latest, ""),
    })


def _weekday(days: np.ndarray) -> np.ndarray:
    """Move Saturdays and Sundays to the next Monday (day 0 = Thursday 1 January 1970)."""
    wd = (np.nan_to_num(days) + 3) % 7                  # Monday = 0
    return np.where(np.isnan(days), np.nan, days + np.select([wd == 5, wd == 6], [2, 1], 0))


def _factor_list(factors: list[str]) -> str:
    """Assessment factors as written: each once, and 21 ("no factors identified") only alone
    (CIN rules 8898 and 8890-series)."""
    out = list(dict.fromkeys(factors))
    if len(out) > 1 and "21" in out:
        out.remove("21")
    return ";".join(out)


_DATE_COLS = ("closure_day", "assess_start", "assess_auth", "cin_plan_start", "cin_plan_end", "s47_start",
              "icpc_target", "icpc_day", "cpp_start", "cpp_end")


def _cut_at(ref: pd.DataFrame, end: float) -> None:
    """Blank every event after ``end`` (not yet happened at the as-at date)."""
    for c in _DATE_COLS:
        if c == "icpc_target":
            continue
        v = ref[c].to_numpy()
        ref[c] = np.where(v > end, np.nan, v)
    ref.loc[ref["closure_day"].isna(), "reason"] = ""
    ref.loc[ref["assess_start"].isna(), "factors"] = ""
    ref.loc[ref["assess_start"].isna(), "assess_auth"] = np.nan
    ref.loc[ref["s47_start"].isna(), "icpc_target"] = np.nan
    ref.loc[ref["cpp_start"].isna(), ["cat_initial", "cat_latest"]] = ""


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------

def iso(days: np.ndarray) -> np.ndarray:
    """Day numbers to ``YYYY-MM-DD`` strings (object array; ``""`` for NaN)."""
    days = np.asarray(days, float)
    bad = np.isnan(days)
    s = np.datetime_as_string(np.where(bad, 0, days).astype("int64").astype("datetime64[D]")).astype(object)
    s[bad] = ""
    return s


def dmy(days: np.ndarray) -> np.ndarray:
    """Day numbers to ``dd/mm/yyyy`` strings (``""`` for NaN)."""
    s = pd.Series(iso(days))
    out = (s.str[8:10] + "/" + s.str[5:7] + "/" + s.str[0:4]).to_numpy(dtype=object)
    out[s.to_numpy() == ""] = ""
    return out


def _tag(name: str, values: np.ndarray, show: np.ndarray | None = None) -> np.ndarray:
    values = np.asarray(values, dtype=object)
    s = ("<" + name + ">") + values + ("</" + name + ">")
    if show is None:
        show = values != ""
    return np.where(show & (values != ""), s, "").astype(object)


def child_xml_openings(children: pd.DataFrame) -> np.ndarray:
    """``<Child>`` opening (identifiers and characteristics) per child, as text."""
    upn = children["upn"].to_numpy(dtype=object)
    upn_xml = np.where(upn != "", "<UPN>" + upn + "</UPN>", "<UPNunknown>" + children["upn_unknown"].to_numpy(dtype=object) + "</UPNunknown>")
    dis = children["disabilities"].astype(str).str.split(";")
    dis_xml = dis.map(lambda ds: "".join(f"<Disability>{d}</Disability>" for d in ds)).to_numpy(dtype=object)
    return ("<Child><ChildIdentifiers><LAchildID>" + children["la_child_id"].to_numpy(dtype=object) + "</LAchildID>"
            + upn_xml + "<PersonBirthDate>" + iso(children["dob"].to_numpy()) + "</PersonBirthDate>"
            + "<GenderCurrent>" + children["sex"].to_numpy(dtype=object) + "</GenderCurrent></ChildIdentifiers>"
            + "<ChildCharacteristics><Ethnicity>" + children["ethnicity"].to_numpy(dtype=object) + "</Ethnicity>"
            + "<Disabilities>" + dis_xml + "</Disabilities></ChildCharacteristics>")


def cin_details_xml(ref: pd.DataFrame, cutoff: float, year_start: float = -np.inf) -> np.ndarray:
    """``<CINdetails>`` text per referral, showing only what was known at ``cutoff``.

    Modules that ended before the census year (``year_start``) are left out, as the census
    asks (CIN rules 8696, 8715, 8930, 4013): an assessment authorised, a section 47 whose ICPC
    was held (or, without an ICPC, that started), a CIN or CP plan that ended before it.
    """
    def known(col):
        v = ref[col].to_numpy(float)
        return np.where(v <= cutoff, v, np.nan)

    closure = known("closure_day")
    closure = np.where(ref["drop_closure_date"].to_numpy(), np.nan, closure)
    closed = ~np.isnan(known("closure_day"))
    reason = np.where(closed, ref["reason"].to_numpy(dtype=object), "")
    a_start = known("assess_start")
    a_auth = known("assess_auth")
    factors = ref["factors"].to_numpy(dtype=object)
    fac_xml = np.where((factors != "") & ~np.isnan(a_auth),
                       "<FactorsIdentifiedAtAssessment>" + pd.Series(factors).str.split(";").map(
                           lambda fs: "".join(f"<AssessmentFactors>{f}</AssessmentFactors>" for f in fs)).to_numpy(dtype=object)
                       + "</FactorsIdentifiedAtAssessment>", "")
    a_start = np.where(a_auth < year_start, np.nan, a_start)
    assess = np.where(~np.isnan(a_start), "<Assessments><AssessmentActualStartDate>" + iso(a_start) + "</AssessmentActualStartDate>"
                      + _tag("AssessmentAuthorisationDate", iso(a_auth)) + fac_xml + "</Assessments>", "")
    c_start, c_end = known("cin_plan_start"), known("cin_plan_end")
    c_start = np.where(c_end < year_start, np.nan, c_start)
    cinp = np.where(~np.isnan(c_start), "<CINPlanDates><CINPlanStartDate>" + iso(c_start) + "</CINPlanStartDate>"
                    + _tag("CINPlanEndDate", iso(c_end)) + "</CINPlanDates>", "")
    s_start, icpc = known("s47_start"), known("icpc_day")
    s_start = np.where((icpc < year_start) | (np.isnan(icpc) & (s_start < year_start)), np.nan, s_start)
    icpc = np.where(np.isnan(s_start), np.nan, icpc)
    target = np.where(np.isnan(s_start), np.nan, ref["icpc_target"].to_numpy(float))
    icpc_planned = ~np.isnan(ref["icpc_day"].to_numpy(float))
    s47 = np.where(~np.isnan(s_start), "<Section47><S47ActualStartDate>" + iso(s_start) + "</S47ActualStartDate>"
                   + _tag("InitialCPCtarget", iso(target)) + _tag("DateOfInitialCPC", iso(icpc))
                   + "<ICPCnotRequired>" + np.where(icpc_planned, "0", "1").astype(object) + "</ICPCnotRequired></Section47>", "")
    p_start, p_end = known("cpp_start"), known("cpp_end")
    p_start = np.where(p_end < year_start, np.nan, p_start)
    n_prev = ref["n_previous_cpp"].to_numpy().astype(int)
    cpp = np.where(~np.isnan(p_start), "<ChildProtectionPlans><CPPstartDate>" + iso(p_start) + "</CPPstartDate>"
                   + _tag("CPPendDate", iso(p_end)) + "<InitialCategoryOfAbuse>" + ref["cat_initial"].to_numpy(dtype=object)
                   + "</InitialCategoryOfAbuse><LatestCategoryOfAbuse>" + ref["cat_latest"].to_numpy(dtype=object)
                   + "</LatestCategoryOfAbuse><NumberOfPreviousCPP>" + (n_prev + 1).astype(str).astype(object)
                   + "</NumberOfPreviousCPP></ChildProtectionPlans>", "")
    need = ref["need"].to_numpy(dtype=object)
    return ("<CINdetails><CINreferralDate>" + iso(ref["referral_day"].to_numpy()) + "</CINreferralDate>"
            + "<ReferralSource>" + ref["source"].to_numpy(dtype=object) + "</ReferralSource>"
            + _tag("PrimaryNeedCode", need) + _tag("CINclosureDate", iso(closure)) + _tag("ReasonForClosure", reason)
            + assess + cinp + s47
            + "<ReferralNFA>" + np.where(ref["nfa"].to_numpy(), "1", "0").astype(object) + "</ReferralNFA>"
            + cpp + "</CINdetails>")


def _sex_in_year_form(openings: np.ndarray, year: int) -> np.ndarray:
    """The openings' ``<GenderCurrent>`` (0/1/2/9) as the year's specification has it: unchanged
    to 2023-24, ``<Sex>`` M/F/U from 2024-25 (``helpers.readers.specs``)."""
    if specs.cin_spec(year).sex_element == "GenderCurrent":
        return openings
    s = pd.Series(openings, dtype=object)
    for old, new in specs.SEX_TO_ANALYSIS.items():
        if old.isdigit():
            s = s.str.replace(f"<GenderCurrent>{old}</GenderCurrent>", f"<Sex>{new}</Sex>", regex=False)
    return s.to_numpy(dtype=object)


def upn(serials: np.ndarray, la: str = "999") -> np.ndarray:
    """Unique pupil numbers with a correct check letter: ``la`` (3 digits, the fictional
    council's ``999``, which validator rule 1530 rightly rejects) + the 9-digit ``serials``.

    Check letter (DfE UPN guide, CIN rule 1510): digits 2-13 weighted 2-13, sum mod 23, mapped
    to ``ABCDEFGHJKLMNPQRTUVWXYZ``.
    """
    body = pd.Series(np.asarray(serials, dtype=np.int64)).map((la + "{:09d}").format).to_numpy(dtype=object)
    if len(body) == 0:
        return body
    digits = np.frombuffer("".join(body).encode("ascii"), dtype=np.uint8).reshape(-1, 12).astype(np.int64) - 48
    check = (digits * np.arange(2, 14)).sum(axis=1) % 23
    letters = np.array(list("ABCDEFGHJKLMNPQRTUVWXYZ"), dtype=object)[check]
    return letters + body


def birthday(dob_days: np.ndarray, years: int) -> np.ndarray:
    """Day number of each ``years``-th birthday (29 February births: 28 February); NaN stays NaN."""
    dob = np.asarray(dob_days, dtype=float)
    ok = ~np.isnan(dob)
    out = np.full(len(dob), np.nan)
    if ok.any():
        d = np.asarray(dob[ok], dtype="int64").astype("datetime64[D]")
        y = d.astype("datetime64[Y]").astype(int) + 1970
        md = d - d.astype("datetime64[Y]")                       # day within the year
        leap_day = (pd.DatetimeIndex(d).month == 2) & (pd.DatetimeIndex(d).day == 29)
        target_year = (y + years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
        is_leap = lambda yy: ((yy % 4 == 0) & (yy % 100 != 0)) | (yy % 400 == 0)  # noqa: E731
        # same month and day: day-of-year offset shifts by one between leap and common years after Feb
        after_feb = pd.DatetimeIndex(d).month > 2
        shift = np.where(after_feb, is_leap(y + years).astype(int) - is_leap(y).astype(int), 0)
        res = target_year + md.astype(int) + shift
        res = np.where(leap_day, res - 1 + is_leap(y + years).astype(int), res) if leap_day.any() else res
        out[ok] = (np.asarray(res, dtype="datetime64[D]") - np.datetime64("1970-01-01", "D")).astype(float)
    return out


def eighteenth_birthday(dob_days: np.ndarray) -> np.ndarray:
    """Day number of each 18th birthday (see :func:`birthday`)."""
    return birthday(dob_days, 18)


def write_cin_year(path, ref: pd.DataFrame, openings: np.ndarray, year: int, la_old_code: str,
                   cutoff: float, as_at: date) -> None:
    """Write one collection year's CIN census XML.

    ``ref`` holds the referrals of that year's file, already sorted by child and referral
    date (duplicates from faults included); ``openings`` the per-child opening text.
    """
    details = cin_details_xml(ref, cutoff, day(date(year - 1, 4, 1)))
    child = ref["child_idx"].to_numpy()
    first = np.ones(len(child), bool)
    first[1:] = child[1:] != child[:-1]
    last = np.ones(len(child), bool)
    last[:-1] = child[:-1] != child[1:]
    opening = np.full(len(child), "", dtype=object)
    opening[first] = _sex_in_year_form(openings[child[first]], year)
    body = opening + details + np.where(last, "</Child>", "")
    header = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Message><Header><CollectionDetails><Collection>CIN</Collection>"
              f"<Year>{year}</Year><ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails>"
              f"<Source><SourceLevel>L</SourceLevel><LEA>{la_old_code}</LEA><SoftwareCode>helpers.demo</SoftwareCode>"
              f"<Release>1</Release><SerialNo>001</SerialNo><DateTime>{as_at.isoformat()}T00:00:00</DateTime></Source></Header>"
              "<Children>\n")
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(header)
        fh.write("\n".join(body.tolist()))
        fh.write("\n</Children></Message>\n")
