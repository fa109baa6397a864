"""The locality team sizing report (notebooks/locality_sizing.ipynb), section by section.

``report_figures`` reads the inputs, builds the localities and their staffing, and sweeps the
number of teams once; each ``show_*`` function publishes one section of the page. Text templates
(``*_text``) and tables for members are pure functions, tested on small hand-made data.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from helpers import config, memory
from helpers.localities import model as locality
from helpers.money import finance
from helpers.publishing import charts, disclosure, formatting, safe_output
from helpers.readers import annex_a, case_extracts, cin_census, ssda903
from helpers.readers import between_returns as br
from helpers.readers.input_cache import load
from helpers.reference import deprivation, dfe_stats, geography, postcodes
from helpers.rereferrals.measure import latest_complete_year

BLOCK_WORDS = {"ward": "whole wards",
               "ward+lsoa": "whole wards, with the split wards' neighbourhoods (LSOAs)",
               "lsoa": "neighbourhoods (LSOAs)"}
COMPARISON_LABELS = {
    "role_label": "Role", "current_posts": "Posts today", "current_agency_share": "Agency today",
    "current_annual_cost": "Cost a year today", "proposed_fte": "Proposed FTE",
    "proposed_posts": "Proposed posts",
    "proposed_annual_cost_now": "Proposed cost a year (today's agency use)",
    "proposed_agency_share": "Agency after conversion",
    "proposed_annual_cost_converted": "Proposed cost a year (converted)"}
TEAM_LABELS = {"team": "Team", "children_in_need": "Children in need (List 6)",
               "child_protection": "Child protection plans (List 7)",
               "looked_after": "Looked after (List 8)", "children": "Children"}
TEAM_COUNTS = ["children_in_need", "child_protection", "looked_after", "children"]


def say_count(n: int, threshold: int) -> str:
    """A count for the text of the report: small counts (1 to the threshold) are not quoted."""
    if disclosure.suppress_value(int(n), threshold) != disclosure.MARKER:
        return f"{n:,}"
    return f"fewer than {threshold + 1}"


def last_march(as_at: pd.Timestamp) -> pd.Timestamp:
    """The latest 31 March on or before ``as_at`` (the end of the latest complete year)."""
    after_march = as_at.month > 3 or (as_at.month == 3 and as_at.day == 31)
    return pd.Timestamp(year=as_at.year if after_march else as_at.year - 1, month=3, day=31)


@dataclass
class Figures:
    """Everything the locality report's sections read: settings, inputs, plan and staffing."""

    cfg: dict
    threshold: int
    n_localities: int
    building_block: str
    seed: int
    staffing: dict
    target_ratio: float
    keep_districts_whole: bool
    sweep_range: Any
    measure: str
    growth: dict
    cin: Any = None
    lac: Any = None
    address_ledger: Any = None
    directory: Any = None
    as_at: pd.Timestamp | None = None
    last_year_end: pd.Timestamp | None = None
    year_ends: list = field(default_factory=list)
    edition: Any = None
    sizing: Any = None
    annex: Any = None
    compact: pd.DataFrame | None = None
    baseline_balance: dict | None = None
    baseline_contiguous: int = 0
    baseline_compact: pd.DataFrame | None = None
    table: pd.DataFrame | None = None
    establishment: pd.DataFrame | None = None
    est_wide: pd.DataFrame | None = None
    totals: pd.Series | None = None
    posts: pd.Series | None = None
    sweep: pd.DataFrame | None = None
    reach: Any = None
    district_teams: Any = None

    @property
    def opts(self) -> dict:
        return self.cfg.get("locality", {})

    @property
    def plan(self) -> Any:
        return self.sizing.plan

    @property
    def ward_name_of(self) -> pd.Series:
        return self.sizing.wards.set_index("ward_code")["ward_name"]

    @property
    def all_contiguous(self) -> bool:
        return bool(self.sizing.contiguity["contiguous"].all())

    def say(self, n: int) -> str:
        return say_count(n, self.threshold)


def settings(config_path: str | Path, *, n_localities: int = 0, building_block: str = "",
             sw_caseload: float = 0.0, seed: int = -1) -> Figures:
    """The report's settings: the notebook's parameters, else the config's ``[locality]`` values."""
    cfg = config.load_config(config_path)
    opts = cfg.get("locality", {})
    n = n_localities or int(opts.get("n_localities", 21))
    staffing = {k: float(opts.get(k, v)) for k, v in locality.STAFFING_DEFAULTS.items()}
    if sw_caseload:
        staffing["sw_caseload"] = float(sw_caseload)
    return Figures(
        cfg=cfg, threshold=cfg["publish"]["suppression_threshold"], n_localities=n,
        building_block=building_block or opts.get("building_block", "auto"),
        seed=seed if seed >= 0 else int(opts.get("seed", 0)), staffing=staffing,
        target_ratio=float(opts.get("target_ratio", 1.25)),
        keep_districts_whole=bool(opts.get("keep_districts_whole", False)),
        sweep_range=locality.sweep_counts(opts.get("sweep", [12, 30]), int(opts.get("sweep_step", 1)), n),
        measure=opts.get("demand_measure", "open_cases"),
        growth=dict(growth_rate=float(opts.get("growth_rate", 0.0)),
                    years_ahead=float(opts.get("years_ahead", 1))))


def read_inputs(f: Figures) -> Figures:
    """Read the CIN census, SSDA903, addresses, postcodes, boundaries and deprivation; size the
    localities (ward demand model, contiguous balanced grouping). Annex A is read by
    :func:`staffing_and_checks`."""
    cfg, data, opts = f.cfg, f.cfg["data"], f.opts
    # parsed once per run, cached; only the tables the sizing reads are loaded
    f.cin = load(cfg, cin_census.read_cin_census, data["cin_census"], keep=("referrals", "cp_plans", "ledger"))
    f.lac = load(cfg, ssda903.read_ssda903, data["ssda903"])
    addresses, f.address_ledger = load(cfg, case_extracts.read_address_extract, data["addresses"])
    # a county lists its districts' LAD21CD codes in [locality] lad_codes
    la_codes = opts.get("lad_codes") or cfg["council"]["la_code"]
    # children with no address in the extract (looked after, never referred) are placed from the
    # 903 home postcode
    directory_path = data.get("postcode_directory")
    if directory_path and directory_path.is_file():
        f.directory = load(cfg, postcodes.read_postcode_directory, directory_path)
    meta = data.get("council_meta")
    f.as_at = (pd.Timestamp(json.loads(meta.read_text())["as_at"]) if meta is not None and meta.is_file()
               else f.cin.referrals["referral_date"].max())
    f.last_year_end = last_march(f.as_at)
    f.year_ends = [f.last_year_end - pd.DateOffset(years=k) for k in range(4, -1, -1)]
    # 2019 (LSOA 2011) or 2025 (LSOA 2021); empty: from the file's headers
    iod = load(cfg, geography.read_iod, data["iod"], edition=cfg.get("geography", {}).get("iod_edition"))
    f.edition = deprivation.edition_of(iod)
    f.sizing = locality.size_localities(
        cin=f.cin, lac=f.lac, addresses=addresses,
        lookup=load(cfg, geography.read_lsoa_ward_lookup, data["lsoa_ward_lookup"]), iod=iod,
        population=load(cfg, geography.read_lsoa_population, data["population"]),
        ward_bounds=load(cfg, geography.read_boundaries, data["ward_boundaries"]),
        lsoa_bounds=load(cfg, geography.read_boundaries, data["lsoa_boundaries"]),
        la_codes=la_codes, year_ends=f.year_ends, n_localities=f.n_localities,
        directory=f.directory, measure=f.measure, **f.growth, building_block=f.building_block,
        target_ratio=f.target_ratio, seed=f.seed, keep_together=opts.get("keep_together") or None,
        keep_districts_whole=f.keep_districts_whole, names=opts.get("names") or None)
    f.cin = dates_only(f.cin)
    memory.release_unused()  # the sizing's working tables: 2-3 GB at England scale
    return f


def dates_only(cin: Any) -> Any:
    """``cin`` once the localities are sized: from here on the page reads only the referrals'
    dates and collection years (the headline's 12 months) and the ledger, so the rest of the
    referrals table and the child protection plans are let go (about 2 GB at England scale,
    held while the re-referral report starts beside this one)."""
    return replace(cin, referrals=cin.referrals[["referral_date", "collection_year"]].copy(),
                   cp_plans=cin.cp_plans.iloc[:0])


def staffing_and_checks(f: Figures) -> Figures:
    """Annex A (today's teams, referrals since the last return; read here, after the notebook has
    written the block map the re-referral report waits for), staffing per locality, whole posts
    shared at council level, the strips baseline, and the balance for each number of teams."""
    if f.annex is None:
        f.annex = annex_a.load_configured(f.cfg)  # parsed once per run, then cached
    s, plan = f.sizing, f.sizing.plan
    f.compact = locality.polsby_popper(s.block_bounds, s.block_id, plan.assignment)
    baseline = locality.strip_baseline(s.graph, s.work, f.n_localities)
    f.baseline_balance = locality.balance_metrics(baseline, s.work)
    f.baseline_contiguous = int(locality.contiguity_check(s.graph, baseline)["contiguous"].sum())
    f.baseline_compact = locality.polsby_popper(s.block_bounds, s.block_id, baseline)
    table = locality.locality_table(s.blocks, **f.staffing).merge(
        f.compact[["locality", "polsby_popper"]], on="locality")
    table.insert(1, "locality_name", table["locality"].map(s.names))
    # whole posts are shared out at council level: each role's posts exceed its FTE by < 1 post
    f.establishment = locality.establishment(table[["locality", "locality_name", "projected_cases"]],
                                             name_col="locality_name", **f.staffing)
    f.est_wide = locality.establishment_wide(f.establishment)
    post_cols = [f"posts_{r}" for r in locality.ROLES]
    f.table = table.drop(columns=[c for c in table.columns if c.startswith("posts_")]).merge(
        f.est_wide[["locality"] + post_cols], on="locality")
    f.totals = f.table[locality.FTE_ROLES + ["fte_total", "projected_cases"]].sum()
    f.posts = f.est_wide.loc[f.est_wide["locality"] == "Council total", post_cols].iloc[0]
    # balance for each number of teams, whole wards and neighbourhoods: one graph each,
    # warm-started from the plan
    ks = [k for k in f.sweep_range if s.districts is None or k >= s.n_districts]
    ward_start = (plan.whole_ward_assignment[["block_code", "locality"]]
                  if plan.whole_ward_assignment is not None else None)
    lsoa_start = plan.lsoa_assignment[["lsoa_code", "locality"]].rename(columns={"lsoa_code": "block_code"})
    f.sweep = pd.concat([
        locality.sweep_plans(s.ward_graph, s.ward_work, ks, seed=f.seed, target_ratio=f.target_ratio,
                             districts=s.districts, start_from=ward_start, restarts=4)
        .assign(building_block="ward"),  # as many tries as the plan: the page quotes it
        locality.sweep_plans(s.lsoa_graph, s.blocks.set_index("lsoa_code")["projected_cases"], ks,
                             seed=f.seed, target_ratio=f.target_ratio, districts=s.districts,
                             start_from=lsoa_start).assign(building_block="lsoa"),
    ], ignore_index=True)
    f.reach = locality.teams_reaching_target(f.sweep[f.sweep["building_block"] == "ward"],
                                             f.n_localities, f.target_ratio)
    if s.districts is not None:
        lsoa_d = s.all_districts.reindex(s.lsoas["lsoa_code"])
        f.district_teams = locality.district_teams_needed(
            s.blocks.groupby(lsoa_d.to_numpy())["projected_cases"].sum(), f.target_ratio,
            f.n_localities, lsoa_d.value_counts())
    return f


def report_figures(config_path: str | Path, **parameters: Any) -> Figures:
    """Settings, inputs, plan, staffing and checks for the report, in one call."""
    return staffing_and_checks(read_inputs(settings(config_path, **parameters)))


# -- headline -------------------------------------------------------------------------------
def show_latest_12_months(rep: Any, f: Figures, month: str = "") -> str:
    """Referrals in the latest 12 months (Annex A List 3 after the latest CIN census); returns
    the headline's first paragraph."""
    annex, cin = f.annex, f.cin
    annex_as_at = annex.as_at if annex is not None else None
    run_end = f.as_at if not month else min(max(f.as_at, annex_as_at if annex is not None else f.as_at),
                                            pd.Period(month, freq="M").end_time.normalize())
    referrals, coverage = br.extend_referrals(cin.referrals, annex.referrals if annex is not None else None,
                                              br.statutory_end(cin.referrals, run_end), run_end,
                                              annex_as_at)
    window = br.latest_twelve_months(coverage.data_end)
    statutory_year = latest_complete_year(run_end)
    latest12 = br.referrals_twelve_months(referrals, window, statutory_year)
    c1_setting = f.cfg.get("rereferrals", {}).get("dfe_c1", "")
    c1_path = (f.cfg["_root"] / c1_setting).resolve() if c1_setting else None
    england = (br.england_referral_change(dfe_stats.read_c1(c1_path))
               if c1_path and c1_path.is_file() else None)
    lead12 = br.locality_headline(latest12, window, f.threshold, statutory_year=statutory_year,
                                  england=england, coverage=coverage)
    rep.summary(latest_12m_start=window.start, latest_12m_end=window.end,
                **{f"latest_12m_{k}": disclosure.suppress_value(v, f.threshold) for k, v in latest12.items()})
    return lead12


def links_text(links: pd.DataFrame) -> str:
    """Explicit contiguity links in words: islands and corner-only joins, then split wards' pieces."""
    n_island = int((links["reason"] == "island or corner-only join").sum())
    n_apart = len(links) - n_island
    return ((f" {n_island} neighbourhoods touch the rest of the council only at a corner point or not "
             "at all (an island); each is joined to its nearest neighbour by an explicit link."
             if n_island else "")
            + (f" {n_apart} wards have neighbourhoods (LSOAs) that do not touch the rest of the ward "
               "(the ONS lookup is best fit); each piece is joined to its ward by an explicit link."
               if n_apart else "")
            + (" The links are listed in the table of explicit links." if len(links) else ""))


def districts_text(keep_whole: bool, n_districts: int, kept_whole: bool, per_district: dict,
                   note: str | None) -> str:
    """Whether existing districts were kept whole, and how many localities each has."""
    if keep_whole and n_districts == 1:
        return " The council is a single district, so keeping districts whole changes nothing."
    if keep_whole and kept_whole:
        each = ", ".join(f"{safe_output.esc(d)}: {k}" for d, k in per_district.items())
        return (f" Existing districts are kept whole: each locality lies inside one of the "
                f"{n_districts} districts" + (f" ({each} localities)." if len(per_district) > 1 else "."))
    if keep_whole:
        return " " + (note or "Keeping districts whole was asked for but not achieved: see the checks below.")
    return ""


def headline_text(lead12: str, f: Figures) -> str:
    """The headline: latest 12 months, then teams, staff, balance, contiguity and assumptions.
    How the localities were built (wards split, the best ratio whole wards reach) is told in
    the balance section (:func:`construction_text`), not on the first screen."""
    s, plan, totals, posts, staffing = f.sizing, f.plan, f.totals, f.posts, f.staffing
    years = f.growth["years_ahead"]
    years_words = f"{years:.0f} year{'' if years == 1 else 's'}"
    managers = totals["fte_team_managers"] + totals["fte_senior_practitioners"]
    connected = ("Every locality is one connected patch whose parts share borders (a corner point "
                 "is not a border)." if f.all_contiguous
                 else "Some localities are not one connected patch: see the checks below.")
    n_split = len(plan.split_wards)
    split = (f" To get there, {n_split} ward{' is' if n_split == 1 else 's are'} shared between localities "
             "(see \"How balanced can the localities be?\")." if n_split else "")
    reach = (f" The target is met.{split}" if plan.meets_target else
             f" **The target cannot be met with {f.n_localities} localities**: no grouping of these building "
             f"blocks can do better than {plan.lower_bound:.2f}.{split}")
    return f"""
{lead12}

**{f.n_localities} locality teams would need about {totals['fte_total']:.0f} full-time-equivalent staff:
{totals['fte_social_workers']:.0f} social workers, {totals['fte_family_support_workers']:.0f} family support workers
and {managers:.0f} managers and senior practitioners**
({int(posts.sum()):,} whole posts: {int(posts['posts_team_managers'])} team managers and {int(posts['posts_senior_practitioners'])} senior practitioners, shared across localities),
for about {totals['projected_cases']:,.0f} open cases expected {years_words} after 31 March {f.last_year_end.year}.

- The busiest locality has **{s.balance['ratio_max_min']:.2f} times** the work of the quietest (target: no more than {f.target_ratio:.2f}).{reach}
- {connected}{links_text(s.links)}
- Staffing assumes {staffing['sw_caseload']:.0f} cases per social worker, {staffing['early_help_per_statutory']:.1f} early-help cases per statutory case
  at {staffing['fsw_caseload']:.0f} per family support worker, one team manager per {staffing['workers_per_team_manager']:.0f} workers,
  one senior practitioner per {staffing['sw_per_senior_practitioner']:.0f} social workers and {staffing['vacancy_allowance']:.0%} extra for vacancies.
"""


def construction_text(f: Figures) -> str:
    """How the proposed localities were built (markdown bullets): the building blocks, districts,
    whether whole wards reach the target, which wards are split and why."""
    s, plan = f.sizing, f.plan
    how_built = locality.plan_statement(plan, f.ward_name_of, reach=f.reach,
                                        district_teams=f.district_teams,
                                        districts_whole=s.districts is not None)
    district_words = districts_text(f.keep_districts_whole, s.n_districts, s.districts_kept_whole,
                                    plan.assignment.attrs.get("localities_per_district", {}),
                                    s.district_note)
    return f"""**How the proposed {f.n_localities} localities were built.**

- Localities are built from {BLOCK_WORDS[plan.building_block]}.{district_words}
{how_built}
"""


def show_headline(rep: Any, f: Figures, month: str = "") -> None:
    """The headline box (latest 12 months first)."""
    rep.headline(headline_text(show_latest_12_months(rep, f, month), f))


# -- maps and tables ------------------------------------------------------------------------------
def show_maps(f: Figures) -> None:
    """The proposed localities, then child income deprivation, by ward."""
    s, plan = f.sizing, f.plan
    district_lines = (s.districts if f.keep_districts_whole and s.districts_kept_whole
                      and s.n_districts > 1 else None)
    if not plan.fell_back:
        charts.show(locality.locality_map(s.ward_bounds, s.w2l, districts=district_lines), description=(
            f"Map of the council's {len(s.wards)} wards grouped into the {f.n_localities} proposed "
            "localities, each labelled by its number (neighbouring localities never share a colour). "
            "The table of localities below lists each one's wards and figures."))
    else:
        chart = locality.block_locality_map(s.block_bounds, plan.assignment, s.block_id, s.ward_bounds,
                                            districts=district_lines)
        charts.show(chart, description=(
            f"Map of the proposed {f.n_localities} localities, built from whole wards and the "
            f"neighbourhoods (LSOAs) of {len(plan.split_wards)} split wards, labelled by number, with "
            "ward boundaries in grey. The table of localities below lists each one's figures."))
    charts.show(locality.deprivation_map(s.ward_bounds, s.wards), description=(
        "Map of wards shaded by child income deprivation (IDACI national percentile, "
        f"{f.edition.short}, darker = more deprived)."))


def localities_safe(table: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """The localities table as published: whole children and cases, suppressed, 2 places."""
    published = table.assign(projected_cases=table["projected_cases"].round().astype(int),
                             children_0_17=table["children_0_17"].round().astype(int))
    cols = ["locality", "locality_name", "n_wards", "children_0_17", "idaci_percentile",
            "projected_cases", "workload_index", *locality.FTE_ROLES, "fte_total",
            "posts_social_workers", "posts_family_support_workers", "posts_senior_practitioners",
            "posts_team_managers", "polsby_popper"]
    return disclosure.suppress(published[cols].round(2), count_cols=["children_0_17", "projected_cases"],
                               threshold=threshold)


def shared_posts_text(sharing: pd.DataFrame, role: str, names: dict) -> str:
    """Localities with no post of ``role`` of their own, and whom they share with."""
    rows = sharing[sharing["role"] == role]
    return "; ".join(
        f"{safe_output.esc(names[r.locality])} shares with "
        f"{safe_output.esc(names.get(r.shared_with, 'a neighbouring locality'))}" for r in rows.itertuples())


def posts_by_role_text(establishment: pd.DataFrame, posts: pd.Series, sharing: pd.DataFrame,
                       names: dict) -> str:
    """Each role's FTE and whole posts, with the localities that share a post."""
    per_loc = establishment[establishment["locality"] != "Council total"]
    lines = []
    for role, label in locality.ROLES.items():
        shared = shared_posts_text(sharing, role, names)
        lines.append(f"- {label}: {per_loc.loc[per_loc['role'] == role, 'fte'].sum():.1f} FTE, "
                     f"{int(posts[f'posts_{role}'])} posts"
                     + (f" (no post of its own: {shared})" if shared else ""))
    return ("**Posts by role.** Whole posts are shared out across the council, so each role's total "
            "is its FTE rounded up once, not once per locality:\n" + "\n".join(lines))


def show_localities(rep: Any, f: Figures) -> None:
    """The localities table, the establishment, and posts by role."""
    rep.table("localities", localities_safe(f.table, f.threshold))
    rep.table("establishment", f.est_wide.round(2), count_cols=[])
    sharing = locality.post_sharing(f.establishment, f.plan.assignment, f.sizing.graph)
    _markdown(posts_by_role_text(f.establishment, f.posts, sharing, f.sizing.names))


def show_todays_teams(rep: Any, f: Figures) -> None:
    """Children with an open case by Annex A "Allocated Team" (Lists 6, 7, 8) beside the proposed
    localities. Workers are never read, shown or counted; small teams are suppressed."""
    annex = f.annex
    if annex is None or not (len(annex.cin) or len(annex.cp) or len(annex.cla)):
        return
    _markdown("## Today's teams beside the proposed localities")
    teams = br.team_caseloads(annex.cin, annex.cp, annex.cla, f.threshold)
    teams_pub = rep.table("current_team_caseloads", teams, count_cols=TEAM_COUNTS)
    _markdown(br.teams_text(teams, f.table, annex.as_at, f.threshold))
    _display(teams_pub.rename(columns=TEAM_LABELS).reset_index(drop=True))


def show_caseload_targets(f: Figures) -> None:
    """Posts needed for caseload targets from 10 to 22 cases per social worker."""
    curve = locality.fte_by_caseload_target(float(f.totals["projected_cases"]), range(10, 23), **f.staffing)
    charts.show(locality.fte_target_chart(curve, f.staffing["sw_caseload"]), description=(
        "Total posts and social-worker posts needed for caseload targets from 10 to 22 cases per "
        f"social worker; the dashed line marks the chosen {f.staffing['sw_caseload']:.0f}."))


# -- money -----------------------------------------------------------------------------------
def establishment_cost_text(allr: pd.Series, shown: pd.DataFrame, case: pd.Series, source: str) -> str:
    """The proposed establishment's cost, today's, the years' savings and the business case."""
    years = "\n".join(
        f"- {r.financial_year}{'' if r.months >= 12 else f' ({r.months} months)'}: net saving "
        f"{finance.money(r.net_saving)} against {finance.money(r.budgeted_saving)} budgeted"
        for r in shown.itertuples())
    return (f"**The proposed establishment of {allr['proposed_posts']:,.0f} posts would cost about "
            f"{finance.money(allr['proposed_annual_cost_now'])} a year at today's pay and agency use**, and "
            f"{finance.money(allr['proposed_annual_cost_converted'])} once agency posts have converted "
            f"({allr['current_agency_share']:.0%} agency today, {allr['proposed_agency_share']:.0%} after "
            f"conversion). Today's establishment of {allr['current_posts']:,.0f} posts costs "
            f"{finance.money(allr['current_annual_cost'])} a year ({finance.md_text(source)}).\n\n"
            + years + "\n\n" + finance.case_sentence(case))


def comparison_for_members(comp: pd.DataFrame) -> pd.DataFrame:
    """Today's and the proposed establishment as members read it (£ and % formatted)."""
    money_cols = ("current_annual_cost", "proposed_annual_cost_now", "proposed_annual_cost_converted")
    shares = ("current_agency_share", "proposed_agency_share")
    shown = comp.assign(**{c: comp[c].map(finance.money) for c in money_cols},
                        **{c: comp[c].map("{:.0%}".format) for c in shares})
    return shown[list(COMPARISON_LABELS)].round(1).rename(columns=COMPARISON_LABELS)


def show_money(rep: Any, f: Figures) -> None:
    """The establishment costed, savings by financial year against budget (config [finance])."""
    if "finance" not in f.cfg:
        _markdown("The config has no `[finance]` table, so the establishment is not costed.")
        return
    fin = finance.settings_from_config(f.cfg)
    money = finance.locality_money(f.table, fin, f.as_at, demand_growth=f.growth["growth_rate"])
    comp, years, case = money.comparison, money.years, money.cases.iloc[0]
    rep.table("establishment_cost", comp, count_cols=[])
    rep.table("locality_savings_by_year", years, count_cols=[])
    rep.table("locality_business_case", money.cases, count_cols=[])
    allr = comp.set_index("role").loc["all"]
    fys = finance.summary_years(years["financial_year"].iloc[0], fin.summary_years)
    shown = years[years["financial_year"].isin(fys)]
    _markdown(establishment_cost_text(allr, shown, case, fin.current_source))
    _display(comparison_for_members(comp))
    _display(finance.years_for_members(shown))
    each = "; ".join(f"{r.financial_year}: {finance.money(r.net_saving)} against "
                     f"{finance.money(r.budgeted_saving)}" for r in shown.itertuples())
    charts.show(finance.savings_chart(years, fys), description=(
        f"Modelled locality staffing net saving by financial year ({', '.join(fys)}) with the "
        f"budgeted saving marked by a black tick; {each}."))
    rep.summary(
        establishment_annual_cost=round(float(allr["proposed_annual_cost_now"])),
        establishment_annual_cost_converted=round(float(allr["proposed_annual_cost_converted"])),
        current_establishment_annual_cost=round(float(allr["current_annual_cost"])),
        current_establishment_source=fin.current_source,
        locality_savings_by_year={r.financial_year: round(r.net_saving) for r in shown.itertuples()},
        locality_budgeted_savings_by_year={r.financial_year: round(r.budgeted_saving)
                                           for r in shown.itertuples()},
        locality_break_even=case["break_even"],
        locality_roi=None if case["roi"] is None else round(float(case["roi"]), 3),
    )


# -- balance, method, checks, assignment ----------------------------------------------------
def show_balance_sweep(rep: Any, f: Figures) -> None:
    """How the proposed localities were built, then the largest-to-smallest workload ratio for
    each number of localities: chart and table."""
    _markdown(construction_text(f))
    charts.show(locality.balance_sweep_chart(f.sweep, f.target_ratio, f.n_localities), description=(
        "Largest-to-smallest workload ratio against the number of localities, built from whole "
        "wards and from neighbourhoods; the dashed line is the target."))
    cols = ["building_block", "n_localities", "ratio_max_min", "lower_bound", "cv", "all_contiguous"]
    _display(rep.table("balance_by_number_of_localities", f.sweep[cols].round(3), count_cols=[]))


def show_deprivation_source(f: Figures) -> None:
    """Which deprivation edition and LSOAs the wards are built from."""
    lookup = Path(f.cfg["data"]["lsoa_ward_lookup"]).name
    _markdown(f"**Deprivation data:** {f.edition.label}, published by the Ministry of Housing, "
              f"Communities and Local Government; wards are built from {f.edition.lsoa_vintage} LSOAs "
              f"with the ONS LSOA-to-ward lookup supplied (`{lookup}`).")


def demand_model_text(model: Any, measure: str, n_years: int, growth_rate: float) -> str:
    """The ward demand model in words: family, IDACI effect per 10 points, shrinkage, growth."""
    family = "negative binomial" if model.family == "negbin" else "Poisson"
    effect = math.exp(10 * float(model.params["idaci_percentile"]))
    k = 1 / model.alpha if model.alpha > 0 else float("inf")
    return f"""Expected demand in each ward comes from a {family}
regression of the number of {formatting.plain_label(measure).lower()} at 31 March (over {n_years} years) on the ward's IDACI percentile,
with the number of children as the exposure. Each 10 points of IDACI percentile multiplies expected demand per child by
**{effect:.2f}**. Small wards' counts are noisy, so each ward's
figure is pulled towards the model (gamma-Poisson empirical Bayes: weight on the ward's own count = expected / (expected + {k:.1f})),
then projected forward at {growth_rate:.0%} a year."""


def observed_vs_modelled(model_table: pd.DataFrame, wards: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Each ward's observed cases a year (suppressed totals) beside the model's expectation."""
    obs = model_table.merge(wards[["ward_code", "ward_name"]], on="ward_code")
    obs = obs.assign(observed_total=obs["observed_total"].round().astype(int))
    safe = disclosure.suppress(obs[["ward_name", "observed_total", "expected", "shrunk", "n_years"]],
                               count_cols=["observed_total"], threshold=threshold)
    return safe.assign(observed=pd.to_numeric(safe["observed_total"], errors="coerce") / safe["n_years"])


def show_demand_model(f: Figures) -> None:
    """The demand model in words, and observed against modelled demand by ward."""
    s = f.sizing
    _markdown(demand_model_text(s.ward_model, f.measure, len(f.year_ends), f.growth["growth_rate"]))
    chart = locality.observed_vs_modelled_chart(observed_vs_modelled(s.ward_model_table, s.wards, f.threshold))
    charts.show(chart, description=(
        "Each dot is a ward: observed open cases a year (vertical) against the number the "
        "deprivation model expects (horizontal). Dots near the dashed line fit the model."))


def checks_table(f: Figures) -> pd.DataFrame:
    """The proposed localities against the equal-workload strips baseline."""
    balance = f.sizing.balance
    return pd.DataFrame({
        "grouping": ["Proposed localities", "Baseline: equal-workload strips"],
        "largest_to_smallest": [balance["ratio_max_min"], f.baseline_balance["ratio_max_min"]],
        "coefficient_of_variation": [balance["cv"], f.baseline_balance["cv"]],
        "localities_in_one_piece": [int(f.sizing.contiguity["contiguous"].sum()), f.baseline_contiguous],
        "mean_compactness": [f.compact["polsby_popper"].mean(), f.baseline_compact["polsby_popper"].mean()],
    }).round(3)


def placement_text(placement: dict, year: int, has_directory: bool, threshold: int) -> str:
    """How the latest open cases were placed in wards (extract, 903 postcode, not placed)."""
    say = lambda n: say_count(n, threshold)  # noqa: E731
    reasons = placement.get("not placed by reason")
    return (f"Of {say(placement['total'])} open cases at 31 March {year}, "
            f"{say(placement['address extract'])} were placed in a ward from the case-management "
            f"address extract and {say(placement['903 home postcode'])} (looked-after children with "
            "no address in the extract) from the home postcode in the looked-after return, matched to "
            "a neighbourhood by its grid reference"
            + ("" if has_directory else " (no postcode directory is configured, so none could be)")
            + f"; {say(placement['not placed'])} could not be placed and are not in the locality figures"
            + (f" ({case_extracts.unplaced_text(reasons, threshold)})" if reasons else "") + ".")


def show_checks(rep: Any, f: Figures) -> None:
    """Contiguity, balance and compactness against the baseline; how cases were placed."""
    checks = checks_table(f)
    rep.table("checks", checks, count_cols=[])
    _markdown(f"The baseline cuts the map into {f.n_localities} strips of equal workload. "
              f"{checks.loc[1, 'localities_in_one_piece']} of its strips are in one piece, against "
              f"{checks.loc[0, 'localities_in_one_piece']} of the proposed localities. "
              + placement_text(f.sizing.placement, f.last_year_end.year, f.directory is not None,
                               f.threshold))


def write_block_map(rep: Any, f: Figures) -> None:
    """``tables/block_to_locality.csv`` as soon as the localities are sized: the re-referral
    report reads it (``run:locality_sizing/tables/block_to_locality.csv``) and the publishing
    run starts that report once the file exists, not when this report ends."""
    rep.table("block_to_locality", f.sizing.block_table().sort_values(["locality", "block_code"]),
              count_cols=[])


def show_assignment(rep: Any, f: Figures) -> None:
    """The ward-to-locality table, split wards and explicit links (the block-to-locality table
    is written earlier, by :func:`write_block_map`)."""
    s, plan = f.sizing, f.plan
    w2l = s.w2l[["ward_code", "ward_name", "locality", "locality_name", "share_workload",
                 "share_children", "split"]]
    rep.table("ward_to_locality", w2l.sort_values(["locality", "ward_name"]).round(3), count_cols=[])
    if len(plan.split_wards):
        split = plan.split_wards.assign(ward_name=plan.split_wards["ward_code"].map(f.ward_name_of))
        rep.table("split_wards", split[["ward_code", "ward_name", "n_localities", "reason"]], count_cols=[])
    if len(s.links):
        rep.table("contiguity_links", s.links, count_cols=[])


# -- interactive ---------------------------------------------------------------------------------
def explore_text(f: Figures, n: int, caseload: float, block: str) -> str:
    """One line for the analysts' sliders: regroup into ``n`` localities and restaff."""
    s = f.sizing
    p = locality.plan_whole_wards_first(s.lsoa_graph, s.lsoas.set_index("lsoa_code")["ward_code"],
                                        s.ward_work, s.lsoa_work, n, building_block=block,
                                        target_ratio=f.target_ratio, seed=f.seed, districts=s.districts)
    cases = pd.DataFrame({"projected_cases": [float(p.workload.sum())]})
    fte = locality.staffing_fte(cases, **{**f.staffing, "sw_caseload": caseload}).iloc[0]
    return (f"{n} localities ({p.building_block}, {len(p.split_wards)} wards split): ratio {p.ratio:.2f}, "
            f"total FTE {fte['fte_total']:.1f}, social workers {fte['fte_social_workers']:.1f}")


def explorer(f: Figures, say: Callable[[str], None] = print) -> Any:
    """Sliders for the number of localities, caseload and building block; returns the widget."""
    import ipywidgets as widgets

    return widgets.interactive(
        lambda n, caseload, block: say(explore_text(f, n, caseload, block)),
        n=widgets.IntSlider(value=f.n_localities, min=2, max=40),
        caseload=widgets.FloatSlider(value=f.staffing["sw_caseload"], min=8, max=25, step=0.5),
        block=widgets.Dropdown(options=["auto", "ward", "lsoa"], value=f.building_block))


def show_explorer(rep: Any, f: Figures) -> None:
    """The sliders, in an interactive session only."""
    if rep.interactive:
        _display(explorer(f))


# -- summary --------------------------------------------------------------------------------
def write_summary(rep: Any, f: Figures) -> None:
    """The report's figures in summary.json, then the data-quality appendix and attribution."""
    s, plan, totals, posts = f.sizing, f.plan, f.totals, f.posts
    safe = lambda n: disclosure.suppress_value(n, f.threshold)  # noqa: E731
    rep.summary(
        title="Locality team sizing",
        period_start=(f.year_ends[0] - pd.DateOffset(years=1) + pd.Timedelta(days=1)).date(),
        period_end=f.last_year_end.date(),
        data_as_at=f.as_at.date(),
        n_localities=int(f.n_localities),
        fte_social_workers=round(float(totals["fte_social_workers"]), 1),
        fte_family_support_workers=round(float(totals["fte_family_support_workers"]), 1),
        fte_managers=round(float(totals["fte_team_managers"] + totals["fte_senior_practitioners"]), 1),
        fte_total=round(float(totals["fte_total"]), 1),
        posts_total=int(posts.sum()),
        posts_by_role={r: int(posts[f"posts_{r}"]) for r in locality.ROLES},
        fte_by_role={r: round(float(totals[f"fte_{r}"]), 1) for r in locality.ROLES},
        n_wards_split=int(len(plan.split_wards)),
        split_wards=[str(f.ward_name_of.get(w, w)) for w in plan.split_wards["ward_code"]],
        ratio_lower_bound=round(float(plan.lower_bound), 3),
        target_met=bool(plan.meets_target),
        whole_wards_reach_target_at=f.reach,
        teams_needed_with_districts_whole=f.district_teams,
        workload_ratio_max_min=round(float(s.balance["ratio_max_min"]), 3),
        workload_cv=round(float(s.balance["cv"]), 3),
        all_localities_contiguous=f.all_contiguous,
        caseload_targets={"social_worker": f.staffing["sw_caseload"],
                          "family_support_worker": f.staffing["fsw_caseload"]},
        staffing_assumptions=f.staffing,
        building_block=plan.building_block,
        iod_edition=f.edition.year,
        ward_ratio_max_min=None if pd.isna(plan.ward_ratio) else round(float(plan.ward_ratio), 3),
        target_ratio=f.target_ratio,
        open_cases_latest=safe(s.placement["total"]),
        open_cases_placed_by_home_postcode=safe(s.placement["903 home postcode"]),
        open_cases_not_placed=safe(s.placement["not placed"]),
        keep_districts_whole=f.keep_districts_whole,
        districts_kept_whole=s.districts_kept_whole,
        n_districts=s.n_districts,
    )
    annex_ledger = f.annex.ledger if f.annex is not None else type(f.cin.ledger)()
    rep.data_quality(f.cin.ledger.merge(f.lac.ledger).merge(f.address_ledger)
                     .merge(s.ward_ledger).merge(annex_ledger))
    rep.attribution("ons", f.edition.boundaries_attribution, f.edition.attribution)


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def _markdown(text: str) -> None:
    from IPython.display import Markdown

    _display(Markdown(text))
