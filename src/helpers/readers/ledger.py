"""The data-quality ledger: every row a reader reads is either used or excluded with a reason.

Every reader in this package returns a :class:`Ledger`. For each *source* (a file and the
table within it, e.g. ``"CIN_census_2023.xml:referrals"`` or ``"2023/episodes.csv"``) it
counts rows read and rows used, and it lists every repair and exclusion with the row number
(CSV line number, or XML element line number) so an analyst can find the record.

Rules of the ledger:

* rows read = rows used + rows excluded, for every source (:meth:`Ledger.check_reconciles`);
  a row is excluded at most once (the first rule it fails), and an excluded row is never used;
* a repaired row is still used; ``rows_repaired`` counts distinct rows with at least one repair;
* the published appendix shows only counts by rule (:meth:`summary` and :meth:`by_rule`),
  never row numbers.

:class:`ReaderError` is raised (once per file) when a file cannot be read at all; its message
names the file, the line or element, the field and what was expected.
"""

from __future__ import annotations

import os
from pathlib import Path

from collections import defaultdict
from typing import Callable, Iterable

import numpy as np
import pandas as pd

ISSUE_COLUMNS = ["source", "row", "rule", "field", "action", "detail"]


class ReaderError(ValueError):
    """A file that cannot be read at all.

    The message always names the file, the line or element, the field and what was expected,
    e.g. ``"episodes.csv, line 1, field DECOM: required column missing (expected header ...)"``.
    """

    def __init__(self, file: str, where: str, field: str | None, expected: str):
        self.file = str(file)
        self.where = where
        self.field = field
        self.expected = expected
        field_part = f", field {field}" if field else ""
        super().__init__(f"{self.file}, {where}{field_part}: {expected}")

    def __reduce__(self):
        # raised in a worker process (files read side by side) and re-raised in the caller
        return (type(self), (self.file, self.where, self.field, self.expected))


class Ledger:
    """Counts of rows read, used, repaired and excluded, per source, with the issues behind them.

    Single-row methods (``exclude``, ``repair``) follow docs/data_model.md section 3; the
    vectorised ``exclude_rows`` / ``repair_rows`` record many rows at once (readers use them so
    that no per-row Python loop is needed).
    """

    def __init__(self) -> None:
        self._read: dict[str, int] = defaultdict(int)
        self._used: dict[str, int] = defaultdict(int)
        self._chunks: list[pd.DataFrame] = []   # issue records, built lazily
        self._single: list[tuple] = []          # issue records added one at a time
        self._specs: dict[str, tuple] = {}      # file -> (return, collection year, spec year, note)

    # -- counts ---------------------------------------------------------------------------
    def add_read(self, source: str, n: int) -> None:
        """Record ``n`` rows read from ``source``."""
        self._read[source] += int(n)

    def add_used(self, source: str, n: int) -> None:
        """Record ``n`` rows of ``source`` used in the tidy output."""
        self._used[source] += int(n)

    def add_used_counts(self, sources: Iterable[str]) -> None:
        """Record one used row per element of ``sources`` (vectorised ``add_used``)."""
        counts = pd.Series(list(sources) if not isinstance(sources, pd.Series) else sources, dtype=object)
        for source, n in counts.value_counts().items():
            self._used[str(source)] += int(n)

    # -- issues ---------------------------------------------------------------------------
    def exclude(self, source: str, row: int | None, rule: str, field: str | None, detail: str) -> None:
        """Record one row of ``source`` excluded by ``rule`` (the row is not used)."""
        self._single.append((source, row, rule, field, "excluded", detail))

    def repair(self, source: str, row: int | None, rule: str, field: str | None, detail: str) -> None:
        """Record one row of ``source`` repaired by ``rule`` (the row is still used)."""
        self._single.append((source, row, rule, field, "repaired", detail))

    def _add_rows(self, action, sources, rows, rule, field, details) -> None:
        n = len(rows)
        if n == 0:
            return
        frame = pd.DataFrame({
            "source": np.broadcast_to(np.asarray(sources, dtype=object), (n,)) if np.ndim(sources) == 0
            else np.asarray(sources, dtype=object),
            "row": pd.array(np.asarray(rows), dtype="Int64"),
            "rule": rule,
            "field": field,
            "action": action,
            "detail": np.broadcast_to(np.asarray(details, dtype=object), (n,)) if np.ndim(details) == 0
            else np.asarray(details, dtype=object),
        })
        self._chunks.append(frame)

    def exclude_rows(self, sources, rows, rule: str, field: str | None, details) -> None:
        """Vectorised :meth:`exclude`: ``sources``, ``rows`` and ``details`` are equal-length arrays
        (``sources`` and ``details`` may be a single string)."""
        self._add_rows("excluded", sources, rows, rule, field, details)

    def repair_rows(self, sources, rows, rule: str, field: str | None, details) -> None:
        """Vectorised :meth:`repair`."""
        self._add_rows("repaired", sources, rows, rule, field, details)

    # -- specification recognised per file ---------------------------------------------------
    def note_spec(self, file: str, return_name: str, collection_year: int, spec_year: int, note: str = "") -> None:
        """Record which DfE specification year a reader recognised for ``file`` (see helpers.readers.specs)."""
        self._specs[str(file)] = (return_name, int(collection_year), int(spec_year), note)

    def specs(self) -> pd.DataFrame:
        """One row per file read: ``file, return, collection_year, spec_year, spec, note``
        (``spec`` is the year's label, e.g. ``"2024-25"``)."""
        rows = [(f, r, y, s, f"{s - 1}-{str(s)[2:]}", n) for f, (r, y, s, n) in sorted(self._specs.items())]
        return pd.DataFrame(rows, columns=["file", "return", "collection_year", "spec_year", "spec", "note"])

    # -- combining and reporting ------------------------------------------------------------
    def merge(self, other: "Ledger") -> "Ledger":
        """A new ledger holding this ledger's counts and issues plus ``other``'s."""
        out = Ledger()
        for led in (self, other):
            for k, v in led._read.items():
                out._read[k] += v
            for k, v in led._used.items():
                out._used[k] += v
            out._chunks.extend(led._chunks)
            out._single.extend(led._single)
            out._specs.update(led._specs)
        return out

    def only(self, keep: Callable[[str], bool]) -> "Ledger":
        """A new ledger with the counts and issues of the sources for which ``keep(source)`` is
        true (e.g. one Annex A list of a workbook read whole); specification notes are kept."""
        out = Ledger()
        out._read.update({k: v for k, v in self._read.items() if keep(k)})
        out._used.update({k: v for k, v in self._used.items() if keep(k)})
        for chunk in self._chunks:
            wanted = [s for s in pd.unique(chunk["source"]) if keep(s)]  # a few sources, many rows
            mask = chunk["source"].isin(wanted)
            if mask.any():
                out._chunks.append(chunk[mask.to_numpy()].reset_index(drop=True))
        out._single = [rec for rec in self._single if keep(rec[0])]
        out._specs.update(self._specs)
        return out

    def issues(self) -> pd.DataFrame:
        """One row per repair or exclusion: ``source, row, rule, field, action, detail``.

        ``row`` is the CSV line number (header = line 1) or the XML element's line number.
        For analysts only: row numbers point at children's records and are never published.
        """
        parts = list(self._chunks)
        if self._single:
            single = pd.DataFrame(self._single, columns=ISSUE_COLUMNS)
            single["row"] = pd.array(single["row"], dtype="Int64")
            parts.append(single)
        if not parts:
            out = pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})
            out["row"] = pd.array([], dtype="Int64")
            return out
        return pd.concat(parts, ignore_index=True)[ISSUE_COLUMNS]

    def issue_columns(self, columns: list[str]) -> pd.DataFrame:
        """``issues()[columns]`` without building the other columns (a national council's ledger
        holds millions of issues: counting by rule needs neither row numbers nor details)."""
        parts = [chunk[columns] for chunk in self._chunks]
        if self._single:
            single = pd.DataFrame(self._single, columns=ISSUE_COLUMNS)
            single["row"] = pd.array(single["row"], dtype="Int64")
            parts.append(single[columns])
        if not parts:
            return self.issues()[columns]
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """One row per source: ``source, rows_read, rows_used, rows_repaired, rows_excluded``."""
        issues = self.issue_columns(["source", "row", "action"])
        sources = sorted(set(self._read) | set(self._used) | set(issues["source"]))
        excluded = issues[issues["action"] == "excluded"].groupby("source").size()
        rep = issues[issues["action"] == "repaired"]
        # distinct *used* rows repaired (a row repaired and later excluded counts as excluded);
        # repairs without a row number count one each
        exc = issues[(issues["action"] == "excluded") & issues["row"].notna()]
        if not exc.empty and not rep.empty:
            # (source, row) of each repair also excluded: one integer key per pair (source code,
            # row number), compared as sorted integers rather than merged as objects
            codes, _ = pd.factorize(pd.concat([rep["source"], exc["source"]], ignore_index=True))
            rows = np.concatenate([rep["row"].to_numpy(dtype="float64", na_value=np.nan),
                                   exc["row"].to_numpy(dtype="float64", na_value=np.nan)])
            has_row = ~np.isnan(rows)
            keys = codes.astype(np.int64) * (1 << 40) + np.where(has_row, rows, 0).astype(np.int64)
            n_rep = len(rep)
            gone = pd.Series(keys[:n_rep]).isin(keys[n_rep:]).to_numpy() & has_row[:n_rep]  # a hash table
            rep = rep[~gone]
        with_row = rep[rep["row"].notna()].drop_duplicates(["source", "row"]).groupby("source").size()
        no_row = rep[rep["row"].isna()].groupby("source").size()
        out = pd.DataFrame({"source": sources})
        out["rows_read"] = [self._read.get(s, 0) for s in sources]
        out["rows_used"] = [self._used.get(s, 0) for s in sources]
        out["rows_repaired"] = [int(with_row.get(s, 0)) + int(no_row.get(s, 0)) for s in sources]
        out["rows_excluded"] = [int(excluded.get(s, 0)) for s in sources]
        return out

    def by_rule(self) -> pd.DataFrame:
        """Counts of issues by ``action, rule, field`` (the publishable view: no row numbers)."""
        issues = self.issues()
        if issues.empty:
            return pd.DataFrame(columns=["action", "rule", "field", "rows"])
        return (issues.assign(field=issues["field"].fillna(""))
                .groupby(["action", "rule", "field"], as_index=False).size()
                .rename(columns={"size": "rows"}))

    def check_reconciles(self) -> None:
        """Raise ``AssertionError`` unless rows_read == rows_used + rows_excluded for every source."""
        summ = self.summary()
        bad = summ[summ["rows_read"] != summ["rows_used"] + summ["rows_excluded"]]
        if not bad.empty:
            lines = [f"{r.source}: read {r.rows_read} != used {r.rows_used} + excluded {r.rows_excluded}"
                     for r in bad.itertuples()]
            raise AssertionError("ledger does not reconcile:\n" + "\n".join(lines))

    def __repr__(self) -> str:
        n_read = sum(self._read.values())
        n_used = sum(self._used.values())
        return f"Ledger(sources={len(set(self._read) | set(self._used))}, rows_read={n_read}, rows_used={n_used})"


def resolve_input_files(paths, pattern: str, *, what: str, recursive: bool = False) -> list[Path]:
    """Expand files and folders given to a reader into a sorted list of files.

    ``paths`` is one path or a list; a folder contributes its files matching ``pattern``
    (searched recursively when ``recursive``). Raises :class:`ReaderError` naming the folder
    when it holds no such files, or the path when it does not exist. ``what`` describes the
    expected files in that message (e.g. "CIN census XML files").
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.rglob(pattern) if recursive else p.glob(pattern))
            if not found:
                raise ReaderError(p, "folder", None, f"no files matching {pattern} found; expected {what}")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise ReaderError(p, "path", None, "file or folder does not exist")
    return out
