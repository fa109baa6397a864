"""Published pages in a real headless browser (Debian chromium via Playwright), network blocked."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from helpers.publishing import run as publish

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
    from test_run import make_project

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
def test_demo_run_pages_draw_offline(browser, demo_published, demo_config):
    """The demo month end to end: every report of configs/demo.toml, then every page in the browser."""
    out = demo_published
    pages = sorted((out / "2026-10").glob("*.html")) + [out / "index.html"]
    assert len(pages) == len(tomllib.loads(demo_config.read_text(encoding="utf-8"))["publish"]["reports"]) + 1
    for path in pages:
        result = open_offline(browser, path)
        assert result["errors"] == [], (path.name, result["errors"])
        assert result["outside"] == [], (path.name, result["outside"])
        assert result["drawn"] == result["charts"], (path.name, result)
        assert result["descriptions"] >= result["charts"], (path.name, result)
        assert path.stat().st_size < 2_000_000, path.name

    # Allocated workers (Annex A) are never published: no name in any published file, no column per worker
    import re
    from helpers.readers.annex_a import workbook_people
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


WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
# Raw program output a member must never see in the text of a page.
RAW_OUTPUT = re.compile(r"(?<![A-Za-z])(NaN|nan|<NA>|None|True|False|NaT)(?![A-Za-z])|\b[a-z]+_[a-z0-9_]+\b(?!\.\w)|\d\.\d{5,}|papermill|summary key|took \d")


def visible_text(page) -> str:
    return page.evaluate("""() => {
        const skip = new Set(['SCRIPT', 'STYLE', 'CODE']);
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const parts = [];
        while (walker.nextNode()) {
            const n = walker.currentNode, el = n.parentElement;
            if (!el || skip.has(el.tagName) || el.closest('script, style, code, svg')) continue;
            const s = getComputedStyle(el);
            if (s.display === 'none' || s.visibility === 'hidden') continue;
            parts.push(n.textContent);
        }
        return parts.join(' ');
    }""")


@pytest.fixture(scope="module")
def demo_pages(demo_published):
    return sorted((demo_published / "2026-10").glob("*.html"))


@pytest.mark.slow
@pytest.mark.parametrize("device", list(WIDTHS))
def test_demo_pages_read_well_at_desktop_and_phone_width(browser, demo_pages, device, test_output_dir):
    """Headline on the first screen, no page-level sideways scroll, chart text >= 11 px, no raw output,
    axe-core 0 serious or critical problems. Screenshots go to test-output/ for a person to look at."""
    from axe_playwright_python.sync_playwright import Axe

    width, height = WIDTHS[device]
    problems = []
    for path in demo_pages:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.wait_for_function("() => [...document.querySelectorAll('figure.chart .chart-view')].every(v => v.querySelector('svg'))",
                               timeout=30_000)
        name = f"{path.stem}-{device}"
        page.screenshot(path=str(test_output_dir / f"{name}-first-screen.png"))
        page.screenshot(path=str(test_output_dir / f"{name}-full.png"), full_page=True)
        headline = page.locator("section.headline").bounding_box()
        if headline is None or headline["y"] + min(headline["height"], 120) > height:
            problems.append(f"{name}: headline not on the first screen ({headline})")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 1:
            problems.append(f"{name}: page scrolls sideways by {overflow} px")
        small = page.evaluate("""() => [...document.querySelectorAll('figure.chart svg text')]
            .filter(t => t.textContent.trim() && t.getBoundingClientRect().height > 0)
            .map(t => parseFloat(getComputedStyle(t).fontSize) * (t.getScreenCTM() ? Math.hypot(t.getScreenCTM().a, t.getScreenCTM().b) : 1))
            .filter(px => px < 11).length""")
        if small:
            problems.append(f"{name}: {small} chart text element(s) drawn smaller than 11 px")
        raw = sorted(set(m.group(0) for m in RAW_OUTPUT.finditer(visible_text(page))))
        if raw:
            problems.append(f"{name}: raw program output in the text: {raw[:12]}")
        violations = Axe().run(page).response["violations"]
        bad = [(v["id"], v["impact"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")]
        if bad:
            problems.append(f"{name}: axe-core serious/critical: {bad}")
        context.close()
    assert problems == [], "\n".join(problems)


@pytest.mark.slow
def test_demo_pdfs_are_a4_and_tables_fit(demo_published):
    """--pdf wrote an A4 PDF per report; the print layout keeps every table inside the page width."""
    month = demo_published / "2026-10"
    pdfs = sorted(month.glob("*.pdf"))
    assert [p.stem for p in pdfs] == sorted(p.stem for p in month.glob("*.html"))
    for pdf in pdfs:
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF")
        boxes = set(re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data))
        assert boxes and all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2 for w, h in boxes), (pdf.name, boxes)


@pytest.mark.slow
def test_printed_tables_fit_an_a4_page(browser, demo_pages):
    """In print layout (A4 less 15 mm margins = 180 mm = 680 px) no table is wider than the page."""
    problems = []
    for path in demo_pages:
        context = browser.new_context(viewport={"width": 680, "height": 1000})
        page = context.new_page()
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.emulate_media(media="print")
        wide = page.evaluate("""() => [...document.querySelectorAll('table')]
            .filter(t => t.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .map(t => (t.querySelector('caption, th') || t).textContent.slice(0, 60))""")
        if wide:
            problems.append(f"{path.name}: tables cut at the page edge when printed: {wide}")
        context.close()
    assert problems == [], "\n".join(problems)
