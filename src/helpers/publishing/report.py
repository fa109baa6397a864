"""What a report notebook writes for publishing: headline figures, tables, data quality, attribution.

A notebook makes one :class:`Report`::

    rep = report.Report(output_dir, threshold=cfg["publish"]["suppression_threshold"])
    rep.summary(title="Re-referrals", period_start=..., period_end=..., data_as_at=..., rereferral_rate=0.22)
    rep.table("rereferrals_by_month", disclosure.suppress(df, count_cols=[...], threshold=...))
    rep.data_quality(ledger)
    rep.attribution("ons", "mhclg_iod2019")

With ``output_dir`` empty (an analyst working interactively) nothing is written, but every
check still runs, so a table that would be refused at publishing is refused at once.

Files written under ``output_dir`` (the publish step collects them):

- ``summary.json``: ``title``, ``period_start``, ``period_end``, ``data_as_at`` (ISO dates) and the
  headline figures;
- ``tables/NAME.csv``: disclosure-controlled tables, suppressed cells written as ``c``;
- ``tables/data_quality_sources.csv`` and ``tables/data_quality_rules.csv``: the appendix;
- ``attribution.json``: the open-data statements the page footer reproduces.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.publishing import disclosure, formatting, safe_output

REQUIRED_SUMMARY_KEYS = ("title", "period_start", "period_end", "data_as_at")
DATE_KEYS = ("period_start", "period_end", "data_as_at")
TABLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")

# Statements the publishers ask for (docs/definitions.md, "Sources and attribution"; helpers.reference.SOURCES).
ATTRIBUTIONS: dict[str, str] = {
    "mhclg_iod2025": (
        "Contains public sector information licensed under the Open Government Licence v3.0. "
        "Source: Ministry of Housing, Communities and Local Government, English Indices of Deprivation 2025."
    ),
    "ons_boundaries_2021": (
        "Source: Office for National Statistics licensed under the Open Government Licence v.3.0. "
        "Contains OS data \u00a9 Crown copyright and database right 2025 (LSOA 2021 and ward boundaries)."
    ),
    "dfe_snapshot": (
        "Contains public sector information licensed under the Open Government Licence v3.0. Source: Department for "
        "Education, Children in need (reporting year 2025, table C1) and Children looked after in England including "
        "adoptions (reporting year 2025); national snapshot bundled with this project (helpers.reference), "
        "trimmed to the benchmark figures, values unchanged."
    ),
    "mhclg_iod2019": (
        "Contains public sector information licensed under the Open Government Licence v3.0. "
        "Source: Ministry of Housing, Communities and Local Government, English Indices of Deprivation 2019."
    ),
    "ons": "Source: Office for National Statistics licensed under the Open Government Licence v.3.0",
    "ons_boundaries": (
        "Source: Office for National Statistics licensed under the Open Government Licence v.3.0. "
        "Contains OS data \u00a9 Crown copyright and database right 2023 (wards, December 2022), "
        "2021 (LSOA 2011 boundaries) and 2024 (local authority districts, May 2024)."
    ),
    "dfe": (
        "Contains public sector information licensed under the Open Government Licence v3.0. "
        "Source: Department for Education, Children in need and Children looked after in England "
        "including adoptions (Explore Education Statistics)."
    ),
    "mysociety_imd": (
        "IMD 2019 scores via mySociety Composite UK IMD (CC BY 4.0), original data MHCLG (OGL v3.0)."
    ),
}
OGL_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"


def dataframe_html(df: pd.DataFrame) -> str:
    """HTML for a data frame in a report, as members read it (:func:`helpers.publishing.formatting.table_html`):
    plain headers, formatted numbers, no NaN/True/False, inside a focusable scrolling region.
    Unnamed row numbers (0, 1, 2..., also after sorting) mean nothing to a reader, so they are
    left out; a meaningful index (names, dates, a MultiIndex) is kept as the first column(s)."""
    return formatting.table_html(df)


def styler_html(styler: Any) -> str:
    """A pandas ``Styler`` shown in a report: its data, with the same plain formatting."""
    data = styler.data
    hidden_index = bool(getattr(styler, "hide_index_", [False])[0]) if isinstance(getattr(styler, "hide_index_", None), list) \
        else bool(getattr(styler, "hide_index_", False))
    if hidden_index:
        data = data.reset_index(drop=True)
    return formatting.table_html(data, caption=getattr(styler, "caption", None))


def _register_dataframe_html() -> None:
    """Make notebooks that import this module show data frames with :func:`dataframe_html`."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
        return
    shell = get_ipython()
    if shell is not None:
        formatter = shell.display_formatter.formatters["text/html"]
        formatter.for_type(pd.DataFrame, dataframe_html)
        # by name: pandas' style module (and the matplotlib it loads, about 0.3 s) is imported only
        # by a notebook that makes a Styler; the reports' own pages show data frames
        formatter.for_type_by_name("pandas.io.formats.style", "Styler", styler_html)


_register_dataframe_html()
#: a kernel forked from the publishing run's kernel server imported this module before its shell
#: existed: it registers the formatter then (helpers.publishing.kernels)
_on_kernel_start = _register_dataframe_html


#: Said in the appendix when overlapping returns were de-duplicated, so that a reader does not
#: take the expected exclusions for lost data.
_SUPERSEDED_NOTE = (
    "<p>Most records left out are expected: a case open on 31 March appears in two years' "
    "returns, and only the later (more complete) copy is used (rule \"duplicate: superseded by "
    "later collection year\"). Every other rule below is a data-quality problem in the source "
    "files.</p>"
)


def _markdown_html(text: str) -> str:
    """Markdown to HTML for the headline (nbconvert's mistune; plain paragraphs if unavailable)."""
    try:
        import mistune

        # escape=True: raw HTML in the text (e.g. a hostile ward name) shows as text, never as markup.
        return mistune.create_markdown(escape=True)(text)
    except ImportError:  # pragma: no cover - mistune ships with nbconvert
        return "".join(f"<p>{html.escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


class SummaryError(ValueError):
    """summary.json values that cannot be published (wrong date format, missing required keys)."""


def _json_value(key: str, value: Any) -> Any:
    """Plain JSON for one headline figure: dates become ISO strings, numpy scalars become numbers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(key, v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(f"{key}.{k}", v) for k, v in value.items()}
    raise SummaryError(f"summary value {key!r} has type {type(value).__name__}: give a number, text, date, list or dict")


def _display(obj: Any) -> None:
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        return
    display(obj)


class Report:
    """Collects one report's published outputs in ``output_dir`` (empty: interactive, write nothing)."""

    def __init__(self, output_dir: str | Path | None = "", threshold: int = disclosure.DEFAULT_THRESHOLD):
        if not isinstance(threshold, int) or threshold < 1:
            raise ValueError(f"threshold must be a whole number of at least 1, got {threshold!r}")
        self.output_dir = Path(output_dir) if output_dir not in (None, "") else None
        self.threshold = threshold
        self._summary: dict[str, Any] = {}
        self._attribution: list[str] = []
        if self.output_dir is not None:
            (self.output_dir / "tables").mkdir(parents=True, exist_ok=True)

    @property
    def interactive(self) -> bool:
        """True when nothing is written (an analyst running the notebook by hand)."""
        return self.output_dir is None

    # -- headline figures ---------------------------------------------------------------
    def summary(self, **values: Any) -> None:
        """Add headline figures to ``summary.json`` (later calls add to or replace earlier keys).

        ``period_start``, ``period_end`` and ``data_as_at`` must be dates (or ISO date strings).
        Counts quoted here must already be safe: use :func:`helpers.publishing.disclosure.suppress_value`.
        Returns nothing (so a last-line call prints nothing into the page); see :attr:`headline`.
        """
        for key, value in values.items():
            converted = _json_value(key, value)
            if key in DATE_KEYS:
                if not isinstance(converted, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", converted):
                    raise SummaryError(f"summary {key!r} must be a date (ISO yyyy-mm-dd), got {value!r}")
            self._summary[key] = converted
        if self.output_dir is not None:
            path = self.output_dir / "summary.json"
            path.write_text(json.dumps(self._summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    # -- what members read first -------------------------------------------------------
    def headline(self, markdown_text: str) -> None:
        """Show the report's headline: 3-5 plain sentences with the key numbers and their direction.

        The publish step moves it to the top of the page, straight after the title and before
        the contents, metadata and privacy note. Counts quoted must already be safe
        (:func:`helpers.publishing.disclosure.suppress_value`); :func:`helpers.publishing.disclosure.check_text`
        refuses a count from 1 to the threshold next to a word for people or records.
        """
        disclosure.check_text(markdown_text, self.threshold)
        try:
            from IPython.display import HTML
        except ImportError:  # pragma: no cover
            return
        body = _markdown_html(markdown_text)
        _display(HTML(f'<section class="headline" id="headline" aria-label="Headline">{body}</section>'))

    def say(self, markdown_text: str) -> None:
        """Show a paragraph of text with computed numbers, after checking no small count is quoted."""
        disclosure.check_text(markdown_text, self.threshold)
        try:
            from IPython.display import Markdown
        except ImportError:  # pragma: no cover
            return
        _display(Markdown(markdown_text))

    def show_table(self, df: pd.DataFrame, caption: str, *, labels: dict[str, str] | None = None,
                   kinds: dict[str, str] | None = None) -> None:
        """Show a published table as members read it (plain headers, formatted values, a caption)."""
        try:
            from IPython.display import HTML
        except ImportError:  # pragma: no cover
            return
        _display(HTML(formatting.table_html(df, caption=caption, labels=labels, kinds=kinds)))

    # -- tables -------------------------------------------------------------------------
    def table(self, name: str, df: pd.DataFrame, *, count_cols: list[str] | None = None) -> pd.DataFrame:
        """Write a disclosure-controlled table to ``tables/NAME.csv`` and return it as published.

        Refuses (:class:`helpers.publishing.disclosure.DisclosureError`) a table with a count from 1 to the
        threshold in a declared count column. Count columns are declared by passing the table
        through :func:`helpers.publishing.disclosure.suppress` or with ``count_cols`` (``[]`` for a table
        of no counts, e.g. costs). Suppressed cells are written as ``c``.
        """
        if not TABLE_NAME.match(name):
            raise ValueError(f"table name {name!r}: use lower-case letters, digits and underscores")
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"table {name!r}: expected a pandas DataFrame, got {type(df).__name__}")
        disclosure.check_safe(df, self.threshold, count_cols)
        published = disclosure.for_display(df, count_cols)
        if self.output_dir is not None:
            # the one writing path for published CSVs: text cells neutralised against formulas
            safe_output.write_csv(published, self.output_dir / "tables" / f"{name}.csv")
        return published

    # -- appendix -----------------------------------------------------------------------
    def data_quality(self, ledger: Any) -> None:
        """Show the data-quality appendix from a reader ledger and write it as two tables.

        The appendix holds counts only (rows read, used, repaired and excluded per source, and
        rows per rule), never row numbers or values, with the same disclosure control as any table.
        Returns nothing (the appendix is displayed; the tables are written).
        """
        sources = ledger.summary().copy()
        if "source" not in sources.columns:
            sources = sources.rename_axis("source").reset_index()
        sources = sources[["source", "rows_read", "rows_used", "rows_repaired", "rows_excluded"]]
        safe_sources = disclosure.suppress(
            sources,
            count_cols=["rows_read", "rows_used", "rows_repaired", "rows_excluded"],
            threshold=self.threshold,
            row_totals={"rows_read": ["rows_used", "rows_excluded"]},
            # Each source stands alone: the columns are not summed across sources on the page.
            group_cols=["source"],
        )
        wanted = ["source", "action", "rule", "field"]
        issues = ledger.issue_columns(wanted) if hasattr(ledger, "issue_columns") else ledger.issues()[wanted]
        if len(issues):
            rules = (
                issues.assign(field=issues["field"].fillna("(whole row)"))
                .groupby(["source", "action", "rule", "field"], dropna=False)
                .size()
                .rename("rows")
                .reset_index()
            )
        else:
            rules = pd.DataFrame({"source": [], "action": [], "rule": [], "field": [], "rows": []})
        safe_rules = disclosure.suppress(rules, count_cols=["rows"], threshold=self.threshold, group_cols=["source", "action"])
        published_sources = self.table("data_quality_sources", safe_sources)
        published_rules = self.table("data_quality_rules", safe_rules)
        try:
            from IPython.display import HTML
        except ImportError:  # pragma: no cover
            return
        body = (
            '<section class="appendix data-quality" id="data-quality-appendix">'
            "<h2>Appendix: data quality</h2>"
            "<p>How many records each input file held, how many the analysis used, and how many were "
            "repaired or left out, with the rule that applied. Counts from 1 to "
            f"{self.threshold} are shown as <abbr title=\"confidential: suppressed to protect children's privacy\">c</abbr>.</p>"
            + (_SUPERSEDED_NOTE if any(str(r).startswith("duplicate: superseded") for r in rules["rule"]) else "")
            + "<h3>Records by source</h3>"
            + formatting.table_html(published_sources.assign(source=published_sources["source"].map(formatting.plain_source)),
                                    caption="Records by source file")
            + "<h3>Repairs and exclusions by rule</h3>"
            + (formatting.table_html(published_rules.assign(source=published_rules["source"].map(formatting.plain_source)),
                                     caption="Repairs and exclusions by rule") if len(published_rules) else "<p>None: every record was used as supplied.</p>")
            + "</section>"
        )
        _display(HTML(body))

    def attribution(self, *keys: str) -> None:
        """Record the open-data statements this report must reproduce (keys of :data:`ATTRIBUTIONS`).

        The published page prints them in its "Sources and licences" section; interactively
        they are shown at once. Returns nothing (see :attr:`attributions`).
        """
        unknown = [k for k in keys if k not in ATTRIBUTIONS]
        if unknown:
            raise KeyError(f"unknown attribution key(s) {unknown}: choose from {sorted(ATTRIBUTIONS)}")
        for key in keys:
            if key not in self._attribution:
                self._attribution.append(key)
        statements = [ATTRIBUTIONS[k] for k in self._attribution]
        if self.output_dir is not None:
            payload = [{"key": k, "statement": ATTRIBUTIONS[k]} for k in self._attribution]
            (self.output_dir / "attribution.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            try:
                from IPython.display import HTML
            except ImportError:  # pragma: no cover
                return
            _display(HTML("<ul class=\"attribution\">" + "".join(f"<li>{html.escape(s)}</li>" for s in statements) + "</ul>"))

    @property
    def attributions(self) -> list[str]:
        """The open-data statements recorded so far."""
        return [ATTRIBUTIONS[k] for k in self._attribution]
