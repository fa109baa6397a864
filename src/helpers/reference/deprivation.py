"""Editions of the English Indices of Deprivation (IoD2019 on 2011 LSOAs, IoD2025 on 2021 LSOAs).

MHCLG publishes each edition as numbered files with their own headers: File 1 (IMD rank and
decile), File 3 (IDACI and IDAOPI), File 6 (population denominators), File 7 (everything: scores,
ranks, deciles and denominators in one CSV). The headers name the geography vintage, e.g.
"LSOA code (2011)" and "Local Authority District code (2019)" in IoD2019, "LSOA code (2021)" and
"Local Authority District code (2024)" in IoD2025. :func:`read_iod_2025` reads the IoD2025 files
as published (and the combined snake_case CSV ``lsoa21cd, lad24cd, imd_*, idaci_*``) into the
same tidy columns as :func:`helpers.reference.geography.read_iod` returns for IoD2019, so ward profiles, the
demand model and the maps work with either edition. The frame's ``attrs`` record the edition
(:func:`edition_of`).

Definitions (docs/definitions.md): ranks run from 1 (most deprived) to the number of English
LSOAs the edition ranks: 32,844 (IoD2019) or 33,755 (IoD2025). The IDACI percentile is
``100 * (1 - (rank - 0.5) / N)`` with that edition's N.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.readers.ledger import ReaderError


@dataclass(frozen=True)
class Edition:
    """One edition of the indices: its year, the LSOA vintage it ranks, and how many LSOAs."""

    year: int
    lsoa_vintage: int
    n_lsoas: int
    attribution: str          # key of helpers.publishing.report.ATTRIBUTIONS
    boundaries_attribution: str

    @property
    def label(self) -> str:
        return f"English Indices of Deprivation {self.year} (on {self.lsoa_vintage} LSOAs, {self.n_lsoas:,} in England)"

    @property
    def short(self) -> str:
        return f"IoD{self.year}"

    def attrs(self) -> dict:
        return {"iod_edition": self.year, "lsoa_vintage": self.lsoa_vintage, "n_lsoas": self.n_lsoas,
                "iod_label": self.label, "iod_attribution": self.attribution}


EDITIONS: dict[int, Edition] = {
    2019: Edition(2019, 2011, 32_844, "mhclg_iod2019", "ons_boundaries"),
    2025: Edition(2025, 2021, 33_755, "mhclg_iod2025", "ons_boundaries_2021"),
}

#: LSOA vintage of each edition, and the reverse.
EDITION_BY_VINTAGE = {e.lsoa_vintage: e.year for e in EDITIONS.values()}


def edition(year: int | str | None) -> Edition:
    """The :class:`Edition` for a config value (2019 or 2025; None or "" -> 2019)."""
    if year in (None, ""):
        return EDITIONS[2019]
    try:
        return EDITIONS[int(year)]
    except (KeyError, ValueError):
        raise ValueError(f"iod_edition must be 2019 or 2025, got {year!r}") from None


def edition_of(iod: pd.DataFrame) -> Edition:
    """The edition a frame from ``read_iod`` was read as (IoD2019 when not recorded)."""
    return EDITIONS[int(iod.attrs.get("iod_edition", 2019))]


# Published header text (lower case, matched at the start) -> tidy name. ``{y}`` is any year.
_HEADERS: list[tuple[str, str]] = [
    (r"lsoa code \((\d{4})\)", "lsoa_code"),
    (r"lsoa name \((\d{4})\)", "lsoa_name"),
    (r"local authority district code \((\d{4})\)", "lad_code"),
    (r"local authority district name \((\d{4})\)", "lad_name"),
    (r"index of multiple deprivation \(imd\) score", "imd_score"),
    (r"index of multiple deprivation \(imd\) rank", "imd_rank"),
    (r"index of multiple deprivation \(imd\) decile", "imd_decile"),
    (r"income deprivation affecting children index \(idaci\) score", "idaci_score"),
    (r"income deprivation affecting children index \(idaci\) rank", "idaci_rank"),
    (r"income deprivation affecting children index \(idaci\) decile", "idaci_decile"),
    (r"income deprivation affecting older people( index)? \(idaopi\) rank", "idaopi_rank"),
    (r"income deprivation affecting older people( index)? \(idaopi\) decile", "idaopi_decile"),
    (r"total population: mid (\d{4})", "pop_total_mid{y}"),
    (r"dependent children aged 0-15: mid (\d{4})", "pop_children_0_15_mid{y}"),
]
# Combined snake_case CSV columns (IoD2025 layout) -> tidy name.
_CSV_2025 = {"lsoa21cd": "lsoa_code", "lsoa21nm": "lsoa_name", "lad24cd": "lad_code", "lad24nm": "lad_name"}


def published_columns(columns: Iterable[object]) -> tuple[dict[object, str], int | None]:
    """Map published IoD headers to tidy names; also return the LSOA vintage the headers name."""
    rename: dict[object, str] = {}
    vintage = None
    for col in columns:
        low = str(col).strip().lower()
        for pattern, tidy in _HEADERS:
            m = re.match(pattern, low)
            if m:
                name = tidy.format(y=m.group(m.lastindex)) if "{y}" in tidy else tidy
                if name not in rename.values():
                    rename[col] = name
                    if tidy == "lsoa_code":
                        vintage = int(m.group(1))
                break
    return rename, vintage


def detect_vintage(columns: Iterable[object]) -> int | None:
    """LSOA vintage (2011 or 2021) named by a file's headers, or None when they name none."""
    cols = [str(c).strip() for c in columns]
    lower = {c.lower() for c in cols}
    if "lsoa11cd" in lower:
        return 2011
    if "lsoa21cd" in lower:
        return 2021
    return published_columns(cols)[1]


def _workbook_frames(path: Path) -> list[pd.DataFrame]:
    frames = []
    for name, sheet in pd.read_excel(path, sheet_name=None).items():
        rename, vintage = published_columns(sheet.columns)
        if "lsoa_code" not in rename.values():
            continue      # notes and terms sheets
        if vintage == 2011:
            raise ReaderError(str(path), f"sheet {name}", "LSOA code (2011)",
                              "this is an IoD2019 workbook on 2011 LSOAs; set [geography] iod_edition = 2019, or supply IoD2025")
        frames.append(sheet[list(rename)].rename(columns=rename))
    if not frames:
        raise ReaderError(str(path), "sheets", "LSOA code (2021)", "a sheet with an 'LSOA code (2021)' column (IoD2025 File 1, 3 or 6)")
    return frames


def iod_files(path, choose, expected: str) -> list[Path]:
    """The files an IoD reader reads: ``path`` itself, each of a list, or ``choose(folder)`` for a folder.

    Refuses, naming the path, a folder where ``choose`` finds nothing (``expected`` says what it looks
    for) and a file that does not exist.
    """
    if isinstance(path, (str, Path)) and Path(path).is_dir():
        paths = choose(Path(path))
        if not paths:
            raise ReaderError(str(path), "folder", None, expected)
    elif isinstance(path, (str, Path)):
        paths = [Path(path)]
    else:
        paths = [Path(p) for p in path]
    for p in paths:
        if not p.is_file():
            raise ReaderError(str(p), "file", None, "file not found")
    return paths


def read_iod_2025(path: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Read IoD2025 (2021 LSOAs) as MHCLG publishes it.

    Input: File 7 (CSV), one or more of Files 1, 3 and 6 (xlsx or CSV, joined on LSOA code), the
    combined CSV (``lsoa21cd, lsoa21nm, lad24cd, lad24nm, imd_score, imd_rank, imd_decile, ...,
    idaci_rank, idaci_decile``), or a folder of such files. Output: the columns of
    :data:`helpers.reference.geography.IOD_COLUMNS` (``idaci_score`` NaN unless File 7 is given; File 7
    calls it "IDACI Score (rate)") plus any ``pop_*`` columns, ``attrs`` recording IoD2025.
    Raises :class:`~helpers.readers.ledger.ReaderError` naming the file when it is on 2011 LSOAs
    (an IoD2019 file) or lacks the IDACI rank.
    """
    from helpers.reference.geography import IOD_COLUMNS, idaci_percentile_from_rank

    ed = EDITIONS[2025]

    def choose(folder: Path) -> list[Path]:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".xlsx"))
        return [p for p in paths if p.name.lower().startswith("file_7")] or paths

    frames = []
    paths = iod_files(path, choose, "IoD2025 File 7 (CSV) or File 1/3 workbooks")
    for p in paths:
        if p.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
            got = _workbook_frames(p)
        else:
            from helpers.readers.input_checks import read_reference_csv   # clear errors for Latin-1 or a workbook saved as .csv

            raw = read_reference_csv(p, "IoD2025 File 7 (CSV) as published", dtype=str)
            raw.columns = [str(c).strip() for c in raw.columns]
            vintage = detect_vintage(raw.columns)
            if vintage == 2011:
                raise ReaderError(str(p), "line 1", "LSOA code (2011)",
                                  "this is an IoD2019 file on 2011 LSOAs; set [geography] iod_edition = 2019, or supply IoD2025")
            if "lsoa21cd" in {c.lower() for c in raw.columns}:
                got = [raw.rename(columns={c: _CSV_2025.get(c.lower(), c) for c in raw.columns})]
            else:
                rename, _ = published_columns(raw.columns)
                if "lsoa_code" not in rename.values():
                    raise ReaderError(str(p), "line 1", "LSOA code (2021)", "IoD2025 headers as published (File 7, 1, 3 or 6)")
                got = [raw[list(rename)].rename(columns=rename)]
        frames.extend(got)
    iod = frames[0]
    for f in frames[1:]:
        iod = iod.merge(f[["lsoa_code"] + [c for c in f.columns if c not in iod.columns]], on="lsoa_code", how="outer")
    if "idaci_rank" not in iod.columns:
        raise ReaderError(str(paths[0]), "line 1", "Income Deprivation Affecting Children Index (IDACI) Rank",
                          "required column missing (IoD2025 File 3 or File 7)")
    for col in IOD_COLUMNS:
        if col not in iod.columns:
            iod[col] = np.nan
    iod["lsoa_code"] = iod["lsoa_code"].astype(str).str.strip()
    bad = iod["lsoa_code"].str.match(r"^E01\d{6}$") == False  # noqa: E712 (NaN-safe)
    if bad.any():
        first = iod.loc[bad, "lsoa_code"].iloc[0]
        raise ReaderError(str(paths[0]), f"LSOA {first}", "LSOA code (2021)", "an English LSOA code E01 plus 6 digits")
    for col in ("imd_score", "imd_rank", "imd_decile", "idaci_score", "idaci_rank", "idaci_decile"):
        iod[col] = pd.to_numeric(iod[col], errors="coerce")
    too_high = iod["idaci_rank"] > ed.n_lsoas
    if too_high.any():
        raise ReaderError(str(paths[0]), f"LSOA {iod.loc[too_high, 'lsoa_code'].iloc[0]}", "IDACI rank",
                          f"a rank from 1 to {ed.n_lsoas:,} (IoD2025)")
    iod["idaci_percentile"] = idaci_percentile_from_rank(iod["idaci_rank"], ed.n_lsoas).to_numpy()
    extra = [c for c in iod.columns if c not in IOD_COLUMNS and c.startswith("pop_")]
    for c in extra:
        iod[c] = pd.to_numeric(iod[c], errors="coerce")
    out = iod[IOD_COLUMNS + extra].reset_index(drop=True)
    out.attrs.update(ed.attrs())
    return out


def file_vintage(path: str | Path) -> int | None:
    """LSOA vintage a deprivation file's headers name (2011, 2021, or None), reading only its headers.

    A folder: the vintage of its first CSV or ``File_*.xlsx``.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.csv")) or sorted(path.glob("File_*.xlsx"))
        return file_vintage(files[0]) if files else None
    if not path.is_file():
        return None
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            for ws in wb.worksheets:
                header = next(ws.iter_rows(min_row=1, max_row=1, values_only=True), ())
                v = detect_vintage([h for h in header if h is not None])
                if v:
                    return v
        finally:
            wb.close()
        return None
    from helpers.readers.input_checks import read_reference_csv   # clear errors for Latin-1, workbooks saved as .csv

    return detect_vintage(read_reference_csv(path, "an IoD CSV (File 7 or the combined CSV)", nrows=0).columns)
