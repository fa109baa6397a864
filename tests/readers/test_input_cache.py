"""The run-scoped cache of parsed inputs (helpers.readers.input_cache).

Unit tests use small hand-made tables: the expected result of reading from the cache is the
reader's own result, value for value and type for type (NaN stays NaN, None stays None).
The slow test publishes the demo reports with and without the cache and compares every
summary and table.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.readers import input_cache
from helpers.readers.ledger import Ledger, ReaderError


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.delenv(input_cache.ENV_DIR, raising=False)
    monkeypatch.delenv(input_cache.ENV_HASHES, raising=False)
    return {"_root": tmp_path, "publish": {"cache_dir": "cache"}}


@dataclasses.dataclass
class Tables:
    people: pd.DataFrame
    ledger: Ledger
    identifiers: set[str]


CALLS: list[str] = []


def read_people(path, *, flag: bool = False) -> Tables:
    """A toy reader: one CSV, typed columns, a ledger with one exclusion."""
    CALLS.append(str(path))
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    if (raw["id"] == "").any():
        raise ReaderError(str(path), "row 3", "id", "an identifier")
    led = Ledger()
    led.add_read("people.csv", len(raw))
    led.exclude("people.csv", 2, "toy rule", "age", "too old")
    led.add_used("people.csv", len(raw) - 1)
    out = pd.DataFrame({
        "id": raw["id"],
        "nan_text": raw["name"].replace("", np.nan),          # missing as NaN (read_csv style)
        "none_text": raw["name"].replace("", None),           # missing as None
        "born": pd.to_datetime(raw["born"].replace("", None)),
        "age": pd.array([int(a) if a else None for a in raw["age"]], dtype="Int64"),
        "group": pd.Categorical(raw["group"], categories=["b", "a"], ordered=True),
        "flag": flag,
        "score": [1.5 if i != 1 else np.nan for i in range(len(raw))],
    })
    out.attrs["note"] = {"rows": len(out)}
    return Tables(out, led, set(out["id"]))


@pytest.fixture
def people_csv(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("id,name,born,age,group\nA1,Ann,2015-03-01,11,a\nB2,,,,b\nC3,Cy,2019-12-31,6,a\n", encoding="utf-8")
    return path


def _same(a: Tables, b: Tables) -> None:
    pd.testing.assert_frame_equal(a.people, b.people, check_exact=True)
    assert a.people.attrs == b.people.attrs
    for col in ("nan_text", "none_text"):
        assert [type(v) for v in a.people[col]] == [type(v) for v in b.people[col]], col
    pd.testing.assert_frame_equal(a.ledger.summary(), b.ledger.summary())
    pd.testing.assert_frame_equal(a.ledger.issues(), b.ledger.issues())
    assert a.identifiers == b.identifiers


def test_second_load_reads_the_stored_tables_unchanged(cfg, people_csv):
    CALLS.clear()
    direct = read_people(people_csv)
    first = input_cache.load(cfg, read_people, people_csv)
    second = input_cache.load(cfg, read_people, str(people_csv))   # a str path is the same input
    assert len(CALLS) == 2  # the direct call and the first load; the second load parsed nothing
    assert [e["action"] for e in input_cache.EVENTS[-2:]] == ["parsed", "cached"]
    _same(direct, first)
    _same(direct, second)
    # Ledger counts by hand: 3 read, 1 excluded, 2 used -> reconciles.
    second.ledger.check_reconciles()
    assert second.ledger.summary()[["rows_read", "rows_used", "rows_excluded"]].iloc[0].tolist() == [3, 2, 1]
    assert isinstance(second.people["nan_text"].iloc[1], float) and second.people["none_text"].iloc[1] is None


def test_changed_input_or_bundle_rebuilds_and_drops_the_old_entry(cfg, people_csv, monkeypatch):
    input_cache.load(cfg, read_people, people_csv)
    folder = input_cache.cache_dir(cfg)
    old = [p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(old) == 1
    people_csv.write_text(people_csv.read_text() + "D4,Di,2020-01-01,5,b\n", encoding="utf-8")
    CALLS.clear()
    again = input_cache.load(cfg, read_people, people_csv)
    assert CALLS and len(again.people) == 4 and input_cache.EVENTS[-1]["action"] == "parsed"
    entries = [p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(entries) == 1 and entries != old
    # a new bundle version (or changed bundle source) rebuilds too
    monkeypatch.setattr(input_cache, "_BUNDLE", "another bundle")
    CALLS.clear()
    input_cache.load(cfg, read_people, people_csv)
    assert CALLS and input_cache.EVENTS[-1]["action"] == "parsed"
    # other arguments are another entry, not a replacement
    input_cache.load(cfg, read_people, people_csv, flag=True)
    assert len([p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]) == 2


def test_folder_argument_covers_every_file_under_it(cfg, tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.csv").write_text("x\n1\n")

    def read_folder(path):
        return pd.concat([pd.read_csv(p) for p in sorted(Path(path).rglob("*.csv"))], ignore_index=True)

    assert input_cache.load(cfg, read_folder, folder)["x"].tolist() == [1]
    (folder / "sub" / "b.csv").write_text("x\n2\n")
    assert input_cache.load(cfg, read_folder, folder)["x"].tolist() == [1, 2]
    assert input_cache.EVENTS[-1]["action"] == "parsed"


def test_reader_errors_pass_through_and_nothing_is_stored(cfg, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,born,age,group\n,Ann,2015-03-01,11,a\n", encoding="utf-8")
    with pytest.raises(ReaderError, match="bad.csv, row 3, field id"):
        input_cache.load(cfg, read_people, bad)
    folder = input_cache.cache_dir(cfg)
    assert not [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]


def test_results_it_cannot_store_are_returned_uncached(cfg, people_csv):
    def odd(path):
        return pd.DataFrame({"mixed": ["a", 1, None]})   # a text column holding a number

    out = input_cache.load(cfg, odd, people_csv)
    assert out["mixed"].tolist() == ["a", 1, None]
    assert input_cache.EVENTS[-1]["action"] == "uncached" and "mixed" in input_cache.EVENTS[-1]["note"]


def test_cache_off_by_config_or_environment(cfg, people_csv, monkeypatch):
    assert input_cache.cache_dir({**cfg, "publish": {"cache_dir": ""}}) is None
    monkeypatch.setenv(input_cache.ENV_DIR, "off")
    assert input_cache.cache_dir(cfg) is None
    input_cache.load(cfg, read_people, people_csv)
    assert input_cache.EVENTS[-1]["action"] == "uncached"
    monkeypatch.setenv(input_cache.ENV_DIR, str(people_csv.parent / "elsewhere"))
    assert input_cache.cache_dir(cfg) == (people_csv.parent / "elsewhere").resolve()


def test_damaged_entry_is_rebuilt(cfg, people_csv):
    input_cache.load(cfg, read_people, people_csv)
    folder = input_cache.cache_dir(cfg)
    entry = next(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    (entry / "t0.parquet").write_bytes(b"not parquet")
    CALLS.clear()
    again = input_cache.load(cfg, read_people, people_csv)
    assert CALLS and "discarded" in input_cache.EVENTS[-1]["note"]
    _same(read_people(people_csv), again)


def test_run_hashes_are_trusted_only_for_unchanged_files(tmp_path, monkeypatch):
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    hashes = tmp_path / "hashes.json"
    written = input_cache.write_run_hashes([path], hashes)
    import hashlib

    assert written[str(path.resolve())] == hashlib.sha256(b"a\n1\n").hexdigest()
    path.write_text("a\n22\n")  # changed size: recomputed, not taken from the run's table
    monkeypatch.setenv(input_cache.ENV_HASHES, str(hashes))
    assert input_cache.file_sha256(path) == hashlib.sha256(b"a\n22\n").hexdigest()


def test_geodataframe_round_trip(cfg, tmp_path):
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import Polygon

    src = tmp_path / "g.txt"
    src.write_text("x")

    def read_shapes(path):
        return gpd.GeoDataFrame({"ward_code": ["W1", "W2"], "ward_name": ["North", None]},
                                geometry=[Polygon([(0, 0), (1, 0), (1, 1)]), Polygon([(1, 0), (2, 0), (2, 1)])], crs=4326)

    input_cache.load(cfg, read_shapes, src)
    got = input_cache.load(cfg, read_shapes, src)
    assert input_cache.EVENTS[-1]["action"] == "cached"
    assert got.crs.to_epsg() == 4326 and got.geometry.equals(read_shapes(src).geometry)
    assert got["ward_name"].tolist() == ["North", None]


# ---------------------------------------------------------------------------------------
# Published summaries are the same with and without the cache
# ---------------------------------------------------------------------------------------
def _outputs(month: Path) -> dict:
    files = {}
    for path in sorted(month.rglob("*")):
        if path.suffix == ".csv":
            files[path.relative_to(month).as_posix()] = path.read_text(encoding="utf-8")
        elif path.suffix == ".html":  # the page, but for when it was generated
            files[path.relative_to(month).as_posix()] = re.sub(r"\d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d", "<when>",
                                                               path.read_text(encoding="utf-8"))
        elif path.name == "summary.json":  # every figure except how long the run took
            summary = json.loads(path.read_text(encoding="utf-8"))
            files[path.relative_to(month).as_posix()] = {k: v for k, v in summary.items() if not k.endswith("seconds")}
    return files


@pytest.mark.slow
def test_published_summaries_identical_with_and_without_cache(demo_config, tmp_path, monkeypatch):
    from helpers import config
    from helpers.readers import case_extracts, cin_census, ssda903
    from helpers.reference import geography, postcodes
    from helpers.publishing import run as publish

    # the plain run as before the cache and the kernel server: no cache, each notebook in a child
    # process with a fresh kernel; the cached run with kernels forked from the server (Linux)
    monkeypatch.setenv(input_cache.ENV_DIR, "off")
    monkeypatch.setenv("CSC_KERNELS", "fresh")
    assert publish.main(["--config", str(demo_config), "--month", "2026-10", "--out", str(tmp_path / "plain")]) == 0
    monkeypatch.delenv("CSC_KERNELS")

    # Warm the cache with every reader the notebooks call, so the second run reads every input from it.
    cache = tmp_path / "cache"
    monkeypatch.setenv(input_cache.ENV_DIR, str(cache))
    cfg = config.load_config(demo_config)
    d = cfg["data"]
    for reader, arg in [(cin_census.read_cin_census, d["cin_census"]), (ssda903.read_ssda903, d["ssda903"]),
                        (case_extracts.read_address_extract, d["addresses"]),
                        (geography.read_lsoa_ward_lookup, d["lsoa_ward_lookup"]), (geography.read_lsoa_population, d["population"]),
                        (geography.read_boundaries, d["ward_boundaries"]), (geography.read_boundaries, d["lsoa_boundaries"])]:
        input_cache.load(cfg, reader, arg)
    # the notebooks' exact calls (same arguments, same keys)
    input_cache.load(cfg, geography.read_iod, d["iod"], edition=cfg.get("geography", {}).get("iod_edition"))
    input_cache.load(cfg, postcodes.read_postcode_directory, d["postcode_directory"])
    input_cache.load(cfg, postcodes.read_postcode_directory, d["postcode_directory"], None)
    # Annex A (one call for every report) and the referrals extract, read at the run's extract date
    from helpers.rereferrals import page as rr_page

    rr_page.read_inputs(rr_page.settings(demo_config), month="2026-10")
    stored = {p.name for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert len(stored) == 12
    assert {name.rsplit("-", 1)[0] for name in stored} >= {"read_annex_a", "read_flat_referrals"}

    assert publish.main(["--config", str(demo_config), "--month", "2026-10", "--out", str(tmp_path / "cached")]) == 0
    # the run used the stored entries and built none of its own
    assert {p.name for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")} == stored
    plain, cached = _outputs(tmp_path / "plain" / "2026-10"), _outputs(tmp_path / "cached" / "2026-10")
    assert len(plain) > 20 and sum(k.endswith("summary.json") for k in plain) == len(cfg["publish"]["reports"])   # one per configured report
    assert plain.keys() == cached.keys()
    for name in plain:
        assert plain[name] == cached[name], name
    manifest = json.loads((tmp_path / "cached" / "2026-10" / "manifest.json").read_text())
    assert list(manifest["reports"]) == cfg["publish"]["reports"]   # in the configured order


def test_large_set_stored_beside_the_tables_and_read_back_whole(cfg, tmp_path, monkeypatch):
    # A set above LARGE_SET (lowered to 3 here) goes to its own Parquet file, not into
    # meta.json; it comes back as the same set (and a frozenset as a frozenset). 5 ids by hand.
    monkeypatch.setattr(input_cache, "LARGE_SET", 3)
    path = tmp_path / "ids.txt"
    path.write_text("LA1\nLA2\nLA3\nUPN é4\nLA5\n", encoding="utf-8")

    def read_ids(p):
        values = Path(p).read_text(encoding="utf-8").split("\n")[:-1]
        return {"ids": set(values), "frozen": frozenset(values[:2]), "small": {"x"}}

    first = input_cache.load(cfg, read_ids, path)
    second = input_cache.load(cfg, read_ids, path)
    assert input_cache.EVENTS[-1]["action"] == "cached"
    assert second == first == {"ids": {"LA1", "LA2", "LA3", "UPN é4", "LA5"}, "frozen": frozenset({"LA1", "LA2"}),
                               "small": {"x"}}
    assert isinstance(second["frozen"], frozenset)
    entry = next(p for p in input_cache.cache_dir(cfg).iterdir() if p.is_dir() and not p.name.startswith("."))
    meta = (entry / "meta.json").read_text(encoding="utf-8")
    assert "LA5" not in meta and '"x"' in meta   # the large set is not in meta.json; the small one is


@dataclasses.dataclass
class TwoTables:
    people: pd.DataFrame
    visits: pd.DataFrame
    ledger: Ledger
    identifiers: set[str]
    as_at: str = "2026-03-31"


def read_two(path) -> TwoTables:
    """``read_people`` plus a second table, to leave one of them out."""
    t = read_people(path)
    visits = pd.DataFrame({"id": ["A1", "A1", "C3"], "day": pd.to_datetime(["2026-01-02", "2026-02-03", "2026-03-04"]),
                           "kind": pd.Categorical(["x", "y", "x"]), "n": pd.array([1, None, 3], dtype="Int64")})
    return TwoTables(t.people, visits, t.ledger, t.identifiers)


def _left_out(table: pd.DataFrame, whole: pd.DataFrame) -> None:
    """No rows, the same columns and the same column types as the whole table."""
    assert len(table) == 0
    assert list(table.columns) == list(whole.columns)
    assert [str(t) for t in table.dtypes] == [str(t) for t in whole.dtypes]


@pytest.mark.parametrize("state", ["parsed", "cached", "off"])
def test_keep_returns_the_named_fields_and_empties_the_others(cfg, people_csv, monkeypatch, state):
    whole = read_two(people_csv)
    if state == "cached":
        input_cache.load(cfg, read_two, people_csv)            # stored whole by a load without keep
    if state == "off":
        monkeypatch.setenv(input_cache.ENV_DIR, "off")
    reads = []
    real_read = input_cache._read_entry
    monkeypatch.setattr(input_cache, "_read_entry", lambda *a: reads.append(a) or real_read(*a))
    CALLS.clear()
    part = input_cache.load(cfg, read_two, people_csv, keep=("visits", "ledger"))
    # parsed: the whole result is stored, let go, and the kept tables read back from the entry
    assert len(reads) == (0 if state == "off" else 1)
    assert input_cache.EVENTS[-1]["action"] == {"parsed": "parsed", "cached": "cached", "off": "uncached"}[state]
    assert len(CALLS) == (0 if state == "cached" else 1)
    pd.testing.assert_frame_equal(part.visits, whole.visits, check_exact=True)
    pd.testing.assert_frame_equal(part.ledger.summary(), whole.ledger.summary())   # kept: 3 read, 1 excluded
    _left_out(part.people, whole.people)
    assert part.people.attrs == whole.people.attrs
    assert part.identifiers == set()          # left out: empty, where whole holds {"A1", "B2", "C3"}
    assert whole.identifiers == {"A1", "B2", "C3"}
    assert part.as_at == "2026-03-31"         # plain values are always kept
    if state != "off":
        # the entry still holds the whole result for a load that keeps everything
        _same(input_cache.load(cfg, read_two, people_csv), whole)


def test_keep_ledger_left_out_is_empty(cfg, people_csv):
    input_cache.load(cfg, read_two, people_csv)
    part = input_cache.load(cfg, read_two, people_csv, keep=["people"])
    assert part.ledger.summary().empty and len(part.people) == 3 and len(part.visits) == 0


def test_keep_mistakes_raise_and_leave_the_entry_alone(cfg, people_csv):
    CALLS.clear()
    with pytest.raises(input_cache.KeepError, match="has no field.*visitz"):
        input_cache.load(cfg, read_two, people_csv, keep=("visitz",))      # parsed, stored, then refused
    assert len(CALLS) == 1 and input_cache.EVENTS[-1]["action"] == "parsed"
    folder = input_cache.cache_dir(cfg)
    before = sorted(p.name for p in folder.iterdir() if p.is_dir())
    with pytest.raises(input_cache.KeepError, match="has no field.*visitz"):
        input_cache.load(cfg, read_two, people_csv, keep=("visitz",))
    with pytest.raises(input_cache.KeepError, match="not one string"):
        input_cache.load(cfg, read_two, people_csv, keep="visits")
    with pytest.raises(input_cache.KeepError, match="not a dataclass"):
        input_cache.load(cfg, lambda p: pd.DataFrame({"x": [1]}), people_csv, keep=("x",))
    # the read_two entry is untouched (the table reader's own entry is stored: it is valid)
    assert sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith("read_two")) == before
    CALLS.clear()
    input_cache.load(cfg, read_two, people_csv, keep=("visits",))
    assert not CALLS and input_cache.EVENTS[-1]["action"] == "cached"


@dataclasses.dataclass
class Lists:
    by_number: dict
    as_at: pd.Timestamp
    ledger: Ledger


def read_lists(path, *, as_at=None) -> Lists:
    """A toy reader like Annex A's: a dict keyed by list number, an extract date, a ledger with
    the specification year recognised for the file."""
    CALLS.append(str(path))
    led = Ledger()
    led.note_spec(str(path), "toy return", 2026, 2025, "a note")
    stamp = pd.Timestamp(as_at) if as_at is not None else pd.Timestamp("2026-10-31")
    return Lists({3: pd.DataFrame({"id": ["A"]}), 8: pd.DataFrame({"id": ["B", "C"]})}, stamp, led)


def test_date_arguments_whole_number_keys_and_specs_are_cached(cfg, people_csv):
    CALLS.clear()
    a = input_cache.load(cfg, read_lists, people_csv, as_at=pd.Timestamp("2026-09-30"))
    b = input_cache.load(cfg, read_lists, people_csv, as_at=pd.Timestamp("2026-09-30"))
    # a different date is a different call: parsed, not read from the first entry
    c = input_cache.load(cfg, read_lists, people_csv, as_at=pd.Timestamp("2026-08-31"))
    assert len(CALLS) == 2
    assert [e["action"] for e in input_cache.EVENTS[-3:]] == ["parsed", "cached", "parsed"]
    assert sorted(b.by_number) == [3, 8] and all(isinstance(k, int) for k in b.by_number)
    pd.testing.assert_frame_equal(b.by_number[8], a.by_number[8])
    assert b.as_at == pd.Timestamp("2026-09-30") and c.as_at == pd.Timestamp("2026-08-31")
    pd.testing.assert_frame_equal(b.ledger.specs(), a.ledger.specs())
    assert b.ledger.specs()["spec"].tolist() == ["2024-25"]
    # a datetime.date argument names the same day as a key, and is cached too
    import datetime as dt

    input_cache.load(cfg, read_lists, people_csv, as_at=dt.date(2026, 7, 31))
    input_cache.load(cfg, read_lists, people_csv, as_at=dt.date(2026, 7, 31))
    assert [e["action"] for e in input_cache.EVENTS[-2:]] == ["parsed", "cached"]


def test_dict_with_mixed_keys_is_not_stored(cfg, people_csv):
    def mixed(path):
        return {"a": 1, 2: 3}

    assert input_cache.load(cfg, mixed, people_csv) == {"a": 1, 2: 3}
    assert input_cache.EVENTS[-1]["action"] == "uncached" and "keys" in input_cache.EVENTS[-1]["note"]
