"""Where looked-after children are placed: counts at a date and over time, entries and exits,
placement stability and home-to-placement distance.

Inputs are the SSDA903 tidy tables of ``docs/data_model.md`` section 2 (``episodes``,
``header``, ``uasc``); no function reads a file. Definitions follow the DfE statistical release
"Children looked after in England including adoptions" (methodology and table notes):

* **Looked after at a date**: an episode started on or before the date and not ceased before
  or on it (``decom <= date < dec``; an episode ceasing on 31 March is not open on 31 March).
  Children looked after under an agreed series of short-term breaks (legal status V3, V4) are
  excluded, as in all DfE 31 March figures.
* **Placement category**: the PLACE code grouped by the versioned mapping in
  :mod:`helpers.codes` (H5/P2 valid to 2023-24; K3 from 2024-25). A code not valid in the
  episode's collection year is still grouped (by its label) but flagged; a code not known at all
  is grouped as "Other" and flagged. :func:`placement_code_issues` lists both.
* **In-house**: provider in ``in_house`` (default :data:`helpers.codes.IN_HOUSE_PROVIDERS_DEFAULT`,
  PR1 own LA provision). A parameter because some councils count PR2/PR3.
* **Stability (a)**: children looked after at 31 March with 3 or more placements during the
  year (1 April - 31 March). A new placement is an episode whose RNE is S, P, T, U or B (a
  change of legal status only, L, continues the placement); the placement open on 1 April counts.
* **Stability (b), long-term**: children aged under 16 at 31 March, looked after continuously
  for at least 2.5 years, living in the same placement (same carer) for at least 2 years. The
  same carer continues across RNE L, U and B (U and B: placement changed but carer stayed the
  same, e.g. foster carers becoming adopters).
* **Entries / exits**: a period of care starts with an episode not preceded by one ending the
  same day for the same child; it ends with an episode whose REC ends care
  (:data:`helpers.codes.REC_LEAVES_CARE`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from helpers import codes

#: Legal statuses excluded from DfE looked-after counts (agreed series of short-term breaks).
SHORT_BREAK_LEGAL_STATUSES: frozenset[str] = frozenset({"V3", "V4"})

#: DfE publication groups for legal status: defined once, in helpers.codes.
LEGAL_STATUS_GROUPS = codes.LEGAL_STATUS_GROUPS

#: DfE age groups for children looked after (lower bound inclusive, upper exclusive, years).
AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 1, "Under 1"),
    (1, 5, "1 to 4"),
    (5, 10, "5 to 9"),
    (10, 16, "10 to 15"),
    (16, 99, "16 and over"),
)
AGE_BAND_LABELS: tuple[str, ...] = tuple(b[2] for b in AGE_BANDS)

#: RNE codes that start a new placement (stability measure a).
NEW_PLACEMENT_RNE: tuple[str, ...] = ("S", "P", "T", "U", "B")
#: RNE codes that start a placement with a new carer (long-term stability, measure b).
NEW_CARER_RNE: tuple[str, ...] = ("S", "P", "T")

IN_HOUSE_LABEL = "In-house"


# --------------------------------------------------------------------------
# Code mapping
# --------------------------------------------------------------------------

def placement_code_table(years: Iterable[int]) -> pd.DataFrame:
    """The versioned PLACE mapping for the given collection years.

    Output: one row per (collection_year, place) valid in that year, with ``category``.
    """
    rows = [
        (int(y), code, p.category)
        for y in sorted(set(int(y) for y in years))
        for code, p in codes.placement_codes_for_year(int(y)).items()
    ]
    return pd.DataFrame(rows, columns=["collection_year", "place", "category"])


def categorise_placements(episodes: pd.DataFrame, year_col: str = "collection_year") -> pd.DataFrame:
    """Add ``category`` and ``code_status`` to episodes using the mapping valid in each episode's year.

    ``code_status``: ``"valid"`` (code valid in that collection year), ``"not valid in year"``
    (a known code used outside its years, e.g. H5 in 2025: grouped by its label, flagged),
    ``"unknown"`` (not a DfE code: grouped as "Other"), ``"blank"`` (no PLACE: "Other").
    """
    out = episodes.copy()
    place = out["place"].astype("string").str.strip().str.upper()
    years = pd.to_numeric(out[year_col], errors="coerce")
    table = placement_code_table(years.dropna().unique())
    key = pd.MultiIndex.from_arrays([years.fillna(-1).astype(int), place.fillna("")])
    valid = table.set_index(["collection_year", "place"])["category"]
    cat = pd.Series(valid.reindex(key).to_numpy(), index=out.index, dtype="object")
    any_year = place.map({c: p.category for c, p in codes.PLACEMENT_BY_CODE.items()})
    status = np.where(cat.notna(), "valid",
                      np.where(any_year.notna(), "not valid in year",
                               np.where(place.isna() | (place == ""), "blank", "unknown")))
    out["category"] = cat.fillna(any_year).fillna("Other").astype("string")
    out["code_status"] = status
    return out


def placement_code_issues(categorised: pd.DataFrame, year_col: str = "collection_year") -> pd.DataFrame:
    """Codes the mapping did not recognise for their year: ``place, collection_year, code_status, episodes``."""
    bad = categorised[categorised["code_status"] != "valid"]
    if bad.empty:
        return pd.DataFrame(columns=["place", year_col, "code_status", "episodes"])
    return (bad.groupby(["place", year_col, "code_status"], dropna=False).size()
            .rename("episodes").reset_index())


def provider_group(place_provider: pd.Series, in_house: Sequence[str] = codes.IN_HOUSE_PROVIDERS_DEFAULT) -> pd.Series:
    """Provider label: ``"In-house"`` for codes in ``in_house``, else the DfE label of the code
    (:data:`helpers.codes.PLACEMENT_PROVIDERS`), ``"Not recorded"`` when blank or unknown."""
    p = place_provider.astype("string").str.strip().str.upper()
    lab = p.map(codes.PLACEMENT_PROVIDERS).fillna("Not recorded")
    return lab.where(~p.isin(list(in_house)).fillna(False), IN_HOUSE_LABEL).astype("string")


# --------------------------------------------------------------------------
# Ages
# --------------------------------------------------------------------------

def birth_dates(header: pd.DataFrame) -> pd.Series:
    """Each child's birth date for computing ages (index ``child_id``): the exact date of birth
    where the reader kept it (``date_of_birth``), else the 1st of the birth month. Ages are then
    exact on any date; only what is published (age bands, birth months) is degraded."""
    h = header.drop_duplicates("child_id", keep="last").set_index("child_id")
    births = h["birth_month"]
    if "date_of_birth" in h.columns:
        births = h["date_of_birth"].fillna(births)
    return births


def age_in_years(birth: pd.Series, at: pd.Series | pd.Timestamp) -> pd.Series:
    """Completed years of age at ``at`` (vectorised). ``birth`` is a date (the 903 readers give the
    1st of the birth month, so an age is at most one month early). NaT gives NaN."""
    b = pd.to_datetime(birth)
    a = pd.Series(pd.to_datetime(at), index=b.index) if not isinstance(at, pd.Series) else pd.to_datetime(at)
    years = a.dt.year - b.dt.year
    before_birthday = (a.dt.month < b.dt.month) | ((a.dt.month == b.dt.month) & (a.dt.day < b.dt.day))
    return (years - before_birthday.astype(int)).astype("Float64")


def age_band(age: pd.Series) -> pd.Series:
    """DfE age group of an age in completed years (:data:`AGE_BANDS`); NaN -> ``"Age not known"``."""
    edges = [b[0] for b in AGE_BANDS] + [AGE_BANDS[-1][1]]
    band = pd.cut(age.astype(float), bins=edges, right=False, labels=list(AGE_BAND_LABELS))
    return band.astype("string").fillna("Age not known")


# --------------------------------------------------------------------------
# Periods and spells
# --------------------------------------------------------------------------

def with_spells(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episodes sorted by child and start, with period-of-care and placement spell keys.

    Adds ``period_start`` (start of the continuous period of care), ``new_period`` (bool),
    ``placement_start`` (start of the placement by :data:`NEW_PLACEMENT_RNE`) and
    ``carer_start`` (start of the same-carer spell by :data:`NEW_CARER_RNE`).
    A period continues when the previous episode for the child ceased on this episode's start.
    """
    e = episodes.sort_values(["child_id", "decom"], kind="stable").reset_index(drop=True)
    same_child = e["child_id"].eq(e["child_id"].shift())
    continues = same_child & e["dec"].shift().eq(e["decom"])
    rne = e["rne"].astype("string").str.upper()
    e["new_period"] = ~continues
    for col, starters in (("period_start", None), ("placement_start", NEW_PLACEMENT_RNE), ("carer_start", NEW_CARER_RNE)):
        new = ~continues if starters is None else (~continues | rne.isin(list(starters)).fillna(False))
        spell = new.cumsum()
        e[col] = e.groupby(spell)["decom"].transform("min")
    return e


def open_at(episodes: pd.DataFrame, at: pd.Timestamp) -> pd.Series:
    """Boolean mask: episode open at ``at`` (``decom <= at`` and ``dec`` blank or after ``at``)."""
    at = pd.Timestamp(at)
    return (episodes["decom"] <= at) & (episodes["dec"].isna() | (episodes["dec"] > at))


# --------------------------------------------------------------------------
# Children looked after at a date and over time
# --------------------------------------------------------------------------

def cla_at_date(
    episodes: pd.DataFrame,
    header: pd.DataFrame,
    uasc: pd.DataFrame,
    at: pd.Timestamp | str,
    in_house: Sequence[str] = codes.IN_HOUSE_PROVIDERS_DEFAULT,
) -> pd.DataFrame:
    """One row per child looked after at ``at`` (DfE rule, short breaks excluded).

    Output columns: ``child_id, decom, period_start, placement_start, carer_start, place,
    category, code_status, place_provider, provider, in_house, ls, legal_status, age, age_band,
    uasc, home_post, pl_post, urn``. Where a child has overlapping open episodes (a data error),
    the latest-starting one is used.
    """
    at = pd.Timestamp(at)
    e = with_spells(episodes)
    e = e[open_at(e, at) & ~e["ls"].isin(list(SHORT_BREAK_LEGAL_STATUSES))]
    e = e.sort_values(["child_id", "decom"]).drop_duplicates("child_id", keep="last")
    if "category" not in e.columns:
        e = categorise_placements(e)
    births = birth_dates(header)
    out = e.reset_index(drop=True)
    out["provider"] = provider_group(out["place_provider"], in_house)
    out["in_house"] = out["provider"].eq(IN_HOUSE_LABEL)
    out["legal_status"] = out["ls"].map(LEGAL_STATUS_GROUPS).fillna("Not known")
    out["age"] = age_in_years(out["child_id"].map(births), at)
    out["age_band"] = age_band(out["age"])
    u = uasc[uasc["duc"].isna() | (uasc["duc"] > at)]["child_id"]
    out["uasc"] = out["child_id"].isin(set(u))
    keep = ["child_id", "decom", "period_start", "placement_start", "carer_start", "place", "category",
            "code_status", "place_provider", "provider", "in_house", "ls", "legal_status", "age", "age_band",
            "uasc", "home_post", "pl_post", "urn"]
    return out[[c for c in keep if c in out.columns]]


def cla_over_time(
    episodes: pd.DataFrame,
    header: pd.DataFrame,
    uasc: pd.DataFrame,
    dates: Iterable[pd.Timestamp],
    by: str = "category",
    in_house: Sequence[str] = codes.IN_HOUSE_PROVIDERS_DEFAULT,
) -> pd.DataFrame:
    """Children looked after at each date, split by ``by`` (a column of :func:`cla_at_date`).

    Output (long): ``date, <by>, children``. Episodes are categorised once; each date is one
    vectorised mask over all episodes.
    """
    cat = categorise_placements(episodes) if "category" not in episodes.columns else episodes
    frames = []
    for d in dates:
        snap = cla_at_date(cat, header, uasc, d, in_house)
        frames.append(snap.groupby(by, observed=True).size().rename("children").reset_index().assign(date=pd.Timestamp(d)))
    if not frames:
        return pd.DataFrame(columns=["date", by, "children"])
    return pd.concat(frames, ignore_index=True)[["date", by, "children"]]


def month_ends(start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DatetimeIndex:
    """Last day of each month from ``start`` to ``end`` inclusive."""
    return pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="ME")


def entries_exits_by_month(episodes: pd.DataFrame, start: pd.Timestamp | str, end: pd.Timestamp | str) -> pd.DataFrame:
    """Starts and ends of periods of care per calendar month (short breaks excluded).

    Output: ``month`` (first of month), ``entries``, ``exits``, ``net``. See module docstring for
    the definitions; a period that ends with a REC that does not leave care (X1) is not an exit.
    """
    e = with_spells(episodes[~episodes["ls"].isin(list(SHORT_BREAK_LEGAL_STATUSES))])
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    months = pd.period_range(start, end, freq="M")
    starts = e.loc[e["new_period"] & e["decom"].between(start, end), "decom"].dt.to_period("M")
    leaves = e["rec"].isin(list(codes.REC_LEAVES_CARE)) & e["dec"].between(start, end)
    ends = e.loc[leaves, "dec"].dt.to_period("M")
    out = pd.DataFrame({
        "entries": starts.value_counts().reindex(months, fill_value=0),
        "exits": ends.value_counts().reindex(months, fill_value=0),
    })
    out["net"] = out["entries"] - out["exits"]
    out.index = out.index.to_timestamp()
    return out.rename_axis("month").reset_index()


# --------------------------------------------------------------------------
# Stability
# --------------------------------------------------------------------------

def placements_in_year(episodes: pd.DataFrame, year_end: pd.Timestamp | str) -> pd.DataFrame:
    """DfE stability measure (a): placements during the year for children looked after at its end.

    Input: episodes; ``year_end`` (31 March). The year is the 365/366 days ending on ``year_end``.
    Output: one row per child looked after at ``year_end`` (short breaks excluded) with
    ``n_placements`` (placements open at any time in the year, counted by
    :data:`NEW_PLACEMENT_RNE`) and ``three_or_more`` (bool).
    """
    year_end = pd.Timestamp(year_end)
    year_start = year_end - pd.DateOffset(years=1) + pd.Timedelta(days=1)
    e = with_spells(episodes)
    at_end = e[open_at(e, year_end) & ~e["ls"].isin(list(SHORT_BREAK_LEGAL_STATUSES))]["child_id"].unique()
    in_year = (e["decom"] <= year_end) & (e["dec"].isna() | (e["dec"] >= year_start))
    e = e[in_year & e["child_id"].isin(at_end)]
    n = e.groupby("child_id")["placement_start"].nunique().rename("n_placements")
    out = n.reset_index()
    out["three_or_more"] = out["n_placements"] >= 3
    return out


def long_term_stability(
    episodes: pd.DataFrame, header: pd.DataFrame, at: pd.Timestamp | str
) -> pd.DataFrame:
    """DfE stability measure (b) at ``at`` (31 March).

    Cohort: children looked after at ``at`` (short breaks excluded), aged under 16, looked after
    continuously for at least 2.5 years (period of care started on or before ``at`` minus 30
    months). Stable: the same-carer spell started on or before ``at`` minus 2 years.
    Output: one row per cohort child: ``child_id, period_start, carer_start, stable`` (bool).
    """
    at = pd.Timestamp(at)
    no_uasc = pd.DataFrame({"child_id": pd.Series(dtype="string"), "duc": pd.Series(dtype="datetime64[ns]")})
    snap = cla_at_date(episodes, header, no_uasc, at)
    cohort = snap[(snap["age"] < 16).fillna(False) & (snap["period_start"] <= at - pd.DateOffset(months=30))]
    out = cohort[["child_id", "period_start", "carer_start"]].copy().reset_index(drop=True)
    out["stable"] = out["carer_start"] <= at - pd.DateOffset(years=2)
    return out


def stability_summary(episodes: pd.DataFrame, header: pd.DataFrame, year_end: pd.Timestamp | str) -> dict[str, float]:
    """Counts and percentages for both DfE stability measures at ``year_end``.

    Returns ``{"cla": n, "three_or_more": k, "pct_three_or_more": %, "long_term_cohort": m,
    "long_term_stable": s, "pct_long_term_stable": %}`` (percentages 0-100, NaN when the base is 0).
    """
    a = placements_in_year(episodes, year_end)
    b = long_term_stability(episodes, header, year_end)
    pct = lambda k, n: 100.0 * k / n if n else float("nan")  # noqa: E731
    return {
        "cla": int(len(a)),
        "three_or_more": int(a["three_or_more"].sum()),
        "pct_three_or_more": pct(a["three_or_more"].sum(), len(a)),
        "long_term_cohort": int(len(b)),
        "long_term_stable": int(b["stable"].sum()),
        "pct_long_term_stable": pct(b["stable"].sum(), len(b)),
    }


# --------------------------------------------------------------------------
# Location: outside boundary and distance
# --------------------------------------------------------------------------

def location_summary(located: pd.DataFrame) -> dict[str, float]:
    """Shares placed outside the boundary and more than 20 miles away.

    Input: rows from :func:`helpers.reference.postcodes.placement_locations` (e.g. children at a date).
    Output: counts and percentages of all rows (DfE publishes unknowns in the base):
    ``children, outside_boundary, pct_outside_boundary, over_20_miles, pct_over_20_miles,
    distance_unknown, pct_distance_unknown``.
    """
    n = len(located)
    pct = lambda k: 100.0 * k / n if n else float("nan")  # noqa: E731
    out = {"children": n}
    for col, flag in (("outside_boundary", located["outside_boundary"]), ("over_20_miles", located["over_20_miles"]),
                      ("distance_unknown", ~located["distance_known"])):
        k = int(flag.sum())
        out[col] = k
        out[f"pct_{col}"] = pct(k)
    return out


def location_breakdown(located: pd.DataFrame) -> pd.DataFrame:
    """DfE six-way split: inside/outside boundary x 20 miles or less / more / not known.

    Output: ``locality, distance, children`` (all six cells, zeros kept).
    """
    locality = np.where(located["outside_boundary"], "Outside LA boundary", "Inside LA boundary")
    distance = np.where(~located["distance_known"], "Distance not known",
                        np.where(located["over_20_miles"], "More than 20 miles", "20 miles or less"))
    t = pd.crosstab(locality, distance)
    t = t.reindex(index=["Inside LA boundary", "Outside LA boundary"],
                  columns=["20 miles or less", "More than 20 miles", "Distance not known"], fill_value=0)
    return t.rename_axis(index="locality", columns="distance").stack().rename("children").reset_index()
