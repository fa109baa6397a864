"""The money end to end: the locality and placement reports' money sections and the savings summary.

One run (module fixture, slow): the locality and placement notebooks and then savings_summary.ipynb
are executed under papermill into one run folder, as the monthly publish lays it out, so the
summary reads the other two reports' tables through ``run:`` paths.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from support import check_adds_up

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def run(demo_config, tmp_path_factory) -> Path:
    papermill = pytest.importorskip("papermill")
    root = tmp_path_factory.mktemp("money_run")
    for name, extra in (("locality_sizing", {}), ("placement_sufficiency", {"n_draws": 50}), ("savings_summary", {})):
        out = root / name
        papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(root / f"{name}.executed.ipynb"), cwd=str(NOTEBOOKS),
                                   parameters={"config_path": str(demo_config), "output_dir": str(out), "month": "2026-10", **extra},
                                   kernel_name="python3", progress_bar=False)
    return root


@pytest.mark.slow
def test_published_savings_table_adds_up(run):
    table = pd.read_csv(run / "savings_summary" / "tables" / "savings_against_budget.csv")
    fys = [c for c in table.columns if c not in ("workstream", "measure", "All years")]
    # at least three financial years, labelled 2026-27 etc., consecutive
    assert len(fys) >= 3 and fys[:3] == ["2026-27", "2027-28", "2028-29"]
    workstreams = [w for w in dict.fromkeys(table["workstream"]) if w != "All workstreams"]
    assert workstreams[0] == "Locality staffing" and len(workstreams) == 5       # locality + the demo's 4 scenarios
    check_adds_up(table, fys)
    # the demo's illustrative locality budget: 2027-28 and 2028-29 in full, 2026-27 pro-rated to Nov-Mar (5 months)
    t = table.set_index(["workstream", "measure"])
    assert t.loc[("Locality staffing", "Budgeted saving"), "2027-28"] == pytest.approx(2_331_000)
    assert t.loc[("Locality staffing", "Budgeted saving"), "2028-29"] == pytest.approx(2_883_000)
    assert t.loc[("Locality staffing", "Budgeted saving"), "2026-27"] == pytest.approx(332_000 * 5 / 12)
    s = json.loads((run / "savings_summary" / "summary.json").read_text(encoding="utf-8"))
    assert s["financial_years"] == fys
    assert s["headline"].startswith("£") and f"budgeted for {s['headline_year']}" in s["headline"]
    assert s["modelled_savings_by_year"] == {fy: round(t.loc[("All workstreams", "Modelled saving"), fy]) for fy in fys}


@pytest.mark.slow
def test_locality_summary_gives_cost_and_savings_by_year_against_budget(run):
    s = json.loads((run / "locality_sizing" / "summary.json").read_text(encoding="utf-8"))
    assert s["establishment_annual_cost"] > 1e6 and s["current_establishment_annual_cost"] > 1e6
    assert "llustrative" in s["current_establishment_source"]
    assert list(s["locality_savings_by_year"]) == ["2026-27", "2027-28", "2028-29"]
    assert s["locality_budgeted_savings_by_year"]["2027-28"] == 2_331_000
    comp = pd.read_csv(run / "locality_sizing" / "tables" / "establishment_cost.csv").set_index("role")
    roles = comp.drop(index="all")
    assert comp.loc["all", "current_annual_cost"] == pytest.approx(roles["current_annual_cost"].sum())
    # the proposed establishment is the sizing's: its posts equal the locality table's posts summed
    loc = pd.read_csv(run / "locality_sizing" / "tables" / "localities.csv")
    assert comp.loc["social_workers", "proposed_posts"] == loc["posts_social_workers"].sum()
    # converting agency posts lowers the proposed cost
    assert comp.loc["all", "proposed_annual_cost_converted"] < comp.loc["all", "proposed_annual_cost_now"]


@pytest.mark.slow
def test_each_scenario_has_break_even_roi_and_split(run):
    cases = pd.read_csv(run / "placement_sufficiency" / "tables" / "scenario_business_case.csv").set_index("workstream")
    years = pd.read_csv(run / "placement_sufficiency" / "tables" / "scenario_savings_by_year.csv")
    assert len(cases) == 4
    for col in ("break_even", "roi", "cashable", "growth_avoidance", "gross_saving_low", "gross_saving_high"):
        assert col in cases.columns
    assert np.allclose(cases["cashable"] + cases["growth_avoidance"], cases["gross_saving"])
    assert (cases["gross_saving_low"] <= cases["gross_saving"] + 1e-6).all() and (cases["gross_saving"] <= cases["gross_saving_high"] + 1e-6).all()
    # the same net saving as the placement report's existing scenario table (baseline - scenario cost incl. its own costs)
    old = pd.read_csv(run / "placement_sufficiency" / "tables" / "scenario_savings.csv").set_index("scenario")
    saving_total = old["budgeted_total"] + old["difference"]          # published rounded to £1,000
    assert np.allclose(cases.loc[old.index, "net_saving"], saving_total, atol=1_000)
    # years add up to the totals; every year label is a financial year
    by = years.groupby("workstream")[["gross_saving", "net_saving"]].sum()
    assert np.allclose(by.loc[cases.index, "net_saving"], cases["net_saving"])
    assert years["financial_year"].str.fullmatch(r"\d{4}-\d{2}").all()
    s = json.loads((run / "placement_sufficiency" / "summary.json").read_text(encoding="utf-8"))
    assert set(s["scenario_business_cases"]) == set(cases.index)


@pytest.mark.slow
def test_money_tables_hold_no_child_counts_and_page_lists_assumptions(run):
    for report in ("savings_summary",):
        for csv in (run / report / "tables").glob("*.csv"):
            cols = pd.read_csv(csv, nrows=0).columns
            assert not any("child" in c for c in cols), csv.name
    import nbformat

    nb = nbformat.read(run / "savings_summary.executed.ipynb", as_version=4)
    text = "".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "Pay rises 3.0% a year" in text and "Today's establishment and agency shares: Illustrative" in text
