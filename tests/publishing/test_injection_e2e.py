"""End to end: hostile text in every text field the demo has reaches no published file live.

The demo council is published once (slow) after injecting a spreadsheet formula and an HTML
payload into: the config's council name, region and scenario names; ward, LSOA and district
names in the ONS lookup, the IoD file and the ward and LSOA boundaries; and the address
extract's ward code, LSOA and postcode fields. Then:

* no cell of any published CSV starts with = + - @ tab or CR unless it is a number;
* no page holds an element or attribute the payload would create (``<img onerror>``,
  ``<script>alert``, ``javascript:`` links): the text shows literally or not at all.
"""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from helpers.publishing import run as publish, safe_output

FORMULA = '=HYPERLINK("http://evil.example","x")'
HTML = '<img src=x onerror=alert(1)>'
PAYLOAD = f"{HTML} [link](javascript:alert(2)) **b**"


@pytest.fixture(scope="module")
def hostile_run(demo_dir, tmp_path_factory, repo_root):
    root = tmp_path_factory.mktemp("hostile")
    data = root / "data"
    shutil.copytree(demo_dir, data)
    # ONS lookup: ward, LSOA and district names
    lk_path = data / "geography" / "lsoa_ward_lad_lookup.csv"
    lk = pd.read_csv(lk_path, dtype=str)
    wards = sorted(lk["WD21CD"].unique())
    lk.loc[lk["WD21CD"] == wards[0], "WD21NM"] = FORMULA
    lk.loc[lk["WD21CD"] == wards[1], "WD21NM"] = PAYLOAD
    lk.loc[lk.index[:3], "LSOA11NM"] = "@SUM(1+1)"
    lk["LAD21NM"] = "-1+2 " + HTML
    lk.to_csv(lk_path, index=False)
    # IoD names and boundary names (as published files a council downloads and may hand-edit)
    iod_path = data / "geography" / "iod_lsoa.csv"
    iod = pd.read_csv(iod_path, dtype=str)
    iod.loc[iod.index[:5], "lsoa11nm"] = FORMULA
    iod["lad19nm"] = HTML
    iod.to_csv(iod_path, index=False)
    import json

    for layer in ("wards", "lsoas"):
        gj_path = data / "geography" / f"{layer}.geojson"
        gj = json.loads(gj_path.read_text(encoding="utf-8"))
        for i, feature in enumerate(gj["features"][:4]):
            for key in list(feature["properties"]):
                if key.endswith("NM"):
                    feature["properties"][key] = FORMULA if i % 2 else PAYLOAD
        gj_path.write_text(json.dumps(gj), encoding="utf-8")
    # address extract: fields typed into the case-management system
    ad_path = data / "addresses" / "child_addresses.csv"
    ad = pd.read_csv(ad_path, dtype=str, keep_default_na=False)
    ad.loc[ad.index[:25], "WardCode"] = FORMULA
    ad.loc[ad.index[25:30], "LSOA"] = "+cmd|' /C calc'!A0"
    ad.loc[ad.index[30:35], "Postcode"] = HTML
    ad.to_csv(ad_path, index=False)
    # config: council name, region, scenario names
    text = (repo_root / "configs" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('"data/demo/', f'"{data.as_posix()}/').replace('"../', f'"{repo_root.parent.as_posix()}/')
    text = text.replace('la_name = "Kingsmoor Borough Council (demo)"', f"la_name = {FORMULA!r} ")
    text = text.replace('region = "East Midlands"', f'region = "{HTML}"')
    text = text.replace('name = "Recruit more in-house foster carers"', f"name = '{FORMULA} {PAYLOAD}'")
    text = text.replace('name = "Edge-of-care team for adolescents"', "name = '@cmd <script>alert(3)</script>'")
    # the [finance.budgets] keys name the same scenarios (a budget naming no workstream is refused)
    text = text.replace('"Recruit more in-house foster carers" = {', f"'{FORMULA} {PAYLOAD}' = {{")
    text = text.replace('"Edge-of-care team for adolescents" = {', "'@cmd <script>alert(3)</script>' = {")
    (root / "configs").mkdir()
    config = root / "configs" / "hostile.toml"
    config.write_text(text, encoding="utf-8")
    out = root / "reports"
    assert publish.main(["--config", str(config), "--month", "2026-10", "--out", str(out)]) == 0
    return out / "2026-10"


@pytest.mark.slow
def test_no_published_csv_carries_a_live_formula(hostile_run):
    tables = sorted(hostile_run.rglob("*.csv"))
    assert len(tables) > 20
    found = {p.relative_to(hostile_run).as_posix(): safe_output.csv_formula_cells(p) for p in tables}
    assert {k: v for k, v in found.items() if v} == {}
    # the injected names did reach the tables, neutralised (so the check above was not vacuous)
    w2l = (hostile_run / "locality_sizing" / "tables" / "ward_to_locality.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in w2l
    savings = (hostile_run / "placement_sufficiency" / "tables" / "scenario_savings.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in savings and "'@cmd" in savings
    summary = (hostile_run / "savings_summary" / "tables" / "savings_against_budget.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in summary and "'@cmd" in summary


@pytest.mark.slow
def test_no_page_renders_injected_markup(hostile_run):
    from lxml import html as lxml_html

    pages = sorted(hostile_run.glob("*.html"))
    assert [p.stem for p in pages] == ["locality_sizing", "placement_sufficiency", "re_referrals", "savings_summary"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        tree = lxml_html.fromstring(text)
        assert tree.xpath("//img[@onerror]") == [], page.name
        assert [s for s in tree.xpath("//script") if "alert(" in (s.text or "") and s.get("type") != "application/json"] == []
        assert tree.xpath("//a[starts-with(@href, 'javascript:')]") == [], page.name
        for el in tree.iter():
            if isinstance(el.tag, str):
                assert not any(a.lower().startswith("on") for a in el.attrib), (page.name, el.tag, dict(el.attrib))
    # the scenario list shows the hostile name as text
    placement = (hostile_run / "placement_sufficiency.html").read_text(encoding="utf-8")
    visible = re.sub(r"<[^>]+>", "", re.sub(r"(?s)<script.*?</script>", "", placement))
    assert "&lt;img src=x onerror=alert(1)&gt;" in visible or "<img src=x onerror=alert(1)>" in __import__("html").unescape(visible)
