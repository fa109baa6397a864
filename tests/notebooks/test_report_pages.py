"""Every section function the notebooks call, run in order on the demo council (generated data,
seed 1), as the notebooks run them. The text templates, tables and charts are tested on small
hand-made data in tests/*/test_*_page.py; here the readers and section wiring are checked against facts
worked out independently from the same inputs (the as-at date in council.json, row counts)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers.publishing import charts, report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def drawn():
    return []


@pytest.fixture(autouse=True)
def capture_charts(monkeypatch, drawn):
    def show(chart, description):
        charts.to_spec(chart)
        drawn.append(description)

    monkeypatch.setattr(charts, "show", show)


def as_at(demo_dir) -> pd.Timestamp:
    return pd.Timestamp(json.loads((demo_dir / "council.json").read_text())["as_at"])


def test_rereferrals_sections(demo_config, demo_dir, tmp_path, drawn):
    from helpers.rereferrals import measure as rr
    from helpers.rereferrals import page

    f = page.report_figures(demo_config, output_dir=str(tmp_path), month="2026-10")
    assert f.as_at == as_at(demo_dir) == pd.Timestamp("2026-10-31")
    assert f.year == rr.latest_complete_year(f.as_at) == 2026
    start, end = f.period
    in_year = f.referrals["referral_date"].between(start, end)
    assert f.this_year["referrals"] == in_year.sum()       # every referral in the year is counted
    rep = report.Report(tmp_path, threshold=f.threshold)
    n = len(drawn)
    for section in (page.show_headline, page.show_trend, page.show_recording, page.show_definitions,
                    page.show_breakdowns, page.show_deprivation, page.show_ward_funnel,
                    page.show_time_to_rereferral, page.show_benchmarks, page.write_summary,
                    page.show_explorer, page.show_data_quality, page.show_list3_check):
        section(rep, f)
    page.show_what_changed(f)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["rereferral_rate"] == pytest.approx(f.this_year["rereferral_rate"])
    assert summary["latest_12m_end"] == "2026-10-31"
    # trend, recording, definitions, 7 breakdowns, gaps, deprivation, funnel, time, benchmarks
    assert len(drawn) - n == 15
    for name in ("rolling_rate", "definition_sensitivity", "by_source_group", "ward_funnel",
                 "time_to_rereferral", "benchmarks", "annex_a_referral_counts"):
        assert (tmp_path / "tables" / f"{name}.csv").is_file(), name


def test_placement_sections(demo_config, demo_dir, tmp_path, drawn):
    from helpers.placements import page

    f = page.report_figures(demo_config, month="2026-10", horizon_years=5, n_draws=20)
    assert f.period_end == as_at(demo_dir) and f.period_start == pd.Timestamp("2025-11-01")
    assert f.cla_now == len(f.snapshot) and 0 <= f.pct_in_house <= 100
    assert list(f.savings["scenario"]) == [s["name"] for s in f.cfg["placements"]["scenarios"]]
    assert f.fy[5]["lower"] <= f.fy[5]["forecast"] <= f.fy[5]["upper"]
    rep = report.Report(tmp_path, threshold=f.threshold)
    n = len(drawn)
    for section in (page.show_headline, page.write_summary, page.show_placement_mix,
                    page.show_annex_a_list8, page.show_trend_and_flows, page.show_distance_and_stability,
                    page.show_england, page.show_forecast, page.show_sufficiency_gap, page.show_scenarios,
                    page.show_business_cases, page.show_scenario_sliders, page.show_data_quality):
        section(rep, f)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["cla_at_period_end"] == f.cla_now and summary["forecast_3y"] == f.fy[3]["forecast"]
    assert set(summary["scenario_business_cases"]) == set(f.savings["scenario"])
    assert len(drawn) - n == 7        # mix, trend, rate vs England, forecast, gap, scenarios, money
    mix = pd.read_csv(tmp_path / "tables" / "placement_mix.csv")
    assert pd.to_numeric(mix["children"], errors="coerce").sum() <= f.cla_now


def test_locality_sections(demo_config, demo_dir, tmp_path, drawn):
    from helpers.localities import model as locality
    from helpers.localities import page

    f = page.report_figures(demo_config)
    assert f.as_at == as_at(demo_dir) and f.last_year_end == pd.Timestamp("2026-03-31")
    assert len(f.year_ends) == 5 and f.year_ends[0] == pd.Timestamp("2022-03-31")
    assert f.totals["projected_cases"] == pytest.approx(f.table["projected_cases"].sum())
    for role in locality.ROLES:   # whole posts: each role's FTE rounded up once, at council level
        assert 0 <= f.posts[f"posts_{role}"] - f.totals[f"fte_{role}"] < 1
    assert f.n_localities in set(f.sweep["n_localities"])
    rep = report.Report(tmp_path, threshold=f.threshold)
    n = len(drawn)
    page.write_block_map(rep, f)   # written right after sizing: the re-referral report may start on it
    blocks = pd.read_csv(tmp_path / "tables" / "block_to_locality.csv")
    assert len(blocks) == len(f.sizing.block_table()) and blocks["block_code"].is_unique
    assert len(drawn) == n         # a file only: nothing shown on the page
    page.show_headline(rep, f, "2026-10")
    # the first screen: teams, staff, balance (met or not) and assumptions; how the localities were
    # built (blocks, split wards) is told once, in the balance section
    head = page.headline_text("LEAD", f)
    assert f"**{f.n_localities} locality teams would need about" in head
    assert ("The target is met." in head) == f.plan.meets_target
    assert "Localities are built from" not in head and "split along" not in head
    built = page.construction_text(f)
    assert built.startswith(f"**How the proposed {f.n_localities} localities were built.**")
    assert "Localities are built from" in built
    if len(f.plan.split_wards):
        assert "shared between localities" in head and "split along neighbourhood (LSOA) boundaries" in built
    page.show_maps(f)
    page.show_localities(rep, f)
    page.show_todays_teams(rep, f)
    page.show_caseload_targets(f)
    page.show_money(rep, f)
    page.show_balance_sweep(rep, f)
    page.show_deprivation_source(f)
    page.show_demand_model(f)
    page.show_checks(rep, f)
    page.show_assignment(rep, f)
    page.show_explorer(rep, f)
    page.write_summary(rep, f)
    assert len(drawn) - n == 6   # two maps, caseload targets, savings, sweep, observed vs modelled
    localities = pd.read_csv(tmp_path / "tables" / "localities.csv")
    assert len(localities) == f.n_localities
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_localities"] == f.n_localities and summary["posts_total"] == int(f.posts.sum())
    # the analysts' sliders: regrouping into the same number of teams gives the plan's staffing
    line = page.explore_text(f, f.n_localities, f.staffing["sw_caseload"], f.building_block)
    assert line.startswith(f"{f.n_localities} localities (")
    assert f"total FTE {f.totals['fte_total']:.1f}" in line
    pytest.importorskip("ipywidgets")
    said = []
    page.explorer(f, say=said.append)
    assert said and said[0].startswith(f"{f.n_localities} localities (")
