"""Monthly figures between the annual statutory returns: the latest twelve months, and what the
Ofsted Annex A lists add after the latest CIN census or SSDA903 return.

* :func:`latest_twelve_months`: the reporting window every monthly headline leads with (the 12
  months to the run date, and the same months a year earlier).
* Re-referrals: :func:`statutory_end` (the last day the CIN census data cover),
  :func:`list3_as_referrals` and :func:`extend_referrals` (List 3 referrals after that day, same
  child identifiers, so the rolling rate reaches the run month) and :func:`reconcile_list3_counts`
  (List 3's own "Number of Referrals in Last 12 Months" against the bundle's count).
* Localities: :func:`team_caseloads` (children by "Allocated Team" in Lists 6, 7 and 8, small
  teams suppressed). The Allocated Worker is never read (see :mod:`helpers.readers.annex_a`), so no
  figure per worker can be produced.
* Placements: :func:`list8_snapshot` (looked-after children and placements on the Annex A date,
  when that is newer than the 903).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers.publishing import disclosure
from helpers.rereferrals.measure import collection_year, collection_year_bounds

LIST3_SOURCE = "Annex A List 3"
#: List 3 is taken to start at its earliest referral. When that is more than this many days after
#: the census ends, the days between are taken as not covered (a busy front door records
#: referrals every working week; a gap longer than a week means the list starts too late).
LIST3_GAP_DAYS = 7


# --------------------------------------------------------------------------------------
# The latest twelve months
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """A 12-month reporting window ending on ``end`` (both ends inclusive) and the same months a
    year earlier."""

    start: pd.Timestamp
    end: pd.Timestamp
    prev_start: pd.Timestamp
    prev_end: pd.Timestamp

    @property
    def label(self) -> str:
        return f"the 12 months to {_day_text(self.end)}"

    @property
    def prev_label(self) -> str:
        return f"the 12 months to {_day_text(self.prev_end)}"

    @property
    def short(self) -> str:
        """E.g. "Nov 2025 to Oct 2026" (month-end windows) or "16 Oct 2025 to 15 Oct 2026"."""
        if _is_month_end(self.end):
            return f"{self.start:%b %Y} to {self.end:%b %Y}"
        return f"{self.start.day} {self.start:%b %Y} to {self.end.day} {self.end:%b %Y}"


def _is_month_end(d: pd.Timestamp) -> bool:
    return (d + pd.Timedelta(days=1)).day == 1


def _day_text(d: pd.Timestamp) -> str:
    return f"{d:%B %Y}" if _is_month_end(d) else f"{d.day} {d:%B %Y}"


def latest_twelve_months(as_at) -> Window:
    """The 12 months ending on ``as_at`` (the run month's end, or an extract date mid-month), and
    the same 12 months a year earlier. 31 Oct 2026 -> 1 Nov 2025 to 31 Oct 2026, and 1 Nov 2024
    to 31 Oct 2025; 15 Oct 2026 -> 16 Oct 2025 to 15 Oct 2026. A window ending on 29 February
    starts on 1 March the year before."""
    def start_of(end: pd.Timestamp) -> pd.Timestamp:
        if _is_month_end(end):
            return (end - pd.DateOffset(months=11)).to_period("M").to_timestamp()
        return end - pd.DateOffset(years=1) + pd.Timedelta(days=1)

    end = pd.Timestamp(as_at).normalize()
    start = start_of(end)
    prev_end = start - pd.Timedelta(days=1)
    return Window(start, end, start_of(prev_end), prev_end)


# --------------------------------------------------------------------------------------
# Re-referrals from List 3
# --------------------------------------------------------------------------------------

def statutory_end(referrals: pd.DataFrame, as_at) -> pd.Timestamp:
    """The last day the CIN census referrals cover: the end of the latest collection year in
    them (31 March), or the extract date ``as_at`` when that is earlier (a part-year return)."""
    latest = int(referrals["collection_year"].max())
    return min(collection_year_bounds(latest)[1], pd.Timestamp(as_at).normalize())


def list3_as_referrals(list3: pd.DataFrame, columns) -> pd.DataFrame:
    """List 3 rows as rows of the CIN ``referrals`` table (``columns``): same child identifiers and
    referral dates; NFA from "Referral NFA?"; outcome columns unknown (no closure date, no plans:
    List 3 does not hold them); ``source_file`` names the list. ``referral_id`` is built as the
    CIN reader builds it (child|date), so a referral in both sources has the same id."""
    n = len(list3)
    out = pd.DataFrame(index=range(n))
    for col in columns:
        out[col] = pd.Series([None] * n, dtype=object)
    out["child_id"] = list3["child_id"].to_numpy(dtype=object)
    out["referral_date"] = pd.to_datetime(list3["referral_date"].to_numpy())
    out["referral_id"] = out["child_id"] + "|" + out["referral_date"].dt.strftime("%Y-%m-%d")
    out["closure_date"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    out["referral_nfa"] = list3["referral_nfa"].eq("Yes").to_numpy()
    for col, value in (("n_assessments", 0), ("has_cin_plan", False), ("has_s47", False), ("has_cp_plan", False)):
        if col in out:
            out[col] = value
    if "collection_year" in out:
        out["collection_year"] = collection_year(out["referral_date"]).astype("int64") if n else pd.Series(dtype="int64")
    if "source_file" in out:
        out["source_file"] = LIST3_SOURCE
    return out[list(columns)]


@dataclass(frozen=True)
class Coverage:
    """Where the referral history comes from: CIN census to ``cin_end``; List 3 from
    ``list3_start`` to ``list3_end``; the combined history is complete to ``data_end``."""

    cin_end: pd.Timestamp
    list3_start: pd.Timestamp | None
    list3_end: pd.Timestamp | None
    data_end: pd.Timestamp
    added: int           # List 3 referrals added after cin_end
    gap: bool            # List 3 starts more than a day after cin_end: months between are not covered

    @property
    def extended(self) -> bool:
        return self.added > 0 and not self.gap


def extend_referrals(referrals: pd.DataFrame, list3: pd.DataFrame | None, cin_end, as_at,
                     list3_as_at=None) -> tuple[pd.DataFrame, Coverage]:
    """CIN census referrals to ``cin_end``, then List 3 referrals after it up to the run date.

    ``as_at`` is the run date (nothing after it is used); ``list3_as_at`` the Annex A extract date
    (default: ``as_at``). When List 3's first referral is more than :data:`LIST3_GAP_DAYS` days
    after the day following ``cin_end``, the months in between are taken as not covered, so nothing is added and ``data_end`` stays ``cin_end`` (the report
    says so). Returns the combined referrals (input columns) and the :class:`Coverage`.
    """
    cin_end = pd.Timestamp(cin_end)
    as_at = pd.Timestamp(as_at)
    base = referrals[referrals["referral_date"] <= as_at]
    if list3 is None or list3.empty or cin_end >= as_at:
        return base, Coverage(cin_end, None, None, min(cin_end, as_at) if cin_end < as_at else as_at, 0, False)
    l3_start = list3["referral_date"].min()
    l3_end = min(pd.Timestamp(list3_as_at) if list3_as_at is not None else as_at, as_at)
    gap = l3_start > cin_end + pd.Timedelta(days=1 + LIST3_GAP_DAYS)
    if gap:
        return base, Coverage(cin_end, l3_start, l3_end, cin_end, 0, True)
    new = list3[(list3["referral_date"] > cin_end) & (list3["referral_date"] <= l3_end)]
    extra = list3_as_referrals(new, referrals.columns)
    for col in referrals.columns:   # keep the CIN table's dtypes where the values allow
        if referrals[col].dtype == bool:
            extra[col] = extra[col].fillna(False).astype(bool)
        elif str(referrals[col].dtype).startswith("datetime"):
            extra[col] = pd.to_datetime(extra[col])
    combined = pd.concat([base[base["referral_date"] <= cin_end], extra], ignore_index=True)
    return combined, Coverage(cin_end, l3_start, l3_end, l3_end, int(len(extra)), False)


def reconcile_list3_counts(flags: pd.DataFrame, list3: pd.DataFrame) -> pd.DataFrame:
    """List 3's "Number of Referrals in Last 12 Months" against the bundle's count for the same
    referral (``referrals_in_window`` from :func:`helpers.rereferrals.measure.flag_definition`: the child's
    referrals in the 12 months ending on this one, itself included).

    Returns one row: ``list3_rows, compared, agree, list_higher, list_lower, not_compared``
    (``not_compared``: the list's count is blank, or the referral is not in the bundle's data).
    Disagreements reveal recording problems (a referral recorded twice, or missing).
    """
    n = len(list3)
    if n == 0 or "referrals_in_window" not in flags:
        return pd.DataFrame([{"list3_rows": n, "compared": 0, "agree": 0, "list_higher": 0, "list_lower": 0, "not_compared": n}])
    ours = flags[["child_id", "referral_date", "referrals_in_window"]].drop_duplicates(["child_id", "referral_date"])
    m = list3[["child_id", "referral_date", "referrals_12m"]].merge(ours, on=["child_id", "referral_date"], how="left")
    ok = m["referrals_12m"].notna() & m["referrals_in_window"].notna()
    theirs = m.loc[ok, "referrals_12m"].astype(int).to_numpy()
    mine = m.loc[ok, "referrals_in_window"].astype(int).to_numpy()
    return pd.DataFrame([{"list3_rows": n, "compared": int(ok.sum()), "agree": int((theirs == mine).sum()),
                          "list_higher": int((theirs > mine).sum()), "list_lower": int((theirs < mine).sum()),
                          "not_compared": int((~ok).sum())}])


# --------------------------------------------------------------------------------------
# Localities: today's teams
# --------------------------------------------------------------------------------------

TEAM_UNKNOWN = "No team recorded"


def team_caseloads(cin: pd.DataFrame, cp: pd.DataFrame, cla: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Children allocated to each team on the Annex A date: ``team, children_in_need`` (List 6:
    every open case, including CP and looked-after children), ``child_protection`` (List 7),
    ``looked_after`` (List 8), ``children`` (distinct children across the three lists), sorted by
    ``children``, largest first, with a final ``All teams`` row.

    Disclosure: counts from 1 to ``threshold`` are suppressed, with secondary suppression so that
    no hidden cell can be worked out from the ``All teams`` row (columns sum to it; a small total
    is itself hidden). A team with
    fewer children than the threshold is therefore hidden like any small count. Workers are never
    counted (the lists are read without the Allocated Worker column).
    """
    def by_team(frame: pd.DataFrame) -> pd.Series:
        if frame.empty:
            return pd.Series(dtype="int64")
        team = frame["allocated_team"].fillna(TEAM_UNKNOWN)
        return frame.assign(team=team).drop_duplicates(["team", "child_id"]).groupby("team").size()

    parts = {"children_in_need": by_team(cin), "child_protection": by_team(cp), "looked_after": by_team(cla)}
    every = pd.concat([f[["child_id", "allocated_team"]] for f in (cin, cp, cla) if not f.empty], ignore_index=True) \
        if any(not f.empty for f in (cin, cp, cla)) else pd.DataFrame(columns=["child_id", "allocated_team"])
    parts["children"] = by_team(every)
    table = pd.DataFrame(parts).fillna(0).astype("int64").rename_axis("team").reset_index()
    table = table.sort_values(["children", "team"], ascending=[False, True], kind="stable").reset_index(drop=True)
    counts = ["children_in_need", "child_protection", "looked_after", "children"]
    total = {"team": "All teams", **{c: int(table[c].sum()) for c in counts[:-1]},
             "children": int(every.drop_duplicates("child_id").shape[0]) if len(every) else 0}
    safe = disclosure.suppress(table, count_cols=counts, threshold=threshold)
    total = {k: (disclosure.suppress_value(v, threshold) if k != "team" else v) for k, v in total.items()}
    total_row = pd.DataFrame([total])
    for c in counts:
        total_row[c] = pd.array([None if isinstance(total_row[c].iloc[0], str) or pd.isna(total_row[c].iloc[0])
                                 else int(total_row[c].iloc[0])], dtype="Int64")
    return pd.concat([safe, total_row], ignore_index=True)


# --------------------------------------------------------------------------------------
# Placements: List 8 when it is newer than the 903
# --------------------------------------------------------------------------------------

def list8_snapshot(cla: pd.DataFrame, threshold: int) -> dict[str, pd.DataFrame | int]:
    """Looked-after children on the Annex A date from List 8: ``total`` (children), and tables
    ``by_type`` (Annex A placement type), ``by_provider`` and ``by_location`` (``group, children``,
    suppressed with secondary suppression against the total), plus ``moved_3_plus`` (children
    with 3 or more placements in the last 12 months, the DfE short-term stability measure)."""
    total = int(cla["child_id"].nunique())

    def table(col: str) -> pd.DataFrame:
        t = (cla.assign(group=cla[col].fillna("Not recorded")).drop_duplicates("child_id")
             .groupby("group").size().rename("children").reset_index()
             .sort_values("children", ascending=False, kind="stable").reset_index(drop=True))
        return disclosure.suppress(t, count_cols=["children"], threshold=threshold)

    three = int((cla["placements_12m"].fillna(0).astype(int) >= 3).sum()) if "placements_12m" in cla else 0
    return {"total": total, "by_type": table("placement_type"), "by_provider": table("placement_provider"),
            "by_location": table("placement_location"), "moved_3_plus": three}


def newer_than(annex_as_at, latest_903) -> bool:
    """True when the Annex A extract is later than the latest date the 903 covers."""
    return annex_as_at is not None and latest_903 is not None and pd.Timestamp(annex_as_at) > pd.Timestamp(latest_903)



# --------------------------------------------------------------------------------------
# Headline text
# --------------------------------------------------------------------------------------

def pct(x) -> str:
    """A rate as a percentage with one decimal (``"not available"`` when missing)."""
    return "not available" if x is None or pd.isna(x) else f"{100 * float(x):.1f}%"


def year_label(year: int) -> str:
    """Collection year 2026 -> "2025-26"."""
    return f"{year - 1}-{str(year)[2:]}"


def rereferral_windows(flags: pd.DataFrame, window: Window, data_start) -> pd.DataFrame:
    """Re-referral rates for the latest 12 months and the same months a year earlier: two rows
    (``which`` = "latest", "year earlier") with the columns of
    :func:`helpers.rereferrals.measure.rereferral_rates` (``lookback_complete`` False when the history does
    not reach 12 months before the window)."""
    from helpers.rereferrals.measure import rereferral_rates
    rows = [rereferral_rates(flags, window.start, window.end, data_start=data_start).assign(which="latest"),
            rereferral_rates(flags, window.prev_start, window.prev_end, data_start=data_start).assign(which="year earlier")]
    return pd.concat(rows, ignore_index=True)


def rereferral_headline(rates: pd.DataFrame, window: Window, threshold: int, *,
                        coverage: Coverage | None = None, run_end=None) -> str:
    """The re-referral report's lead paragraph (Markdown): the 12 months to the run month against
    the same months a year earlier, and where the months after the latest census come from.
    The last statutory year and England follow in the headline's next paragraph
    (:func:`helpers.rereferrals.page.headline_text`), so no rate is given twice. Counts are
    suppressed from 1 to ``threshold``."""
    latest = rates.set_index("which").loc["latest"]
    prev = rates.set_index("which").loc["year earlier"]

    def n(v) -> str:
        v = disclosure.suppress_value(int(v), threshold)
        return v if isinstance(v, str) else f"{v:,}"

    prev_text = (f"against {pct(prev['rereferral_rate'])} in the same months a year earlier ({window.prev_label})"
                 if bool(prev["lookback_complete"]) and prev["referrals"] > 0 else
                 "(the same months a year earlier are not shown: the data do not reach back far enough)")
    lines = [f"**In {window.label}, {pct(latest['rereferral_rate'])} of referrals were re-referrals** "
             f"({n(latest['rereferrals'])} of {n(latest['referrals'])}), {prev_text}."]
    if coverage is not None and coverage.extended:
        lines.append(f"Referrals after {coverage.cin_end.day} {coverage.cin_end:%B %Y} "
                     "come from the council's Ofsted Annex A list of referrals (List 3), because the CIN census "
                     "for the current year is not yet available.")
    elif coverage is not None and run_end is not None and coverage.data_end < pd.Timestamp(run_end):
        lines.append(f"The data reach only {_day_text(coverage.data_end)}, so the latest 12 months shown end there"
                     + (" (the Annex A referral list starts too late to join up with the CIN census)." if coverage.gap else "."))
    return "\n\n".join(lines)


# --------------------------------------------------------------------------------------
# Placements: the latest twelve months
# --------------------------------------------------------------------------------------

def cla_twelve_months(episodes: pd.DataFrame, header: pd.DataFrame, uasc: pd.DataFrame, window: Window,
                      statutory_end) -> dict[str, float | int]:
    """Looked-after children for the placement report's lead: ``entries``/``exits`` (periods of
    care starting/ending in the latest 12 months) and ``entries_prev``/``exits_prev`` (the same
    months a year earlier); ``cla_end``/``cla_prev_end`` looked after on the window's last day and
    a year before; ``cla_statutory`` on ``statutory_end`` (31 March of the last statutory year);
    ``pct_three_or_more``/``pct_three_or_more_statutory``: looked-after children with three or
    more placements in the 12 months to the window end / to the statutory year end (DfE measure)."""
    from helpers.placements import where as placements

    flows = placements.entries_exits_by_month(episodes, window.prev_start, window.end)
    now = flows["month"] >= window.start.to_period("M").to_timestamp()
    return {
        "entries": int(flows.loc[now, "entries"].sum()), "exits": int(flows.loc[now, "exits"].sum()),
        "entries_prev": int(flows.loc[~now, "entries"].sum()), "exits_prev": int(flows.loc[~now, "exits"].sum()),
        "cla_end": int(len(placements.cla_at_date(episodes, header, uasc, window.end))),
        "cla_prev_end": int(len(placements.cla_at_date(episodes, header, uasc, window.prev_end))),
        "cla_statutory": int(len(placements.cla_at_date(episodes, header, uasc, statutory_end))),
        "pct_three_or_more": float(placements.stability_summary(episodes, header, window.end)["pct_three_or_more"]),
        "pct_three_or_more_statutory": float(placements.stability_summary(episodes, header, statutory_end)["pct_three_or_more"]),
    }


def placements_headline(fig: dict, window: Window, threshold: int, *, statutory_end, england: dict | None = None) -> str:
    """The placement report's lead paragraph (Markdown): the 12 months to the run month against
    the same months a year earlier, the last statutory year (31 March) and England beside it.
    Counts from 1 to ``threshold`` are not quoted."""
    def n(v) -> str:
        v = disclosure.suppress_value(int(v), threshold)
        return v if isinstance(v, str) else f"{v:,}"

    statutory_end = pd.Timestamp(statutory_end)
    eng = (f" England: {england['pct_three_or_more_placements']:.0f}% in {year_label(int(england['year']))}."
           if england else "")
    return (f"**In {window.label}, {n(fig['entries'])} children started to be looked after and {n(fig['exits'])} left care** "
            f"({n(fig['entries_prev'])} and {n(fig['exits_prev'])} in the same months a year earlier). "
            f"On {window.end.day} {window.end:%B %Y} the council looked after **{n(fig['cla_end'])} children**, against "
            f"{n(fig['cla_prev_end'])} a year earlier and {n(fig['cla_statutory'])} on {statutory_end.day} {statutory_end:%B %Y} "
            f"(the last statutory return). {fig['pct_three_or_more']:.0f}% of them had three or more placements in the 12 months "
            f"({fig['pct_three_or_more_statutory']:.0f}% in the last statutory year).{eng}")


def list8_text(snapshot: dict, annex_as_at, latest_903, threshold: int) -> str:
    """One paragraph on the Annex A List 8 snapshot when it is newer than the 903."""
    def n(v) -> str:
        v = disclosure.suppress_value(int(v), threshold)
        return v if isinstance(v, str) else f"{v:,}"

    a, b = pd.Timestamp(annex_as_at), pd.Timestamp(latest_903)
    return (f"**Latest month, from the council's Ofsted Annex A list of children looked after (List 8).** The looked-after "
            f"return (SSDA903) covers the period to {b.day} {b:%B %Y}; the Annex A list is more recent. On {a.day} {a:%B %Y} the "
            f"council looked after **{n(snapshot['total'])} children**; {n(snapshot['moved_3_plus'])} had three or more placements "
            f"in the last 12 months. The tables below give their placements by type, provider and location.")


# --------------------------------------------------------------------------------------
# Localities: the latest twelve months and today's teams
# --------------------------------------------------------------------------------------

def referrals_twelve_months(referrals: pd.DataFrame, window: Window, statutory_year: int) -> dict[str, int]:
    """Referrals (each one, as DfE counts them) in the latest 12 months, the same months a year
    earlier and the last statutory year (April to March)."""
    d = referrals["referral_date"]
    s, e = collection_year_bounds(statutory_year)
    return {"referrals": int(d.between(window.start, window.end).sum()),
            "referrals_prev": int(d.between(window.prev_start, window.prev_end).sum()),
            "referrals_statutory": int(d.between(s, e).sum())}


def england_referral_change(c1: pd.DataFrame) -> tuple[float, int] | None:
    """England's year-on-year change in referrals in DfE table C1's latest two years: (proportion,
    latest year), or None when C1 lacks them."""
    eng = c1[c1["geographic_level"] == "National"].set_index("time_period")["referral_count"].dropna().sort_index()
    if len(eng) < 2:
        return None
    return float(eng.iloc[-1] / eng.iloc[-2] - 1), int(eng.index[-1])


def locality_headline(fig: dict, window: Window, threshold: int, *, statutory_year: int,
                      england: tuple[float, int] | None = None, coverage: Coverage | None = None) -> str:
    """The locality report's lead paragraph (Markdown): referrals in the 12 months to the run month
    against the same months a year earlier, the last statutory year and England's latest change."""
    def n(v) -> str:
        v = disclosure.suppress_value(int(v), threshold)
        return v if isinstance(v, str) else f"{v:,}"

    change = (fig["referrals"] / fig["referrals_prev"] - 1) if fig["referrals_prev"] else None
    change_text = f" ({change:+.0%})" if change is not None and fig["referrals"] > threshold and fig["referrals_prev"] > threshold else ""
    eng = (f" England's referrals changed by {england[0]:+.1%} between {year_label(england[1] - 1)} and {year_label(england[1])}."
           if england else "")
    src = (f" Referrals after {coverage.cin_end.day} {coverage.cin_end:%B %Y} come from the council's Ofsted Annex A list (List 3)."
           if coverage is not None and coverage.extended else "")
    short = (f" The data reach only {_day_text(coverage.data_end)}." if coverage is not None and coverage.data_end < window.end else "")
    return (f"**In {window.label}, the council received {n(fig['referrals'])} referrals**, against "
            f"{n(fig['referrals_prev'])} in the same months a year earlier{change_text}; in {year_label(statutory_year)}, the last "
            f"statutory year, it received {n(fig['referrals_statutory'])}.{eng}{src}{short}")


def teams_text(teams: pd.DataFrame, localities: pd.DataFrame, as_at, threshold: int) -> str:
    """How today's teams' caseloads (from :func:`team_caseloads`) compare with the proposed
    localities' projected cases (the locality table): plain text, no hidden count revealed."""
    shown = teams[teams["team"] != "All teams"]
    total = teams.loc[teams["team"] == "All teams", "children"].iloc[0]
    hidden = int(shown["children"].isna().sum())
    visible = shown["children"].dropna().astype(int)
    d = pd.Timestamp(as_at)
    parts = [f"On {d.day} {d:%B %Y}, {'fewer than ' + str(threshold + 1) if pd.isna(total) else f'{int(total):,}'} children "
             f"with an open case were allocated to {len(shown)} teams in the council's Ofsted Annex A lists."]
    if len(visible):
        parts.append(f"The teams shown hold between {visible.min():,} and {visible.max():,} children each"
                     + (f" ({hidden} team{'s' if hidden != 1 else ''} with few children not shown)." if hidden else "."))
    cases = localities["projected_cases"].astype(float)
    if len(cases):
        parts.append(f"The {len(cases)} proposed localities would each hold between {cases.min():,.0f} and {cases.max():,.0f} "
                     "projected open cases.")
    parts.append("Workers are not shown, and no figure is given per worker.")
    return " ".join(parts)
