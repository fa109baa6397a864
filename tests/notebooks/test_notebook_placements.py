"""The placement sufficiency notebook runs end to end on the demo data under papermill and publishes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "placement_sufficiency.ipynb"


@pytest.mark.slow
def test_notebook_publishes_summary(demo_config, tmp_path):
    papermill = pytest.importorskip("papermill")
    # The demo config's DfE tables are "reference:NAME", the national snapshot bundled with the project,
    # so this run never touches a folder beside the repository.
    cfg = demo_config
    out = tmp_path / "out"
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "executed.ipynb"), cwd=str(REPO / "notebooks"),
                               parameters={"config_path": str(cfg), "output_dir": str(out), "n_draws": 50},
                               kernel_name="python3", progress_bar=False)
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for key in ("title", "period_start", "period_end", "data_as_at", "cla_at_period_end", "pct_outside_boundary",
                "pct_over_20_miles", "pct_in_house", "annual_cost", "backtest_error", "scenario_savings",
                *[f"forecast_{y}y{s_}" for y in (1, 3, 5) for s_ in ("", "_lower", "_upper")]):
        assert key in s, key
    assert s["period_end"] == s["data_as_at"] == "2026-10-31"
    # demo council: a few hundred children; shares are percentages; ranges bracket the forecasts
    assert 100 <= s["cla_at_period_end"] <= 2000
    for pct in ("pct_outside_boundary", "pct_over_20_miles", "pct_in_house"):
        assert 0 < s[pct] < 100
    assert s["pct_over_20_miles"] < s["pct_outside_boundary"] + 20
    for y in (1, 3, 5):
        assert s[f"forecast_{y}y_lower"] <= s[f"forecast_{y}y"] <= s[f"forecast_{y}y_upper"]
        assert 0.5 * s["cla_at_period_end"] < s[f"forecast_{y}y"] < 2 * s["cla_at_period_end"]
    assert s["forecast_5y_upper"] - s["forecast_5y_lower"] > s["forecast_1y_upper"] - s["forecast_1y_lower"]
    assert 0 <= s["backtest_error"] < 15          # stated bound for the demo council's one-year back-test
    assert s["annual_cost"] > 1e6
    assert len(s["scenario_savings"]) == 4
    # published tables hold no child identifiers or full postcodes
    for csv in (out / "tables").glob("*.csv"):
        text = csv.read_text(encoding="utf-8")
        assert "child_id" not in text and "pl_post" not in text and "home_post" not in text, csv.name
    assert (out / "tables" / "scenario_savings.csv").is_file() and (out / "tables" / "backtest.csv").is_file()
    assert (out / "attribution.json").is_file()
    assert "dfe_snapshot" in (out / "attribution.json").read_text(encoding="utf-8")
    assert s["england_year"] == 2025 and s["england_pct_over_20_miles"] == 22.0   # DfE 31 March 2025, England
    bench = (out / "tables" / "benchmarks_england.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "region_2025" in bench and "statistical_neighbours_median_2025" in bench
    rates = (out / "tables" / "benchmarks_cla_rate.csv").read_text(encoding="utf-8")
    assert "England" in rates and "East Midlands" in rates and "Statistical neighbours (median of" in rates
    # the lead names the 12 months to the run month, with the last statutory year and England beside it
    page = (tmp_path / "executed.ipynb").read_text(encoding="utf-8")
    assert "In the 12 months to October 2026" in page and "(the last statutory return)" in page and "England:" in page
    assert (s["latest_12m_start"], s["latest_12m_end"], s["statutory_year_end"]) == ("2025-11-01", "2026-10-31", "2026-03-31")
    assert s["latest_12m_cla_end"] == s["cla_at_period_end"]
    # the demo's 903 reaches the Annex A date, so List 8 adds nothing
    assert "annex_a_cla" not in s and "no more recent than the looked-after return" in page


@pytest.mark.slow
def test_notebook_uses_list8_when_newer_than_the_903(demo_config, demo_dir, tmp_path):
    """With the 2026-27 903 folder removed, the latest month's looked-after children come from Annex A List 8."""
    import shutil
    from helpers.readers import annex_a
    papermill = pytest.importorskip("papermill")
    part = tmp_path / "ssda903"
    shutil.copytree(demo_dir / "ssda903", part)
    shutil.rmtree(part / "2027")
    cfg = tmp_path / "configs" / "demo.toml"
    cfg.parent.mkdir()
    text = demo_config.read_text(encoding="utf-8").replace(f'"{demo_dir.as_posix()}/ssda903"', f'"{part.as_posix()}"')
    assert part.as_posix() in text
    cfg.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "executed.ipynb"), cwd=str(REPO / "notebooks"),
                               parameters={"config_path": str(cfg), "output_dir": str(out), "n_draws": 0, "horizon_years": 1},
                               kernel_name="python3", progress_bar=False)
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    expected = annex_a.read_annex_a(demo_dir / "annex_a", lists=(8,)).cla["child_id"].nunique()
    assert s["annex_a_as_at"] == "2026-10-31" and s["annex_a_cla"] == expected > 100
    page = (tmp_path / "executed.ipynb").read_text(encoding="utf-8")
    assert "Latest month, from the council's Ofsted Annex A list of children looked after (List 8)" in page
    for name in ("by_type", "by_provider", "by_location"):
        table = (out / "tables" / f"annex_a_list8_{name}.csv").read_text(encoding="utf-8")
        assert "child_id" not in table and "allocated" not in table.lower()
