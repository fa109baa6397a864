"""Publishing: the identifier guard (unit tests on hand-made text), and whole runs of the fixture notebooks."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pytest

from helpers.publishing import run as publish
from helpers.publishing.run import Identifiers, collect_identifiers, scan_csv, scan_text

FIXTURE_NOTEBOOKS = Path(__file__).parents[1] / "fixtures" / "notebooks"
MONTH = "2026-10"

# Hand-made inputs: identifiers and dates of birth the guard must learn from them.
HEADER_CSV = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\nCH4400123,1,12/03/2015,WBRI,A123456789012,,\n1234,2,17/08/2012,WBRI,,,\nCH5500999,1,01/01/2016,WBRI,UN2,,\n"
CIN_XML = (
    "<Message><Children><Child><ChildIdentifiers><LAchildID>LA998877</LAchildID><UPN>B987654321098</UPN>"
    "<PersonBirthDate>2013-06-14</PersonBirthDate></ChildIdentifiers></Child></Children></Message>\n"
)


def make_project(root: Path, reports: list[str]) -> Path:
    """A council project in ``root``: config, tiny inputs; notebooks from tests/fixtures/notebooks."""
    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "data" / "903").mkdir(parents=True, exist_ok=True)
    (root / "data" / "cin").mkdir(parents=True, exist_ok=True)
    (root / "data" / "903" / "header.csv").write_text(HEADER_CSV, encoding="utf-8")
    (root / "data" / "cin" / "cin.xml").write_text(CIN_XML, encoding="utf-8")
    config = root / "configs" / "test.toml"
    config.write_text(
        "[council]\nla_code = \"E06999001\"\nla_name = \"Fixture Borough Council\"\n"
        "[data]\nssda903 = \"data/903\"\ncin_census = \"data/cin\"\n"
        f"[publish]\nsuppression_threshold = 5\nreports = {json.dumps(reports)}\n"
        f"notebooks = {json.dumps(FIXTURE_NOTEBOOKS.as_posix())}\n",
        encoding="utf-8",
    )
    return config


# ---------------------------------------------------------------------------------------
# Months
# ---------------------------------------------------------------------------------------
def test_default_month_is_last_complete_month():
    assert publish.last_complete_month(dt.date(2026, 1, 15)) == "2025-12"
    assert publish.last_complete_month(dt.date(2026, 11, 1)) == "2026-10"


def test_month_must_be_yyyy_mm():
    with pytest.raises(publish.PublishError, match="YYYY-MM"):
        publish.parse_month("Oct 2026")


# ---------------------------------------------------------------------------------------
# The guard
# ---------------------------------------------------------------------------------------
@pytest.fixture()
def found(tmp_path) -> Identifiers:
    make_project(tmp_path, ["x"])
    return collect_identifiers([tmp_path / "data" / "903", tmp_path / "data" / "cin"])


def test_collects_identifiers_and_dobs_from_xml_and_csv(found):
    # "UN2" is a DfE "UPN unknown" code, not an identifier.
    assert found.ids == {"CH4400123", "A123456789012", "1234", "CH5500999", "LA998877", "B987654321098"}
    assert found.dobs == {dt.date(2015, 3, 12), dt.date(2012, 8, 17), dt.date(2016, 1, 1), dt.date(2013, 6, 14)}


def test_long_identifier_found_anywhere(found):
    hits = scan_text("<td>Example record: CH4400123</td>", "p.html", found)
    assert [h.kind for h in hits] == ["child identifier"]
    assert "CH4400123" not in str(hits[0])  # the message masks the value
    assert scan_text('{"x":"LA998877|2025-04-02"}', "s.json", found)[0].kind == "child identifier"


def test_identifier_with_punctuation_matched_whole():
    ids = Identifiers(ids={"AB-12345", "CD/99887"})
    assert len(scan_text("record AB-12345 and CD/99887", "p.html", ids)) == 2
    assert scan_text("record XAB-12345 and CD/998870", "p.html", ids) == []


def test_identifier_inside_longer_token_is_not_a_match(found):
    assert scan_text("XCH4400123 and CH44001234", "p.html", found) == []


def test_short_numeric_identifier_needs_identifier_context(found):
    assert scan_text("There were 1234 referrals in the year.", "p.html", found) == []
    assert len(scan_text('{"child_id": "1234"}', "s.json", found)) == 1
    assert len(scan_text("CHILD 1234", "p.html", found)) == 1


def test_decimal_part_of_a_number_is_not_an_identifier():
    ids = Identifiers(ids={"123456"})
    assert scan_text("rate 0.123456", "p.html", ids) == []
    assert len(scan_text("value 123456.0", "p.html", ids)) == 1


def test_full_postcode_refused_sector_allowed(found):
    assert [h.kind for h in scan_text("Placed at QX4 7AB", "p.html", found)] == ["full postcode"]
    assert [h.kind for h in scan_text("Placed at QX47AB", "p.html", found)] == ["full postcode"]
    assert scan_text("Placed in sector QX4 7 (QX4 7)", "p.html", found) == []


@pytest.mark.parametrize("text", ["2015-03-12", "12/03/2015", "12-03-2015", "12.03.2015", "12 March 2015", "12th Mar 2015", "March 12, 2015", "2015-03-12T00:00:00"])
def test_dob_from_inputs_found_in_common_formats(found, text):
    assert [h.kind for h in scan_text(f"value {text} here", "p.html", found)] == ["date of birth"]


def test_labelled_date_is_a_dob_even_if_not_in_inputs(found):
    assert [h.kind for h in scan_text("DOB: 2016-05-17", "p.html", found)] == ["date of birth"]
    assert scan_text("Referred on 2016-05-17", "p.html", found) == []


def test_month_boundaries_are_period_dates_not_dobs():
    ids = Identifiers(dobs={dt.date(2015, 3, 1), dt.date(2015, 3, 31)})
    assert scan_text("period 2015-03-01 to 2015-03-31; date of birth month 2015-03-01", "p.html", ids) == []


def test_csv_scanned_cell_by_cell_with_column_context(tmp_path, found):
    path = tmp_path / "t.csv"
    path.write_text("ward,child_id,n\nA,1234,50\nB,7,1234\n", encoding="utf-8")
    hits = scan_csv(path, "tables/t.csv", found)
    # line 2 column child_id holds 1234 (an identifier in an identifier column); the 1234 in
    # column n on line 3 is a count, not an identifier.
    assert [(h.where, h.kind) for h in hits] == [("tables/t.csv line 2, column 'child_id'", "child identifier")]


def test_network_references_refused(tmp_path):
    hits = publish.guard_build(tmp_path, Identifiers(), {"r": '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'})
    assert [h.kind for h in hits] == ["network reference"]
    assert publish.guard_build(tmp_path, Identifiers(), {"r": '<a href="https://www.gov.uk">link</a>'}) == []


# ---------------------------------------------------------------------------------------
# Whole runs (papermill + nbconvert)
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One good run of the fixture report, shared by the tests below."""
    root = tmp_path_factory.mktemp("project")
    config = make_project(root, ["fixture_ok", "fixture_raises", "fixture_leaky", "fixture_differencing"])
    out = root / "reports"
    assert publish.main(["--config", str(config), "--month", MONTH, "--only", "fixture_ok"]) == 0
    return root, config, out


@pytest.mark.slow
def test_run_writes_every_output(published):
    root, _, out = published
    month = out / MONTH
    assert sorted(p.name for p in month.iterdir()) == ["fixture_ok", "fixture_ok.html", "manifest.json"]
    assert sorted(p.name for p in (month / "fixture_ok").iterdir()) == ["attribution.json", "executed.ipynb", "interpreter.txt", "summary.json", "tables"]
    summary = json.loads((month / "fixture_ok" / "summary.json").read_text())
    assert summary["period_start"] == "2026-10-01" and summary["period_end"] == "2026-10-31"
    # referrals total 120+3+45+60 = 228: large, shown.
    assert summary["referrals"] == 228
    # South (3 referrals, 1 re-referral) primary; East (45, 9) secondary; their rates hidden.
    assert (month / "fixture_ok" / "tables" / "referrals_by_team.csv").read_text().splitlines() == [
        "team,referrals,rereferrals,rate", "North,120,30,0.25", "South,c,c,c", "East,c,c,c", "West,60,14,0.23333333333333334"]
    assert (month / "fixture_ok" / "executed.ipynb").is_file()
    index = (out / "index.html").read_text()
    assert f'href="{MONTH}/fixture_ok.html"' in index and "executed.ipynb" not in index


@pytest.mark.slow
def test_manifest_records_inputs_versions_and_times(published):
    root, config, out = published
    manifest = json.loads((out / MONTH / "manifest.json").read_text())
    header = root / "data" / "903" / "header.csv"
    assert {"path": "data/903/header.csv", "sha256": hashlib.sha256(header.read_bytes()).hexdigest(), "bytes": header.stat().st_size} in manifest["inputs"]
    assert manifest["reports"]["fixture_ok"]["parameters"]["month"] == MONTH
    assert manifest["packages"]["altair"] and manifest["git_commit"]
    # Papermill ran the notebook with this very interpreter (the fixture notebook wrote sys.executable).
    import sys

    assert (out / MONTH / "fixture_ok" / "interpreter.txt").read_text() == sys.executable
    assert manifest["kernel"]["name"] == publish.KERNEL_NAME
    assert manifest["reports"]["fixture_ok"]["duration_seconds"] > 0 and manifest["started"] <= manifest["finished"]


@pytest.mark.slow
def test_page_is_offline_code_free_and_widget_free(published):
    _, _, out = published
    page = (out / MONTH / "fixture_ok.html").read_text()
    assert "Fixture Borough Council" in page and "1 October 2026 to 31 October 2026" in page
    assert page.count("script.chart-spec") == 1 and page.count('class="chart-spec"') == 2
    # The Vega bundle is inlined exactly once (a stretch from its middle appears once).
    bundle = publish.vega_bundle()
    assert page.count(bundle[len(bundle) // 2 : len(bundle) // 2 + 300]) == 1
    assert page.count("<script>") == 2
    assert "widget-view" not in page and "IntSlider" not in page
    assert "import altair" not in page and "load_config" not in page  # code hidden
    assert "Sources and licences" in page and "Office for National Statistics" in page
    assert page.count(">Appendix: data quality<") == 2  # once in the contents, once as the heading
    # Contents: sections numbered, subsections nested under theirs.
    contents = page[page.index('<ol class="contents-list">') : page.index("</ol>")]
    assert contents.count('<ul class="contents-sub">') == 2
    assert [t for t in re.findall(r'href="#[^"]+">([^<]+)<', contents)][:4] == ["Headline", "Referrals by team", "Rate by team", "Appendix: data quality"]
    assert len(page.encode()) < 2_000_000


@pytest.mark.slow
def test_failing_notebook_leaves_previous_report_and_exits_nonzero(published, capsys):
    _, config, out = published
    before = {p: p.read_bytes() for p in (out / MONTH).rglob("*") if p.is_file()}
    assert publish.main(["--config", str(config), "--month", MONTH]) == 1  # full run: fixture_raises fails
    after = {p: p.read_bytes() for p in (out / MONTH).rglob("*") if p.is_file()}
    assert after == before
    err = capsys.readouterr().err
    assert "fixture_raises.ipynb" in err and "cell 4" in err and "deliberate failure" in err
    logs = sorted((out / "logs").glob("publish-*.log"))
    assert logs and "deliberate failure" in logs[-1].read_text()
    assert not list(out.glob(".building-*"))


@pytest.mark.slow
def test_disclosure_audit_refuses_a_chart_that_gives_back_a_hidden_count(published, capsys):
    _, config, out = published
    before = sorted(p.name for p in (out / MONTH).iterdir())
    assert publish.main(["--config", str(config), "--month", MONTH, "--only", "fixture_differencing"]) == 1
    err = capsys.readouterr().err
    # by hand: the table hides both Adoption rows (3, and 11 with it so that 3 cannot be worked
    # out from a total); the chart draws the 11
    assert "refusing to publish" in err and "found 1 problem(s)" in err
    assert "fixture_differencing: recoverable hidden count: chart 1 data shows 'children' = 11 for ('Adoption', 'In-house') where mix hides it" in err
    assert sorted(p.name for p in (out / MONTH).iterdir()) == before


@pytest.mark.slow
def test_guard_refuses_a_page_with_a_child_identifier(published, capsys):
    _, config, out = published
    before = sorted(p.name for p in (out / MONTH).iterdir())
    assert publish.main(["--config", str(config), "--month", MONTH, "--only", "fixture_leaky"]) == 1
    err = capsys.readouterr().err
    assert "refusing to publish" in err and "fixture_leaky.html" in err and "child identifier" in err
    assert "CH4400123" not in err
    assert sorted(p.name for p in (out / MONTH).iterdir()) == before


@pytest.mark.slow
def test_rerun_replaces_the_month_cleanly(tmp_path):
    config = make_project(tmp_path, ["fixture_ok"])
    assert publish.main(["--config", str(config), "--month", MONTH]) == 0
    stale = tmp_path / "reports" / MONTH / "stale_from_an_old_run.csv"
    stale.write_text("old\n")
    first = json.loads((tmp_path / "reports" / MONTH / "manifest.json").read_text())
    assert publish.main(["--config", str(config), "--month", MONTH]) == 0
    second = json.loads((tmp_path / "reports" / MONTH / "manifest.json").read_text())
    assert not stale.exists()
    assert second["started"] >= first["started"]
    # Same inputs and parameters give the same figures.
    assert (tmp_path / "reports" / MONTH / "fixture_ok" / "summary.json").read_text().count("228") == 1


def test_contents_nests_subsections_and_drops_repeated_section_heading():
    page = '<head></head><main id="report-body"><h2 id="a">A</h2><h3>A 1</h3><h2 id="b">B</h2><p>x</p><h2>B</h2><h3>B 1</h3></main>'
    body, toc = publish._build_contents(page)
    # The second "B" heading directly repeats the first and is dropped; h3s get ids from their text.
    assert body == '<head></head><main id="report-body"><h2 id="a">A</h2><h3 id="a-1">A 1</h3><h2 id="b">B</h2><p>x</p><h3 id="b-1">B 1</h3></main>'
    assert toc.replace("\n", "") == (
        '<ol class="contents-list"><li><a href="#a">A</a><ul class="contents-sub"><li><a href="#a-1">A 1</a></li></ul></li>'
        '<li><a href="#b">B</a><ul class="contents-sub"><li><a href="#b-1">B 1</a></li></ul></li></ol>'
    )


def test_guard_scans_the_executed_notebook_outputs_not_its_metadata(tmp_path, found):
    """An identifier only in the executed notebook's stderr (dropped from the page) is still refused."""
    import json as _json

    report_dir = tmp_path / "month" / "r"
    report_dir.mkdir(parents=True)
    nb = {
        "metadata": {"papermill": {"start_time": "2026-11-22T23:55:01", "end_time": "2026-11-22T23:55:09"}},
        "cells": [{"cell_type": "code", "source": "x", "metadata": {}, "outputs": [
            {"output_type": "stream", "name": "stderr", "text": ["warning: row for CH4400123 dropped\n"]}]}],
    }
    (report_dir / "executed.ipynb").write_text(_json.dumps(nb), encoding="utf-8")
    hits = publish.guard_build(tmp_path / "month", Identifiers(ids=found.ids, dobs=found.dobs), {})
    assert [(h.where, h.kind) for h in hits] == [("r/executed.ipynb", "child identifier")]
    # the same notebook without the leak passes: run times in metadata are not outputs
    nb["cells"][0]["outputs"][0]["text"] = ["warning: 3 rows dropped\n"]
    (report_dir / "executed.ipynb").write_text(_json.dumps(nb), encoding="utf-8")
    assert publish.guard_build(tmp_path / "month", Identifiers(ids=found.ids, dobs=found.dobs), {}) == []


def _whole_text_scan(text: str) -> tuple[set, set]:
    """The guard's definition on the whole text at once (the two patterns, no pieces)."""
    ids = {m.group(2) for m in publish.XML_ID.finditer(text) if not publish.UPN_UNKNOWN.match(m.group(2))}
    dobs = {d for d in (publish._parse_input_date(m.group(2)) for m in publish.XML_DOB.finditer(text)) if d}
    return ids, dobs


def test_xml_read_in_pieces_finds_exactly_what_the_whole_text_does(tmp_path):
    # Hand-made: prefixed and plain tags, padding inside values, a multi-byte character next to
    # a tag, a "UPN unknown" code, and tags the guard ignores. Worked out by hand, the whole
    # text holds ids LA1, LAé2, B98765, F1 and dates of birth 2013-06-14 and 2020-01-02; every
    # piece size from 1 to 60 bytes cuts the file somewhere else, and each must find the same.
    xml = ("<cin:Message xmlns:cin='x'><Child><cin:LAchildID> LA1 </cin:LAchildID><UPN>B98765</UPN>"
           "<FormerUPN>F1</FormerUPN><UPN>UN3</UPN><PersonBirthDate>2013-06-14</PersonBirthDate></Child>"
           "<Child><LAchildID>LAé2</LAchildID><Note>é<b>x</b></Note>"
           "<ExpectedPersonBirthDate>\n2020-01-02 </ExpectedPersonBirthDate><UPN></UPN></Child></cin:Message>")
    path = tmp_path / "c.xml"
    path.write_bytes(xml.encode("utf-8"))
    expected = _whole_text_scan(xml)
    assert expected == ({"LA1", "LAé2", "B98765", "F1"}, {dt.date(2013, 6, 14), dt.date(2020, 1, 2)})
    for size in range(1, 61):
        assert "".join(publish._xml_chunks(path, size)) == xml, size
        found = Identifiers()
        publish._scan_xml(path, found, size)
        assert (found.ids, found.dobs) == expected, size
    found = collect_identifiers([path])
    assert (found.ids, found.dobs) == expected


def test_guard_thread_priority_lowered_for_that_thread_only():
    # Linux: the thread that gathers the guard's identifiers gets its own nice value; the
    # publishing process's other threads keep theirs.
    import os
    import sys
    import threading

    if not sys.platform.startswith("linux"):
        pytest.skip("per-thread nice values are a Linux feature")
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def worker():
        seen["changed"] = publish.lower_thread_priority(3)
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == {"changed": True, "nice": min(19, before + 3)}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_identifier_set_compact_form_finds_the_same(monkeypatch):
    from helpers.publishing.run import IdentifierSet

    # compact beyond 3 identifiers, hashes merged every 2 added: small numbers, the same paths as
    # a national dataset's 5 million
    ids = ["CH4400123", "LA998877", "AB-12345", "1234", "B987654321098", "CH4400123", "CD/99887"]
    plain = Identifiers(ids=set(ids))                          # 6 identifiers: held as text
    monkeypatch.setattr(IdentifierSet, "COMPACT_AT", 3)
    monkeypatch.setattr(IdentifierSet, "_BATCH", 2)
    compact = IdentifierSet()
    compact.update(ids[:2])
    for value in ids[2:]:
        compact.add(value)
    assert compact.compact and not plain.ids.compact
    assert len(compact) == len(plain.ids) == 6                # 7 added, CH4400123 twice
    assert all(v in compact for v in ids)
    assert "CH4400124" not in compact and "" not in compact and 1234 not in compact
    assert sorted(compact.punctuated()) == sorted(plain.ids.punctuated()) == ["AB-12345", "CD/99887"]
    text = 'record CH4400123, AB-12345 and CD/99887; {"child_id": "1234"}; XCH4400123; 0.998877; LA998877'
    found = Identifiers(ids=compact)
    assert [str(h) for h in scan_text(text, "p.html", found)] == [str(h) for h in scan_text(text, "p.html", plain)]
    assert len(scan_text(text, "p.html", found)) == 5   # CH4400123, 1234 (labelled), LA998877, AB-12345, CD/99887
