"""Formula neutralisation in published CSVs and escaping of input/config text in pages.

Every expected value here was worked out by hand from the OWASP CSV-injection rule: a text cell
starting with = + - @ tab or CR gets a leading apostrophe unless the whole cell is a number.
"""

from __future__ import annotations

import csv
import re

import pandas as pd
import pytest

from helpers.publishing import report, safe_output

HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3+cmd", "@SUM(A1)", "\tTAB", "\rCR",
           "<img src=x onerror=alert(1)>"]


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"),
    ("+44 20", "'+44 20"),
    ("-x", "'-x"),
    ("@x", "'@x"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("-3", "-3"),            # a number stays a number
    ("+0.5", "+0.5"),
    ("-1.2e3", "-1.2e3"),
    ("-4%", "-4%"),
    ("Ward A", "Ward A"),
    ("a=b", "a=b"),          # only a leading character matters
    (-3, -3),                # not text: unchanged
    (None, None),
])
def test_neutralise_cell(value, expected):
    assert safe_output.neutralise_cell(value) == expected


def test_report_table_writes_no_live_formula(tmp_path):
    rep = report.Report(tmp_path, threshold=5)
    df = pd.DataFrame({"ward_name": HOSTILE, "change": [-3.5, 1, 2, 3, 4, 5, 6], "code": ["-3"] * 7})
    rep.table("hostile", df, count_cols=[])
    path = tmp_path / "tables" / "hostile.csv"
    assert safe_output.csv_formula_cells(path) == []
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert rows[0]["ward_name"] == "'=HYPERLINK(\"http://x\",\"y\")"
    assert rows[3]["ward_name"] == "'@SUM(A1)"
    assert rows[5]["ward_name"] == "'\nCR"       # CR kept as a quoted line break, still neutralised
    assert rows[0]["change"] == "-3.5"          # numbers untouched
    assert rows[0]["code"] == "-3"               # numeric text untouched
    assert rows[6]["ward_name"] == HOSTILE[6]    # HTML is harmless in a CSV; pages escape it


def test_guard_finds_a_formula_written_another_way(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"name": ["ok", "=1+1"], "n": [1, -2]}).to_csv(path, index=False)
    assert safe_output.csv_formula_cells(path) == [(3, "name", "=1+1")]


def test_column_names_are_neutralised_too(tmp_path):
    path = tmp_path / "t.csv"
    safe_output.write_csv(pd.DataFrame({"=bad": ["x"]}), path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "'=bad"


def _render_markdown(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(text)


@pytest.mark.parametrize("name", [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "**bold** _it_ `code`",
    "# Heading",
    "a | b | c",
])
def test_esc_renders_literally_in_markdown(name):
    html_out = _render_markdown(f"- **{safe_output.esc(name)}**: saving")
    assert "<img" not in html_out and "<script" not in html_out
    assert "href=" not in html_out
    assert "<h1" not in html_out and "<code" not in html_out and "<em" not in html_out
    # the text a member sees is the name as typed
    visible = re.sub(r"<[^>]+>", "", html_out)
    import html as _html
    assert name in _html.unescape(visible)


def test_esc_html():
    assert safe_output.esc_html('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert safe_output.esc(None) == ""


def test_publish_shows_raw_html_in_markdown_outputs_as_text():
    """Safety net: a Markdown output never renders a tag, even if a notebook forgot safe_output.esc."""
    import nbformat

    from helpers.publishing import run as publish

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("display(Markdown(...))")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "- **<img src=x onerror=alert(1)>**"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), cell]
    publish.prepare_notebook(nb, "t")
    md = nb.cells[1].outputs[0]["data"]["text/markdown"]
    assert md == "- **&lt;img src=x onerror=alert(1)>**"
    assert "<img" not in _render_markdown(md)


def test_publish_guard_flags_a_formula_in_a_table(tmp_path):
    from helpers.publishing import run as publish

    month = tmp_path / "2026-10"
    (month / "r" / "tables").mkdir(parents=True)
    (month / "r" / "tables" / "t.csv").write_text("name,n\n=1+1,3\n", encoding="utf-8")
    findings = publish.guard_build(month, publish.Identifiers(), {})
    assert [(f.where, f.kind) for f in findings] == [("r/tables/t.csv", "spreadsheet formula")]


def test_published_numbers_without_binary_noise(tmp_path):
    # by hand: 0.3 * 0.2 = 0.059999999999999984 in binary floating point; 0.1 + 0.2 = 0.30000000000000004
    df = pd.DataFrame({"share": [0.3 * 0.2, 0.1 + 0.2, 1 / 3], "cost": [10374196.559999999, 11624099.76, 250.0],
                       "fte": [165.50879226558988, 2.5, 0.0], "n": [3, 40, 120]})
    path = tmp_path / "t.csv"
    safe_output.write_csv(df, path)
    assert path.read_text(encoding="utf-8").splitlines() == [
        "share,cost,fte,n", "0.06,10374196.56,165.508792266,3", "0.3,11624099.76,2.5,40", "0.333333333333,250,0,120"]
