"""Locality team sizing: demand by ward, a deprivation model, posts, and contiguous balanced localities.

The chain, each step a function taking data frames and plain values:

1. :func:`assign_area` / :func:`demand_by_ward` - referrals, open children-in-need (CIN) cases,
   child protection (CP) plans and looked-after children by ward, per year ending 31 March;
   children with no address in the extract are placed from their SSDA903 home postcode
   (:func:`home_postcode_addresses`) and the count placed each way is kept (``placed_by``).
2. :func:`fit_demand_model`, :func:`shrink_counts`, :func:`model_ward_demand` - expected demand
   per ward from a count regression on deprivation with a child-population offset; small
   wards' noisy counts are pulled towards the model (gamma-Poisson empirical Bayes), then
   projected forward with a growth rate.
3. :func:`staffing_fte` - from projected cases to full-time-equivalent (FTE) posts by role.
4. :func:`partition_localities` - group building blocks (wards or LSOAs) into contiguous
   localities with balanced workload (spopt region-k-means start, then a seeded
   balance-improving swap search on the contiguity graph), with :func:`contiguity_check`,
   :func:`balance_metrics`, :func:`polsby_popper` and the :func:`strip_baseline` to compare.
   Optional constraints: keep named blocks together; keep existing districts whole
   (:func:`allocate_localities` shares localities between districts).
   :func:`plan_whole_wards_first` - whole wards first: split only the wards balance needs
   (heaviest first, along LSOA lines) and say which and why (:func:`plan_statement`), with
   :func:`ratio_lower_bound` (a ratio no grouping can beat), :func:`sweep_plans` (a warm-started
   balance sweep over numbers of teams) and :func:`teams_reaching_target`. Contiguity is rook
   (a shared border of positive length); islands, corner-only joins and wards whose LSOAs lie
   apart are joined by explicit, listed links (:func:`link_ward_pieces`, :func:`contiguity_links`).
   :func:`establishment` gives FTE and whole posts by role per locality and for the council
   (posts shared out at council level, :func:`allocate_posts`); :func:`locality_names` names
   localities after their largest ward.
5. :func:`size_localities` - the whole chain as the report runs it (used by the notebook and by
   the real-geography tests).

Definitions
-----------
- **Open case** at a date: a child with a CIN episode (referral date on or before the date,
  closure after it or blank) or a looked-after episode (DECOM on or before the date, DEC after
  it or blank). Each child counts once. CIN episodes include children on CP plans.
- **Workload** of a building block: its projected open cases (statutory caseload). Every role's
  FTE is proportional to it, so balancing cases balances every role.
- **Workload ratio**: largest locality workload / smallest. **CV**: standard deviation /
  mean of locality workloads. **Workload index**: locality workload / mean locality workload.
- **Polsby-Popper compactness**: 4 pi area / perimeter^2 in EPSG:27700 (1 = a circle).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

# ---------------------------------------------------------------------------
# 1. Demand by ward
# ---------------------------------------------------------------------------


def assign_area(events: pd.DataFrame, addresses: pd.DataFrame, date_col: str) -> pd.DataFrame:
    """Attach the ward and LSOA of the address in force on each event's date.

    Inputs: ``events`` with ``child_id`` and ``date_col``; ``addresses`` as returned by
    ``helpers.readers.case_extracts.read_address_extract`` (``child_id, ward_code, lsoa_code,
    start_date, end_date``; end blank = current).
    Rule: the address whose period contains the date (latest start wins); else the child's
    address nearest in time to the date; else ``ward_code``/``lsoa_code`` are NaN.
    Output: ``events`` (same rows, same order) plus ``ward_code, lsoa_code``.
    """
    ev = events.reset_index(drop=True).copy()
    ev["_row"] = np.arange(len(ev))
    extra = ["ward_problem"] if "ward_problem" in addresses.columns else []
    addr = addresses[["child_id", "ward_code", "lsoa_code", "start_date", "end_date", *extra]]
    m = ev[["_row", "child_id", date_col]].merge(addr, on="child_id", how="inner")
    d = m[date_col]
    before = (m["start_date"] - d).dt.days.clip(lower=0).fillna(0)
    after = (d - m["end_date"]).dt.days.clip(lower=0).fillna(0)
    m["_gap"] = before + after                         # 0 when the address was in force
    m["_start"] = m["start_date"].fillna(pd.Timestamp.min)
    m = m.sort_values(["_row", "_gap", "_start"], ascending=[True, True, False], kind="mergesort")
    best = m.drop_duplicates("_row").set_index("_row")
    for col in ("ward_code", "lsoa_code", *extra):
        ev[col] = ev["_row"].map(best[col])
    if extra:   # matched an address, but it gives no ward: why (helpers.readers.case_extracts.check_ward_codes)
        ev["ward_problem"] = ev["ward_problem"].where(ev["_row"].isin(best.index), "no address")
    return ev.drop(columns="_row")


def _open_at(start: pd.Series, end: pd.Series, when: pd.Timestamp) -> pd.Series:
    return (start <= when) & (end.isna() | (end > when))


#: How a counted child's area was found (``placed_by`` column of :func:`demand_by_ward`).
PLACED_BY = ("address extract", "903 home postcode", "not placed")


def home_postcode_addresses(episodes: pd.DataFrame, directory: pd.DataFrame, lsoa_bounds,
                            lsoa_areas: pd.DataFrame, *, tolerance_m: float = 100.0) -> pd.DataFrame:
    """Address rows from the looked-after (SSDA903) home postcode, one per episode.

    For children with no row in the case-management address extract (looked-after children
    never referred as children in need): ``HOME_POST`` (full postcode or sector) is located in
    the council's postcode directory (``helpers.reference.postcodes.locate_postcodes``: the postcode's
    grid reference, else its sector's mean), and the grid reference is placed in an LSOA by
    point-in-polygon (``helpers.reference.geography.locate_points``, EPSG:27700); the ward comes from the
    LSOA-to-ward lookup.

    Inputs: ``episodes`` (``child_id, decom, dec, home_post``); ``directory`` from
    ``helpers.reference.postcodes.read_postcode_directory``; ``lsoa_bounds`` (``lsoa_code, geometry``);
    ``lsoa_areas`` the council's LSOAs (``lsoa_code, ward_code``; points in other LSOAs are
    outside the council).
    Output: ``child_id, postcode_sector, lsoa_code, ward_code, start_date`` (DECOM),
    ``end_date`` (DEC, blank = open) - the layout of
    ``helpers.readers.case_extracts.read_address_extract`` - plus ``match``: ``"postcode"``,
    ``"sector"``, ``"not found"``, ``"blank"`` or ``"outside council"``; rows that could not be
    placed have ``lsoa_code``/``ward_code`` NaN.
    """
    from helpers.reference import geography, postcodes

    ep = episodes[["child_id", "decom", "dec", "home_post"]].reset_index(drop=True)
    where = postcodes.locate_postcodes(ep["home_post"], directory)
    council = lsoa_areas.drop_duplicates("lsoa_code").set_index("lsoa_code")["ward_code"]
    bounds = lsoa_bounds[lsoa_bounds["lsoa_code"].isin(council.index)]
    lsoa = geography.locate_points(where["easting"], where["northing"], bounds, "lsoa_code", tolerance_m=tolerance_m)
    match = where["match"].astype(object).copy()
    match[where["easting"].notna() & lsoa.isna()] = "outside council"
    return pd.DataFrame({
        "child_id": ep["child_id"], "postcode_sector": postcodes.postcode_sector(ep["home_post"]),
        "lsoa_code": lsoa, "ward_code": lsoa.map(council), "start_date": ep["decom"], "end_date": ep["dec"],
        "match": match.to_numpy(),
    })


def demand_by_ward(referrals: pd.DataFrame, cp_plans: pd.DataFrame, episodes: pd.DataFrame,
                   addresses: pd.DataFrame, year_ends: Sequence[pd.Timestamp | str],
                   area_col: str = "ward_code", fallback_addresses: pd.DataFrame | None = None) -> pd.DataFrame:
    """Demand counts by area and year, tidy.

    Inputs: CIN ``referrals`` (``child_id, referral_date, closure_date``), ``cp_plans``
    (``child_id, cpp_start, cpp_end``), 903 ``episodes`` (``child_id, decom, dec``),
    ``addresses`` (see :func:`assign_area`), the year-end dates to count at (usually
    31 March of each collection year), and ``area_col`` (``"ward_code"`` or ``"lsoa_code"``).

    Output: ``area_col, year_end, measure, count, placed_by`` with measures
    ``referrals`` (referral dates in the 12 months ending on ``year_end``),
    ``open_cin`` (CIN episodes open at ``year_end``), ``cp_plans`` (CP plans open),
    ``looked_after`` (children with a 903 episode open) and ``open_cases`` (children with an
    open CIN or looked-after episode; each child once). The area is the child's address on the
    referral date (referrals) or on ``year_end`` (the rest); rows whose area is unknown are kept
    with area NaN so that they can be reported.

    ``fallback_addresses`` (optional, same columns as ``addresses``, e.g. from
    :func:`home_postcode_addresses`) places children whose area the address extract cannot
    give (same rule: in force on the date, else nearest in time).
    Output column ``placed_by`` says how (:data:`PLACED_BY`): ``"address extract"``,
    ``"903 home postcode"`` or ``"not placed"`` (area NaN).
    """
    year_ends = [pd.Timestamp(y) for y in year_ends]
    fallback = None
    if fallback_addresses is not None:
        fallback = fallback_addresses[fallback_addresses[area_col].notna()]

    def place(events: pd.DataFrame, date_col: str) -> pd.DataFrame:
        ev = assign_area(events, addresses, date_col)
        ev["placed_by"] = np.where(ev[area_col].notna(), PLACED_BY[0], PLACED_BY[2])
        if "ward_problem" in ev.columns:      # "not placed: <reason>"
            why = ev["ward_problem"].fillna("address has no " + ("LSOA" if area_col == "lsoa_code" else "ward") + " code")
            ev["placed_by"] = np.where(ev[area_col].notna(), PLACED_BY[0], PLACED_BY[2] + ": " + why)
        if fallback is not None and len(fallback):
            need = ev[area_col].isna().to_numpy()
            if need.any():
                alt = assign_area(ev.loc[need, ["child_id", date_col]], fallback, date_col)
                for col in ("ward_code", "lsoa_code"):
                    ev.loc[need, col] = alt[col].to_numpy()
                ev.loc[need & ev[area_col].notna().to_numpy(), "placed_by"] = PLACED_BY[1]
        return ev

    cols = ["child_id", area_col, "placed_by", "year_end", "measure"]
    parts = []
    for ye in year_ends:
        ref = referrals[(referrals["referral_date"] > ye - pd.DateOffset(years=1)) & (referrals["referral_date"] <= ye)]
        ref = place(ref[["child_id", "referral_date"]], "referral_date")
        parts.append(ref.assign(year_end=ye, measure="referrals")[cols])
        snap = []
        cin = referrals[_open_at(referrals["referral_date"], referrals["closure_date"], ye)][["child_id"]]
        snap.append(cin.assign(measure="open_cin"))
        cp = cp_plans[_open_at(cp_plans["cpp_start"], cp_plans["cpp_end"], ye)][["child_id"]]
        snap.append(cp.assign(measure="cp_plans"))
        la = episodes[_open_at(episodes["decom"], episodes["dec"], ye)][["child_id"]].drop_duplicates()
        snap.append(la.assign(measure="looked_after"))
        both = pd.concat([cin, la]).drop_duplicates()
        snap.append(both.assign(measure="open_cases"))
        snap = pd.concat(snap, ignore_index=True).assign(year_end=ye)
        snap = place(snap, "year_end")
        parts.append(snap[cols])
    allrows = pd.concat(parts, ignore_index=True)
    out = (allrows.groupby([area_col, "year_end", "measure", "placed_by"], dropna=False).size()
           .rename("count").reset_index())
    return out[[area_col, "year_end", "measure", "count", "placed_by"]]


def placement_counts(counts: pd.DataFrame, measure: str, year_end) -> dict[str, int]:
    """How the children counted in ``measure`` at ``year_end`` were placed in an area.

    Input: the output of :func:`demand_by_ward`. Output: ``{"address extract": n,
    "903 home postcode": n, "not placed": n, "total": n}``, plus ``"not placed by reason"``
    (``{reason: n}``) when the addresses carry ``ward_problem``
    (``helpers.readers.case_extracts.check_ward_codes``).
    """
    sub = counts[(counts["measure"] == measure) & (counts["year_end"] == pd.Timestamp(year_end))]
    by = sub.groupby("placed_by")["count"].sum()
    out = {k: int(by.get(k, 0)) for k in PLACED_BY}
    # "not placed: <reason>" rows (addresses checked by helpers.readers.case_extracts.check_ward_codes)
    reasons = {str(k).split(": ", 1)[1]: int(v) for k, v in by.items() if str(k).startswith(PLACED_BY[2] + ": ")}
    out[PLACED_BY[2]] += sum(reasons.values())
    if reasons:
        out["not placed by reason"] = reasons
    out["total"] = int(sub["count"].sum())
    return out


# ---------------------------------------------------------------------------
# 2. Demand model, shrinkage and projection
# ---------------------------------------------------------------------------


@dataclass
class DemandModel:
    """A fitted count regression: log E[count] = log(exposure) + b0 + sum(b_j x_j).

    ``params`` (index ``const`` and the covariate names), ``alpha`` the negative-binomial
    dispersion (variance = mu + alpha mu^2; the moment estimate when the family is Poisson),
    ``family`` and ``covariates``.
    """

    params: pd.Series
    alpha: float
    family: str
    covariates: list[str]
    exposure_col: str
    conf_int: pd.DataFrame = field(repr=False, default=None)

    def expected(self, frame: pd.DataFrame) -> pd.Series:
        """Expected count for each row of ``frame`` (needs the covariates and the exposure)."""
        eta = self.params["const"] + sum(self.params[c] * frame[c].astype(float) for c in self.covariates)
        return np.exp(eta) * frame[self.exposure_col].astype(float)


def estimate_dispersion(observed: pd.Series | np.ndarray, expected: pd.Series | np.ndarray) -> float:
    """Moment estimate of the negative-binomial dispersion alpha (Var = mu + alpha mu^2).

    ``alpha = max(0, sum((y - mu)^2 - y) / sum(mu^2))``. 0 means no variation beyond Poisson.
    """
    y = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    return float(max(0.0, np.sum((y - mu) ** 2 - y) / np.sum(mu ** 2)))


def fit_log_glm(y, X, offset, alpha: float = 0.0, *, tol: float = 1e-12, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """A count regression with a log link by iteratively reweighted least squares.

    ``y`` counts, ``X`` the design matrix (a column of ones included), ``offset`` added to the
    linear predictor (log exposure). ``alpha`` 0: Poisson; above 0: negative binomial with
    that (known) dispersion, variance ``mu + alpha mu^2``. The same estimator as statsmodels'
    ``GLM(...).fit()`` (its starting values, weights and scale 1), iterated until the deviance
    changes by less than ``tol`` relative; a test checks the coefficients and their
    covariance against statsmodels. Written out here so that a kernel need not import
    statsmodels (and the scipy.stats it loads, about 1 s). Returns ``(params, covariance)``.
    Raises ValueError if it does not converge.
    """
    y, X, offset = np.asarray(y, float), np.asarray(X, float), np.asarray(offset, float)
    mu = (y + y.mean()) / 2
    eta = np.log(mu)
    previous = np.inf
    for _ in range(max_iter):
        weight = mu ** 2 / (mu + alpha * mu ** 2)          # 1 / (variance x (d eta / d mu)^2)
        z = eta - offset + (y - mu) / mu                  # the working response
        xtw = X.T * weight
        info = xtw @ X
        params = np.linalg.solve(info, xtw @ z)
        eta = X @ params + offset
        mu = np.exp(eta)
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
        if alpha > 0:
            deviance = 2 * np.sum(ylogy - (y + 1 / alpha) * np.log((1 + alpha * y) / (1 + alpha * mu)))
        else:
            deviance = 2 * np.sum(ylogy - (y - mu))
        if abs(deviance - previous) <= tol * max(abs(deviance), 1.0):
            weight = mu ** 2 / (mu + alpha * mu ** 2)
            return params, np.linalg.inv((X.T * weight) @ X)
        previous = deviance
    raise ValueError(f"the demand model did not converge in {max_iter} iterations")


def fit_demand_model(frame: pd.DataFrame, count_col: str, exposure_col: str,
                     covariates: Sequence[str] = ("idaci_percentile",), family: str = "negbin") -> DemandModel:
    """Fit a count regression of demand on deprivation with a log-exposure offset (:func:`fit_log_glm`).

    Inputs: one row per area with ``count_col`` (a count), ``exposure_col`` (e.g. children
    aged 0-17 x years observed; rows with exposure 0 are dropped) and the covariates.
    ``family``: ``"poisson"`` or ``"negbin"`` (negative binomial with alpha estimated by moments
    from a Poisson fit, then the model refitted with that alpha).
    Output: a :class:`DemandModel` (``conf_int``: 95% Wald intervals, columns 0 and 1).
    """
    if family not in ("poisson", "negbin"):
        raise ValueError(f"family must be 'poisson' or 'negbin', got {family!r}")
    data = frame[frame[exposure_col] > 0].dropna(subset=[count_col, *covariates])
    names = ["const", *covariates]
    X = np.column_stack([np.ones(len(data)), *(data[c].astype(float).to_numpy() for c in covariates)])
    y = data[count_col].astype(float).to_numpy()
    offset = np.log(data[exposure_col].astype(float).to_numpy())
    params, cov = fit_log_glm(y, X, offset)
    alpha = estimate_dispersion(y, np.exp(X @ params + offset))
    if family == "negbin" and alpha > 1e-8:
        params, cov = fit_log_glm(y, X, offset, alpha)
        alpha = estimate_dispersion(y, np.exp(X @ params + offset))
    from helpers.stats import _z

    half = _z(0.95) * np.sqrt(np.diag(cov))
    return DemandModel(params=pd.Series(params, index=names), alpha=alpha, family=family, covariates=list(covariates),
                       exposure_col=exposure_col, conf_int=pd.DataFrame({0: params - half, 1: params + half}, index=names))


def shrink_counts(observed: pd.Series | np.ndarray, expected: pd.Series | np.ndarray, alpha: float) -> np.ndarray:
    """Gamma-Poisson empirical-Bayes estimate of each area's underlying count.

    Rule: an area's relative risk is Gamma with mean 1 and variance ``alpha`` around the model's
    expected count ``mu``; with ``k = 1 / alpha`` the posterior mean count is
    ``mu * (y + k) / (mu + k)`` = ``w y + (1 - w) mu`` with ``w = mu / (mu + k)``. Small areas
    (small ``mu``) lean on the model; large areas keep their own count. ``alpha = 0`` gives the
    model value.
    """
    y = np.asarray(observed, dtype=float)
    mu = np.asarray(expected, dtype=float)
    if alpha <= 0:
        return mu.copy()
    k = 1.0 / alpha
    return mu * (y + k) / (mu + k)


def model_ward_demand(counts: pd.DataFrame, areas: pd.DataFrame, *, area_col: str = "ward_code",
                      measure: str = "open_cases", covariates: Sequence[str] = ("idaci_percentile",),
                      family: str = "negbin", growth_rate: float = 0.0, years_ahead: float = 1.0,
                      population_col: str = "children_0_17") -> tuple[pd.DataFrame, DemandModel]:
    """Observed, modelled, shrunk and projected demand per area.

    Inputs: ``counts`` from :func:`demand_by_ward`; ``areas`` one row per area with
    ``area_col``, ``population_col`` and the covariates (e.g. from
    ``helpers.reference.geography.ward_profile``); the ``measure`` to model; ``growth_rate`` a yearly
    proportional change (0.03 = 3% a year) applied for ``years_ahead`` years.
    Method: counts are summed over the years supplied (exposure = children x number of years),
    the model is fitted on the totals, the totals are shrunk (:func:`shrink_counts`) and divided
    by the number of years.
    Output ``(table, model)``; ``table`` has one row per area: ``area_col, observed``
    (mean per year), ``expected`` (model, per year), ``shrunk`` (per year), ``projected``
    (``shrunk x (1 + growth_rate) ^ years_ahead``), ``observed_total, n_years``.
    """
    sub = counts[(counts["measure"] == measure) & counts[area_col].notna()]
    n_years = max(int(counts["year_end"].nunique()), 1)
    totals = sub.groupby(area_col)["count"].sum()
    table = areas[[area_col, population_col, *covariates]].copy()
    table["observed_total"] = table[area_col].map(totals).fillna(0).astype(float)
    table["exposure"] = table[population_col].astype(float) * n_years
    model = fit_demand_model(table, "observed_total", "exposure", covariates, family)
    expected_total = model.expected(table)
    shrunk_total = shrink_counts(table["observed_total"], expected_total, model.alpha)
    table["n_years"] = n_years
    table["observed"] = table["observed_total"] / n_years
    table["expected"] = expected_total / n_years
    table["shrunk"] = shrunk_total / n_years
    table["projected"] = table["shrunk"] * (1.0 + growth_rate) ** years_ahead
    return table[[area_col, "observed", "expected", "shrunk", "projected", "observed_total", "n_years"]], model


# ---------------------------------------------------------------------------
# 3. From cases to posts
# ---------------------------------------------------------------------------

#: Documented defaults; every value is a council decision and is set in the config's [locality] table.
STAFFING_DEFAULTS: dict[str, float] = {
    "sw_caseload": 15.0,                  # cases per FTE social worker (DfE average 15.4 in 2024: a reference, not a standard)
    "fsw_caseload": 12.0,                 # early-help cases per FTE family support worker (assumption)
    "early_help_per_statutory": 0.5,      # early-help cases per statutory case (assumption)
    "workers_per_team_manager": 8.0,      # practitioners (SW + FSW) per team manager
    "sw_per_senior_practitioner": 6.0,    # social workers per senior practitioner
    "vacancy_allowance": 0.10,            # extra establishment to cover vacancies and absence (10%)
}

FTE_ROLES = ["fte_social_workers", "fte_family_support_workers", "fte_senior_practitioners", "fte_team_managers"]


def staffing_fte(cases: pd.DataFrame, cases_col: str = "projected_cases", **params: float) -> pd.DataFrame:
    """FTE and whole posts by role from statutory caseload.

    Inputs: ``cases`` one row per locality with ``cases_col`` (projected open statutory cases);
    keyword parameters overriding :data:`STAFFING_DEFAULTS`.
    Arithmetic, with S statutory cases and v the vacancy allowance:
    early-help cases E = S x early_help_per_statutory; social workers SW = S / sw_caseload;
    family support workers FSW = E / fsw_caseload; senior practitioners SP = SW /
    sw_per_senior_practitioner; team managers TM = (SW + FSW) / workers_per_team_manager; every
    role is then multiplied by (1 + v). Whole posts round each role up per locality.
    Output: ``cases`` plus ``early_help_cases``, the four ``fte_*`` columns, ``fte_total`` and
    ``posts_*`` (whole posts) for each role.
    """
    unknown = set(params) - set(STAFFING_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown staffing parameters: {sorted(unknown)}")
    p = {**STAFFING_DEFAULTS, **params}
    for key in ("sw_caseload", "fsw_caseload", "workers_per_team_manager", "sw_per_senior_practitioner"):
        if p[key] <= 0:
            raise ValueError(f"{key} must be positive, got {p[key]}")
    out = cases.copy()
    s = out[cases_col].astype(float)
    uplift = 1.0 + p["vacancy_allowance"]
    out["early_help_cases"] = s * p["early_help_per_statutory"]
    sw = s / p["sw_caseload"]
    fsw = out["early_help_cases"] / p["fsw_caseload"]
    out["fte_social_workers"] = sw * uplift
    out["fte_family_support_workers"] = fsw * uplift
    out["fte_senior_practitioners"] = sw / p["sw_per_senior_practitioner"] * uplift
    out["fte_team_managers"] = (sw + fsw) / p["workers_per_team_manager"] * uplift
    out["fte_total"] = out[FTE_ROLES].sum(axis=1)
    for role in FTE_ROLES:
        # 1e-9 guards 3.0000000001 from floating point becoming 4 posts
        out[role.replace("fte_", "posts_")] = np.ceil(out[role] - 1e-9).clip(lower=0).astype(int)
    return out


def fte_by_caseload_target(total_cases: float, sw_caseloads: Iterable[float], **params: float) -> pd.DataFrame:
    """Total FTE by role for a range of social-worker caseload targets (other parameters fixed).

    Output: ``sw_caseload`` plus the ``fte_*`` columns and ``fte_total`` of :func:`staffing_fte`.
    """
    params = {k: v for k, v in params.items() if k != "sw_caseload"}
    rows = [staffing_fte(pd.DataFrame({"projected_cases": [total_cases]}), sw_caseload=float(t), **params)
            .assign(sw_caseload=float(t)) for t in sw_caseloads]
    return pd.concat(rows, ignore_index=True)[["sw_caseload", *FTE_ROLES, "fte_total"]]


# ---------------------------------------------------------------------------
# 4. Grouping building blocks into contiguous, balanced localities
# ---------------------------------------------------------------------------


def _region_connected(adj: list[np.ndarray], members: np.ndarray, removed: int | None = None) -> bool:
    """Is the set ``members`` (minus ``removed``) connected in the graph ``adj``?"""
    nodes = set(members.tolist())
    if removed is not None:
        nodes.discard(removed)
    if len(nodes) <= 1:
        return True
    start = next(iter(nodes))
    seen = {start}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for v in adj[u]:
            v = int(v)
            if v in nodes and v not in seen:
                seen.add(v)
                queue.append(v)
    return len(seen) == len(nodes)


def _grow_start(adj, xy, k, rng) -> np.ndarray:
    """Seeded region growing: farthest-point seeds, then the lightest-so-far region takes its nearest free neighbour."""
    n = len(adj)
    seeds = [int(rng.integers(n))]
    dist = np.hypot(*(xy - xy[seeds[0]]).T)
    for _ in range(1, k):
        nxt = int(np.argmax(dist))
        seeds.append(nxt)
        dist = np.minimum(dist, np.hypot(*(xy - xy[nxt]).T))
    lab = np.full(n, -1)
    lab[seeds] = np.arange(k)
    size = np.ones(k)
    frontier_open = np.ones(k, dtype=bool)
    while (lab < 0).any() and frontier_open.any():
        r = int(np.argmin(np.where(frontier_open, size, np.inf)))
        members = np.flatnonzero(lab == r)
        cand = {int(v) for u in members for v in adj[u] if lab[v] < 0}
        if not cand:
            frontier_open[r] = False
            continue
        cand = np.array(sorted(cand))
        pick = cand[np.argmin(np.hypot(*(xy[cand] - xy[seeds[r]]).T))]
        lab[pick] = r
        size[r] += 1
    while (lab < 0).any():  # pockets no region reached (only in disconnected graphs)
        for u in np.flatnonzero(lab < 0):
            nb = [lab[v] for v in adj[u] if lab[v] >= 0]
            lab[u] = nb[0] if nb else 0
    return lab


def _improve_balance(lab, w, adj, ei, ej, xy, k, max_moves):
    """Move boundary blocks from heavier to lighter neighbouring localities while the donor stays connected.

    A move of block u (weight w_u) from a to b changes the sum of squared deviations from the
    mean by 2 w_u (L_b - L_a + w_u); only moves that reduce it are taken, so the search ends.
    Among them the block nearest (relative to its own locality's centre) to the receiving
    locality is moved first, which keeps localities compact.
    """
    loads = np.bincount(lab, weights=w, minlength=k)
    sizes = np.bincount(lab, minlength=k)
    moves = 0
    blocked: set[tuple[int, int]] = set()
    while moves < max_moves:
        diff = lab[ei] != lab[ej]
        u = ei[diff]
        a = lab[u]
        b = lab[ej[diff]]
        gain = 2 * w[u] * (loads[b] - loads[a] + w[u])
        ok = (gain < -1e-12) & (sizes[a] > 1)
        if not ok.any():
            break
        u, a, b, gain = u[ok], a[ok], b[ok], gain[ok]
        cx = np.bincount(lab, weights=xy[:, 0], minlength=k) / np.maximum(sizes, 1)
        cy = np.bincount(lab, weights=xy[:, 1], minlength=k) / np.maximum(sizes, 1)
        d_b = np.hypot(xy[u, 0] - cx[b], xy[u, 1] - cy[b])
        d_a = np.hypot(xy[u, 0] - cx[a], xy[u, 1] - cy[a])
        order = np.lexsort((u, gain, d_b - d_a))
        moved = False
        for idx in order:
            uu, aa, bb = int(u[idx]), int(a[idx]), int(b[idx])
            if (uu, aa) in blocked:
                continue
            if not _region_connected(adj, np.flatnonzero(lab == aa), removed=uu):
                blocked.add((uu, aa))
                continue
            lab[uu] = bb
            loads[aa] -= w[uu]
            loads[bb] += w[uu]
            sizes[aa] -= 1
            sizes[bb] += 1
            blocked = {pair for pair in blocked if pair[1] not in (aa, bb)}
            moves += 1
            moved = True
            break
        if not moved:
            break
    return lab, moves


def _tree_split(nodes: list[int], adj, w, share: float, rng, n_trees: int,
                min_sizes: tuple[int, int] = (1, 1)) -> tuple[list[int], list[int]]:
    """Cut a connected set of blocks in two connected parts, the first holding ``share`` of the workload.

    As GerryChain's recursive tree partition: draw a random spanning tree (minimum spanning
    tree under seeded random edge weights), try cutting each tree edge (both sides of a tree
    cut are connected), and keep the cut whose workload share is nearest ``share``; best of
    ``n_trees`` trees.

    The edges of the blocks' graph are listed once and each tree's weights drawn in one call
    (the same draws, in the same order, as one ``rng.random()`` per edge); with distinct
    weights the minimum spanning tree is unique, and the depth-first order visits each block's
    tree neighbours by increasing weight, as networkx does on the tree its Kruskal builds
    (:func:`_tree_order_nx`, used for the rare tree whose weights tie).
    """
    n_all_nodes = len(nodes)
    local = {u: i for i, u in enumerate(nodes)}
    eu: list[int] = []
    ev: list[int] = []
    for u in nodes:
        lu = local[u]
        for v in adj[u]:
            v = int(v)
            if v > u and v in local:
                eu.append(lu)
                ev.append(local[v])
    n_edges = len(eu)
    wl = [float(w[u]) for u in nodes]
    total = float(w[nodes].sum())
    best = None
    for _ in range(n_trees):
        weights = rng.random(n_edges)
        root = int(rng.integers(n_all_nodes))
        if n_edges and len(np.unique(weights)) < n_edges:
            order, parent = _tree_order_nx(nodes, eu, ev, weights, nodes[root])
            order = [local[u] for u in order]
            parent = {local[k]: local[v] for k, v in parent.items()}
        else:
            # Kruskal: edges by increasing weight, kept when they join two trees (union-find)
            neighbours: list[list[int]] = [[] for _ in range(n_all_nodes)]
            up = list(range(n_all_nodes))
            joined = 0
            for e in np.argsort(weights).tolist():
                a, b = eu[e], ev[e]
                while up[a] != a:
                    up[a] = up[up[a]]
                    a = up[a]
                while up[b] != b:
                    up[b] = up[up[b]]
                    b = up[b]
                if a == b:
                    continue
                up[a] = b
                neighbours[eu[e]].append(ev[e])
                neighbours[ev[e]].append(eu[e])
                joined += 1
                if joined == n_all_nodes - 1:
                    break
            order, parent = [root], {}
            seen = [False] * n_all_nodes
            seen[root] = True
            stack = [(root, iter(neighbours[root]))]
            while stack:
                here, children = stack[-1]
                for child in children:
                    if not seen[child]:
                        seen[child] = True
                        order.append(child)
                        parent[child] = here
                        stack.append((child, iter(neighbours[child])))
                        break
                else:
                    stack.pop()
        sub = {u: wl[u] for u in order}
        cnt = {u: 1 for u in order}
        for u in reversed(order[1:]):
            sub[parent[u]] += sub[u]
            cnt[parent[u]] += cnt[u]
        n_all = len(order)
        for u in order[1:]:
            for part, n_first in ((sub[u], cnt[u]), (total - sub[u], n_all - cnt[u])):
                if n_first < min_sizes[0] or n_all - n_first < min_sizes[1]:
                    continue  # each side needs at least one block per locality it will hold
                err = abs(part - share * total)
                if best is None or err < best[0] - 1e-12:
                    best = (err, order, u, cnt[u], n_first == cnt[u])
    if best is None:  # no tree cut leaves enough blocks on both sides
        return None
    _, order, u, size, first_is_sub = best
    # in depth-first preorder, u's subtree (its side of the cut) is the run of `size` blocks from u
    at = order.index(u)
    side = {nodes[x] for x in order[at:at + size]}
    other = [x for x in nodes if x not in side]
    side = [x for x in nodes if x in side]
    return (side, other) if first_is_sub else (other, side)


def _tree_order_nx(nodes: list[int], eu: list[int], ev: list[int], weights: np.ndarray, root: int):
    """Depth-first preorder and parents of the Kruskal tree networkx builds (ties broken as it does)."""
    g = nx.Graph()
    g.add_nodes_from(nodes)
    for a, b, wt in zip(eu, ev, weights.tolist()):
        g.add_edge(nodes[a], nodes[b], weight=wt)
    tree = nx.minimum_spanning_tree(g)
    return list(nx.dfs_preorder_nodes(tree, root)), dict(nx.dfs_predecessors(tree, root))


def _bisection_start(adj, w, k, rng, n_trees: int = 8) -> np.ndarray | None:
    """Recursive tree bisection into ``k`` connected parts of near-equal workload (None if a split fails)."""
    lab = np.zeros(len(adj), dtype=int)
    stack = [(list(range(len(adj))), k, 0)]
    next_label = 1
    while stack:
        nodes, kk, label = stack.pop()
        if kk == 1:
            lab[nodes] = label
            continue
        k1 = kk // 2
        split = _tree_split(nodes, adj, w, k1 / kk, rng, n_trees, (k1, kk - k1))
        if split is None:
            return None
        left, right = split
        stack.append((left, k1, label))
        stack.append((right, kk - k1, next_label))
        next_label += 1
    return lab


def _contract(graph: nx.Graph, workload: pd.Series, keep_together: Sequence[Sequence[str]] | None):
    """Merge each keep-together group into one block (named after its first member)."""
    rep = {n: n for n in graph.nodes}
    for group in keep_together or []:
        members = [g for g in group if g in rep]
        for m in members[1:]:
            rep[m] = members[0]
    if all(k == v for k, v in rep.items()):
        return graph, workload, rep
    g2 = nx.Graph()
    for n, data in graph.nodes(data=True):
        r = rep[n]
        if r not in g2:
            g2.add_node(r, x=[], y=[])
        g2.nodes[r]["x"].append(data["x"])
        g2.nodes[r]["y"].append(data["y"])
    for n in g2.nodes:
        g2.nodes[n]["x"] = float(np.mean(g2.nodes[n]["x"]))
        g2.nodes[n]["y"] = float(np.mean(g2.nodes[n]["y"]))
    for u, v in graph.edges:
        if rep[u] != rep[v]:
            g2.add_edge(rep[u], rep[v])
    w2 = workload.groupby(workload.index.map(rep)).sum()
    return g2, w2, rep


def allocate_localities(district_workload: pd.Series, n_localities: int,
                        max_per_district: pd.Series | None = None) -> pd.Series:
    """Share ``n_localities`` between districts so that workload per locality is as even as possible.

    Each district gets at least one locality and at most ``max_per_district`` (its number of
    building blocks). Rule: minimise the largest / smallest workload per locality
    (district workload / its localities). For each candidate smallest value ``m`` (one of the
    ``W_d / j``) a district may take at most ``floor(W_d / m)`` localities; within those caps
    localities are given one at a time to the district with the largest workload per locality
    (D'Hondt, which minimises the largest); the best ratio over all ``m`` is the optimum (ties:
    the first found, largest ``m`` first). Raises ``ValueError`` if ``n_localities`` is below
    the number of districts or above the total blocks.
    Output: localities per district (same index as ``district_workload``).
    """
    w = district_workload.astype(float).sort_index()
    cap = (max_per_district.reindex(w.index).fillna(n_localities).astype(int) if max_per_district is not None
           else pd.Series(n_localities, index=w.index))
    cap = cap.clip(lower=1, upper=n_localities)
    if n_localities < len(w):
        raise ValueError(f"{n_localities} localities asked but the blocks lie in {len(w)} districts: keeping "
                         "districts whole needs at least one locality per district")
    if n_localities > int(cap.sum()):
        raise ValueError(f"{n_localities} localities asked but the districts hold only {int(cap.sum())} blocks")

    def dhondt(upper: np.ndarray) -> np.ndarray | None:
        if upper.sum() < n_localities or (upper < 1).any():
            return None
        k = np.ones(len(w), dtype=int)
        for _ in range(n_localities - len(w)):
            per = np.where(k < upper, w.to_numpy() / k, -np.inf)
            k[int(np.argmax(per))] += 1
        return k

    best_k = dhondt(cap.to_numpy())
    if (w > 0).all():
        ratio = lambda k: float((w / k).max() / (w / k).min())  # noqa: E731
        best = ratio(best_k)
        cands = sorted({wd / j for wd, c in zip(w, cap) for j in range(1, int(c) + 1)}, reverse=True)
        for m in cands:
            k = dhondt(np.minimum(cap.to_numpy(), np.floor(w.to_numpy() / m + 1e-9).astype(int)))
            if k is not None and ratio(k) < best - 1e-12:
                best, best_k = ratio(k), k
    return pd.Series(best_k, index=w.index).reindex(district_workload.index)


def _name_localities(lab: np.ndarray, xy: np.ndarray, k: int) -> np.ndarray:
    """Names ``Locality 01``.. for labels 0..k-1, numbered north to south (then west to east)."""
    cnt = np.maximum(np.bincount(lab, minlength=k), 1)
    cy = np.bincount(lab, weights=xy[:, 1], minlength=k) / cnt
    cx = np.bincount(lab, weights=xy[:, 0], minlength=k) / cnt
    order = np.lexsort((cx, -cy))
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    return np.array([f"Locality {r + 1:02d}" for r in rank])


def _warm_labels(initial, codes, rep, adj, w, xy, k, rng) -> np.ndarray | None:
    """Labels 0..k-1 for the (contracted) blocks ``codes`` from a previous grouping ``initial``
    (block code -> label): split the heaviest or merge the lightest localities until there are ``k``.
    Returns None when the previous grouping cannot be used (no label for any block)."""
    init = pd.Series(initial)
    n = len(codes)
    inverse: dict = {}
    for m, r in rep.items():
        inverse.setdefault(r, []).append(m)
    raw = []
    for c in codes:  # a contracted block takes the label of its first member that has one
        members = [c] if c in init.index else inverse.get(c, [c])
        raw.append(next((init[m] for m in members if m in init.index), None))
    if all(x is None for x in raw):
        return None
    known = pd.Series([x if x is not None else np.nan for x in raw], dtype=object)
    lab = np.full(n, -1)
    ok = known.notna().to_numpy()
    lab[ok] = pd.factorize(known[ok])[0]
    while (lab < 0).any():  # blocks the previous grouping did not have join a labelled neighbour
        changed = False
        for u in np.flatnonzero(lab < 0):
            nb = [lab[v] for v in adj[u] if lab[v] >= 0]
            if nb:
                lab[u] = nb[0]
                changed = True
        if not changed:
            lab[lab < 0] = 0
    lab = pd.factorize(lab)[0]
    # a label whose blocks fell apart is split into its connected pieces
    pieces = []
    for r in range(lab.max() + 1):
        members = np.flatnonzero(lab == r)
        sub = nx.Graph()
        sub.add_nodes_from(members.tolist())
        mset = set(members.tolist())
        sub.add_edges_from((int(u), int(v)) for u in members for v in adj[u] if int(v) in mset)
        pieces.extend(list(c) for c in nx.connected_components(sub))
    lab = np.empty(n, dtype=int)
    for i, p in enumerate(pieces):
        lab[p] = i
    while lab.max() + 1 > k:  # merge the lightest locality into its lightest neighbour
        loads = np.bincount(lab, weights=w)
        order = np.argsort(loads, kind="stable")
        merged = False
        for a in order:
            nbs = {int(lab[v]) for u in np.flatnonzero(lab == a) for v in adj[u]} - {int(a)}
            if nbs:
                b = min(nbs, key=lambda x: loads[x])
                lab[lab == a] = b
                lab = pd.factorize(lab)[0]
                merged = True
                break
        if not merged:
            return None
    while lab.max() + 1 < k:  # split the heaviest locality that can be split in two connected halves
        loads = np.bincount(lab, weights=w)
        done = False
        for a in np.argsort(-loads, kind="stable"):
            nodes = np.flatnonzero(lab == a).tolist()
            if len(nodes) < 2:
                continue
            cut = _tree_split(nodes, adj, w, 0.5, rng, 4)
            if cut is None:
                continue
            lab[cut[1]] = lab.max() + 1
            done = True
            break
        if not done:
            return None
    return lab


def _partition_by_district(graph: nx.Graph, workload: pd.Series, n_localities: int, districts, *, seed: int,
                           keep_together, initial=None, **kwargs) -> pd.DataFrame:
    """Keep every district whole: share the localities between districts (:func:`allocate_localities`)
    and group each district's blocks separately."""
    t0 = time.perf_counter()
    d = pd.Series(districts).reindex(workload.index)
    if d.isna().any():
        raise ValueError(f"no district for {int(d.isna().sum())} blocks, e.g. {d.index[d.isna()][:3].tolist()}")
    groups = [list(g) for g in (keep_together or [])]
    for g in groups:
        if d.reindex([c for c in g if c in d.index]).nunique() > 1:
            raise ValueError(f"keep_together group {g} spans more than one district")
    sizes = {}
    for dist, codes in d.groupby(d).groups.items():
        sub = graph.subgraph(list(codes))
        sizes[dist] = _contract(sub, workload[list(codes)], [g for g in groups if any(c in sub for c in g)])[0].number_of_nodes()
    dw = workload.groupby(d).sum()
    k_d = allocate_localities(dw, n_localities, pd.Series(sizes))
    # each district is grouped on its own, so its own ratio must leave room for the spread between
    # districts' mean locality workloads (B): aim for target / B inside each district
    per = dw / k_d
    spread = float(per.max() / per.min()) if (per > 0).all() else 1.0
    if "target_ratio" in kwargs:
        kwargs = {**kwargs, "target_ratio": max(1.0, kwargs["target_ratio"] / spread)}
    parts, moves, methods = [], 0, set()
    for dist in sorted(k_d.index):
        codes = list(d.index[d == dist])
        sub = graph.subgraph(codes).copy()
        init = None
        if initial is not None:
            init = pd.Series(initial).reindex(codes).dropna()
            init = init if len(init) else None
        part = partition_localities(sub, workload[codes], int(k_d[dist]), seed=seed, initial=init,
                                    keep_together=[g for g in groups if any(c in sub for c in g)] or None, **kwargs)
        moves += part.attrs["moves"]
        methods.add(part.attrs["start_method"])
        parts.append(part.assign(locality=str(dist) + "|" + part["locality"]))
    allp = pd.concat(parts, ignore_index=True).set_index("block_code").reindex(workload.index)
    lab, uniq = pd.factorize(allp["locality"], sort=True)
    xy = np.array([[graph.nodes[c]["x"], graph.nodes[c]["y"]] for c in workload.index])
    names = _name_localities(lab, xy, len(uniq))
    out = pd.DataFrame({"block_code": list(workload.index), "locality": names[lab]})
    per_district = {str(k): int(v) for k, v in k_d.sort_index().items()}
    out.attrs.update(start_method=", ".join(sorted(methods)), moves=int(moves), seconds=time.perf_counter() - t0,
                     seed_used=int(seed), localities_per_district=per_district)
    return out


def partition_localities(graph: nx.Graph, workload: pd.Series, n_localities: int, *, seed: int = 0,
                         start: str = "bisection", restarts: int = 4, target_ratio: float = 1.25,
                         keep_together: Sequence[Sequence[str]] | None = None,
                         max_moves: int | None = None, districts: pd.Series | dict | None = None,
                         initial: pd.Series | dict | None = None) -> pd.DataFrame:
    """Group building blocks into ``n_localities`` contiguous localities with balanced workload.

    Inputs: ``graph`` the contiguity graph of the blocks (nodes = block codes, node attributes
    ``x, y`` in metres, from ``helpers.reference.geography.contiguity_graph``); ``workload`` a Series
    indexed by block code; ``seed`` (same seed, same answer); ``start`` the initial partition:
    ``"regionkmeans"`` (PySAL spopt ``RegionKMeansHeuristic`` on block centroids: compact,
    contiguous, unbalanced) or ``"grow"`` (seeded region growing); ``restarts`` further seeds
    tried (seed+1, ...) if the ratio is still above ``target_ratio``; ``keep_together`` groups
    of block codes that must share a locality; ``districts`` (optional, block code -> district
    code, e.g. LAD21CD; may hold more codes than the blocks) keeps every district whole: each
    locality lies inside one district, the localities are shared between districts by
    :func:`allocate_localities` and each district is grouped on its own (``ValueError`` if
    ``n_localities`` is below the number of districts; ``attrs["localities_per_district"]``).
    Method: the start is improved by :func:`_improve_balance` (moves that keep every locality
    connected and reduce the spread of workloads); the best run (lowest largest/smallest ratio)
    is kept. ``initial`` (optional, block code -> any locality label, e.g. the grouping for
    another number of teams or before a ward was split) is a warm start tried first: its
    localities are split (heaviest first, along a spanning-tree cut) or merged (lightest with its
    lightest neighbour) until there are ``n_localities``, then improved; fresh starts follow only
    while the ratio is above ``target_ratio``. Blocks missing from ``initial`` join a
    neighbouring locality.
    Output: ``block_code, locality`` (``"Locality 01"``.. numbered north to south), with
    ``attrs`` ``start_method``, ``moves``, ``seconds``, ``seed_used``.
    """
    t0 = time.perf_counter()
    if set(graph.nodes) != set(workload.index):
        missing = set(workload.index) ^ set(graph.nodes)
        raise ValueError(f"graph nodes and workload index differ ({len(missing)} codes, e.g. {sorted(missing)[:3]})")
    if districts is not None:
        return _partition_by_district(graph, workload, n_localities, districts, seed=seed, keep_together=keep_together,
                                      start=start, restarts=restarts, target_ratio=target_ratio, max_moves=max_moves,
                                      initial=initial)
    g, wl, rep = _contract(graph, workload, keep_together)
    codes = sorted(g.nodes)
    n = len(codes)
    if not 1 <= n_localities <= n:
        raise ValueError(f"n_localities must be between 1 and {n}, got {n_localities}")
    index = {c: i for i, c in enumerate(codes)}
    w = wl.reindex(codes).astype(float).to_numpy()
    xy = np.array([[g.nodes[c]["x"], g.nodes[c]["y"]] for c in codes])
    adj = [np.array(sorted(index[v] for v in g.neighbors(c)), dtype=int) for c in codes]
    ei = np.concatenate([np.full(len(a), i) for i, a in enumerate(adj)]) if n else np.array([], int)
    ej = np.concatenate(adj) if n else np.array([], int)
    max_moves = max_moves or 50 * n
    k = n_localities
    best = None
    method_used = start
    warm = _warm_labels(initial, codes, rep, adj, w, xy, k, np.random.default_rng(seed)) if initial is not None else None
    for attempt in range(-1 if warm is not None else 0, restarts + 1):
        s = seed + max(attempt, 0)
        lab = None
        if attempt < 0:
            lab = warm
        elif start == "bisection" and nx.is_connected(g):
            lab = _bisection_start(adj, w, k, np.random.default_rng(s))
        elif start == "regionkmeans" and nx.is_connected(g):
            try:
                from libpysal.weights import W
                from spopt.region import RegionKMeansHeuristic

                wobj = W({i: adj[i].tolist() for i in range(n)}, silence_warnings=True)
                z = (xy - xy.mean(axis=0)) / (xy.std(axis=0) + 1e-9)
                model = RegionKMeansHeuristic(z, k, wobj, drop_islands=True, seed=s)  # graph is connected: no islands
                model.solve()
                lab = np.asarray(model.labels_, dtype=int)
                if len(np.unique(lab)) != k:
                    lab = None
                else:
                    lab = np.unique(lab, return_inverse=True)[1]
            except Exception:  # spopt can fail on unusual graphs; fall back to region growing
                lab = None
        if lab is None:
            method_used = "grow" if start == "grow" else f"grow (fallback from {start})"
            lab = _grow_start(adj, xy, k, np.random.default_rng(s))
        lab, moves = _improve_balance(lab.copy(), w, adj, ei, ej, xy, k, max_moves)
        loads = np.bincount(lab, weights=w, minlength=k)
        ratio = loads.max() / loads.min() if loads.min() > 0 else np.inf
        if best is None or ratio < best[0] - 1e-12:
            best = (ratio, lab.copy(), moves, s)
            if attempt < 0:
                method_used = "warm start"
        if ratio <= target_ratio:
            break
    _, lab, moves, seed_used = best
    # name localities north to south (then west to east) so labels read naturally on a map
    names = _name_localities(lab, xy, k)
    by_rep = dict(zip(codes, names[lab]))
    out = pd.DataFrame({"block_code": list(workload.index)})
    out["locality"] = out["block_code"].map(lambda c: by_rep[rep[c]])
    out.attrs.update(start_method=method_used, moves=int(moves), seconds=time.perf_counter() - t0,
                     seed_used=int(seed_used))
    return out


def contiguity_check(graph: nx.Graph, assignment: pd.DataFrame) -> pd.DataFrame:
    """Check, per locality, that its blocks form one connected piece of the contiguity graph.

    Output: ``locality, n_blocks, n_parts, contiguous`` (``contiguous`` = exactly one part).
    """
    rows = []
    for loc, grp in assignment.groupby("locality", sort=True):
        sub = graph.subgraph(grp["block_code"].tolist())
        parts = nx.number_connected_components(sub) if len(sub) else 0
        rows.append((loc, len(grp), parts, parts == 1))
    return pd.DataFrame(rows, columns=["locality", "n_blocks", "n_parts", "contiguous"])


def balance_metrics(assignment: pd.DataFrame, workload: pd.Series) -> dict[str, float]:
    """Largest and smallest locality workload, their ratio, and the coefficient of variation.

    Output: ``{"largest", "smallest", "ratio_max_min", "cv", "n_localities"}``; CV uses the
    population standard deviation (ddof = 0).
    """
    loads = assignment.assign(w=assignment["block_code"].map(workload).astype(float)).groupby("locality")["w"].sum()
    smallest = float(loads.min())
    return {"largest": float(loads.max()), "smallest": smallest,
            "ratio_max_min": float(loads.max() / smallest) if smallest > 0 else math.inf,
            "cv": float(loads.std(ddof=0) / loads.mean()) if loads.mean() > 0 else math.nan,
            "n_localities": int(len(loads))}


def polsby_popper(areas, id_col: str, assignment: pd.DataFrame) -> pd.DataFrame:
    """Compactness of each locality: Polsby-Popper 4 pi A / P^2 of the dissolved blocks in EPSG:27700.

    Output: ``locality, area_km2, perimeter_km, polsby_popper``.
    """
    projected = areas[[id_col, "geometry"]].to_crs("EPSG:27700")
    # reprojection can leave self-touching rings invalid; repair so the union does not fail
    projected["geometry"] = projected.geometry.make_valid()
    merged = projected.merge(assignment, left_on=id_col, right_on="block_code")
    dissolved = merged.dissolve(by="locality")
    area = dissolved.geometry.area
    perim = dissolved.geometry.length
    return pd.DataFrame({"locality": dissolved.index, "area_km2": (area / 1e6).to_numpy(),
                         "perimeter_km": (perim / 1e3).to_numpy(),
                         "polsby_popper": (4 * np.pi * area / perim ** 2).to_numpy()}).reset_index(drop=True)


def strip_baseline(graph: nx.Graph, workload: pd.Series, n_localities: int) -> pd.DataFrame:
    """Simple baseline: sort blocks west to east (or south to north, whichever span is longer) and cut
    into ``n_localities`` strips of roughly equal cumulative workload. Contiguity is not guaranteed.

    Output: ``block_code, locality``.
    """
    codes = list(workload.index)
    x = np.array([graph.nodes[c]["x"] for c in codes])
    y = np.array([graph.nodes[c]["y"] for c in codes])
    key = x if np.ptp(x) >= np.ptp(y) else y
    order = np.argsort(key, kind="mergesort")
    w = workload.to_numpy(dtype=float)[order]
    cum = np.cumsum(w) - w / 2  # block midpoints on the cumulative scale
    strip = np.minimum((cum / w.sum() * n_localities).astype(int), n_localities - 1)
    lab = np.empty(len(codes), dtype=int)
    lab[order] = strip
    return pd.DataFrame({"block_code": codes, "locality": [f"Strip {s + 1:02d}" for s in lab]})


def sweep_counts(bounds: Sequence[int], step: int, always: int) -> list[int]:
    """Numbers of localities for the balance sweep: ``bounds[0]`` to ``bounds[1]`` inclusive in
    steps of ``step``, always including ``always`` (the configured number of teams).
    ``sweep_counts([12, 30], 2, 21)`` -> 12, 14, ..., 20, 21, 22, ..., 30."""
    lo, hi = int(bounds[0]), int(bounds[1])
    if step < 1 or lo > hi:
        raise ValueError(f"sweep must be [low, high] with low <= high and a step of at least 1, got {list(bounds)} step {step}")
    return sorted(set(range(lo, hi + 1, step)) | ({int(always)} if lo <= always <= hi else set()))


def sweep_localities(graph: nx.Graph, workload: pd.Series, counts: Iterable[int], *, seed: int = 0,
                     **kwargs) -> pd.DataFrame:
    """Partition for each number of localities and report balance and contiguity.

    Output: ``n_localities, ratio_max_min, cv, all_contiguous, seconds``.
    """
    rows = []
    for k in counts:
        part = partition_localities(graph, workload, int(k), seed=seed, **kwargs)
        bal = balance_metrics(part, workload)
        rows.append({"n_localities": int(k), "ratio_max_min": bal["ratio_max_min"], "cv": bal["cv"],
                     "all_contiguous": bool(contiguity_check(graph, part)["contiguous"].all()),
                     "seconds": part.attrs["seconds"]})
    return pd.DataFrame(rows)


@dataclass
class LocalityPlan:
    """The chosen grouping: ``assignment`` (``block_code, locality``), the ``building_block``
    used (``"ward"`` or ``"lsoa"``), ``ward_ratio`` (largest/smallest reached from wards, NaN if
    not tried), ``fell_back`` (wards could not reach the target, so LSOAs were used) and ``seconds``."""

    assignment: pd.DataFrame
    building_block: str
    ward_ratio: float
    fell_back: bool
    seconds: float


def plan_localities(ward_graph: nx.Graph, ward_workload: pd.Series, lsoa_graph: nx.Graph | None,
                    lsoa_workload: pd.Series | None, n_localities: int, *, building_block: str = "auto",
                    target_ratio: float = 1.25, seed: int = 0, **kwargs) -> LocalityPlan:
    """Group wards into localities, or LSOAs when wards are too coarse for the balance asked.

    ``building_block``: ``"ward"``, ``"lsoa"`` or ``"auto"`` (wards first; LSOAs if the ward
    grouping's largest/smallest workload ratio is above ``target_ratio``, or if there are fewer
    wards than localities). Other keyword arguments go to :func:`partition_localities`.
    """
    t0 = time.perf_counter()
    ward_ratio = math.nan
    if building_block in ("ward", "auto") and n_localities <= ward_graph.number_of_nodes():
        part = partition_localities(ward_graph, ward_workload, n_localities, seed=seed, target_ratio=target_ratio, **kwargs)
        ward_ratio = balance_metrics(part, ward_workload)["ratio_max_min"]
        if building_block == "ward" or ward_ratio <= target_ratio or lsoa_graph is None:
            return LocalityPlan(part, "ward", ward_ratio, False, time.perf_counter() - t0)
    elif building_block == "ward":
        raise ValueError(f"{n_localities} localities but only {ward_graph.number_of_nodes()} wards")
    if lsoa_graph is None or lsoa_workload is None:
        raise ValueError("LSOA building blocks asked for but no LSOA graph given")
    part = partition_localities(lsoa_graph, lsoa_workload, n_localities, seed=seed, target_ratio=target_ratio, **kwargs)
    return LocalityPlan(part, "lsoa", ward_ratio, building_block == "auto", time.perf_counter() - t0)


def ward_to_locality(lsoa_assignment: pd.DataFrame, lsoa_wards: pd.DataFrame, workload: pd.Series) -> pd.DataFrame:
    """Ward-to-locality table when localities are built from LSOAs.

    Inputs: ``lsoa_assignment`` (``block_code`` = LSOA code, ``locality``); ``lsoa_wards``
    (``lsoa_code, ward_code``); LSOA ``workload``. Each ward goes to the locality holding the
    largest share of its workload (ties: the locality named first; wards with no workload: the
    locality with most of its LSOAs).
    Output: ``ward_code, locality, share, split`` (``share`` of the ward's workload in that
    locality; ``split`` = the ward's LSOAs span more than one locality).
    """
    f = lsoa_assignment.merge(lsoa_wards[["lsoa_code", "ward_code"]], left_on="block_code", right_on="lsoa_code")
    f["w"] = f["block_code"].map(workload).astype(float).fillna(0) + 1e-9  # tiny weight breaks all-zero wards by count
    by = f.groupby(["ward_code", "locality"], as_index=False)["w"].sum()
    by["share"] = by["w"] / by.groupby("ward_code")["w"].transform("sum")
    n_loc = by.groupby("ward_code")["locality"].transform("size")
    by = by.assign(split=n_loc > 1).sort_values(["ward_code", "share", "locality"], ascending=[True, False, True])
    return by.drop_duplicates("ward_code")[["ward_code", "locality", "share", "split"]].reset_index(drop=True)


# ---------------------------------------------------------------------------
# 4b. Whole wards first: split only the wards balance needs, and say so
# ---------------------------------------------------------------------------


def block_graph(lsoa_graph: nx.Graph, block_of: pd.Series | dict) -> nx.Graph:
    """Contiguity graph of building blocks made of LSOAs (whole wards, single LSOAs, or a mix).

    Inputs: the LSOA contiguity graph (from ``helpers.reference.geography.contiguity_graph``, rook by default
    in :func:`size_localities`) and ``block_of`` (LSOA code -> block code). Two blocks are neighbours
    when any of their LSOAs are; the edge carries ``bridge=True`` only when every LSOA edge behind it
    is an explicit island link. Node ``x, y``: mean of the LSOA centroids.
    """
    block_of = dict(block_of)
    g = nx.Graph()
    acc: dict = {}
    for n, d in lsoa_graph.nodes(data=True):
        a = acc.setdefault(block_of[n], [0.0, 0.0, 0])
        a[0] += d["x"]
        a[1] += d["y"]
        a[2] += 1
    for b, (x, y, c) in acc.items():
        g.add_node(b, x=x / c, y=y / c)
    for u, v, d in lsoa_graph.edges(data=True):
        bu, bv = block_of[u], block_of[v]
        if bu == bv:
            continue
        bridge = bool(d.get("bridge", False))
        if g.has_edge(bu, bv):
            g[bu][bv]["bridge"] = g[bu][bv]["bridge"] and bridge
        else:
            g.add_edge(bu, bv, bridge=bridge)
    return g


def block_workload(lsoa_ward: pd.Series, ward_work: pd.Series, lsoa_work: pd.Series, split: Iterable[str]) -> pd.Series:
    """Workload per building block when the wards in ``split`` are divided into their LSOAs.

    A whole ward keeps the ward model's projected workload; a split ward's workload is shared
    between its LSOAs in proportion to the LSOA model's projection (equally if that is zero), so
    block workloads always add up to the ward figures. Output: Series indexed by block code.
    """
    split = set(split)
    lw = lsoa_ward.astype(str)
    own = lsoa_work.reindex(lw.index).fillna(0.0).astype(float).clip(lower=0)
    ward_sum = own.groupby(lw).transform("sum")
    n_in = own.groupby(lw).transform("size")
    share = np.where(ward_sum > 0, own / ward_sum.where(ward_sum > 0, 1.0), 1.0 / n_in)
    lsoa_part = pd.Series(share, index=lw.index) * lw.map(ward_work).astype(float).to_numpy()
    whole = ward_work[[w for w in ward_work.index if w not in split]].astype(float)
    parts = lsoa_part[lw.isin(split).to_numpy()]
    return pd.concat([whole, parts])


def ratio_lower_bound(workload: pd.Series, n_localities: int, districts: pd.Series | None = None) -> float:
    """A ratio (largest / smallest locality workload) that no grouping of these blocks can beat.

    Two proven bounds, the larger is returned: (a) the locality holding the heaviest block carries
    at least its workload w_max, and some other locality at most the average of the rest,
    (W - w_max) / (k - 1), so the ratio is at least w_max (k - 1) / (W - w_max); (b) with
    ``districts`` (block -> district) kept whole, a district given k_d localities has one at
    least W_d / k_d and one at most W_d / k_d, so the ratio is at least the best
    :func:`allocate_localities` share-out's max/min of W_d / k_d.
    """
    w = workload.astype(float)
    k = int(n_localities)
    total, top = float(w.sum()), float(w.max())
    bound = 1.0
    if k > 1 and total - top > 0:
        bound = max(bound, top * (k - 1) / (total - top))
    if districts is not None:
        d = pd.Series(districts).reindex(w.index)
        dw = w.groupby(d).sum()
        if k >= len(dw) and (dw > 0).all():
            alloc = allocate_localities(dw, k, w.groupby(d).size())
            per = dw / alloc
            bound = max(bound, float(per.max() / per.min()))
    return bound


@dataclass
class SplitPlan:
    """A grouping built from whole wards first (:func:`plan_whole_wards_first`).

    ``assignment``: ``block_code, block_type`` (``"ward"`` or ``"lsoa"``), ``ward_code, locality``,
    one row per building block. ``lsoa_assignment``: ``lsoa_code, ward_code, block_code, locality``,
    one row per LSOA. ``split_wards``: ``ward_code, n_localities, reason`` for each ward whose
    LSOAs lie in more than one locality. ``whole_ward_ratio``: the best ratio found from whole
    wards only; ``ratio``: the plan's ratio; ``lower_bound``: :func:`ratio_lower_bound` for the
    blocks used; ``whole_ward_bound``: the same for whole wards; ``meets_target``; ``history``:
    ``n_split, ratio`` after each step of the search; ``graph``, ``workload`` of the blocks;
    ``building_block`` (``"ward"``, ``"ward+lsoa"`` or ``"lsoa"``), ``seconds``.
    """

    assignment: pd.DataFrame
    lsoa_assignment: pd.DataFrame
    split_wards: pd.DataFrame
    whole_ward_ratio: float
    ratio: float
    lower_bound: float
    whole_ward_bound: float
    meets_target: bool
    history: pd.DataFrame
    graph: nx.Graph
    workload: pd.Series
    building_block: str
    target_ratio: float
    n_localities: int
    seconds: float
    whole_ward_assignment: pd.DataFrame | None = None

    @property
    def ward_ratio(self) -> float:
        """The best ratio from whole wards (as :class:`LocalityPlan`)."""
        return self.whole_ward_ratio

    @property
    def fell_back(self) -> bool:
        """Some wards had to be split (as :class:`LocalityPlan`)."""
        return bool(len(self.split_wards))


def _block_map(lsoa_ward: pd.Series, split: set) -> pd.Series:
    lw = lsoa_ward.astype(str)
    return pd.Series(np.where(lw.isin(split), lw.index.astype(str), lw.to_numpy()), index=lw.index)


def plan_whole_wards_first(lsoa_graph: nx.Graph, lsoa_ward: pd.Series, ward_work: pd.Series, lsoa_work: pd.Series,
                           n_localities: int, *, building_block: str = "auto", target_ratio: float = 1.25,
                           seed: int = 0, districts: pd.Series | None = None,
                           keep_together: Sequence[Sequence[str]] | None = None, max_split: int | None = None,
                           restarts: int = 4, patience: int = 3) -> SplitPlan:
    """Group whole wards into localities; split only the wards balance needs, along LSOA lines.

    Inputs: the LSOA contiguity graph; ``lsoa_ward`` (LSOA code -> ward code, every LSOA of the
    graph); projected workload by ward and by LSOA (:func:`block_workload` shares a split ward's
    workload between its LSOAs); ``building_block``: ``"ward"`` (strict: whole wards only, report
    the best ratio), ``"lsoa"`` (every ward split) or ``"auto"``; ``districts`` (ward and LSOA
    code -> district) keeps districts whole; ``keep_together`` groups of ward codes (never split).

    Method (``"auto"``): group whole wards (:func:`partition_localities`). While the ratio is above
    ``target_ratio``, split the heaviest ward not yet split that lies in the busiest locality or
    borders the quietest (else the heaviest anywhere), and regroup, warm-started from the previous
    grouping. The search stops at the target, when no ward is left to split, after ``max_split``
    splits, or after ``patience`` splits in a row that did not improve the ratio (those are undone);
    it also stops when the ratio reaches the lower bound for the blocks. Then each split ward is
    tried whole again (lightest first) and kept whole if the target still holds, and a ward whose
    LSOAs all fell in one locality is reported whole.
    Output: a :class:`SplitPlan`.
    """
    t0 = time.perf_counter()
    lsoa_ward = lsoa_ward.astype(str)
    if set(lsoa_ward.index) != set(lsoa_graph.nodes):
        raise ValueError("lsoa_ward must cover exactly the LSOAs of the graph")
    if building_block not in ("ward", "lsoa", "auto"):
        raise ValueError(f"building_block must be 'ward', 'lsoa' or 'auto', got {building_block!r}")
    wards = sorted(lsoa_ward.unique())
    n_lsoas_in = lsoa_ward.groupby(lsoa_ward).size()
    protected = {str(c) for grp in (keep_together or []) for c in grp}
    mean = float(ward_work.sum()) / n_localities

    def run(split: set, initial=None):
        bmap = _block_map(lsoa_ward, split)
        g = block_graph(lsoa_graph, bmap)
        wl = block_workload(lsoa_ward, ward_work, lsoa_work, split).reindex(list(g.nodes)).fillna(0.0)
        groups = [[c for c in grp if c in g] for grp in (keep_together or [])]
        groups = [grp for grp in groups if len(grp) > 1] or None
        dist = None if districts is None else pd.Series(districts).reindex(list(g.nodes))
        if not 1 <= n_localities <= g.number_of_nodes():
            raise ValueError(f"{n_localities} localities but only {g.number_of_nodes()} building blocks")
        init = None
        if initial is not None:  # previous block -> locality, expressed on the new blocks through the LSOAs
            per_lsoa = _prev_block.reindex(bmap.index).map(initial)
            init = per_lsoa.groupby(bmap).first().dropna()
        part = partition_localities(g, wl, n_localities, seed=seed, target_ratio=target_ratio, restarts=restarts,
                                    keep_together=groups, districts=dist, initial=init)
        ratio = balance_metrics(part, wl)["ratio_max_min"]
        return part, ratio, g, wl, bmap

    def effective_split(part: pd.DataFrame, bmap: pd.Series) -> set:
        per_lsoa = bmap.map(part.set_index("block_code")["locality"])
        return set(per_lsoa.groupby(lsoa_ward).nunique().loc[lambda s: s > 1].index)

    whole_bound = ratio_lower_bound(ward_work.reindex(wards).fillna(0.0), n_localities,
                                    None if districts is None else pd.Series(districts).reindex(wards))
    split: set = set() if building_block != "lsoa" else {w for w in wards if n_lsoas_in[w] > 1}
    _prev_block = _block_map(lsoa_ward, split)
    part, ratio, g, wl, bmap = run(split)
    whole_ratio = ratio if building_block != "lsoa" else math.nan
    whole_part = part if building_block != "lsoa" else None
    history = [(len(split), ratio, "")]
    reasons: dict[str, str] = {}
    if building_block == "auto":
        limit = max_split if max_split is not None else len(wards)
        best = (ratio, set(split), part, g, wl, bmap)
        stale = 0
        # no split can beat the bound for the finest blocks (every splittable ward in LSOAs)
        fine = block_workload(lsoa_ward, ward_work, lsoa_work, {w for w in wards if w not in protected})
        fine_bound = ratio_lower_bound(fine, n_localities, None if districts is None else pd.Series(districts).reindex(fine.index))
        while ratio > target_ratio + 1e-12 and len(split) < limit and stale < patience:
            if ratio <= fine_bound * 1.001:
                break
            cand = [w for w in wards if w not in split and w not in protected and n_lsoas_in[w] > 1]
            if not cand:
                break
            loads = part.assign(w=part["block_code"].map(wl)).groupby("locality")["w"].sum()
            busiest, quietest = loads.idxmax(), loads.idxmin()
            loc_of = part.set_index("block_code")["locality"]
            # which end can move: the busiest locality cannot go below its district's (or the council's)
            # mean locality workload, nor the quietest above it
            if districts is None:
                floor_busy = ceil_quiet = mean
                same = lambda a, b: True  # noqa: E731
            else:
                dist_of = pd.Series(districts).reindex(loc_of.index)
                loc_dist = dist_of.groupby(loc_of).first()
                per_d = wl.groupby(dist_of).sum() / loc_dist.value_counts()
                floor_busy, ceil_quiet = per_d[loc_dist[busiest]], per_d[loc_dist[quietest]]
                same = lambda a, b: loc_dist[a] == loc_dist[b]  # noqa: E731
            near_quiet = {loc_of[v] for u in loc_of.index[loc_of == quietest] for v in g.neighbors(u)}
            near_quiet = {x for x in near_quiet if same(x, quietest)} - {quietest}
            near_busy = {loc_of[v] for u in loc_of.index[loc_of == busiest] for v in g.neighbors(u)}
            near_busy = {x for x in near_busy if same(x, busiest)}
            top_room = loads[busiest] / max(floor_busy, 1e-12)
            bottom_room = ceil_quiet / max(loads[quietest], 1e-12)
            focus = ({busiest} | near_busy) if top_room >= bottom_room else ({quietest} | near_quiet)
            ward_loc = {wd: loc_of.get(wd) for wd in cand}
            pick_from = [wd for wd in cand if ward_loc[wd] in focus] or cand
            pick = max(pick_from, key=lambda wd: (float(ward_work.get(wd, 0.0)), wd))
            reasons[pick] = (f"{float(ward_work.get(pick, 0.0)):.0f} projected cases, {float(ward_work.get(pick, 0.0)) / mean:.0%} "
                             f"of an average locality's workload; with it whole the best grouping found had a ratio of {ratio:.2f}")
            _prev_block = bmap
            previous = part.set_index("block_code")["locality"].to_dict()
            split.add(pick)
            part, ratio, g, wl, bmap = run(split, previous)
            history.append((len(split), ratio, pick))
            if ratio < best[0] - 0.005:
                best = (ratio, set(split), part, g, wl, bmap)
                stale = 0
            else:
                stale += 1
        if ratio > best[0] + 1e-12 or stale:  # undo splits that did not help
            ratio, split, part, g, wl, bmap = best[0], set(best[1]), best[2], best[3], best[4], best[5]
        # wards whose LSOAs all fell in one locality are whole after all
        eff = effective_split(part, bmap)
        if eff != split:
            _prev_block = bmap
            previous = part.set_index("block_code")["locality"].to_dict()
            split = set(eff)
            bmap = _block_map(lsoa_ward, split)
            per_lsoa = pd.Series(bmap.index.map(lambda l_: previous[_prev_block[l_]]), index=bmap.index)
            assign = per_lsoa.groupby(bmap).first()
            g = block_graph(lsoa_graph, bmap)
            wl = block_workload(lsoa_ward, ward_work, lsoa_work, split).reindex(list(g.nodes)).fillna(0.0)
            part = pd.DataFrame({"block_code": list(g.nodes)})
            part["locality"] = part["block_code"].map(assign)
            ratio = balance_metrics(part, wl)["ratio_max_min"]
        # try each split ward whole again, lightest first: keep it whole if the target still holds
        if ratio <= target_ratio + 1e-12:
            for wd in sorted(split, key=lambda x: (float(ward_work.get(x, 0.0)), x)):
                trial = split - {wd}
                _prev_block = bmap
                previous = part.set_index("block_code")["locality"].to_dict()
                p2, r2, g2, wl2, b2 = run(trial, previous)
                if r2 <= target_ratio + 1e-12:
                    eff2 = effective_split(p2, b2)
                    if eff2 == trial:
                        split, part, ratio, g, wl, bmap = trial, p2, r2, g2, wl2, b2
                        history.append((len(split), ratio, f"{wd} whole again"))
    lsoa_loc = bmap.map(part.set_index("block_code")["locality"])
    eff = effective_split(part, bmap)
    n_loc = lsoa_loc.groupby(lsoa_ward).nunique()
    split_rows = [(wd, int(n_loc[wd]), reasons.get(wd, "every ward is divided into its LSOAs" if building_block == "lsoa"
                                                  else "split in the search"))
                  for wd in sorted(eff)]
    btype = pd.Series(np.where(part["block_code"].isin(wards), "ward", "lsoa"), index=part.index)
    assignment = pd.DataFrame({"block_code": part["block_code"], "block_type": btype,
                               "ward_code": part["block_code"].map(lambda b: b if b in n_lsoas_in.index else lsoa_ward[b]),
                               "locality": part["locality"]}).sort_values(["locality", "block_code"]).reset_index(drop=True)
    lsoa_assignment = pd.DataFrame({"lsoa_code": lsoa_ward.index, "ward_code": lsoa_ward.to_numpy(),
                                    "block_code": bmap.reindex(lsoa_ward.index).to_numpy(),
                                    "locality": lsoa_loc.reindex(lsoa_ward.index).to_numpy()})
    bound = ratio_lower_bound(wl, n_localities, None if districts is None else pd.Series(districts).reindex(wl.index))
    kind = "ward" if not split else ("lsoa" if building_block == "lsoa" else "ward+lsoa")
    return SplitPlan(assignment=assignment, lsoa_assignment=lsoa_assignment,
                     split_wards=pd.DataFrame(split_rows, columns=["ward_code", "n_localities", "reason"]),
                     whole_ward_ratio=whole_ratio, ratio=float(ratio), lower_bound=bound, whole_ward_bound=whole_bound,
                     meets_target=bool(ratio <= target_ratio + 1e-12),
                     history=pd.DataFrame(history, columns=["n_split", "ratio", "step"]), graph=g, workload=wl,
                     building_block=kind, target_ratio=float(target_ratio), n_localities=int(n_localities),
                     seconds=time.perf_counter() - t0, whole_ward_assignment=whole_part)


def sweep_plans(graph: nx.Graph, workload: pd.Series, counts: Iterable[int], *, seed: int = 0, target_ratio: float = 1.25,
                districts: pd.Series | None = None, restarts: int = 0, start_from: pd.DataFrame | None = None,
                **kwargs) -> pd.DataFrame:
    """Balance for each number of localities, cheaply: one graph, each grouping warm-started from the last.

    The numbers are visited outwards from the one nearest ``start_from``'s size (or the smallest):
    each grouping starts from its neighbour's (split the heaviest locality, or merge the lightest,
    then improve), with ``restarts`` fresh starts only while above ``target_ratio``.
    Output: ``n_localities, ratio_max_min, cv, all_contiguous, lower_bound, seconds`` sorted by number.
    """
    ks = sorted({int(k) for k in counts if 1 <= int(k) <= graph.number_of_nodes()})
    if not ks:
        return pd.DataFrame(columns=["n_localities", "ratio_max_min", "cv", "all_contiguous", "lower_bound", "seconds"])
    rows = {}
    anchor = start_from["locality"].nunique() if start_from is not None else ks[0]
    pivot = min(ks, key=lambda k: (abs(k - anchor), k))
    seed_part = start_from.set_index("block_code")["locality"] if start_from is not None else None
    for direction in (sorted([k for k in ks if k >= pivot]), sorted([k for k in ks if k < pivot], reverse=True)):
        prev = seed_part
        for k in direction:
            part = partition_localities(graph, workload, k, seed=seed, target_ratio=target_ratio, restarts=restarts,
                                        districts=districts, initial=prev, **kwargs)
            bal = balance_metrics(part, workload)
            rows[k] = {"n_localities": k, "ratio_max_min": bal["ratio_max_min"], "cv": bal["cv"],
                       "all_contiguous": bool(contiguity_check(graph, part)["contiguous"].all()),
                       "lower_bound": ratio_lower_bound(workload, k, districts),
                       "seconds": part.attrs["seconds"]}
            prev = part.set_index("block_code")["locality"]
    return pd.DataFrame([rows[k] for k in ks])


def teams_reaching_target(sweep: pd.DataFrame, n_localities: int, target_ratio: float) -> dict:
    """From a sweep (:func:`sweep_plans`): the numbers of teams nearest ``n_localities`` that reach the target.

    Output: ``{"fewer": k or None, "more": k or None, "smallest": k or None}`` - the largest number
    below ``n_localities`` that reaches ``target_ratio``, the smallest above it, and the smallest
    number at or above ``n_localities`` (None when none in the sweep does).
    """
    ok = sweep.loc[sweep["ratio_max_min"] <= target_ratio + 1e-12, "n_localities"].astype(int)
    below = ok[ok < n_localities]
    above = ok[ok > n_localities]
    at_or_above = ok[ok >= n_localities]
    return {"fewer": int(below.max()) if len(below) else None, "more": int(above.min()) if len(above) else None,
            "smallest": int(at_or_above.min()) if len(at_or_above) else None}


def district_teams_needed(district_workload: pd.Series, target_ratio: float, start: int,
                          max_per_district: pd.Series | None = None, limit: int | None = None) -> int | None:
    """Smallest number of localities, from ``start`` up, at which districts kept whole allow ``target_ratio``
    (the :func:`allocate_localities` share-out's max/min of district workload per locality); None if
    none up to ``limit`` (default: the number of blocks) does."""
    dw = district_workload.astype(float)
    top = int(max_per_district.sum()) if max_per_district is not None else (limit or 10 * len(dw))
    top = min(top, limit) if limit else top
    for k in range(max(int(start), len(dw)), top + 1):
        alloc = allocate_localities(dw, k, max_per_district)
        per = dw / alloc
        if float(per.max() / per.min()) <= target_ratio + 1e-12:
            return k
    return None


def ward_locality_shares(lsoa_assignment: pd.DataFrame, lsoa_work: pd.Series, lsoa_children: pd.Series) -> pd.DataFrame:
    """Ward table of the grouping as used: one row per ward and locality holding part of it.

    Inputs: ``lsoa_assignment`` (``lsoa_code, ward_code, locality``), workload and children by LSOA.
    Output: ``ward_code, locality, share_workload, share_children, split`` - the locality's share of
    the ward's projected workload and of its children (1.0 for a whole ward); ``split`` = the ward
    lies in more than one locality. Rows sorted by ward, largest share first.
    """
    f = lsoa_assignment[["lsoa_code", "ward_code", "locality"]].copy()
    f["w"] = f["lsoa_code"].map(lsoa_work).astype(float).fillna(0.0)
    f["c"] = f["lsoa_code"].map(lsoa_children).astype(float).fillna(0.0)
    by = f.groupby(["ward_code", "locality"], as_index=False)[["w", "c"]].sum()
    tw = by.groupby("ward_code")["w"].transform("sum")
    tc = by.groupby("ward_code")["c"].transform("sum")
    n = by.groupby("ward_code")["locality"].transform("size")
    by["share_workload"] = np.where(tw > 0, by["w"] / tw.where(tw > 0, 1.0), 1.0 / n)
    by["share_children"] = np.where(tc > 0, by["c"] / tc.where(tc > 0, 1.0), 1.0 / n)
    by["split"] = n > 1
    by = by.sort_values(["ward_code", "share_workload", "locality"], ascending=[True, False, True])
    return by[["ward_code", "locality", "share_workload", "share_children", "split"]].reset_index(drop=True)


def locality_names(ward_shares: pd.DataFrame, ward_names: pd.Series, ward_children: pd.Series,
                   overrides: dict | None = None) -> pd.Series:
    """A name members recognise for each locality: its largest ward.

    Inputs: ``ward_shares`` (:func:`ward_locality_shares`), ward code -> name, ward code -> children;
    ``overrides`` (config ``[locality.names]``): keys a locality key (``"07"`` or ``"Locality 07"``)
    or a ward code (the locality holding most of that ward's children), values the name to use.
    Rule: wards ranked by the children they bring to the locality (ward children x share), whole
    wards and a split ward's main part (the locality holding most of its work) before other parts;
    the name is the first ward's ("Aylesbury North West"), marked "(part)" when only a minor part
    of a split ward. Names that would repeat get the second ward's name ("Abbey & Chiltern
    Villages"), then the locality's number.
    Output: Series locality -> name.
    """
    f = ward_shares.copy()
    f["kids"] = f["ward_code"].map(ward_children).astype(float).fillna(0.0) * f["share_children"]
    f["main"] = ~f.duplicated("ward_code")            # rows are sorted largest share first
    f["label"] = f["ward_code"].map(ward_names).fillna(f["ward_code"]).astype(str)
    f.loc[~f["main"], "label"] = f.loc[~f["main"], "label"] + " (part)"
    f = f.sort_values(["locality", "main", "kids", "ward_code"], ascending=[True, False, False, True])
    first = f.groupby("locality", sort=True)["label"].first()
    second = f.groupby("locality", sort=True)["label"].nth(1)
    second = pd.Series(second.to_numpy(), index=f.loc[second.index, "locality"]) if len(second) else pd.Series(dtype=object)
    out = first.copy()
    dup = out.duplicated(keep=False)
    for l_ in out.index[dup]:
        if l_ in second.index:
            out[l_] = f"{first[l_]} & {second[l_]}"
    for key, value in (overrides or {}).items():
        key = str(key)
        hit = [l_ for l_ in out.index if l_ == key or str(l_).split()[-1] == key.split()[-1].zfill(2)]
        if not hit and key in set(f["ward_code"]):
            hit = [f.loc[f["ward_code"] == key].sort_values("share_children", ascending=False)["locality"].iloc[0]]
        if not hit:
            raise ValueError(f"locality name override {key!r} matches no locality number or ward code")
        out[hit[0]] = str(value)
    dup = out.duplicated(keep=False)
    out[dup] = [f"{v} ({str(k).split()[-1]})" for k, v in out[dup].items()]
    return out


def allocate_posts(fte: pd.Series) -> pd.Series:
    """Whole posts for one role, shared out across localities at council level.

    Rule: the council needs ``ceil(total FTE)`` posts (so total posts exceed total FTE by less
    than one); each locality gets the whole part of its FTE, and the remaining posts go to the
    localities with the largest fractional parts (largest-remainder method; ties: the locality
    listed first). A locality left with 0 posts of a role is covered by a post shared with a
    neighbouring locality. Output: integer Series, same index as ``fte``.
    """
    f = fte.astype(float).clip(lower=0)
    total = int(math.ceil(float(f.sum()) - 1e-9))
    base = np.floor(f + 1e-9).astype(int)
    left = total - int(base.sum())
    rem = (f - base).to_numpy()
    order = np.lexsort((np.arange(len(f)), -rem))
    out = base.to_numpy().copy()
    out[order[:max(left, 0)]] += 1
    return pd.Series(out, index=fte.index, dtype=int)


#: Roles, their FTE and posts columns, in the order they are shown.
ROLES = {"social_workers": "Social workers", "family_support_workers": "Family support workers",
         "senior_practitioners": "Senior practitioners", "team_managers": "Team managers"}


def establishment(localities: pd.DataFrame, cases_col: str = "projected_cases", name_col: str | None = None,
                  **staffing: float) -> pd.DataFrame:
    """FTE and whole posts by role for each locality and the council (for costing, e.g. workforce cost).

    Inputs: one row per locality with ``locality`` and ``cases_col``; staffing parameters as in
    :func:`staffing_fte`. FTE per locality come from :func:`staffing_fte`; whole posts per role
    are shared out at council level by :func:`allocate_posts`, so each role's total posts exceed
    its total FTE by less than one post.
    Output (long): ``locality`` (and ``name_col`` if given; the last rows are ``"Council total"``),
    ``role`` (a key of :data:`ROLES`), ``fte``, ``posts``.
    """
    fte = staffing_fte(localities[["locality", cases_col] + ([name_col] if name_col else [])], cases_col, **staffing)
    rows = []
    for role in ROLES:
        posts = allocate_posts(fte[f"fte_{role}"])
        part = fte[["locality"] + ([name_col] if name_col else [])].assign(role=role, fte=fte[f"fte_{role}"].to_numpy(),
                                                                          posts=posts.to_numpy())
        total = {"locality": "Council total", "role": role, "fte": float(fte[f"fte_{role}"].sum()), "posts": int(posts.sum())}
        if name_col:
            total[name_col] = "Council total"
        rows.append(pd.concat([part, pd.DataFrame([total])], ignore_index=True))
    out = pd.concat(rows, ignore_index=True)
    out["posts"] = out["posts"].astype(int)
    return out


def establishment_wide(est: pd.DataFrame) -> pd.DataFrame:
    """:func:`establishment` as one row per locality (council total last): ``fte_<role>``, ``posts_<role>``."""
    keys = [c for c in est.columns if c not in ("role", "fte", "posts")]
    wide = est.pivot_table(index=keys, columns="role", values=["fte", "posts"], sort=False)
    wide.columns = [f"{a}_{b}" for a, b in wide.columns]
    wide = wide.reset_index()
    for role in ROLES:
        wide[f"posts_{role}"] = wide[f"posts_{role}"].round().astype(int)
    return wide[keys + [f"fte_{r}" for r in ROLES] + [f"posts_{r}" for r in ROLES]]


def link_ward_pieces(lsoa_graph: nx.Graph, lsoa_ward: pd.Series, lsoa_bounds) -> int:
    """Join, by an explicit link, the pieces of a ward whose LSOAs do not touch each other.

    The ONS LSOA-to-ward lookup is best fit, so a ward's LSOAs can lie in two pieces although the
    ward itself is one (Buckinghamshire: Great Brickhill, Ridgeway East). Each smaller piece is
    linked to the rest of its ward by one edge between the two closest LSOAs (EPSG:27700), with
    ``bridge=True`` and ``link="ward's LSOAs apart (best-fit lookup)"``, so a whole ward is one
    block and the links are listed on the page. Returns the number of links added.
    """
    geoms = dict(zip(lsoa_bounds["lsoa_code"].astype(str), lsoa_bounds.to_crs(27700).geometry))
    added = 0
    for _, grp in lsoa_ward.groupby(lsoa_ward):
        codes = [c for c in grp.index if c in lsoa_graph]
        comps = sorted(nx.connected_components(lsoa_graph.subgraph(codes)), key=len, reverse=True)
        while len(comps) > 1:
            small = comps.pop()
            rest = set().union(*comps)
            d, a, b = min((geoms[a].distance(geoms[b]), a, b) for a in sorted(small) for b in sorted(rest))
            lsoa_graph.add_edge(a, b, bridge=True, link="ward's LSOAs apart (best-fit lookup)")
            added += 1
            comps = sorted(nx.connected_components(lsoa_graph.subgraph(codes)), key=len, reverse=True)
    return added


def post_sharing(est: pd.DataFrame, assignment: pd.DataFrame, graph: nx.Graph) -> pd.DataFrame:
    """Which neighbouring locality covers each locality left with no post of a role.

    Inputs: :func:`establishment` output, the block ``assignment`` (``block_code, locality``) and the
    block contiguity ``graph``. Rule: among the localities bordering it that hold posts of the role,
    the one with the most spare post time (posts - FTE, largest first; ties: name order).
    Output: ``role, locality, shared_with`` (``shared_with`` NaN when no neighbour has a post).
    """
    loc_of = assignment.set_index("block_code")["locality"]
    nbrs: dict = {}
    for u, v in graph.edges:
        a, b = loc_of.get(u), loc_of.get(v)
        if a is not None and b is not None and a != b:
            nbrs.setdefault(a, set()).add(b)
            nbrs.setdefault(b, set()).add(a)
    rows = []
    per = est[est["locality"] != "Council total"]
    for role, grp in per.groupby("role", sort=False):
        spare = (grp["posts"] - grp["fte"]).set_axis(grp["locality"])
        has = set(grp.loc[grp["posts"] > 0, "locality"])
        for l_ in grp.loc[grp["posts"] == 0, "locality"]:
            cands = sorted(nbrs.get(l_, set()) & has, key=lambda x: (-spare[x], x))
            rows.append((role, l_, cands[0] if cands else np.nan))
    return pd.DataFrame(rows, columns=["role", "locality", "shared_with"])


def contiguity_links(graph: nx.Graph) -> pd.DataFrame:
    """The explicit links of a contiguity graph: edges added to join islands or corner-only
    touches, or the pieces of a ward (:func:`link_ward_pieces`), all ``bridge=True``; a locality may
    use them and the page lists them. Output: ``a, b, reason``."""
    rows = sorted((*sorted((str(u), str(v))), d.get("link", "island or corner-only join"))
                  for u, v, d in graph.edges(data=True) if d.get("bridge"))
    return pd.DataFrame(rows, columns=["a", "b", "reason"])


@dataclass
class Sizing:
    """Everything the locality report shows, from :func:`size_localities`.

    Areas: ``wards``/``lsoas`` (profiles), ``ward_ledger``, ``ward_bounds``/``lsoa_bounds`` (the
    council's polygons), ``ward_graph``/``lsoa_graph``. Demand: ``demand_w``/``demand_l``
    (:func:`demand_by_ward`), ``home_addresses`` (:func:`home_postcode_addresses`, None without a
    postcode directory), ``placement`` (:func:`placement_counts` for the latest year),
    ``ward_model_table``/``ward_model``, ``lsoa_model_table``/``lsoa_model``,
    ``ward_work``/``lsoa_work`` (projected workload by block). Grouping: ``plan``
    (:class:`LocalityPlan`), ``w2l`` (``ward_code, locality, share, split, ward_name``),
    ``blocks`` (one row per building block with ``projected_cases``), ``graph``, ``work``,
    ``block_bounds``, ``block_id`` of the building block used, ``contiguity``, ``balance``.
    Districts: ``districts`` (block code -> district, None unless kept whole),
    ``n_districts``, ``districts_kept_whole`` and ``district_note`` (why not, when asked).
    """

    wards: pd.DataFrame
    ward_ledger: object
    lsoas: pd.DataFrame
    ward_bounds: object
    lsoa_bounds: object
    ward_graph: nx.Graph
    lsoa_graph: nx.Graph
    home_addresses: pd.DataFrame | None
    demand_w: pd.DataFrame
    demand_l: pd.DataFrame
    placement: dict
    ward_model_table: pd.DataFrame
    ward_model: DemandModel
    lsoa_model_table: pd.DataFrame
    lsoa_model: DemandModel
    ward_work: pd.Series
    lsoa_work: pd.Series
    plan: LocalityPlan
    w2l: pd.DataFrame
    blocks: pd.DataFrame
    graph: nx.Graph
    work: pd.Series
    block_bounds: object
    block_id: str
    contiguity: pd.DataFrame
    balance: dict
    districts: pd.Series | None
    n_districts: int
    districts_kept_whole: bool
    district_note: str
    seconds: float
    names: pd.Series | None = None
    links: pd.DataFrame | None = None
    all_districts: pd.Series | None = None

    def block_table(self) -> pd.DataFrame:
        """The assignment as used, one row per building block: ``block_code, block_type`` (ward or
        LSOA), ``ward_code, ward_name, locality, locality_name`` (every block once, every locality)."""
        t = self.plan.assignment.merge(self.wards[["ward_code", "ward_name"]], on="ward_code", how="left")
        t["locality_name"] = t["locality"].map(self.names) if self.names is not None else t["locality"]
        return t[["block_code", "block_type", "ward_code", "ward_name", "locality", "locality_name"]]


def size_localities(*, cin, lac, addresses: pd.DataFrame, lookup: pd.DataFrame, iod: pd.DataFrame,
                    population: pd.DataFrame, ward_bounds, lsoa_bounds, la_codes: str | Sequence[str],
                    year_ends: Sequence[pd.Timestamp], n_localities: int, directory: pd.DataFrame | None = None,
                    measure: str = "open_cases", growth_rate: float = 0.0, years_ahead: float = 1.0,
                    building_block: str = "auto", target_ratio: float = 1.25, seed: int = 0,
                    keep_together: Sequence[Sequence[str]] | None = None,
                    keep_districts_whole: bool = False, contiguity_rule: str = "rook",
                    names: dict | None = None) -> Sizing:
    """The whole sizing chain, as the report runs it (notebooks/locality_sizing.ipynb).

    Inputs: ``cin`` (``helpers.readers.cin_census.read_cin_census``), ``lac``
    (``helpers.readers.ssda903.read_ssda903``), ``addresses`` (``helpers.readers.case_extracts.read_address_extract``),
    the reference tables from ``helpers.reference.geography`` readers and boundaries, the council's LAD
    code(s), the 31 March dates to count at (latest last), the number of localities,
    optionally the postcode ``directory`` (``helpers.reference.postcodes.read_postcode_directory``) to place
    children with no address from their 903 home postcode, and the options of
    :func:`model_ward_demand` and :func:`plan_whole_wards_first`. ``keep_districts_whole`` keeps each
    LAD (``lad_code`` of the lookup) inside one locality set; if fewer localities are asked than
    there are districts the constraint cannot hold: the grouping is made without it and
    ``district_note`` says so. Contiguity is ``"rook"`` by default: neighbouring LSOAs share a
    border of positive length (a corner point is not a border); parts of the map that touch the
    rest only at a corner, or not at all (islands), are joined to their nearest neighbour by an
    explicit link, listed in ``links``. Whole wards are blocks made of their LSOAs (ONS lookup),
    so wards and the LSOAs of split wards share one graph. ``names``: locality name overrides
    (:func:`locality_names`).
    Output: a :class:`Sizing`.
    """
    from helpers.reference import geography

    t0 = time.perf_counter()
    wards, ward_ledger = geography.ward_profile(lookup, iod, population, la_codes)
    # every address's ward checked against the lookup: unknown or other councils' wards are
    # counted as not placed, by reason, never silently left out of the figures
    from helpers.readers.case_extracts import check_ward_codes

    addresses, ward_check = check_ward_codes(addresses, lookup, la_codes)
    ward_ledger = ward_ledger.merge(ward_check)
    lsoas = geography.lsoa_profile(lookup, iod, population, la_codes)
    ward_bounds = ward_bounds[ward_bounds["ward_code"].isin(wards["ward_code"])]
    lsoa_bounds = lsoa_bounds[lsoa_bounds["lsoa_code"].isin(lsoas["lsoa_code"])]
    lsoas = lsoas[lsoas["lsoa_code"].isin(lsoa_bounds["lsoa_code"])]
    lsoa_graph = geography.contiguity_graph(lsoa_bounds, "lsoa_code", rule=contiguity_rule)
    lsoa_ward = lsoas.set_index("lsoa_code")["ward_code"].astype(str)
    link_ward_pieces(lsoa_graph, lsoa_ward, lsoa_bounds)
    ward_graph = block_graph(lsoa_graph, lsoa_ward)
    home = (home_postcode_addresses(lac.episodes, directory, lsoa_bounds, lsoas)
            if directory is not None else None)
    demand_w = demand_by_ward(cin.referrals, cin.cp_plans, lac.episodes, addresses, year_ends, "ward_code", home)
    demand_l = demand_by_ward(cin.referrals, cin.cp_plans, lac.episodes, addresses, year_ends, "lsoa_code", home)
    placement = placement_counts(demand_w, measure, year_ends[-1])
    growth = dict(growth_rate=growth_rate, years_ahead=years_ahead)
    ward_model_table, ward_model = model_ward_demand(demand_w, wards, area_col="ward_code", measure=measure, **growth)
    lsoa_model_table, lsoa_model = model_ward_demand(demand_l, lsoas, area_col="lsoa_code", measure=measure, **growth)
    ward_work = ward_model_table.set_index("ward_code")["projected"]
    lsoa_work = lsoa_model_table.set_index("lsoa_code")["projected"]

    all_districts = pd.concat([wards.set_index("ward_code")["lad_code"], lsoas.set_index("lsoa_code")["lad_code"]])
    n_districts = int(lsoas["lad_code"].nunique())
    districts, note = None, ""
    if keep_districts_whole:
        if n_localities < n_districts:
            note = (f"{n_localities} localities were asked for but the council has {n_districts} districts, so districts "
                    "cannot all be kept whole: the localities were grouped without that constraint.")
        else:
            districts = all_districts
    plan = plan_whole_wards_first(lsoa_graph, lsoa_ward, ward_work, lsoa_work, n_localities,
                                  building_block=building_block, target_ratio=target_ratio, seed=seed,
                                  districts=districts, keep_together=keep_together or None)
    # workload and children by LSOA as used: a ward's projection shared between its LSOAs
    lsoa_used = block_workload(lsoa_ward, ward_work, lsoa_work, set(lsoa_ward.unique()))
    w2l = ward_locality_shares(plan.lsoa_assignment, lsoa_used, lsoas.set_index("lsoa_code")["children_0_17"])
    w2l = w2l.merge(wards[["ward_code", "ward_name"]], on="ward_code")
    loc_names = locality_names(w2l, wards.set_index("ward_code")["ward_name"], wards.set_index("ward_code")["children_0_17"],
                               names)
    w2l["locality_name"] = w2l["locality"].map(loc_names)
    blocks = lsoas.merge(plan.lsoa_assignment[["lsoa_code", "block_code", "locality"]], on="lsoa_code")
    blocks["projected_cases"] = blocks["lsoa_code"].map(lsoa_used).astype(float)
    geoms = lsoa_bounds[["lsoa_code", "geometry"]].merge(plan.lsoa_assignment[["lsoa_code", "block_code"]], on="lsoa_code")
    geoms["geometry"] = geoms.geometry.make_valid()
    block_bounds = geoms.dissolve(by="block_code").reset_index()[["block_code", "geometry"]]
    graph, work = plan.graph, plan.workload
    kept = False
    if keep_districts_whole and n_localities >= n_districts:
        per = plan.assignment.assign(d=plan.assignment["block_code"].map(all_districts)).groupby("locality")["d"].nunique()
        kept = bool((per == 1).all())
    return Sizing(wards=wards, ward_ledger=ward_ledger, lsoas=lsoas, ward_bounds=ward_bounds, lsoa_bounds=lsoa_bounds,
                  ward_graph=ward_graph, lsoa_graph=lsoa_graph, home_addresses=home, demand_w=demand_w,
                  demand_l=demand_l, placement=placement, ward_model_table=ward_model_table, ward_model=ward_model,
                  lsoa_model_table=lsoa_model_table, lsoa_model=lsoa_model, ward_work=ward_work, lsoa_work=lsoa_work,
                  plan=plan, w2l=w2l, blocks=blocks, graph=graph, work=work, block_bounds=block_bounds,
                  block_id="block_code", contiguity=contiguity_check(graph, plan.assignment),
                  balance=balance_metrics(plan.assignment, work), districts=districts, n_districts=n_districts,
                  districts_kept_whole=kept, district_note=note, seconds=time.perf_counter() - t0,
                  names=loc_names, links=contiguity_links(lsoa_graph), all_districts=all_districts)


def locality_table(blocks: pd.DataFrame, **staffing: float) -> pd.DataFrame:
    """One row per locality: wards, children, mean IDACI, projected cases, FTE by role and workload index.

    Input: ``blocks`` one row per building block with ``locality, ward_code, children_0_17,
    idaci_percentile, projected_cases`` (and optionally ``observed_cases``); staffing parameters as in
    :func:`staffing_fte` (applied to each locality's total cases, so posts are rounded per locality).
    Output: ``locality, n_wards, children_0_17, idaci_percentile`` (child-weighted mean),
    ``projected_cases, workload_index`` plus the FTE and post columns of :func:`staffing_fte`.
    """
    b = blocks.copy()
    b["_wx"] = b["idaci_percentile"] * b["children_0_17"]
    agg = b.groupby("locality").agg(n_wards=("ward_code", "nunique"), children_0_17=("children_0_17", "sum"),
                                    _wx=("_wx", "sum"), projected_cases=("projected_cases", "sum"))
    agg["idaci_percentile"] = agg["_wx"] / agg["children_0_17"].where(agg["children_0_17"] > 0)
    agg["workload_index"] = agg["projected_cases"] / agg["projected_cases"].mean()
    agg = agg.drop(columns="_wx").reset_index()
    out = staffing_fte(agg, "projected_cases", **staffing)
    return out[["locality", "n_wards", "children_0_17", "idaci_percentile", "projected_cases", "workload_index",
                "early_help_cases", *FTE_ROLES, "fte_total", *[r.replace("fte_", "posts_") for r in FTE_ROLES]]]


# ---------------------------------------------------------------------------
# 5. Charts (built from aggregated, disclosure-controlled tables only)
# ---------------------------------------------------------------------------

#: Transverse Mercator centred as the British National Grid (central meridian 2 W, origin 49 N).
UK_PROJECTION = {"type": "transverseMercator", "rotate": [2.0, -49.0]}


def _geo_data(areas, table: pd.DataFrame, key: str):
    """Ward polygons (EPSG:4326) joined to an aggregated per-ward table, as a GeoDataFrame."""
    cols = [key, "geometry"]
    return areas[cols].to_crs(4326).merge(table, on=key, how="left")


#: Fill colours for locality maps: light enough for black numbers and outlines to read on top, told
#: apart in greyscale and with the common colour-vision deficiencies (Okabe-Ito hues, lightened).
MAP_FILLS: tuple[str, ...] = ("#9ecae1", "#f4c27a", "#8fd3b6", "#f2a48a", "#d9b3cf", "#c7c7c7", "#fbe88f", "#b3d98c")


def adjacency_colours(areas_with_locality) -> dict[str, str]:
    """A fill colour per locality such that localities that share a boundary never share a colour.

    Input: polygons (any CRS) with a ``locality`` column. Localities touching (sharing an edge or
    a point, within 1 m) are neighbours; a greedy colouring of that graph (largest first) picks
    from :data:`MAP_FILLS` (planar maps rarely need more than five). Output: ``{locality: "#rrggbb"}``.
    """
    import networkx as nx

    merged = _dissolve_valid(areas_with_locality[["locality", "geometry"]].dropna(subset=["locality"]), "locality").set_index("locality")
    merged["geometry"] = merged.geometry.buffer(1.0)
    graph = nx.Graph()
    graph.add_nodes_from(merged.index)
    sindex = merged.sindex
    geoms = merged.geometry.to_numpy()
    names = list(merged.index)
    for i, geom in enumerate(geoms):
        for j in sindex.query(geom, predicate="intersects"):
            if j != i:
                graph.add_edge(names[i], names[int(j)])
    colouring = nx.greedy_color(graph, strategy="largest_first")
    return {str(loc): MAP_FILLS[c % len(MAP_FILLS)] for loc, c in colouring.items()}


def locality_map(wards, ward_localities: pd.DataFrame, title: str = "Wards by proposed locality", districts=None):
    """Map of wards coloured by locality (Altair geoshape, British-National-Grid-like projection).

    Inputs: ward polygons (``ward_code, geometry``) and ``ward_code, ward_name, locality``.
    The chart holds only codes, names and locality labels. Use :func:`block_locality_map` when
    localities are built from LSOAs: a ward coloured by its main locality can hide a locality.
    """
    import altair as alt

    data = _geo_data(wards, ward_localities[["ward_code", "ward_name", "locality"]], "ward_code")
    colours = adjacency_colours(data)
    data["fill"] = data["locality"].astype(str).map(colours)
    fill = (alt.Chart(data).mark_geoshape(stroke="white", strokeWidth=0.5)
            .encode(color=alt.Color("fill:N", scale=None, legend=None),
                    tooltip=[alt.Tooltip("ward_name:N", title="Ward"), alt.Tooltip("locality:N", title="Locality")]))
    outline = alt.Chart(_locality_outlines(data)).mark_geoshape(fill=None, filled=False, stroke="#1b1b1b", strokeWidth=1.4)
    layers = [fill, outline]
    outlines = district_outlines(data, districts, "ward_code") if districts is not None else None
    if outlines is not None:   # districts kept whole: their boundaries drawn thick
        layers.append(alt.Chart(outlines).mark_geoshape(fill=None, filled=False, stroke="#000000", strokeWidth=3))
    return (alt.layer(*layers, _locality_labels(data), title=title).project(**UK_PROJECTION).properties(width=520, height=480))


def block_locality_map(blocks, assignment: pd.DataFrame, block_id: str, wards=None,
                       title: str = "Proposed localities", districts=None):
    """Map of the building blocks (e.g. LSOAs) coloured by locality, with ward boundaries drawn on top.

    Inputs: block polygons (``block_id, geometry``), ``assignment`` (``block_code, locality``, as in
    :class:`LocalityPlan`) and optionally ward polygons (``ward_code, geometry``) for outlines.
    Every locality appears, however the wards split. The chart holds only area codes and
    locality labels.
    """
    import altair as alt

    table = assignment.rename(columns={"block_code": block_id})[[block_id, "locality"]]
    data = _geo_data(blocks, table, block_id)
    colours = adjacency_colours(data)
    data["fill"] = data["locality"].astype(str).map(colours)
    fill = (alt.Chart(data).mark_geoshape(stroke="white", strokeWidth=0.3)
            .encode(color=alt.Color("fill:N", scale=None, legend=None),
                    tooltip=[alt.Tooltip("locality:N", title="Locality"), alt.Tooltip(f"{block_id}:N", title="Area code")]))
    layers = [fill]
    if wards is not None:
        outline = wards[["ward_code", "geometry"]].to_crs(4326)
        layers.append(alt.Chart(outline).mark_geoshape(fill=None, filled=False, stroke="#6f6f6f", strokeWidth=0.6))
    layers.append(alt.Chart(_locality_outlines(data)).mark_geoshape(fill=None, filled=False, stroke="#1b1b1b", strokeWidth=1.4))
    outlines = district_outlines(data, districts, block_id) if districts is not None else None
    if outlines is not None:   # districts kept whole: their boundaries drawn thick
        layers.append(alt.Chart(outlines).mark_geoshape(fill=None, filled=False, stroke="#000000", strokeWidth=3))
    layers.append(_locality_labels(data))
    return (alt.layer(*layers, title=title).project(**UK_PROJECTION).properties(width=520, height=480))


def locality_label_points(areas_with_locality) -> pd.DataFrame:
    """One point inside each locality (``locality, label, longitude, latitude``) for map labels.

    Input: polygons (any CRS) with a ``locality`` column. The point lies inside the locality's
    largest area (no polygon union, which real boundary files with slivers can make fail).
    ``label`` is the locality's number ("Locality 07" -> "07"), so colours that repeat in a long
    legend can still be told apart.
    """
    areas = areas_with_locality[["locality", "geometry"]].dropna(subset=["locality"]).to_crs(27700)
    largest = areas.assign(_area=areas.geometry.area).sort_values(["locality", "_area"], ascending=[True, False])
    largest = largest.drop_duplicates("locality")
    points = largest.geometry.representative_point().to_crs(4326)
    return pd.DataFrame({"locality": largest["locality"].to_numpy(),
                         "label": [str(x).split()[-1] for x in largest["locality"]],
                         "longitude": points.x.to_numpy(), "latitude": points.y.to_numpy()})


def _locality_outlines(areas_with_locality):
    """Each locality's outline (its areas merged), simplified to keep the page small."""
    merged = _dissolve_valid(areas_with_locality[["locality", "geometry"]].dropna(subset=["locality"]), "locality")
    merged["geometry"] = merged.geometry.simplify(25)
    return merged.to_crs(4326)


def _dissolve_valid(areas, by: str):
    """Areas merged by ``by`` in British National Grid, repairing invalid boundary polygons first
    (real boundary files have slivers and self-touching rings that make a plain union fail)."""
    areas = areas.to_crs(27700)
    # make_valid repairs the rings; a half-metre buffer closes slivers between neighbours.
    areas = areas.set_geometry(areas.geometry.make_valid().buffer(0.5))
    return areas.dissolve(by=by).reset_index()


def district_outlines(areas, district_of, key: str):
    """District boundaries (areas merged by district) for drawing over a locality map where districts
    are kept whole. ``district_of`` maps the areas' ``key`` column (e.g. ward_code) to a district."""
    district_of = pd.Series(district_of)
    d = areas[[key, "geometry"]].assign(district=areas[key].map(district_of)).dropna(subset=["district"])
    if d.empty:   # the district map is keyed by other areas: nothing to draw
        return None
    merged = _dissolve_valid(d, "district")
    merged["geometry"] = merged.geometry.simplify(25)
    return merged.to_crs(4326)


def _locality_labels(areas_with_locality):
    import altair as alt

    pts = locality_label_points(areas_with_locality)
    return (alt.Chart(pts).mark_text(fontSize=12, fontWeight="bold", color="#1b1b1b", stroke="white", strokeWidth=0.4)
            .encode(longitude="longitude:Q", latitude="latitude:Q", text="label:N",
                    tooltip=[alt.Tooltip("locality:N", title="Locality")]))


def deprivation_map(wards, ward_deprivation: pd.DataFrame,
                    title: str = "Child income deprivation (IDACI) by ward"):
    """Map of wards coloured by child-weighted IDACI national percentile (100 = most deprived)."""
    import altair as alt

    data = _geo_data(wards, ward_deprivation[["ward_code", "ward_name", "idaci_percentile"]], "ward_code")
    data["idaci_percentile"] = data["idaci_percentile"].round(1)
    return (alt.Chart(data, title=title).mark_geoshape(stroke="white", strokeWidth=0.5)
            .encode(color=alt.Color("idaci_percentile:Q", title="IDACI percentile", scale=alt.Scale(scheme="orangered")),
                    tooltip=[alt.Tooltip("ward_name:N", title="Ward"),
                             alt.Tooltip("idaci_percentile:Q", title="IDACI percentile (100 = most deprived)")])
            .project(**UK_PROJECTION).properties(width=520, height=480))


def observed_vs_modelled_chart(table: pd.DataFrame, measure_label: str = "open cases per year"):
    """Scatter of observed against modelled demand per ward, with the line of equality.

    Input: ``ward_name, observed, expected, shrunk`` where ``observed`` has already been through
    disclosure control (suppressed wards are left out of the chart).
    """
    import altair as alt

    data = table[["ward_name", "observed", "expected", "shrunk"]].copy()
    data["observed"] = pd.to_numeric(data["observed"], errors="coerce")
    data = data.dropna(subset=["observed"]).round(1)
    top = float(max(data[["observed", "expected"]].max().max(), 1.0)) if len(data) else 1.0
    line = alt.Chart(pd.DataFrame({"x": [0.0, top]})).mark_line(color="grey", strokeDash=[4, 4]).encode(x="x:Q", y="x:Q")
    points = alt.Chart(data).mark_circle(size=60).encode(
        x=alt.X("expected:Q", title=f"Modelled {measure_label}"),
        y=alt.Y("observed:Q", title=f"Observed {measure_label}"),
        tooltip=[alt.Tooltip("ward_name:N", title="Ward"), alt.Tooltip("observed:Q", title="Observed"),
                 alt.Tooltip("expected:Q", title="Modelled"), alt.Tooltip("shrunk:Q", title="Steadied estimate")])
    return (line + points).properties(width=420, height=360, title="Observed against modelled demand, by ward")


def fte_target_chart(fte: pd.DataFrame, chosen: float):
    """Total FTE (all roles) and social-worker FTE against the social-worker caseload target."""
    import altair as alt

    long = fte.melt(id_vars="sw_caseload", value_vars=["fte_total", "fte_social_workers"], var_name="measure", value_name="fte")
    long["measure"] = long["measure"].map({"fte_total": "All roles", "fte_social_workers": "Social workers"})
    long["fte"] = long["fte"].round(1)
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("sw_caseload:Q", title="Cases per social worker (target)"),
        y=alt.Y("fte:Q", title="Full-time equivalent posts"), color=alt.Color("measure:N", title=""),
        tooltip=["sw_caseload:Q", "measure:N", "fte:Q"])
    rule = alt.Chart(pd.DataFrame({"sw_caseload": [chosen]})).mark_rule(strokeDash=[4, 4]).encode(x="sw_caseload:Q")
    return (lines + rule).properties(width=480, height=300, title="Posts needed against the caseload target")


def balance_sweep_chart(sweep: pd.DataFrame, target_ratio: float, chosen: int):
    """Workload ratio (largest / smallest locality) against the number of localities."""
    import altair as alt

    # the chart's data is published with the page: no run times (they differ between runs)
    data = sweep.drop(columns=["seconds"], errors="ignore").assign(ratio_max_min=sweep["ratio_max_min"].round(3))
    data["building_block"] = data.get("building_block", "")
    line = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("n_localities:Q", title="Number of localities", scale=alt.Scale(zero=False)),
        y=alt.Y("ratio_max_min:Q", title="Largest / smallest workload", scale=alt.Scale(zero=False)),
        color=alt.Color("building_block:N", title="Built from"),
        tooltip=["n_localities:Q", "building_block:N", "ratio_max_min:Q", "all_contiguous:N"])
    target = alt.Chart(pd.DataFrame({"y": [target_ratio]})).mark_rule(color="grey", strokeDash=[4, 4]).encode(y="y:Q")
    pick = alt.Chart(pd.DataFrame({"x": [chosen]})).mark_rule(color="grey").encode(x="x:Q")
    return (line + target + pick).properties(width=480, height=300, title="Balance of workload against number of localities")


def plan_statement(plan: SplitPlan, ward_names: pd.Series, *, reach: dict | None = None,
                   district_teams: int | None = None, districts_whole: bool = False) -> str:
    """Plain-English account of how the localities were built, for the page (markdown bullets).

    Says whether whole wards reached the target; which wards are split, between how many
    localities and why; and, when the target is not met, the best ratio found, the ratio no
    grouping of these blocks can beat (:func:`ratio_lower_bound`) and the numbers of teams that
    reach it (``reach`` from :func:`teams_reaching_target` on a whole-ward sweep;
    ``district_teams`` from :func:`district_teams_needed`).
    """
    t, k = plan.target_ratio, plan.n_localities
    out = []
    constraint = " with districts kept whole" if districts_whole else ""
    if not math.isnan(plan.whole_ward_ratio):
        if plan.whole_ward_ratio <= t + 1e-12:
            out.append(f"Whole wards reach the target: the busiest locality has {plan.whole_ward_ratio:.2f} times the work of "
                       f"the quietest (target {t:.2f}), so no ward is split.")
        else:
            out.append(f"From whole wards{constraint}, the best grouping of {k} localities found has a ratio of "
                       f"{plan.whole_ward_ratio:.2f}, above the {t:.2f} target"
                       + (f" (no grouping of whole wards can do better than {plan.whole_ward_bound:.2f})."
                          if plan.whole_ward_bound > t else "."))
    if len(plan.split_wards):
        from helpers.publishing.safe_output import esc   # ward names come from the ONS lookup: shown literally

        rows = [f"{esc(ward_names.get(r.ward_code, r.ward_code))} (between {r.n_localities} localities: {esc(r.reason)})"
                for r in plan.split_wards.itertuples()]
        n_w = int(ward_names.index.isin(plan.lsoa_assignment["ward_code"]).sum()) or len(ward_names)
        why = ("the fewest the search needed to reach the target" if plan.meets_target
               else "those that brought the ratio closest to the best possible")
        verb = "ward is" if len(rows) == 1 else "wards are"
        out.append(f"{len(rows)} of {n_w} {verb} split along neighbourhood (LSOA) boundaries, {why}: "
                   + "; ".join(rows) + ". Every other ward is whole.")
    elif plan.building_block == "ward" and not math.isnan(plan.whole_ward_ratio) and plan.whole_ward_ratio > t:
        out.append("Wards are kept whole as configured (building_block = \"ward\"), so the target is not met.")
    if plan.meets_target:
        out.append(f"The localities reach the target: ratio {plan.ratio:.2f}.")
    else:
        out.append(f"**The {t:.2f} target cannot be met with {k} localities{constraint}**: the best ratio found is "
                   f"{plan.ratio:.2f}; no grouping of these building blocks can do better than {plan.lower_bound:.2f}.")
    if reach and not math.isnan(plan.whole_ward_ratio) and plan.whole_ward_ratio > t + 1e-12:
        parts = []
        if reach.get("fewer"):
            parts.append(f"{reach['fewer']} teams (the most below {k})")
        if reach.get("more"):
            parts.append(f"{reach['more']} teams (the fewest above {k})")
        out.append(("Whole wards reach the target with " + " or ".join(parts) + ".") if parts
                   else "Whole wards do not reach the target for any number of teams in the range compared.")
    if district_teams is not None and not plan.meets_target and districts_whole:
        out.append(f"With districts kept whole, the smallest number of teams whose share-out between districts allows the "
                   f"target is {district_teams}.")
    elif districts_whole and not plan.meets_target and district_teams is None:
        out.append("With districts kept whole, no number of teams in reach allows the target.")
    return "\n".join(f"- {x}" for x in out)
