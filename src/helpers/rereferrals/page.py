"""The re-referrals report (notebooks/re_referrals.ipynb), section by section.

The notebook is the report's outline: each section is one call here. ``report_figures`` reads the
inputs and works out the measures once; each ``show_*`` function publishes one section (tables
through :class:`helpers.publishing.report.Report`, charts through :func:`helpers.publishing.charts.show`) and returns what
later sections quote. Chart builders (``*_chart``) and text templates (``*_text``) are separate,
pure functions so they can be tested on small hand-made tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import altair as alt
import numpy as np
import pandas as pd

from helpers import config, memory, reference
from helpers.publishing import charts, disclosure, safe_output
from helpers.readers import annex_a, case_extracts, cin_census
from helpers.readers import between_returns as br
from helpers.readers.input_cache import load
from helpers.reference import benchmarks as bm
from helpers.reference import dfe_stats, geography
from helpers.rereferrals import measure as rr
from helpers.rereferrals import timing as rt
from helpers.stats import funnel_limits

BREAKDOWNS = {"Referral source": "source_group", "Primary need": "primary_need_label",
              "Age at referral": "age_band", "Sex": "sex_label", "Ethnic group": "ethnicity_group",
              "Disability": "disability_label", "Deprivation of home area (IDACI)": "deprivation"}
DEPRIVATION_ORDER = ["Most deprived 20%", "Middle 60%", "Least deprived 20%"]


def pct(x: Any) -> str:
    """A rate as members read it: 0.2345 -> "23.5%"; missing -> "not available"."""
    return "not available" if x is None or pd.isna(x) else f"{100 * x:.1f}%"


def year_label(year: int) -> str:
    """The collection year ending 31 March ``year`` as "2025-26"."""
    return f"{year - 1}-{str(year)[2:]}"


def count_text(n: Any) -> str:
    """A count already passed through suppression: 1234 -> "1,234"; the marker "c" as it is."""
    return n if isinstance(n, str) else f"{n:,}"


def lower_first(label: str) -> str:
    """ "Referral source" -> "referral source" (a label inside a sentence)."""
    return label[0].lower() + label[1:]


def base_definition(opts: dict) -> rr.Definition:
    """The DfE definition as the config's ``[rereferrals]`` settings (window, unit, anniversary) set it."""
    unit = opts.get("window_unit", "months")
    return rr.Definition("dfe", f"DfE definition: previous referral within {opts.get('window', 12)} "
                         f"{'calendar months' if unit == 'months' else 'days'}",
                         window=int(opts.get("window", 12)), unit=unit,
                         inclusive=bool(opts.get("inclusive", True)))


def run_as_at(as_at: pd.Timestamp, month: str, annex_as_at: pd.Timestamp | None = None,
              extract_dated: bool = True) -> pd.Timestamp:
    """The last day the report uses: the data's as-at date, cut at the end of the run ``month``.

    Without an extract date (``extract_dated`` False) an Annex A extract's latest date can move it
    later, still never beyond the run month.
    """
    end = pd.Period(month, freq="M").end_time.normalize() if month else None
    if end is not None:
        as_at = min(as_at, end)
    if annex_as_at is not None and not extract_dated:
        as_at = max(as_at, annex_as_at) if end is None else min(max(as_at, annex_as_at), end)
    return as_at


@dataclass
class Figures:
    """Everything the re-referral report's sections read: settings, inputs and measures."""

    cfg: dict
    threshold: int
    base: rr.Definition
    duplicate_days: int
    definitions: tuple
    c1_path: Any = None
    locality_path: Any = None
    # inputs
    cin: Any = None                # the CIN census with its children table only (see read_inputs)
    iod: Any = None
    ward_names: pd.Series | None = None
    ledger: Any = None
    as_at: pd.Timestamp | None = None
    annex: Any = None
    extract: Any = None            # the council's flat referrals extract ([data] referrals_extract)
    referrals: pd.DataFrame | None = None
    coverage: Any = None
    window: Any = None
    data_start: pd.Timestamp | None = None
    year: int = 0
    # measures
    flags: pd.DataFrame | None = None
    this_year: pd.Series | None = None
    last_year: pd.Series | None = None
    sensitivity: pd.DataFrame | None = None
    rolling: pd.DataFrame | None = None
    recording: pd.DataFrame | None = None
    repeat: pd.Series | None = None
    benchmarks: pd.DataFrame | None = None
    c1: pd.DataFrame | None = None
    england: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    # filled by the sections, quoted by later ones
    step: pd.Series | None = None
    step_text: str = ""
    most: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    least: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    closure_safe: pd.DataFrame | None = None

    @property
    def period(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        return rr.collection_year_bounds(self.year)

    @property
    def previous_period(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        return rr.collection_year_bounds(self.year - 1)

    @property
    def england_year(self) -> int | None:
        return int(self.england.index.max()) if len(self.england) else None

    def safe_n(self, n: Any) -> Any:
        """A count as it may be quoted (1 to the threshold: the suppression marker)."""
        return disclosure.suppress_value(int(n), self.threshold)

    def dims(self) -> dict[str, str]:
        """The breakdowns shown: the characteristics, and the locality when a map is configured."""
        return {**BREAKDOWNS, **({"Locality": "locality"} if self.locality_path else {})}

    def area_flags(self, flags: pd.DataFrame) -> pd.DataFrame:
        """Flags with the child's characteristics, home area deprivation and locality added."""
        flags = rr.add_characteristics(flags, self.cin.children)
        flags = rr.add_area(flags, self.iod[["lsoa_code", "imd_decile", "idaci_decile"]],
                            rr.read_locality_map(self.locality_path) if self.locality_path else None)
        flags["deprivation"] = rr.deprivation_group(flags["idaci_decile"])
        return flags


def settings(config_path: str | Path, *, output_dir: str = "", dfe_c1: str = "") -> Figures:
    """The report's settings from the council config (no data read yet)."""
    cfg = config.load_config(config_path)
    opts = cfg.get("rereferrals", {})
    base = base_definition(opts)
    duplicate_days = int(opts.get("duplicate_days", 7))
    # "reference:dfe_c1" = the national snapshot bundled with the project
    c1_path = reference.resolve(dfe_c1 or opts.get("dfe_c1", ""), cfg["_root"])
    return Figures(cfg=cfg, threshold=cfg["publish"]["suppression_threshold"], base=base,
                   duplicate_days=duplicate_days,
                   definitions=rr.alternative_definitions(duplicate_days, base), c1_path=c1_path,
                   locality_path=config.resolve_input(cfg, opts.get("locality_map", ""), output_dir))


def read_inputs(f: Figures, *, month: str = "", collection_year: int = 0) -> Figures:
    """Read the CIN census, addresses, deprivation, ward lookup and (optional) Annex A into ``f``."""
    cfg, data = f.cfg, f.cfg["data"]
    iod_edition = cfg.get("geography", {}).get("iod_edition")  # 2019 (LSOA 2011) or 2025 (LSOA 2021)
    # parsed once per run, then cached; only the two tables the page reads are loaded
    cin = load(cfg, cin_census.read_cin_census, data["cin_census"], keep=("children", "referrals", "ledger"))
    addresses, address_ledger = load(cfg, case_extracts.read_address_extract, data["addresses"])
    iod = load(cfg, geography.read_iod, data["iod"], edition=iod_edition)
    lookup = load(cfg, geography.read_lsoa_ward_lookup, data["lsoa_ward_lookup"])
    # ward codes checked against the ONS lookup: unknown or other councils' wards are not placed
    lad_codes = cfg.get("locality", {}).get("lad_codes") or cfg["council"]["la_code"]
    addresses, ward_check = case_extracts.check_ward_codes(addresses, lookup, lad_codes)
    ledger = cin.ledger.merge(address_ledger).merge(ward_check)
    meta_path = Path(data.get("council_meta", ""))
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    as_at = run_as_at(pd.Timestamp(meta.get("as_at", cin.referrals["referral_date"].max())), month)
    # Ofsted Annex A (optional, [data] annex_a): List 3 referrals after the latest CIN census
    # return, so the monthly figures reach the run month (same child identifiers).
    annex = annex_a.load_configured(cfg)  # parsed once per run, then cached
    if annex is not None:
        ledger = ledger.merge(annex.ledger)
        as_at = run_as_at(as_at, month, annex.as_at, extract_dated=bool(meta.get("as_at")))
    annex_as_at = annex.as_at if annex is not None else None
    # Referrals received while a case was open: the CIN census cannot hold them (no overlapping
    # episodes); the council's own referrals extract ([data] referrals_extract, optional) does, and
    # the "made while open" definition is measured on it (rr.sensitivity_table, open_source).
    if data.get("referrals_extract"):
        f.extract = load(cfg, case_extracts.read_flat_referrals, data["referrals_extract"], as_at=as_at)
        ledger = ledger.merge(f.extract.ledger)
    referrals, coverage = br.extend_referrals(
        cin.referrals, annex.referrals if annex is not None else None,
        br.statutory_end(cin.referrals, as_at), as_at, annex_as_at)
    f.cin, f.iod, f.ledger, f.as_at, f.annex, f.coverage = cin, iod, ledger, as_at, annex, coverage
    f.ward_names = lookup.drop_duplicates("ward_code").set_index("ward_code")["ward_name"]
    f.window = br.latest_twelve_months(coverage.data_end)
    f.referrals = case_extracts.attach_ward(referrals, addresses)
    # The first census year's file holds every referral open during it, some made years earlier,
    # so the history is complete only from the start of the first collection year supplied.
    f.data_start = rr.collection_year_bounds(int(cin.referrals["collection_year"].min()))[0]
    opts = cfg.get("rereferrals", {})
    f.year = collection_year or int(opts.get("collection_year", 0)) or rr.latest_complete_year(as_at)
    f.cin = children_only(cin)
    memory.release_unused()  # the tables let go: about 2 GB at England scale
    return f


def children_only(cin: Any) -> Any:
    """``cin`` keeping its ``children`` table and ledger; every other table left empty (same
    columns). From here on the page reads only the children's characteristics: the referrals
    are in ``Figures.referrals``, and assessments, plans, section 47 enquiries and the
    identifier set are never read. Letting them go frees about 2 GB at England scale."""
    empty = {name: getattr(cin, name).iloc[:0] for name in
             ("referrals", "assessments", "cin_plans", "section47", "cp_plans")}
    return replace(cin, identifiers=set(), **empty)


def england_rates(benchmarks: pd.DataFrame | None) -> pd.Series:
    """England's published re-referral rate by year ending March (empty without benchmarks)."""
    if benchmarks is None:
        return pd.Series(dtype=float)
    return benchmarks[benchmarks["comparator"] == "England"].set_index("time_period")["rereferral_rate"]


def measures(f: Figures) -> Figures:
    """Flag re-referrals and work out the year's rates, sensitivity, trends and benchmarks."""
    flags = f.area_flags(rr.flag_definition(f.referrals, f.base))
    flags["ward"] = flags["ward_code"].map(f.ward_names).fillna("Unknown")
    f.flags = flags
    f.this_year = rr.rereferral_rates(flags, *f.period, data_start=f.data_start).iloc[0]
    f.last_year = rr.rereferral_rates(flags, *f.previous_period, data_start=f.data_start).iloc[0]
    f.sensitivity = rr.sensitivity_table(
        f.referrals, *f.period, f.definitions,
        open_source=f.extract.referrals if f.extract is not None else None)
    f.rolling = rr.rolling_rate(flags, data_start=f.data_start, data_end=f.coverage.data_end)
    rec = rr.monthly_recording_view(f.referrals, duplicate_days=f.duplicate_days, definition=f.base)
    f.recording = rec[(rec["month"] >= f.data_start + pd.DateOffset(months=12))
                      & (rec["month"] <= f.coverage.data_end)]
    f.repeat = rr.repeat_referral_children(flags, *f.period).iloc[0]
    if f.c1_path and f.c1_path.is_file():
        f.c1 = dfe_stats.read_c1(f.c1_path)
        council = f.cfg["council"]
        f.benchmarks = dfe_stats.c1_benchmarks(
            f.c1, region=council.get("region"),
            statistical_neighbours=council.get("statistical_neighbours", []))
    f.england = england_rates(f.benchmarks)
    memory.release_unused()
    return f


def report_figures(config_path: str | Path, *, output_dir: str = "", month: str = "",
                   collection_year: int = 0, dfe_c1: str = "") -> Figures:
    """Settings, inputs and measures for the report, in one call."""
    f = settings(config_path, output_dir=output_dir, dfe_c1=dfe_c1)
    return measures(read_inputs(f, month=month, collection_year=collection_year))


def england_for_year(england: pd.Series, year: int) -> tuple[float | None, int | None]:
    """England's rate for ``year`` if published, else its latest, with the year it belongs to."""
    if not len(england):
        return None, None
    if year in england.index:
        return float(england[year]), int(year)
    return float(england.iloc[-1]), int(england.index.max())


# -- headline -------------------------------------------------------------------------------
def show_latest_12_months(rep: Any, f: Figures) -> str:
    """Summary figures for the latest 12 months; returns the headline's first paragraph."""
    latest12 = br.rereferral_windows(f.flags, f.window, f.data_start)
    lead12 = br.rereferral_headline(latest12, f.window, f.threshold, coverage=f.coverage, run_end=f.as_at)
    l12 = latest12.set_index("which")
    earlier = l12.loc["year earlier"]
    rep.summary(latest_12m_start=f.window.start, latest_12m_end=f.window.end,
                latest_12m_referrals=f.safe_n(l12.loc["latest", "referrals"]),
                latest_12m_rereferrals=f.safe_n(l12.loc["latest", "rereferrals"]),
                latest_12m_rereferral_rate=float(l12.loc["latest", "rereferral_rate"]),
                previous_12m_rereferral_rate=(float(earlier["rereferral_rate"])
                                              if bool(earlier["lookback_complete"]) else None),
                latest_12m_from_annex_a=int(f.coverage.added),
                statutory_data_end=f.coverage.cin_end)
    return lead12


def direction_word(change: float) -> str:
    """ "up", "down" or "about the same as" for a change in rate (half a point either way is the same)."""
    return "up" if change > 0.005 else "down" if change < -0.005 else "about the same as"


def england_text(f: Figures) -> str:
    """England's published rate for the statutory year (or the latest year published before it)."""
    eng_rate, eng_year = england_for_year(f.england, f.year)
    if eng_year is None:
        return "England's rate was not available for this run."
    return f"England's was {pct(eng_rate)} in {year_label(eng_year)}."


def headline_text(lead12: str, f: Figures) -> str:
    """The headline: the latest 12 months, then the statutory year's rate (once), last year's
    and England's, with three bullets."""
    this, last = f.this_year, f.last_year

    def n(v: Any) -> str:
        return count_text(f.safe_n(v))

    direction = direction_word(this["rereferral_rate"] - last["rereferral_rate"])
    dup = f.sensitivity.set_index("definition").loc["duplicates_collapsed"]
    dup_change = 100 * (dup["rereferral_rate"] - this["rereferral_rate"])
    frm = "from " if direction != "about the same as" else ""
    return f"""
{lead12}

**{year_label(f.year)}, the last statutory year (April to March): {pct(this['rereferral_rate'])}.**
{n(this['rereferrals'])} of {n(this['referrals'])} referrals were about a child referred in the 12 months before.
That is {direction} {frm}last year's {pct(last['rereferral_rate'])}. {england_text(f)}

- **Children:** {pct(this['child_rereferral_rate'])} of the {n(this['children_referred'])} children referred
  were re-referred at least once in the year (DfE child-level rate).
- **Recording:** if referrals made within {f.duplicate_days} days of the previous one are treated as recording duplicates,
  the rate is {pct(dup['rereferral_rate'])} ({dup_change:+.1f} percentage points).
- **Repeat referrals:** {n(f.repeat['children_repeat'])} children ({pct(f.repeat['share'])} of those referred) had three or
  more referrals within 12 months.
"""


def show_headline(rep: Any, f: Figures) -> None:
    """The headline box (latest 12 months first, then the statutory year)."""
    rep.headline(headline_text(show_latest_12_months(rep, f), f))


# -- trend and recording ----------------------------------------------------------------------
def rolling_chart(roll: pd.DataFrame, england: pd.Series) -> alt.Chart:
    """Rolling 12-month rate with its 95% band, and England's yearly rate as black diamonds."""
    line = alt.Chart(roll.astype({"rate": float, "ci_low": float, "ci_high": float})).encode(
        x=alt.X("month:T", title="12 months ending"))
    band = line.mark_area(opacity=0.2).encode(
        y=alt.Y("ci_low:Q", title="Re-referral rate", axis=alt.Axis(format="%")), y2="ci_high:Q")
    layers = [band, line.mark_line().encode(
        y="rate:Q", tooltip=[alt.Tooltip("month:T"), alt.Tooltip("rate:Q", format=".1%")])]
    if len(england):
        eng = pd.DataFrame({"month": [pd.Timestamp(y, 3, 1) for y in england.index],
                            "england": england.to_numpy()})
        eng = eng[eng["month"] >= roll["month"].min()]
        layers.append(alt.Chart(eng).mark_point(shape="diamond", size=80, color="black").encode(
            x="month:T", y="england:Q",
            tooltip=[alt.Tooltip("england:Q", format=".1%", title="England")]))
    return alt.layer(*layers).properties(title="Re-referral rate, rolling 12 months")


def show_trend(rep: Any, f: Figures) -> None:
    """The rolling 12-month rate: table and chart."""
    roll = f.rolling.loc[f.rolling["complete"], ["month", "referrals_rolling", "rereferrals_rolling",
                                                  "rate", "ci_low", "ci_high"]]
    roll = roll.rename(columns={"referrals_rolling": "referrals", "rereferrals_rolling": "rereferrals"})
    safe = rr.publishable(roll, f.threshold, group_cols=["month"])  # each row is its own 12-month total
    rep.table("rolling_rate", safe)
    latest = pct(safe["rate"].dropna().iloc[-1]) if safe["rate"].notna().any() else "suppressed"
    charts.show(rolling_chart(safe, f.england), description=(
        "Re-referral rate over the 12 months ending each month, with a 95% confidence band; black "
        f"diamonds are England's published rate for the year ending March. Latest: {latest}."))


def recording_chart(rec_safe: pd.DataFrame, duplicate_days: int) -> alt.VConcatChart:
    """Monthly rate as recorded and with near-duplicates removed (top); near-duplicates a month (bottom)."""
    long = rec_safe.melt(id_vars="month", value_vars=["rate", "rate_collapsed"], var_name="series",
                         value_name="value").dropna()
    long["series"] = long["series"].map({
        "rate": "As recorded (DfE definition)",
        "rate_collapsed": f"Near-duplicates within {duplicate_days} days removed"})
    long["value"] = long["value"].astype(float)
    rates = alt.Chart(long).mark_line().encode(
        x=alt.X("month:T", title=None),
        y=alt.Y("value:Q", title="Re-referral rate in month", axis=alt.Axis(format="%")),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top")))
    counts = rec_safe.dropna(subset=["near_duplicates"]).astype({"near_duplicates": float})
    bars = alt.Chart(counts).mark_bar().encode(
        x=alt.X("month:T", title="Month of referral"),
        y=alt.Y("near_duplicates:Q", title="Near-duplicate referrals"))
    return alt.vconcat(rates.properties(height=220), bars.properties(height=120))


def step_sentence(step: pd.Series) -> str:
    """The recording step in words ("" when none was found)."""
    if pd.isna(step["month"]):
        return ""
    return (f"Near-duplicates stepped up from about {step['mean_before']:.0f} a month to about "
            f"{step['mean_after']:.0f} a month from {step['month']:%B %Y}.")


def show_recording(rep: Any, f: Figures) -> None:
    """Near-duplicate referrals month by month; keeps the recording step for later sections."""
    cols = ["month", "referrals", "rereferrals", "near_duplicates", "referrals_collapsed",
            "rereferrals_collapsed", "rate", "rate_collapsed"]
    rec_safe = disclosure.suppress(
        f.recording[cols], count_cols=["near_duplicates"],
        rate_cols={"rate": ("rereferrals", "referrals"),
                   "rate_collapsed": ("rereferrals_collapsed", "referrals_collapsed")},
        threshold=f.threshold, group_cols=["month"])
    rep.table("monthly_recording_view", rec_safe)
    f.step = rr.recording_step(f.recording.copy()).iloc[0]
    f.step_text = step_sentence(f.step)
    charts.show(recording_chart(rec_safe, f.duplicate_days), description=(
        "Monthly re-referral rate as recorded and with near-duplicate referrals removed (top), and "
        "the number of near-duplicates each month (bottom). " + f.step_text))


# -- definitions --------------------------------------------------------------------------------
def sensitivity_display(sens_safe: pd.DataFrame) -> pd.DataFrame:
    """The sensitivity table as members read it: rate as "24.0%", change as "+1.2 pts"."""
    shown = disclosure.for_display(sens_safe).assign(
        rate=lambda d: d["rate"].map(lambda v: v if v == "c" else f"{100 * v:.1f}%"),
        change_vs_reference=lambda d: d["change_vs_reference"].map(lambda v: f"{100 * v:+.1f} pts"))
    source = ["source"] if "source" in shown.columns else []       # where each row was measured
    return shown[["label", *source, "referrals", "rereferrals", "rate", "change_vs_reference"]]


def sensitivity_chart(chart_data: pd.DataFrame, year: int) -> alt.LayerChart:
    """Bars of the rate under each definition (the DfE one highlighted) with 95% intervals."""
    bar = alt.Chart(chart_data).encode(y=alt.Y("label:N", sort=None, title=None))
    colour = alt.condition(alt.datum.definition == "dfe", alt.value(charts.PALETTE[1]),
                           alt.value(charts.PALETTE[0]))
    bars = bar.mark_bar().encode(
        x=alt.X("rate:Q", title="Re-referral rate", axis=alt.Axis(format="%")), color=colour)
    return (bars + bar.mark_rule().encode(x="ci_low:Q", x2="ci_high:Q")).properties(
        title=f"Re-referral rate {year_label(year)} under each definition")


def show_definitions(rep: Any, f: Figures) -> None:
    """The year's rate under each reasonable definition: table and chart."""
    sens = f.sensitivity[["definition", "label", "source", "referrals", "rereferrals", "rereferral_rate",
                          "rate_ci_low", "rate_ci_high", "change_vs_reference"]]
    sens = sens.rename(columns={"rereferral_rate": "rate", "rate_ci_low": "ci_low",
                                "rate_ci_high": "ci_high"})
    sens_safe = rr.publishable(sens, f.threshold, group_cols=["definition"])
    rep.table("definition_sensitivity", sens_safe)
    _display(sensitivity_display(sens_safe).reset_index(drop=True))
    chart_data = sens_safe.dropna(subset=["rate"]).astype(
        {"rate": float, "ci_low": float, "ci_high": float})
    charts.show(sensitivity_chart(chart_data, f.year), description=(
        f"The {year_label(f.year)} re-referral rate under the DfE definition (orange) and each "
        f"alternative, with 95% intervals. The rates range from {pct(chart_data['rate'].min())} "
        f"to {pct(chart_data['rate'].max())}."))


# -- what drives it -----------------------------------------------------------------------------
def breakdown_figure(flags: pd.DataFrame, label: str, column: str, start: pd.Timestamp,
                     end: pd.Timestamp, threshold: int) -> tuple[pd.DataFrame, alt.LayerChart]:
    """One breakdown's publishable table (groups in column ``group``) and its bar chart."""
    safe = rr.publishable(rr.breakdown(flags, column, start, end), threshold)
    safe = safe.rename(columns={column: "group"})
    data = safe.dropna(subset=["rate"]).astype({"rate": float, "ci_low": float, "ci_high": float})
    enc = alt.Chart(data).encode(y=alt.Y("group:N", sort="-x", title=None))
    bars = enc.mark_bar().encode(
        x=alt.X("rate:Q", title="Re-referral rate", axis=alt.Axis(format="%")),
        tooltip=["group:N", alt.Tooltip("rate:Q", format=".1%"), "referrals:Q"])
    chart = (bars + enc.mark_rule().encode(x="ci_low:Q", x2="ci_high:Q")).properties(
        title=f"Re-referral rate by {lower_first(label)}")
    return safe, chart


def breakdown_text(safe: pd.DataFrame) -> str:
    """Highest and lowest group of a published breakdown, or why they cannot be named."""
    top = safe.dropna(subset=["rate"]).sort_values("rate", ascending=False)
    if len(top) >= 2:
        return (f"Highest: {top['group'].iloc[0]} ({pct(top['rate'].iloc[0])}); "
                f"lowest: {top['group'].iloc[-1]} ({pct(top['rate'].iloc[-1])}).")
    if len(top):
        return (f"Only {top['group'].iloc[0]} can be shown ({pct(top['rate'].iloc[0])}); "
                "the other groups are too small.")
    return "All groups are too small to show."


def gap_chart(gap_data: pd.DataFrame) -> alt.Chart:
    """Referrals in the year by the time since the child's previous referral."""
    return alt.Chart(gap_data).mark_bar().encode(
        y=alt.Y("gap_band:N", sort=[b[0] for b in rr.TIME_SINCE_BANDS], title=None),
        x=alt.X("referrals:Q", title="Referrals in the year"),
        tooltip=[alt.Tooltip("gap_band:N", title="Time since previous referral"),
                 alt.Tooltip("referrals:Q", title="Referrals", format=",")],
    ).properties(title="How long after the previous referral referrals came")


def share_within_a_year(gaps: pd.DataFrame) -> float:
    """Share of the year's referrals made within 12 months of the child's previous one."""
    within = gaps.loc[gaps["gap_band"].isin([b[0] for b in rr.TIME_SINCE_BANDS[:5]]), "referrals"].sum()
    return within / gaps["referrals"].sum()


def show_breakdowns(rep: Any, f: Figures) -> None:
    """The rate by each characteristic, then the gap between referrals as a distribution."""
    start, end = f.period
    for label, column in f.dims().items():
        safe, chart = breakdown_figure(f.flags, label, column, start, end, f.threshold)
        rep.table(f"by_{column}", safe)
        if not rep.interactive or column in ("deprivation", "source_group"):
            charts.show(chart, description=(
                f"Re-referral rate by {lower_first(label)}, {year_label(f.year)}, with 95% intervals. "
                + breakdown_text(safe)))
    gaps = rt.gap_distribution(f.flags, start, end)
    gaps_safe = disclosure.suppress(gaps, count_cols=["referrals"],
                                    rate_cols={"share": ("referrals", "referrals")},
                                    threshold=f.threshold)
    rep.table("gap_between_referrals", gaps_safe)
    gap_data = gaps_safe[gaps_safe["gap_band"] != rr.TIME_SINCE_NONE].dropna(subset=["referrals"])
    charts.show(gap_chart(gap_data.astype({"referrals": float})), description=(
        f"Referrals made in {year_label(f.year)} about a child referred before, by the time since "
        f"that child's previous referral. {pct(share_within_a_year(gaps))} of all referrals in the "
        "year came within 12 months of a previous one (these are the re-referrals)."))


def deprivation_chart(dep_data: pd.DataFrame) -> alt.Chart:
    """Rate each year by how deprived the child's home area is."""
    return alt.Chart(dep_data).mark_line(point=True).encode(
        x=alt.X("collection_year:O", title="Year ending 31 March"),
        y=alt.Y("rate:Q", title="Re-referral rate", axis=alt.Axis(format="%")),
        color=alt.Color("deprivation:N", title="Home area", sort=DEPRIVATION_ORDER))


def deprivation_trends(dep_data: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Yearly rate in the most deprived fifth, and the mean of the other groups' rates."""
    most = dep_data[dep_data["deprivation"] == "Most deprived 20%"].set_index("collection_year")["rate"]
    others = dep_data[dep_data["deprivation"] != "Most deprived 20%"]
    return most, others.groupby("collection_year")["rate"].mean()


def show_deprivation(rep: Any, f: Figures) -> None:
    """The rate by deprivation of home area over the last four years."""
    prev_start, _ = f.previous_period
    dep = rr.breakdown(f.flags, ["collection_year", "deprivation"],
                       prev_start - pd.DateOffset(years=2), f.period[1])
    dep_safe = rr.publishable(dep[dep["collection_year"] >= f.year - 3], f.threshold,
                              group_cols=["collection_year"])
    rep.table("by_deprivation_and_year", dep_safe)
    dep_data = dep_safe.dropna(subset=["rate"]).astype(
        {"rate": float, "ci_low": float, "ci_high": float, "collection_year": int})
    dep_data = dep_data[dep_data["deprivation"] != "Unknown"]
    charts.show(deprivation_chart(dep_data), description=(
        "Re-referral rate each year by how deprived the child's home area is (IDACI, the income "
        "deprivation affecting children index; the most deprived 20% are the fifth of English "
        "neighbourhoods with most children in income-deprived families)."))
    f.most, f.least = deprivation_trends(dep_data)


def funnel_chart(points: pd.DataFrame, council_rate: float, n_min: float, n_max: float) -> alt.LayerChart:
    """Wards by referrals and rate, inside 95% and 99.8% funnel limits around the council rate."""
    grid = funnel_limits(council_rate, np.linspace(max(5, n_min), n_max * 1.05, 80))
    limits = grid.melt(id_vars=["n", "target"], var_name="limit", value_name="value")
    limits["level"] = np.where(limits["limit"].str.endswith("99_8"), "99.8% limits", "95% limits")
    limits["side"] = np.where(limits["limit"].str.startswith("upper"), "upper", "lower")
    lim_chart = alt.Chart(limits).mark_line(strokeDash=[4, 3]).encode(
        x=alt.X("n:Q", title="Referrals in the year"),
        y=alt.Y("value:Q", title="Re-referral rate", axis=alt.Axis(format="%")),
        detail="limit:N", color=alt.Color("level:N", title=None))
    target = alt.Chart(pd.DataFrame({"rate": [council_rate]})).mark_rule(color="grey").encode(y="rate:Q")
    dots = alt.Chart(points).mark_circle(size=60, color="black").encode(
        x="referrals:Q", y="rate:Q",
        tooltip=["ward_name:N", "referrals:Q", alt.Tooltip("rate:Q", format=".1%"), "funnel_position:N"])
    return alt.layer(lim_chart, target, dots).properties(
        title="Wards: re-referral rate against number of referrals")


def funnel_text(funnel_safe: pd.DataFrame, council_rate: float) -> str:
    """How many wards lie outside the 99.8% limits, and which."""
    outliers = funnel_safe[funnel_safe["funnel_position"].str.contains("99.8")]
    names = f": {', '.join(outliers['ward_name'])}." if len(outliers) else "."
    return (f"Funnel plot of wards around the council rate of {pct(council_rate)}. "
            f"{len(outliers)} ward(s) lie outside the 99.8% limits" + names)


def show_ward_funnel(rep: Any, f: Figures) -> None:
    """Wards' rates against the council's, with funnel limits."""
    funnel = rr.ward_funnel(f.flags, *f.period)
    funnel["ward_name"] = funnel["ward_code"].map(f.ward_names).fillna(funnel["ward_code"])
    cols = ["ward_code", "ward_name", "referrals", "rereferrals", "rate", "ci_low", "ci_high",
            "funnel_position"]
    safe = rr.publishable(funnel[cols], f.threshold)
    safe["funnel_position"] = safe["funnel_position"].where(safe["rate"].notna(), "suppressed")
    rep.table("ward_funnel", safe)
    council_rate = float(funnel["council_rate"].iloc[0])
    points = safe.dropna(subset=["rate", "referrals"]).astype({"rate": float, "referrals": float})
    chart = funnel_chart(points, council_rate, funnel["referrals"].min(), funnel["referrals"].max())
    charts.show(chart, description=funnel_text(safe, council_rate))


# -- time to re-referral ---------------------------------------------------------------------
MEDIAN_LABELS = {"group": "How the case ended", "episodes": "Closed cases", "rereferred": "Referred again",
                 "km_median_days": "Median days to re-referral (blank: fewer than half came back)",
                 "rereferred_within": "Share back within a year"}


def km_chart(km_data: pd.DataFrame) -> alt.Chart:
    """Cumulative share of closed cases referred again, by months since closure, per outcome."""
    return alt.Chart(km_data).mark_line(interpolate="step-after", point=True).encode(
        x=alt.X("month:Q", title="Months after the case closed"),
        y=alt.Y("cumulative_rereferred:Q", title="Share referred again", axis=alt.Axis(format="%")),
        color=alt.Color("group:N", title="How the case ended"),
    ).properties(title="Time to re-referral after closure")


def km_steps_safe(steps: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Kaplan-Meier steps, suppressed; an interval is hidden with its suppressed share."""
    cols = ["group", "month", "episodes", "rereferred", "cumulative_rereferred", "ci_low", "ci_high"]
    safe = disclosure.suppress(steps[cols], count_cols=["episodes"],
                               rate_cols={"cumulative_rereferred": ("rereferred", "episodes")},
                               threshold=threshold, secondary=False)  # cumulative: never summed
    hidden = safe["cumulative_rereferred"].isna().to_numpy()
    for col in ("ci_low", "ci_high"):
        safe[col] = safe[col].astype("Float64").mask(hidden, pd.NA)
    return safe


def show_time_to_rereferral(rep: Any, f: Figures) -> None:
    """Closure cohorts: time to re-referral by how the case ended (keeps the share back in a year)."""
    start, end = f.period
    cohort = rt.closure_cohort(f.referrals, start - pd.DateOffset(years=1), end, f.as_at)
    # A case closed because a new referral was opened (back within a week) is an administrative
    # closure, not a return: left out, or "how the case ended" would predict "came back".
    cohort = cohort[~(cohort["rereferred"] & (cohort["days"] <= f.duplicate_days))]
    steps = rt.km_table(cohort, by="outcome", months=24)
    steps_pub = km_steps_safe(steps[steps["month"] % 3 == 0], f.threshold)
    rep.table("time_to_rereferral", steps_pub)
    km_data = steps_pub.dropna(subset=["cumulative_rereferred"]).astype(
        {"cumulative_rereferred": float, "month": int})
    charts.show(km_chart(km_data), description=(
        "Cumulative share of closed cases referred again, by months since closure, for each way the "
        "case ended (Kaplan-Meier estimate at 3-monthly points)."))
    medians = rt.median_times(cohort, by="outcome")
    med_safe = disclosure.suppress(
        medians[["group", "episodes", "rereferred", "km_median_days", "rereferred_within"]],
        count_cols=["episodes", "rereferred"], rate_cols={"rereferred_within": ("rereferred", "episodes")},
        threshold=f.threshold, secondary=False)
    rep.table("time_to_rereferral_medians", med_safe)
    share = rt.share_back_by(cohort, by="outcome")
    share = share.rename(columns={"episodes": "referrals", "rereferred": "rereferrals"})
    f.closure_safe = rr.publishable(share, f.threshold)
    rep.table("back_within_a_year_by_outcome", f.closure_safe)
    _display(disclosure.for_display(med_safe).rename(columns=MEDIAN_LABELS).reset_index(drop=True))


# -- benchmarks -----------------------------------------------------------------------------
def council_yearly_rates(f: Figures) -> pd.DataFrame:
    """The council's rate for each of the last four years whose look-back is complete."""
    rows = []
    for y in range(f.year - 3, f.year + 1):
        bounds = rr.collection_year_bounds(y)
        if bounds[0] >= f.data_start + pd.DateOffset(months=12):
            rate = rr.rereferral_rates(f.flags, *bounds, data_start=f.data_start).iloc[0]
            rows.append({"time_period": y, "comparator": f.cfg["council"]["la_name"],
                         "rereferral_rate": rate["rereferral_rate"]})
    return pd.DataFrame(rows)


def benchmark_chart(bench_all: pd.DataFrame) -> alt.Chart:
    """The council's yearly rate against England, the region and statistical neighbours."""
    return alt.Chart(bench_all).mark_line(point=True).encode(
        x=alt.X("time_period:O", title="Year ending 31 March"),
        y=alt.Y("rereferral_rate:Q", title="Re-referral rate", axis=alt.Axis(format="%"),
                scale=alt.Scale(zero=False)),
        color=alt.Color("comparator:N", title=None),
    ).properties(title="Re-referral rate compared")


def show_benchmarks(rep: Any, f: Figures) -> None:
    """The council against England, region and statistical neighbours (DfE table C1)."""
    if f.benchmarks is None:
        _markdown("**Benchmarks were not available for this run**: the DfE table C1 file is not "
                  "configured (`[rereferrals] dfe_c1` in the council config).")
        return
    council = f.cfg["council"]
    rep.attribution("dfe_snapshot" if reference.is_snapshot(f.c1_path) else "dfe")
    bench = f.benchmarks[f.benchmarks["time_period"] >= f.benchmarks["time_period"].max() - 4]
    bench_all = pd.concat([bench[["time_period", "comparator", "rereferral_rate"]],
                           council_yearly_rates(f)], ignore_index=True)
    rep.table("benchmarks", bench_all, count_cols=[])
    charts.show(benchmark_chart(bench_all), description=(
        "The council's re-referral rate each year against England, "
        f"{council.get('region', 'the region')} and statistical neighbours (DfE table C1). "
        f"England {year_label(f.england_year)}: {pct(f.england.iloc[-1])}."))
    _markdown(bm.neighbour_note(f.c1, council.get("statistical_neighbours"), "DfE table C1",
                                council.get("statistical_neighbours_source", "")))


# -- what changed and why ---------------------------------------------------------------------
def comparison_year(f: Figures) -> int:
    """The last full year before the recording step (else last year), with a complete look-back."""
    step_month = f.step["month"] if f.step is not None else pd.NaT
    if pd.notna(step_month):
        base_year = int(rr.collection_year(pd.Series([step_month])).iloc[0]) - 1
    else:
        base_year = f.year - 1
    base_year = min(base_year, f.year - 1)
    if rr.collection_year_bounds(base_year)[0] < f.data_start + pd.DateOffset(months=12):
        base_year = f.year - 1
    return base_year


def outcome_text(closure_safe: pd.DataFrame) -> str:
    """Which way of ending a case is followed by more returns, stated only beyond chance."""
    po = closure_safe.dropna(subset=["rate", "ci_low", "ci_high"]).astype(
        {"rate": float, "ci_low": float, "ci_high": float}).sort_values("rate", ascending=False)
    if len(po) >= 2 and po["ci_low"].iloc[0] > po["ci_high"].iloc[-1]:
        return (f"of cases that closed, {pct(po['rate'].iloc[0])} of those ending "
                f"'{safe_output.esc(po['group'].iloc[0])}' were referred again within 12 months, against "
                f"{pct(po['rate'].iloc[-1])} of those ending '{safe_output.esc(po['group'].iloc[-1])}' "
                "(a difference larger than chance).")
    if len(po) >= 2:
        return ("the share of closed cases referred again within 12 months did not differ by how "
                "the case ended by more than chance.")
    return "too few closed cases to compare by how they ended."


def deprivation_text(most: pd.Series, least: pd.Series) -> str:
    """The most deprived fifth's rate, first year to last, against the rest."""
    if len(most) < 2 or len(least) < 2:
        return "Deprivation trends could not be shown (too few referrals with a known home area)."
    years = sorted(most.index)
    return (f"In the most deprived fifth of neighbourhoods the rate went from {pct(most.iloc[0])} in "
            f"{year_label(years[0])} to {pct(most.iloc[-1])} in {year_label(years[-1])}; elsewhere it "
            f"averaged {pct(least.iloc[0])} and {pct(least.iloc[-1])}.")


def recording_text(step_text: str, duplicate_days: int, year: int, base_year: int,
                   now_dups: float, then_dups: float, now: pd.Series, then: pd.Series) -> str:
    """How much of the change between two years is recording (rates as recorded and collapsed)."""
    as_recorded = 100 * (now["dfe"] - then["dfe"])
    collapsed = 100 * (now["duplicates_collapsed"] - then["duplicates_collapsed"])
    return (f"{step_text} Near-duplicate referrals (within {duplicate_days} days of the child's "
            f"previous referral)\n  averaged {now_dups:.0f} a month in {year_label(year)} against "
            f"{then_dups:.0f} in {year_label(base_year)}. As recorded, the rate went from\n  "
            f"{pct(then['dfe'])} in {year_label(base_year)} to {pct(now['dfe'])} in {year_label(year)} "
            f"({as_recorded:+.1f} points); with\n  near-duplicates removed it went from "
            f"{pct(then['duplicates_collapsed'])} to {pct(now['duplicates_collapsed'])}\n  "
            f"({collapsed:+.1f} points). The difference between the two is the\n  part of the change "
            "due to recording rather than to children's needs.")


def what_changed_text(f: Figures) -> str:
    """Recording, need and outcome: the three explanations of a change, with their numbers."""
    base_year = comparison_year(f)
    collapsed = replace(f.base, name="duplicates_collapsed", collapse_duplicates_days=f.duplicate_days)
    then = rr.sensitivity_table(f.referrals, *rr.collection_year_bounds(base_year),
                                (f.base, collapsed)).set_index("definition")["rereferral_rate"]
    now = f.sensitivity.set_index("definition")["rereferral_rate"]
    months = f.recording["month"]
    then_dups = f.recording[months.between(*rr.collection_year_bounds(base_year))]["near_duplicates"].mean()
    now_dups = f.recording[months.between(*f.period)]["near_duplicates"].mean()
    recording = recording_text(f.step_text, f.duplicate_days, f.year, base_year, now_dups, then_dups,
                               now, then)
    return (f"\n- **Recording:** {recording}\n- **Need:** {deprivation_text(f.most, f.least)}\n"
            f"- **Outcome of the previous referral:** {outcome_text(f.closure_safe)}\n")


def show_what_changed(f: Figures) -> None:
    """The "what changed and why" bullets."""
    _markdown(what_changed_text(f))


# -- summary, widgets, appendix ---------------------------------------------------------------
def write_summary(rep: Any, f: Figures) -> None:
    """The statutory year's figures in summary.json (counts already safe)."""
    this, n = f.this_year, f.safe_n
    eng_rate, eng_year = england_for_year(f.england, f.year)
    start, end = f.period
    rep.summary(
        title="Re-referrals to children's social care",
        period_start=start, period_end=end, data_as_at=f.as_at,
        referrals=n(this["referrals"]), rereferrals=n(this["rereferrals"]),
        rereferral_rate=float(this["rereferral_rate"]),
        children_referred=n(this["children_referred"]),
        children_rereferred=n(this["children_rereferred"]),
        child_rereferral_rate=float(this["child_rereferral_rate"]),
        previous_year_rereferral_rate=float(f.last_year["rereferral_rate"]),
        england_rereferral_rate=eng_rate, england_year=eng_year,
        children_three_plus_referrals=n(f.repeat["children_repeat"]),
        definition={"window": f.base.window, "unit": f.base.unit,
                    "anniversary_counts": f.base.inclusive, "duplicate_days": f.duplicate_days},
        **{f"rate_{row.definition}": float(row.rereferral_rate) for row in f.sensitivity.itertuples()},
    )


def explorer(f: Figures, show: Callable[[alt.TopLevelMixin, str], None] = charts.show) -> Any:
    """Analysts' controls (breakdown, year, definition) redrawing one breakdown chart.

    Returns the ipywidgets box; ``show`` draws (chart, description) into its output area.
    """
    import ipywidgets as widgets

    dims = f.dims()
    years = list(range(int(f.data_start.year) + 2, f.year + 1))
    pick_dim = widgets.Dropdown(options=list(dims), value="Referral source", description="Breakdown")
    pick_year = widgets.Dropdown(options=years, value=f.year, description="Year to March")
    pick_def = widgets.Dropdown(options=[(d.label, d.name) for d in f.definitions], value="dfe",
                                description="Definition")
    out = widgets.Output()

    def redraw(_: Any = None) -> None:
        with out:
            out.clear_output()
            d = {x.name: x for x in f.definitions}[pick_def.value]
            flags = f.area_flags(rr.flag_definition(f.referrals, d))
            bounds = rr.collection_year_bounds(pick_year.value)
            _, chart = breakdown_figure(flags, pick_dim.value, dims[pick_dim.value], *bounds,
                                        f.threshold)
            show(chart, f"Re-referral rate by {pick_dim.value.lower()}, year to March "
                        f"{pick_year.value}, {d.label}.")

    for w in (pick_dim, pick_year, pick_def):
        w.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([pick_dim, pick_year]), pick_def, out])


def show_explorer(rep: Any, f: Figures) -> None:
    """The analysts' interactive view (only when nothing is published)."""
    if not rep.interactive:
        return
    _markdown("## Interactive view (analysts only)\nWhen the notebook is opened in JupyterLab without "
              "an output folder, the controls below change the breakdown,\nthe year and the "
              "definition. Published runs show the static charts above instead.")
    _display(explorer(f))


def address_match_text(match_counts: dict, threshold: int) -> str:
    """How referrals were placed in wards (by the address in force, the nearest, or not at all)."""
    n = lambda k: disclosure.suppress_value(int(match_counts.get(k, 0)), threshold)  # noqa: E731
    reasons = {"no address": match_counts.get("none", 0),
               **{k[len("no ward: "):]: v for k, v in match_counts.items() if k.startswith("no ward: ")}}
    return (f"Referrals placed in a ward by the address in force on the referral date: "
            f"{count_text(n('in force'))}; by the nearest address: {count_text(n('nearest'))}. Not placed in a ward (shown as \"Unknown\"): "
            + (case_extracts.unplaced_text(reasons, threshold) or "none") + ".")


def show_data_quality(rep: Any, f: Figures) -> None:
    """The data-quality appendix, how referrals were placed in wards, and attribution."""
    rep.data_quality(f.ledger)
    _markdown(address_match_text(f.referrals.attrs.get("address_match_counts", {}), f.threshold))
    rep.attribution(f.iod.attrs["iod_attribution"], "ons")


def list3_text(r0: pd.Series) -> str:
    """Annex A List 3's own referral counts against the bundle's, in words (cells already safe)."""
    return (f"**Annex A List 3 against the CIN census:** of {r0['compared']} referrals in List 3 that are "
            "also in the bundle's data, the list's \"Number of Referrals in Last 12 Months\" agrees with "
            f"the bundle's count for {r0['agree']}; it is higher for {r0['list_higher']} and lower for "
            f"{r0['list_lower']} ({r0['not_compared']} not compared: blank in the list, or not in the "
            "data). Disagreements point to referrals recorded twice, or missing, in one of the two systems.")


def show_list3_check(rep: Any, f: Figures) -> None:
    """Annex A List 3's "Number of Referrals in Last 12 Months" against the bundle's count."""
    if f.annex is None:
        return
    recon = br.reconcile_list3_counts(f.flags, f.annex.referrals)
    recon_safe = disclosure.suppress(
        recon, count_cols=list(recon.columns), threshold=f.threshold,
        row_totals={"list3_rows": ["compared", "not_compared"],
                    "compared": ["agree", "list_higher", "list_lower"]})
    rep.table("annex_a_referral_counts", recon_safe)
    _markdown(list3_text(disclosure.for_display(recon_safe).iloc[0]))


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def _markdown(text: str) -> None:
    from IPython.display import Markdown

    _display(Markdown(text))
