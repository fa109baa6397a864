"""Run a publishing run's notebooks side by side where the machine allows, in a fixed order on paper.

:func:`plan_run` decides, from the council config, how many notebooks may run at once and which
report must finish before another starts; :func:`run_scheduled` runs them. On Linux
:func:`run_notebook_forked` executes a notebook with papermill in a thread of the publishing run,
its kernel forked from the run's kernel server (:mod:`helpers.publishing.kernels`, which measures
the kernel's peak memory); elsewhere, or with ``CSC_KERNELS=fresh``, :func:`run_notebook` executes
it in a child process that starts a fresh kernel. Either way a crash or an out-of-memory kill of
a kernel fails that notebook, not the publishing run.

Config (``[publish]``, all optional)::

    workers = "auto"             # notebooks at once: "auto" = the number of CPU cores (at most
                                 # the number of reports); 1 runs them one after another
    notebook_memory_mb = 2000    # memory a notebook may need when no earlier run measured it
    after = { re_referrals = ["locality_sizing"] }   # reports that must finish first

Without ``after``, dependencies are inferred from ``run:REPORT/...`` inputs (tables published
earlier in the same run, see :func:`helpers.config.resolve_input`): a ``run:X/...`` value in
config table ``T`` makes the report named like ``T`` (ignoring ``_``, ``-`` and case, e.g.
``[rereferrals]`` -> ``re_referrals``) wait for ``X``; when no report is named like ``T``,
every report listed after ``X`` waits for it. Such a wait ends as soon as ``X`` has written
every file the waiting report reads from it (``X/tables/NAME.csv``: tables are written whole,
by renaming, see :func:`helpers.publishing.safe_output.write_csv`), not only when ``X`` finishes, so a
report that needs one early table of another can start while that one is still running.
Waits given in ``after`` (and the built-in ones) last until the report's notebook has run
without error. Its page is then rendered and checked while the waiting report runs; should that
fail, the waiting report is stopped with the rest of the run. When a notebook ends, the next
ones start before its page is rendered.

Memory: a notebook starts only while the memory the operating system reports as available
(``MemAvailable``, Linux) covers its own need plus the need of every notebook still running.
A notebook's need is its peak memory in the latest earlier run recorded in a manifest under
the output folder (plus a fifth), else ``notebook_memory_mb``. The first notebook always
starts. Where available memory cannot be read, only ``workers`` limits the run.

Logs stay in the order of ``[publish] reports``: each report's lines are printed once it and
every report before it have finished. The manifest lists reports in that order too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

DEFAULT_NOTEBOOK_MB = 2000.0
MEMORY_MARGIN = 1.2


@dataclass
class Plan:
    workers: int
    after: dict[str, set[str]] = field(default_factory=dict)
    memory_mb: dict[str, float] = field(default_factory=dict)
    #: report -> {report it waits for: files (relative to that report's output folder) whose
    #: existence ends the wait early}; see the module docstring
    early: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def describe(self) -> str:
        def waits(r: str, d: str) -> str:
            files = sorted(self.early.get(r, {}).get(d, ()))
            return f"{d} ({', '.join(files)})" if files else d

        deps = "; ".join(f"{r} after {', '.join(waits(r, x) for x in sorted(d))}" for r, d in self.after.items() if d)
        return f"up to {self.workers} notebook(s) at a time" + (f" ({deps})" if deps else "")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _run_references(table: Any, path: tuple[str, ...] = ()):
    """(top-level table, referenced report, file path inside it) for every ``run:REPORT/...``
    string in the config."""
    if isinstance(table, dict):
        for key, value in table.items():
            if isinstance(key, str) and key.startswith("_"):
                continue
            yield from _run_references(value, path + (str(key),))
    elif isinstance(table, (list, tuple)):
        for value in table:
            yield from _run_references(value, path)
    elif isinstance(table, str) and table.startswith("run:"):
        target, _, rest = table[len("run:"):].partition("/")
        if path and target:
            yield path[0], target, rest


#: Reports whose notebooks read other reports' tables from the same run by design (not through a
#: ``run:`` config value): they wait for those reports whenever both are in the run.
BUILT_IN_AFTER = {"savings_summary": ("locality_sizing", "placement_sufficiency")}


def dependencies(cfg: dict[str, Any], reports: list[str]) -> dict[str, set[str]]:
    """Which reports must finish before each report starts (see the module docstring)."""
    after: dict[str, set[str]] = {r: set() for r in reports}
    for report, needs in BUILT_IN_AFTER.items():
        if report in after:
            after[report] |= {n for n in needs if n in after}
    explicit = cfg.get("publish", {}).get("after")
    if isinstance(explicit, dict):
        for report, needs in explicit.items():
            if report in after:
                after[report] = {n for n in ([needs] if isinstance(needs, str) else needs) if n in after and n != report}
    for table, target, _ in _run_references({k: v for k, v in cfg.items() if k != "publish"}):
        if target not in after:
            continue
        named = [r for r in reports if _norm(r) == _norm(table)]
        waiting = named or reports[reports.index(target) + 1:]
        for r in waiting:
            if r != target and not (isinstance(explicit, dict) and r in explicit):
                after[r].add(target)
    return after


def early_files(cfg: dict[str, Any], reports: list[str], after: dict[str, set[str]]) -> dict[str, dict[str, set[str]]]:
    """For waits inferred from ``run:X/FILE`` values only: {report: {X: {FILE, ...}}}. A report
    that also waits for ``X`` for another reason (``after``, built-in) is left out: it waits
    for ``X`` to finish. A ``run:`` value naming no file (``run:X``) also means "finish"."""
    explicit = cfg.get("publish", {}).get("after")
    whole: dict[str, set[str]] = {r: {n for n in BUILT_IN_AFTER.get(r, ()) if n in after} for r in reports}
    if isinstance(explicit, dict):
        for report, needs in explicit.items():
            if report in whole:
                whole[report] |= set([needs] if isinstance(needs, str) else needs)
    early: dict[str, dict[str, set[str]]] = {}
    for table, target, rest in _run_references({k: v for k, v in cfg.items() if k != "publish"}):
        if target not in after:
            continue
        named = [r for r in reports if _norm(r) == _norm(table)]
        for r in named or reports[reports.index(target) + 1:]:
            if target in after.get(r, set()) and target not in whole[r]:
                early.setdefault(r, {}).setdefault(target, set()).add(rest.strip("/"))
    # a file-less reference or a path leaving the report's folder: wait for the whole report
    for r, deps in list(early.items()):
        for target, files in list(deps.items()):
            if any(not f or f.startswith("/") or ".." in Path(f).parts for f in files):
                del deps[target]
        if not deps:
            del early[r]
    return early


def previous_peaks(out: Path) -> dict[str, float]:
    """Each report's kernel peak memory (MB) in the latest manifest under ``out`` that has it."""
    peaks: dict[str, float] = {}
    manifests = sorted(out.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime, reverse=True) if out.is_dir() else []
    for path in manifests:
        try:
            reports = json.loads(path.read_text(encoding="utf-8")).get("reports", {})
        except (OSError, ValueError):
            continue
        for name, info in reports.items():
            if name not in peaks and isinstance(info, dict) and info.get("peak_rss_mb"):
                peaks[name] = float(info["peak_rss_mb"])
    return peaks


def plan_run(cfg: dict[str, Any], reports: list[str], out: Path) -> Plan:
    publish = cfg.get("publish", {})
    workers = publish.get("workers", "auto")
    if workers in ("auto", "", None, 0):
        workers = os.cpu_count() or 1
    try:
        workers = max(1, min(int(workers), len(reports)))
    except (TypeError, ValueError):
        from helpers.publishing.run import PublishError

        raise PublishError(f"[publish] workers must be a whole number or \"auto\", got {workers!r}") from None
    default = float(publish.get("notebook_memory_mb", DEFAULT_NOTEBOOK_MB))
    peaks = previous_peaks(out)
    memory = {r: peaks[r] * MEMORY_MARGIN if r in peaks else default for r in reports}
    after = dependencies(cfg, reports)
    return Plan(workers=workers, after=after, memory_mb=memory, early=early_files(cfg, reports, after))


def available_mb() -> float | None:
    """Memory available for new work (``MemAvailable`` in /proc/meminfo), or None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


# ----------------------------------------------------------------------------------------
# One notebook in its own process
# ----------------------------------------------------------------------------------------
_PROCS: dict[int, Any] = {}
_PROCS_LOCK = threading.Lock()


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def run_notebook(notebook: Path, executed: Path, parameters: dict[str, Any], kernel: str, cwd: Path,
                 env: dict[str, str], log_path: Path) -> dict[str, Any]:
    """Execute ``notebook`` with papermill in a child process; returns seconds, start and finish
    times, the peak memory of the process and the kernel it ran (MB, where measurable) and
    ``error`` (a message naming the notebook and cell) when it failed."""
    request = log_path.with_suffix(".request.json")
    result_path = log_path.with_suffix(".result.json")
    request.write_text(json.dumps({"notebook": str(notebook), "executed": str(executed), "parameters": parameters,
                                   "kernel": kernel, "cwd": str(cwd), "result": str(result_path)}), encoding="utf-8")
    started, clock = _now(), time.perf_counter()
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from helpers.publishing.scheduling import worker_main; sys.exit(worker_main(sys.argv[1]))", str(request)],
            stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **env}, cwd=str(cwd))
        with _PROCS_LOCK:
            _PROCS[proc.pid] = proc
        peak = None
        try:
            if hasattr(os, "wait4"):
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                # Linux: the largest of the process and its reaped descendants (the kernel), in KiB
                peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
            else:
                proc.wait()
        finally:
            with _PROCS_LOCK:
                _PROCS.pop(proc.pid, None)
    outcome: dict[str, Any] = {"started": started, "finished": _now(), "seconds": time.perf_counter() - clock,
                               "peak_rss_mb": round(peak, 1) if peak else None}
    if result_path.is_file():
        outcome.update(json.loads(result_path.read_text(encoding="utf-8")))
    else:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:] if log_path.is_file() else ""
        killed = " (killed: out of memory?)" if proc.returncode in (-9, 137) else ""
        outcome["error"] = (f"notebook {notebook.name}: the process running it stopped with status {proc.returncode}{killed} "
                            f"before it finished.\n{tail}")
    return outcome


def worker_main(request_path: str) -> int:
    """Child-process side of :func:`run_notebook`."""
    from helpers.publishing import run as publish

    req = json.loads(Path(request_path).read_text(encoding="utf-8"))
    notebook, executed = Path(req["notebook"]), Path(req["executed"])
    result: dict[str, Any] = {}
    try:
        publish.execute(notebook, executed, req["parameters"], req["kernel"], Path(req["cwd"]))
    except Exception as exc:  # noqa: BLE001 - every failure is reported the same way
        result["error"] = publish.describe_failure(exc, notebook, executed)
    Path(req["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 0


def run_notebook_forked(notebook: Path, executed: Path, parameters: dict[str, Any], kernel: str, cwd: Path,
                        env: dict[str, str], log_path: Path, server: Any) -> dict[str, Any]:
    """Execute ``notebook`` with papermill in this process (a thread of the publishing run), its
    kernel forked by ``server`` (:class:`helpers.publishing.kernels.KernelServer`); returns what
    :func:`run_notebook` returns, the peak memory being the kernel's."""
    from helpers.publishing import kernels
    from helpers.publishing import run as publish

    publish.import_once(*kernels.MANAGER_MODULES)  # one thread at a time (see publish.IMPORT_LOCK)
    manager = kernels.kernel_manager_class(server, env, log_path, cwd, kernels.notebook_imports([notebook]))
    started, clock = _now(), time.perf_counter()
    outcome: dict[str, Any] = {}
    holder = _KernelHolder()
    with _PROCS_LOCK:
        _PROCS[id(holder)] = holder
    manager.csc_holder = holder
    try:
        publish.execute(notebook, executed, parameters, kernel, cwd, kernel_manager_class=manager)
    except Exception as exc:  # noqa: BLE001 - every failure is reported the same way
        outcome["error"] = publish.describe_failure(exc, notebook, executed)
        if holder.kernel is not None and holder.kernel.returncode in (-9, 137) and not holder.stopped:
            outcome["error"] += "\n(the kernel was killed: out of memory?)"
    finally:
        with _PROCS_LOCK:
            _PROCS.pop(id(holder), None)
    kernel_proc = holder.kernel
    if kernel_proc is not None:
        try:
            kernel_proc.wait(timeout=10)  # the server reports the peak once it has reaped the kernel
        except Exception:  # noqa: BLE001
            pass
    outcome.update({"started": started, "finished": _now(), "seconds": time.perf_counter() - clock,
                    "peak_rss_mb": kernel_proc.peak_rss_mb if kernel_proc is not None else None})
    return outcome


class _KernelHolder:
    """The forked kernel of one notebook run in this process, for :func:`stop_all`."""

    def __init__(self) -> None:
        self.kernel: Any = None
        self.stopped = False

    def kill(self) -> None:
        self.stopped = True
        if self.kernel is not None:
            self.kernel.kill()


def stop_all() -> None:
    """Stop every notebook process (or forked kernel) still running (after another notebook failed)."""
    with _PROCS_LOCK:
        procs = list(_PROCS.values())
    for proc in procs:
        try:
            proc.kill()
        except OSError:
            pass


# ----------------------------------------------------------------------------------------
# The scheduler
# ----------------------------------------------------------------------------------------
def run_scheduled(reports: list[str], start: Callable[[str], dict[str, Any]],
                  finish: Callable[[str, dict[str, Any]], list[str]], plan: Plan, log=print,
                  available: Callable[[], float | None] = available_mb,
                  output_of: Callable[[str], Path] | None = None) -> list[str]:
    """Run ``start(name)`` for every report (at most ``plan.workers`` at once, dependencies
    first, memory permitting), then ``finish(name, outcome)`` in this thread as each one
    ends. Log lines come out in the order of ``reports``. Returns the order reports started
    in. The first failure is raised once the notebooks still running have been stopped.
    ``output_of(report)`` is the folder a report writes to: with it, a wait listed in
    ``plan.early`` ends once the files exist there (the report having started in this run)."""
    from helpers.publishing.run import PublishError

    missing = {r: sorted(d - set(reports)) for r, d in plan.after.items() if d - set(reports)}
    if missing:
        raise PublishError(f"reports wait for reports not in this run: {missing}")
    if len(reports) > 1:
        log(f"  running {len(reports)} notebooks, {plan.describe()}")
    pending = list(reports)
    running: dict[str, Any] = {}
    executed: set[str] = set()  # notebooks that ran without error (their pages may not be rendered yet)
    blocks: dict[str, list[str]] = {}
    failures: dict[str, BaseException] = {}
    started_order: list[str] = []
    flushed = 0

    def ready(name: str) -> bool:
        for needed in plan.after.get(name, set()):
            if needed in executed:
                continue
            files = plan.early.get(name, {}).get(needed)
            if not (files and output_of is not None and needed in started_order and needed not in failures):
                return False
            if not all((output_of(needed) / f).is_file() for f in files):
                return False
        return True

    def flush() -> None:
        nonlocal flushed
        while flushed < len(reports) and reports[flushed] in blocks:
            for line in blocks[reports[flushed]]:
                log(line)
            flushed += 1

    with ThreadPoolExecutor(max_workers=max(1, plan.workers)) as pool:

        def launch() -> None:
            for name in list(pending):
                if failures or len(running) >= plan.workers:
                    break
                if not ready(name):
                    continue
                if running:
                    free = available()
                    need = plan.memory_mb.get(name, DEFAULT_NOTEBOOK_MB) + sum(plan.memory_mb.get(r, DEFAULT_NOTEBOOK_MB) for r in running)
                    if free is not None and free < need:
                        continue
                pending.remove(name)
                started_order.append(name)
                running[name] = (pool.submit(start, name), time.strftime("%H:%M:%S"))

        while pending or running:
            launch()
            if not running:
                if pending and not failures:
                    raise PublishError(f"cannot start {', '.join(pending)}: waiting for reports that cannot run")
                break
            watching = output_of is not None and any(plan.early.get(n) for n in pending)
            done, _ = wait([f for f, _ in running.values()], timeout=(0.5 if watching else 5) if pending else None,
                           return_when=FIRST_COMPLETED)
            ended = {n: running.pop(n) for n in [n for n, (f, _) in running.items() if f in done]}
            broken = False
            for name, (future, _) in ended.items():
                outcome = None if future.exception() is not None else future.result()
                if future.exception() is not None or (isinstance(outcome, dict) and outcome.get("error")):
                    broken = True  # finish() raises it below: nothing more starts
                elif not failures:
                    executed.add(name)
            if not broken:
                launch()  # the next notebooks start now: the pages of those that ended are rendered meanwhile
            for name, (future, at) in ended.items():
                lines = [f"  running {name}.ipynb (started {at})"]
                if failures:  # stopped because another report failed: not a failure of its own
                    lines.append(f"  {name}: stopped (another report failed)")
                    blocks[name] = lines
                    continue
                try:
                    lines += finish(name, future.result())
                except BaseException as exc:  # noqa: BLE001 - re-raised below, after the others stopped
                    failures[name] = exc
                    lines.append(f"  {name}: failed")
                    stop_all()
                blocks[name] = lines
            if failures:
                for name in pending:
                    blocks[name] = [f"  {name}: not run (another report failed)"]
                pending.clear()
            flush()
    flush()
    if failures:
        raise next(iter(failures.values()))  # the first to fail; the others were stopped because of it
    return started_order
