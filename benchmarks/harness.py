"""Run one benchmark step in a fresh process and measure wall time and peak memory.

Each measurement runs ``python -m benchmarks.steps STEP --scale S`` in a new interpreter, so
that peak resident memory (``ru_maxrss``) belongs to that step alone. The step prints one JSON
line: seconds for the timed operation, peak RSS in MB, and RSS before the timed operation
(inputs loaded), plus any extra figures. A step that exits non-zero (or times out) is recorded
as failed with the end of its error output; the caller decides what to do.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    step: str
    scale: float
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    rss_before_mb: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    extras: list[dict] = field(default_factory=list)
    error: str | None = None
    returncode: int = 0
    wall_seconds: float = 0.0  # wall time of all runs, process start-up and input loading included

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def runs(self) -> int:
        return len(self.seconds)

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds) if self.seconds else math.nan

    @property
    def median_peak_mb(self) -> float:
        return statistics.median(self.peak_rss_mb) if self.peak_rss_mb else math.nan

    @property
    def median_rss_before_mb(self) -> float:
        return statistics.median(self.rss_before_mb) if self.rss_before_mb else math.nan

    def median_extra(self, key: str) -> float:
        vals = [e[key] for e in self.extras if isinstance(e.get(key), (int, float))]
        return statistics.median(vals) if vals else math.nan

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(median_seconds=self.median_seconds, median_peak_mb=self.median_peak_mb,
                 median_rss_before_mb=self.median_rss_before_mb)
        return d


class StepFailed(RuntimeError):
    pass


def run_step(step: str, scale: float, repeats: int, timeout: int = 1800, args: list[str] | None = None,
             log=None) -> Result:
    """Median of ``repeats`` fresh-process runs of one step (stops at the first failure)."""
    result = Result(step, scale)
    t_all = time.perf_counter()
    for i in range(repeats):
        cmd = [sys.executable, "-m", "benchmarks.steps", step, "--scale", f"{scale:g}", "--run-index", str(i)]
        cmd += args or []
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            result.error = f"timed out after {timeout} s"
            result.returncode = -1
            break
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if lines:
            data = json.loads(lines[-1])
            result.seconds.append(data["seconds"])
            result.peak_rss_mb.append(data["peak_rss_mb"])
            result.rss_before_mb.append(data.get("rss_before_mb", math.nan))
            result.extra = data.get("extra", {})
            result.extras.append(result.extra)
        if proc.returncode != 0:
            result.returncode = proc.returncode
            result.error = (proc.stderr.strip() or proc.stdout.strip())[-4000:] or f"exit status {proc.returncode}"
            break
        if not lines:
            result.error = "step printed no result line"
            result.returncode = 1
            break
        if log:
            log(f"    run {i + 1}/{repeats}: {data['seconds']:.2f} s, peak {data['peak_rss_mb']:.0f} MB")
    result.wall_seconds = time.perf_counter() - t_all
    return result
