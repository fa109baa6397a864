"""The placement sufficiency report (notebooks/placement_sufficiency.ipynb), section by section.

``report_figures`` reads the SSDA903 return, capacity, costs and postcodes, and fits the forecast and
the scenarios once; each ``show_*`` function publishes one section of the page. Chart builders
(``*_chart``), tables for members and text templates (``*_text``) are pure functions, tested on
small hand-made tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from helpers import config, reference
from helpers.money import finance
from helpers.placements import forecast, sufficiency
from helpers.placements import scenarios as scenario_view
from helpers.placements import where as placements
from helpers.publishing import charts, disclosure, formatting, safe_output
from helpers.readers import annex_a, input_checks, ssda903
from helpers.readers import between_returns as br
from helpers.readers.input_cache import load
from helpers.reference import benchmarks as bm
from helpers.reference import dfe_cla_stats, postcodes
from helpers.rereferrals.measure import collection_year_bounds, latest_complete_year

fmt_money = formatting.format_money  # £2.99m, £104,000
FORECAST_YEARS = (1, 3, 5)
BENCH_MEASURES = ["Placed outside the LA boundary (%)", "Placed more than 20 miles from home (%)",
                  "In own (in-house) provision (%)", "Three or more placements in the year (%)",
                  "Long-term stability (%)"]
CASE_KEYS = ("break_even", "roi", "investment", "gross_saving", "net_saving", "cashable",
             "growth_avoidance", "gross_saving_low", "gross_saving_high")
CASE_MONEY = ["investment", "gross_saving", "net_saving", "cashable", "growth_avoidance",
              "gross_saving_low", "gross_saving_high"]
CASE_LABELS = {"workstream": "Scenario", "investment": "Investment", "gross_saving": "Gross saving",
               "net_saving": "Net saving", "cashable": "Cashable", "growth_avoidance": "Growth avoided",
               "gross_saving_low": "Gross saving (low)", "gross_saving_high": "Gross saving (high)",
               "break_even": "Breaks even", "roi": "Return on investment"}


@dataclass
class Figures:
    """Everything the placement report's sections read: settings, inputs, forecast, scenarios."""

    cfg: dict
    threshold: int
    in_house: tuple
    reference_years: float
    interval: float
    inflation: float
    horizon_years: int
    n_draws: int
    data: Any = None
    episodes: pd.DataFrame | None = None
    code_issues: pd.DataFrame | None = None
    as_at: pd.Timestamp | None = None
    period_start: pd.Timestamp | None = None
    period_end: pd.Timestamp | None = None
    annex: Any = None
    snapshot: pd.DataFrame | None = None
    located: pd.DataFrame | None = None
    where: dict | None = None
    stability: dict | None = None
    capacity: Any = None
    costs: pd.DataFrame | None = None
    weekly_cost: float = 0.0
    annual_cost: float = 0.0
    pct_in_house: float = float("nan")
    model: Any = None
    fc: pd.DataFrame | None = None
    backtest: pd.DataFrame | None = None
    backtest_error: float = float("nan")
    fy: dict | None = None
    inputs: Any = None
    scenarios: list | None = None
    annual: pd.DataFrame | None = None
    savings: pd.DataFrame | None = None
    gap: pd.DataFrame | None = None
    # filled by sections, read by later ones
    category_safe: pd.Series | None = None
    trend: pd.DataFrame | None = None

    @property
    def pcfg(self) -> dict:
        return self.cfg.get("placements", {})

    @property
    def cla_now(self) -> int:
        return len(self.snapshot)

    def safe_n(self, n: Any) -> Any:
        """A count as it may be quoted (1 to the threshold: the suppression marker)."""
        return disclosure.suppress_value(int(n), self.threshold)

    def path(self, key: str) -> Path | None:
        """A path from the [placements] table, relative to the project root; None when blank.
        "reference:NAME" is the national snapshot bundled with the project."""
        return reference.resolve(self.pcfg.get(key, ""), self.cfg["_root"])


def settings(config_path: str | Path, *, horizon_years: int = 5, n_draws: int = 200) -> Figures:
    """The report's settings from the council config; the horizon is kept within 1 to 5 years."""
    cfg = config.load_config(config_path)
    pcfg = cfg.get("placements", {})
    return Figures(cfg=cfg, threshold=cfg["publish"]["suppression_threshold"],
                   in_house=tuple(pcfg.get("in_house_providers", ["PR1"])),
                   reference_years=float(pcfg.get("reference_years", 2)),
                   interval=float(pcfg.get("interval", 0.9)),
                   inflation=float(pcfg.get("inflation", 0.0)),
                   horizon_years=int(min(5, max(1, horizon_years))), n_draws=n_draws)


def report_period(as_at: pd.Timestamp, month: str = "") -> tuple[pd.Timestamp, pd.Timestamp]:
    """The year reported: ending on the as-at date, or the end of the run month if earlier."""
    end = as_at if not month else min(as_at, pd.Period(month, freq="M").end_time.normalize())
    return end - pd.DateOffset(years=1) + pd.Timedelta(days=1), end


def pct_true(flags: pd.Series) -> float:
    """Percentage of True values (NaN for none)."""
    return 100 * flags.mean() if len(flags) else float("nan")


def read_inputs(f: Figures, *, month: str = "") -> Figures:
    """Read the SSDA903 return, postcodes, capacity and costs; where children are on the period end."""
    cfg, pcfg = f.cfg, f.pcfg
    data = load(cfg, ssda903.read_ssda903, cfg["data"]["ssda903"])  # parsed once per run, then cached
    episodes = placements.categorise_placements(data.episodes)
    meta_path = cfg["data"].get("council_meta")
    as_at = None
    if meta_path is not None and Path(meta_path).is_file():
        as_at = pd.Timestamp(json.loads(Path(meta_path).read_text(encoding="utf-8"))["as_at"])
    if as_at is None:
        as_at = max(episodes["decom"].max(), episodes["dec"].max())
    f.data, f.episodes, f.as_at = data, episodes, as_at
    f.code_issues = placements.placement_code_issues(episodes)
    f.period_start, f.period_end = report_period(as_at, month)
    f.snapshot = placements.cla_at_date(episodes, data.header, data.uasc, f.period_end,
                                        in_house=f.in_house)
    lookup_path = f.path("ltla_utla_lookup")
    ltla_utla = postcodes.read_ltla_utla_lookup(lookup_path) if lookup_path else None
    if pcfg.get("postcode_source", "directory") == "ons":
        both = pd.concat([f.snapshot["home_post"], f.snapshot["pl_post"]])
        directory = postcodes.load_ons_postcodes(postcodes.postcode_area_letters(both), ltla_utla)
    else:
        directory = load(cfg, postcodes.read_postcode_directory, cfg["data"]["postcode_directory"],
                         ltla_utla)
    f.located = postcodes.placement_locations(f.snapshot, directory, cfg["council"]["la_code"])
    f.where = placements.location_summary(f.located)
    f.stability = placements.stability_summary(episodes, data.header, f.period_end)
    capacity_table = input_checks.read_reference_csv(
        cfg["data"]["inhouse_capacity"], "the in-house capacity table (CSV)", dtype={"month": str})
    f.capacity = sufficiency.capacity_from_table(capacity_table, pcfg.get("capacity", {}))
    f.costs = sufficiency.unit_costs(pcfg["costs"])
    spend = sufficiency.spend_now(f.snapshot, f.costs)
    f.weekly_cost, f.annual_cost = float(spend["weekly_cost"].sum()), float(spend["annual_cost"].sum())
    f.pct_in_house = pct_true(f.snapshot["in_house"])
    # List 8, at the extract's date from council.json when known (else the lists' latest date,
    # which can be a day or more early); parsed once per run, then cached
    f.annex = annex_a.load_configured(cfg, lists=(8,))
    return f


def forecast_at_years(fc: pd.DataFrame, start: pd.Timestamp, horizon_years: int,
                      years: tuple = FORECAST_YEARS) -> dict[int, dict]:
    """Forecast children (and range) 1, 3 and 5 years on, rounded; None beyond the horizon."""
    out = {}
    for y in years:
        if y > horizon_years:
            out[y] = {"forecast": None, "lower": None, "upper": None}
        else:
            row = forecast.value_at(fc, y, start)
            out[y] = {k: round(float(row[k])) for k in ("forecast", "lower", "upper")}
    return out


def forecast_and_scenarios(f: Figures) -> Figures:
    """Fit the stock-and-flow model, forecast, back-test it, and cost the scenarios."""
    fit_start = f.period_end - pd.DateOffset(months=int(f.reference_years * 12)) + pd.Timedelta(days=1)
    f.model = forecast.fit_model(f.episodes, f.data.header, fit_start, f.period_end)
    f.fc = forecast.project(f.model, f.horizon_years, interval=f.interval, n_draws=f.n_draws)
    f.backtest = forecast.backtest(f.episodes, f.data.header, f.period_end,
                                   reference_years=f.reference_years, interval=f.interval,
                                   n_draws=f.n_draws)
    f.backtest_error = float(f.backtest.set_index("group").loc["Total", "abs_pct_error"])
    f.fy = forecast_at_years(f.fc, f.model.start, f.horizon_years)
    f.inputs = sufficiency.SufficiencyInputs(
        costs=f.costs, capacity=f.capacity, share_in_house=sufficiency.inhouse_share(f.snapshot),
        inflation=f.inflation, horizon_years=f.horizon_years)
    f.scenarios = sufficiency.scenarios_from_config(f.pcfg.get("scenarios", []))
    f.annual, f.savings = sufficiency.compare_scenarios(f.model, f.inputs, f.scenarios)
    f.gap = sufficiency.sufficiency_gap(sufficiency.need_by_month(f.fc), f.capacity, f.model.start)
    return f


def report_figures(config_path: str | Path, *, month: str = "", horizon_years: int = 5,
                   n_draws: int = 200) -> Figures:
    """Settings, inputs, forecast and scenarios for the report, in one call."""
    f = settings(config_path, horizon_years=horizon_years, n_draws=n_draws)
    return forecast_and_scenarios(read_inputs(f, month=month))


# -- headline and summary ----------------------------------------------------------------------
def dfe_paths_present(paths: dict) -> bool:
    """True when every configured DfE table exists."""
    return all(p is not None and p.is_file() for p in paths.values())


def show_latest_12_months(rep: Any, f: Figures) -> str:
    """Summary figures for the latest 12 months; returns the headline's first paragraph."""
    window = br.latest_twelve_months(f.period_end)
    statutory_end = collection_year_bounds(latest_complete_year(f.period_end))[1]
    latest12 = br.cla_twelve_months(f.episodes, f.data.header, f.data.uasc, window, statutory_end)
    dfe = {k: f.path(k) for k in ("dfe_characteristics", "dfe_stability")}
    england = None
    if dfe_paths_present(dfe):
        england = dfe_cla_stats.england_headline(
            dfe_cla_stats.read_cla_characteristics(dfe["dfe_characteristics"]),
            dfe_cla_stats.read_placement_stability(dfe["dfe_stability"]))
    lead12 = br.placements_headline(latest12, window, f.threshold, statutory_end=statutory_end,
                                    england=england)
    rep.summary(latest_12m_start=window.start, latest_12m_end=window.end,
                **{f"latest_12m_{k}": f.safe_n(v) if isinstance(v, int) else round(v, 1)
                   for k, v in latest12.items()}, statutory_year_end=statutory_end)
    return lead12


def headline_text(lead12: str, f: Figures) -> str:
    """The headline: latest 12 months, then children looked after, where, cost and forecast."""
    three, where = f.fy[3], f.where
    three_n = three["forecast"] if three["forecast"] is not None else "n/a"
    looked_after = f"On {f.period_end:%d %B %Y} the council looked after **{f.safe_n(f.cla_now)} children**"
    # the latest-12-months lead usually says this already (day without a leading zero): not twice
    said = looked_after.replace(f"On {f.period_end:%d}", f"On {f.period_end.day}", 1) in lead12
    opening = "Of them," if said else f"{looked_after}."
    return f"""
{lead12}

{opening}
**{where['pct_outside_boundary']:.0f}%** were placed outside the council's boundary and
**{where['pct_over_20_miles']:.0f}%** more than 20 miles from home; **{f.pct_in_house:.0f}%** were in the
council's own (in-house) placements. Placements cost about **{fmt_money(f.weekly_cost)} a week**
({fmt_money(f.annual_cost)} a year at today's prices). If recent patterns continue, about
**{three_n} children** will be looked after in three years
(likely range {three['lower']} to {three['upper']}, a {f.interval:.0%} range). Last year's forecast made the same way
was {f.backtest_error:.1f}% away from what happened.
"""


def show_headline(rep: Any, f: Figures) -> None:
    """The headline box (latest 12 months first)."""
    rep.headline(headline_text(show_latest_12_months(rep, f), f))


def saving_key(name: str) -> str:
    """A scenario name as a summary key: "Recruit 10 carers!" -> "saving_recruit_10_carers"."""
    return "saving_" + "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")


def forecast_keys(fy: dict) -> dict:
    """forecast_1y, forecast_1y_lower, ... for the summary."""
    pairs = (("", "forecast"), ("_lower", "lower"), ("_upper", "upper"))
    return {f"forecast_{y}y{suffix}": fy[y][key] for y in FORECAST_YEARS for suffix, key in pairs}


def write_summary(rep: Any, f: Figures) -> None:
    """The report's headline figures in summary.json (counts already safe)."""
    where, stab = f.where, f.stability
    rep.summary(
        title="Placement sufficiency",
        period_start=f.period_start, period_end=f.period_end, data_as_at=f.as_at,
        cla_at_period_end=f.safe_n(f.cla_now),
        pct_outside_boundary=round(where["pct_outside_boundary"], 1),
        pct_over_20_miles=round(where["pct_over_20_miles"], 1),
        pct_in_house=round(f.pct_in_house, 1),
        weekly_cost=round(f.weekly_cost), annual_cost=round(f.annual_cost),
        pct_three_or_more_placements=round(stab["pct_three_or_more"], 1),
        pct_long_term_stable=round(stab["pct_long_term_stable"], 1),
        **forecast_keys(f.fy),
        backtest_error=round(f.backtest_error, 1),
        scenario_savings={r["scenario"]: round(r["saving_total"]) for _, r in f.savings.iterrows()},
        **{saving_key(r["scenario"]): round(r["saving_total"]) for _, r in f.savings.iterrows()},
    )


# -- where children are now --------------------------------------------------------------------
def placement_mix(snapshot: pd.DataFrame, threshold: int) -> tuple[pd.DataFrame, pd.Series]:
    """Children by placement type and provider (long, suppressed) and the types' totals.

    Type by provider and type alone are both published (here, in the back-test and against
    England): suppressed together, so no hidden cell comes back by subtraction.
    """
    mix = (snapshot.assign(provider_type=np.where(snapshot["in_house"], "In-house", "External"))
           .groupby(["category", "provider_type"]).size().rename("children").reset_index())
    wide = disclosure.suppress_crosstab(mix, "category", "provider_type", "children", threshold)
    return (disclosure.crosstab_long(wide, "category", "provider_type", "children"),
            wide.set_index("category")["Total"])


def mix_chart(mix_safe: pd.DataFrame) -> alt.Chart:
    """Bars of children by placement type, coloured in-house or external."""
    return alt.Chart(mix_safe.dropna()).mark_bar().encode(
        y=alt.Y("category:N", title=None, sort="-x"), x=alt.X("children:Q", title="Children looked after"),
        color=alt.Color("provider_type:N", title="Provider", legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("category:N", title="Placement type"),
                 alt.Tooltip("provider_type:N", title="Provider"),
                 alt.Tooltip("children:Q", title="Children")])


def show_placement_mix(rep: Any, f: Figures) -> None:
    """Children looked after at the period end by placement type and provider."""
    mix_safe, f.category_safe = placement_mix(f.snapshot, f.threshold)
    rep.table("placement_mix", mix_safe)
    charts.show(mix_chart(mix_safe), description=(
        f"Children looked after on {f.period_end:%d %B %Y} by placement type, split by in-house and "
        "external provision. Fostering with other carers is the largest group "
        f"({f.category_safe.get('Fostering: other carer')} children)."))


def show_annex_a_list8(rep: Any, f: Figures) -> None:
    """Annex A List 8 (optional): the latest month's children looked after when newer than the 903."""
    annex = f.annex
    if annex is None:
        return
    latest_903 = min(collection_year_bounds(int(f.data.episodes["collection_year"].max()))[1], f.as_at)
    if br.newer_than(annex.as_at, latest_903) and len(annex.cla):
        list8 = br.list8_snapshot(annex.cla, f.threshold)
        _markdown(br.list8_text(list8, annex.as_at, latest_903, f.threshold))
        for name in ("by_type", "by_provider", "by_location"):
            published = rep.table(f"annex_a_list8_{name}", list8[name])
            _display(disclosure.for_display(published).reset_index(drop=True))
        rep.summary(annex_a_as_at=annex.as_at, annex_a_cla=f.safe_n(list8["total"]))
    else:
        _markdown(f"The council's Ofsted Annex A list of children looked after (List 8, "
                  f"{annex.as_at:%d %B %Y}) is no more recent than the looked-after return, so the "
                  "figures above come from the return.")


def trend_chart(trend_safe: pd.DataFrame) -> alt.Chart:
    """Children looked after at each month end, one line per placement type."""
    return alt.Chart(trend_safe.dropna()).mark_line().encode(
        x=alt.X("date:T", title=None), y=alt.Y("children:Q", title="Children looked after"),
        color=alt.Color("category:N", title="Placement"))


def show_trend_and_flows(rep: Any, f: Figures) -> None:
    """Three years of month-end counts by type; the year's entries and exits."""
    dates = placements.month_ends(f.period_end - pd.DateOffset(years=3), f.period_end)
    f.trend = placements.cla_over_time(f.episodes, f.data.header, f.data.uasc, dates, by="category",
                                       in_house=f.in_house)
    trend_safe = disclosure.suppress(f.trend, count_cols=["children"], threshold=f.threshold,
                                     group_cols=["date"])
    rep.table("cla_trend_by_category", trend_safe)
    flows = placements.entries_exits_by_month(f.episodes, f.period_start, f.period_end)
    flows_safe = disclosure.suppress(flows[["month", "entries", "exits"]],
                                     count_cols=["entries", "exits"], threshold=f.threshold)
    rep.table("entries_exits_by_month", flows_safe)
    charts.show(trend_chart(trend_safe), description=(
        "Children looked after at the end of each month over the last three years, by placement type."))
    _markdown(f"In the year to {f.period_end:%d %B %Y}, {f.safe_n(flows['entries'].sum())} periods of "
              f"care began and {f.safe_n(flows['exits'].sum())} ended.")


def distance_text(where: dict, stability: dict) -> str:
    """Distance from home and placement stability in words."""
    return (f"Placed outside the council's boundary: **{where['pct_outside_boundary']:.0f}%**; more "
            f"than 20 miles from home: **{where['pct_over_20_miles']:.0f}%** (distance not known for "
            f"{where['pct_distance_unknown']:.0f}%). Of children looked after at the period end, "
            f"**{stability['pct_three_or_more']:.0f}%** had three or more placements in the year; of "
            "children under 16 looked after for at least two and a half years, "
            f"**{stability['pct_long_term_stable']:.0f}%** had lived in the same placement for at "
            "least two years.")


def show_distance_and_stability(rep: Any, f: Figures) -> None:
    """Where placements are (table) and distance and stability (text)."""
    loc_table = disclosure.suppress(placements.location_breakdown(f.located), count_cols=["children"],
                                    threshold=f.threshold)
    rep.table("location_of_placements", loc_table)
    _markdown(distance_text(f.where, f.stability))


# -- compared with England ----------------------------------------------------------------------
def england_table(where: dict, stability: dict, pct_in_house: float, england: dict) -> pd.DataFrame:
    """This council's five placement measures beside England's, for England's latest year."""
    return pd.DataFrame({
        "measure": BENCH_MEASURES,
        "this_council": [round(where["pct_outside_boundary"], 1), round(where["pct_over_20_miles"], 1),
                         round(pct_in_house, 1), round(stability["pct_three_or_more"], 1),
                         round(stability["pct_long_term_stable"], 1)],
        f"england_{england['year']}": [england["pct_outside_boundary"], england["pct_over_20_miles"],
                                       england["pct_own_provision"],
                                       england["pct_three_or_more_placements"],
                                       england["pct_long_term_stable"]],
    })


def cla_rate_chart(rates: pd.DataFrame) -> alt.Chart:
    """Children looked after per 10,000 children, by year and comparator."""
    return alt.Chart(rates).mark_line(point=True).encode(
        x=alt.X("time_period:O", title="Year ending 31 March"),
        y=alt.Y("rate_per_10000:Q", title="Children looked after per 10,000 children"),
        color=alt.Color("comparator:N", title=None),
    ).properties(title="Children looked after per 10,000 children")


def show_england(rep: Any, f: Figures) -> None:
    """England, region and statistical neighbours (DfE tables), when configured."""
    paths = {k: f.path(k) for k in ("dfe_numbers", "dfe_characteristics", "dfe_stability")}
    if not dfe_paths_present(paths):
        _markdown("DfE tables not configured: no England comparison in this run.")
        return
    council = f.cfg["council"]
    dfe_chars = dfe_cla_stats.read_cla_characteristics(paths["dfe_characteristics"])
    dfe_stab = dfe_cla_stats.read_placement_stability(paths["dfe_stability"])
    england = dfe_cla_stats.england_headline(dfe_chars, dfe_stab)
    year = england["year"]
    bench = england_table(f.where, f.stability, f.pct_in_house, england)
    neighbours = council.get("statistical_neighbours", [])
    others = bm.placement_benchmarks(dfe_chars, dfe_stab, region=council.get("region"),
                                     neighbours=neighbours, year=year)
    bench[f"region_{year}"] = others["region"].to_numpy()
    bench[f"statistical_neighbours_median_{year}"] = others["neighbours_median"].round(1).to_numpy()
    rep.table("benchmarks_england", bench, count_cols=[])
    rates = bm.cla_rate_benchmarks(dfe_cla_stats.read_cla_numbers(paths["dfe_numbers"]),
                                   region=council.get("region"), neighbours=neighbours)
    rep.table("benchmarks_cla_rate", rates, count_cols=[])
    charts.show(cla_rate_chart(rates), description=(
        "Children looked after on 31 March per 10,000 children aged under 18 (DfE): England, "
        f"{council.get('region', 'the region')} and the statistical neighbours' median."))
    _markdown(bm.neighbour_note(dfe_stab, neighbours, "the DfE placement stability table",
                                council.get("statistical_neighbours_source", "")))
    mix_cmp = dfe_cla_stats.placement_mix_comparison(
        f.snapshot["category"].astype(str).value_counts(), dfe_chars)
    mix_cmp_safe = disclosure.suppress(mix_cmp, count_cols=["council_children"], rate_cols={},
                                       threshold=f.threshold)
    mix_cmp_safe["council_percent"] = mix_cmp_safe["council_percent"].where(
        mix_cmp_safe["council_children"].notna())
    rep.table("placement_mix_vs_england", mix_cmp_safe)
    rep.attribution("dfe_snapshot" if reference.is_snapshot(paths["dfe_stability"]) else "dfe")
    _display(bench)
    rep.summary(england_year=year, england_pct_outside_boundary=england["pct_outside_boundary"],
                england_pct_over_20_miles=england["pct_over_20_miles"])


# -- forecast ---------------------------------------------------------------------------------
def forecast_chart(fc_total: pd.DataFrame, history: pd.DataFrame) -> alt.LayerChart:
    """The forecast (dashed) with its range (shaded) after the history (solid)."""
    band = alt.Chart(fc_total).mark_area(opacity=0.25).encode(
        x=alt.X("date:T", title=None), y=alt.Y("lower:Q", title="Children looked after"), y2="upper:Q")
    line = alt.Chart(fc_total).mark_line(strokeDash=[4, 3]).encode(x="date:T", y="forecast:Q")
    hist = alt.Chart(history.dropna()).mark_line().encode(x="date:T", y="children:Q")
    return band + line + hist


def backtest_safe(backtest: pd.DataFrame, category_safe: pd.Series, threshold: int) -> pd.DataFrame:
    """The back-test as published: rounded, suppressed, and the placement-mix totals' hidden
    cells hidden here too (the Total row is the headline)."""
    bt = backtest.copy()
    bt[["forecast", "lower", "upper", "error"]] = bt[["forecast", "lower", "upper", "error"]].round(1)
    bt["abs_pct_error"] = bt["abs_pct_error"].round(1)
    safe = disclosure.suppress(
        bt[["group", "actual", "forecast", "lower", "upper", "abs_pct_error", "within_band"]],
        count_cols=["actual"], threshold=threshold, secondary=False)
    hide = safe["group"].map(lambda g: g != "Total" and g in category_safe.index
                             and pd.isna(category_safe.get(g)))
    safe["actual"] = safe["actual"].mask(hide.to_numpy(), pd.NA)
    safe["abs_pct_error"] = safe["abs_pct_error"].where(safe["actual"].notna())
    return safe


def backtest_text(backtest: pd.DataFrame, period_end: pd.Timestamp, error: float, threshold: int) -> str:
    """The model's track record in words (the Total row)."""
    total = backtest.set_index("group").loc["Total"]
    actual = disclosure.suppress_value(int(total["actual"]), threshold)
    return (f"**Track record (back-test).** Fitted on data to "
            f"{period_end - pd.DateOffset(years=1):%d %B %Y} and run forward one year, the model "
            f"forecast {round(total['forecast'], 1):.0f} children against {actual} actually looked "
            f"after: an error of {error:.1f}%. Errors by placement type are in the table below (small "
            "types swing more).")


def show_forecast(rep: Any, f: Figures) -> None:
    """The forecast with its range, and last year's back-test."""
    fc = f.fc
    fc_total = fc[fc["group"] == "Total"].copy()
    rep.table("forecast_total", fc_total[["date", "forecast", "lower", "upper"]].round(0), count_cols=[])
    by_cat = fc[fc["group"] != "Total"][["date", "group", "forecast", "lower", "upper"]].round(1)
    rep.table("forecast_by_category", by_cat, count_cols=[])
    history = f.trend.groupby("date")["children"].sum().rename("children").reset_index()
    history_safe = disclosure.suppress(history, count_cols=["children"], threshold=f.threshold,
                                       secondary=False)
    three = f.fy[3]
    charts.show(forecast_chart(fc_total, history_safe), description=(
        f"Children looked after: the last three years (solid) and the forecast to "
        f"{fc_total['date'].max():%B %Y} (dashed) with its {f.interval:.0%} range (shaded). In three "
        f"years about {three['forecast']} children (range {three['lower']} to {three['upper']})."))
    bt_safe = backtest_safe(f.backtest, f.category_safe, f.threshold)
    rep.table("backtest", bt_safe)
    _markdown(backtest_text(f.backtest, f.period_end, f.backtest_error, f.threshold))
    rep.show_table(bt_safe, "Back-test: forecast made a year ago against what happened, by placement type",
                   labels={"group": "Placement type", "actual": "Actual children",
                           "forecast": "Forecast children"})


# -- sufficiency gap ----------------------------------------------------------------------------
GAP_COLUMNS = ["year", "date", "need_fostering", "inhouse_foster_places", "external_fostering",
               "need_residential", "inhouse_home_places", "external_residential", "foster_households"]


def gap_by_year(gap: pd.DataFrame, start: pd.Timestamp, horizon_years: int) -> pd.DataFrame:
    """The gap at the month nearest each whole year after ``start``, rounded, for publishing."""
    rows = [(gap["date"] - (start + pd.DateOffset(years=y))).abs().idxmin()
            for y in range(1, horizon_years + 1)]
    return gap.loc[rows].assign(year=list(range(1, horizon_years + 1)))[GAP_COLUMNS].round(0)


def shortfall_cost(gap_pub: pd.DataFrame, costs: pd.DataFrame) -> pd.Series:
    """Extra cost a year of buying the shortfall externally rather than in-house (today's prices)."""
    def premium(category: str) -> float:
        return costs.at[category, "external"] - costs.at[category, "in_house"]

    return (gap_pub["external_fostering"] * premium("Fostering: other carer")
            + gap_pub["external_residential"] * premium("Children's home")) * sufficiency.WEEKS_PER_YEAR


def gap_chart(gap: pd.DataFrame) -> alt.Chart:
    """Need for foster and children's home places against in-house places, month by month."""
    long = gap.melt(id_vars="date", value_vars=["need_fostering", "inhouse_foster_places",
                                                "need_residential", "inhouse_home_places"],
                    var_name="measure", value_name="children")
    long["measure"] = long["measure"].map(formatting.plain_label)
    legend = alt.Legend(orient="top", columns=2, labelLimit=300)
    return alt.Chart(long).mark_line().encode(
        x=alt.X("date:T", title=None), y=alt.Y("children:Q", title="Children / places"),
        color=alt.Color("measure:N", title=None, legend=legend))


def show_sufficiency_gap(rep: Any, f: Figures) -> None:
    """Forecast need against in-house places, and what buying the rest externally costs."""
    gap_pub = gap_by_year(f.gap, f.model.start, f.horizon_years)
    rep.table("sufficiency_gap", gap_pub, count_cols=[])
    cost = shortfall_cost(gap_pub, f.costs)
    charts.show(gap_chart(f.gap), description=(
        "Forecast need for foster and children's home placements against in-house places. In year "
        f"{f.horizon_years} about {gap_pub['external_fostering'].iloc[-1]:.0f} foster and "
        f"{gap_pub['external_residential'].iloc[-1]:.0f} residential placements would be bought "
        "externally."))
    _markdown(f"Buying these places externally rather than in-house costs about "
              f"{fmt_money(float(cost.iloc[0]))} more a year now (year 1), "
              f"{fmt_money(float(cost.iloc[-1]))} in year {f.horizon_years} (today's prices).")


# -- scenarios and business cases ------------------------------------------------------------
def scenario_lines(savings: pd.DataFrame, horizon_years: int) -> str:
    """One bullet per scenario: modelled saving against the budget."""
    return "\n".join(
        f"- **{safe_output.esc(r.scenario)}**: modelled saving {fmt_money(r.saving_total)} over "
        f"{horizon_years} years against {fmt_money(r.budgeted_total)} budgeted "
        f"({'meets' if r.meets_budget else 'falls short of'} the budget)." for r in savings.itertuples())


def rounded_savings(savings: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Savings with money columns rounded to the nearest £1,000, and those columns."""
    pub = savings.copy()
    num = [c for c in pub.columns if c.startswith("saving_") or c in ("budgeted_total", "difference")]
    pub[num] = pub[num].round(-3)
    return pub, num


def show_scenarios(rep: Any, f: Figures) -> None:
    """Modelled against budgeted savings by scenario: tables, chart, one line each."""
    sav_pub, num = rounded_savings(f.savings)
    rep.table("scenario_savings", sav_pub, count_cols=[])
    rep.table("scenario_annual_cost", f.annual.round(-3), count_cols=[])
    rep.show_table(sav_pub, f"Modelled and budgeted savings by scenario, £ (year 1 to year {f.horizon_years})",
                   kinds={c: "money" for c in num})
    figures = scenario_view.scenario_figures(f.model, f.inputs, f.scenarios)  # as the sliders draw
    charts.show(figures.chart, description=figures.description)
    _markdown(scenario_lines(f.savings, f.horizon_years))


def cases_for_members(cases: pd.DataFrame) -> pd.DataFrame:
    """Business cases as members read them: money as £, break-even as a month, return as %."""
    shown = cases.assign(
        break_even=[f"{pd.Timestamp(b):%B %Y}" if b else "not within the forecast" for b in cases["break_even"]],
        roi=[f"{r:.0%}" if r is not None and r == r else "n/a" for r in cases["roi"]])
    shown = shown[["workstream", *CASE_MONEY, "break_even", "roi"]]
    return finance.for_members(shown, CASE_MONEY).rename(columns=CASE_LABELS)


def case_summary(cases: pd.DataFrame) -> dict:
    """Each scenario's business case for summary.json: pounds whole, return to 3 places."""
    def value(k: str, v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 3) if k == "roi" else round(v)
        return v

    return {r["workstream"]: {k: value(k, v) for k, v in r.items() if k in CASE_KEYS}
            for r in cases.to_dict("records")}


def show_business_cases(rep: Any, f: Figures) -> None:
    """Each scenario's business case by financial year (config [finance])."""
    fin = finance.settings_from_config(f.cfg) if "finance" in f.cfg else None
    money = finance.placement_money(f.model, f.inputs, f.scenarios, f.fc, fin)
    rep.table("scenario_savings_by_year", money.years, count_cols=[])
    rep.table("scenario_business_case", money.cases, count_cols=[])
    rep.table("scenario_cost_by_year", finance.cost_by_year(money), count_cols=[])
    _markdown(f"Unit costs rise **{f.inflation:.1%} a year** (the config's inflation assumption) from "
              f"the period end; the forecast's range is its {f.interval:.0%} range. Each scenario's "
              "spend and investment by financial year is in `scenario_cost_by_year.csv`.")
    _markdown("\n".join(f"- {finance.case_sentence(r)}" for r in money.cases.to_dict("records")))
    fys = list(dict.fromkeys(money.years["financial_year"]))
    _display(cases_for_members(money.cases))
    _display(finance.years_for_members(money.years))
    charts.show(finance.savings_chart(money.years, fys), description=(
        f"Modelled net saving of the placement scenarios by financial year from {fys[0]} to "
        f"{fys[-1]}, stacked by scenario, with the budgeted saving of all scenarios marked by a "
        "black tick. The first and last years are part years."))
    rep.summary(scenario_business_cases=case_summary(money.cases))


def scenario_sliders(f: Figures) -> Any:
    """Sliders for each scenario's lever and two unit costs, at the config's values, redrawing
    the same figures as the published section (running costs included). Returns the widget box."""
    def show(figures: Any) -> None:
        _display(figures.savings[["scenario", "saving_total", "budgeted_total", "meets_budget"]])
        charts.show(figures.chart, description=figures.description)

    box, _ = scenario_view.scenario_widget(f.model, f.inputs, f.scenarios, show=show)
    return box


def show_scenario_sliders(rep: Any, f: Figures) -> None:
    """The sliders, in an interactive session only."""
    if rep.interactive:
        _display(scenario_sliders(f))


def show_data_quality(rep: Any, f: Figures) -> None:
    """Unrecognised placement codes, the data-quality appendix and attribution."""
    if len(f.code_issues):
        _markdown(f"Placement codes not recognised for their collection year: "
                  f"{f.safe_n(f.code_issues['episodes'].sum())} episodes (grouped by their label if "
                  "a known code, otherwise as 'Other').")
    rep.data_quality(f.data.ledger.merge(f.annex.ledger) if f.annex is not None else f.data.ledger)
    rep.attribution("ons")


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def _markdown(text: str) -> None:
    from IPython.display import Markdown

    _display(Markdown(text))
