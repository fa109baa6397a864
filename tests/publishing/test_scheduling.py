"""Concurrent notebooks in the publishing run (helpers.publishing.scheduling), on hand-made plans and fake notebooks."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from helpers.publishing import scheduling
from helpers.publishing.run import PublishError

REPORTS = ["locality_sizing", "re_referrals", "placement_sufficiency"]


def test_run_reference_makes_the_report_named_like_its_table_wait():
    cfg = {"publish": {}, "rereferrals": {"locality_map": "run:locality_sizing/tables/ward_to_locality.csv"}}
    assert scheduling.dependencies(cfg, REPORTS) == {"locality_sizing": set(), "re_referrals": {"locality_sizing"},
                                                     "placement_sufficiency": set()}


def test_run_reference_from_an_unmatched_table_makes_every_later_report_wait():
    cfg = {"publish": {}, "extras": {"x": ["run:locality_sizing/tables/t.csv"]}}
    assert scheduling.dependencies(cfg, REPORTS) == {"locality_sizing": set(), "re_referrals": {"locality_sizing"},
                                                     "placement_sufficiency": {"locality_sizing"}}


def test_savings_summary_waits_for_the_reports_it_summarises_without_any_config():
    reports = ["savings_summary", "locality_sizing", "placement_sufficiency"]   # listed first on purpose
    assert scheduling.dependencies({"publish": {}}, reports) == {
        "savings_summary": {"locality_sizing", "placement_sufficiency"}, "locality_sizing": set(),
        "placement_sufficiency": set()}
    # only the reports in the run are waited for
    assert scheduling.dependencies({"publish": {}}, ["placement_sufficiency", "savings_summary"]) == {
        "placement_sufficiency": set(), "savings_summary": {"placement_sufficiency"}}


def test_explicit_after_replaces_inference_and_ignores_reports_not_in_the_run():
    cfg = {"publish": {"after": {"re_referrals": [], "placement_sufficiency": ["locality_sizing", "elsewhere"]}},
           "rereferrals": {"locality_map": "run:locality_sizing/tables/ward_to_locality.csv"}}
    assert scheduling.dependencies(cfg, REPORTS) == {"locality_sizing": set(), "re_referrals": set(),
                                                     "placement_sufficiency": {"locality_sizing"}}
    # --only re_referrals: the locality report is not in the run, so nothing to wait for
    cfg2 = {"publish": {}, "rereferrals": {"locality_map": "run:locality_sizing/tables/ward_to_locality.csv"}}
    assert scheduling.dependencies(cfg2, ["re_referrals"]) == {"re_referrals": set()}


def test_plan_uses_the_previous_runs_peak_memory(tmp_path):
    (tmp_path / "2026-09").mkdir()
    (tmp_path / "2026-09" / "manifest.json").write_text(json.dumps({"reports": {"re_referrals": {"peak_rss_mb": 1000}}}))
    plan = scheduling.plan_run({"publish": {"workers": 8, "notebook_memory_mb": 3000}}, REPORTS, tmp_path)
    assert plan.workers == 3  # never more than the number of reports
    assert plan.memory_mb == {"locality_sizing": 3000.0, "re_referrals": 1200.0, "placement_sufficiency": 3000.0}
    with pytest.raises(PublishError, match="workers"):
        scheduling.plan_run({"publish": {"workers": "many"}}, REPORTS, tmp_path)


def _fake(durations: dict[str, float], fail: str | None = None):
    """start/finish callables that record when each fake notebook ran."""
    events: list[tuple[str, str, float]] = []
    lock = threading.Lock()

    def start(name):
        with lock:
            events.append(("start", name, time.perf_counter()))
        time.sleep(durations[name])
        with lock:
            events.append(("end", name, time.perf_counter()))
        return {"name": name}

    def finish(name, outcome):
        if name == fail:
            raise PublishError(f"{name} broke")
        return [f"  {name}: done"]

    return events, start, finish


def test_two_at_a_time_dependency_respected_logs_in_report_order():
    # placement is short; locality long; re_referrals waits for locality.
    events, start, finish = _fake({"locality_sizing": 0.4, "re_referrals": 0.05, "placement_sufficiency": 0.05})
    plan = scheduling.Plan(workers=2, after={"locality_sizing": set(), "re_referrals": {"locality_sizing"}, "placement_sufficiency": set()},
                           memory_mb={r: 1.0 for r in REPORTS})
    lines: list[str] = []
    order = scheduling.run_scheduled(REPORTS, start, finish, plan, lines.append, available=lambda: 1e9)
    assert order == ["locality_sizing", "placement_sufficiency", "re_referrals"]
    at = {(kind, name): t for kind, name, t in events}
    assert at[("start", "placement_sufficiency")] < at[("end", "locality_sizing")]      # ran side by side
    assert at[("start", "re_referrals")] >= at[("end", "locality_sizing")]              # waited for its input
    done = [line for line in lines if line.endswith(": done")]
    assert done == [f"  {r}: done" for r in REPORTS]                                   # logs in [publish] order


def test_memory_short_runs_one_at_a_time():
    events, start, finish = _fake({r: 0.05 for r in REPORTS})
    plan = scheduling.Plan(workers=3, after={r: set() for r in REPORTS}, memory_mb={r: 2000.0 for r in REPORTS})
    scheduling.run_scheduled(REPORTS, start, finish, plan, lambda _: None, available=lambda: 3000.0)
    # 3000 MB free < 2000 (new) + 2000 (running): never two at once
    starts_ends = [(k, n) for k, n, _ in sorted(events, key=lambda e: e[2])]
    assert starts_ends == [(k, r) for r in REPORTS for k in ("start", "end")]


def test_notebook_failure_is_raised_and_later_reports_not_started():
    events, start, finish = _fake({r: 0.05 for r in REPORTS})

    def failing_start(name):
        outcome = start(name)
        return {**outcome, "error": "cell 3 raised"} if name == "locality_sizing" else outcome

    def checking_finish(name, outcome):
        if outcome.get("error"):
            raise PublishError(f"{name}: {outcome['error']}")
        return finish(name, outcome)

    plan = scheduling.Plan(workers=1, after={r: set() for r in REPORTS}, memory_mb={r: 1.0 for r in REPORTS})
    lines: list[str] = []
    with pytest.raises(PublishError, match="locality_sizing: cell 3 raised"):
        scheduling.run_scheduled(REPORTS, failing_start, checking_finish, plan, lines.append, available=lambda: None)
    assert [n for k, n, _ in events if k == "start"] == ["locality_sizing"]
    assert "  re_referrals: not run (another report failed)" in lines


def test_next_notebook_starts_before_the_page_is_rendered_and_stops_if_rendering_fails():
    # locality's notebook runs, then its page fails to render (finish raises). With one worker,
    # re_referrals has already started (it waits for locality only until its notebook has run):
    # it is reported as stopped, and placement never starts.
    events, start, finish = _fake({r: 0.05 for r in REPORTS}, fail="locality_sizing")
    plan = scheduling.Plan(workers=1, after={"locality_sizing": set(), "re_referrals": {"locality_sizing"},
                                             "placement_sufficiency": set()}, memory_mb={r: 1.0 for r in REPORTS})
    lines: list[str] = []
    with pytest.raises(PublishError, match="locality_sizing broke"):
        scheduling.run_scheduled(REPORTS, start, finish, plan, lines.append, available=lambda: None)
    assert [n for k, n, _ in events if k == "start"] == ["locality_sizing", "re_referrals"]
    assert "  re_referrals: stopped (another report failed)" in lines
    assert "  placement_sufficiency: not run (another report failed)" in lines


def test_dependent_starts_while_the_page_it_waits_for_is_rendered():
    events, start, _ = _fake({"locality_sizing": 0.05, "re_referrals": 0.05, "placement_sufficiency": 0.05})
    rendered: dict[str, float] = {}

    def slow_finish(name, outcome):
        time.sleep(0.3 if name == "locality_sizing" else 0)
        rendered[name] = time.perf_counter()
        return [f"  {name}: done"]

    plan = scheduling.Plan(workers=1, after={"locality_sizing": set(), "re_referrals": {"locality_sizing"},
                                             "placement_sufficiency": set()}, memory_mb={r: 1.0 for r in REPORTS})
    lines: list[str] = []
    scheduling.run_scheduled(REPORTS, start, slow_finish, plan, lines.append, available=lambda: None)
    at = {(kind, name): t for kind, name, t in events}
    assert at[("start", "re_referrals")] < rendered["locality_sizing"]   # started during the 0.3 s render
    assert at[("start", "re_referrals")] >= at[("end", "locality_sizing")]
    assert [line for line in lines if line.endswith(": done")] == [f"  {r}: done" for r in REPORTS]


def test_early_files_come_from_run_references_only():
    cfg = {"publish": {}, "rereferrals": {"locality_map": "run:locality_sizing/tables/block_to_locality.csv"}}
    after = scheduling.dependencies(cfg, REPORTS)
    assert scheduling.early_files(cfg, REPORTS, after) == {
        "re_referrals": {"locality_sizing": {"tables/block_to_locality.csv"}}}
    # an explicit wait means "until it finishes": no early start
    cfg_after = {**cfg, "publish": {"after": {"re_referrals": ["locality_sizing"]}}}
    assert scheduling.early_files(cfg_after, REPORTS, scheduling.dependencies(cfg_after, REPORTS)) == {}
    # a reference naming no file, or leaving the report's folder, waits for the whole report
    for value in ("run:locality_sizing", "run:locality_sizing/../x.csv"):
        cfg_whole = {"publish": {}, "rereferrals": {"locality_map": value}}
        assert scheduling.early_files(cfg_whole, REPORTS, scheduling.dependencies(cfg_whole, REPORTS)) == {}
    plan = scheduling.plan_run(cfg, REPORTS, Path("/nonexistent"))
    assert "re_referrals after locality_sizing (tables/block_to_locality.csv)" in plan.describe()


def test_waiting_report_starts_once_the_file_it_reads_is_written(tmp_path):
    # locality writes its table 0.1 s in and runs 0.6 s in all; re_referrals (reads the table)
    # starts as soon as the table exists (and a worker is free), before locality ends.
    events: list[tuple[str, str, float]] = []
    lock = threading.Lock()
    durations = {"locality_sizing": 0.6, "re_referrals": 0.05, "placement_sufficiency": 0.05}

    def start(name):
        with lock:
            events.append(("start", name, time.perf_counter()))
        if name == "locality_sizing":
            time.sleep(0.1)
            (tmp_path / name / "tables").mkdir(parents=True)
            (tmp_path / name / "tables" / "block_to_locality.csv").write_text("block_code,locality\n")
            time.sleep(durations[name] - 0.1)
        else:
            time.sleep(durations[name])
        with lock:
            events.append(("end", name, time.perf_counter()))
        return {}

    plan = scheduling.Plan(workers=2, after={"locality_sizing": set(), "re_referrals": {"locality_sizing"},
                                             "placement_sufficiency": set()},
                           memory_mb={r: 1.0 for r in REPORTS},
                           early={"re_referrals": {"locality_sizing": {"tables/block_to_locality.csv"}}})
    lines: list[str] = []
    scheduling.run_scheduled(REPORTS, start, lambda n, o: [f"  {n}: done"], plan, lines.append,
                             available=lambda: 1e9, output_of=lambda name: tmp_path / name)
    at = {(kind, name): t for kind, name, t in events}
    assert at[("start", "re_referrals")] < at[("end", "locality_sizing")]     # started early
    assert [line for line in lines if line.endswith(": done")] == [f"  {r}: done" for r in REPORTS]
    # without output_of (or without the file) the same plan waits for the whole report
    events.clear()
    (tmp_path / "locality_sizing" / "tables" / "block_to_locality.csv").unlink()
    (tmp_path / "locality_sizing" / "tables").rmdir()
    scheduling.run_scheduled(REPORTS, start, lambda n, o: [], plan, lambda _: None, available=lambda: 1e9)
    at = {(kind, name): t for kind, name, t in events}
    assert at[("start", "re_referrals")] >= at[("end", "locality_sizing")]


def test_threads_import_papermill_and_jupyter_client_one_at_a_time(monkeypatch):
    # Two threads importing jupyter_client at once can get a partially initialised module
    # (seen in a benchmark run); the publishing run's threads import under one lock.
    from helpers.publishing import kernels
    from helpers.publishing import run as publish

    lock = threading.RLock()
    lock.acquire()
    monkeypatch.setattr(publish, "IMPORT_LOCK", lock)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (publish.import_once("json"), done.set()))
    thread.start()
    assert not done.wait(0.3)          # waits while another thread holds the lock
    lock.release()
    assert done.wait(5)
    thread.join()
    # a notebook's thread takes it before making its kernel manager and before papermill
    calls = []

    def record(*modules):
        calls.append(modules)
        raise RuntimeError("stop here")

    monkeypatch.setattr(publish, "import_once", record)
    with pytest.raises(RuntimeError, match="stop here"):
        scheduling.run_notebook_forked(Path("a.ipynb"), Path("b.ipynb"), {}, "k", Path("."), {}, Path("x.log"), None)
    with pytest.raises(RuntimeError, match="stop here"):
        publish.execute(Path("a.ipynb"), Path("b.ipynb"), {}, "k", Path("."))
    assert calls == [kernels.MANAGER_MODULES, ("nbformat", "papermill")]
