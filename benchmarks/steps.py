"""Benchmark steps. Each runs in a fresh interpreter and prints one JSON line.

Usage (the harness calls this; you rarely need to)::

    python -m benchmarks.steps STEP --scale S

``prepare`` generates the demo data for a scale (once) and caches the tables later steps use;
every other step loads its inputs, records the RSS, times one operation, and prints::

    {"seconds": ..., "peak_rss_mb": ..., "rss_before_mb": ..., "extra": {...}}

``peak_rss_mb`` is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end of the step (the
whole process, input loading included); ``rss_before_mb`` is the RSS once the inputs are loaded,
just before the timed operation.

Data (git-ignored): ``data/bench/scale{S}/`` is ``helpers.demo.generate(seed=1, years=5,
scale=S, faults="none")``; ``data/bench/demo/`` is the demo council as published (seed 1,
scale 1, faults "normal"); ``data/bench/cache/`` holds pickled inputs.
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "bench"
CACHE = DATA / "cache"
SEED = 1

#: Referral-table columns kept in the cache (what the re-referral measure needs).
REFERRAL_COLUMNS = ["referral_id", "child_id", "referral_date", "closure_date", "closure_reason",
                    "referral_nfa", "has_cin_plan", "has_cp_plan"]

#: At or above this scale the referrals cache is built from ``referrals_flat.csv`` (the same
#: referrals as the XML, data_model 1.4) with a plain pandas read: reading ~5 GB of XML with
#: the CIN reader would alone take longer than the whole benchmark budget.
FLAT_CACHE_FROM_SCALE = 100


def scale_name(scale: float) -> str:
    return f"{scale:g}"


def data_dir(scale: float) -> Path:
    return DATA / f"scale{scale_name(scale)}"


def rss_mb() -> float:
    """Current resident set size in MB (psutil when installed, else /proc/self/status)."""
    try:
        import psutil
    except ImportError:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024
        return float("nan")
    return psutil.Process().memory_info().rss / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def emit(seconds: float, rss_before: float, **extra) -> None:
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb(), "rss_before_mb": rss_before,
                      "extra": extra}, default=float))


# ---------------------------------------------------------------------------------------
# Data preparation (untimed, once per scale)
# ---------------------------------------------------------------------------------------


def ensure_generated(out: Path, scale: float, faults: str) -> float:
    """Generate demo data into ``out`` unless a complete copy is there; returns seconds spent."""
    marker = out / ".complete"
    if marker.is_file():
        return 0.0
    from helpers.demo import generate

    t0 = time.perf_counter()
    generate(out, seed=SEED, years=5, scale=scale, faults=faults)
    seconds = time.perf_counter() - t0
    marker.write_text(f"{seconds:.1f}\n")
    return seconds


def cin_files(scale: float) -> list[Path]:
    return sorted((data_dir(scale) / "cin").glob("CIN_census_*.xml"))


def latest_complete_year(scale: float) -> int:
    from helpers.rereferrals.measure import latest_complete_year as lcy

    meta = json.loads((data_dir(scale) / "council.json").read_text())
    return lcy(meta["as_at"])


def cin_read_files(scale: float, one_year_from: float) -> list[Path]:
    """Files the CIN read step reads: all years below ``one_year_from``, else the latest
    complete collection year's file only."""
    files = cin_files(scale)
    if scale < one_year_from:
        return files
    year = latest_complete_year(scale)
    return [p for p in files if p.name == f"CIN_census_{year}.xml"]


def fast_flat_referrals(path: Path) -> pd.DataFrame:
    """The referrals table (REFERRAL_COLUMNS) from a flat referrals CSV, read with plain pandas.
    ``has_cin_plan``/``has_cp_plan`` are unknown in the flat export (False), as in
    ``helpers.readers.case_extracts.read_flat_referrals``; they do not affect the re-referral flag."""
    df = pd.read_csv(path, usecols=["LAchildID", "ReferralDate", "ClosureDate", "ReasonForClosure", "ReferralNFA"],
                     dtype=str, keep_default_na=False)
    out = pd.DataFrame({
        "child_id": df["LAchildID"].str.strip(),
        "referral_date": pd.to_datetime(df["ReferralDate"], format="%d/%m/%Y"),
        "closure_date": pd.to_datetime(df["ClosureDate"].replace("", None), format="%d/%m/%Y"),
        "closure_reason": df["ReasonForClosure"].str.strip().replace("", None),
        "referral_nfa": df["ReferralNFA"].str.strip().str.lower().eq("true"),
        "has_cin_plan": False, "has_cp_plan": False,
    })
    out.insert(0, "referral_id", out["child_id"] + "|" + out["referral_date"].dt.strftime("%Y-%m-%d"))
    out = out.drop_duplicates(["child_id", "referral_date"], keep="last").reset_index(drop=True)
    return out[REFERRAL_COLUMNS]


def referrals_cache(scale: float) -> Path:
    return CACHE / f"referrals_scale{scale_name(scale)}.pkl"


def ssda903_cache(scale: float) -> Path:
    return CACHE / f"ssda903_scale{scale_name(scale)}.pkl"


def geography_cache(n_blocks: int) -> Path:
    return CACHE / f"blocks_{n_blocks}.pkl"


def prepare(scale: float) -> dict:
    """Generate data for a scale and cache the referrals table and SSDA903 tables."""
    info: dict = {}
    CACHE.mkdir(parents=True, exist_ok=True)
    info["generate_seconds"] = ensure_generated(data_dir(scale), scale, "none")
    rc = referrals_cache(scale)
    if not rc.is_file():
        t0 = time.perf_counter()
        if scale >= FLAT_CACHE_FROM_SCALE:
            ref = fast_flat_referrals(data_dir(scale) / "referrals_flat.csv")
            source = "referrals_flat.csv (pandas read)"
        else:
            from helpers.readers.cin_census import read_cin_census

            ref = read_cin_census(cin_files(scale)).referrals[REFERRAL_COLUMNS]
            source = "CIN census XML (read_cin_census, all years)"
        with open(rc, "wb") as fh:
            pickle.dump({"referrals": ref, "source": source}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        info["referrals_cache_seconds"] = time.perf_counter() - t0
    sc = ssda903_cache(scale)
    if not sc.is_file():
        from helpers.readers.ssda903 import read_ssda903

        t0 = time.perf_counter()
        d = read_ssda903(data_dir(scale) / "ssda903")
        with open(sc, "wb") as fh:
            pickle.dump({"episodes": d.episodes, "header": d.header}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        info["ssda903_cache_seconds"] = time.perf_counter() - t0
    return info


def prepare_geography(n_blocks: int) -> dict:
    """Synthetic contiguous building blocks (``make_geography(n_wards=n)``), their contiguity
    graph and a workload per block (seeded gamma, heavier towards the 'town'), cached."""
    path = geography_cache(n_blocks)
    if path.is_file():
        return {}
    from helpers.demo import make_geography
    from helpers.reference.geography import contiguity_graph

    CACHE.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    wards, lsoas = make_geography(n_wards=n_blocks, seed=SEED)
    graph = contiguity_graph(wards, "WD22CD")
    rng = np.random.default_rng([SEED, n_blocks])
    town = lsoas.groupby("WD22CD")["town_distance"].mean().reindex(wards["WD22CD"]).to_numpy()
    workload = pd.Series(rng.gamma(4.0, 10.0, n_blocks) * (1.5 - town.clip(0, 1)), index=wards["WD22CD"].to_numpy(),
                         name="workload")
    with open(path, "wb") as fh:
        pickle.dump({"graph": graph, "workload": workload}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return {"geography_seconds": time.perf_counter() - t0}


def prepare_publish() -> dict:
    """The demo council (seed 1, scale 1, faults "normal": the same files as ``data/demo``) and
    a copy of ``configs/demo.toml`` whose data paths point at it (absolute paths)."""
    out = DATA / "demo"
    info = {"generate_seconds": ensure_generated(out, 1.0, "normal")}
    text = (ROOT / "configs" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('"data/demo/', f'"{out.as_posix()}/')
    text = text.replace('"../shared/', f'"{(ROOT.parent / "shared").as_posix()}/')
    (DATA / "publish_demo.toml").write_text(text, encoding="utf-8")
    return info


# ---------------------------------------------------------------------------------------
# Timed steps
# ---------------------------------------------------------------------------------------


def step_cin_read(scale: float, one_year_from: float) -> None:
    from helpers.readers.cin_census import read_cin_census

    files = cin_read_files(scale, one_year_from)
    mb = sum(p.stat().st_size for p in files) / 1e6
    before = rss_mb()
    t0 = time.perf_counter()
    cin = read_cin_census(files)
    seconds = time.perf_counter() - t0
    emit(seconds, before, mb=mb, files=[p.name for p in files], mb_per_s=mb / seconds,
         referrals=len(cin.referrals), children=len(cin.children))


def step_cin_bare(scale: float, one_year_from: float) -> None:
    from helpers.readers.cin_census import bare_iterparse

    files = cin_read_files(scale, one_year_from)
    mb = sum(p.stat().st_size for p in files) / 1e6
    before = rss_mb()
    t0 = time.perf_counter()
    n = sum(bare_iterparse(p) for p in files)
    seconds = time.perf_counter() - t0
    emit(seconds, before, mb=mb, files=[p.name for p in files], mb_per_s=mb / seconds, elements=n)


def load_referrals(scale: float, shuffled: bool = False) -> tuple[pd.DataFrame, str]:
    """The cached referrals table; ``shuffled`` puts rows in a fixed random order (seed 0), the
    hard case where child ids arrive unsorted as plain strings (as from an unsorted export)."""
    with open(referrals_cache(scale), "rb") as fh:
        d = pickle.load(fh)
    ref = d["referrals"]
    if shuffled:
        ref = ref.iloc[np.random.default_rng(0).permutation(len(ref))].reset_index(drop=True)
    return ref, d["source"] + (", rows shuffled" if shuffled else "")


def helpers_rereferrals(ref: pd.DataFrame, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bundle's computation: DfE flags (defaults of flag_rereferrals) and the year's rates."""
    from helpers.rereferrals import measure as rr

    flags = rr.flag_rereferrals(ref)
    start, end = rr.collection_year_bounds(year)
    rates = rr.rereferral_rates(flags, start, end)
    return flags, rates


#: The same computation in DuckDB SQL. Rules reproduced from ``flag_rereferrals`` defaults
#: (window=12, unit="months", inclusive=True, measure_from="referral"): dates to the day; the
#: previous referral is the child's latest earlier one in (date, referral_id) order, so a
#: same-day second referral is a re-referral (0 days); re-referral when the referral date is on
#: or before the previous date + 12 calendar months (INTERVAL 12 MONTH clamps to the month's
#: end, 29 Feb -> 28 Feb, like ``shift_days``); every referral counts, NFA included.
DUCKDB_FLAGS_SQL = """
CREATE OR REPLACE TEMP TABLE flags AS
SELECT row_nr, child_id, d AS referral_date,
       coalesce(d <= lag(d) OVER w + INTERVAL 12 MONTH, false) AS is_rereferral
FROM (SELECT row_nr, child_id, referral_id, CAST(referral_date AS DATE) AS d FROM ref)
WINDOW w AS (PARTITION BY child_id ORDER BY d, referral_id)
"""

DUCKDB_RATES_SQL = """
WITH p AS (SELECT child_id, is_rereferral FROM flags WHERE referral_date BETWEEN ? AND ?),
     c AS (SELECT child_id, bool_or(is_rereferral) AS any_re FROM p GROUP BY child_id)
SELECT (SELECT count(*) FROM p) AS referrals,
       (SELECT count(*) FILTER (WHERE is_rereferral) FROM p) AS rereferrals,
       (SELECT count(*) FROM c) AS children_referred,
       (SELECT count(*) FILTER (WHERE any_re) FROM c) AS children_rereferred
"""


def duckdb_rereferrals(ref: pd.DataFrame, year: int):
    """DuckDB over the same in-memory frame: flags (row_nr order) and the year's rates."""
    import duckdb

    from helpers.rereferrals.measure import collection_year_bounds

    start, end = collection_year_bounds(year)
    con = duckdb.connect()
    con.register("ref", ref)
    con.execute(DUCKDB_FLAGS_SQL)
    flags = con.execute("SELECT row_nr, is_rereferral FROM flags ORDER BY row_nr").fetchnumpy()
    r = con.execute(DUCKDB_RATES_SQL, [start.date(), end.date()]).fetchone()
    con.close()
    rates = dict(zip(["referrals", "rereferrals", "children_referred", "children_rereferred"], map(int, r)))
    rates["rereferral_rate"] = rates["rereferrals"] / rates["referrals"] if rates["referrals"] else float("nan")
    rates["child_rereferral_rate"] = (rates["children_rereferred"] / rates["children_referred"]
                                      if rates["children_referred"] else float("nan"))
    return flags, rates


def _with_row_nr(ref: pd.DataFrame) -> pd.DataFrame:
    out = ref.copy(deep=False)
    out["row_nr"] = np.arange(len(out), dtype=np.int64)
    return out


def _rates_dict(rates: pd.DataFrame) -> dict:
    row = rates.iloc[0]
    return {k: (int(row[k]) if "rate" not in k else float(row[k]))
            for k in ["referrals", "rereferrals", "children_referred", "children_rereferred",
                      "rereferral_rate", "child_rereferral_rate"]}


def step_rereferral(scale: float, shuffled: bool = False) -> None:
    from helpers.rereferrals import measure as rereferrals  # noqa: F401  (import outside the timed part)

    ref, source = load_referrals(scale, shuffled)
    year = latest_complete_year(scale)
    before = rss_mb()
    t0 = time.perf_counter()
    flags, rates = helpers_rereferrals(ref, year)
    seconds = time.perf_counter() - t0
    emit(seconds, before, referrals_total=len(ref), year=year, source=source, **_rates_dict(rates))


def step_rereferral_duckdb(scale: float, shuffled: bool = False) -> None:
    import duckdb  # noqa: F401

    ref, source = load_referrals(scale, shuffled)
    year = latest_complete_year(scale)
    ref = _with_row_nr(ref)
    before = rss_mb()
    t0 = time.perf_counter()
    flags, rates = duckdb_rereferrals(ref, year)
    seconds = time.perf_counter() - t0
    emit(seconds, before, referrals_total=len(ref), year=year, source=source,
         threads=int(duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]), **rates)


def boundary_cases() -> pd.DataFrame:
    """Hand-made histories on the rule's edges: same day, exactly 12 months, one day over,
    29 February, month ends, a first referral, NFA referrals (every one counts)."""
    hist = {
        "same_day": ["2024-05-01", "2024-05-01"],
        "exact_12m": ["2023-06-15", "2024-06-15"],
        "over_by_a_day": ["2023-06-15", "2024-06-16"],
        "leap_day": ["2024-02-29", "2025-02-28", "2026-03-01"],
        "leap_day_over": ["2024-02-29", "2025-03-01"],
        "month_end": ["2023-03-31", "2024-03-31", "2025-04-01"],
        "chain": ["2022-01-10", "2022-12-01", "2023-11-30", "2025-01-01"],
        "single": ["2024-07-07"],
    }
    rows = []
    for child, dates in hist.items():
        for i, d in enumerate(dates):
            rows.append({"child_id": child, "referral_date": pd.Timestamp(d), "closure_date": pd.NaT,
                         "closure_reason": None, "referral_nfa": i % 2 == 0, "has_cin_plan": False,
                         "has_cp_plan": False})
    df = pd.DataFrame(rows)
    df.insert(0, "referral_id", df["child_id"] + "|" + df["referral_date"].dt.strftime("%Y-%m-%d"))
    return df


def step_rereferral_check(scale: float) -> None:
    """Both computations on the same frame; exit 3 when any flag or rate count differs."""
    from helpers.rereferrals import measure as rr

    edge = _with_row_nr(boundary_cases())
    edge_ours = rr.flag_rereferrals(edge).sort_values("row_nr")["is_rereferral"].to_numpy(dtype=bool)
    edge_duck = duckdb_rereferrals(edge, 2025)[0]["is_rereferral"]
    edge_ok = bool((edge_ours == edge_duck).all())
    ref, source = load_referrals(scale)
    year = latest_complete_year(scale)
    ref = _with_row_nr(ref)
    before = rss_mb()
    t0 = time.perf_counter()
    flags, rates = helpers_rereferrals(ref, year)
    dflags, drates = duckdb_rereferrals(ref, year)
    seconds = time.perf_counter() - t0
    ours = np.zeros(len(ref), dtype=bool)
    ours[flags["row_nr"].to_numpy()] = flags["is_rereferral"].to_numpy(dtype=bool)
    theirs = np.zeros(len(ref), dtype=bool)
    theirs[dflags["row_nr"]] = dflags["is_rereferral"]
    differ = ours != theirs
    # same-day duplicates have the same referral_id, so their order (and which copy is flagged)
    # is arbitrary in both: compare flags per (child, date) as well
    key = ref["referral_id"].to_numpy()
    per_key_ours = pd.Series(ours).groupby(key).sum()
    per_key_theirs = pd.Series(theirs).groupby(key).sum()
    key_differ = int((per_key_ours != per_key_theirs).sum())
    r = _rates_dict(rates)
    count_keys = ["referrals", "rereferrals", "children_referred", "children_rereferred"]
    rates_differ = [k for k in count_keys if r[k] != drates[k]]
    # the same referrals in random row order: the bundle's flags must not change at all
    shuffled, _ = load_referrals(scale, shuffled=True)
    shuffled = shuffled.merge(ref[["referral_id", "row_nr"]].drop_duplicates("referral_id"), on="referral_id", how="left") \
        if ref["referral_id"].is_unique else None
    shuffled_identical = None
    if shuffled is not None:
        sflags, srates = helpers_rereferrals(shuffled.drop(columns="row_nr"), year)
        s_ours = np.zeros(len(ref), dtype=bool)
        s_ours[shuffled["row_nr"].to_numpy()] = sflags["is_rereferral"].to_numpy(dtype=bool)
        shuffled_identical = bool((s_ours == ours).all()) and _rates_dict(srates) == r
    identical = key_differ == 0 and not rates_differ and edge_ok and shuffled_identical is not False
    examples = ref.loc[differ, ["child_id", "referral_date"]].head(5).astype(str).to_dict("records") if differ.any() else []
    emit(seconds, before, identical=identical, boundary_cases_identical=edge_ok, shuffled_identical=shuffled_identical,
         boundary_flags=int(edge_ours.sum()), referrals_total=len(ref), rereferrals_total=int(ours.sum()),
         rows_differ=int(differ.sum()), keys_differ=key_differ, rates_differ=rates_differ,
         helpers=r, duckdb=drates, examples=examples, source=source)
    if not identical:
        sys.exit(3)


def step_forecast(scale: float) -> None:
    from helpers.placements import forecast

    with open(ssda903_cache(scale), "rb") as fh:
        d = pickle.load(fh)
    episodes, header = d["episodes"], d["header"]
    meta = json.loads((data_dir(scale) / "council.json").read_text())
    period_end = pd.Timestamp(meta["as_at"])
    ref_start = period_end - pd.DateOffset(months=24) + pd.Timedelta(days=1)
    before = rss_mb()
    t0 = time.perf_counter()
    model = forecast.fit_model(episodes, header, ref_start, period_end)
    fit_seconds = time.perf_counter() - t0
    fc = forecast.project(model, 5, interval=0.9, n_draws=200)
    seconds = time.perf_counter() - t0
    total = fc[(fc["group"] == "Total")].iloc[-1]
    emit(seconds, before, fit_seconds=fit_seconds, project_seconds=seconds - fit_seconds,
         episodes=len(episodes), in_care_at_start=float(model.stock.sum()), total_in_5_years=float(total["forecast"]),
         source="demo SSDA903 CSVs (read_ssda903), reference window 2 years, 200 parameter draws")


def step_locality(n_blocks: int) -> None:
    from helpers.localities import model as locality

    with open(geography_cache(n_blocks), "rb") as fh:
        d = pickle.load(fh)
    graph, workload = d["graph"], d["workload"]
    before = rss_mb()
    t0 = time.perf_counter()
    part = locality.partition_localities(graph, workload, 21, seed=0)
    seconds = time.perf_counter() - t0
    bal = locality.balance_metrics(part, workload)
    contig = locality.contiguity_check(graph, part)
    emit(seconds, before, blocks=n_blocks, ratio_max_min=float(bal["ratio_max_min"]),
         all_contiguous=bool(contig["contiguous"].all()),
         start_method=part.attrs.get("start_method"), moves=part.attrs.get("moves"))


#: [data] keys the national publish run may leave out when the generated data lacks them.
OPTIONAL_NATIONAL_INPUTS = ("annex_a",)


def prepare_publish_national(scale: float = 150.0) -> dict:
    """A copy of configs/demo.toml pointing at ``data/bench/scale{S}`` (faults "none")."""
    out = data_dir(scale)
    info = {"generate_seconds": ensure_generated(out, scale, "none")}
    text = (ROOT / "configs" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('"data/demo/', f'"{out.as_posix()}/')
    text = text.replace('"../shared/', f'"{(ROOT.parent / "shared").as_posix()}/')
    # Optional inputs that data generated by an earlier generator version lacks (e.g. Annex A
    # lists) are left out of the national run rather than regenerating ~6 GB; recorded in info.
    lines, info["left_out"] = [], []
    for line in text.splitlines():
        key, _, rest = line.partition("=")
        value = rest.split("#")[0].strip().strip('"')
        if key.strip() in OPTIONAL_NATIONAL_INPUTS and value.startswith(out.as_posix()) and not Path(value).exists():
            info["left_out"].append(key.strip())
            line = "# " + line + "  (not in the generated data: left out)"
        lines.append(line)
    text = "\n".join(lines) + "\n"
    (DATA / f"publish_{scale_name(scale)}.toml").write_text(text, encoding="utf-8")
    info["input_mb"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    return info


def step_locality_sweep(n_blocks: int, warm: bool) -> None:
    """Balance sweep 12..30 localities on one graph: a fresh partition per number (anchor) or each
    warm-started from its neighbour's (``locality.sweep_plans``), same restarts."""
    from helpers.localities import model as locality

    with open(geography_cache(n_blocks), "rb") as fh:
        d = pickle.load(fh)
    graph, workload = d["graph"], d["workload"]
    ks = list(range(12, 31))
    before = rss_mb()
    t0 = time.perf_counter()
    if warm:
        sweep = locality.sweep_plans(graph, workload, ks, seed=0, restarts=4)
    else:
        sweep = locality.sweep_localities(graph, workload, ks, seed=0)
    seconds = time.perf_counter() - t0
    emit(seconds, before, blocks=n_blocks, counts=len(ks), worst_ratio=float(sweep["ratio_max_min"].max()),
         mean_ratio=float(sweep["ratio_max_min"].mean()), all_contiguous=bool(sweep["all_contiguous"].all()))


BARE_NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "execution_count": None, "outputs": [],
         "source": "output_dir = ''"},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "import pandas as pd\nimport altair as alt\npd.DataFrame({'x': [1, 2]}).sum()"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def step_papermill_bare(n: int = 3) -> None:
    """The anchor for the publish run: papermill runs ``n`` trivial notebooks (import pandas and
    altair, sum two numbers) one after another, each in a fresh kernel, as the publish run
    would if notebooks did nothing."""
    import papermill

    folder = DATA / "bare"
    folder.mkdir(parents=True, exist_ok=True)
    nb = folder / "bare.ipynb"
    nb.write_text(json.dumps(BARE_NOTEBOOK), encoding="utf-8")
    from helpers.publishing.run import ensure_kernelspec

    kernel = ensure_kernelspec(folder / "jupyter")  # the publish run's own kernelspec, same interpreter
    before = rss_mb()
    t0 = time.perf_counter()
    for i in range(n):
        papermill.execute_notebook(str(nb), str(folder / f"out{i}.ipynb"), parameters={"output_dir": ""},
                                   kernel_name=kernel, progress_bar=False, log_output=False)
    emit(time.perf_counter() - t0, before, notebooks=n)


def _tree_rss(root_pid: int) -> tuple[float, list[tuple[int, float, str]]]:
    """Resident memory of a process and all its descendants now (Linux /proc), MB, and each
    process's share: (pid, MB, command line, shortened)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = resource.getpagesize()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            rss[int(entry.name)] = int((entry / "statm").read_text().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    total, stack, parts = 0, [root_pid], []
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        parts.append(pid)
        stack.extend(children.get(pid, []))
    shares = []
    for pid in parts:
        try:
            cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmd = ""
        shares.append((pid, round(rss.get(pid, 0) / 2**20), cmd.strip()[-80:]))
    return total / 2**20, shares


def _tree_rss_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants now (Linux /proc), MB."""
    return _tree_rss(root_pid)[0]


def step_publish(run_index: int = 0, config: str = "", cache: str = "cold") -> None:
    """Wall time of ``python -m helpers.publishing`` from command to ``index.html``; page sizes;
    peak memory of the whole run (the publish process, its notebook workers and kernels,
    sampled every 0.2 s). ``cache``: ``cold`` (an empty input cache: every input parsed once),
    ``warm`` (the cache a previous run left: inputs unchanged since) or ``off``."""
    import os
    import shutil
    import threading

    config_path = Path(config) if config else DATA / "publish_demo.toml"
    tag = config_path.stem
    out = DATA / "publish_out" / f"{tag}-{cache}-run{run_index}"
    if out.exists():
        shutil.rmtree(out)
    cache_dir = DATA / "input_cache" / tag
    if cache == "cold" and cache_dir.exists():
        shutil.rmtree(cache_dir)
    env = {**os.environ, "CSC_INPUT_CACHE": "off" if cache == "off" else str(cache_dir)}
    cmd = [sys.executable, "-m", "helpers.publishing.run", "--config", str(config_path), "--out", str(out)]
    before = rss_mb()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak: list[Any] = [0.0, 0.0, []]  # MB, seconds into the run, each process's share then

    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            total, shares = _tree_rss(proc.pid)
            if total > peak[0]:
                peak[:] = [total, time.perf_counter() - t0, sorted(shares, key=lambda x: -x[1])[:8]]
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        print(stdout[-3000:], file=sys.stderr)
        print(stderr[-6000:], file=sys.stderr)
        sys.exit(proc.returncode or 1)
    if not (out / "index.html").is_file():
        print(f"no index.html in {out}", file=sys.stderr)
        sys.exit(4)
    pages = {f"{p.parent.name}/{p.name}": p.stat().st_size / 1e6 for p in sorted(out.glob("*/*.html"))}
    manifest = json.loads(next(out.glob("*/manifest.json")).read_text())
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    emit(seconds, before, pages_mb=pages, max_page_mb=max(pages.values()) if pages else float("nan"),
         largest_child_peak_rss_mb=child_peak, tree_peak_rss_mb=peak[0], tree_peak_at_seconds=round(peak[1], 1),
         tree_peak_processes=peak[2], cache=cache, workers=manifest.get("workers"),
         notebooks={k: {"execute_seconds": v.get("execute_seconds"), "peak_rss_mb": v.get("peak_rss_mb")}
                    for k, v in manifest["reports"].items()},
         log=stdout[-4000:],
         command=" ".join(["python"] + cmd[1:]))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.steps")
    p.add_argument("step")
    p.add_argument("--scale", type=float, default=1.0, help="data scale (for locality: number of blocks)")
    p.add_argument("--one-year-from", type=float, default=100.0,
                   help="CIN read: from this scale on, read only the latest complete year's file")
    p.add_argument("--run-index", type=int, default=0)
    p.add_argument("--config", default="", help="publish: config file (default data/bench/publish_demo.toml)")
    p.add_argument("--notebooks", type=int, default=3, help="papermill_bare: how many trivial notebooks")
    p.add_argument("--cache", default="cold", choices=["cold", "warm", "off"], help="publish: input cache state")
    a = p.parse_args(argv)
    s = a.scale
    if a.step == "prepare":
        t0 = time.perf_counter()
        info = prepare(s)
        emit(time.perf_counter() - t0, rss_mb(), **info)
    elif a.step == "prepare_geography":
        t0 = time.perf_counter()
        info = prepare_geography(int(s))
        emit(time.perf_counter() - t0, rss_mb(), **info)
    elif a.step == "prepare_publish":
        t0 = time.perf_counter()
        info = prepare_publish()
        emit(time.perf_counter() - t0, rss_mb(), **info)
    elif a.step == "cin_read":
        step_cin_read(s, a.one_year_from)
    elif a.step == "cin_bare":
        step_cin_bare(s, a.one_year_from)
    elif a.step == "rereferral":
        step_rereferral(s)
    elif a.step == "rereferral_duckdb":
        step_rereferral_duckdb(s)
    elif a.step == "rereferral_shuffled":
        step_rereferral(s, shuffled=True)
    elif a.step == "rereferral_duckdb_shuffled":
        step_rereferral_duckdb(s, shuffled=True)
    elif a.step == "rereferral_check":
        step_rereferral_check(s)
    elif a.step == "forecast":
        step_forecast(s)
    elif a.step == "locality":
        step_locality(int(s))
    elif a.step in ("locality_sweep_fresh", "locality_sweep_warm"):
        step_locality_sweep(int(s), warm=a.step.endswith("warm"))
    elif a.step == "publish":
        step_publish(a.run_index, a.config, a.cache)
    elif a.step == "papermill_bare":
        step_papermill_bare(a.notebooks)
    elif a.step == "prepare_publish_national":
        t0 = time.perf_counter()
        info = prepare_publish_national(s)
        emit(time.perf_counter() - t0, rss_mb(), **info)
    else:
        p.error(f"unknown step {a.step!r}")


if __name__ == "__main__":
    main()
