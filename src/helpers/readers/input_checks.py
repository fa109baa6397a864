"""Checks that stop a file being read silently wrongly, shared by the readers.

Each check either refuses a whole file with one :class:`helpers.readers.ledger.ReaderError` that names
the file, line, column and what to do, or marks rows for the ledger:

* :func:`sniff_binary` - a workbook (xlsx/xls) or other binary file given where a CSV is
  expected ("save it as CSV UTF-8"), before any decoding error can mislead.
* :func:`check_date_formats` - a date column that is not consistently ``dd/mm/yyyy``. One
  value that can only be US ``mm/dd/yyyy`` (second number above 12) means the file was
  written with US date settings, so every date with a day up to 12 would be read with day and
  month swapped: the file is refused as a whole, with example lines. Two or more values in
  another date format (ISO ``yyyy-mm-dd``, two-digit years, dates with a time, Excel serial
  numbers) also refuse the file; a single such value is a typing slip left to the row rules.
* :func:`short_rows` - rows with fewer fields than the header (a row cut short); readers
  exclude them with the rule :data:`TRUNCATED_RULE` (``helpers.readers.schemas.RowChecks`` does this
  for every frame carrying the ``_truncated`` column).
* :func:`read_reference_csv` - ``pandas.read_csv`` for reference files (IoD, ONS lookups,
  population, postcode directory) with the same clear errors (workbook, not UTF-8, bad rows).
* :func:`plausible_dates` - dates outside the window a record can have (before the child's
  birth, implausibly early, after the data's as-at date).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.readers.ledger import ReaderError

TRUNCATED_RULE = "row has fewer fields than the header (cut short)"

_WORKBOOK_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook (.xlsx) or another zip file",
    b"\xd0\xcf\x11\xe0": "an old-style Excel workbook (.xls)",
}
# value pattern -> what the format looks like (checked only for values that are not dd/mm/yyyy)
_OTHER_DATE_FORMATS = [
    (re.compile(r"^(0?[1-9]|1[0-2])/(1[3-9]|2\d|3[01])/\d{4}$"), "mm/dd/yyyy (US order: day and month swapped)"),
    (re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2})?)?$"), "yyyy-mm-dd"),
    (re.compile(r"^\d{1,2}/\d{1,2}/\d{4}[ T]\d{1,2}:\d{2}(:\d{2})?( ?[AaPp][Mm])?$"), "a date with a time"),
    (re.compile(r"^\d{1,2}/\d{1,2}/\d{2}$"), "dd/mm/yy (two-digit years)"),
    (re.compile(r"^\d{1,2}[-.]\d{1,2}[-.]\d{4}$"), "dd-mm-yyyy or dd.mm.yyyy"),
    (re.compile(r"^\d{5}(\.\d+)?$"), "Excel date numbers"),
]


def sniff_binary(path: Path, data: bytes, what: str) -> None:
    """ReaderError when ``data`` (a file's first bytes) is a workbook, not text."""
    for sig, kind in _WORKBOOK_SIGNATURES.items():
        if data.startswith(sig):
            raise ReaderError(path, "line 1", None,
                              f"this is {kind}, not a CSV file (only its name ends .csv); expected {what}: "
                              "open it in Excel and use Save As 'CSV UTF-8 (Comma delimited)'")


def check_date_formats(path: Path, df: pd.DataFrame, columns, expected: str = "dd/mm/yyyy") -> None:
    """Refuse a file whose date ``columns`` are not consistently ``dd/mm/yyyy``.

    ``df`` is a frame of text as read (with ``_row``, the CSV line); columns not in it are
    skipped. Values that are blank or not dates at all are left to the row rules (excluded or
    repaired one by one); a value in another date format refuses the file, because it shows the
    whole column was written with other date settings.
    """
    for col in columns:
        if col not in df.columns:
            continue
        values = df[col]
        codes, uniques = pd.factorize(values)
        u = pd.Series(uniques, dtype=object).astype(str).str.strip()
        ok = pd.to_datetime(u.where(u.ne(""), None), format="%d/%m/%Y", errors="coerce").notna() | u.eq("")
        if ok.all():
            continue
        for i, (pattern, label) in enumerate(_OTHER_DATE_FORMATS):
            hit_u = (~ok) & u.str.match(pattern.pattern)
            if not hit_u.any():
                continue
            rows = np.flatnonzero(np.isin(codes, np.flatnonzero(hit_u.to_numpy())))
            if i > 0 and len(rows) < 2:
                continue      # one unambiguous odd value is a typing slip: the row rules handle it
            lines = df["_row"].to_numpy()[rows]
            examples = ", ".join(f"line {ln}: {str(values.iloc[r]).strip()!r}" for ln, r in zip(lines[:3], rows[:3]))
            raise ReaderError(path, f"line {lines[0]}", col,
                              f"dates are not consistently {expected}: {len(rows)} value(s) look like {label} "
                              f"({examples}). A file re-saved with other date settings is read wrongly (day and "
                              f"month swapped), so it is refused as a whole: re-export it with dates as {expected}")


def field_counts(text: str, n_records: int) -> np.ndarray | None:
    """Number of fields in each record after the header (None when it cannot be matched to rows).

    Vectorised over the bytes when the text holds no quotes (commas per line); with quotes, the
    csv module reads the records exactly.
    """
    if '"' not in text:
        body = text.split("\n", 1)[1] if "\n" in text else ""
        if body.endswith("\n"):
            body = body[:-1]
        if not body:
            return np.zeros(0, dtype=np.int64) if n_records == 0 else None
        arr = np.frombuffer(body.encode("utf-8"), dtype=np.uint8)
        newlines = np.flatnonzero(arr == 10)
        commas = np.flatnonzero(arr == 44)
        bounds = np.concatenate([newlines, [len(arr)]])
        per_line = np.diff(np.concatenate([[0], np.searchsorted(commas, bounds)]))
        counts = per_line + 1
        if len(counts) == n_records:
            return counts
    rows = list(csv.reader(io.StringIO(text)))[1:]
    counts = np.array([len(r) if r else 1 for r in rows], dtype=np.int64)
    return counts if len(counts) == n_records else None


def short_rows(text: str, n_records: int, n_header: int) -> np.ndarray:
    """Per record: the number of fields when fewer than the header's ``n_header``, else 0."""
    counts = field_counts(text, n_records)
    if counts is None:
        return np.zeros(n_records, dtype=np.int64)
    return np.where(counts < n_header, counts, 0)


def read_reference_csv(path: str | Path, what: str, **kwargs) -> pd.DataFrame:
    """``pandas.read_csv`` for a reference file, with errors that name the file and what to do.

    A workbook saved as .csv, bytes that are not UTF-8 (Latin-1/Windows-1252 exports) and
    malformed rows each raise :class:`ReaderError` instead of a bare pandas/codec error.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(path, "file", None, f"file not found; expected {what}")
    data = path.read_bytes()
    if not data.strip():
        raise ReaderError(path, "line 1", None, f"file is empty; expected {what}")
    sniff_binary(path, data[:8], what)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ReaderError(path, "line 1", None, f"file is UTF-16 encoded; expected {what} as UTF-8 "
                          "(save it as 'CSV UTF-8')")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ReaderError(path, f"line {line}", None,
                          f"byte 0x{data[exc.start]:02x} is not valid UTF-8; expected {what} as UTF-8 "
                          "(it may be Latin-1/Windows-1252: open it and save as 'CSV UTF-8', or download it again)") from None
    kwargs.pop("encoding", None)
    try:
        return pd.read_csv(io.StringIO(text), **kwargs)
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        where = f"line {m.group(2)}" if m else "unknown line"
        detail = (f"row has {m.group(3)} fields; expected {m.group(1)} as in the header" if m
                  else f"CSV not readable ({str(exc).strip()})")
        raise ReaderError(path, where, None, f"{detail}; expected {what}") from None
    except pd.errors.EmptyDataError:
        raise ReaderError(path, "line 1", None, f"no header row; expected {what}") from None


def plausible_dates(dates: pd.Series, *, floor=None, ceiling=None) -> tuple[pd.Series, pd.Series]:
    """``(too_early, too_late)`` masks: dates before ``floor`` or after ``ceiling`` (each a date
    or a Series aligned with ``dates``; None = no bound). Missing dates are in neither."""
    early = pd.Series(False, index=dates.index)
    late = pd.Series(False, index=dates.index)
    if floor is not None:
        early = (dates < floor).fillna(False).astype(bool)
    if ceiling is not None:
        late = (dates > ceiling).fillna(False).astype(bool)
    return early, late


RESUBMITTED_RULE = "resubmission: file replaced by a later return for the same collection year"


def pick_resubmissions(files: dict[str, tuple[object, str | None, Path]]) -> dict[str, str]:
    """Which files are replaced by a resubmission: ``{replaced file: detail naming the one used}``.

    ``files`` maps a file's name to ``(key, stamp, path)``: files with the same ``key`` (a
    collection year, or year and table) are copies of one return. The newest is used: by
    ``stamp`` (the file's own header time, e.g. the CIN census ``Header/Source/DateTime``) when
    every copy has a readable one, else by file modification time; a tie goes to the later name.
    """
    groups: dict[object, list[str]] = {}
    for name, (key, _, _) in files.items():
        groups.setdefault(key, []).append(name)
    out: dict[str, str] = {}
    for key, names in groups.items():
        if len(names) < 2:
            continue
        stamps = {n: pd.to_datetime(files[n][1] or "", errors="coerce") for n in names}
        if all(pd.notna(v) for v in stamps.values()):
            order = {n: (stamps[n], n) for n in names}
            label = {n: f"header date-time {stamps[n]:%Y-%m-%d %H:%M}" for n in names}
        else:
            mtimes = {n: pd.Timestamp(Path(files[n][2]).stat().st_mtime, unit="s") for n in names}
            order = {n: (mtimes[n], n) for n in names}
            label = {n: f"file modified {mtimes[n]:%Y-%m-%d %H:%M}" for n in names}
        winner = max(names, key=lambda n: order[n])
        for n in names:
            if n != winner:
                out[n] = f"{n} ({label[n]}) replaced by {winner} ({label[winner]})"
    return out


#: No record about a child (a referral, an episode of care, an address) can start more than this
#: many years before the date its data was taken: children are under 18 and a referral can come
#: up to 40 weeks before birth. Earlier dates (e.g. 1900 typed for an unknown date) are excluded.
MAX_RECORD_AGE_YEARS = 19
#: A referral may be made before a child is born (an unborn child), at most 40 weeks before.
PRE_BIRTH_DAYS = 280


def earliest_plausible(reference):
    """The earliest plausible start date of a record in data taken at ``reference`` (a date,
    Series or datetime64 array): ``reference`` minus :data:`MAX_RECORD_AGE_YEARS` years."""
    if isinstance(reference, np.ndarray):          # one value per row, few distinct: shift each once
        uniq, inverse = np.unique(reference.astype("datetime64[ns]"), return_inverse=True)
        shifted = (pd.DatetimeIndex(uniq) - pd.DateOffset(years=MAX_RECORD_AGE_YEARS)).to_numpy(dtype="datetime64[ns]")
        return shifted[inverse]
    return reference - pd.DateOffset(years=MAX_RECORD_AGE_YEARS)


def file_date(path: str | Path) -> pd.Timestamp:
    """The day a file was last written: an extract cannot hold events after it (the default
    as-at date of the case-management extracts)."""
    return pd.Timestamp(Path(path).stat().st_mtime, unit="s").normalize()
