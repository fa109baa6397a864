"""Time every reader on one demo data folder and check its ledger reconciles.

    python -m benchmarks.readers data/demo        # or a folder made with --scale 10

Prints seconds and rows read / used / excluded / repaired per reader; exits non-zero if a
ledger does not reconcile (rows read = rows used + rows excluded).
"""

from __future__ import annotations

import sys
import time

from helpers.readers import case_extracts, cin_census, ssda903


def main(folder: str) -> None:
    readers = [
        ("CIN census XML (all years)", lambda: cin_census.read_cin_census(f"{folder}/cin")),
        ("SSDA903 CSVs (all years)", lambda: ssda903.read_ssda903(f"{folder}/ssda903")),
        ("child address extract", lambda: case_extracts.read_address_extract(f"{folder}/addresses/child_addresses.csv")),
        ("flat referrals CSV", lambda: case_extracts.read_flat_referrals(f"{folder}/referrals_flat.csv")),
    ]
    for name, read in readers:
        t0 = time.perf_counter()
        out = read()
        seconds = time.perf_counter() - t0
        ledger = out[1] if isinstance(out, tuple) else out.ledger
        s = ledger.summary()
        print(f"{name}: {seconds:.2f} s; rows read {int(s.rows_read.sum()):,}, used {int(s.rows_used.sum()):,}, "
              f"excluded {int(s.rows_excluded.sum()):,}, repaired {int(s.rows_repaired.sum()):,}")
        ledger.check_reconciles()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/demo")
