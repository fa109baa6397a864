"""The re-referral notebook runs end to end under papermill on the demo data and publishes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "re_referrals.ipynb"
RATE_KEYS = ("rereferral_rate", "child_rereferral_rate", "rate_dfe", "rate_days_365", "rate_window_6m",
             "rate_window_24m", "rate_from_closure", "rate_excluding_nfa", "rate_duplicates_collapsed",
             "rate_excluding_open")


@pytest.mark.slow
def test_re_referrals_notebook_publishes(demo_config, tmp_path):
    """Benchmarks come from the national snapshot bundled with the project (config "reference:dfe_c1"),
    so this run never touches a folder beside the repository."""
    papermill = pytest.importorskip("papermill")
    out_dir = tmp_path / "published"
    papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "executed.ipynb"),
                               parameters={"config_path": str(demo_config), "output_dir": str(out_dir)},
                               cwd=str(NOTEBOOK.parent), kernel_name="python3")
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    for key in ("title", "period_start", "period_end", "data_as_at", "referrals", "rereferrals",
                "children_referred", "children_rereferred", "england_rereferral_rate", *RATE_KEYS):
        assert key in summary, key
    for key in RATE_KEYS:
        assert 0 < summary[key] < 1, key
    # demo data as at 31 Oct 2026: latest complete year is April 2025 - March 2026
    assert (summary["period_start"], summary["period_end"]) == ("2025-04-01", "2026-03-31")
    assert summary["rate_dfe"] == summary["rereferral_rate"]
    assert summary["rereferrals"] < summary["referrals"] and summary["children_rereferred"] <= summary["children_referred"]
    # a 6-month window can only find fewer re-referrals than 12 months, and 24 months more
    assert summary["rate_window_6m"] <= summary["rate_dfe"] <= summary["rate_window_24m"]
    # the demo's front-door artefact adds near-duplicates: collapsing them lowers the rate
    assert summary["rate_duplicates_collapsed"] < summary["rate_dfe"]
    assert summary["england_rereferral_rate"] == pytest.approx(0.226)  # C1 2024-25, the latest published
    bench = pd.read_csv(out_dir / "tables" / "benchmarks.csv")
    latest = set(bench.loc[bench["time_period"] == 2025, "comparator"])
    assert {"England", "East Midlands", "Statistical neighbours (median of 10)"} <= latest
    attribution = json.loads((out_dir / "attribution.json").read_text(encoding="utf-8"))
    assert "dfe_snapshot" in [a["key"] for a in attribution]
    page = (tmp_path / "executed.ipynb").read_text(encoding="utf-8")
    assert "Statistical neighbours (from the council config): Derby, Leicester" in page
    assert "not the DfE statistical neighbour list of any council" in page
    sens = pd.read_csv(out_dir / "tables" / "definition_sensitivity.csv")
    assert len(sens) == 8 and sens["definition"].iloc[0] == "dfe"
    for name in ("ward_funnel", "by_previous_outcome", "time_to_rereferral", "monthly_recording_view"):
        table = pd.read_csv(out_dir / "tables" / f"{name}.csv")
        assert not {"child_id", "referral_id"} & set(table.columns), name


@pytest.mark.slow
def test_re_referrals_notebook_without_benchmarks(demo_config, tmp_path):
    papermill = pytest.importorskip("papermill")
    out_dir = tmp_path / "published"
    executed = tmp_path / "executed.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(executed),
                               parameters={"config_path": str(demo_config), "output_dir": str(out_dir),
                                           "dfe_c1": str(tmp_path / "missing.csv")},
                               cwd=str(NOTEBOOK.parent), kernel_name="python3")
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["england_rereferral_rate"] is None
    assert "Benchmarks were not available" in executed.read_text(encoding="utf-8")
