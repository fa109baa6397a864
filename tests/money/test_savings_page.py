"""The savings summary's sections (helpers.money.page) on a hand-made run: two workstreams over
three financial years, the first a 6-month part year. Every expected value is worked out by hand in
the comments."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers.money import finance, page
from helpers.publishing import charts, report


def hand_made() -> page.Figures:
    # locality: 100,000 / 300,000 / 300,000 modelled against 50,000 / 200,000 / 200,000 budgeted;
    # placements: 50,000 / 150,000 / 200,000 against 100,000 / 200,000 / 200,000
    rows = []
    for ws, net, budget in (("Locality model", [100_000, 300_000, 300_000], [50_000, 200_000, 200_000]),
                            ("Recruit carers", [50_000, 150_000, 200_000], [100_000, 200_000, 200_000])):
        for fy, months, n, b in zip(["2026-27", "2027-28", "2028-29"], [6, 12, 12], net, budget):
            rows.append({"workstream": ws, "financial_year": fy, "months": months, "net_saving": float(n),
                         "budgeted_saving": float(b), "difference": float(n - b)})
    years = pd.DataFrame(rows)
    fys = ["2026-27", "2027-28", "2028-29"]
    cases = pd.DataFrame({"workstream": ["Locality model"], "investment": [0.0], "gross_saving": [700_000.0],
                          "net_saving": [700_000.0], "cashable": [700_000.0], "growth_avoidance": [0.0],
                          "gross_saving_low": [None], "gross_saving_high": [None], "break_even": [None],
                          "roi": [None]})
    return page.Figures(cfg={"placements": {"inflation": 0.03}, "locality": {"growth_rate": 0.01}},
                        threshold=5, fin=None, years=years, cases=cases.astype(object),
                        placement_summary={"period_start": "2025-11-01", "period_end": "2026-10-31",
                                           "data_as_at": "2026-10-31"},
                        fys=fys, table=finance.savings_against_budget(years, fys), months_first=6,
                        full_fy=page.headline_year(fys, 6))


@pytest.fixture
def fig():
    return hand_made()


def test_small_pieces(fig):
    assert page.headline_year(["2026-27", "2027-28"], 6) == "2027-28"      # part year: the next
    assert page.headline_year(["2026-27", "2027-28"], 12) == "2026-27"
    assert page.headline_year(["2026-27"], 6) == "2026-27"                 # nothing else to show
    cfg = {"placements": {"scenarios": [{"name": "Recruit carers"}, {"name": "=Edge"}]}}
    assert page.workstream_names(cfg) == [finance.LOCALITY_WORKSTREAM, "Recruit carers", "=Edge"]
    # all workstreams: 150,000 / 450,000 / 500,000 modelled = 1,100,000; budgets 150,000 / 400,000 / 400,000
    assert fig.total("Modelled saving", "All years") == 1_100_000
    assert fig.total("Budgeted saving", "2027-28") == 400_000


def test_headline_text_by_hand(fig):
    text = page.headline_text(fig)
    assert text.startswith(f"**{finance.headline(fig.table, '2027-28', 12, markdown=True)}**\n\n")
    assert ("Over the 3 financial years 2026-27 to 2028-29, the plans are modelled to save £1.10m "
            "against £950,000 budgeted (2026-27 counts only the 6 months after the latest data") in text
    assert text.endswith(f"In 2026-27: {finance.headline(fig.table, '2026-27', 6, markdown=True)}")


def test_sections_publish(fig, tmp_path, monkeypatch):
    drawn, other, markdown = [], [], []
    monkeypatch.setattr(charts, "show", lambda chart, description: (charts.to_spec(chart), drawn.append(description)))
    monkeypatch.setattr(page, "_display", other.append)
    monkeypatch.setattr(page, "_markdown", markdown.append)
    rep = report.Report(tmp_path, threshold=5)
    page.show_savings(rep, fig)
    table = pd.read_csv(tmp_path / "tables" / "savings_against_budget.csv")
    assert len(table) == 9            # 2 workstreams + all, each modelled, budgeted, difference
    assert drawn[0].endswith("2026-27: £150,000 modelled against £150,000 budgeted; 2027-28: £450,000 modelled "
                             "against £400,000 budgeted; 2028-29: £500,000 modelled against £400,000 budgeted.")
    page.show_business_cases(rep, fig)
    assert markdown[0].startswith("- ") and (tmp_path / "tables" / "business_cases.csv").is_file()


def test_summary_by_hand(fig, tmp_path):
    rep = report.Report(tmp_path, threshold=5)
    page.write_summary(rep, fig)
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["modelled_savings_by_year"] == {"2026-27": 150_000, "2027-28": 450_000, "2028-29": 500_000}
    assert s["budgeted_savings_by_year"] == {"2026-27": 150_000, "2027-28": 400_000, "2028-29": 400_000}
    assert s["headline_year"] == "2027-28" and s["workstreams"] == ["Locality model", "Recruit carers"]
    assert s["period_end"] == "2026-10-31"


def test_report_figures_and_assumptions_from_a_run(fig, tmp_path, demo_config, monkeypatch):
    """report_figures reads the run's tables back (names restored) and refuses without them."""
    cfg_path = demo_config  # configs/demo.toml pointed at the session's demo data (a fresh clone has no data/)
    build = tmp_path / "2026-10"
    with pytest.raises(RuntimeError, match="needs the tables of locality_sizing, placement_sufficiency"):
        page.report_figures(cfg_path, output_dir=str(build / "savings_summary"))
    from helpers import config
    names = page.workstream_names(config.load_config(cfg_path))
    for report_name, table in page.SOURCES.items():
        (build / report_name / "tables").mkdir(parents=True)
        ws = names[:1] if report_name == "locality_sizing" else names[1:]
        years = pd.DataFrame([{**{c: 0.0 for c in finance.YEAR_COLUMNS}, "workstream": w,
                               "financial_year": fy, "months": m, "net_saving": 1000.0}
                              for w in ws for fy, m in (("2026-27", 5), ("2027-28", 12))])
        years.to_csv(build / report_name / "tables" / table, index=False)
    for report_name, table in page.CASE_SOURCES:
        fig.cases.to_csv(build / report_name / "tables" / table, index=False)
    (build / "placement_sufficiency" / "summary.json").write_text(json.dumps(fig.placement_summary))
    monkeypatch.setattr(finance, "check_budget_names", lambda *a: None)
    f = page.report_figures(cfg_path, output_dir=str(build / "savings_summary"))
    # 2026-27 has 5 months: the headline year is the next
    assert f.months_first == 5 and f.full_fy == "2027-28" and f.fys[0] == "2026-27"
    assert list(dict.fromkeys(f.years["workstream"])) == names
    assert f.placement_summary["data_as_at"] == "2026-10-31"
    text = page.assumptions_text(f)
    assert text.startswith("- ") and len(text.splitlines()) == len(finance.assumptions(
        f.fin, placement_inflation=float(f.cfg["placements"].get("inflation", 0.0)),
        demand_growth=float(f.cfg["locality"].get("growth_rate", 0.0))))
