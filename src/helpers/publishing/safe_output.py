"""Text from inputs and the config made safe for what the bundle publishes.

Council names, scenario names, ward names from an ONS lookup and fields typed into a
case-management system reach published files. Two kinds of harm are possible:

* **Formula injection in CSVs.** A spreadsheet opens a cell that starts with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return as a formula (``=HYPERLINK(...)`` runs when a member
  opens the table). :func:`neutralise_cell` prefixes such a text cell with an apostrophe
  (``'=HYPERLINK(...)``), which spreadsheets show as text and hide the apostrophe; a cell that
  is a number (``-3``, ``+0.5``, ``-1.2e3``) is left alone so negative figures stay figures.
  :func:`write_csv` is the one path every published table takes (``helpers.publishing.report.Report.table``).
* **Markup injection in pages.** A name with ``<img onerror=...>`` or Markdown link syntax
  rendered as a page's HTML runs or links. :func:`esc` escapes text for a Markdown or HTML
  output (HTML special characters become entities; Markdown punctuation is backslash-escaped),
  so the text shows literally. pandas ``to_html`` escapes cells itself; chart descriptions are
  escaped by the publishing step.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

#: Leading characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?$")
# Markdown characters that can start markup (links, emphasis, code, headings, lists, tables, HTML).
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def neutralise_cell(value):
    """A CSV cell that a spreadsheet will not run as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading
    apostrophe unless the whole text is a number (``-3``, ``+1.5``, ``-2e3``, ``-4%``). Other
    values (numbers, dates, missing) are returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.match(value.strip()):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every text cell (and column name) passed through :func:`neutralise_cell`.

    Only object/string columns are touched; numeric columns cannot hold formulas. A carriage
    return inside a text cell becomes a line break (``\\n``, quoted by the CSV writer), so it cannot
    split the row.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            is_text = s.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
            if not is_text.any():
                continue
            text = s[is_text].astype(str)
            risky = text.str.startswith(FORMULA_START) & ~text.str.strip().str.match(_NUMBER.pattern)
            has_cr = text.str.contains("\r", regex=False)
            if risky.any() or has_cr.any():
                new = text.str.replace("\r\n", "\n", regex=False).str.replace("\r", "\n", regex=False)
                new = new.where(~risky, "'" + new)
                s = s.astype(object).copy()
                s.loc[new.index] = new
                out[col] = s
    out.columns = [neutralise_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


#: Numbers in published CSVs: 12 significant figures, so that binary noise from arithmetic
#: (``0.059999999999999984``, ``10374196.559999999``) reads as the figure it is (``0.06``,
#: ``10374196.56``), while every count, penny and rate keeps its value.
CSV_FLOAT_FORMAT = "%.12g"


def write_csv(df: pd.DataFrame, path: str | Path, **kwargs) -> None:
    """Write a published CSV: UTF-8, no index, every text cell neutralised against formulas,
    numbers to :data:`CSV_FLOAT_FORMAT`.

    A file path is written whole or not at all (a temporary file beside it, then renamed), so
    a report running at the same time never reads half a table (see helpers.publishing.scheduling)."""
    kwargs.setdefault("index", False)
    kwargs.setdefault("encoding", "utf-8")
    kwargs.setdefault("float_format", CSV_FLOAT_FORMAT)
    safe = neutralise_frame(df)
    if not isinstance(path, (str, os.PathLike)):
        safe.to_csv(path, **kwargs)  # an open file or buffer: written as given
        return
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        safe.to_csv(tmp, **kwargs)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def unsafe_cells(df: pd.DataFrame) -> list[tuple[int, str, str]]:
    """Cells that a spreadsheet would run as a formula: ``(row, column, value)``; empty when safe.

    Used by tests and by the publishing guard on written CSVs (read back as text).
    """
    found = []
    for col in df.columns:
        s = df[col]
        for i, v in zip(range(len(s)), s.to_numpy()):
            if isinstance(v, str) and v.startswith(FORMULA_START) and not _NUMBER.match(v.strip()):
                found.append((i, str(col), v))
    return found


def _text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).replace("\r", " ").replace("\n", " ")


def csv_formula_cells(path: str | Path) -> list[tuple[int, str, str]]:
    """Cells of a written CSV that a spreadsheet would run as a formula: ``(line, column, value)``.

    The publishing guard runs this on every published table (header = line 1).
    """
    import csv

    found = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header: list[str] = []
        for line, row in enumerate(reader, start=1):
            if line == 1:
                header = row
            for i, v in enumerate(row):
                if v.startswith(FORMULA_START) and not _NUMBER.match(v.strip()):
                    found.append((line, header[i] if i < len(header) else str(i + 1), v))
    return found


def esc(value) -> str:
    """Text for a Markdown output (``display(Markdown(...))``), shown literally.

    HTML special characters become entities (``<img onerror=...>`` shows as text) and Markdown
    punctuation is backslash-escaped (``[x](javascript:...)`` is not a link, ``**`` is not bold,
    a leading ``#`` is not a heading); line breaks become spaces. Use it for every config or
    input text (council, scenario, ward or district names) placed in Markdown.
    """
    return _MD_SPECIAL.sub(r"\\\1", html.escape(_text(value), quote=False))


def esc_html(value) -> str:
    """Text for an HTML output (``HTML(...)``, attributes included), shown literally."""
    return html.escape(_text(value), quote=True)
