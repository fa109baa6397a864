"""A differencing attack on published reports (helpers.publishing.disclosure_audit): hand-made leaks are
found, and no hidden count can be recovered from any demo report's files."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from helpers.publishing import disclosure_audit as audit


def write_report(folder: Path, tables: dict[str, str], page: str = "", summary: dict | None = None) -> tuple[Path, Path]:
    (folder / "r" / "tables").mkdir(parents=True)
    for name, text in tables.items():
        (folder / "r" / "tables" / f"{name}.csv").write_text(text, encoding="utf-8")
    (folder / "r" / "summary.json").write_text(json.dumps(summary or {}), encoding="utf-8")
    (folder / "r.html").write_text(page, encoding="utf-8")
    return folder / "r", folder / "r.html"


def chart_page(records: list[dict], text: str = "") -> str:
    spec = {"datasets": {"d1": records}, "data": {"name": "d1"}, "mark": "bar"}
    return f'<html><body><p>{text}</p><script type="application/json" class="chart-spec" data-target="chart-1">{json.dumps(spec)}</script></body></html>'


def test_total_row_gives_back_the_one_hidden_cell(tmp_path):
    # The back-test table: Other hidden (2), Total 490 and every other row shown (488).
    d, page = write_report(tmp_path, {"backtest": "group,actual\nFoster,400\nHome,88\nOther,c\nTotal,490\n"})
    found = audit.audit_report(d, page, 5)
    assert any("Total row gives it back (2)" in f for f in found), found


def test_one_hidden_cell_in_a_column_is_found_and_two_are_not(tmp_path):
    d, page = write_report(tmp_path, {"a": "ward,n\nA,10\nB,c\nC,40\n", "b": "ward,n\nA,10\nB,c\nC,c\n"})
    found = audit.audit_report(d, page, 5)
    assert any(f.startswith("a: 'n' has exactly one hidden cell (B)") for f in found), found
    assert not any(f.startswith("b:") for f in found), found


def test_chart_data_against_its_table(tmp_path):
    # The chart shows in-house adoption 11 where the table hides it.
    table = "category,provider_type,children\nAdoption,External,20\nAdoption,In-house,c\nHome,External,c\nHome,In-house,30\n"
    page = chart_page([{"category": "Adoption", "provider_type": "In-house", "children": 11}])
    d, page_path = write_report(tmp_path, {"mix": table}, page)
    found = audit.audit_report(d, page_path, 5)
    assert any("shows 'children' = 11" in f and "hides it" in f for f in found), found


def test_parts_in_one_table_and_their_sum_in_another(tmp_path):
    # Adoption: external hidden, in-house 11 shown, and the category total 14 shown elsewhere -> 3.
    mix = ("category,provider_type,children\nAdoption,External,c\nAdoption,In-house,11\nFoster,External,100\n"
           "Foster,In-house,120\nHome,External,40\nHome,In-house,c\nKinship,In-house,30\n")
    totals = "category,actual\nAdoption,14\nFoster,220\nHome,48\nKinship,30\n"   # Foster and Kinship confirm the sums
    d, page = write_report(tmp_path, {"mix": mix, "totals": totals})
    found = audit.audit_report(d, page, 5)
    assert any("for 'Adoption': one part hidden" in f and "it is 3" in f for f in found), found


def test_full_precision_rate_beside_one_shown_count(tmp_path):
    # rate = re/refs; row B hides refs (3) but shows re=1 and rate 1/3: refs = 1 / 0.3333 = 3.
    t = "group,referrals,rereferrals,rate\nA,40,10,0.25\nB,c,c,\nC,50,20,0.4\nD,c,1,0.3333333333333333\nE,c,c,\n"
    d, page = write_report(tmp_path, {"t": t})
    found = audit.audit_report(d, page, 5)
    assert any("shown to full precision" in f for f in found), found


def test_small_count_in_text_and_summary(tmp_path):
    d, page = write_report(tmp_path, {}, "<p>Placement codes not recognised: 4 episodes.</p><p>In 2024 25.1% of 12 months</p>",
                           summary={"children_three_plus_referrals": 3, "backtest_error": 3})
    found = audit.audit_report(d, page, 5)
    assert "page text quotes a small count: '4 episodes'" in found
    assert any("children_three_plus_referrals" in f for f in found)
    assert not any("backtest_error" in f or "2024" in f for f in found)


@pytest.mark.slow
def test_no_hidden_count_recoverable_from_any_demo_report(demo_published, demo_config):
    threshold = tomllib.loads(demo_config.read_text())["publish"]["suppression_threshold"]
    month = demo_published / "2026-10"
    reports = sorted(p.stem for p in month.glob("*.html"))
    assert len(reports) == len(tomllib.loads(demo_config.read_text())["publish"]["reports"])
    for name in reports:
        findings = audit.audit_report(month / name, month / f"{name}.html", threshold)
        assert findings == [], (name, findings)
        # The attack saw real material: tables with hidden cells, and chart data.
    hidden = sum((month / n / "tables" / f).read_text().count(",c") for n in reports for f in [p.name for p in (month / n / "tables").glob("*.csv")])
    assert hidden > 0


def test_chart_spec_found_whatever_the_attribute_order(tmp_path):
    # The page writer puts class before type; the audit must read the chart either way, and a
    # chart whose data cannot be read is a finding, not a pass.
    table = "category,provider_type,children\nAdoption,External,c\nAdoption,In-house,c\nFoster,External,100\n"
    spec = json.dumps({"datasets": {"d1": [{"category": "Adoption", "provider_type": "In-house", "children": 11}]}})
    page = f'<html><body><script class="chart-spec" data-target="chart-1" type="application/json">{spec}</script></body></html>'
    d, page_path = write_report(tmp_path, {"mix": table}, page)
    assert any("shows 'children' = 11" in f and "hides it" in f for f in audit.audit_report(d, page_path, 5))
    broken = '<html><body><script class="chart-spec" type="application/json">{"datasets": </script></body></html>'
    d2, page2 = write_report(tmp_path / "b", {"mix": table}, broken)
    assert any(f.startswith("chart 1: its data could not be read") for f in audit.audit_report(d2, page2, 5))


def test_chart_records_of_another_dimension_or_estimates_are_not_compared(tmp_path):
    # A trend (one record per month for each category) is not the table's snapshot cell; a
    # forecast's unrounded value beside its rounded table value is not a count; a same-named
    # measure in a column that hides nothing (12 months to the month against the month) is
    # another figure. None of these reveals a hidden count.
    table = "category,children\nFoster,100\nHome,c\nKinship,40\n"
    trend = [{"month": m, "category": "Foster", "children": n} for m, n in (("2026-09", 97), ("2026-10", 100))]
    forecast_table = "date,forecast\n2026-11-30,510\n2026-12-31,509\n"
    forecast = [{"date": "2026-11-30", "forecast": 509.7}, {"date": "2026-12-31", "forecast": 509.4}]
    monthly = "month,referrals\n2026-09-01,380\n2026-10-01,385\n"
    rolling = [{"month": "2026-09-01", "referrals": 4506}, {"month": "2026-10-01", "referrals": 4549}]
    page = chart_page(trend) + chart_page(forecast) + chart_page(rolling)
    d, page_path = write_report(tmp_path, {"mix": table, "forecast_total": forecast_table, "monthly": monthly}, page)
    found = audit.audit_report(d, page_path, 5)
    assert not any("chart" in f and "shows" in f for f in found), found
