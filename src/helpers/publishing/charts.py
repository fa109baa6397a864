"""Charts: the one shared Altair theme, a colour-blind-safe palette, and :func:`show`.

Importing this module registers and enables the ``csc`` theme (Okabe-Ito palette, readable
type sizes) and the ``csc`` renderer, so every chart in every report looks the same.

In a notebook::

    from helpers.publishing import charts
    charts.show(chart, description="Re-referral rate by month, April 2024 to March 2025 ...")

:func:`show` displays the chart as a Vega-Lite spec (JupyterLab draws it without a network),
followed by its text description. The publish step turns each chart into a figure drawn by the
Vega libraries inlined once in the page, with the description beneath it. Charts take only
aggregated, disclosure-controlled tables (see :mod:`helpers.publishing.disclosure`); :func:`show` refuses a
chart whose data has a child-identifier column or loads data from a URL.
"""

from __future__ import annotations

import html
import re
from typing import Any

import altair as alt

THEME_NAME = "csc"

# Okabe & Ito (2008) "Color Universal Design": distinguishable with the common colour-vision
# deficiencies. Yellow comes last because it has poor contrast on white.
PALETTE: list[str] = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#000000",  # black
    "#F0E442",  # yellow
]
SEQUENTIAL_SCHEME = "blues"  # single-hue, reads in greyscale print
DIVERGING_SCHEME = "blueorange"
FONT = "Arial, Helvetica, sans-serif"

VEGALITE_MIMETYPE = "application/vnd.vegalite.v5+json"
"""Mimetype of chart outputs: JupyterLab 4 draws it offline; the publish step looks for it."""

CHART_METADATA_KEY = "csc_chart"

# Column names that mean child-level data has reached a chart (compared case-insensitively,
# ignoring underscores and spaces).
IDENTIFIER_COLUMNS = {"childid", "lachildid", "child", "upn", "dob", "dateofbirth", "persondateofbirth", "personbirthdate", "postcode", "homepost", "plpost", "referralid"}


def theme() -> alt.theme.ThemeConfig:
    """The shared theme: palette, type sizes and a default chart size."""
    return {
        "config": {
            "font": FONT,
            "background": "white",
            "view": {"continuousWidth": 560, "continuousHeight": 300, "stroke": None},
            "range": {"category": PALETTE, "ordinal": {"scheme": SEQUENTIAL_SCHEME}, "ramp": {"scheme": SEQUENTIAL_SCHEME}, "diverging": {"scheme": DIVERGING_SCHEME}},
            "title": {"fontSize": 17, "fontWeight": "bold", "anchor": "start", "color": "#1b1b1b", "offset": 12},
            "axis": {"labelFontSize": 13, "titleFontSize": 14, "labelColor": "#1b1b1b", "titleColor": "#1b1b1b", "gridColor": "#e0e0e0", "domainColor": "#6f6f6f", "tickColor": "#6f6f6f", "labelLimit": 260},
            # Dates on time axes always carry the year ("Apr 2024"), so a member never has to guess it.
            "axisTemporal": {"labelExpr": "timeFormat(datum.value, '%b %Y')", "labelOverlap": True},
            "legend": {"labelFontSize": 13, "titleFontSize": 14, "labelLimit": 260, "symbolSize": 120},
            "header": {"labelFontSize": 13, "titleFontSize": 14},
            "text": {"fontSize": 13},
            "bar": {"color": PALETTE[0]},
            "line": {"color": PALETTE[0], "strokeWidth": 2.5},
            "point": {"color": PALETTE[0], "size": 60, "filled": True},
            "area": {"color": PALETTE[0]},
            "rule": {"color": "#1b1b1b"},
        }
    }


alt.theme.register(THEME_NAME, enable=True)(theme)


def _renderer(spec: dict, **metadata: Any) -> dict:
    return {VEGALITE_MIMETYPE: spec, "text/plain": "<chart: use charts.show(chart, description=...)>"}


alt.renderers.register(THEME_NAME, _renderer)
alt.renderers.enable(THEME_NAME)


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]", "", str(name)).lower()


def _check_data(spec: Any, path: str = "spec") -> None:
    """Refuse URL data and child-identifier columns anywhere in a chart spec."""
    if isinstance(spec, dict):
        data = spec.get("data")
        if isinstance(data, dict) and "url" in data:
            raise ValueError(f"chart loads data from {data['url']!r} ({path}.data): published pages load nothing; pass a data frame")
        datasets = spec.get("datasets") or {}
        for name, records in datasets.items():
            if isinstance(records, list):
                columns = {k for record in records[:50] if isinstance(record, dict) for k in record}
                bad = sorted(c for c in columns if _normalise(c) in IDENTIFIER_COLUMNS)
                if bad:
                    raise ValueError(
                        f"chart data {name!r} has child-level column(s) {bad}: charts take aggregated, "
                        "disclosure-controlled tables only (helpers.publishing.disclosure.suppress)"
                    )
        for key, value in spec.items():
            if key != "datasets":
                _check_data(value, f"{path}.{key}")
    elif isinstance(spec, list):
        for i, value in enumerate(spec):
            _check_data(value, f"{path}[{i}]")


def to_spec(chart: alt.TopLevelMixin) -> dict:
    """The chart as a Vega-Lite spec with the shared theme applied and its data inlined."""
    with alt.theme.enable(THEME_NAME):
        spec = chart.to_dict()
    _check_data(spec)
    return spec


def show(chart: alt.TopLevelMixin, description: str) -> None:
    """Display one chart, themed, with its text description beneath it.

    ``description`` is the accessible alternative: one or two plain-English sentences saying what
    the chart shows and its main message (screen readers and printed copies rely on it).
    """
    if not isinstance(description, str) or len(description.strip()) < 10:
        raise ValueError("charts.show needs a description: a sentence or two saying what the chart shows")
    spec = to_spec(chart)
    from IPython.display import HTML, display

    display(
        {VEGALITE_MIMETYPE: spec, "text/plain": f"Chart: {description.strip()}"},
        raw=True,
        metadata={CHART_METADATA_KEY: {"description": description.strip()}},
    )
    display(HTML(f'<p class="chart-description"><strong>About this chart:</strong> {html.escape(description.strip())}</p>'))
