"""helpers.reference: the source catalogue, the committed national snapshot, build and fetch.

The snapshot tests compare against the committed files byte for byte; the figures checked by hand
are read off the published C1 file's first rows (England 2025: 632,830 referrals, 142,900
re-referrals, 22.6%).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from helpers.reference import benchmarks as bm
from helpers import reference
from helpers.reference import dfe_cla_stats, dfe_stats
from helpers.reference import SNAPSHOT_DIR, SNAPSHOT_TABLES, SOURCES
from helpers.reference.build import ReferenceError, build_snapshot, fetch, read_manifest, sha256_file

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ["src", "configs", "notebooks", "docs", "README.md", "scripts"]


def test_product_never_refers_to_the_shared_folder():
    hits = []
    for top in PRODUCT:
        root = REPO / top
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            for n, line in enumerate(text.splitlines(), 1):
                if re.search(r"\.\./shared", line):
                    hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()[:100]}")
    assert hits == []


def test_every_source_has_provenance():
    for s in SOURCES.values():
        assert s.publisher and s.title and s.licence == "Open Government Licence v3.0", s.key
        assert s.page.startswith("https://"), s.key
        assert s.attribution.startswith(("Contains public sector information", "Source: Office for National Statistics")), s.key
        assert s.sha256 == "" or re.fullmatch(r"[0-9a-f]{64}", s.sha256), s.key
    for t in SNAPSHOT_TABLES.values():
        assert SOURCES[t.source].sha256, f"{t.name}: snapshot source must have a tested checksum"


def test_committed_snapshot_matches_its_manifest():
    rows = read_manifest()
    assert [r["table"] for r in rows] == list(SNAPSHOT_TABLES)
    for r in rows:
        path = SNAPSHOT_DIR / r["file"]
        assert sha256_file(path) == r["sha256"], r["file"]
        assert sum(1 for _ in path.open(encoding="utf-8")) - 1 == int(r["rows"]), r["file"]
        assert r["source_sha256"] == SOURCES[r["source"]].sha256 == r["tested_sha256"]


def test_snapshot_reads_with_the_standard_readers():
    c1 = dfe_stats.read_c1(reference.snapshot_path("dfe_c1"))
    eng = c1[(c1["geographic_level"] == "National") & (c1["time_period"] == 2025)].iloc[0]
    assert (eng["referral_count"], eng["rereferral_count"], eng["rereferral_percent"]) == (632830, 142900, 22.6)
    assert eng["not_in_need_count"] != eng["not_in_need_count"]  # trimmed column: NaN
    la = c1[c1["geographic_level"] == "Local authority"]
    assert la["new_la_code"].nunique() >= 150 and sorted(c1["time_period"].unique())[0] == 2013
    regions = set(c1.loc[c1["geographic_level"] == "Regional", "region_name"])
    assert {"North East", "East Midlands", "London", "South West"} <= regions and len(regions) >= 9
    chars = dfe_cla_stats.read_cla_characteristics(reference.snapshot_path("dfe_characteristics"))
    stab = dfe_cla_stats.read_placement_stability(reference.snapshot_path("dfe_stability"))
    head = dfe_cla_stats.england_headline(chars, stab)
    assert head["year"] == 2025 and 0 < head["pct_over_20_miles"] < head["pct_outside_boundary"] < 100
    newp = dfe_cla_stats.read_new_placements(reference.snapshot_path("dfe_new_placements"))
    assert set(newp["characteristic"]) == {"Location of new placements during the year"}
    nums = dfe_cla_stats.read_cla_numbers(reference.snapshot_path("dfe_numbers"))
    assert nums["new_la_code"].nunique() >= 150


def test_resolve_config_values(tmp_path):
    assert reference.resolve("", tmp_path) is None
    assert reference.resolve("reference:dfe_c1", tmp_path) == SNAPSHOT_DIR / "dfe_c1_referrals_rereferrals.csv"
    assert reference.resolve("x/y.csv", tmp_path) == (tmp_path / "x" / "y.csv").resolve()
    assert reference.is_snapshot(reference.resolve("reference:dfe_stability", tmp_path))
    assert not reference.is_snapshot(tmp_path / "y.csv")
    with pytest.raises(KeyError, match="unknown reference table 'nope'"):
        reference.resolve("reference:nope", tmp_path)


def test_demo_config_benchmarks_come_from_the_snapshot():
    """A fresh clone (no folder beside the repository) has every benchmark table the demo names."""
    import tomllib

    cfg = tomllib.loads((REPO / "configs" / "demo.toml").read_text(encoding="utf-8"))
    values = [cfg["rereferrals"]["dfe_c1"]] + [cfg["placements"][k] for k in
                                                ("dfe_numbers", "dfe_characteristics", "dfe_stability", "dfe_new_placements")]
    for v in values:
        path = reference.resolve(v, REPO)
        assert reference.is_snapshot(path) and path.is_file(), v
    neighbours = cfg["council"]["statistical_neighbours"]
    assert len(neighbours) >= 5
    c1 = dfe_stats.read_c1(reference.snapshot_path("dfe_c1"))
    bench = dfe_stats.c1_benchmarks(c1, region=cfg["council"]["region"], statistical_neighbours=neighbours)
    latest = bench[bench["time_period"] == 2025]
    assert set(latest["comparator"]) == {"England", "East Midlands", f"Statistical neighbours (median of {len(neighbours)})"}
    note = bm.neighbour_note(c1, neighbours, source=cfg["council"]["statistical_neighbours_source"])
    assert "Not in" not in note and "not the DfE statistical neighbour list" in note


def test_neighbour_note_and_median_by_hand():
    df = pd.DataFrame({
        "time_period": [2025] * 4, "geographic_level": ["National", "Local authority", "Local authority", "Local authority"],
        "region_name": [None, "A", "A", "B"], "old_la_code": [None, "831", "856", "892"],
        "new_la_code": [None, "E06000015", "E06000016", "E06000018"], "la_name": [None, "Derby", "Leicester", "Nottingham"],
    })
    assert bm.neighbour_note(df, []) == "No statistical neighbours are listed in the council config, so none are shown."
    assert bm.neighbour_note(df, ["E06000015", "856", "E06999999"], "table C1") == (
        "Statistical neighbours (from the council config): Derby, Leicester. Not in table C1: E06999999.")
    # placement measures: neighbours 10 and 20 and 60 -> median 20 (worked by hand); region row 30; England 40
    chars = pd.DataFrame({
        "time_period": [2025] * 5, "geographic_level": ["National", "Regional", "Local authority", "Local authority", "Local authority"],
        "region_name": [None, "R", "R", "R", "S"], "old_la_code": [None, None, "1", "2", "3"],
        "new_la_code": [None, None, "E1", "E2", "E3"], "la_name": [None, None, "a", "b", "c"],
        "characteristic_group": ["Locality of placement"] * 5,
        "breakdown": ["Placed outside the local authority boundary"] * 5, "children_percent": [40.0, 30.0, 10.0, 20.0, 60.0],
    })
    stab = chars.rename(columns={"characteristic_group": "cla_group", "breakdown": "placement_stability"}).iloc[:0]
    out = bm.placement_benchmarks(chars, stab, region="R", neighbours=["E1", "E2", "E3"]).set_index("key")
    row = out.loc["pct_outside_boundary"]
    assert (row["england"], row["region"], row["neighbours_median"], row["neighbours_n"]) == (40.0, 30.0, 20.0, 3)
    assert pd.isna(out.loc["pct_three_or_more", "england"])


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_build_names_the_file_and_missing_column(tmp_path):
    src = tmp_path / "src"
    _write(src / "dfe" / SOURCES["dfe_c1"].file_name, "time_period,geographic_level\n2025,National\n")
    with pytest.raises(ReferenceError, match=r"c1_children_in_need.*line 1: columns \[.*'time_identifier'"):
        build_snapshot(src, tmp_path / "out")
    with pytest.raises(ReferenceError, match="la_cla_placement_stability.csv not found|cla_number_and_rate"):
        _write(src / "dfe" / SOURCES["dfe_c1"].file_name, (SNAPSHOT_DIR / "dfe_c1_referrals_rereferrals.csv").read_text())
        build_snapshot(src, tmp_path / "out")


@pytest.mark.slow
def test_rebuild_from_published_files_gives_committed_snapshot(shared_data, tmp_path):
    out = tmp_path / "snapshot"
    result = subprocess.run([sys.executable, "-m", "helpers.reference", "build", "--from", str(shared_data),
                             "--out", str(out), "--verify"], capture_output=True, text=True, check=True)
    assert "dfe_c1: 2,132 rows" in result.stdout
    committed = sorted(p.name for p in SNAPSHOT_DIR.iterdir() if p.suffix == ".csv")
    assert sorted(p.name for p in out.iterdir()) == committed
    for name in committed:
        assert (out / name).read_bytes() == (SNAPSHOT_DIR / name).read_bytes(), name
    # trimmed, not copies: no snapshot file is byte-identical to a published file
    published = {hashlib.sha256(p.read_bytes()).hexdigest() for p in shared_data.rglob("*.csv")}
    assert not published & {sha256_file(SNAPSHOT_DIR / n) for n in committed}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


def _serve(folder: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.slow
def test_fetch_from_local_server_rebuilds_identically(shared_data, tmp_path):
    server = _serve(shared_data)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        result = subprocess.run([sys.executable, "-m", "helpers.reference", "fetch", "--from", url,
                                 "--to", str(tmp_path / "downloads"), "--out", str(tmp_path / "snapshot")],
                                capture_output=True, text=True)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": verified") == len({t.source for t in SNAPSHOT_TABLES.values()})
    for name in (p.name for p in SNAPSHOT_DIR.iterdir()):
        assert (tmp_path / "snapshot" / name).read_bytes() == (SNAPSHOT_DIR / name).read_bytes(), name


@pytest.mark.slow
def test_fetch_refuses_a_changed_file_unless_allowed(shared_data, tmp_path):
    mirror = tmp_path / "mirror"
    for t in SNAPSHOT_TABLES.values():
        rel = SOURCES[t.source].mirror_path
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / rel, mirror / rel)
    c1 = mirror / SOURCES["dfe_c1"].mirror_path
    c1.write_text(c1.read_text(encoding="utf-8").replace("632830", "632831", 1), encoding="utf-8")
    server = _serve(mirror)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(ReferenceError, match=r"c1_children_in_need.*differs from the tested version"):
            fetch(url, tmp_path / "dl", tmp_path / "snap")
        report = fetch(url, tmp_path / "dl", tmp_path / "snap", allow_changed=True)
    finally:
        server.shutdown()
    assert report["dfe_c1"]["status"] == "changed" and report["dfe_stability"]["status"] == "verified"
    assert "632831" in (tmp_path / "snap" / "dfe_c1_referrals_rereferrals.csv").read_text(encoding="utf-8")


def test_fetch_without_mirror_names_the_release_page(tmp_path):
    with pytest.raises(ReferenceError, match="explore-education-statistics.service.gov.uk"):
        fetch(None, tmp_path / "dl", tmp_path / "snap")


def test_publish_manifest_lists_the_benchmark_tables(tmp_path):
    from helpers.publishing.run import input_files

    cfg = {"data": {}, "_root": tmp_path, "rereferrals": {"dfe_c1": "reference:dfe_c1"},
           "placements": {"dfe_stability": "reference:dfe_stability", "dfe_numbers": ""}}
    assert input_files(cfg) == [reference.snapshot_path("dfe_c1"), reference.snapshot_path("dfe_stability")]


def test_fresh_clone_without_shared_folder_has_benchmarks(tmp_path):
    """A clone of the committed project, with nothing beside it, finds every benchmark table the demo
    config names and computes England, region and neighbour figures from it (committed files only)."""
    if shutil.which("git") is None or subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"],
                                                     capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    clone = tmp_path / "fresh" / "project"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
    assert not (clone.parent / "shared").exists()
    script = (
        "import tomllib, pathlib, helpers, helpers.reference as r\n"
        "from helpers.reference import dfe_stats, dfe_cla_stats\n"
        "assert pathlib.Path(helpers.__file__).resolve().is_relative_to(pathlib.Path.cwd().resolve()), helpers.__file__\n"
        "cfg = tomllib.loads(pathlib.Path('configs/demo.toml').read_text())\n"
        "c1 = dfe_stats.read_c1(r.resolve(cfg['rereferrals']['dfe_c1'], '.'))\n"
        "b = dfe_stats.c1_benchmarks(c1, region=cfg['council']['region'], statistical_neighbours=cfg['council']['statistical_neighbours'])\n"
        "print(sorted(b.loc[b.time_period == b.time_period.max(), 'comparator']))\n"
        "chars = dfe_cla_stats.read_cla_characteristics(r.resolve(cfg['placements']['dfe_characteristics'], '.'))\n"
        "stab = dfe_cla_stats.read_placement_stability(r.resolve(cfg['placements']['dfe_stability'], '.'))\n"
        "print(dfe_cla_stats.england_headline(chars, stab)['year'])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=clone, capture_output=True, text=True,
                            env={"PYTHONPATH": str(clone / "src"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['East Midlands', 'England', 'Statistical neighbours (median of 10)']", "2025"]
