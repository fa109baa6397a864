"""Placement costs, the sufficiency gap against in-house capacity, and scenarios.

All money is in pounds. Unit costs are weekly costs per child by placement category and
provider type (in-house or external), read from the council's config ``[placements.costs]``;
the demo's figures are *illustrative*, set near published averages (about £4,000 a week for an
external children's home, domain.md), not any council's actual costs.

Definitions:

* **weekly spend**: children in each category and provider type x weekly unit cost;
  **annual spend** = weekly x 365.25 / 7 weeks.
* **projected cost**: forecast children per month x weekly cost x days in month / 7, uplifted by
  ``(1 + inflation) ** years since the forecast start``.
* **in-house places**: fostering: approved foster households x beds per household x
  utilisation; children's homes: in-house beds x utilisation. Households change by net
  recruitment a year, each new household counting only after the approval lag.
* **sufficiency gap (shortfall)**: forecast need above in-house places, which is assumed to be
  bought externally (independent fostering agency; external children's home).
  Other categories keep today's in-house share.
* **saving** of a scenario in a year = baseline cost - scenario cost (including the scenario's
  own running costs). Positive = saving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers import codes
from helpers.placements.forecast import StockFlowModel, adjusted_rates, project

WEEKS_PER_YEAR = 365.25 / 7
FOSTERING = "Fostering: other carer"
RESIDENTIAL = "Children's home"
PARENT_AND_CHILD_CATEGORY = "Other residential"  # R3 family centre or mother-and-baby unit


class SufficiencyConfigError(ValueError):
    """A ``[placements]`` config entry that cannot be used; the message names the key."""


# --------------------------------------------------------------------------
# Unit costs and spend now
# --------------------------------------------------------------------------

def unit_costs(costs: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Weekly unit-cost table from config: ``{category: {"in_house": £, "external": £}}``.

    Output: index = category (every :data:`helpers.codes.PLACEMENT_CATEGORIES`), columns
    ``in_house``, ``external`` (£ per child per week). Missing categories raise an error.
    """
    missing = [c for c in codes.PLACEMENT_CATEGORIES if c not in costs]
    if missing:
        raise SufficiencyConfigError(f"placements.costs: no weekly cost for {missing}")
    rows = {}
    for cat in codes.PLACEMENT_CATEGORIES:
        v = costs[cat]
        try:
            rows[cat] = {"in_house": float(v["in_house"]), "external": float(v["external"])}
        except (KeyError, TypeError, ValueError) as exc:
            raise SufficiencyConfigError(f"placements.costs.{cat!r}: needs numbers in_house and external") from exc
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("category")


def spend_now(snapshot: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """Weekly and annual spend on the children in ``snapshot``.

    Input: children at a date (:func:`helpers.placements.where.cla_at_date`: ``category``, ``in_house``);
    ``costs`` from :func:`unit_costs`. Output: one row per category x provider type
    (``"In-house"``/``"External"``): ``children, weekly_unit_cost, weekly_cost, annual_cost``.
    """
    prov = np.where(snapshot["in_house"], "In-house", "External")
    n = snapshot.groupby([snapshot["category"].astype(str), prov]).size().rename("children")
    n.index.names = ["category", "provider_type"]
    full = pd.MultiIndex.from_product([list(codes.PLACEMENT_CATEGORIES), ["In-house", "External"]],
                                      names=["category", "provider_type"])
    out = n.reindex(full, fill_value=0).reset_index()
    unit = costs.rename(columns={"in_house": "In-house", "external": "External"}).stack()
    out["weekly_unit_cost"] = unit.reindex(pd.MultiIndex.from_frame(out[["category", "provider_type"]])).to_numpy()
    out["weekly_cost"] = out["children"] * out["weekly_unit_cost"]
    out["annual_cost"] = out["weekly_cost"] * WEEKS_PER_YEAR
    return out


def inhouse_share(snapshot: pd.DataFrame) -> pd.Series:
    """Share of children in in-house provision by category today (0 where a category is empty)."""
    s = snapshot.groupby(snapshot["category"].astype(str))["in_house"].mean()
    return s.reindex(list(codes.PLACEMENT_CATEGORIES)).fillna(0.0)


# --------------------------------------------------------------------------
# Capacity
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Capacity:
    """In-house capacity at the forecast start and how it changes."""

    foster_households: float
    beds_per_household: float
    foster_utilisation: float            # share of in-house foster beds that can be used (0-1)
    home_beds: float
    home_utilisation: float
    net_recruitment_per_year: float = 0.0  # approved households gained less those leaving, a year
    recruitment_lag_months: float = 6.0    # from recruitment starting to approval
    home_beds_added: float = 0.0           # in-house children's home beds opening at the start


def capacity_from_table(capacity: pd.DataFrame, settings: Mapping[str, float] | None = None) -> Capacity:
    """In-house capacity from the capacity CSV (data_model section 1: ``month, foster_households,
    foster_beds, foster_beds_occupied, home_beds, home_beds_occupied``) and config settings.

    Beds per household and utilisation are measured from the latest month (occupied / beds)
    unless ``settings`` gives ``beds_per_household``, ``foster_utilisation``, ``home_utilisation``;
    net recruitment is the change in households over the last 12 months unless ``settings``
    gives ``net_recruitment_per_year``; ``recruitment_lag_months`` and ``home_beds_added`` from settings.
    """
    s = dict(settings or {})
    c = capacity.sort_values("month")
    last = c.iloc[-1]
    year_ago = c.iloc[max(0, len(c) - 13)]
    months = max(1, len(c.iloc[max(0, len(c) - 13):]) - 1)
    trend = (last["foster_households"] - year_ago["foster_households"]) * 12 / months
    ratio = lambda a, b: float(a) / float(b) if float(b) > 0 else 0.0  # noqa: E731
    return Capacity(
        foster_households=float(last["foster_households"]),
        beds_per_household=float(s.get("beds_per_household", ratio(last["foster_beds"], last["foster_households"]))),
        foster_utilisation=float(s.get("foster_utilisation", ratio(last["foster_beds_occupied"], last["foster_beds"]))),
        home_beds=float(last["home_beds"]),
        home_utilisation=float(s.get("home_utilisation", ratio(last["home_beds_occupied"], last["home_beds"]))),
        net_recruitment_per_year=float(s.get("net_recruitment_per_year", trend)),
        recruitment_lag_months=float(s.get("recruitment_lag_months", 6.0)),
        home_beds_added=float(s.get("home_beds_added", 0.0)),
    )


def inhouse_places(capacity: Capacity, months_from_start: np.ndarray, extra_households_per_year: float = 0.0) -> pd.DataFrame:
    """In-house foster and home places at each month offset.

    households(t) = H0 + (net + extra) x max(0, t - lag) / 12 (floored at 0), t in months;
    foster places = households x beds per household x utilisation; home places =
    (home beds + added) x utilisation. Output: ``foster_households, foster_places, home_places``.
    """
    t = np.asarray(months_from_start, float)
    grown = np.maximum(0.0, t - capacity.recruitment_lag_months) / 12.0
    hh = np.maximum(0.0, capacity.foster_households + (capacity.net_recruitment_per_year + extra_households_per_year) * grown)
    return pd.DataFrame({
        "foster_households": hh,
        "foster_places": hh * capacity.beds_per_household * capacity.foster_utilisation,
        "home_places": np.full(len(t), (capacity.home_beds + capacity.home_beds_added) * capacity.home_utilisation),
    })


def sufficiency_gap(need: pd.DataFrame, capacity: Capacity, start: pd.Timestamp, extra_households_per_year: float = 0.0) -> pd.DataFrame:
    """Forecast need for fostering and children's homes against in-house places.

    Input: ``need`` with ``date`` and the forecast children in ``Fostering: other carer`` and
    ``Children's home`` (wide, one column per category, e.g. from :func:`need_by_month`).
    Output: ``date, need_fostering, inhouse_foster_places, inhouse_fostering, external_fostering,
    need_residential, inhouse_home_places, inhouse_residential, external_residential, foster_households``.
    """
    months = ((need["date"] - pd.Timestamp(start)).dt.days / (365.25 / 12)).to_numpy()
    places = inhouse_places(capacity, months, extra_households_per_year)
    out = pd.DataFrame({"date": need["date"].to_numpy()})
    out["need_fostering"] = need[FOSTERING].to_numpy()
    out["inhouse_foster_places"] = places["foster_places"].to_numpy()
    out["inhouse_fostering"] = np.minimum(out["need_fostering"], out["inhouse_foster_places"])
    out["external_fostering"] = out["need_fostering"] - out["inhouse_fostering"]
    out["need_residential"] = need[RESIDENTIAL].to_numpy()
    out["inhouse_home_places"] = places["home_places"].to_numpy()
    out["inhouse_residential"] = np.minimum(out["need_residential"], out["inhouse_home_places"])
    out["external_residential"] = out["need_residential"] - out["inhouse_residential"]
    out["foster_households"] = places["foster_households"].to_numpy()
    return out


def need_by_month(forecast: pd.DataFrame) -> pd.DataFrame:
    """Wide table of the central forecast: ``date`` + one column per category."""
    f = forecast[forecast["group"].isin(codes.PLACEMENT_CATEGORIES)]
    w = f.pivot(index="date", columns="group", values="forecast")
    return w.reindex(columns=list(codes.PLACEMENT_CATEGORIES), fill_value=0.0).reset_index().rename_axis(columns=None)


# --------------------------------------------------------------------------
# Projected cost
# --------------------------------------------------------------------------

def projected_cost(
    need: pd.DataFrame,
    gap: pd.DataFrame,
    costs: pd.DataFrame,
    share_in_house: pd.Series,
    start: pd.Timestamp,
    inflation: float = 0.0,
) -> pd.DataFrame:
    """Monthly cost of the forecast children by category and provider type.

    Fostering and children's homes are split by the gap (in-house up to places, the rest
    external); other categories by today's in-house share. Each month is costed for the days
    since the previous recorded date (the first for the days since ``start``), weekly cost x
    days / 7 x ``(1 + inflation) ** (years since start)``.
    Output (long): ``date, year, category, provider_type, children, cost``; ``year`` = 1 for the
    first 12 months and so on.
    """
    dates = pd.DatetimeIndex(need["date"])
    days = np.diff(np.concatenate([[0], (dates - pd.Timestamp(start)).days.to_numpy()]))
    years_since = (dates - pd.Timestamp(start)).days.to_numpy() / 365.25
    uplift = (1 + inflation) ** years_since
    year = np.ceil(np.round(years_since * 12) / 12).astype(int).clip(min=1)
    frames = []
    for cat in codes.PLACEMENT_CATEGORIES:
        if cat == FOSTERING:
            ih, ex = gap["inhouse_fostering"].to_numpy(), gap["external_fostering"].to_numpy()
        elif cat == RESIDENTIAL:
            ih, ex = gap["inhouse_residential"].to_numpy(), gap["external_residential"].to_numpy()
        else:
            total = need[cat].to_numpy()
            ih = total * float(share_in_house.get(cat, 0.0))
            ex = total - ih
        for prov, n, unit in (("In-house", ih, costs.at[cat, "in_house"]), ("External", ex, costs.at[cat, "external"])):
            frames.append(pd.DataFrame({"date": dates, "year": year, "category": cat, "provider_type": prov,
                                        "children": n, "cost": n * unit * days / 7 * uplift}))
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------

LEVERS = ("recruit_foster_households", "edge_of_care", "step_down", "parent_and_child")


@dataclass(frozen=True)
class Scenario:
    """One scenario from config ``[[placements.scenarios]]``.

    ``lever`` is one of :data:`LEVERS`; ``params`` holds its settings:
    recruit_foster_households: ``extra_households_per_year``;
    edge_of_care: ``entry_reduction`` (0-1), ``age_bands`` (model bands);
    step_down: ``annual_proportion`` (0-1 of children's home stock moved to fostering a year);
    parent_and_child: ``places``, ``inhouse_weekly`` (£), ``external_weekly`` (£; default the
    external "Other residential" unit cost), ``setup_cost`` (£, year 1).
    ``running_cost_per_year``: the scenario's own cost (team, campaign), £ a year.
    ``budgeted_saving``: the council's budgeted saving, £ a year (one number: every year;
    a list: by year from year 1, later years 0).
    """

    name: str
    lever: str
    params: Mapping[str, object] = field(default_factory=dict)
    running_cost_per_year: float = 0.0
    budgeted_saving: float | Sequence[float] = 0.0


def scenarios_from_config(entries: Sequence[Mapping[str, object]]) -> list[Scenario]:
    """Parse ``[[placements.scenarios]]`` tables (keys: name, lever, running_cost_per_year,
    budgeted_saving, and the lever's own settings)."""
    out = []
    for i, e in enumerate(entries):
        if "name" not in e or e.get("lever") not in LEVERS:
            raise SufficiencyConfigError(f"placements.scenarios[{i}]: needs a name and a lever in {LEVERS}")
        params = {k: v for k, v in e.items() if k not in ("name", "lever", "running_cost_per_year", "budgeted_saving")}
        out.append(Scenario(str(e["name"]), str(e["lever"]), params,
                            float(e.get("running_cost_per_year", 0.0)), e.get("budgeted_saving", 0.0)))
    return out


def budget_by_year(budgeted: float | Sequence[float], horizon_years: int) -> np.ndarray:
    """Budgeted saving per year 1..horizon (number: every year; list: by year, then 0)."""
    if isinstance(budgeted, (int, float)):
        return np.full(horizon_years, float(budgeted))
    b = np.zeros(horizon_years)
    vals = [float(v) for v in budgeted][:horizon_years]
    b[:len(vals)] = vals
    return b


@dataclass(frozen=True)
class SufficiencyInputs:
    """Everything the cost model needs besides the fitted forecast model."""

    costs: pd.DataFrame
    capacity: Capacity
    share_in_house: pd.Series
    inflation: float = 0.0
    horizon_years: int = 5


def cost_of(model: StockFlowModel, inputs: SufficiencyInputs, scenario: Scenario | None = None) -> pd.DataFrame:
    """Monthly cost (as :func:`projected_cost`) of the baseline (``scenario=None``) or a scenario,
    with the scenario's running and setup costs as extra rows (category ``"Scenario cost"``)."""
    p = dict(scenario.params) if scenario else {}
    lever = scenario.lever if scenario else None
    if lever == "edge_of_care":
        f = 1.0 - float(p.get("entry_reduction", 0.0))
        bands = p.get("age_bands", ["10 to 15", "16 and 17"])
        R, q, lam = adjusted_rates(model, {b: f for b in bands})
    elif lever == "step_down":
        R, q, lam = adjusted_rates(model, moves=[(RESIDENTIAL, FOSTERING, float(p.get("annual_proportion", 0.0)))])
    else:
        R, q, lam = model.transition_rates, model.exit_rates, model.entry_rates
    fc = project(model, inputs.horizon_years, n_draws=0, transition_rates=R, exit_rates=q, entry_rates=lam)
    need = need_by_month(fc)
    extra = float(p.get("extra_households_per_year", 0.0)) if lever == "recruit_foster_households" else 0.0
    gap = sufficiency_gap(need, inputs.capacity, model.start, extra)
    cost = projected_cost(need, gap, inputs.costs, inputs.share_in_house, model.start, inputs.inflation)
    extras = []
    dates = pd.DatetimeIndex(need["date"])
    days = np.diff(np.concatenate([[0], (dates - model.start).days.to_numpy()]))
    years_since = (dates - model.start).days.to_numpy() / 365.25
    year = np.ceil(np.round(years_since * 12) / 12).astype(int).clip(min=1)
    uplift = (1 + inputs.inflation) ** years_since
    if lever == "parent_and_child":
        # in-house places replace external parent-and-child placements, at most as many as forecast
        places = float(p.get("places", 0.0))
        ext_unit = float(p.get("external_weekly", inputs.costs.at[PARENT_AND_CHILD_CATEGORY, "external"]))
        ih_unit = float(p.get("inhouse_weekly", inputs.costs.at[PARENT_AND_CHILD_CATEGORY, "in_house"]))
        ext_children = cost[(cost["category"] == PARENT_AND_CHILD_CATEGORY) & (cost["provider_type"] == "External")]["children"].to_numpy()
        moved = np.minimum(places, ext_children)
        extras.append(pd.DataFrame({"date": dates, "year": year, "category": "Scenario cost", "provider_type": "Parent-and-child",
                                    "children": moved, "cost": moved * (ih_unit - ext_unit) * days / 7 * uplift}))
        setup = np.zeros(len(dates))
        setup[0] = float(p.get("setup_cost", 0.0))
        extras.append(pd.DataFrame({"date": dates, "year": year, "category": "Scenario cost", "provider_type": "Set-up",
                                    "children": 0.0, "cost": setup}))
    if scenario and scenario.running_cost_per_year:
        extras.append(pd.DataFrame({"date": dates, "year": year, "category": "Scenario cost", "provider_type": "Running cost",
                                    "children": 0.0, "cost": scenario.running_cost_per_year * days / 365.25 * uplift}))
    return pd.concat([cost, *extras], ignore_index=True)


def annual_totals(cost: pd.DataFrame) -> pd.Series:
    """Total cost by forecast year (index 1..H)."""
    return cost.groupby("year")["cost"].sum()


def compare_scenarios(model: StockFlowModel, inputs: SufficiencyInputs, scenarios: Sequence[Scenario]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cost every scenario against the baseline.

    Returns ``(annual, savings)``: ``annual`` (long) ``scenario, year, cost`` including
    ``"Baseline"``; ``savings`` one row per scenario: ``saving_year_1..H``, ``saving_total``,
    ``budgeted_total``, ``difference`` (saving - budget, negative = shortfall against the plan),
    ``meets_budget`` (bool).
    """
    H = inputs.horizon_years
    base = annual_totals(cost_of(model, inputs)).reindex(range(1, H + 1), fill_value=0.0)
    annual = [pd.DataFrame({"scenario": "Baseline", "year": base.index, "cost": base.to_numpy()})]
    rows = []
    for sc in scenarios:
        c = annual_totals(cost_of(model, inputs, sc)).reindex(range(1, H + 1), fill_value=0.0)
        annual.append(pd.DataFrame({"scenario": sc.name, "year": c.index, "cost": c.to_numpy()}))
        saving = base - c
        budget = budget_by_year(sc.budgeted_saving, H)
        row = {"scenario": sc.name, "lever": sc.lever}
        row.update({f"saving_year_{y}": saving[y] for y in range(1, H + 1)})
        row["saving_total"] = float(saving.sum())
        row["budgeted_total"] = float(budget.sum())
        row["difference"] = row["saving_total"] - row["budgeted_total"]
        row["meets_budget"] = row["difference"] >= 0
        rows.append(row)
    return pd.concat(annual, ignore_index=True), pd.DataFrame(rows)
