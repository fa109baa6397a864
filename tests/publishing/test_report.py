"""Report outputs: summary.json, tables with markers, the data-quality appendix, attribution."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from helpers.publishing import disclosure, report
from helpers.publishing.disclosure import DisclosureError


class FakeLedger:
    """Hand-made ledger with the section-3 interface: two sources, three issues."""

    def summary(self):
        return pd.DataFrame(
            {"source": ["cin.xml", "903.csv"], "rows_read": [100, 50], "rows_used": [97, 50], "rows_repaired": [10, 0], "rows_excluded": [3, 0]}
        )

    def issues(self):
        return pd.DataFrame(
            {
                "source": ["cin.xml"] * 13,
                "row": list(range(13)),
                "rule": ["bad_date"] * 3 + ["code_repaired"] * 10,
                "field": ["CINreferralDate"] * 3 + ["ReferralSource"] * 10,
                "action": ["excluded"] * 3 + ["repaired"] * 10,
                "detail": ["x"] * 13,
            }
        )


def test_summary_writes_json_with_iso_dates(tmp_path):
    rep = report.Report(tmp_path / "r", threshold=5)
    rep.summary(title="Re-referrals", period_start=dt.date(2025, 4, 1), period_end=pd.Timestamp("2026-03-31"), data_as_at="2026-10-31")
    rep.summary(rereferral_rate=0.225)
    saved = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert saved == {"title": "Re-referrals", "period_start": "2025-04-01", "period_end": "2026-03-31", "data_as_at": "2026-10-31", "rereferral_rate": 0.225}


def test_summary_rejects_non_dates():
    with pytest.raises(report.SummaryError, match="period_end"):
        report.Report("", 5).summary(period_end="March 2026")


def test_table_writes_marker_and_refuses_unsuppressed(tmp_path):
    rep = report.Report(tmp_path / "r", threshold=5)
    raw = pd.DataFrame({"ward": ["A", "B", "C"], "n": [2, 40, 50]})
    with pytest.raises(DisclosureError):
        rep.table("by_ward", raw, count_cols=["n"])
    assert not (tmp_path / "r" / "tables" / "by_ward.csv").exists()
    rep.table("by_ward", disclosure.suppress(raw, count_cols=["n"], threshold=5))
    # 2 primary, 40 secondary (next smallest), 50 shown.
    assert (tmp_path / "r" / "tables" / "by_ward.csv").read_text().splitlines() == ["ward,n", "A,c", "B,c", "C,50"]


def test_table_uses_report_threshold(tmp_path):
    rep = report.Report(tmp_path / "r", threshold=10)
    safe_at_5 = disclosure.suppress(pd.DataFrame({"n": [8, 40, 50]}), count_cols=["n"], threshold=5)
    with pytest.raises(DisclosureError):
        rep.table("t", safe_at_5)


def test_interactive_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rep = report.Report("", threshold=5)
    assert rep.interactive
    rep.summary(title="x")
    rep.table("t", pd.DataFrame({"cost": [1.5]}), count_cols=[])
    assert list(tmp_path.iterdir()) == []


def test_data_quality_appendix_suppresses_small_counts(tmp_path):
    rep = report.Report(tmp_path / "r", threshold=5)
    rep.data_quality(FakeLedger())
    sources = pd.read_csv(tmp_path / "r" / "tables" / "data_quality_sources.csv", dtype=str)
    # cin.xml: excluded 3 -> c; row total read = used + excluded so used 97 -> c too; read 100 and repaired 10 shown.
    assert sources.iloc[0].tolist() == ["cin.xml", "100", "c", "10", "c"]
    assert sources.iloc[1].tolist() == ["903.csv", "50", "50", "0", "0"]
    rules = pd.read_csv(tmp_path / "r" / "tables" / "data_quality_rules.csv", dtype=str)
    by_rule = dict(zip(rules["rule"], rules["rows"]))
    # bad_date: 3 rows -> c (alone in its source/action group); code_repaired: 10 rows shown.
    assert by_rule == {"bad_date": "c", "code_repaired": "10"}
    assert "row" not in rules.columns and "detail" not in rules.columns


def test_attribution_writes_statements(tmp_path):
    rep = report.Report(tmp_path / "r", threshold=5)
    rep.attribution("ons", "mhclg_iod2019")
    rep.attribution("ons")
    saved = json.loads((tmp_path / "r" / "attribution.json").read_text())
    assert [s["key"] for s in saved] == ["ons", "mhclg_iod2019"]
    assert "English Indices of Deprivation 2019" in saved[1]["statement"]
    with pytest.raises(KeyError, match="unknown"):
        rep.attribution("wikipedia")


def test_report_tables_drop_a_meaningless_row_index_but_keep_a_real_one():
    from helpers.publishing.report import dataframe_html

    plain = pd.DataFrame({"locality": ["Locality 01", "Locality 02"], "fte": [12.5, 9.0]})
    html_plain = dataframe_html(plain)
    assert "<th>0</th>" not in html_plain and "Locality 01" in html_plain
    assert "<th>1</th>" not in dataframe_html(plain.sort_values("fte"))   # row numbers after a sort
    named = plain.set_index("locality")
    assert "<th>Locality 01</th>" in dataframe_html(named)   # the index is the row label: kept


def test_data_quality_appendix_explains_superseded_copies_only_when_there_are_some(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(report, "_display", lambda obj: shown.append(obj.data))

    class OverlappingYears(FakeLedger):
        def issues(self):
            base = super().issues()
            extra = base.iloc[:1].assign(rule="duplicate: superseded by later collection year", row=99)
            return pd.concat([base, extra], ignore_index=True)

    report.Report(tmp_path / "a", threshold=5).data_quality(FakeLedger())
    report.Report(tmp_path / "b", threshold=5).data_quality(OverlappingYears())
    assert "appears in two years' returns" not in shown[0]
    assert "appears in two years' returns" in shown[1]


def test_headline_markdown_shows_raw_html_as_text():
    from helpers.publishing.report import _markdown_html

    out = _markdown_html("**490 children** <img src=x onerror=alert(1)> [link](javascript:alert(2))")
    assert "<strong>490 children</strong>" in out
    assert "<img" not in out and "&lt;img" in out
    assert 'href="javascript:' not in out
