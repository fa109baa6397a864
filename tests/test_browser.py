"""Published pages in a real headless browser (Debian chromium via Playwright), network blocked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import publish

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not CHROMIUM.is_file() and not os.environ.get("CI"):
    pytest.skip("/usr/bin/chromium is missing (apt-get install chromium); in CI this test fails instead", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "/usr/bin/chromium is required in CI: install Debian's chromium package"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def open_offline(browser, page_path: Path) -> dict:
    """Open a page with every non-file:// request aborted; wait for its charts; report what happened."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(page_path.resolve().as_uri(), wait_until="load")
    n_charts = page.locator("figure.chart .chart-view").count()
    if n_charts:
        page.wait_for_function(
            "() => [...document.querySelectorAll('figure.chart .chart-view')].every(v => v.querySelector('svg, canvas'))",
            timeout=20_000,
        )
    # A chart drew when its container holds an SVG with marks in it (or a non-empty canvas).
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('figure.chart .chart-view')].filter(v => {
            const svg = v.querySelector('svg');
            if (svg) return svg.querySelectorAll('path, rect, line, text, circle').length > 0;
            const canvas = v.querySelector('canvas');
            return canvas !== null && canvas.width > 0;
        }).length"""
    )
    descriptions = page.locator("p.chart-description").count()
    context.close()
    return {"charts": n_charts, "drawn": drawn, "errors": errors, "outside": outside, "descriptions": descriptions}


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory):
    from test_publish import make_project

    root = tmp_path_factory.mktemp("browser")
    config = make_project(root, ["fixture_ok"])
    assert publish.main(["--config", str(config), "--month", "2026-10"]) == 0
    return root / "reports"


@pytest.mark.slow
def test_fixture_page_draws_every_chart_offline(browser, fixture_site):
    result = open_offline(browser, fixture_site / "2026-10" / "fixture_ok.html")
    assert result["charts"] == 2
    assert result["drawn"] == 2
    assert result["descriptions"] == 2
    assert result["errors"] == []
    assert result["outside"] == []


@pytest.mark.slow
def test_index_opens_offline(browser, fixture_site):
    result = open_offline(browser, fixture_site / "index.html")
    assert result["errors"] == [] and result["outside"] == []


@pytest.mark.slow
def test_page_with_a_remote_script_is_caught(browser, fixture_site, tmp_path):
    # The check itself must be able to fail: a page that asks the network for a script is seen.
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><script src="https://cdn.jsdelivr.net/npm/vega@5"></script></head><body></body></html>')
    result = open_offline(browser, page)
    assert result["outside"] == ["https://cdn.jsdelivr.net/npm/vega@5"]


@pytest.mark.slow
def test_demo_run_pages_draw_offline(browser, demo_config, tmp_path):
    """The demo month end to end: every report of configs/demo.toml, then every page in the browser."""
    out = tmp_path / "reports"
    assert publish.main(["--config", str(demo_config), "--month", "2026-10", "--out", str(out)]) == 0
    pages = sorted((out / "2026-10").glob("*.html")) + [out / "index.html"]
    assert len(pages) == 4
    for path in pages:
        result = open_offline(browser, path)
        assert result["errors"] == [], (path.name, result["errors"])
        assert result["outside"] == [], (path.name, result["outside"])
        assert result["drawn"] == result["charts"], (path.name, result)
        assert result["descriptions"] >= result["charts"], (path.name, result)
        assert path.stat().st_size < 2_000_000, path.name
    # Allocated workers (Annex A) are never published: no name in any published file, no column per worker
    import re
    from helpers.annex_a import workbook_people
    annex = Path(re.search(r'annex_a = "([^"]+)"', demo_config.read_text(encoding="utf-8")).group(1))
    workers = workbook_people(annex / "annex_a.xlsx")[2]
    assert len(workers) > 10
    names = re.compile("|".join(re.escape(w) for w in workers), re.I)
    for f in (out / "2026-10").rglob("*"):
        if f.is_file() and f.suffix in (".html", ".csv", ".json", ".ipynb"):
            text = f.read_text(encoding="utf-8", errors="replace")
            assert not names.search(text), f
            if f.suffix == ".csv":   # no table keyed by worker (staffing FTE columns are not per worker)
                header = [c.strip().lower() for c in (text.splitlines()[0] if text else "").split(",")]
                assert not [c for c in header if re.fullmatch(r"(allocated_?)?worker(_name)?|allocated worker", c)], f
