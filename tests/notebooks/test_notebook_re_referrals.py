"""The re-referral notebook runs end to end under papermill on the demo data and publishes."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from support import run_notebook

RATE_KEYS = ("rereferral_rate", "child_rereferral_rate", "rate_dfe", "rate_days_365", "rate_window_6m",
             "rate_window_24m", "rate_from_closure", "rate_excluding_nfa", "rate_duplicates_collapsed",
             "rate_excluding_open")


@pytest.mark.slow
def test_re_referrals_notebook_publishes(demo_config, tmp_path):
    """Benchmarks come from the national snapshot bundled with the project (config "reference:dfe_c1"),
    so this run never touches a folder beside the repository."""
    pytest.importorskip("papermill")
    out_dir = tmp_path / "published"
    summary = run_notebook("re_referrals", demo_config, out_dir, tmp_path / "executed.ipynb")
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
    for name in ("ward_funnel", "back_within_a_year_by_outcome", "gap_between_referrals", "time_to_rereferral", "monthly_recording_view"):
        table = pd.read_csv(out_dir / "tables" / f"{name}.csv")
        assert not {"child_id", "referral_id"} & set(table.columns), name


    # the headline leads with the 12 months to the run month (October 2026)
    assert (summary["latest_12m_start"], summary["latest_12m_end"]) == ("2025-11-01", "2026-10-31")
    assert 0 < summary["latest_12m_rereferral_rate"] < 1 and summary["latest_12m_from_annex_a"] == 0
    page = (tmp_path / "executed.ipynb").read_text(encoding="utf-8")
    assert "In the 12 months to October 2026" in page
    recon = pd.read_csv(out_dir / "tables" / "annex_a_referral_counts.csv")
    assert int(recon["compared"].iloc[0]) > 0 and int(recon["agree"].iloc[0]) < int(recon["compared"].iloc[0])


@pytest.mark.slow
def test_re_referrals_notebook_without_benchmarks_or_current_census(demo_config, demo_dir, tmp_path, tmp_path_factory):
    """Without DfE benchmarks, and with the 2026-27 CIN census removed: the October report still
    shows re-referrals to October 2026, from Annex A List 3, equal to the figures from the full CIN
    data for the same months (worked out here from the full census with the helpers)."""
    import shutil
    from helpers.readers import cin_census, between_returns as br
    from helpers.rereferrals import measure as rr
    pytest.importorskip("papermill")
    part = tmp_path / "cin"
    part.mkdir()
    for f in (demo_dir / "cin").glob("*.xml"):
        if "2027" not in f.name:
            shutil.copy(f, part / f.name)
    cfg_dir = tmp_path / "configs"
    cfg_dir.mkdir()
    text = demo_config.read_text(encoding="utf-8")
    text = text.replace(f'cin_census = "{demo_dir.as_posix()}/cin"', f'cin_census = "{part.as_posix()}"')
    assert part.as_posix() in text
    config = cfg_dir / "demo.toml"
    config.write_text(text, encoding="utf-8")
    out_dir = tmp_path / "published"
    executed = tmp_path / "executed.ipynb"
    summary = run_notebook("re_referrals", config, out_dir, executed, dfe_c1=str(tmp_path / "missing.csv"),
                           month="2026-10")
    assert summary["england_rereferral_rate"] is None
    page = executed.read_text(encoding="utf-8")
    assert "Benchmarks were not available" in page
    assert summary["statutory_data_end"] == "2026-03-31" and summary["latest_12m_from_annex_a"] > 1000
    assert summary["latest_12m_end"] == "2026-10-31" and "In the 12 months to October 2026" in page
    assert "come from the council's Ofsted Annex A list of referrals (List 3)" in page
    # the same figures from the full CIN census
    full = cin_census.read_cin_census(demo_dir / "cin").referrals
    full = full[full["referral_date"] <= pd.Timestamp("2026-10-31")]
    flags = rr.flag_definition(full, rr.DFE)
    w = br.latest_twelve_months("2026-10-31")
    expected = rr.rereferral_rates(flags, w.start, w.end).iloc[0]
    assert summary["latest_12m_referrals"] == expected["referrals"]
    assert summary["latest_12m_rereferrals"] == expected["rereferrals"]
    assert summary["latest_12m_rereferral_rate"] == pytest.approx(expected["rereferral_rate"])
    rolling = pd.read_csv(out_dir / "tables" / "rolling_rate.csv", parse_dates=["month"])
    data_start = rr.collection_year_bounds(int(cin_census.read_cin_census(part).referrals["collection_year"].min()))[0]
    exp_roll = rr.rolling_rate(flags, data_start=data_start, data_end=pd.Timestamp("2026-10-31"))
    exp_roll = exp_roll[exp_roll["complete"]]
    assert rolling["month"].max() == pd.Timestamp("2026-10-01")
    got = rolling.set_index("month")
    for row in exp_roll[exp_roll["month"] >= pd.Timestamp("2026-04-01")].itertuples():
        assert int(got.loc[row.month, "referrals"]) == int(row.referrals_rolling), row.month
        assert int(got.loc[row.month, "rereferrals"]) == int(row.rereferrals_rolling), row.month
