"""Plain formatting for members' pages: expected strings written out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.publishing import formatting as fm


def test_money_counts_and_rates():
    assert fm.format_money(2_992_006) == "£2.99m"
    assert fm.format_money(-104_000.0) == "-£104,000"
    assert fm.format_money(7_457_772) == "£7.46m"
    assert fm.format_count(863.0) == "863" and fm.format_count(28_987) == "28,987"
    assert fm.format_rate(0.438261) == "43.8%"
    assert fm.format_number(0.438261) == "0.44"
    assert fm.format_count(np.nan) == "" and fm.format_rate(pd.NA) == ""


def test_plain_headers():
    assert fm.plain_label("fte_family_support_workers") == "Family support workers (FTE)"
    assert fm.plain_label("polsby_popper") == "Compactness (1 = circle)"
    assert fm.plain_label("saving_year_1") == "Saving year 1"
    assert fm.plain_label("meets_budget") == "Meets the budgeted saving?"
    assert fm.plain_label("inhouse_foster_places") == "In-house foster places"


def test_format_table_leaves_no_raw_output():
    df = pd.DataFrame({"scenario": ["A", "B"], "lever": ["recruit_foster_households", "edge_of_care"],
                       "saving_year_1": [-104000.0, 154000.0], "meets_budget": [False, True],
                       "rate": [0.25, np.nan], "children": pd.array([863, pd.NA], dtype="Int64"),
                       "actual": ["c", 40]})
    out = fm.format_table(df)
    assert list(out.columns) == ["Scenario", "What changes", "Saving year 1", "Meets the budgeted saving?",
                                 "Re-referral rate", "Children", "Actual"]
    assert out.iloc[0].tolist() == ["A", "Recruit foster households", "-£104,000", "no", "25.0%", "863", "c"]
    assert out.iloc[1].tolist() == ["B", "Edge of care", "£154,000", "yes", "", "", "40"]
    text = fm.table_html(df, caption="Savings")
    for raw in ("NaN", "<NA>", "True", "False", "nan", "saving_year_1"):
        assert raw not in text
    assert 'role="region" tabindex="0" aria-label="Savings"' in text


def test_glossary_spells_out_abbreviations():
    text = fm.glossary_html()
    for term in ("CIN", "CP", "CLA / LAC", "IFA", "UASC", "IDACI"):
        assert f"<dt>{term}</dt>" in text
