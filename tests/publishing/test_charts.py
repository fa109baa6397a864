"""Shared chart theme and charts.show."""

from __future__ import annotations

import altair as alt
import pandas as pd
import pytest

from helpers.publishing import charts


def _bar(df):
    return alt.Chart(df).mark_bar().encode(x="ward:N", y="n:Q", color="ward:N")


def test_theme_applies_okabe_ito_palette_and_readable_type():
    spec = charts.to_spec(_bar(pd.DataFrame({"ward": ["A", "B"], "n": [10, 20]})))
    assert spec["config"]["range"]["category"][:3] == ["#0072B2", "#E69F00", "#009E73"]
    assert spec["config"]["axis"]["labelFontSize"] >= 12
    assert len(set(charts.PALETTE)) == 8


def test_show_displays_spec_then_description(monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    charts.show(_bar(pd.DataFrame({"ward": ["A", "B"], "n": [10, 20]})), description="Referrals by ward: ward B has twice ward A.")
    bundle, kwargs = shown[0]
    assert charts.VEGALITE_MIMETYPE in bundle and kwargs["raw"] is True
    assert kwargs["metadata"][charts.CHART_METADATA_KEY]["description"].startswith("Referrals by ward")
    assert "chart-description" in shown[1][0].data and "twice ward A" in shown[1][0].data


def test_show_needs_a_description():
    with pytest.raises(ValueError, match="description"):
        charts.show(_bar(pd.DataFrame({"ward": ["A"], "n": [10]})), description="")


def test_show_refuses_child_level_columns():
    df = pd.DataFrame({"child_id": ["X1", "X2"], "ward": ["A", "B"], "n": [10, 20]})
    with pytest.raises(ValueError, match="child_id"):
        charts.to_spec(_bar(df))


def test_show_refuses_url_data():
    chart = alt.Chart(alt.Data(url="https://example.org/data.csv")).mark_bar().encode(x="ward:N")
    with pytest.raises(ValueError, match="loads data"):
        charts.to_spec(chart)


def test_time_axes_show_the_year():
    """A member reading a time axis sees 'Apr 2024', never a bare 'April' (rendered to SVG to check)."""
    import altair as alt
    import pandas as pd
    import vl_convert as vlc

    from helpers.publishing import charts

    months = pd.DataFrame({"month": pd.date_range("2022-04-01", periods=36, freq="MS"), "n": range(36)})
    spec = charts.to_spec(alt.Chart(months).mark_line().encode(x="month:T", y="n:Q"))
    svg = vlc.vegalite_to_svg(spec)
    assert "Apr 2022" in svg and "Jan 2023" in svg
