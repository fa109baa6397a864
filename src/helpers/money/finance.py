"""Money: the locality model's workforce cost, business cases by financial year, savings against budget.

All money is in pounds (exact in tables and CSVs; :func:`money` rounds for members). The time
axis of every money table is the **financial year** (1 April to 31 March, labelled ``2026-27``);
the model works month by month from the month after the report's as-at date, so the first
financial year is usually part of a year and says how many months it covers.

Definitions (every figure the reports publish is one of these):

* **cost of an employed post** = salary point x (1 + on-costs); **cost of an agency post** =
  that x (1 + agency premium). **Annual cost of an establishment** = sum over roles of
  posts x (1 - vacancy factor) x ((1 - agency share) x employed cost + agency share x agency
  cost). The vacancy factor is the share of posts vacant and not covered, so not paid.
* **agency conversion**: in financial year t (0 = the first) the proposed establishment's agency
  share is today's share x (1 - conversion[t]); the last value of the trajectory carries on.
* **locality baseline**: today's establishment (from the config, source named) growing with
  demand at the locality growth rate; **locality proposal**: the locality sizing's establishment,
  growing at the same rate, with agency posts converting. Pay rises at the pay inflation rate.
* **gross saving** (a month) = baseline cost - plan cost (before the plan's own investment);
  **investment** = one-off + running costs; **net saving** = gross - investment;
  **cumulative net position** = running total of net saving.
* **break-even month**: the first month from which the cumulative net position is zero or
  better and stays so to the end of the horizon; None when it never does.
* **return on investment (ROI)** = total net saving / total investment over the horizon
  (0.5 = every £1 invested returns £1.50 gross); None without investment.
* **cashable** saving: spend that falls below today's level (today's run rate uprated for
  inflation); **growth avoidance**: spend that would have risen above today's level under the
  baseline forecast and does not. Per month, avoidance = max(0, min(gross, baseline - today))
  and cashable = gross - avoidance, so the two always add up to the gross saving.
* **range**: the placement forecast's low and high totals (its central interval) scale the
  baseline; the plan is assumed to change spend by the same percentage as in the central case,
  so gross saving scales with the baseline and the split is recomputed.
* **budgeted saving** for a financial year the model only partly covers is the year's budget x
  months covered / 12 (stated on the page).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Roles the locality sizing sizes, in the order reports show them (``fte_<role>``/``posts_<role>`` there).
ROLES = ("social_workers", "family_support_workers", "senior_practitioners", "team_managers")
ROLE_LABELS = {"social_workers": "Social workers", "family_support_workers": "Family support workers",
               "senior_practitioners": "Senior practitioners", "team_managers": "Team managers"}
LOCALITY_WORKSTREAM = "Locality staffing"
DAYS_PER_YEAR = 365.25
MINUS = "\u2212\u2060"   # minus sign + word joiner (no line break inside "-£1.2m")


class FinanceConfigError(ValueError):
    """A ``[finance]`` config entry that cannot be used; the message names the key."""


# --------------------------------------------------------------------------
# Financial years and money for members
# --------------------------------------------------------------------------

def fy_start_year(date) -> int:
    """The calendar year in which the financial year holding ``date`` starts (April-March)."""
    d = pd.Timestamp(date)
    return d.year if d.month >= 4 else d.year - 1


def fy_label(start_year: int) -> str:
    """``2026`` -> ``"2026-27"``."""
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def parse_fy(label: str) -> int:
    """``"2026-27"`` -> 2026; raises FinanceConfigError for anything else."""
    text = str(label).strip()
    try:
        a, b = text.split("-")
        start = int(a)
        if len(a) != 4 or len(b) != 2 or int(b) != (start + 1) % 100:
            raise ValueError
    except ValueError as exc:
        raise FinanceConfigError(f"financial year {label!r}: write it as 2026-27 (April 2026 to March 2027)") from exc
    return start


def fy_of(dates) -> pd.Series:
    """Financial-year label of each date."""
    d = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates)))
    start = np.where(d.month >= 4, d.year, d.year - 1)
    return pd.Series([fy_label(int(y)) for y in start], index=getattr(dates, "index", None))


def money(x: float | None) -> str:
    """Pounds rounded for members: ``£2.99m``, ``£332,000`` (nearest £1,000), ``£950``.

    A negative amount starts with a minus sign (U+2212) joined to the pound sign by a word joiner
    (U+2060), so a narrow table cell never breaks it from the number.
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    sign = MINUS if x < 0 else ""
    a = abs(float(x))
    if round(a / 1e6, 2) >= 1:
        return f"{sign}£{a / 1e6:,.2f}m"
    if a >= 1000:
        return f"{sign}£{round(a / 1000) * 1000:,.0f}"
    return f"{sign}£{a:,.0f}"


def md_text(text: str) -> str:
    """Config or input text made safe to put inside Markdown on a page: HTML escaped and Markdown's
    emphasis, link and code characters backslash-escaped, so it shows as typed."""
    import html
    import re

    return re.sub(r"([\\`*_\[\]#|])", r"\\\1", html.escape(str(text), quote=False))


def month_axis(start, horizon_years: float) -> pd.DataFrame:
    """Month ends after ``start`` to ``horizon_years`` ahead (as the placement forecast records).

    Output: ``date`` (month end; the last is the horizon date), ``days`` (days since the previous
    row, the first since ``start``), ``years_since`` (days since start / 365.25), ``financial_year``
    and ``fy_index`` (0 for the financial year of the first month).
    """
    start = pd.Timestamp(start)
    end = start + pd.DateOffset(months=int(round(horizon_years * 12)))
    dates = pd.date_range(start, end, freq="ME")
    dates = dates[dates > start]
    if len(dates) == 0 or dates[-1] != end:
        dates = dates.append(pd.DatetimeIndex([end]))
    since = (dates - start).days.to_numpy()
    fy = np.where(dates.month >= 4, dates.year, dates.year - 1)
    return pd.DataFrame({"date": dates, "days": np.diff(np.concatenate([[0], since])), "years_since": since / DAYS_PER_YEAR,
                         "financial_year": [fy_label(int(y)) for y in fy], "fy_index": fy - fy[0]})


# --------------------------------------------------------------------------
# Workforce cost
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class RoleCost:
    """Council decisions for one role: salary point (£ a year, full time), on-costs (employer's
    national insurance and pension as a share of salary), agency premium (an agency worker's
    cost above an employed worker's full cost, 0.6 = 60% more)."""

    salary: float
    on_costs: float = 0.0
    agency_premium: float = 0.0

    @property
    def employed(self) -> float:
        return self.salary * (1.0 + self.on_costs)

    @property
    def agency(self) -> float:
        return self.employed * (1.0 + self.agency_premium)


def establishment(table: pd.DataFrame, basis: str = "posts") -> pd.DataFrame:
    """Total establishment by role from the locality sizing.

    Input: either the long form ``role, fte, posts`` (one row per locality and role, or per role)
    or the locality table of :func:`helpers.localities.model.locality_table` (``fte_<role>`` and
    ``posts_<role>`` columns, one row per locality). Output: one row per role in :data:`ROLES`
    order with ``role, fte, posts`` summed over localities and ``costed`` (the ``basis`` column
    the cost uses: ``"posts"`` = whole posts, ``"fte"``).
    """
    if basis not in ("posts", "fte"):
        raise FinanceConfigError(f"finance.cost_basis must be 'posts' or 'fte', got {basis!r}")
    if {"role", "fte", "posts"} <= set(table.columns):
        long = table[["role", "fte", "posts"]]
    else:
        missing = [f"{k}_{r}" for r in ROLES for k in ("fte", "posts") if f"{k}_{r}" not in table.columns]
        if missing:
            raise ValueError(f"establishment: the locality table lacks {missing}")
        long = pd.DataFrame({"role": [r for r in ROLES for _ in range(len(table))],
                             "fte": np.concatenate([table[f"fte_{r}"].to_numpy(float) for r in ROLES]),
                             "posts": np.concatenate([table[f"posts_{r}"].to_numpy(float) for r in ROLES])})
    unknown = sorted(set(long["role"]) - set(ROLES))
    if unknown:
        raise ValueError(f"establishment: unknown roles {unknown} (expected {list(ROLES)})")
    out = long.groupby("role")[["fte", "posts"]].sum().reindex(list(ROLES), fill_value=0.0).reset_index()
    out["costed"] = out[basis].astype(float)
    return out


def workforce_cost(est: pd.DataFrame, roles: Mapping[str, RoleCost], agency_share, vacancy_factor: float = 0.0) -> pd.DataFrame:
    """Annual cost of an establishment at today's pay, by role.

    Input: ``est`` with ``role`` and ``costed`` (posts or FTE to pay for; ``posts`` is used when
    there is no ``costed``); ``roles`` the :class:`RoleCost` of every role; ``agency_share`` one
    number or a mapping/Series by role (share of filled posts held by agency workers, 0-1);
    ``vacancy_factor`` (0-1) the share of posts vacant and not covered.
    Output: ``role, costed, paid, agency_share, agency_posts, employed_cost_per_post,
    agency_cost_per_post, annual_cost`` with paid = costed x (1 - vacancy factor) and
    annual cost = paid x ((1 - share) x employed + share x agency).
    """
    if not 0 <= vacancy_factor < 1:
        raise FinanceConfigError(f"finance.vacancy_factor must be from 0 to under 1, got {vacancy_factor}")
    rows = []
    for _, r in est.iterrows():
        role = r["role"]
        if role not in roles:
            raise FinanceConfigError(f"finance.roles: no salary point for {role!r}")
        rc = roles[role]
        share = float(agency_share[role] if isinstance(agency_share, (Mapping, pd.Series)) else agency_share)
        if not 0 <= share <= 1:
            raise FinanceConfigError(f"agency share for {role!r} must be from 0 to 1, got {share}")
        n = float(r["costed"] if "costed" in est.columns else r["posts"])
        paid = n * (1.0 - vacancy_factor)
        rows.append({"role": role, "costed": n, "paid": paid, "agency_share": share, "agency_posts": paid * share,
                     "employed_cost_per_post": rc.employed, "agency_cost_per_post": rc.agency,
                     "annual_cost": paid * ((1 - share) * rc.employed + share * rc.agency)})
    return pd.DataFrame(rows)


def agency_share_by_year(current_share: float, conversion: Sequence[float], fy_index) -> np.ndarray:
    """Agency share in each financial year index: ``current x (1 - conversion[t])`` (last value carries on;
    no trajectory = no conversion)."""
    conv = [float(c) for c in conversion] or [0.0]
    for c in conv:
        if not 0 <= c <= 1:
            raise FinanceConfigError(f"finance.locality.agency_conversion values must be from 0 to 1, got {c}")
    t = np.clip(np.asarray(fy_index, int), 0, len(conv) - 1)
    return current_share * (1.0 - np.asarray(conv)[t])


# --------------------------------------------------------------------------
# Cashable / growth-avoidance split and the business case
# --------------------------------------------------------------------------

def split_saving(gross, baseline, today) -> tuple[np.ndarray, np.ndarray]:
    """``(cashable, growth_avoidance)`` of a gross saving (see the module's definitions).

    avoidance = max(0, min(gross, baseline - today)); cashable = gross - avoidance.
    """
    g = np.asarray(gross, float)
    avoid = np.maximum(0.0, np.minimum(g, np.asarray(baseline, float) - np.asarray(today, float)))
    return g - avoid, avoid


def break_even(dates, cumulative) -> pd.Timestamp | None:
    """First date from which ``cumulative`` is >= 0 to the end; None when the last value is negative."""
    c = np.asarray(cumulative, float)
    if len(c) == 0 or c[-1] < 0:
        return None
    neg = np.flatnonzero(c < 0)
    k = 0 if len(neg) == 0 else int(neg[-1]) + 1
    return pd.Timestamp(pd.DatetimeIndex(dates)[k])


MONTHLY_COLUMNS = ("date", "days", "financial_year", "baseline", "today", "plan", "one_off", "running")


def business_case(monthly: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Business case of one plan from its monthly money.

    Input: ``monthly`` with :data:`MONTHLY_COLUMNS`: ``baseline`` (spend without the plan),
    ``today`` (today's spend uprated for inflation), ``plan`` (spend with the plan, before its
    investment), ``one_off`` and ``running`` (the plan's investment), optionally ``baseline_low``
    and ``baseline_high`` (the baseline's range).
    Output ``(months, years, summary)``: ``months`` adds ``gross_saving, investment, net_saving,
    cumulative_net, cashable, growth_avoidance`` (and ``gross_saving_low/high``,
    ``cashable_low/high``, ``growth_avoidance_low/high`` with a range); ``years`` sums them by
    financial year (``months`` covered, ``cumulative_net`` at the year end); ``summary`` holds the
    totals, ``break_even`` (month end or None), ``months_to_break_even`` and ``roi``.
    """
    lacking = [c for c in MONTHLY_COLUMNS if c not in monthly.columns]
    if lacking:
        raise ValueError(f"business_case: monthly table lacks {lacking}")
    m = monthly.reset_index(drop=True).copy()
    m["gross_saving"] = m["baseline"] - m["plan"]
    m["investment"] = m["one_off"] + m["running"]
    m["net_saving"] = m["gross_saving"] - m["investment"]
    m["cumulative_net"] = m["net_saving"].cumsum()
    m["cashable"], m["growth_avoidance"] = split_saving(m["gross_saving"], m["baseline"], m["today"])
    ranged = {"baseline_low", "baseline_high"} <= set(m.columns)
    sums = ["baseline", "plan", "gross_saving", "one_off", "running", "investment", "net_saving", "cashable", "growth_avoidance"]
    if ranged:
        ratio = np.where(m["baseline"] != 0, m["plan"] / m["baseline"].where(m["baseline"] != 0, 1.0), 1.0)
        for b in ("low", "high"):
            base_b = m[f"baseline_{b}"]
            m[f"gross_saving_{b}"] = base_b * (1 - ratio)
            m[f"cashable_{b}"], m[f"growth_avoidance_{b}"] = split_saving(m[f"gross_saving_{b}"], base_b, m["today"])
            sums += [f"gross_saving_{b}", f"cashable_{b}", f"growth_avoidance_{b}"]
    order = list(dict.fromkeys(m["financial_year"]))
    years = m.groupby("financial_year", sort=False).agg(months=("date", "size"), days=("days", "sum"),
                                                        **{c: (c, "sum") for c in sums})
    years["cumulative_net"] = m.groupby("financial_year", sort=False)["cumulative_net"].last()
    years = years.reindex(order).reset_index()
    be = break_even(m["date"], m["cumulative_net"])
    invest = float(m["investment"].sum())
    summary = {
        "first_month": pd.Timestamp(m["date"].iloc[0]), "last_month": pd.Timestamp(m["date"].iloc[-1]),
        "one_off": float(m["one_off"].sum()), "running": float(m["running"].sum()), "investment": invest,
        "gross_saving": float(m["gross_saving"].sum()), "net_saving": float(m["net_saving"].sum()),
        "cashable": float(m["cashable"].sum()), "growth_avoidance": float(m["growth_avoidance"].sum()),
        "break_even": be,
        "months_to_break_even": None if be is None else int(np.flatnonzero(pd.DatetimeIndex(m["date"]) == be)[0]) + 1,
        "roi": (float(m["net_saving"].sum()) / invest) if invest > 0 else None,
    }
    if ranged:
        for b in ("low", "high"):
            for c in ("gross_saving", "cashable", "growth_avoidance"):
                summary[f"{c}_{b}"] = float(m[f"{c}_{b}"].sum())
    return m, years, summary


# --------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class FinanceSettings:
    """The ``[finance]`` config table, checked."""

    roles: dict[str, RoleCost]
    current_posts: dict[str, float]
    current_agency_share: dict[str, float]
    current_source: str
    pay_inflation: float = 0.0
    vacancy_factor: float = 0.0
    cost_basis: str = "posts"
    agency_conversion: tuple[float, ...] = ()
    locality_one_off: dict[str, float] = field(default_factory=dict)
    locality_running: float | dict[str, float] = 0.0
    budgets: dict[str, dict[str, float]] = field(default_factory=dict)
    budget_basis: str = "annual"
    summary_years: int = 3
    horizon_years: float = 5.0


def _num(value, key: str, lo: float | None = None, hi: float | None = None) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise FinanceConfigError(f"finance.{key}: needs a number, got {value!r}") from exc
    if (lo is not None and x < lo) or (hi is not None and x > hi) or math.isnan(x):
        raise FinanceConfigError(f"finance.{key}: {x} is outside {lo} to {hi}")
    return x


def _by_fy(table, key: str) -> dict[str, float]:
    if not isinstance(table, Mapping):
        raise FinanceConfigError(f"finance.{key}: needs a table of financial years, e.g. {{ \"2026-27\" = 332000 }}")
    return {fy_label(parse_fy(k)): _num(v, f"{key}.{k}") for k, v in table.items()}


def settings_from_config(cfg: Mapping) -> FinanceSettings:
    """Parse the config's ``[finance]`` table (see configs/demo.toml for every key and its meaning)."""
    f = cfg.get("finance")
    if not isinstance(f, Mapping):
        raise FinanceConfigError("the config has no [finance] table: see configs/demo.toml")
    roles = {}
    for role in ROLES:
        r = f.get("roles", {}).get(role)
        if not isinstance(r, Mapping) or "salary" not in r:
            raise FinanceConfigError(f"finance.roles.{role}: needs salary (and on_costs, agency_premium)")
        roles[role] = RoleCost(_num(r["salary"], f"roles.{role}.salary", 0), _num(r.get("on_costs", 0), f"roles.{role}.on_costs", 0, 1),
                               _num(r.get("agency_premium", 0), f"roles.{role}.agency_premium", 0, 5))
    cur = f.get("current_establishment", {})
    if not cur.get("source"):
        raise FinanceConfigError("finance.current_establishment.source: name where today's establishment comes from")
    posts, share = {}, {}
    for role in ROLES:
        r = cur.get(role)
        if not isinstance(r, Mapping) or "posts" not in r:
            raise FinanceConfigError(f"finance.current_establishment.{role}: needs posts (and agency_share)")
        posts[role] = _num(r["posts"], f"current_establishment.{role}.posts", 0)
        share[role] = _num(r.get("agency_share", 0), f"current_establishment.{role}.agency_share", 0, 1)
    loc = f.get("locality", {})
    running = loc.get("running", 0.0)
    running = _by_fy(running, "locality.running") if isinstance(running, Mapping) else _num(running, "locality.running", 0)
    budgets = {str(k): _by_fy(v, f"budgets.{k}") for k, v in f.get("budgets", {}).items()}
    basis = f.get("budget_basis", "annual")
    if basis not in ("annual", "incremental"):
        raise FinanceConfigError(f"finance.budget_basis must be 'annual' or 'incremental', got {basis!r}")
    return FinanceSettings(
        roles=roles, current_posts=posts, current_agency_share=share, current_source=str(cur["source"]),
        pay_inflation=_num(f.get("pay_inflation", 0.0), "pay_inflation", -0.5, 1),
        vacancy_factor=_num(f.get("vacancy_factor", 0.0), "vacancy_factor", 0, 0.99),
        cost_basis=str(f.get("cost_basis", "posts")),
        agency_conversion=tuple(_num(c, "locality.agency_conversion", 0, 1) for c in loc.get("agency_conversion", [])),
        locality_one_off=_by_fy(loc.get("one_off", {}), "locality.one_off"), locality_running=running,
        budgets=budgets, budget_basis=basis,
        summary_years=int(_num(f.get("summary_years", 3), "summary_years", 1, 10)),
        horizon_years=_num(f.get("horizon_years", 5), "horizon_years", 1, 10),
    )


def check_budget_names(settings: FinanceSettings, workstreams: Sequence[str]) -> None:
    """Refuse a ``[finance.budgets]`` entry that names no workstream (a typo would silently drop a budget)."""
    unknown = [k for k in settings.budgets if k not in workstreams]
    if unknown:
        raise FinanceConfigError(f"finance.budgets: {unknown} match no workstream; the workstreams are {list(workstreams)} "
                                 "(\"Locality staffing\" and each [[placements.scenarios]] name)")


def budget_by_fy(settings: FinanceSettings, workstream: str, fallback=None, first_fy: str | None = None) -> dict[str, float]:
    """The budgeted saving by financial year of a workstream (£, savings positive).

    From ``[finance.budgets]`` when it names the workstream; ``budget_basis = "incremental"``
    means each year's figure adds to the previous years' (the saving against the baseline is the
    running total). Otherwise ``fallback`` (a placement scenario's ``budgeted_saving``: one
    number = every year of the horizon; a list = by year from ``first_fy``).
    """
    if workstream in settings.budgets:
        b = dict(sorted(settings.budgets[workstream].items()))
        if settings.budget_basis == "incremental":
            b = dict(zip(b, np.cumsum(list(b.values())).tolist()))
        return b
    if fallback is None or first_fy is None:
        return {}
    start = parse_fy(first_fy)
    n = int(math.ceil(settings.horizon_years)) + 1
    vals = [float(fallback)] * n if isinstance(fallback, (int, float)) else [float(v) for v in fallback]
    return {fy_label(start + k): v for k, v in enumerate(vals)}


# --------------------------------------------------------------------------
# The locality model's money
# --------------------------------------------------------------------------

def locality_monthly(proposed: pd.DataFrame, settings: FinanceSettings, start, *, demand_growth: float = 0.0) -> pd.DataFrame:
    """Monthly money of the locality model (input to :func:`business_case`).

    ``proposed``: the sizing's establishment (:func:`establishment`). For each month after ``start``
    to the horizon: baseline = today's establishment x (1 + demand growth)^years at today's agency
    shares; today = today's establishment; plan = the proposed establishment x the same demand
    factor at the converted agency share of the month's financial year; all x (1 + pay
    inflation)^years x days / 365.25. Investment: one-off by financial year (in its first modelled
    month; a one-off in a year before the modelling starts is spent already and not counted),
    running cost a year (spread by days).
    """
    axis = month_axis(start, settings.horizon_years)
    cur = pd.DataFrame({"role": list(ROLES), "costed": [settings.current_posts[r] for r in ROLES]})
    cur_cost = float(workforce_cost(cur, settings.roles, settings.current_agency_share, settings.vacancy_factor)["annual_cost"].sum())
    prop = proposed[["role", "costed"]]
    plan_by_fy = {}
    for t in sorted(set(axis["fy_index"])):
        shares = {r: float(agency_share_by_year(settings.current_agency_share[r], settings.agency_conversion, [t])[0]) for r in ROLES}
        plan_by_fy[t] = float(workforce_cost(prop, settings.roles, shares, settings.vacancy_factor)["annual_cost"].sum())
    pay = (1 + settings.pay_inflation) ** axis["years_since"]
    demand = (1 + demand_growth) ** axis["years_since"]
    part = axis["days"] / DAYS_PER_YEAR
    out = axis[["date", "days", "financial_year", "fy_index"]].copy()
    out["today"] = cur_cost * pay * part
    out["baseline"] = cur_cost * demand * pay * part
    out["plan"] = axis["fy_index"].map(plan_by_fy) * demand * pay * part
    out["one_off"] = 0.0
    first_month = ~out["financial_year"].duplicated()
    for fy, amount in settings.locality_one_off.items():
        hit = first_month & (out["financial_year"] == fy)
        out.loc[hit, "one_off"] = amount
    r = settings.locality_running
    running = out["financial_year"].map(r).fillna(0.0) if isinstance(r, dict) else pd.Series(float(r), index=out.index)
    out["running"] = running * pay * part
    return out


def establishment_comparison(proposed: pd.DataFrame, settings: FinanceSettings) -> pd.DataFrame:
    """Today's establishment (config) against the proposed one, by role, at today's pay.

    Output: ``role, role_label, current_posts, current_agency_share, current_annual_cost,
    proposed_fte, proposed_posts, proposed_agency_share`` (after the whole conversion trajectory),
    ``proposed_annual_cost_now`` (at today's agency share), ``proposed_annual_cost_converted``,
    plus a ``"All roles"`` total row (agency shares there are post-weighted).
    """
    cur = pd.DataFrame({"role": list(ROLES), "costed": [settings.current_posts[r] for r in ROLES]})
    c = workforce_cost(cur, settings.roles, settings.current_agency_share, settings.vacancy_factor)
    conv_final = settings.agency_conversion[-1] if settings.agency_conversion else 0.0
    final_share = {r: settings.current_agency_share[r] * (1 - conv_final) for r in ROLES}
    p_now = workforce_cost(proposed, settings.roles, settings.current_agency_share, settings.vacancy_factor)
    p_end = workforce_cost(proposed, settings.roles, final_share, settings.vacancy_factor)
    out = pd.DataFrame({
        "role": list(ROLES), "role_label": [ROLE_LABELS[r] for r in ROLES],
        "current_posts": c["costed"].to_numpy(), "current_agency_share": c["agency_share"].to_numpy(),
        "current_annual_cost": c["annual_cost"].to_numpy(),
        "proposed_fte": proposed.set_index("role").reindex(list(ROLES))["fte"].to_numpy(float),
        "proposed_posts": proposed.set_index("role").reindex(list(ROLES))["posts"].to_numpy(float),
        "proposed_agency_share": p_end["agency_share"].to_numpy(),
        "proposed_annual_cost_now": p_now["annual_cost"].to_numpy(),
        "proposed_annual_cost_converted": p_end["annual_cost"].to_numpy(),
    })
    tot = out.select_dtypes("number").sum()
    tot["current_agency_share"] = float((c["agency_posts"].sum() / c["paid"].sum()) if c["paid"].sum() else 0.0)
    tot["proposed_agency_share"] = float((p_end["agency_posts"].sum() / p_end["paid"].sum()) if p_end["paid"].sum() else 0.0)
    total = pd.DataFrame([{"role": "all", "role_label": "All roles", **tot.to_dict()}])
    return pd.concat([out, total], ignore_index=True)


# --------------------------------------------------------------------------
# Placement scenarios' money
# --------------------------------------------------------------------------

INVESTMENT_ROWS = {"Set-up": "one_off", "Running cost": "running"}


def placement_monthly(base_cost: pd.DataFrame, scen_cost: pd.DataFrame, start, inflation: float = 0.0,
                      total_forecast: pd.DataFrame | None = None) -> pd.DataFrame:
    """Monthly money of a placement scenario (input to :func:`business_case`).

    Inputs: the long monthly costs of :func:`helpers.placements.sufficiency.cost_of` for the baseline and the
    scenario (the scenario's ``"Scenario cost"`` rows ``"Set-up"`` = one-off and ``"Running cost"``
    = running investment; any other scenario row, e.g. the parent-and-child price difference, is
    part of the plan's spend); the forecast start; the unit-cost inflation; optionally the
    forecast's ``"Total"`` rows (``date, forecast, lower, upper``) for the range.
    ``today`` = the baseline's first-month spend per day x days x the inflation uplift since then.
    """
    base = base_cost.groupby("date")["cost"].sum()
    inv = scen_cost[(scen_cost["category"] == "Scenario cost") & scen_cost["provider_type"].isin(list(INVESTMENT_ROWS))]
    plan = scen_cost.drop(inv.index).groupby("date")["cost"].sum().reindex(base.index, fill_value=0.0)
    dates = pd.DatetimeIndex(base.index)
    start = pd.Timestamp(start)
    since = (dates - start).days.to_numpy()
    days = np.diff(np.concatenate([[0], since]))
    uplift = (1 + inflation) ** (since / DAYS_PER_YEAR)
    out = pd.DataFrame({"date": dates, "days": days, "financial_year": fy_of(dates).to_numpy(),
                        "baseline": base.to_numpy(), "plan": plan.to_numpy()})
    per_day = out["baseline"].iloc[0] / days[0] / uplift[0] if days[0] > 0 else 0.0
    out["today"] = per_day * days * uplift
    for row, col in INVESTMENT_ROWS.items():
        out[col] = inv[inv["provider_type"] == row].groupby("date")["cost"].sum().reindex(dates, fill_value=0.0).to_numpy()
    if total_forecast is not None:
        t = total_forecast.set_index(pd.DatetimeIndex(total_forecast["date"])).reindex(dates)
        denom = t["forecast"].where(t["forecast"] > 0)
        for b, col in (("low", "lower"), ("high", "upper")):
            out[f"baseline_{b}"] = (out["baseline"].to_numpy() * (t[col] / denom).fillna(1.0).to_numpy())
    return out


# --------------------------------------------------------------------------
# Workstream tables and the member summary
# --------------------------------------------------------------------------

YEAR_COLUMNS = ["workstream", "financial_year", "months", "one_off", "running", "investment", "gross_saving", "net_saving",
                "cumulative_net", "cashable", "growth_avoidance", "gross_saving_low", "gross_saving_high",
                "cashable_low", "cashable_high", "growth_avoidance_low", "growth_avoidance_high",
                "budgeted_saving", "difference"]
RANGED = ("gross_saving", "cashable", "growth_avoidance")


def workstream_years(name: str, years: pd.DataFrame, budget: Mapping[str, float]) -> pd.DataFrame:
    """One workstream's year table (:data:`YEAR_COLUMNS`) from :func:`business_case`'s ``years``.

    ``budgeted_saving`` = the year's budget x months covered / 12 (full years unchanged);
    ``difference`` = net saving - budgeted saving (negative = short of the budget). Budgets are
    compared with the **net** saving (after the plan's own one-off and running costs), as the
    placement report's scenario savings are.
    Without a range, the ``_low``/``_high`` columns equal the central figures.
    """
    y = years.copy()
    for b in ("low", "high"):
        for c in RANGED:
            if f"{c}_{b}" not in y.columns:
                y[f"{c}_{b}"] = y[c]
    y["budgeted_saving"] = [float(budget.get(fy, 0.0)) * min(12, m) / 12 for fy, m in zip(y["financial_year"], y["months"])]
    y["difference"] = y["net_saving"] - y["budgeted_saving"]
    y.insert(0, "workstream", name)
    return y[YEAR_COLUMNS]


def savings_against_budget(years: pd.DataFrame, financial_years: Sequence[str]) -> pd.DataFrame:
    """The member summary table: savings by financial year and workstream against the budget.

    Input: the workstreams' year tables (:func:`workstream_years`, stacked); the financial years
    to show. Output (wide): ``workstream, measure`` (``"Modelled saving"``: the net saving after the
    plan's own costs, ``"Budgeted saving"``,
    ``"Difference"``), one column per financial year and ``All years``; after each workstream's
    three rows come the ``All workstreams`` rows (sums of the rows above). Exact pounds.
    """
    y = years[years["financial_year"].isin(financial_years)]
    measures = {"Modelled saving": "net_saving", "Budgeted saving": "budgeted_saving", "Difference": "difference"}
    names = list(dict.fromkeys(years["workstream"]))
    rows = []
    for name in [*names, "All workstreams"]:
        part = y if name == "All workstreams" else y[y["workstream"] == name]
        for label, col in measures.items():
            vals = part.groupby("financial_year")[col].sum().reindex(list(financial_years), fill_value=0.0)
            rows.append({"workstream": name, "measure": label, **vals.to_dict(), "All years": float(vals.sum())})
    return pd.DataFrame(rows)


def summary_years(first_fy: str, n: int) -> list[str]:
    """``n`` financial-year labels from ``first_fy``."""
    s = parse_fy(first_fy)
    return [fy_label(s + k) for k in range(n)]


def headline(table: pd.DataFrame, fy: str, months: int, markdown: bool = False) -> str:
    """Plain-English headline for one financial year of :func:`savings_against_budget`.

    "£x of the £y budgeted for 2026-27 is supported by the modelled plans; the gap is in A (£a)
    and B (£b)." (or "...: the plans cover the budget"), naming workstreams short of budget,
    largest gap first. ``months`` < 12 says which part of the year is modelled. ``markdown=True``
    escapes the workstream names (config text) for a page.
    """
    name = md_text if markdown else str
    t = table.set_index(["workstream", "measure"])[fy]
    modelled, budget = t[("All workstreams", "Modelled saving")], t[("All workstreams", "Budgeted saving")]
    part = "" if months >= 12 else f" (the {months} months of the year still to come; the year's budget is pro-rated)"
    names = [w for w in dict.fromkeys(table["workstream"]) if w != "All workstreams"]
    supported = sum(min(max(t[(w, "Modelled saving")], 0.0), max(t[(w, "Budgeted saving")], 0.0)) for w in names)
    gaps = sorted(((t[(w, "Difference")], w) for w in names if t[(w, "Difference")] < -0.5), key=lambda g: g[0])
    text = f"{money(supported)} of the {money(budget)} budgeted for {fy}{part} is supported by the modelled plans"
    if gaps:
        text += "; the gap is in " + _and([f"{name(w)} ({money(-d)} short)" for d, w in gaps]) + "."
    else:
        text += "; every workstream's modelled saving covers its budget."
    if modelled > budget:
        text += f" In all, the plans are modelled to save {money(modelled)} that year."
    return text


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def savings_chart(years: pd.DataFrame, financial_years: Sequence[str]):
    """Stacked bars of modelled net saving by financial year and workstream, with the budgeted total as a tick.

    Input: the stacked year tables (:func:`workstream_years`). Built from money totals only.
    """
    import altair as alt

    y = years[years["financial_year"].isin(financial_years)]
    bars = (y.groupby(["financial_year", "workstream"], as_index=False)["net_saving"].sum()
             .assign(saving_m=lambda d: d["net_saving"] / 1e6))
    budget = (y.groupby("financial_year", as_index=False)["budgeted_saving"].sum()
                .assign(budget_m=lambda d: d["budgeted_saving"] / 1e6))
    x = alt.X("financial_year:N", title="Financial year (April to March)", sort=list(financial_years))
    stack = alt.Chart(bars).mark_bar().encode(
        x=x, y=alt.Y("saving_m:Q", title="Net saving (£ million)"), color=alt.Color("workstream:N", title="Workstream"),
        tooltip=[alt.Tooltip("workstream:N", title="Workstream"), alt.Tooltip("financial_year:N", title="Year"),
                 alt.Tooltip("saving_m:Q", title="Modelled net saving (£m)", format=",.2f")])
    tick = alt.Chart(budget).mark_tick(color="black", thickness=3, size=40).encode(
        x=x, y="budget_m:Q", tooltip=[alt.Tooltip("financial_year:N", title="Year"),
                                      alt.Tooltip("budget_m:Q", title="Budgeted saving (£m)", format=",.2f")])
    return (stack + tick).properties(width=520, height=320).configure_legend(orient="bottom", columns=1, labelLimit=480)


def for_members(table: pd.DataFrame, money_cols: Sequence[str], group_col: str | None = None) -> pd.DataFrame:
    """A copy with ``money_cols`` as rounded member text (:func:`money`); with ``group_col``, a
    value repeated from the row above is left blank so each group's name shows once."""
    out = table.copy()
    for c in money_cols:
        out[c] = out[c].map(money)
    if group_col is not None:
        out[group_col] = out[group_col].where(out[group_col] != out[group_col].shift(), "")
    return out


# --------------------------------------------------------------------------
# What the report notebooks call
# --------------------------------------------------------------------------

CASE_COLUMNS = ["workstream", "first_month", "last_month", "one_off", "running", "investment", "gross_saving",
                "net_saving", "cashable", "growth_avoidance", "gross_saving_low", "gross_saving_high",
                "cashable_low", "cashable_high", "growth_avoidance_low", "growth_avoidance_high",
                "break_even", "months_to_break_even", "roi"]


def case_row(name: str, summary: Mapping) -> dict:
    """One row of a business-case table (:data:`CASE_COLUMNS`) from :func:`business_case`'s summary
    (without a range, the ``_low``/``_high`` figures equal the central ones)."""
    row = {"workstream": name}
    for c in CASE_COLUMNS[1:]:
        central = c.rsplit("_", 1)[0] if c.endswith(("_low", "_high")) else None
        v = summary.get(c, summary.get(central) if central in RANGED else None)
        row[c] = v.date().isoformat() if isinstance(v, pd.Timestamp) else v
    return row


@dataclass
class WorkstreamMoney:
    """The money of one or more workstreams, as a report shows and publishes it."""

    years: pd.DataFrame                 # stacked :func:`workstream_years` tables
    cases: pd.DataFrame                 # one row per workstream (:data:`CASE_COLUMNS`)
    months: dict[str, pd.DataFrame]     # per workstream, :func:`business_case` months
    comparison: pd.DataFrame | None = None   # locality only: :func:`establishment_comparison`


def locality_money(locality_table: pd.DataFrame, settings: FinanceSettings, start, demand_growth: float = 0.0,
                   name: str = LOCALITY_WORKSTREAM) -> WorkstreamMoney:
    """Cost, savings by financial year against budget and business case of the locality model.

    ``locality_table``: the sizing's establishment (:func:`establishment` input: the locality
    table or ``role, fte, posts`` rows); ``start``: the report's as-at date (money runs from the
    month after it); ``demand_growth``: the locality report's yearly demand growth.
    """
    est = establishment(locality_table, settings.cost_basis)
    monthly = locality_monthly(est, settings, start, demand_growth=demand_growth)
    months, years, summary = business_case(monthly)
    budget = budget_by_fy(settings, name)
    return WorkstreamMoney(years=workstream_years(name, years, budget), cases=pd.DataFrame([case_row(name, summary)]),
                           months={name: months}, comparison=establishment_comparison(est, settings))


def placement_money(model, inputs, scenarios, forecast: pd.DataFrame | None, settings: FinanceSettings | None) -> WorkstreamMoney:
    """Business case and savings by financial year of every placement scenario.

    Inputs as :func:`helpers.placements.sufficiency.compare_scenarios`, plus the forecast (its ``"Total"``
    rows give the range) and the finance settings (for budgets by financial year; None = each
    scenario's ``budgeted_saving``, year 1 = the financial year the forecast starts in).
    """
    from helpers.placements import sufficiency

    base = sufficiency.cost_of(model, inputs)
    total = None if forecast is None else forecast[forecast["group"] == "Total"][["date", "forecast", "lower", "upper"]]
    first_fy = fy_label(fy_start_year(model.start + pd.Timedelta(days=1)))
    years, cases, months = [], [], {}
    for sc in scenarios:
        monthly = placement_monthly(base, sufficiency.cost_of(model, inputs, sc), model.start, inputs.inflation, total)
        m, y, s = business_case(monthly)
        if settings is not None:
            budget = budget_by_fy(settings, sc.name, sc.budgeted_saving, first_fy)
        else:
            budget = budget_by_fy(FinanceSettings({}, {}, {}, "", horizon_years=inputs.horizon_years), sc.name, sc.budgeted_saving, first_fy)
        years.append(workstream_years(sc.name, y, budget))
        cases.append(case_row(sc.name, s))
        months[sc.name] = m
    return WorkstreamMoney(years=pd.concat(years, ignore_index=True) if years else pd.DataFrame(columns=YEAR_COLUMNS),
                           cases=pd.DataFrame(cases, columns=CASE_COLUMNS), months=months)


def case_sentence(row: Mapping) -> str:
    """One plain-English sentence on a workstream's business case."""
    be = row.get("break_even")
    when = (f"breaks even in {pd.Timestamp(be):%B %Y}" if be else "does not break even within the period modelled")
    roi = row.get("roi")
    roi_words = "" if roi is None or (isinstance(roi, float) and math.isnan(roi)) else f", a return of {roi:.0%} on the investment"
    rng = ""
    lo, hi = row.get("gross_saving_low"), row.get("gross_saving_high")
    if lo is not None and hi is not None and abs(hi - lo) > 0.5:
        rng = f" (range {money(min(lo, hi))} to {money(max(lo, hi))} with the forecast's uncertainty)"
    return (f"**{md_text(row['workstream'])}**: {money(row['investment'])} invested saves {money(row['gross_saving'])} gross{rng}, "
            f"{money(row['net_saving'])} net{roi_words}; {money(row['cashable'])} is cashable and "
            f"{money(row['growth_avoidance'])} avoids growth; it {when}.")


def assumptions(settings: FinanceSettings, *, placement_inflation: float | None = None, demand_growth: float | None = None) -> list[str]:
    """The assumptions the money figures rest on, as Markdown sentences for the page (config text escaped)."""
    out = [
        "Financial years run from April to March; the modelling starts the month after the data's as-at date, so the "
        "first year is usually part of a year and its budget is pro-rated to the months modelled.",
        f"Pay rises {settings.pay_inflation:.1%} a year (salary points and agency rates)."
        + ("" if placement_inflation is None else f" Placement prices rise {placement_inflation:.1%} a year."),
        "Salary points, on-costs and agency premiums by role: " + "; ".join(
            f"{ROLE_LABELS[r].lower()} {money(c.salary)} + {c.on_costs:.0%} on-costs, agency {c.agency_premium:.0%} more"
            for r, c in settings.roles.items()) + ".",
        f"Today's establishment and agency shares: {md_text(settings.current_source)}.",
        f"The locality establishment is costed on whole {'posts' if settings.cost_basis == 'posts' else 'full-time equivalents'}, "
        f"less a vacancy factor of {settings.vacancy_factor:.0%} (posts vacant and not covered are not paid).",
        "Agency posts convert to employed ones along the trajectory "
        + (", ".join(f"{c:.0%}" for c in settings.agency_conversion) or "none")
        + " (share of today's agency posts converted, by financial year).",
        "Without the locality model, today's establishment would grow with demand"
        + ("" if demand_growth is None else f" ({demand_growth:.0%} a year)") + "; the proposed establishment grows at the same rate.",
        "Cashable savings are spend that falls below today's level (uprated for inflation); growth avoidance is spend that "
        "would have risen above it under the baseline forecast and does not.",
        "The range applies each plan's central percentage change in spend to the low and high placement forecasts.",
        "Budgeted savings are the council's figures from the config; the demo's are illustrative.",
    ]
    return out


def run_file(cfg: Mapping, output_dir: str, report: str, name: str):
    """A file another report wrote earlier in this monthly run (``REPORT/NAME``), or None.

    In an interactive session (no ``output_dir``) the latest published month under the config's
    ``[publish] out_dir`` (default ``reports/``) is used instead, so analysts can explore.
    """
    from pathlib import Path

    from helpers import config as config_module

    p = config_module.resolve_input(dict(cfg), f"{config_module.RUN_PREFIX}{report}/{name}", output_dir)
    if p is None and not output_dir:
        out = Path(cfg["_root"]) / cfg.get("publish", {}).get("out_dir", "reports")
        found = sorted(out.glob(f"[0-9][0-9][0-9][0-9]-[0-9][0-9]/{report}/{name}"))
        p = found[-1] if found else None
    return p


def restore_names(df: pd.DataFrame, names: Sequence[str], col: str = "workstream") -> pd.DataFrame:
    """Workstream names as the config gives them, from a published CSV: the CSV writer puts an
    apostrophe before text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``)."""
    from helpers.publishing.safe_output import neutralise_cell

    back = {neutralise_cell(n): n for n in names}
    out = df.copy()
    out[col] = out[col].map(lambda v: back.get(v, v))
    return out


def read_years(path, names: Sequence[str] = ()) -> pd.DataFrame:
    """A published ``*_savings_by_year.csv`` (exact pounds) back as a year table (workstream names
    restored with :func:`restore_names` when ``names`` are given)."""
    y = restore_names(pd.read_csv(path, dtype={"workstream": str, "financial_year": str}), names)
    lacking = [c for c in YEAR_COLUMNS if c not in y.columns]
    if lacking:
        raise ValueError(f"{path}: not a savings-by-year table (lacks {lacking})")
    return y[YEAR_COLUMNS]


MEMBER_COLUMNS = {"financial_year": "Financial year", "months": "Months modelled", "investment": "Investment",
                  "gross_saving": "Gross saving", "net_saving": "Net saving", "cumulative_net": "Cumulative net position",
                  "cashable": "Cashable", "growth_avoidance": "Growth avoided", "budgeted_saving": "Budgeted saving",
                  "difference": "Saving less budget"}


def years_for_members(years: pd.DataFrame) -> pd.DataFrame:
    """A year table with plain headings and pounds rounded for members."""
    cols = [c for c in MEMBER_COLUMNS if c in years.columns]
    lead = ["workstream"] if years["workstream"].nunique() > 1 else []
    out = for_members(years[lead + cols], [c for c in cols if c not in ("financial_year", "months")],
                      group_col="workstream" if lead else None)
    return out.rename(columns={**MEMBER_COLUMNS, "workstream": "Workstream"})


def cost_by_year(money_: "WorkstreamMoney") -> pd.DataFrame:
    """Spend by financial year of the baseline and of each plan (the plan's spend plus its investment).

    Output (long): ``plan`` (``"Baseline"`` then each workstream), ``financial_year``, ``months``, ``cost`` (£).
    """
    rows = []
    first = True
    for name, m in money_.months.items():
        g = m.groupby("financial_year")
        fys = list(dict.fromkeys(m["financial_year"]))
        months = g.size().reindex(fys).to_numpy()
        if first:
            rows.append(pd.DataFrame({"plan": "Baseline", "financial_year": fys, "months": months,
                                      "cost": g["baseline"].sum().reindex(fys).to_numpy()}))
            first = False
        rows.append(pd.DataFrame({"plan": name, "financial_year": fys, "months": months,
                                  "cost": (g["plan"].sum() + g["investment"].sum()).reindex(fys).to_numpy()}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["plan", "financial_year", "months", "cost"])
