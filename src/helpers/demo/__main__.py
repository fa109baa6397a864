"""CLI: ``python -m helpers.demo --out DIR [--seed N] [--years Y] [--scale F] [--as-at YYYY-MM-DD] [--faults MODE] [--if-stale]``.

``--if-stale`` (used by ``scripts/demo.sh``) leaves an up-to-date demo folder alone and otherwise
replaces it, so a folder made by an older version of the bundle is never used by mistake."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

import shutil

from .generator import FAULT_MODES, generate, stale_reason


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.demo", description="Generate the demo council's statutory files.")
    parser.add_argument("--out", required=True, help="output folder (e.g. data/demo)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed and arguments give identical files)")
    parser.add_argument("--years", type=int, default=5, help="complete collection years before the current part-year")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the child population (150 is about England)")
    parser.add_argument("--as-at", type=date.fromisoformat, default=date(2026, 10, 31), help="extract date, YYYY-MM-DD")
    parser.add_argument("--faults", choices=FAULT_MODES, default="normal", help="rate of injected data-quality faults")
    parser.add_argument("--if-stale", action="store_true",
                        help="do nothing if OUT already holds this generator's demo with the same arguments")
    args = parser.parse_args(argv)
    if args.if_stale:
        why = stale_reason(args.out, seed=args.seed, years=args.years, scale=args.scale, as_at=args.as_at,
                           faults=args.faults)
        if why is None:
            print(f"Demo council data in {args.out} is up to date")
            return 0
        print(f"Generating the demo council data again into {args.out}: {why}")
        _clear_demo_folder(args.out)
    t0 = time.perf_counter()
    out = generate(args.out, seed=args.seed, years=args.years, scale=args.scale, as_at=args.as_at, faults=args.faults)
    print(f"Wrote demo council data to {out.resolve()} in {time.perf_counter() - t0:.1f} s "
          f"(seed {args.seed}, scale {args.scale:g}, as at {args.as_at.isoformat()}, faults {args.faults})")
    return 0


def _clear_demo_folder(out: str) -> None:
    """Remove an earlier demo from ``out``, only if ``council.json`` says the generator wrote it."""
    from pathlib import Path

    meta = Path(out) / "council.json"
    if meta.is_file() and '"generator": "helpers.demo"' in meta.read_text(encoding="utf-8"):
        shutil.rmtree(out)


if __name__ == "__main__":
    sys.exit(main())
