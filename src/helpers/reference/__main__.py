"""Command line: ``python -m helpers.reference {build,fetch,sources,check}``.

- ``build --from DIR [--out DIR]``: rebuild the snapshot from the published files in DIR.
- ``fetch [--from URL] [--to DIR] [--out DIR] [--allow-changed]``: download, verify, rebuild.
- ``sources``: list every official table the bundle uses, with licence, address and checksum.
- ``check [--from DIR]``: verify the committed snapshot against its manifest (and DIR's files, if given).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.reference import SNAPSHOT_DIR, SOURCES
from helpers.reference.build import (ReferenceError, build_snapshot, fetch, find_source_file, read_manifest,
                                     sha256_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.reference", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="rebuild the snapshot from published files in a folder")
    b.add_argument("--from", dest="source", required=True, help="folder holding the published files")
    b.add_argument("--out", default=str(SNAPSHOT_DIR), help="snapshot folder to write (default: the package's)")
    b.add_argument("--verify", action="store_true", help="refuse files that are not the tested version")
    f = sub.add_parser("fetch", help="download the published files, verify checksums, rebuild the snapshot")
    f.add_argument("--from", dest="source", default=None,
                   help="base URL of a mirror laid out like the tested folder (default: publishers' addresses)")
    f.add_argument("--to", default="data/reference", help="folder to download into (default data/reference)")
    f.add_argument("--out", default=str(SNAPSHOT_DIR), help="snapshot folder to write (default: the package's)")
    f.add_argument("--allow-changed", action="store_true", help="accept files that differ from the tested version")
    sub.add_parser("sources", help="list the official tables the bundle uses")
    c = sub.add_parser("check", help="verify the snapshot against its manifest")
    c.add_argument("--from", dest="source", default=None, help="also check the published files in this folder")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            counts = build_snapshot(args.source, args.out, verify=args.verify)
            for name, n in counts.items():
                print(f"{name}: {n:,} rows")
            print(f"snapshot written to {args.out}")
        elif args.command == "fetch":
            report = fetch(args.source, args.to, args.out, allow_changed=args.allow_changed)
            for key, r in report.items():
                print(f"{key}: {r['status']} ({r['sha256'][:16]}...) {r['path']}")
            print(f"snapshot rebuilt in {args.out}")
        elif args.command == "sources":
            for s in SOURCES.values():
                print(f"{s.key}\n  {s.publisher}: {s.title}\n  licence: {s.licence}\n  page: {s.page}")
                if s.download_url:
                    print(f"  download: {s.download_url}")
                print(f"  file: {s.file_name}\n  sha256 (tested): {s.sha256 or 'not tested byte for byte'}")
        elif args.command == "check":
            bad = 0
            for row in read_manifest(SNAPSHOT_DIR):
                got = sha256_file(SNAPSHOT_DIR / row["file"])
                ok = got == row["sha256"]
                bad += not ok
                line = f"{row['file']}: {'ok' if ok else 'CHANGED'}"
                if args.source:
                    src = find_source_file(SOURCES[row["source"]], args.source)
                    same = sha256_file(src) == row["source_sha256"]
                    bad += not same
                    line += f"; source {Path(src).name}: {'ok' if same else 'DIFFERENT from the one built from'}"
                print(line)
            return 1 if bad else 0
    except ReferenceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
