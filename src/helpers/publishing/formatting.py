"""Plain formatting for members' pages: column headers, numbers, money, rates, yes/no, glossary.

Every table a report shows goes through :func:`format_table` (``helpers.publishing.report`` registers it
as the notebook's data-frame display, so ``display(df)`` in a report notebook shows the plain
version). The published CSV files keep the machine-readable names and values; the page shows:

- column headers in plain English (:data:`LABELS`, else the name with underscores as spaces and
  the first letter capitalised, known abbreviations spelled out);
- counts with thousands separators (``1,234``); money as pounds with sensible rounding
  (``£2.99m``, ``£104,000``); rates and shares stored as fractions as percentages (``24.0%``);
- ``yes``/``no`` for true/false, and a blank cell for a missing value (never ``NaN``, ``<NA>``,
  ``None``, ``True`` or ``False``); the disclosure marker ``c`` is kept as it is.

:func:`table_html` wraps the table in a keyboard-focusable, labelled scrolling region so a wide
table scrolls inside the page on a phone, not the page itself.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

MARKER = "c"

#: Plain-English headers for the column names the reports use.
LABELS: dict[str, str] = {
    # re-referrals
    "referrals": "Referrals", "rereferrals": "Re-referrals", "rate": "Re-referral rate",
    "rereferral_rate": "Re-referral rate", "ci_low": "Lower 95% limit", "ci_high": "Upper 95% limit",
    "children_referred": "Children referred", "children_rereferred": "Children re-referred",
    "share_of_referrals": "Share of referrals", "group": "Group", "label": "Definition",
    "definition": "Definition", "change_vs_reference": "Change from DfE definition",
    "month": "Month", "collection_year": "Year ending 31 March", "ward_code": "Ward code", "ward_name": "Ward",
    "funnel_position": "Compared with the council rate", "near_duplicates": "Near-duplicate referrals",
    "referrals_collapsed": "Referrals (near-duplicates removed)", "rereferrals_collapsed": "Re-referrals (near-duplicates removed)",
    "rate_collapsed": "Rate (near-duplicates removed)", "episodes": "Closed cases", "rereferred": "Referred again",
    "cumulative_rereferred": "Share referred again", "km_median_days": "Median days to re-referral",
    "rereferred_within": "Share back within a year", "deprivation": "Home area", "time_period": "Year ending 31 March",
    "comparator": "Area", "gap_band": "Time since previous referral", "share": "Share",
    # placements
    "category": "Placement type", "provider_type": "Provider", "children": "Children",
    "date": "Date", "entries": "Periods of care that began", "exits": "Periods of care that ended",
    "actual": "Actual", "forecast": "Forecast", "lower": "Lower end of range", "upper": "Upper end of range",
    "error": "Error", "abs_pct_error": "Error (%)", "within_band": "Within the range?",
    "measure": "Measure", "this_council": "This council", "council_children": "Children (this council)",
    "council_percent": "This council (%)", "england_percent": "England (%)", "year": "Year",
    "need_fostering": "Foster placements needed", "inhouse_foster_places": "In-house foster places",
    "external_fostering": "Foster placements bought externally", "need_residential": "Children's home places needed",
    "inhouse_home_places": "In-house children's home places", "external_residential": "Children's home places bought externally",
    "foster_households": "Approved foster households", "scenario": "Scenario", "lever": "What changes",
    "saving_total": "Modelled saving (whole horizon)", "budgeted_total": "Budgeted saving (whole horizon)",
    "difference": "Modelled minus budgeted", "meets_budget": "Meets the budgeted saving?",
    "running_cost_total": "Running cost (whole horizon)", "cost": "Cost", "weekly_cost": "Weekly cost",
    "annual_cost": "Yearly cost", "location": "Where placed",
    # localities
    "locality": "Locality", "n_wards": "Wards", "children_0_17": "Children aged 0 to 17",
    "idaci_percentile": "Child deprivation (IDACI percentile)", "projected_cases": "Projected open cases",
    "workload_index": "Workload (1.00 = average)", "fte_social_workers": "Social workers (FTE)",
    "fte_family_support_workers": "Family support workers (FTE)", "fte_senior_practitioners": "Senior practitioners (FTE)",
    "fte_team_managers": "Team managers (FTE)", "fte_total": "All staff (FTE)",
    "posts_social_workers": "Social worker posts", "posts_family_support_workers": "Family support worker posts",
    "posts_senior_practitioners": "Senior practitioner posts", "posts_team_managers": "Team manager posts",
    "polsby_popper": "Compactness (1 = circle)", "grouping": "Grouping", "largest_to_smallest": "Busiest to quietest workload",
    "coefficient_of_variation": "Spread of workloads (coefficient of variation)",
    "localities_in_one_piece": "Localities in one piece", "mean_compactness": "Average compactness (1 = circle)",
    "building_block": "Built from", "n_localities": "Number of localities", "ratio_max_min": "Busiest to quietest workload",
    "cv": "Spread of workloads (coefficient of variation)", "all_contiguous": "All in one piece?",
    "observed_total": "Observed open cases", "expected": "Expected by the model", "shrunk": "Steadied figure", "n_years": "Years",
    # data quality appendix
    "source": "Source file", "rows_read": "Records read", "rows_used": "Records used", "rows_repaired": "Records repaired",
    "rows_excluded": "Records left out", "action": "Action", "rule": "Rule", "field": "Field", "rows": "Records",
}

#: Abbreviations spelled out (or tidied) when a header is built from a column name.
WORDS: dict[str, str] = {"fte": "(FTE)", "pct": "%", "cla": "children looked after", "la": "council",
                         "idaci": "IDACI", "imd": "IMD", "dfe": "DfE", "cin": "child in need", "cp": "child protection",
                         "ifa": "IFA", "uasc": "UASC", "km": "", "n": "number of", "ci": "95% limit"}

#: A short glossary linked from every page (also the words :func:`plain_label` leaves as abbreviations).
GLOSSARY: dict[str, str] = {
    "CIN": "Child in need: a child the council has assessed as needing its services to be safe or to develop well (Children Act 1989, section 17).",
    "CIN plan": "A plan of support for a child in need, agreed with the family.",
    "CP": "Child protection: a child protection plan is made when a child is at risk of significant harm.",
    "CLA / LAC": "Children looked after (looked-after children): children in the council's care, for example in foster care or a children's home.",
    "Re-referral": "A referral about a child who was already referred to children's social care in the 12 months before.",
    "NFA": "No further action: a referral that led to no assessment or service from children's social care.",
    "IFA": "Independent fostering agency: a foster carer found through an agency rather than the council's own carers.",
    "In-house": "A placement the council provides itself (its own foster carers or children's homes).",
    "UASC": "Unaccompanied asylum-seeking children: children who arrived in the UK without a parent or carer.",
    "IDACI": "Income Deprivation Affecting Children Index: the share of children in a neighbourhood living in income-deprived families (English Indices of Deprivation).",
    "IMD": "Index of Multiple Deprivation: the official measure of how deprived each neighbourhood in England is.",
    "LSOA": "Lower-layer super output area: a neighbourhood of about 1,500 people used for official statistics.",
    "Ward": "An electoral ward: the area a councillor represents.",
    "FTE": "Full-time equivalent: posts counted as full-time jobs (two half-time posts are one FTE).",
    "SSDA903": "The Department for Education's return about children looked after, sent by every council each year.",
    "CIN census": "The Department for Education's return about children in need, sent by every council each year.",
    "95% confidence interval": "The range the true rate is likely to lie in, given the numbers involved.",
    "c": "Confidential: a count from 1 to the suppression threshold, or a figure from which one could be worked out, hidden to protect children's privacy.",
}

MONEY = re.compile(r"(cost|saving|budget|pounds|spend|difference|price|(^|_)gbp)", re.I)
FRACTION = re.compile(r"(^|[_ ])(rate|share|ci_low|ci_high|cumulative|within|utilisation|proportion)([_ ]|$)|rate$|^rate|rereferred_within|cumulative_rereferred", re.I)
PERCENT_NUMBER = re.compile(r"(^|_)(pct|percent|percentage)(_|$)|\(%\)", re.I)
YEAR_LIKE = re.compile(r"(^|_)(year|collection_year|time_period)$", re.I)


def plain_label(name: Any, labels: Mapping[str, str] | None = None) -> str:
    """A plain-English header for a column name (``fte_social_workers`` -> "Social workers (FTE)")."""
    text = str(name)
    table = {**LABELS, **(labels or {})}
    if text in table:
        return table[text]
    if not re.fullmatch(r"[A-Za-z0-9_]+", text) or "_" not in text and text.lower() == text and text not in WORDS:
        return text[:1].upper() + text[1:] if text.islower() else text
    words = [WORDS.get(w.lower(), w.lower()) for w in text.split("_")]
    phrase = " ".join(w for w in words if w).strip()
    phrase = re.sub(r"\s+", " ", phrase)
    return phrase[:1].upper() + phrase[1:]


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_count(value: Any) -> str:
    """A count with thousands separators (``1,234``); blank when missing; ``c`` kept."""
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    return f"{round(float(value)):,}"


def format_money(value: Any) -> str:
    """Pounds with sensible rounding: ``£2.99m`` from a million up, ``£104,000`` below (whole pounds)."""
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    x = float(value)
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 1e9:
        return f"{sign}£{x / 1e9:.2f}bn"
    if x >= 1e6:
        return f"{sign}£{x / 1e6:.2f}m"
    return f"{sign}£{x:,.0f}"


def format_rate(value: Any, decimals: int = 1) -> str:
    """A fraction as a percentage (``0.2403`` -> ``24.0%``)."""
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    return f"{100 * float(value):.{decimals}f}%"


def format_number(value: Any, decimals: int = 2) -> str:
    """A measured number: whole numbers with separators, otherwise up to ``decimals`` places."""
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    x = float(value)
    if math.isclose(x, round(x), abs_tol=1e-9):
        return f"{round(x):,}"
    return f"{x:,.{decimals}f}".rstrip("0").rstrip(".")


def format_date(value: Any) -> str:
    if is_missing(value):
        return ""
    ts = pd.Timestamp(value)
    return f"{ts.day} {ts:%B %Y}"


def _column_kind(name: str, series: pd.Series) -> str:
    values = series.dropna()
    values = values[~values.astype(str).eq(MARKER)] if series.dtype == object else values
    if pd.api.types.is_bool_dtype(series) or (len(values) and values.map(lambda v: isinstance(v, (bool, np.bool_))).all()):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(series) or (len(values) and values.map(lambda v: isinstance(v, pd.Timestamp)).all()):
        return "month" if len(values) and (pd.to_datetime(values).dt.day == 1).all() else "date"
    numeric = pd.to_numeric(values, errors="coerce")
    if len(values) == 0 or numeric.isna().any():
        return "text"
    if YEAR_LIKE.search(name):
        return "year"
    if MONEY.search(name):
        return "money"
    if PERCENT_NUMBER.search(name):
        return "percent_number"
    if FRACTION.search(name) and (numeric.abs() <= 1.0001).all():
        return "fraction"
    if np.allclose(numeric.astype(float) % 1, 0):
        return "count"
    return "number"


def format_value(value: Any, kind: str) -> str:
    if isinstance(value, str):
        return _plain_text(value)
    if is_missing(value):
        return ""
    if kind == "bool" or isinstance(value, (bool, np.bool_)):
        return "yes" if bool(value) else "no"
    if kind == "money":
        return format_money(value)
    if kind == "fraction":
        return format_rate(value)
    if kind == "percent_number":
        return f"{float(value):.1f}%"
    if kind == "count":
        return format_count(value)
    if kind == "year":
        return str(int(value))
    if kind == "month":
        return f"{pd.Timestamp(value):%B %Y}"
    if kind == "date":
        return format_date(value)
    if kind == "number":
        return format_number(value)
    return _plain_text(str(value))


def _plain_text(text: str) -> str:
    if text in ("True", "False"):
        return "yes" if text == "True" else "no"
    if text in ("nan", "NaN", "<NA>", "None", "NaT"):
        return ""
    if re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", text):   # a machine name such as recruit_foster_households
        return plain_label(text)
    return text


def format_table(df: pd.DataFrame, labels: Mapping[str, str] | None = None, kinds: Mapping[str, str] | None = None,
                 keep_index: bool | None = None) -> pd.DataFrame:
    """A copy of ``df`` as text for a members' page: plain headers and formatted values.

    ``labels`` overrides headers (``{"column": "Header"}``); ``kinds`` overrides how a column is
    formatted (``count``, ``money``, ``fraction``, ``percent_number``, ``number``, ``bool``,
    ``date``, ``month``, ``year``, ``text``). A meaningful index (named, or not plain row
    numbers) becomes the first column(s).
    """
    plain_index = (df.index.nlevels == 1 and df.index.name is None
                   and (isinstance(df.index, pd.RangeIndex) or pd.api.types.is_integer_dtype(df.index.dtype)))
    data = df.copy()
    if keep_index or (keep_index is None and not plain_index):
        data = data.reset_index()
    else:
        data = data.reset_index(drop=True)
    kinds = dict(kinds or {})
    out = pd.DataFrame(index=data.index)
    for col in data.columns:
        series = data[col]
        kind = kinds.get(str(col)) or _column_kind(str(col), series)
        out[plain_label(col, labels)] = [format_value(v, kind) for v in series.tolist()]
    return out


def _region_label(caption: str | None, df: pd.DataFrame) -> str:
    if caption:
        return caption
    return "Table: " + ", ".join(str(c) for c in list(df.columns)[:3])


def table_html(df: pd.DataFrame, caption: str | None = None, labels: Mapping[str, str] | None = None,
               kinds: Mapping[str, str] | None = None, formatted: bool = False) -> str:
    """HTML for one table: plain headers and values inside a focusable, labelled scroll region."""
    shown = df if formatted else format_table(df, labels, kinds)
    numeric_cols = [i for i, c in enumerate(shown.columns)
                    if shown[c].map(lambda v: bool(re.fullmatch(r"[-£]*[\d,.]+(%|m|bn)?|c|", str(v)))).all()]
    head = "".join(f'<th scope="col"{" class=num" if i in numeric_cols else ""}>{html.escape(str(c))}</th>'
                   for i, c in enumerate(shown.columns))
    rows = []
    for record in shown.itertuples(index=False):
        cells = []
        for i, v in enumerate(record):
            text = html.escape(str(v))
            if i == 0:
                cells.append(f"<th>{text}</th>")
            else:
                cells.append(f'<td{" class=num" if i in numeric_cols else ""}>{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    label = html.escape(_region_label(caption, shown))
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'<div class="table-wrap" role="region" tabindex="0" aria-label="{label}">'
            f'<table class="dataframe plain{" many-cols" if len(shown.columns) > 8 else ""}">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def plain_source(name: Any) -> str:
    """A data-quality source as members read it: ``CIN_census_2024.xml:cin_plans`` ->
    ``CIN_census_2024.xml (CIN plans)`` (file names are kept: analysts look for them)."""
    text = str(name)
    if ":" in text:
        file, part = text.split(":", 1)
        part = {"cin_plans": "CIN plans", "cp_plans": "child protection plans", "referrals": "referrals",
                "children": "children", "assessments": "assessments"}.get(part, plain_label(part).lower())
        return f"{file} ({part})"
    return text


def glossary_html(terms: Mapping[str, str] | None = None) -> str:
    """The glossary as a definition list (every page links to it as ``#glossary``)."""
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in (terms or GLOSSARY).items())
    return f'<dl class="glossary-list">{items}</dl>'
