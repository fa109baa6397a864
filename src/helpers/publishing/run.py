"""The monthly publishing run: execute every report notebook, render member-ready HTML, guard, move into place.

Usage::

    python -m helpers.publishing --config configs/demo.toml [--month YYYY-MM] [--only NAME] [--out reports/]

For month M and each report R in the config's ``[publish] reports`` list this writes::

    OUT/M/R.html                 # the page members read: code hidden, offline, self-contained
    OUT/M/R.pdf                  # with --pdf: the same page printed to A4 (Chromium) for committee papers
    OUT/M/R/summary.json         # headline figures
    OUT/M/R/tables/*.csv         # disclosure-controlled tables ("c" = suppressed)
    OUT/M/R/executed.ipynb       # for analysts only: never linked from the index
    OUT/M/manifest.json          # parameters, inputs (sha256), package versions, git commit, times
    OUT/index.html               # every month and report, newest month first

A run builds everything in a temporary folder beside ``OUT`` and moves it into place only when
every notebook ran, every page rendered and the identifier guard passed. On any failure the
previous report for that month is left as it was, ``OUT/logs/`` gets a log naming the notebook,
the cell and the error, and the command exits with a non-zero status.

The identifier guard (:func:`scan_text`) looks in every page, table and summary for:

- child identifiers seen in the inputs (``LAchildID`` and ``UPN`` from CIN census XML;
  ``CHILD``/``UPN``/``LAchildID`` columns of CSV inputs). Matching is by whole token (letters
  and digits, not preceded by a decimal point). An identifier of 6 or more characters matches
  anywhere; a shorter one (e.g. ``4521``) matches only in an identifier-like context (the
  40 characters before it mention ``child``, ``CHILD``, ``LAchildID``, ``UPN`` or ``id``, or,
  in a CSV, its column is named like one), so short innocent numbers do not stop a run;
- allocated workers' names from Ofsted Annex A workbooks (``.xlsx`` inputs; whole words, any case);
- full UK postcodes (``QX4 7AB``; postcode sectors such as ``QX4 7`` are allowed);
- dates of birth: a date (ISO ``2015-03-12``, ``12/03/2015``, ``12-03-2015``, ``12.03.2015``,
  ``12 March 2015``, ``March 12, 2015``) that equals a date of birth in the inputs, or any
  date labelled ``DOB``/``date of birth``/``birth date``/``born`` in the 40 characters before it
  (or in a CSV column named like that). Dates on the first or last day of a month are not
  flagged: reports use them as period boundaries, and a birth month (degraded date of birth)
  is allowed.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import datetime as dt
import hashlib
import html
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helpers
from helpers import config as config_module
from helpers.readers import input_cache
from helpers.publishing import kernels, safe_output, scheduling

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
REPO_ROOT = PACKAGE_DIR.parents[2]
KERNEL_NAME = "csc-publish-python"
MAX_PAGE_BYTES = 2_000_000
CELL_TIMEOUT_SECONDS = 3600
VEGALITE_OUTPUT = re.compile(r"^application/vnd\.vegalite\.v\d+[+.]json$")
WIDGET_OUTPUT = "application/vnd.jupyter.widget-view+json"
BUNDLE_PLACEHOLDER = "/*@@CSC_VEGA_BUNDLE@@*/"
TOC_PLACEHOLDER = "<!--@@CSC_CONTENTS@@-->"
HEADLINE_PLACEHOLDER = "<!--@@CSC_HEADLINE@@-->"
HEADLINE_SECTION = re.compile(r'(?s)<section\b[^>]*\bclass="headline"[^>]*>.*?</section>')
PACKAGES = ("pandas", "numpy", "altair", "vl-convert-python", "papermill", "nbconvert", "nbformat", "ipykernel", "lxml", "ipywidgets")


class PublishError(RuntimeError):
    """A run that must not be published; the message says what failed and where."""


# ----------------------------------------------------------------------------------------
# Months
# ----------------------------------------------------------------------------------------
def last_complete_month(today: dt.date | None = None) -> str:
    """``YYYY-MM`` of the month before ``today`` (the last month that has fully ended)."""
    today = today or dt.date.today()
    first = today.replace(day=1)
    previous = first - dt.timedelta(days=1)
    return f"{previous.year:04d}-{previous.month:02d}"


def parse_month(text: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text or ""):
        raise PublishError(f"--month must look like 2026-10 (YYYY-MM), got {text!r}")
    return text


# ----------------------------------------------------------------------------------------
# The identifier guard
# ----------------------------------------------------------------------------------------
ID_COLUMNS = {"child", "upn", "lachildid", "childid", "formerupn"}
DOB_COLUMNS = {"dob", "mcdob", "personbirthdate", "dateofbirth", "birthdate", "expectedpersonbirthdate"}
XML_ID = re.compile(r"<(?:\w+:)?(LAchildID|UPN|FormerUPN)>\s*([^<\s][^<]*?)\s*</")
XML_DOB = re.compile(r"<(?:\w+:)?(PersonBirthDate|ExpectedPersonBirthDate)>\s*([^<]+?)\s*</")
POSTCODE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][ABD-HJLNP-UW-Z]{2})(?![A-Za-z0-9])")
TOKEN = re.compile(r"[A-Za-z0-9]+")
ID_CONTEXT = re.compile(r"(?i)(?:lachildid|child[ _-]?id|(?<![a-z])child(?![a-z])|(?<![a-z])upn(?![a-z])|(?<![a-z])id(?![a-z])|identifier)")
DOB_CONTEXT = re.compile(r"(?i)(?:(?<![a-z])dob(?![a-z])|date[ _]?of[ _]?birth|birth[ _]?date|(?<![a-z])born(?![a-z]))")
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m} | {"sept": 9}
MONTH_WORDS = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE_PATTERNS = [
    (re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"), ("y", "m", "d")),
    (re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)"), ("d", "m", "y")),
    (re.compile(rf"(?i)(?<![0-9])(\d{{1,2}})(?:st|nd|rd|th)?\s+({MONTH_WORDS})\.?,?\s+(\d{{4}})(?!\d)"), ("d", "mname", "y")),
    (re.compile(rf"(?i)(?<![a-z])({MONTH_WORDS})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?!\d)"), ("mname", "d", "y")),
]
SHORT_ID = 6
# DfE "UPN unknown" reason codes (UN1-UN10) stand in for a UPN: they identify nobody.
UPN_UNKNOWN = re.compile(r"^UN\d{1,2}$")
CONTEXT_CHARS = 40


class IdentifierSet:
    """The input files' child identifiers, as the guard uses them: ``add``, ``update``, ``in``,
    ``len`` and :meth:`punctuated` (those that are not single tokens, e.g. "AB-1234").

    Up to :data:`COMPACT_AT` identifiers are held as a set of text. Beyond that (a national
    dataset: 5 million identifiers, about 550 MB as Python text in a set, held by the publishing
    run from its start to its end) they are held as a sorted array of their 64-bit hashes (this
    process's ``hash``), 8 bytes each, and the punctuated ones as text. A token is taken to be
    an identifier when its hash is in the array: an identifier is never missed, and a hash
    shared by a clean token (about 1 in 3 million million for 5 million identifiers) could only
    make the guard refuse a clean page, never pass one that is not."""

    COMPACT_AT = 200_000
    _BATCH = 1_000_000

    def __init__(self, values=()) -> None:
        self._text: set[str] | None = set()
        self._hashes: Any = None          # numpy int64, sorted, unique (compact form)
        self._pending: list[str] = []
        self._batches: list[Any] = []     # hashed batches not yet merged into ``_hashes``
        self._in_batches = 0
        self._odd: set[str] = set()
        self.update(values)

    def add(self, value: str) -> None:
        if self._text is not None:
            self._text.add(value)
        else:
            self._pending.append(value)
        self._settle()

    def update(self, values) -> None:
        if self._text is not None:
            self._text.update(values)
        else:
            self._pending.extend(values)
        self._settle()

    def _settle(self) -> None:
        """Turn compact past :data:`COMPACT_AT` identifiers; hash a full batch of pending ones."""
        if self._text is not None:
            if len(self._text) > self.COMPACT_AT:
                self._compact()
        elif len(self._pending) >= self._BATCH:
            self._flush()

    def _compact(self) -> None:
        import numpy as np

        self._pending, self._text = list(self._text), None
        self._hashes = np.empty(0, dtype=np.int64)
        self._flush()

    def _flush(self, merge: bool = False) -> None:
        """Hash the pending identifiers; merge the batches into the sorted array when they
        outgrow it (or ``merge``), so a national dataset is sorted a few times, not per batch."""
        import numpy as np

        if self._pending:
            pending, self._pending = set(self._pending), []
            # not a single token ([A-Za-z0-9]+, TOKEN): matched whole, by pattern
            self._odd.update(v for v in pending if not (v.isascii() and v.isalnum()))
            self._batches.append(np.fromiter((hash(v) for v in pending), dtype=np.int64, count=len(pending)))
            self._in_batches += len(pending)
        if self._batches and (merge or self._in_batches > max(len(self._hashes), 4 * self._BATCH)):
            self._hashes = np.unique(np.concatenate([self._hashes, *self._batches]))
            self._batches, self._in_batches = [], 0

    def __contains__(self, value: object) -> bool:
        if self._text is not None:
            return value in self._text
        if not isinstance(value, str):
            return False
        if value in self._odd:
            return True
        self._flush(merge=True)
        import numpy as np

        h = np.int64(hash(value))
        i = int(np.searchsorted(self._hashes, h))
        return i < len(self._hashes) and self._hashes[i] == h

    def __len__(self) -> int:
        if self._text is not None:
            return len(self._text)
        self._flush(merge=True)
        return len(self._hashes)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IdentifierSet):
            other = other._text
        return self._text is not None and isinstance(other, (set, frozenset)) and self._text == other

    __hash__ = None  # mutable, like a set

    @property
    def compact(self) -> bool:
        """Whether the identifiers are held as hashes (more than :data:`COMPACT_AT`)."""
        return self._text is None

    def punctuated(self) -> list[str]:
        """The identifiers that are not single tokens (checked whole, by pattern)."""
        if self._text is not None:
            return [v for v in self._text if not TOKEN.fullmatch(v)]
        self._flush(merge=True)
        return list(self._odd)


@dataclass
class Identifiers:
    """What the guard looks for, gathered from the input files (never written anywhere)."""

    ids: IdentifierSet = field(default_factory=IdentifierSet)
    dobs: set[dt.date] = field(default_factory=set)
    workers: set[str] = field(default_factory=set)   # allocated workers' names (Annex A workbooks)
    files_scanned: int = 0
    _punctuated: tuple[int, re.Pattern | None] | None = field(default=None, repr=False)
    _workers: tuple[int, re.Pattern | None] | None = field(default=None, repr=False)

    def worker_pattern(self) -> re.Pattern | None:
        """One regex for every worker name of 5 or more characters (whole words, any case)."""
        if self._workers is None or self._workers[0] != len(self.workers):
            names = sorted((w for w in self.workers if len(w) >= 5), key=len, reverse=True)
            pattern = re.compile("(?i)(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, names)) + ")(?![A-Za-z0-9])") if names else None
            self._workers = (len(self.workers), pattern)
        return self._workers[1]

    def __post_init__(self) -> None:
        if not isinstance(self.ids, IdentifierSet):
            self.ids = IdentifierSet(self.ids)

    def punctuated_pattern(self) -> re.Pattern | None:
        """One regex for the identifiers that are not single tokens (e.g. "AB-1234"), rebuilt when ``ids`` grows."""
        if self._punctuated is None or self._punctuated[0] != len(self.ids):
            odd = sorted((i for i in self.ids.punctuated() if len(i) >= SHORT_ID), key=len, reverse=True)
            pattern = re.compile("(?<![A-Za-z0-9])(?:" + "|".join(map(re.escape, odd)) + ")(?![A-Za-z0-9])") if odd else None
            self._punctuated = (len(self.ids), pattern)
        return self._punctuated[1]


def _parse_input_date(text: str) -> dt.date | None:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S", "%d-%m-%Y"):
        try:
            return dt.datetime.strptime(text[:19] if "T" in text else text, fmt).date()
        except ValueError:
            continue
    return None


def _norm_col(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


# One pass finds both (a match of either pattern holds exactly two "<": its own and the "</"
# closing it, so the two patterns' matches never overlap and one alternation finds them all).
XML_ID_OR_DOB = re.compile(r"<(?:\w+:)?(LAchildID|UPN|FormerUPN|PersonBirthDate|ExpectedPersonBirthDate)>\s*([^<\s][^<]*?)\s*</")
XML_DOB_TAGS = {"PersonBirthDate", "ExpectedPersonBirthDate"}
XML_CHUNK_BYTES = 64 << 20


def _xml_chunks(path: Path, size: int = XML_CHUNK_BYTES):
    """The file's text in pieces of about ``size`` bytes, each cut just before a "<" that does
    not open a closing tag: no match of ``XML_ID_OR_DOB`` can span a cut (its only "<" after
    the first is the closing "</"), and a "<" byte is never inside a UTF-8 sequence, so the
    pieces decode (``errors="replace"``) and match exactly as the whole file would, without
    holding a national file (about 1 GB) in memory twice over."""
    carry = b""
    with path.open("rb") as handle:
        while block := handle.read(size):
            data = carry + block
            cut = data.rfind(b"<", 0, len(data) - 1)      # a "<" whose next byte is known
            while cut > 0 and data[cut + 1] == 0x2F:        # "</": look further back
                cut = data.rfind(b"<", 0, cut)
            if cut <= 0:                                   # nowhere to cut yet: read on
                carry = data
                continue
            yield data[:cut].decode("utf-8", errors="replace")
            carry = data[cut:]
    if carry:
        yield carry.decode("utf-8", errors="replace")


def _scan_xml(path: Path, found: "Identifiers", size: int = XML_CHUNK_BYTES) -> None:
    """Child identifiers and dates of birth in one XML input (``XML_ID`` and ``XML_DOB``, one pass)."""
    dobs: set[str] = set()
    for text in _xml_chunks(path, size):
        ids: set[str] = set()  # this piece's, handed over at once (the run's set may be compact)
        for m in XML_ID_OR_DOB.finditer(text):
            value = m.group(2)
            if m.group(1) in XML_DOB_TAGS:
                dobs.add(value)
            elif not UPN_UNKNOWN.match(value):
                ids.add(value)
        found.ids.update(ids)
    found.dobs.update(d for d in map(_parse_input_date, dobs) if d)


#: Niceness of the thread gathering the guard's identifiers while the notebooks run (Linux).
GUARD_NICENESS = 10


def lower_thread_priority(niceness: int = GUARD_NICENESS) -> bool:
    """Lower the calling thread's CPU priority (Linux: a thread has its own nice value), so the
    guard's scan of the inputs, needed only at the end of the run, takes the CPU the notebooks
    leave rather than slowing them. Returns False where that is not possible (no change)."""
    if not (sys.platform.startswith("linux") and hasattr(os, "setpriority")):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
    except OSError:
        return False
    return True


def collect_identifiers(paths: list[Path]) -> Identifiers:
    """Child identifiers and dates of birth in the input files (XML by regex, CSV by header).

    ``paths`` are files or folders (searched recursively). XML: ``LAchildID``, ``UPN``,
    ``FormerUPN``, ``PersonBirthDate``. CSV: columns ``CHILD``, ``UPN``, ``LAchildID``,
    ``child_id`` and ``DOB``, ``MC_DOB``, ``PersonBirthDate``, ``date_of_birth``.
    """
    found = Identifiers()
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file())
        elif path.is_file():
            files.append(path)
    for path in files:
        suffix = path.suffix.lower()
        if suffix == ".xml":
            _scan_xml(path, found)
            found.files_scanned += 1
        elif suffix in (".xlsx", ".xlsm"):
            # Ofsted Annex A workbooks: child identifiers, dates of birth and allocated workers' names
            from helpers.readers.annex_a import workbook_people
            ids, dobs, workers = workbook_people(path)
            found.ids.update(i for i in ids if not UPN_UNKNOWN.match(i))
            found.dobs.update(dobs)
            found.workers.update(workers)
            found.files_scanned += 1
        elif suffix == ".csv":
            with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader, [])
                id_idx = [i for i, c in enumerate(header) if _norm_col(c) in ID_COLUMNS]
                dob_idx = [i for i, c in enumerate(header) if _norm_col(c) in DOB_COLUMNS]
                from helpers.readers.annex_a import WORKER_PATTERN
                worker_idx = [i for i, c in enumerate(header) if WORKER_PATTERN.search(c)]
                if not id_idx and not dob_idx and not worker_idx:
                    continue
                for row in reader:
                    for i in worker_idx:
                        if i < len(row) and row[i].strip():
                            found.workers.add(row[i].strip())
                    for i in id_idx:
                        if i < len(row) and row[i].strip() and not UPN_UNKNOWN.match(row[i].strip()):
                            found.ids.add(row[i].strip())
                    for i in dob_idx:
                        if i < len(row) and row[i].strip():
                            parsed = _parse_input_date(row[i])
                            if parsed:
                                found.dobs.add(parsed)
            found.files_scanned += 1
    return found


@dataclass
class Finding:
    where: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} {self.detail}"


def _mask(value: str) -> str:
    return value[:2] + "*" * max(len(value) - 2, 1)


def _is_month_boundary(day: dt.date) -> bool:
    return day.day == 1 or day.day == calendar.monthrange(day.year, day.month)[1]


def _dates_in(text: str):
    for pattern, order in DATE_PATTERNS:
        for m in pattern.finditer(text):
            parts = dict(zip(order, m.groups()))
            try:
                month = MONTHS[parts["mname"].lower().rstrip(".")] if "mname" in parts else int(parts["m"])
                yield m.start(), m.group(0), dt.date(int(parts["y"]), month, int(parts["d"]))
            except (ValueError, KeyError):
                continue


def scan_text(text: str, where: str, found: Identifiers, *, id_context: bool = False, dob_context: bool = False) -> list[Finding]:
    """Child identifiers, full postcodes and dates of birth in ``text`` (rules in the module docstring).

    ``id_context``/``dob_context`` say the whole text is labelled as an identifier or a date of
    birth (a CSV column with such a name).
    """
    findings: list[Finding] = []
    if found.ids:
        for m in TOKEN.finditer(text):
            token = m.group(0)
            if token not in found.ids:
                continue
            start = m.start()
            if start >= 2 and text[start - 1] == "." and text[start - 2].isdigit():
                continue  # the decimal part of a number, e.g. 0.123456
            if len(token) < SHORT_ID and not (id_context or ID_CONTEXT.search(text[max(0, start - CONTEXT_CHARS):start])):
                continue
            findings.append(Finding(where, "child identifier", f"{_mask(token)!r} at character {start}"))
        # Identifiers with punctuation inside them (e.g. "AB-1234") are not single tokens.
        pattern = found.punctuated_pattern()
        if pattern is not None:
            for m in pattern.finditer(text):
                findings.append(Finding(where, "child identifier", f"{_mask(m.group(0))!r} at character {m.start()}"))
    worker_pattern = found.worker_pattern()
    if worker_pattern is not None:
        for m in worker_pattern.finditer(text):
            findings.append(Finding(where, "worker name", f"{m.group(0)[:2]}** at character {m.start()}"))
    for m in POSTCODE.finditer(text):
        findings.append(Finding(where, "full postcode", f"{m.group(1)} {m.group(2)[0]}** at character {m.start()}"))
    for start, raw, day in _dates_in(text):
        if _is_month_boundary(day):
            continue
        labelled = dob_context or DOB_CONTEXT.search(text[max(0, start - CONTEXT_CHARS):start])
        if day in found.dobs or labelled:
            reason = "a date of birth in the inputs" if day in found.dobs else "labelled as a date of birth"
            findings.append(Finding(where, "date of birth", f"{raw[:2]}** ({reason}) at character {start}"))
    return findings


def scan_csv(path: Path, where: str, found: Identifiers) -> list[Finding]:
    """Scan a published CSV cell by cell; a cell's column name is its context."""
    findings: list[Finding] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        findings += scan_text(",".join(header), f"{where} (header)", found)
        labels = [_norm_col(h) for h in header]
        for line, row in enumerate(reader, start=2):
            for i, cell in enumerate(row):
                label = labels[i] if i < len(labels) else ""
                findings += scan_text(
                    cell,
                    f"{where} line {line}, column {header[i] if i < len(header) else i + 1!r}",
                    found,
                    id_context=label in ID_COLUMNS or "id" in label.split(),
                    dob_context=label in DOB_COLUMNS or "birth" in label or label == "dob",
                )
    return findings


NETWORK_REF = re.compile(
    r"(?is)<(?:script|link|img|iframe|source|embed|video|audio|object)\b[^>]*\b(?:src|href|data)\s*=\s*[\"']?\s*(?:https?:|//)"
    r"|url\(\s*[\"']?\s*(?:https?:|//)|@import\s"
)


def guard_build(month_dir: Path, found: Identifiers, pages: dict[str, str], only: str | None = None,
                skip: set[str] | frozenset[str] = frozenset()) -> list[Finding]:
    """Every finding in the pages (text without the inlined Vega bundle), tables, summaries and attribution.

    ``only``: just the files in that report's folder (the run scans each report as it ends);
    ``skip``: report folders already scanned."""
    findings: list[Finding] = []
    for name, text in pages.items():
        findings += scan_text(text, f"{name}.html", found)
        for m in NETWORK_REF.finditer(text):
            findings.append(Finding(f"{name}.html", "network reference", f"{m.group(0)[:60]!r} (pages must load nothing)"))
    for path in sorted((month_dir / only if only else month_dir).rglob("*")):
        rel = path.relative_to(month_dir).as_posix()
        if rel.split("/", 1)[0] in skip:
            continue
        if path.suffix == ".csv":
            findings += scan_csv(path, rel, found)
            findings += [Finding(rel, "spreadsheet formula", f"line {line}, column {col}: {value[:40]!r}")
                         for line, col, value in safe_output.csv_formula_cells(path)]
        elif path.suffix == ".json" and path.name != "manifest.json":
            findings += scan_text(path.read_text(encoding="utf-8"), rel, found)
        elif path.suffix == ".ipynb":
            # The executed notebook sits beside the page: its outputs (including any stderr a
            # page may drop) are scanned too; its metadata (run times, paths) is not output.
            findings += scan_text(notebook_output_text(path), rel, found)
    return findings


def notebook_output_text(path: Path) -> str:
    """Every output of an executed notebook as text: streams, text/plain, HTML, markdown, chart data."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    parts: list[str] = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append("".join(out["text"]) if isinstance(out["text"], list) else str(out["text"]))
            for key, value in out.get("data", {}).items():
                if isinstance(value, (dict, list)):
                    parts.append(json.dumps(value))
                elif not key.startswith("image/"):
                    parts.append("".join(value) if isinstance(value, list) else str(value))
            if out.get("output_type") == "error":
                parts.append(out.get("evalue", ""))
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------
# Execution
# ----------------------------------------------------------------------------------------
def ensure_kernelspec(folder: Path) -> str:
    """A kernelspec for *this* interpreter in ``folder`` (added to JUPYTER_PATH); returns its name.

    Papermill then never depends on a globally installed ``python3`` kernelspec, which on a
    council laptop may point at a different Python.
    """
    spec_dir = folder / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python ({sys.prefix})",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    existing = os.environ.get("JUPYTER_PATH", "")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(folder)] + ([existing] if existing else []))
    return KERNEL_NAME


def describe_failure(exc: BaseException, notebook: Path, executed: Path | None = None) -> str:
    """A message naming the notebook, the cell (numbered as in the saved notebook) and the error."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        source = (exc.source or "").strip().splitlines()
        first = source[0] if source else ""
        tb = "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", line) for line in (exc.traceback or []))
        cell_number = exc.cell_index + 1
        if executed is not None and executed.is_file():
            # Papermill inserts an "injected-parameters" cell; number cells as the analyst sees them.
            import nbformat

            cells = nbformat.read(executed, as_version=4).cells
            injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
            if injected and exc.cell_index > injected[0]:
                cell_number -= 1
        return (
            f"notebook {notebook.name} failed in cell {cell_number} (execution count {exc.exec_count}), "
            f"which starts: {first!r}\nerror: {exc.ename}: {exc.evalue}\n\n{tb}"
        )
    return f"notebook {notebook.name} failed: {type(exc).__name__}: {exc}\n\n{''.join(traceback.format_exception(exc))}"


_ENGINE = "csc-save-at-end"


def _save_at_end_engine() -> str:
    """A papermill engine like its default one that writes the executed notebook once, when the
    run of the notebook ends (also when a cell fails or the kernel dies), instead of at the start
    and end of every cell: rewriting a notebook full of chart data 60 times cost more than most
    of its cells."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    if _ENGINE not in papermill_engines._engines:
        class SaveAtEnd(NotebookExecutionManager):
            ending = False

            def save(self, **kwargs):
                if self.ending:
                    super().save(**kwargs)

            def notebook_complete(self, **kwargs):
                self.ending = True
                super().notebook_complete(**kwargs)

        class Engine(NBClientEngine):
            @classmethod
            def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                                 autosave_cell_every=30, **kwargs):
                nb_man = SaveAtEnd(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                                   autosave_cell_every=autosave_cell_every)
                nb_man.notebook_start()
                try:
                    cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
                finally:
                    nb_man.cleanup_pbar()
                    nb_man.notebook_complete()
                return nb_man.nb

        papermill_engines.register(_ENGINE, Engine)
    return _ENGINE


def execute(notebook: Path, executed: Path, parameters: dict[str, Any], kernel_name: str, cwd: Path,
            kernel_manager_class: Any = None) -> None:
    """Run ``notebook`` with papermill into ``executed``. With ``kernel_manager_class`` (kernels
    forked by :mod:`helpers.publishing.kernels`, which start them in ``cwd`` themselves),
    papermill leaves the working folder of this process alone: notebooks run side by side in
    threads of one process."""
    import_once("nbformat", "papermill")
    import nbformat
    import papermill

    kernelspec = dict(nbformat.read(notebook, as_version=4).metadata.get("kernelspec", {}))
    extra: dict[str, Any] = {"cwd": str(cwd)} if kernel_manager_class is None else {"kernel_manager_class": kernel_manager_class}
    executed_nb = papermill.execute_notebook(
        str(notebook),
        str(executed),
        parameters=parameters,
        kernel_name=kernel_name,
        progress_bar=sys.stderr.isatty() or os.environ.get("CSC_PROGRESS") == "1",
        log_output=False,
        execution_timeout=CELL_TIMEOUT_SECONDS,
        engine_name=_save_at_end_engine(),
        **extra,
    )
    # The run's private kernel name means nothing on an analyst's machine: give the executed
    # notebook back the kernelspec it was saved with (the manifest records what ran it).
    if kernelspec:
        executed_nb.metadata["kernelspec"] = kernelspec
    else:
        executed_nb.metadata.pop("kernelspec", None)
    nbformat.write(executed_nb, executed)


# ----------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------
_BUNDLE_CACHE: dict[str, str] = {}


def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (from vl-convert-python; no network).

    Building it takes vl-convert about 2 s; it is kept in ``.cache/`` beside ``src/`` (one file
    per vl-convert version, written whole) so that later runs read it instead."""
    if "js" not in _BUNDLE_CACHE:
        import importlib.metadata

        try:
            version = importlib.metadata.version("vl-convert-python")
        except importlib.metadata.PackageNotFoundError:
            version = ""
        stored = REPO_ROOT / ".cache" / f"vega-bundle-{re.sub(r'[^A-Za-z0-9.]', '_', version)}.js"
        js = None
        if version and stored.is_file():
            try:
                js = stored.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                js = None
        if not js:
            import vl_convert

            js = vl_convert.javascript_bundle()
            if version:
                try:
                    stored.parent.mkdir(parents=True, exist_ok=True)
                    tmp = stored.with_name(f".{stored.name}.{os.getpid()}.tmp")
                    tmp.write_text(js, encoding="utf-8")
                    os.replace(tmp, stored)
                except OSError:
                    pass  # a read-only checkout: build it each run
        _BUNDLE_CACHE["js"] = js.replace("</script", "<\\/script").replace("<!--", "<\\!--")
    return _BUNDLE_CACHE["js"]


def _script_json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")


def prepare_notebook(nb: Any, name: str) -> int:
    """Make an executed notebook publishable, in place; returns the number of charts.

    Drops widget outputs and widget state, stderr streams, JavaScript outputs and the
    parameters cells; turns every chart into a figure the inlined Vega libraries draw,
    with its description; drops the first ``# Title`` line (the page header shows the title).
    Raises :class:`PublishError` for a chart displayed without ``charts.show``.
    """
    nb.metadata.pop("widgets", None)
    n_charts = 0
    title_dropped = False
    kept_cells = []
    for index, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & {"parameters", "injected-parameters", "remove-cell", "remove_cell"}:
            continue
        if cell.cell_type == "markdown" and not title_dropped:
            lines = cell.source.splitlines()
            if lines and re.match(r"^#\s", lines[0]):
                cell.source = "\n".join(lines[1:])
            title_dropped = True
        if cell.cell_type == "code":
            outputs = []
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    continue
                if WIDGET_OUTPUT in data:
                    continue
                chart_keys = [k for k in data if VEGALITE_OUTPUT.match(k)]
                if chart_keys:
                    meta = output.get("metadata", {}).get("csc_chart")
                    if not meta:
                        raise PublishError(f"{name}: cell {index + 1} shows a chart without a description: use charts.show(chart, description=...)")
                    n_charts += 1
                    spec = data[chart_keys[0]]
                    if isinstance(spec, str):
                        spec = json.loads(spec)
                    chart_id = f"chart-{n_charts}"
                    desc = html.escape(meta["description"])
                    figure = (
                        f'<figure class="chart" role="img" aria-label="{desc}">'
                        f'<div class="chart-view" id="{chart_id}"></div>'
                        f'<script type="application/json" class="chart-spec" data-target="{chart_id}">{_script_json(spec)}</script>'
                        "</figure>"
                    )
                    output["data"] = {"text/html": figure}
                    outputs.append(output)
                    continue
                html_out = data.get("text/html")
                if html_out is not None and "vegaEmbed" in ("".join(html_out) if isinstance(html_out, list) else html_out):
                    raise PublishError(f"{name}: cell {index + 1} shows a chart without a description: use charts.show(chart, description=...)")
                for key in ("application/javascript", "text/javascript"):
                    data.pop(key, None)
                if "text/markdown" in data:
                    # Report Markdown never carries raw HTML: any tag in it came from input or
                    # config text, so it is shown as text, never rendered (safety net behind
                    # helpers.publishing.safe_output.esc).
                    md = data["text/markdown"]
                    md = "".join(md) if isinstance(md, list) else str(md)
                    data["text/markdown"] = md.replace("<", "&lt;")
                if output.get("output_type") in ("display_data", "execute_result") and not data:
                    continue
                outputs.append(output)
            cell.outputs = outputs
        kept_cells.append(cell)
    nb.cells = kept_cells
    return n_charts


def _build_contents(page: str) -> tuple[str, str]:
    """Give every h2/h3 an id and return (page, contents list)."""
    used: set[str] = set()
    items: list[tuple[int, str, str]] = []

    def slug(text: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}-{n}", n + 1
        used.add(candidate)
        return candidate

    def replace(m: re.Match) -> str:
        level, attrs, inner = m.group(1), m.group(2) or "", m.group(3)
        text = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r'<a class="anchor-link".*?</a>', "", inner))).strip()
        if not text:
            return m.group(0)
        if level == "2" and items and items[-1][0] == 2 and items[-1][2] == text:
            # The same section heading twice in a row (a notebook's "## Appendix: data quality"
            # followed by the appendix's own heading): keep the first.
            return ""
        existing = re.search(r'\bid="([^"]+)"', attrs)
        if existing:
            ident = existing.group(1)
            used.add(ident)
        else:
            ident = slug(text)
            attrs = f' id="{ident}"{attrs}'
        items.append((int(level), ident, text))
        return f"<h{level}{attrs}>{inner}</h{level}>"

    body_start = page.find('<main id="report-body"')
    head, body = page[:body_start], page[body_start:]
    body = re.sub(r"(?s)<h([23])(\s[^>]*)?>(.*?)</h\1>", replace, body)
    # Sections (h2) numbered; their subsections (h3) listed beneath them.
    toc = ['<ol class="contents-list">']
    open_sub = False
    open_item = False
    for level, ident, text in items:
        link = f'<a href="#{html.escape(ident)}">{html.escape(text)}</a>'
        if level == 3 and open_item:
            if not open_sub:
                toc.append('<ul class="contents-sub">')
                open_sub = True
            toc.append(f"<li>{link}</li>")
            continue
        if open_sub:
            toc.append("</ul>")
            open_sub = False
        if open_item:
            toc.append("</li>")
        toc.append(f"<li>{link}")
        open_item = True
    if open_sub:
        toc.append("</ul>")
    if open_item:
        toc.append("</li>")
    toc.append("</ol>")
    return head + body, "\n".join(toc)


def move_headline_first(page: str) -> str:
    """Put the report's headline (``Report.headline``) straight after the title, before the
    metadata, privacy note and contents, and drop the notebook's now empty "Headline" heading."""
    body_start = page.find('<main id="report-body"')
    match = HEADLINE_SECTION.search(page, body_start if body_start >= 0 else 0)
    if match is None or HEADLINE_PLACEHOLDER not in page:
        return page.replace(HEADLINE_PLACEHOLDER, "", 1)
    section = match.group(0)
    page = page[:match.start()] + page[match.end():]
    page = re.sub(r'(?s)<h2[^>]*>\s*Headline\s*(?:<a [^>]*>[^<]*</a>)?\s*</h2>', "", page, count=1)
    return page.replace(HEADLINE_PLACEHOLDER, section, 1)


_EXPORTER: list[Any] = []
_RENDER_LOCK = threading.Lock()  # the exporter renders one notebook at a time

#: Held while a thread of the publishing run imports papermill, jupyter_client or nbconvert. When
#: two threads import the same package at once, Python can hand one of them a partially
#: initialised module (seen: "cannot import name 'AsyncKernelManager' from partially initialized
#: module 'jupyter_client.manager'", failing a notebook before it started). :func:`publish`
#: imports papermill and the kernel manager in its main thread before any other thread starts;
#: the later calls (a notebook's thread, the first page's rendering) are then no-ops or nbconvert.
IMPORT_LOCK = threading.RLock()


def import_once(*modules: str) -> None:
    """Import ``modules`` (a no-op when already imported) holding :data:`IMPORT_LOCK`."""
    import importlib

    with IMPORT_LOCK:
        for name in modules:
            importlib.import_module(name)


def _exporter() -> Any:
    """The page exporter, made once per process (its templates are compiled on first use)."""
    if not _EXPORTER:
        import_once("nbconvert")
        from nbconvert import HTMLExporter

        _EXPORTER.append(HTMLExporter(
            template_name="lab",
            extra_template_paths=[str(TEMPLATE_DIR)],
            template_file="report.html.j2",
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            anchor_link_text="",
        ))
    return _EXPORTER[0]


def warm_renderer() -> None:
    """Load what rendering needs (nbconvert, the page template, the Vega bundle) ahead of the first page."""
    import nbformat

    from helpers.publishing import formatting

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Warm-up")])
    vega_bundle()
    resources = {"csc": {"css": "", "n_charts": 0, "bundle_placeholder": BUNDLE_PLACEHOLDER, "contents_placeholder": TOC_PLACEHOLDER,
                         "headline_placeholder": HEADLINE_PLACEHOLDER, "glossary": formatting.glossary_html(), "title": "",
                         "council": "", "la_code": "", "period_start": "", "period_end": "", "data_as_at": "", "generated": "",
                         "version": "", "month_label": "", "threshold": 0, "attribution": [], "tables": [], "report_name": ""}}
    with _RENDER_LOCK:
        _exporter().from_notebook_node(nb, resources=resources)


def render_page(nb: Any, name: str, meta: dict[str, Any]) -> tuple[str, str, int]:
    """Render one executed notebook to HTML; returns (page, page-without-bundle, number of charts)."""
    n_charts = prepare_notebook(nb, name)
    with _RENDER_LOCK:
        exporter = _exporter()
    css = (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")
    from helpers.publishing import formatting

    resources = {"csc": dict(meta, css=css, n_charts=n_charts, bundle_placeholder=BUNDLE_PLACEHOLDER, contents_placeholder=TOC_PLACEHOLDER,
                             headline_placeholder=HEADLINE_PLACEHOLDER, glossary=formatting.glossary_html())}
    with _RENDER_LOCK:
        page, _ = exporter.from_notebook_node(nb, resources=resources)
    page = move_headline_first(page)
    page, contents = _build_contents(page)
    page = page.replace(TOC_PLACEHOLDER, contents, 1)
    scan_view = page.replace(BUNDLE_PLACEHOLDER, "", 1)
    final = page.replace(BUNDLE_PLACEHOLDER, vega_bundle() if n_charts else "", 1)
    return final, scan_view, n_charts


def render_index(out_dir: Path, council: str) -> str:
    """The self-contained index of every published month (newest first) and report."""
    months = sorted((p for p in out_dir.iterdir() if p.is_dir() and re.fullmatch(r"\d{4}-\d{2}", p.name)), reverse=True)
    css = (TEMPLATE_DIR / "report.css").read_text(encoding="utf-8")
    rows = []
    for month_dir in months:
        pages = sorted(month_dir.glob("*.html"))
        if not pages:
            continue
        label = dt.date(int(month_dir.name[:4]), int(month_dir.name[5:]), 1).strftime("%B %Y")
        items = []
        for page in pages:
            summary_path = month_dir / page.stem / "summary.json"
            title = page.stem.replace("_", " ").capitalize()
            period = ""
            if summary_path.is_file():
                summary = json.loads(summary_path.read_text(encoding="utf-8"))
                title = summary.get("title", title)
                if summary.get("period_start") and summary.get("period_end"):
                    period = f" <span class=\"period\">({html.escape(summary['period_start'])} to {html.escape(summary['period_end'])})</span>"
            items.append(
                f'<li><a href="{month_dir.name}/{page.name}">{html.escape(title)}</a>{period} '
                f'<span class="size">{page.stat().st_size / 1_000_000:.1f} MB</span></li>'
            )
        rows.append(f'<section class="month"><h2 id="m-{month_dir.name}">{label}</h2><ul>{"".join(items)}</ul></section>')
    generated = dt.datetime.now().strftime("%d %B %Y, %H:%M")
    body = "".join(rows) or "<p>No reports have been published yet.</p>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>Children's services reports: {html.escape(council)}</title><style>{css}</style></head>"
        f"<body class=\"index\"><header class=\"report-header\"><p class=\"council\">{html.escape(council)}</p>"
        "<h1>Children's services reports</h1>"
        f"<p class=\"meta\">Newest month first. Index updated {generated}. Bundle version {helpers.__version__}.</p></header>"
        f"<main id=\"report-body\">{body}</main>"
        "<footer class=\"report-footer\"><p>Counts from 1 to the council's suppression threshold are shown as "
        "<strong>c</strong> in every report and table to protect children's privacy.</p></footer></body></html>\n"
    )


# ----------------------------------------------------------------------------------------
# Manifest
# ----------------------------------------------------------------------------------------
def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def input_files(cfg: dict[str, Any]) -> list[Path]:
    files: list[Path] = []
    for value in cfg["data"].values():
        if isinstance(value, Path):
            if value.is_dir():
                files.extend(p for p in sorted(value.rglob("*")) if p.is_file())
            elif value.is_file():
                files.append(value)
    # benchmark tables named in report sections: a path or "reference:NAME" (the bundled snapshot)
    from helpers import reference

    for section, keys in (("rereferrals", ("dfe_c1",)),
                          ("placements", ("dfe_numbers", "dfe_characteristics", "dfe_stability", "dfe_new_placements"))):
        for key in keys:
            value = cfg.get(section, {}).get(key, "")
            try:
                path = reference.resolve(value, cfg["_root"]) if isinstance(value, str) else None
            except KeyError:
                path = None
            if path is not None and path.is_file() and path not in files:
                files.append(path)
    return files


def git_commit(folder: Path) -> str:
    try:
        result = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else "unknown"


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0], "csc-notebooks (helpers)": helpers.__version__}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _display_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.resolve().as_posix()


# ----------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------
def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _write_error_log(out_dir: Path, month: str, message: str) -> Path:
    logs = out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"publish-{month}-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}.log"
    path.write_text(message + "\n", encoding="utf-8")
    return path


def _swap_into_place(staged: Path, target: Path) -> None:
    """Replace ``target`` by ``staged`` with two renames on the same file system."""
    old = None
    if target.exists():
        old = target.with_name(f".old-{target.name}-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(staged, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def publish(
    config_path: str | Path,
    month: str | None = None,
    only: str | None = None,
    out_dir: str | Path | None = None,
    notebooks_dir: str | Path | None = None,
    log=print,
    pdf: bool = False,
) -> Path:
    """Run, render, guard and publish one month; returns the month folder. Raises PublishError on failure."""
    started_clock = time.perf_counter()
    started = _now()
    kernels.skip_optional_modules()  # before papermill is imported (see kernels.SKIPPED_MODULES)
    cfg = config_module.load_config(config_path)
    month = parse_month(month) if month else last_complete_month()
    root: Path = cfg["_root"]
    publish_cfg = cfg["publish"]
    reports = list(publish_cfg.get("reports", []))
    if not reports:
        raise PublishError(f"{cfg['_path']}: [publish] reports is empty")
    if only:
        if only not in reports:
            raise PublishError(f"--only {only!r} is not in [publish] reports {reports}")
        reports = [only]
    out = Path(out_dir) if out_dir else root / publish_cfg.get("out_dir", "reports")
    out = out.resolve()
    nb_dir = Path(notebooks_dir) if notebooks_dir else (root / publish_cfg["notebooks"] if "notebooks" in publish_cfg else None)
    if nb_dir is None:
        nb_dir = root / "notebooks" if (root / "notebooks").is_dir() else REPO_ROOT / "notebooks"
    nb_dir = nb_dir.resolve()
    missing = [r for r in reports if not (nb_dir / f"{r}.ipynb").is_file()]
    if missing:
        raise PublishError(f"notebook(s) not found in {nb_dir}: {', '.join(m + '.ipynb' for m in missing)}")

    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".building-{month}-", dir=out))
    server = None
    try:
        hashes_file = work / "input_hashes.json"
        cache_folder = input_cache.cache_dir(cfg)
        child_env = {input_cache.ENV_HASHES: str(hashes_file), input_cache.ENV_DIR: str(cache_folder) if cache_folder else "off"}
        # Kernels forked from one process that has imported what the notebooks import (Linux;
        # helpers.publishing.kernels), started first: its imports overlap everything up to the
        # first notebook; what the reports that start first import is loaded first.
        if kernels.available():
            waits = scheduling.dependencies(cfg, reports)
            first = sorted(reports, key=lambda r: bool(waits.get(r)))
            server = kernels.KernelServer(kernels.notebook_imports([nb_dir / f"{r}.ipynb" for r in first]), nb_dir,
                                          child_env, work / "kernel-server.log")
        kernel = ensure_kernelspec(work / "jupyter")
        staged = work / month
        target = out / month
        if only and target.is_dir():
            shutil.copytree(target, staged)
            for stale in (staged / f"{only}.html", staged / only):
                if stale.is_dir():
                    shutil.rmtree(stale)
                elif stale.exists():
                    stale.unlink()
        staged.mkdir(exist_ok=True)

        threshold = publish_cfg["suppression_threshold"]
        council = cfg["council"]["la_name"]
        log(f"Publishing {month} for {council}: {', '.join(reports)} -> {out / month}")

        results: dict[str, Any] = {}
        findings_so_far: list[Finding] = []
        scanned: set[str] = set()

        # What the guard looks for is gathered while the notebooks run (it is needed only at the end).
        import concurrent.futures

        # Papermill and Jupyter's kernel manager, imported here, before any thread of this run
        # starts (see IMPORT_LOCK), while the kernel server loads the notebooks' modules: no
        # notebook can start before it has, so this costs the run nothing.
        import_once("papermill", *kernels.MANAGER_MODULES)

        def gather() -> tuple[Identifiers, float]:
            # the guard's identifiers, then what rendering needs
            lower_thread_priority()  # the notebooks come first; the guard uses what CPU is left
            t0 = time.perf_counter()
            found = collect_identifiers([v for v in cfg["data"].values() if isinstance(v, Path)])
            len(found.ids)  # merged now, in this thread
            from helpers import memory

            memory.release_unused()  # the identifiers' text, let go once hashed (national data: about 300 MB)
            seconds = time.perf_counter() - t0
            try:
                warm_renderer()  # then, in the same thread, what the first page's rendering needs
            except Exception:  # noqa: BLE001 - the first page then loads it, and reports any problem
                pass
            return found, seconds

        guard_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        found_future = guard_pool.submit(gather)
        guard_pool.shutdown(wait=False)

        # Inputs hashed once: the notebooks' input cache and the manifest use the same digests.
        input_hashes = input_cache.write_run_hashes(input_files(cfg), hashes_file)

        def finish(name: str, outcome: dict[str, Any]) -> list[str]:
            """Check, render and record one executed report (in the parent, in any order)."""
            report_dir = staged / name
            executed = report_dir / "executed.ipynb"
            if outcome.get("error"):
                message = outcome["error"]
                if executed.is_file():
                    message += f"\n\nThe executed notebook (with the error) is kept for analysts at: {_keep_failed(executed, out, month, name)}"
                raise PublishError(message)
            execute_seconds = outcome["seconds"]
            summary_path = report_dir / "summary.json"
            if not summary_path.is_file():
                raise PublishError(f"notebook {name}.ipynb ran but wrote no summary.json: call rep.summary(title=..., period_start=..., period_end=..., data_as_at=...)")
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            from helpers.publishing.report import REQUIRED_SUMMARY_KEYS

            lacking = [k for k in REQUIRED_SUMMARY_KEYS if not summary.get(k)]
            if lacking:
                raise PublishError(f"notebook {name}.ipynb: summary.json lacks {', '.join(lacking)}")
            attribution_path = report_dir / "attribution.json"
            attribution = json.loads(attribution_path.read_text(encoding="utf-8")) if attribution_path.is_file() else []
            import nbformat  # loaded meanwhile by the guard's thread (with papermill)

            nb = nbformat.read(executed, as_version=4)
            meta = {
                "title": summary["title"],
                "council": council,
                "la_code": cfg["council"]["la_code"],
                "period_start": _long_date(summary["period_start"]),
                "period_end": _long_date(summary["period_end"]),
                "data_as_at": _long_date(summary["data_as_at"]),
                "generated": dt.datetime.now().strftime("%d %B %Y at %H:%M"),
                "version": helpers.__version__,
                "month_label": dt.date(int(month[:4]), int(month[5:]), 1).strftime("%B %Y"),
                "threshold": threshold,
                "attribution": [a["statement"] for a in attribution],
                "tables": sorted(p.name for p in (report_dir / "tables").glob("*.csv")) if (report_dir / "tables").is_dir() else [],
                "report_name": name,
            }
            r_render = time.perf_counter()
            try:
                page, scan_view, n_charts = render_page(nb, name, meta)
            except PublishError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise PublishError(f"notebook {name}.ipynb ran but its page could not be rendered: {type(exc).__name__}: {exc}") from exc
            page_path = staged / f"{name}.html"
            page_path.write_text(page, encoding="utf-8")
            # the guard scans this report now, while the others still run (the page, its folder)
            findings_so_far.extend(guard_build(staged, found_future.result()[0], {name: scan_view}, only=name))
            # The differencing attack: no hidden count may be recoverable from what the report
            # publishes (checked now, while the others run, not all at the end)
            from helpers.publishing.disclosure_audit import audit_report

            findings_so_far.extend(Finding(f"{name}", "recoverable hidden count:", problem)
                                   for problem in audit_report(report_dir, page_path, threshold))
            scanned.add(name)
            size = page_path.stat().st_size
            lines = []
            if size > MAX_PAGE_BYTES:
                lines.append(f"  warning: {name}.html is {size / 1e6:.2f} MB (aim for well under 2 MB: aggregate chart data further)")
            results[name] = {
                "notebook": _display_path(nb_dir / f"{name}.ipynb", root),
                "parameters": {"config_path": _display_path(Path(cfg["_path"]), root), "output_dir": f"{month}/{name}", "month": month},
                "started": outcome["started"],
                "finished": outcome["finished"],
                "execute_seconds": round(execute_seconds, 2),
                "render_seconds": round(time.perf_counter() - r_render, 2),
                "duration_seconds": round(outcome["seconds"] + time.perf_counter() - r_render, 2),
                "peak_rss_mb": outcome.get("peak_rss_mb"),
                "charts": n_charts,
                "page_bytes": size,
            }
            peak = f", kernel peak {outcome['peak_rss_mb']:,.0f} MB" if outcome.get("peak_rss_mb") else ""
            lines.append(f"  {name}: ran in {execute_seconds:.1f} s{peak}, {n_charts} chart(s), page {size / 1e6:.2f} MB")
            return lines

        def start(name: str) -> dict[str, Any]:
            report_dir = staged / name
            report_dir.mkdir(parents=True, exist_ok=True)
            parameters = {"config_path": str(Path(cfg["_path"])), "output_dir": str(report_dir), "month": month}
            if server is not None:
                return scheduling.run_notebook_forked(nb_dir / f"{name}.ipynb", report_dir / "executed.ipynb", parameters, kernel,
                                                      nb_dir, child_env, work / f"{name}.log", server)
            return scheduling.run_notebook(nb_dir / f"{name}.ipynb", report_dir / "executed.ipynb", parameters, kernel, nb_dir,
                                           child_env, work / f"{name}.log")

        plan = scheduling.plan_run(cfg, reports, out)
        scheduling.run_scheduled(reports, start, finish, plan, log, output_of=lambda name: staged / name)
        if server is not None:
            server.close()
        results = {name: results[name] for name in reports}  # manifest in [publish] order

        found, guard_seconds = found_future.result()
        log(f"  guard: {len(found.ids)} identifiers and {len(found.dobs)} dates of birth from {found.files_scanned} input files ({guard_seconds:.1f} s, while the notebooks ran)")
        findings = findings_so_far + guard_build(staged, found, {}, skip=scanned)  # and what is left (--only: the month's other reports)
        if findings:
            shown = "\n".join(f"  - {f}" for f in findings[:50])
            more = f"\n  ... and {len(findings) - 50} more" if len(findings) > 50 else ""
            raise PublishError(f"refusing to publish {month}: the publishing guard (identifiers, disclosure) found {len(findings)} problem(s):\n{shown}{more}")

        manifest_path = staged / "manifest.json"
        previous = json.loads(manifest_path.read_text(encoding="utf-8")) if (only and manifest_path.is_file()) else {}
        all_reports = dict(previous.get("reports", {}))
        all_reports.update(results)
        manifest = {
            "month": month,
            "council": {"la_code": cfg["council"]["la_code"], "la_name": council},
            "config": {"path": _display_path(Path(cfg["_path"]), root), "sha256": sha256(Path(cfg["_path"]))},
            "suppression_threshold": threshold,
            "bundle_version": helpers.__version__,
            "git_commit": git_commit(REPO_ROOT),
            "packages": package_versions(),
            "kernel": {"name": KERNEL_NAME, "argv": [sys.executable, "-m", "ipykernel_launcher"],
                       **({"forked": {"preloaded": server.info.get("loaded", []), "preload_seconds": server.info.get("seconds")}}
                          if server is not None else {})},
            "inputs": [{"path": _display_path(p, root), "sha256": input_hashes.get(str(p.resolve())) or sha256(p), "bytes": p.stat().st_size}
                       for p in input_files(cfg)],
            "started": started,
            "finished": _now(),
            "duration_seconds": round(time.perf_counter() - started_clock, 2),
            "workers": plan.workers,
            "reports": all_reports,
        }
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

        if pdf:
            for name in reports:
                write_pdf(staged / f"{name}.html", staged / f"{name}.pdf")
                log(f"  {name}.pdf written (A4)")
        _swap_into_place(staged, target)
        index_tmp = out / f".index-{os.getpid()}.html"
        index_tmp.write_text(render_index(out, council), encoding="utf-8")
        os.replace(index_tmp, out / "index.html")
        log(f"Published {month} in {time.perf_counter() - started_clock:.1f} s: {out / month}")
        return target
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(work, ignore_errors=True)


def find_chromium() -> str:
    """The Chromium binary for PDFs: ``CSC_CHROMIUM``, else chromium/chromium-browser/google-chrome on PATH."""
    candidates = [os.environ.get("CSC_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"]
    for candidate in candidates:
        if candidate and (shutil.which(candidate) or Path(candidate).is_file()):
            return shutil.which(candidate) or candidate
    raise PublishError("--pdf needs Chromium: install it (Debian: apt-get install chromium) or set CSC_CHROMIUM to its path")


def write_pdf(page: Path, pdf: Path, timeout: int = 180) -> None:
    """Print one page to an A4 PDF with headless Chromium (the page's print CSS keeps tables within
    the page and charts whole). Charts are drawn by the page's own scripts before printing."""
    with tempfile.TemporaryDirectory(prefix="csc-chromium-") as profile:
        command = [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   "--disable-background-networking", "--disable-component-update", "--disable-sync",
                   f"--user-data-dir={profile}", "--window-size=760,1100", "--virtual-time-budget=20000",
                   "--run-all-compositor-stages-before-draw", "--no-pdf-header-footer",
                   f"--print-to-pdf={pdf}", page.resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise PublishError(f"Chromium could not print {page.name} to PDF (exit {result.returncode}): {result.stderr[-500:]}")


def _keep_failed(executed: Path, out: Path, month: str, name: str) -> Path:
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    kept = logs / f"failed-{month}-{name}-{dt.datetime.now().strftime('%Y%m%dT%H%M%S')}.ipynb"
    shutil.copy2(executed, kept)
    return kept


def _long_date(iso: str) -> str:
    try:
        return dt.date.fromisoformat(iso).strftime("%d %B %Y").lstrip("0")
    except ValueError:
        return iso


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.publishing", description="Run and publish one month's children's services reports.")
    parser.add_argument("--config", required=True, help="council config (TOML), e.g. configs/demo.toml")
    parser.add_argument("--month", help="YYYY-MM (default: the last complete month)")
    parser.add_argument("--only", help="publish only this report (a name in [publish] reports)")
    parser.add_argument("--out", help="output folder (default: [publish] out_dir, else reports/ beside configs/)")
    parser.add_argument("--notebooks", help="folder of report notebooks (default: notebooks/ in the project)")
    parser.add_argument("--pdf", action="store_true", help="also write each report as an A4 PDF (needs Chromium) for committee papers")
    args = parser.parse_args(argv)
    month = args.month or last_complete_month()
    try:
        publish(args.config, month=month, only=args.only, out_dir=args.out, notebooks_dir=args.notebooks, pdf=args.pdf)
    except (PublishError, config_module.ConfigError) as exc:
        out = Path(args.out) if args.out else None
        if out is None:
            try:
                cfg = config_module.load_config(args.config)
                out = cfg["_root"] / cfg["publish"].get("out_dir", "reports")
            except config_module.ConfigError:
                out = Path("reports")
        message = f"Publishing {month} failed; nothing was replaced.\n{exc}"
        try:
            log_path = _write_error_log(out, month, message)
            message += f"\n(error log: {log_path})"
        except OSError:
            pass
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
