"""Build the trimmed national snapshot from the published files, and fetch those files.

:func:`build_snapshot` reads each source file as text (every cell kept exactly as published,
including EES symbols such as ``c`` and ``z``), keeps the rows and columns the benchmarks need
(:data:`helpers.reference.SNAPSHOT_TABLES`) in the published row order, and writes UTF-8 CSVs
with ``\\n`` line endings and a ``MANIFEST.csv`` (source, source sha256, rows, snapshot sha256).
The same inputs always give the same bytes.

:func:`fetch` downloads the source files (from a mirror ``--from URL`` laid out like the tested
folder, or from the publishers' direct addresses where they have one), verifies each against the
sha256 of the tested version, and rebuilds the snapshot.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from helpers.reference import SNAPSHOT_DIR, SNAPSHOT_TABLES, SOURCES, Source

MANIFEST = "MANIFEST.csv"


class ReferenceError(ValueError):
    """A reference file that is missing, not as published, or not the version tested: names the file."""


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def snapshot_sources() -> list[Source]:
    """The sources the snapshot is cut from, in snapshot order (each once)."""
    keys = list(dict.fromkeys(t.source for t in SNAPSHOT_TABLES.values()))
    return [SOURCES[k] for k in keys]


def find_source_file(source: Source, folder: str | Path) -> Path:
    """The published file of ``source`` in ``folder``: at its tested path (``dfe/NAME.csv``) or directly inside."""
    folder = Path(folder)
    for candidate in (folder / source.mirror_path, folder / source.file_name):
        if candidate.is_file():
            return candidate
    raise ReferenceError(f"{folder}: {source.file_name} not found (looked for {source.mirror_path} and {source.file_name}); "
                         f"download it from {source.download_url or source.page}")


def _cut(path: Path, columns: tuple[str, ...], keep: dict[str, tuple[str, ...]]) -> tuple[str, int]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ReferenceError(f"{path}: empty file") from None
        missing = [c for c in (*columns, *keep) if c not in header]
        if missing:
            raise ReferenceError(f"{path}: line 1: columns {missing} missing; is this the file as published "
                                 f"(expected columns include {', '.join(columns)})?")
        pos = [header.index(c) for c in columns]
        filters = [(header.index(c), set(values)) for c, values in keep.items()]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        rows = 0
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise ReferenceError(f"{path}: line {line}: {len(row)} fields, the header has {len(header)}")
            if all(row[i] in values for i, values in filters):
                writer.writerow([row[i] for i in pos])
                rows += 1
    return out.getvalue(), rows


def build_snapshot(source_dir: str | Path, out_dir: str | Path = SNAPSHOT_DIR, *,
                   verify: bool = False) -> dict[str, int]:
    """Write the snapshot tables from the published files in ``source_dir``.

    ``verify``: refuse a source whose sha256 differs from the tested version's. Output: rows written
    per table. ``out_dir`` is created if needed; files of the snapshot are replaced.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = [("table", "file", "rows", "sha256", "source", "source_file", "source_sha256", "tested_sha256")]
    counts: dict[str, int] = {}
    for table in SNAPSHOT_TABLES.values():
        source = SOURCES[table.source]
        path = find_source_file(source, source_dir)
        digest = sha256_file(path)
        if verify and source.sha256 and digest != source.sha256:
            raise ReferenceError(f"{path}: sha256 {digest} is not the tested version's {source.sha256}")
        text, rows = _cut(path, table.columns, table.keep)
        if rows == 0:
            raise ReferenceError(f"{path}: no rows kept for {table.name} (filters {table.keep})")
        data = text.encode("utf-8")
        (out_dir / table.file).write_bytes(data)
        counts[table.name] = rows
        manifest.append((table.name, table.file, str(rows), hashlib.sha256(data).hexdigest(), source.key,
                         source.file_name, digest, source.sha256))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(manifest)
    (out_dir / MANIFEST).write_bytes(buf.getvalue().encode("utf-8"))
    return counts


def read_manifest(snapshot_dir: str | Path = SNAPSHOT_DIR) -> list[dict[str, str]]:
    with open(Path(snapshot_dir) / MANIFEST, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _download(url: str, dest: Path, timeout: float) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as f:  # noqa: S310 (http/https only)
            shutil.copyfileobj(resp, f)
    except (urllib.error.URLError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise ReferenceError(f"{url}: download failed ({exc})") from exc
    tmp.replace(dest)


def fetch(base_url: str | None, download_dir: str | Path, out_dir: str | Path = SNAPSHOT_DIR, *,
          allow_changed: bool = False, timeout: float = 60.0) -> dict[str, dict[str, str]]:
    """Download the snapshot's source files, verify them, and rebuild the snapshot.

    ``base_url``: a folder URL laid out like the tested folder (``BASE/dfe/NAME.csv``); None uses each
    source's ``download_url`` (an error names the release page for sources that have none).
    Each download's sha256 must equal the tested version's; a newer publication differs, and
    ``allow_changed`` accepts it (the manifest then records the new checksum). Output: per source,
    ``{"path", "sha256", "status"}`` with status ``"verified"`` or ``"changed"``.
    """
    download_dir = Path(download_dir)
    report: dict[str, dict[str, str]] = {}
    for source in snapshot_sources():
        if base_url:
            scheme = urllib.parse.urlparse(base_url).scheme
            if scheme not in ("http", "https", "file"):
                raise ReferenceError(f"{base_url}: only http, https and file addresses can be fetched")
            url = base_url.rstrip("/") + "/" + urllib.parse.quote(source.mirror_path)
        elif source.download_url:
            url = source.download_url
        else:
            raise ReferenceError(f"{source.key}: no direct download address; download '{source.title}' from "
                                 f"{source.page} into {download_dir / source.mirror_path}, then run "
                                 f"`python -m helpers.reference build --from {download_dir}` (or give --from URL)")
        dest = download_dir / source.mirror_path
        _download(url, dest, timeout)
        digest = sha256_file(dest)
        status = "verified" if digest == source.sha256 else "changed"
        if status == "changed" and not allow_changed:
            raise ReferenceError(f"{url}: sha256 {digest} differs from the tested version ({source.sha256}); "
                                 "a newer publication? Re-run with --allow-changed to rebuild from it, then review the "
                                 "snapshot's differences before committing")
        report[source.key] = {"path": str(dest), "sha256": digest, "status": status}
    build_snapshot(download_dir, out_dir)
    return report
