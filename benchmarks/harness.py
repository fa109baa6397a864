"""Run one benchmark step in a fresh process and measure wall time and peak memory.

Each measurement runs ``python -m benchmarks.steps STEP --scale S`` in a new interpreter, so
that peak resident memory (``ru_maxrss``) belongs to that step alone. The step prints one JSON
line: seconds for the timed operation, peak RSS in MB, and RSS before the timed operation
(inputs loaded), plus any extra figures.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
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

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_peak_mb(self) -> float:
        return statistics.median(self.peak_rss_mb)


class StepFailed(RuntimeError):
    pass


def run_step(step: str, scale: float, repeats: int, timeout: int = 1800) -> Result:
    """Median of ``repeats`` fresh-process runs of one step."""
    result = Result(step, scale)
    for _ in range(repeats):
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.steps", step, "--scale", str(scale)],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        )
        if proc.returncode != 0:
            raise StepFailed(f"benchmark step {step} at scale {scale} failed:\n{proc.stderr[-4000:]}")
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
        data = json.loads(line)
        result.seconds.append(data["seconds"])
        result.peak_rss_mb.append(data["peak_rss_mb"])
        result.rss_before_mb.append(data.get("rss_before_mb", float("nan")))
        result.extra = data.get("extra", {})
    return result
