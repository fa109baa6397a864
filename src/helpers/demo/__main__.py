"""CLI: ``python -m helpers.demo --out DIR [--seed N] [--years Y] [--scale F] [--as-at YYYY-MM-DD] [--faults MODE]``."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

from .generator import FAULT_MODES, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.demo", description="Generate the demo council's statutory files.")
    parser.add_argument("--out", required=True, help="output folder (e.g. data/demo)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed and arguments give identical files)")
    parser.add_argument("--years", type=int, default=5, help="complete collection years before the current part-year")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the child population (150 is about England)")
    parser.add_argument("--as-at", type=date.fromisoformat, default=date(2026, 10, 31), help="extract date, YYYY-MM-DD")
    parser.add_argument("--faults", choices=FAULT_MODES, default="normal", help="rate of injected data-quality faults")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    out = generate(args.out, seed=args.seed, years=args.years, scale=args.scale, as_at=args.as_at, faults=args.faults)
    print(f"Wrote demo council data to {out.resolve()} in {time.perf_counter() - t0:.1f} s "
          f"(seed {args.seed}, scale {args.scale:g}, as at {args.as_at.isoformat()}, faults {args.faults})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
