"""Stock-and-flow forecast of children looked after by age band x placement category.

The approach follows Social Finance's open-source children's services demand model: the
population in care is split into states (age band x placement category); daily rates of moving
between states, of leaving care and of ageing into the next band, and daily numbers of children
entering care in each state, are measured from a *reference window* of SSDA903 episodes; the
stock is then projected forward one day at a time with matrix steps (no per-child loops).

Definitions (all measured inside the reference window ``[reference_start, reference_end]``):

* exposure ``E_i``: child-days spent in state ``i`` (episode days ``decom <= day < dec``);
* transition rate ``r_ij = n_ij / E_i``: moves from state ``i`` to ``j`` per child-day, where a
  move is a new episode in another category, or a birthday that crosses an age band (ageing);
* exit rate ``q_i = x_i / E_i``: periods of care ending (or 18th birthdays) per child-day;
* entry rate ``lambda_j = m_j / D``: periods of care starting in state ``j`` per day
  (``D`` = days in the window).

One day step: ``x(t+1) = x(t) @ T + lambda``, with ``T = I + R - diag(rowsum(R) + q)``.

Uncertainty: (1) *process* variance, exact for this model: each child now in care moves
independently (multinomial: ``sum_i x0_i p_ig (1 - p_ig)`` for group ``g``) and entrants are
Poisson (variance = mean); (2) *parameter* uncertainty: rates are redrawn from Gamma(count,
1/exposure) distributions and the projection repeated (batched matrix steps). The band is
``mean +/- z * sqrt(process var + parameter var)`` (normal approximation, floored at zero).
Short breaks (legal status V3/V4) are excluded, as in DfE counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from helpers import codes
from helpers.placements.where import SHORT_BREAK_LEGAL_STATUSES, birth_dates, categorise_placements, with_spells

#: Model age bands: (lower age, upper age, label); children leave the model at 18.
MODEL_AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 1, "Under 1"),
    (1, 5, "1 to 4"),
    (5, 10, "5 to 9"),
    (10, 16, "10 to 15"),
    (16, 18, "16 and 17"),
)

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class StockFlowModel:
    """Fitted rates. Arrays are indexed by ``states`` (age band x category, band-major)."""

    bands: tuple[str, ...]
    categories: tuple[str, ...]
    start: pd.Timestamp                  # date of the starting stock (reference window end)
    stock: np.ndarray                    # (S,) children in each state at ``start``
    transition_counts: np.ndarray        # (S, S)
    exit_counts: np.ndarray              # (S,)
    entry_counts: np.ndarray             # (S,)
    exposure_days: np.ndarray            # (S,)
    window_days: int

    @property
    def states(self) -> pd.MultiIndex:
        return pd.MultiIndex.from_product([self.bands, self.categories], names=["age_band", "category"])

    @property
    def transition_rates(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = self.transition_counts / self.exposure_days[:, None]
        return np.nan_to_num(r, nan=0.0, posinf=0.0)

    @property
    def exit_rates(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            q = self.exit_counts / self.exposure_days
        return np.nan_to_num(q, nan=0.0, posinf=0.0)

    @property
    def entry_rates(self) -> np.ndarray:
        return self.entry_counts / self.window_days


def daily_matrix(transition_rates: np.ndarray, exit_rates: np.ndarray) -> np.ndarray:
    """One-day transition matrix ``T = I + R - diag(rowsum(R) + q)`` (rows: from, columns: to).

    Works on a stack of matrices (leading batch axis). Row sums of ``T`` are ``1 - q``.
    """
    r = np.array(transition_rates, dtype=float, copy=True)
    idx = np.arange(r.shape[-1])
    r[..., idx, idx] = 0.0
    out_rate = r.sum(axis=-1) + exit_rates
    t = r.copy()
    t[..., idx, idx] = 1.0 - out_rate
    return t


# --------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------

def _add_years(birth: pd.Series, years: int) -> pd.Series:
    b = pd.to_datetime(birth)
    return pd.to_datetime(pd.DataFrame({"year": b.dt.year + years, "month": b.dt.month, "day": b.dt.day}), errors="coerce")


def _band_index(birth: pd.Series, at: pd.Series, bands) -> np.ndarray:
    b, a = pd.to_datetime(birth), pd.to_datetime(at)
    age = a.dt.year - b.dt.year - ((a.dt.month < b.dt.month) | ((a.dt.month == b.dt.month) & (a.dt.day < b.dt.day))).astype(int)
    edges = np.array([lo for lo, _, _ in bands] + [bands[-1][1]])
    idx = np.searchsorted(edges, age.to_numpy(dtype=float), side="right") - 1
    idx[(age.to_numpy(dtype=float) >= edges[-1]) | np.isnan(age.to_numpy(dtype=float))] = -1
    return idx


def prepare_episodes(episodes: pd.DataFrame, header: pd.DataFrame) -> pd.DataFrame:
    """Episodes ready for fitting: categorised, short breaks dropped, with ``birth``, ``new_period``
    and the category of the next episode when the child's care continues (``next_category``)."""
    e = episodes if "category" in episodes.columns else categorise_placements(episodes)
    e = e[~e["ls"].isin(list(SHORT_BREAK_LEGAL_STATUSES))]
    e = with_spells(e)
    e["birth"] = e["child_id"].map(birth_dates(header))  # exact date of birth where the reader has it
    e = e[e["birth"].notna()].reset_index(drop=True)
    nxt_same = e["child_id"].eq(e["child_id"].shift(-1)) & e["dec"].eq(e["decom"].shift(-1))
    e["next_category"] = e["category"].shift(-1).where(nxt_same)
    return e


def fit_model(
    episodes: pd.DataFrame,
    header: pd.DataFrame,
    reference_start: pd.Timestamp | str,
    reference_end: pd.Timestamp | str,
    categories: Sequence[str] = codes.PLACEMENT_CATEGORIES,
    bands: Sequence[tuple[int, int, str]] = MODEL_AGE_BANDS,
) -> StockFlowModel:
    """Measure the model's rates from episodes in the window and take the stock at its end.

    Inputs: SSDA903 ``episodes`` and ``header`` tidy tables (data_model section 2; ``header``
    gives ``birth_month``), window dates (inclusive). Episodes may already carry ``category``.
    Output: a :class:`StockFlowModel` starting at ``reference_end`` (children in care at the end
    of that day, i.e. ``decom <= end < dec``).
    """
    ws, we = pd.Timestamp(reference_start), pd.Timestamp(reference_end)
    we_excl = we + pd.Timedelta(days=1)
    cats = list(categories)
    nb, nc = len(bands), len(cats)
    S = nb * nc
    e = prepare_episodes(episodes, header) if "next_category" not in episodes.columns else episodes
    cat_idx = pd.Categorical(e["category"], categories=cats).codes
    e = e.assign(cat_idx=cat_idx)[cat_idx >= 0]

    # --- entries (periods of care starting in the window)
    ent = e[e["new_period"] & (e["decom"] >= ws) & (e["decom"] <= we)]
    eb = _band_index(ent["birth"], ent["decom"], bands)
    ok = eb >= 0
    entry_counts = np.bincount(eb[ok] * nc + ent["cat_idx"].to_numpy()[ok], minlength=S).astype(float)

    # --- segments: episode x age band, clipped to the window
    s = e["decom"].where(e["decom"] > ws, ws)
    t = e["dec"].fillna(we_excl).where(e["dec"].fillna(we_excl) < we_excl, we_excl)
    live = t > s
    e, s, t = e[live], s[live], t[live]
    n = len(e)
    rep = np.repeat(np.arange(n), nb)
    band = np.tile(np.arange(nb), n)
    lo_dates = np.stack([_add_years(e["birth"], lo).to_numpy() for lo, _, _ in bands], axis=1).ravel()
    hi_dates = np.stack([_add_years(e["birth"], hi).to_numpy() for _, hi, _ in bands], axis=1).ravel()
    s_arr, t_arr = s.to_numpy()[rep], t.to_numpy()[rep]
    seg_start = np.maximum(s_arr, lo_dates)
    seg_end = np.minimum(t_arr, hi_dates)
    keep = seg_end > seg_start
    rep, band, seg_start, seg_end, hi_k, t_k = rep[keep], band[keep], seg_start[keep], seg_end[keep], hi_dates[keep], t_arr[keep]
    cat_k = e["cat_idx"].to_numpy()[rep]
    state = band * nc + cat_k
    days = (seg_end - seg_start).astype("timedelta64[D]").astype(float)
    exposure = np.bincount(state, weights=days, minlength=S)

    # --- events at segment ends inside the window
    in_window = seg_end <= np.datetime64(we)
    dec_k = e["dec"].to_numpy()[rep]
    ends_episode = in_window & (seg_end == t_k) & ~pd.isna(dec_k)
    ages_out = in_window & ~ends_episode & (seg_end == hi_k)
    trans = np.zeros((S, S))
    exits = np.zeros(S)
    # ageing: next band, same category; the last band's upper age (18) leaves care
    last = band == nb - 1
    np.add.at(exits, state[ages_out & last], 1.0)
    a = ages_out & ~last
    np.add.at(trans, (state[a], (band[a] + 1) * nc + cat_k[a]), 1.0)
    # episode ends: next episode's state, or exit when care ends
    nxt = e["next_category"].to_numpy()[rep]
    has_next = ends_episode & ~pd.isna(nxt)
    np.add.at(exits, state[ends_episode & pd.isna(nxt)], 1.0)
    if has_next.any():
        ncat = pd.Categorical(nxt[has_next], categories=cats).codes
        nband = _band_index(pd.Series(e["birth"].to_numpy()[rep][has_next]), pd.Series(seg_end[has_next]), bands)
        src = state[has_next]
        ok = (ncat >= 0) & (nband >= 0)
        dst = nband * nc + ncat
        moved = ok & (dst != src)
        np.add.at(trans, (src[moved], dst[moved]), 1.0)
        np.add.at(exits, src[~ok], 1.0)  # moved to an unknown state or aged out: leaves the model

    stock = start_stock(e, we, cats, bands)

    return StockFlowModel(
        bands=tuple(b[2] for b in bands), categories=tuple(cats), start=we, stock=stock,
        transition_counts=trans, exit_counts=exits, entry_counts=entry_counts,
        exposure_days=exposure, window_days=int((we - ws).days) + 1,
    )


def start_stock(prepared: pd.DataFrame, at: pd.Timestamp | str, categories: Sequence[str] = codes.PLACEMENT_CATEGORIES,
                bands: Sequence[tuple[int, int, str]] = MODEL_AGE_BANDS) -> np.ndarray:
    """Children in care at the end of day ``at`` (``decom <= at < dec``) by state (age band x
    category, flattened band-major), from :func:`prepare_episodes` output. ``at`` may be any date
    (extracts are taken mid-month): ages come from each child's date of birth where the reader has
    it, so a 17-year-old whose 18th birthday is later in the month is still counted."""
    at = pd.Timestamp(at)
    cats = list(categories)
    nc = len(cats)
    cat_idx = prepared["cat_idx"].to_numpy() if "cat_idx" in prepared else pd.Categorical(prepared["category"], categories=cats).codes
    open_end = ((prepared["decom"] <= at) & (prepared["dec"].isna() | (prepared["dec"] > at))).to_numpy() & (cat_idx >= 0)
    se = prepared[open_end].assign(cat_idx=cat_idx[open_end]).sort_values("decom").drop_duplicates("child_id", keep="last")
    sb = _band_index(se["birth"], pd.Series(at, index=se.index), bands)
    ok = sb >= 0
    return np.bincount(sb[ok] * nc + se["cat_idx"].to_numpy()[ok], minlength=len(bands) * nc).astype(float)


# --------------------------------------------------------------------------
# Projection
# --------------------------------------------------------------------------

def step(stock: np.ndarray, transition_rates: np.ndarray, exit_rates: np.ndarray, entry_rates: np.ndarray) -> np.ndarray:
    """One day: ``x @ T + lambda`` (see module docstring)."""
    return stock @ daily_matrix(transition_rates, exit_rates) + entry_rates


def _record_days(start: pd.Timestamp, horizon_years: float) -> tuple[pd.DatetimeIndex, np.ndarray]:
    end = start + pd.DateOffset(months=int(round(horizon_years * 12)))
    dates = pd.date_range(start, end, freq="ME")
    dates = dates[dates > start]
    if len(dates) == 0 or dates[-1] != end:
        dates = dates.append(pd.DatetimeIndex([end]))
    return dates, (dates - start).days.to_numpy()


def _groups(model: StockFlowModel, by: str) -> tuple[list[str], np.ndarray]:
    """Group labels and a (S, G) 0/1 matrix summing states into groups (plus "Total")."""
    st = model.states
    labels = list(model.categories if by == "category" else model.bands)
    level = st.get_level_values(by)
    g = np.stack([(level == lab).astype(float) for lab in labels] + [np.ones(len(st))], axis=1)
    return labels + ["Total"], g


def project(
    model: StockFlowModel,
    horizon_years: float = 5,
    *,
    by: str = "category",
    interval: float = 0.9,
    n_draws: int = 200,
    seed: int = 1,
    transition_rates: np.ndarray | None = None,
    exit_rates: np.ndarray | None = None,
    entry_rates: np.ndarray | None = None,
) -> pd.DataFrame:
    """Project the stock forward and give bands.

    Inputs: a fitted model; horizon in years; ``by`` = ``"category"`` or ``"age_band"``; the
    central ``interval`` (0-1) of the band; ``n_draws`` parameter draws (0 = process variance
    only); optional rate overrides (for scenarios; parameter draws then scale the overrides by
    the same relative noise as the fitted rates).
    Output (long): ``date, group, forecast, sd, lower, upper`` at each month end to the horizon,
    ``group`` being each category (or band) and ``"Total"``.
    """
    R = model.transition_rates if transition_rates is None else transition_rates
    q = model.exit_rates if exit_rates is None else exit_rates
    lam = model.entry_rates if entry_rates is None else entry_rates
    dates, rec_days = _record_days(model.start, horizon_years)
    labels, G = _groups(model, by)
    T = daily_matrix(R, q)
    S = len(lam)
    n_days = int(rec_days[-1])
    rec_at = {int(d): k for k, d in enumerate(rec_days)}

    # central path, transition probabilities of today's children, and entrants' mean
    P = np.eye(S)
    m = np.zeros(S)
    mean = np.zeros((len(dates), len(labels)))
    pvar = np.zeros_like(mean)
    for d in range(1, n_days + 1):
        P = P @ T
        m = m @ T + lam
        if d in rec_at:
            k = rec_at[d]
            pg = np.clip(P @ G, 0.0, 1.0)               # (S, G): P(child in state i now is in group g)
            mean[k] = model.stock @ pg + m @ G
            pvar[k] = model.stock @ (pg * (1 - pg)) + m @ G

    # parameter uncertainty: Gamma(count, 1/exposure) draws, scaled onto the rates used
    par_var = np.zeros_like(mean)
    if n_draws > 0:
        rng = np.random.default_rng(seed)
        with np.errstate(divide="ignore", invalid="ignore"):
            def rel(counts, size):
                c = np.broadcast_to(counts, (size,) + counts.shape)
                draw = rng.gamma(np.where(c > 0, c, 1.0)) / np.where(c > 0, c, 1.0)
                return np.where(c > 0, draw, 1.0)
            Rk = R[None] * rel(model.transition_counts, n_draws)
            qk = q[None] * rel(model.exit_counts, n_draws)
            lk = lam[None] * rel(model.entry_counts, n_draws)
        Tk = daily_matrix(Rk, qk)
        x = np.broadcast_to(model.stock, (n_draws, S)).copy()
        draws = np.zeros((n_draws, len(dates), len(labels)))
        for d in range(1, n_days + 1):
            x = np.einsum("ks,kst->kt", x, Tk) + lk
            if d in rec_at:
                draws[:, rec_at[d]] = x @ G
        par_var = draws.var(axis=0)

    z = NormalDist().inv_cdf(0.5 + interval / 2)
    sd = np.sqrt(pvar + par_var)
    out = pd.DataFrame({
        "date": np.repeat(dates, len(labels)),
        "group": np.tile(labels, len(dates)),
        "forecast": mean.ravel(),
        "sd": sd.ravel(),
    })
    out["lower"] = (out["forecast"] - z * out["sd"]).clip(lower=0)
    out["upper"] = out["forecast"] + z * out["sd"]
    return out


def stock_table(model: StockFlowModel, by: str = "category") -> pd.Series:
    """The model's starting stock summed by category (or age band)."""
    return pd.Series(model.stock, index=model.states).groupby(level=by).sum().reindex(
        list(model.categories if by == "category" else model.bands))


def value_at(forecast: pd.DataFrame, years: float, start: pd.Timestamp, group: str = "Total") -> pd.Series:
    """The forecast row for ``group`` at ``start`` + ``years`` (nearest recorded date)."""
    target = pd.Timestamp(start) + pd.DateOffset(months=int(round(years * 12)))
    f = forecast[forecast["group"] == group]
    i = (f["date"] - target).abs().idxmin()
    return f.loc[i]


# --------------------------------------------------------------------------
# Scenario levers on the model
# --------------------------------------------------------------------------

def adjusted_rates(
    model: StockFlowModel,
    entry_factor_by_band: dict[str, float] | None = None,
    moves: Sequence[tuple[str, str, float]] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rates with scenario levers applied.

    ``entry_factor_by_band``: multiply entries in those age bands (e.g. ``{"10 to 15": 0.9}``
    for a 10% reduction). ``moves``: ``(from_category, to_category, annual_proportion)``: an
    extra daily rate ``-ln(1 - p) / 365.25`` from each band's ``from`` state to the same band's
    ``to`` state, so that a proportion ``p`` of a year-long stock moves in a year (e.g. step-down
    from children's homes to fostering).
    Returns ``(transition_rates, exit_rates, entry_rates)`` for :func:`project`.
    """
    R = model.transition_rates.copy()
    q = model.exit_rates.copy()
    lam = model.entry_rates.copy()
    nc = len(model.categories)
    for band, f in (entry_factor_by_band or {}).items():
        b = model.bands.index(band)
        lam[b * nc:(b + 1) * nc] *= f
    for src, dst, p in moves:
        i, j = model.categories.index(src), model.categories.index(dst)
        rate = -np.log1p(-p) / DAYS_PER_YEAR
        for b in range(len(model.bands)):
            R[b * nc + i, b * nc + j] += rate
    return R, q, lam


# --------------------------------------------------------------------------
# Back-test
# --------------------------------------------------------------------------

def backtest(
    episodes: pd.DataFrame,
    header: pd.DataFrame,
    as_at: pd.Timestamp | str,
    reference_years: float = 2,
    horizon_years: float = 1,
    interval: float = 0.9,
    n_draws: int = 200,
    categories: Sequence[str] = codes.PLACEMENT_CATEGORIES,
) -> pd.DataFrame:
    """Fit on data ending ``horizon_years`` before ``as_at``, forecast to ``as_at``, compare.

    Output: one row per category and ``"Total"``: ``actual`` (children in care at ``as_at`` by
    the model's definition), ``forecast``, ``lower``, ``upper``, ``error`` (forecast - actual),
    ``abs_pct_error`` (``|forecast - actual| / actual x 100``; NaN when actual is 0),
    ``within_band`` (bool). The headline back-test error is ``abs_pct_error`` of ``"Total"``.
    """
    as_at = pd.Timestamp(as_at)
    origin = as_at - pd.DateOffset(months=int(round(horizon_years * 12)))
    ref_start = origin - pd.DateOffset(months=int(round(reference_years * 12))) + pd.Timedelta(days=1)
    prepared = prepare_episodes(episodes, header)
    model = fit_model(prepared, header, ref_start, origin, categories)
    fc = project(model, horizon_years, interval=interval, n_draws=n_draws)
    fc = fc[fc["date"] == fc["date"].max()].set_index("group")
    actual_model = fit_model(prepared, header, as_at - pd.Timedelta(days=1), as_at, categories)
    actual = stock_table(actual_model)
    actual["Total"] = actual.sum()
    out = pd.DataFrame({"actual": actual}).join(fc[["forecast", "lower", "upper"]])
    out["error"] = out["forecast"] - out["actual"]
    out["abs_pct_error"] = (out["error"].abs() / out["actual"].where(out["actual"] > 0) * 100)
    out["within_band"] = (out["actual"] >= out["lower"]) & (out["actual"] <= out["upper"])
    return out.rename_axis("group").reset_index()


# --------------------------------------------------------------------------
# Synthetic episodes (benchmarks and back-test checks; no real data)
# --------------------------------------------------------------------------

def synthetic_episodes(
    n_in_care: int = 80_000,
    end: pd.Timestamp | str = "2025-03-31",
    years_of_history: int = 6,
    mean_years_in_care: float = 2.5,
    moves_per_year: float = 0.6,
    seed: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stationary, fictional SSDA903 ``episodes`` and ``header`` pair of roughly ``n_in_care``
    children in care at ``end`` (built with array operations: ~1M episodes at national size).

    Children enter at a constant rate (``n_in_care / mean_years_in_care`` a year) at ages drawn
    uniformly from 0-17, stay an exponential time (mean ``mean_years_in_care``, cut at 18), and
    change placement at ``moves_per_year``; placement codes are drawn from a fixed national-like
    mix. Used to time the model and to check that the back-test recovers a stationary process.
    """
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(end)
    start = end - pd.DateOffset(years=years_of_history)
    span = (end - start).days
    # stays are cut at the 18th birthday, which shortens the mean stay by about an eighth:
    # entries and the starting cohort are scaled up so that about n_in_care are in care at `end`
    n_in_care = int(n_in_care * 1.14)
    n_children = int(n_in_care / mean_years_in_care * years_of_history) + n_in_care
    # an initial cohort already in care at `start` plus steady entries
    entry_day = np.concatenate([np.full(n_in_care, 0), rng.integers(1, span + 1, n_children - n_in_care)])
    age_days = rng.integers(0, 18 * 365, n_children)
    stay = rng.exponential(mean_years_in_care * DAYS_PER_YEAR, n_children).astype(int) + 1
    stay = np.minimum(stay, 18 * 365 - age_days)
    birth_day = entry_day - age_days
    leave_day = entry_day + stay
    n_moves = np.minimum(rng.poisson(moves_per_year * stay / DAYS_PER_YEAR), 8)
    n_ep = n_moves + 1
    child = np.repeat(np.arange(n_children), n_ep)
    k = np.arange(len(child)) - np.repeat(np.cumsum(n_ep) - n_ep, n_ep)
    # move days: sorted uniform cut points inside the stay
    u = rng.random(len(child))
    u[k == 0] = 0.0
    order = np.lexsort((u, child))
    u = u[order]
    ep_start = entry_day[child] + (u * stay[child]).astype(int)
    nxt_start = np.append(ep_start[1:], 0)
    last = np.append(child[1:] != child[:-1], True)
    ep_end = np.where(last, leave_day[child], nxt_start)
    keep = ep_end > ep_start
    codes_mix = np.array(["U1", "U3", "U4", "U6", "K2", "K3", "P1", "A5", "R1", "Z1"])
    weights = np.array([0.08, 0.07, 0.25, 0.27, 0.12, 0.09, 0.06, 0.02, 0.02, 0.02])
    place = rng.choice(codes_mix, size=len(child), p=weights / weights.sum())
    providers = np.where(rng.random(len(child)) < 0.45, "PR1", "PR4")
    day0 = np.datetime64(start.date())
    decom = day0 + ep_start.astype("timedelta64[D]")
    dec = day0 + ep_end.astype("timedelta64[D]")
    open_end = ep_end > span
    episodes = pd.DataFrame({
        "child_id": pd.Series(child).astype(str).radd("S"),
        "decom": pd.to_datetime(decom),
        "rne": np.where(k == 0, "S", "P"),
        "ls": "C2", "cin": "N1", "place": place, "place_provider": providers,
        "dec": pd.to_datetime(dec).where(~open_end),
        "rec": np.where(open_end, None, np.where(last, "E13", "X1")),
        "reason_place_change": None, "home_post": None, "pl_post": None, "urn": None,
        "collection_year": 2025, "source_file": "synthetic",
    })[keep & (ep_start <= span)]
    # children who left care before `start`-1 year are not in any return window: drop them
    episodes = episodes[episodes["dec"].isna() | (episodes["dec"] >= start)]
    births = pd.to_datetime(day0 + birth_day.astype("timedelta64[D]"))
    header = pd.DataFrame({"child_id": pd.Series(np.arange(n_children)).astype(str).radd("S"),
                           "sex": "1", "birth_month": births.to_period("M").to_timestamp(),
                           "ethnicity": "WBRI", "collection_year": 2025})
    header = header[header["child_id"].isin(set(episodes["child_id"]))]
    return episodes.reset_index(drop=True), header.reset_index(drop=True)
