"""A differencing attack on one published report: can any hidden count be worked out?

:func:`audit_report` reads only what a report publishes (its page, ``summary.json`` and
``tables/*.csv``) and tries what an outsider could:

1. **Totals minus shown cells.** In every table, a count column in which exactly one cell is
   hidden (``c``) within a year, month or date (or in the whole table when it has none) gives
   that cell back from the column's total, which the report (or the DfE) may publish anywhere.
   A "Total" row is used directly.
2. **One table against another.** Where the rows of one table add up to the cells of another
   (placement type by provider against placement type; each chart's data against the tables;
   one year's breakdown against the breakdown by year), found from the shown figures themselves,
   a key with exactly one hidden part and a shown sum (or a hidden sum and all parts shown)
   gives the hidden figure back. A chart showing a figure that its table hides, or a different
   one, is a finding too.
3. **Rates.** A rate shown to full precision beside one shown count gives the other count back
   (rate = numerator / denominator, the pairing found from the shown rows); a confidence
   interval shown where the counts and the rate are hidden gives the size back.
4. **Text and summary.** A count from 1 to the threshold quoted in the page's text ("4
   episodes") or in ``summary.json``.

Each finding names the files and the cell. The publish step refuses a report with findings and
``tests/test_disclosure_attack.py`` runs the attack on every demo report.
"""

from __future__ import annotations

import csv
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.publishing.disclosure import MARKER, small_counts_in_text

HIDDEN = object()
PERIOD_COLUMNS = re.compile(r"^(date|month|year|collection_year|time_period|period|as_at)$", re.I)
COUNT_NAME = re.compile(r"(referrals|rereferrals|children|episodes|cases|entries|exits|actual|rows|count|"
                        r"number|near_duplicates|rereferred|council_children|observed_total|placements)", re.I)
NOT_COUNT_NAME = re.compile(r"(rate|share|pct|percent|ci_|forecast|lower|upper|error|cost|saving|fte|index|ratio|"
                            r"compact|expected|shrunk|idaci|days|median|percentile|cv|budget|difference)", re.I)
DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[list[Any]]   # floats, HIDDEN, None (blank) or str keys

    def col(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]


def _cell(text: Any) -> Any:
    if text is None:
        return None
    if isinstance(text, bool):
        return str(text)
    if isinstance(text, (int, float)):
        return float(text)
    s = str(text).strip()
    if s == MARKER:
        return HIDDEN
    if s == "":
        return None
    try:
        return float(s.replace(",", ""))
    except ValueError:
        return s[:10] if DATE_TEXT.match(s) else s


def read_csv_table(path: Path) -> Table:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = [[_cell(v) for v in row] for row in reader]
    return Table(path.stem, header, rows)


#: A chart's embedded specification, whatever the order of the script tag's attributes (the page
#: writer puts ``class`` before ``type``; a hand-written page may not).
CHART_SPEC = re.compile(r'<script\b(?=[^>]*\bclass="chart-spec")(?=[^>]*\btype="application/json")[^>]*>(.*?)</script>', re.S)


def chart_tables(page: str, problems: list[str] | None = None) -> list[Table]:
    """Every chart's embedded data in a page, one table per dataset. A specification that is not
    JSON is listed in ``problems`` (its data cannot be checked, so the page cannot pass)."""
    tables = []
    for n, m in enumerate(CHART_SPEC.finditer(page)):
        try:
            spec = json.loads(m.group(1).replace("<\\/", "</"))
        except json.JSONDecodeError as exc:
            if problems is not None:
                problems.append(f"chart {n + 1}: its data could not be read to check it ({exc.msg})")
            continue
        datasets = dict(spec.get("datasets") or {})

        def walk(node):
            if isinstance(node, dict):
                values = node.get("data", {}).get("values") if isinstance(node.get("data"), dict) else None
                if isinstance(values, list):
                    datasets[f"inline{len(datasets)}"] = values
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk({k: v for k, v in spec.items() if k != "datasets"})
        for key, records in datasets.items():
            if not isinstance(records, list) or not records or not isinstance(records[0], dict):
                continue
            if any(k in records[0] for k in ("geometry", "type")) and "geometry" in json.dumps(records[0])[:2000]:
                continue
            columns = sorted({k for r in records for k, v in r.items() if not isinstance(v, (dict, list))})
            rows = [[_cell(r.get(c)) for c in columns] for r in records]
            tables.append(Table(f"chart {n + 1} data", columns, rows))
    return tables


def visible_text(page: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html.unescape(text))


def _is_num(v: Any) -> bool:
    return isinstance(v, float)


def _key_columns(t: Table) -> list[int]:
    keys = []
    for i in range(len(t.columns)):
        values = [r[i] for r in t.rows if r[i] is not None]
        if values and all(isinstance(v, str) for v in values):
            keys.append(i)
    return keys


def _count_columns(t: Table, threshold: int) -> list[int]:
    out = []
    for i, name in enumerate(t.columns):
        values = [r[i] for r in t.rows if r[i] is not None]
        if not values or any(isinstance(v, str) for v in values):
            continue
        nums = [v for v in values if _is_num(v)]
        whole = all(abs(v - round(v)) < 1e-9 and v >= 0 for v in nums)
        if NOT_COUNT_NAME.search(name) and not COUNT_NAME.fullmatch(name):
            continue   # rates, shares, money, forecasts: not added up
        if any(v is HIDDEN for v in values) or (whole and COUNT_NAME.search(name)):
            out.append(i)
    return out


#: Tables whose rows add up within known key groups (the data-quality appendix: rules add up to each
#: source's repaired and excluded counts, which the sources table shows and attack_pair checks).
KNOWN_GROUPS: dict[str, list[str]] = {"data_quality_rules": ["source", "action"], "data_quality_sources": ["source"]}


def _period_groups(t: Table) -> list[list[int]]:
    if t.name in KNOWN_GROUPS and all(c in t.columns for c in KNOWN_GROUPS[t.name]):
        keys = [t.columns.index(c) for c in KNOWN_GROUPS[t.name]]
        known: dict[tuple, list[int]] = {}
        for r, row in enumerate(t.rows):
            known.setdefault(tuple(row[i] for i in keys), []).append(r)
        return [g for g in known.values() if len(g) > 1]
    period = [i for i, c in enumerate(t.columns) if PERIOD_COLUMNS.match(c)]
    if not period:
        return [list(range(len(t.rows)))] if len(t.rows) > 1 else []
    groups: dict[tuple, list[int]] = {}
    for r, row in enumerate(t.rows):
        groups.setdefault(tuple(row[i] for i in period), []).append(r)
    if all(len(g) == 1 for g in groups.values()):
        # One row per period: a time series, whose sum over periods may be published.
        return [list(range(len(t.rows)))] if len(t.rows) > 1 else []
    return list(groups.values())


def _total_rows(t: Table) -> list[int]:
    keys = _key_columns(t)
    return [r for r, row in enumerate(t.rows) if keys and str(row[keys[0]]).strip().lower() in ("total", "all", "all closed cases")]


def attack_totals(t: Table, threshold: int) -> list[str]:
    findings = []
    totals = _total_rows(t)
    parts = [r for r in range(len(t.rows)) if r not in totals]
    for c in _count_columns(t, threshold):
        name = t.columns[c]
        for tr in totals:
            total = t.rows[tr][c]
            hidden = [r for r in parts if t.rows[r][c] is HIDDEN]
            if _is_num(total) and len(hidden) == 1:
                value = total - sum(t.rows[r][c] for r in parts if _is_num(t.rows[r][c]))
                findings.append(f"{t.name}: '{name}' hidden in one row only; the Total row gives it back ({value:g})")
        for group in _period_groups(Table(t.name, t.columns, [t.rows[r] for r in parts])):
            hidden = [r for r in group if [t.rows[p] for p in parts][r][c] is HIDDEN]
            if len(hidden) == 1:
                where = ", ".join(str(v) for v in [t.rows[parts[hidden[0]]][k] for k in _key_columns(t)][:3])
                findings.append(f"{t.name}: '{name}' has exactly one hidden cell ({where}) among rows that add up to a "
                                "total: total minus the shown cells gives it back")
    return findings


def _sum_by_key(a: Table, ka: int, x: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row in a.rows:
        if isinstance(row[ka], str):
            out.setdefault(row[ka], []).append(row[x])
    return out


def attack_pair(a: Table, b: Table, threshold: int) -> list[str]:
    """Rows of ``a`` adding up (per key) to cells of ``b``, inferred from fully shown keys."""
    findings = []
    b_keys = _key_columns(b)
    a_keys = _key_columns(a)
    if not a_keys or not b_keys:
        return findings
    for kb in b_keys:
        b_vals = [r[kb] for r in b.rows]
        if len(set(b_vals)) != len(b_vals):
            continue  # b must have one row per key
        b_index = {r[kb]: r for r in b.rows}
        for ka in a_keys:
            common = set(b_index) & {r[ka] for r in a.rows}
            if len(common) < 2:
                continue
            for x in _count_columns(a, threshold):
                groups = _sum_by_key(a, ka, x)
                for y in range(len(b.columns)):
                    if y == kb:
                        continue
                    verified, broken = 0, False
                    for key in common:
                        parts, total = groups[key], b_index[key][y]
                        if _is_num(total) and all(_is_num(p) for p in parts):
                            if abs(sum(parts) - total) < 0.5:
                                verified += 1
                            else:
                                broken = True
                                break
                    if broken or verified < 2:
                        continue
                    for key in sorted(common):
                        parts, total = groups[key], b_index[key][y]
                        hidden = [p for p in parts if p is HIDDEN]
                        value = total - sum(p for p in parts if _is_num(p)) if _is_num(total) else 0
                        if _is_num(total) and len(hidden) == 1 and value >= 0.5:
                            findings.append(f"{a.name} '{a.columns[x]}' for {key!r}: one part hidden, but {b.name} "
                                            f"'{b.columns[y]}' shows the sum: it is {value:g}")
                        elif total is HIDDEN and parts and all(_is_num(p) for p in parts):
                            findings.append(f"{b.name} '{b.columns[y]}' for {key!r} is hidden, but {a.name} shows every "
                                            f"part of it (sum {sum(parts):g})")
    return findings


def _whole(x: float) -> bool:
    return abs(x - round(x)) < 1e-9


def attack_chart_against_table(chart: Table, table: Table) -> list[str]:
    """A chart record with the same keys as a table row showing that row's hidden (or a different) figure.

    Only a chart record that is the table row's own cell is compared: where a chart has several
    records for one table key (another dimension the table does not have, such as the month of a
    trend), each is a different figure from the table's, and none is compared."""
    findings = []
    shared = [c for c in chart.columns if c in table.columns]
    keys = [c for c in shared if table.columns.index(c) in _key_columns(table)]
    values = [c for c in shared if c not in keys]
    if not keys or not values:
        return findings
    index = {}
    for row in table.rows:
        index.setdefault(tuple(row[table.columns.index(k)] for k in keys), []).append(row)
    hiding = {c for c in values if any(row[table.columns.index(c)] is HIDDEN for row in table.rows)}
    per_key: dict[tuple, int] = {}
    for rec in chart.rows:
        key = tuple(rec[chart.columns.index(k)] for k in keys)
        per_key[key] = per_key.get(key, 0) + 1
    for rec in chart.rows:
        key = tuple(rec[chart.columns.index(k)] for k in keys)
        matches = index.get(key, [])
        if len(matches) != 1 or per_key[key] != 1:
            continue
        for c in values:
            shown, published = rec[chart.columns.index(c)], matches[0][table.columns.index(c)]
            if _is_num(shown) and published is HIDDEN:
                findings.append(f"{chart.name} shows '{c}' = {shown:g} for {key} where {table.name} hides it")
            elif (_is_num(shown) and _is_num(published) and _whole(shown) and _whole(published)
                  and c in hiding and abs(shown - published) > 1e-6 * max(1, abs(published))):
                # two different counts for one cell of a column that hides others. A chart's
                # unrounded estimate (a forecast) beside the table's rounded one is not a count, and
                # where the table hides nothing in the column, a different figure is another
                # measure of the same name (12 months to the month against the month alone)
                findings.append(f"{chart.name} shows '{c}' = {shown:g} for {key} where {table.name} shows {published:g} "
                                "(the difference between them can reveal a hidden count)")
    return findings


def attack_rates(t: Table, threshold: int) -> list[str]:
    findings = []
    counts = _count_columns(t, threshold)
    for r in range(len(t.columns)):
        if r in counts or r in _key_columns(t):
            continue
        for a in counts:
            for b in counts:
                if a == b:
                    continue
                fits = [row for row in t.rows if _is_num(row[r]) and _is_num(row[a]) and _is_num(row[b]) and row[b] > 0]
                if len(fits) < 2 or not all(abs(row[r] - row[a] / row[b]) < 1e-6 for row in fits):
                    continue
                for row in t.rows:
                    rate = row[r]
                    if not _is_num(rate) or abs(100 * rate - round(100 * rate)) < 1e-9:
                        continue  # whole percents: checked for ambiguity when they were published
                    if (row[a] is HIDDEN) != (row[b] is HIDDEN):
                        findings.append(f"{t.name}: '{t.columns[r]}' shown to full precision where one of "
                                        f"'{t.columns[a]}'/'{t.columns[b]}' is hidden: rate x shown count gives it back")
    ci = [i for i, c in enumerate(t.columns) if c.startswith("ci_")]
    for row in t.rows:
        if counts and all(row[c] is HIDDEN for c in counts) and any(_is_num(row[i]) for i in ci):
            findings.append(f"{t.name}: a confidence interval is shown for a row whose counts are all hidden")
    return findings


def attack_summary(summary: dict, threshold: int) -> list[str]:
    findings = []

    def walk(key, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{key}.{k}", v)
        elif isinstance(value, bool):
            return
        elif isinstance(value, int) and 1 <= value <= threshold and COUNT_NAME.search(key) and not NOT_COUNT_NAME.search(key):
            findings.append(f"summary.json '{key}' = {value}: a count from 1 to {threshold}")

    for k, v in summary.items():
        walk(k, v)
    return findings


def audit_report(report_dir: Path, page_path: Path | None, threshold: int) -> list[str]:
    """Every way a hidden count could be worked out from one report's published files."""
    report_dir = Path(report_dir)
    tables = [read_csv_table(p) for p in sorted((report_dir / "tables").glob("*.csv"))]
    page = page_path.read_text(encoding="utf-8") if page_path is not None and Path(page_path).is_file() else ""
    findings: list[str] = []
    charts = chart_tables(page, findings) if page else []
    for t in tables:
        findings += attack_totals(t, threshold)
        findings += attack_rates(t, threshold)
    for a in tables + charts:
        for b in tables + charts:
            if a is not b and not (a in charts and b in charts):
                findings += attack_pair(a, b, threshold)
    for c in charts:
        for t in tables:
            findings += attack_chart_against_table(c, t)
        findings += [f"{c.name}: '{c.columns[i]}' holds a count from 1 to {threshold}"
                     for i in _count_columns(c, threshold)
                     if any(_is_num(r[i]) and 1 <= r[i] <= threshold and abs(r[i] - round(r[i])) < 1e-9 for r in c.rows)
                     and COUNT_NAME.search(c.columns[i])]
    if page:
        findings += [f"page text quotes a small count: {p!r}" for p in small_counts_in_text(visible_text(page), threshold)]
    summary_path = report_dir / "summary.json"
    if summary_path.is_file():
        findings += attack_summary(json.loads(summary_path.read_text(encoding="utf-8")), threshold)
    return list(dict.fromkeys(findings))
