"""Run the DfE validators' own rules over the demo council's returns; write a per-rule table.

Runs INSIDE the validators' virtual environment (``.venv-validators``, made by
``scripts/conformance.sh``: Python 3.9-3.11, ``pandas<2``, ``csc-validator-be-cin==0.1.13``,
``csc-validator-be-903==0.1.17`` and ``pytest``, which their code imports). It does not import
``helpers`` (the bundle needs pandas 2).

    python scripts/conformance_run.py DATA_DIR OUT_CSV [--chunk 300]

``DATA_DIR`` is a demo output folder (``cin/CIN_census_YYYY.xml``, ``ssda903/YYYY/*.csv``).
For every file the validator of the file's own collection year is used (rules ``cinYYYY_YY``
and ``lacYYYY_YY``); collection years before the validators' first ruleset (2022-23) use that
first ruleset, and the table says so in ``ruleset``.

The CIN validator's own XML reading (``convert_data``) costs about 25 ms per child and grows
quadratically (it ``pd.concat``-s small frames for every child): a 5,600-child census takes
minutes. So its tables are built by :func:`fast_convert`, which gives the same tables and is
checked against ``convert_data`` on the first 150 children of every file (the run stops if
they differ), and the rules run on ``--chunk`` children at a time (default 2,500), each chunk
with the file's own header. Rules that compare children with each other see one chunk at a time.

Output columns: ``return, collection_year, ruleset, rule, kind, locations, message``, where
``kind`` is ``error``, ``query`` (CIN rules whose code ends in ``Q``), ``la-level`` (a rule that
fails for the return as a whole), ``upload`` (the validator refused a file) or ``rule-crashed``
(the rule raised an exception on this data: a validator fault or an unexpected input).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import re
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)

#: One row per file validated (written to runs.csv beside the rules table).
RUNS: list[dict] = []
FIRST_RULESET_YEAR = 2023  # the validators' earliest rule folders are cin2022_23 and lac2022_23
LAST_RULESET_YEAR = 2027


def _ruleset_year(year: int) -> int:
    return min(max(year, FIRST_RULESET_YEAR), LAST_RULESET_YEAR)


def _kind(rule: str) -> str:
    return "query" if str(rule).endswith("Q") else "error"


def fast_convert(root) -> dict:
    """The CIN validator's tables from a parsed ``<Message>``, built in one pass.

    The same tables, columns, values and generated IDs as ``cin_validator.convert_data``
    (``ingress.XMLtoCSV``), whose cost is about 25 ms per child because it ``pd.concat``-s
    small frames for every child; this builds each table once. :func:`check_fast_convert`
    compares the two on part of every file, so the shortcut cannot drift from the validator.
    """
    from cin_validator.ingress import XMLtoCSV
    from cin_validator.utils import get_values

    cols = {name: list(getattr(XMLtoCSV, name).columns) for name in (
        "Header", "ChildIdentifiers", "ChildCharacteristics", "Disabilities", "CINdetails", "Assessments",
        "AssessmentFactorsList", "CINplanDates", "Section47", "ChildProtectionPlans", "Reviews")}
    ids = set(XMLtoCSV.id_cols)
    el = {k: [c for c in v if c not in ids] for k, v in cols.items()}
    rows: dict[str, list] = {k: [] for k in cols}
    rows["Header"].append(get_values(["SourceLevel", "LEA", "SoftwareCode", "Release", "SerialNo", "DateTime"],
                                     get_values(["Collection", "Year", "ReferenceDate"], {},
                                                root.find("Header").find("CollectionDetails")),
                                     root.find("Header").find("Source")))
    for child in root.find("Children").findall("Child"):
        ident = get_values(cols["ChildIdentifiers"], {}, child.find("ChildIdentifiers"))
        cid = ident.get("LAchildID", pd.NA)
        rows["ChildIdentifiers"].append(ident)
        chars = child.find("ChildCharacteristics")
        rows["ChildCharacteristics"].append(get_values(el["ChildCharacteristics"], {"LAchildID": cid}, chars))
        dis = chars.find("Disabilities")
        if dis is not None:
            for d in dis:
                rec = get_values(el["Disabilities"], {"LAchildID": cid}, d)
                rec["Disability"] = d.text
                rows["Disabilities"].append(rec)
        for n_cin, det in enumerate(child.findall("CINdetails"), 1):
            rows["CINdetails"].append(get_values(el["CINdetails"], {"LAchildID": cid, "CINdetailsID": n_cin}, det))
            for n_a, ass in enumerate(det.findall("Assessments"), 1):
                rec = get_values(el["Assessments"], {"LAchildID": cid, "CINdetailsID": n_cin, "AssessmentID": n_a}, ass)
                facs = ass.find("FactorsIdentifiedAtAssessment")
                if facs is not None and len(facs) != 0:
                    found = []
                    for f in facs:
                        frec = get_values(el["AssessmentFactorsList"],
                                          {"LAchildID": cid, "CINdetailsID": n_cin, "AssessmentID": n_a}, f)
                        frec["AssessmentFactor"] = f.text
                        rows["AssessmentFactorsList"].append(frec)
                        found.append(f.text)
                    rec["AssessmentFactors"] = found
                rows["Assessments"].append(rec)
            for p in det.findall("CINPlanDates"):
                rows["CINplanDates"].append(get_values(el["CINplanDates"], {"LAchildID": cid, "CINdetailsID": n_cin}, p))
            for p in det.findall("Section47"):
                rows["Section47"].append(get_values(el["Section47"], {"LAchildID": cid, "CINdetailsID": n_cin}, p))
            for n_p, plan in enumerate(det.findall("ChildProtectionPlans"), 1):
                rows["ChildProtectionPlans"].append(get_values(
                    el["ChildProtectionPlans"], {"LAchildID": cid, "CINdetailsID": n_cin, "CPPID": n_p}, plan))
                for r in plan.findall("Reviews[CPPreviewDate]"):
                    rows["Reviews"].append(get_values(el["Reviews"], {"LAchildID": cid, "CINdetailsID": n_cin,
                                                                      "CPPID": n_p}, r))
    out = {}
    for name, c in cols.items():
        frame = pd.DataFrame(rows[name])
        frame = pd.concat([pd.DataFrame(columns=c), frame], ignore_index=True) if name != "Header" else frame
        # the validator's per-child pd.concat turns most missing values into NaN: use NaN throughout
        out[name] = frame.astype(object).where(frame.notna(), np.nan) if name != "Header" else frame
    return out


def check_fast_convert(root, n: int = 150) -> None:
    """Raise unless :func:`fast_convert` equals the validator's own ``convert_data`` on the first
    ``n`` children of ``root``."""
    from cin_validator import cin_validator

    msg = ET.Element("Message")
    msg.append(copy.deepcopy(root.find("Header")))
    kids = ET.SubElement(msg, "Children")
    kids.extend(root.find("Children").findall("Child")[:n])
    sub = ET.fromstring(ET.tostring(msg))
    theirs, ours = cin_validator.convert_data(sub), fast_convert(sub)
    for name, t in theirs.items():
        o = ours[name]
        # compared as text, with every missing value (NaN or pd.NA) alike
        same = list(t.columns) == list(o.columns) and t.shape == o.shape and \
            t.astype(object).where(t.notna(), None).astype(str).equals(o.astype(object).where(o.notna(), None).astype(str))
        if not same:
            raise AssertionError(f"fast_convert differs from the validator's convert_data in table {name}")


def cin_rows(path: Path, chunk: int) -> list[dict]:
    from cin_validator import cin_validator
    from cin_validator.rules.ruleset_utils import get_year_ruleset

    tree = ET.parse(path)
    root = tree.getroot()
    year = int(root.findtext("Header/CollectionDetails/Year"))
    ry = _ruleset_year(year)
    registry = get_year_ruleset(str(ry))
    ruleset = f"cin{ry - 1}_{str(ry)[2:]}"
    header = root.find("Header")
    children = root.find("Children").findall("Child")
    check_fast_convert(root)
    counts: dict[tuple[str, str], int] = {}
    messages: dict[str, str] = {}
    for start in range(0, len(children), chunk):
        msg = ET.Element("Message")
        msg.append(copy.deepcopy(header))
        kids = ET.SubElement(msg, "Children")
        kids.extend(children[start:start + chunk])
        raw = fast_convert(msg)
        data = cin_validator.process_data(raw)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            v = cin_validator.CinValidator(data, registry)
        # the validator prints, and otherwise ignores, a rule that raises on the data
        for code, err in re.findall(r"Error with rule (\S+): (.*)", buf.getvalue()):
            counts[(code, "rule-crashed")] = counts.get((code, "rule-crashed"), 0) + 1
            messages.setdefault(code, f"{registry[code].message.strip()} [crashed: {err.strip()[:120]}]")
        df = v.full_issue_df
        if len(df):
            loc = df.drop_duplicates(["rule_code", "tables_affected", "row_id"]) if "row_id" in df else df
            for rule, n in loc.groupby("rule_code").size().items():
                counts[(str(rule), _kind(rule))] = counts.get((str(rule), _kind(rule)), 0) + int(n)
            for rule, m in df.groupby("rule_code")["rule_description"].first().items():
                messages[str(rule)] = str(m)
        la = v.multichild_issues
        for rule, m in zip(la["rule_code"], la["rule_description"]):
            key = (str(rule), "la-level")
            counts[key] = counts.get(key, 0) + 1
            messages[str(rule)] = str(m)
    RUNS.append({"return": "CIN", "collection_year": year, "ruleset": ruleset, "file": path.name,
                 "records": len(children), "rules_run": len(registry),
                 "rules_crashed": sum(1 for (_, k) in counts if k == "rule-crashed")})
    return [{"return": "CIN", "collection_year": year, "ruleset": ruleset, "rule": r, "kind": k,
             "locations": n, "message": messages.get(r, "")} for (r, k), n in sorted(counts.items())]


def lac_rows(folder: Path, year: int, la_code: str = "E09000027") -> list[dict]:
    import importlib

    from lac_validator import lac_validator
    from lac_validator.ingress import read_from_text
    from lac_validator.report import Report

    ry = _ruleset_year(year)
    ruleset = f"lac{ry - 1}_{str(ry)[2:]}"
    registry = importlib.import_module(f"lac_validator.rules.{ruleset}").registry
    rows: list[dict] = []
    files = []
    # the previous collection year's files too ("Prev year"), so that the rules comparing the two
    # years run (they are skipped without them)
    prev = folder.parent / str(year - 1)
    uploads = [(p, "This year") for p in sorted(folder.glob("*.csv"))]
    uploads += [(p, "Prev year") for p in sorted(prev.glob("*.csv"))] if prev.is_dir() else []
    for p, description in uploads:
        f = dict(name=p.name, description=description, file_content=p.read_bytes())
        try:
            read_from_text([f])
        except Exception as exc:  # the validator refuses this file: report it and go on without it
            rows.append({"return": "SSDA903", "collection_year": year, "ruleset": ruleset,
                         "rule": f"upload:{p.name}" if description == "This year" else f"upload:last year's {p.name}",
                         "kind": "upload", "locations": 1, "message": str(exc)[:300]})
            continue
        files.append(f)
    if not files:
        return rows
    with contextlib.redirect_stdout(io.StringIO()):
        v = lac_validator.LacValidator(metadata={"collectionYear": str(year), "localAuthority": la_code},
                                       files=files, registry=registry, selected_rules=None)
    rep = Report(v.ds_results, registry).error_report
    rep = rep[rep["Count"] > 0]
    for r in rep.itertuples():
        rows.append({"return": "SSDA903", "collection_year": year, "ruleset": ruleset, "rule": str(r.Code),
                     "kind": "error", "locations": int(r.Count), "message": str(r.Description)})
    RUNS.append({"return": "SSDA903", "collection_year": year, "ruleset": ruleset, "file": folder.name,
                 "records": int(sum(len(d) for d in v.dfs.values())), "rules_run": len(v.dones),
                 "rules_skipped": len(v.skips), "rules_crashed": len(v.fails)})
    for code in v.fails:
        rows.append({"return": "SSDA903", "collection_year": year, "ruleset": ruleset, "rule": str(code),
                     "kind": "rule-crashed", "locations": 0, "message": str(registry[code].message)})
    return rows


def markdown_table(rules: pd.DataFrame) -> str:
    """Locations per rule and collection year, with the allow-list status (README table)."""
    allow_path = Path(__file__).with_name("conformance_allowlist.csv")
    allow = pd.read_csv(allow_path, dtype=str, comment="#") if allow_path.is_file() else pd.DataFrame(
        columns=["return", "rule", "status"])
    status = {(r, c): s for r, c, s in zip(allow["return"], allow["rule"], allow["status"])}
    # an entry limited to some collection years ("years" column) covers only those years
    years_allowed = {(r, c): (None if str(y).strip() in ("all", "nan", "") else {int(v) for v in str(y).split()})
                     for r, c, y in zip(allow["return"], allow["rule"], allow.get("years", ["all"] * len(allow)))}
    if rules.empty:
        return "No rule flagged anything.\n"
    years = sorted(rules["collection_year"].unique())
    piv = rules.pivot_table(index=["return", "rule", "kind"], columns="collection_year", values="locations",
                            aggfunc="sum").fillna(0).astype(int)
    msg = rules.drop_duplicates(["return", "rule"]).set_index(["return", "rule"])["message"]
    head = "| Return | Rule | Kind | " + " | ".join(f"{y - 1}-{str(y)[2:]}" for y in years) + " | Status | Message |"
    lines = [head, "|" + "---|" * (len(years) + 5)]
    for (ret, rule, kind), row in piv.iterrows():
        st = "query" if kind == "query" else status.get((ret, rule), "NEW")
        limit = years_allowed.get((ret, rule))
        if kind != "query" and limit is not None:
            outside = [y for y in years if row.get(y, 0) and int(y) not in limit]
            st = "NEW" if outside else f"{st} ({', '.join(f'{y - 1}-{str(y)[2:]}' for y in sorted(limit))} only)"
        text = str(msg.get((ret, rule), "")).replace("|", "/").strip()[:90]
        lines.append(f"| {ret} | {rule} | {kind} | " + " | ".join(str(row.get(y, 0)) for y in years)
                     + f" | {st} | {text} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("out_csv", type=Path)
    ap.add_argument("--chunk", type=int, default=2500, help="children per CIN validator call")
    ap.add_argument("--returns", default="cin,903", help="which returns to validate (cin, 903 or both)")
    args = ap.parse_args(argv)
    which = set(args.returns.lower().split(","))
    rows: list[dict] = []
    for path in sorted((args.data_dir / "cin").glob("*.xml")) if "cin" in which else []:
        rows += cin_rows(path, args.chunk)
        print(f"validated {path.name}", file=sys.stderr)
    council = args.data_dir / "council.json"
    la_code = json.loads(council.read_text())["la_code"] if council.is_file() else "E09000027"
    for folder in sorted((args.data_dir / "ssda903").iterdir()) if "903" in which else []:
        if folder.is_dir() and re.fullmatch(r"20\d\d", folder.name):
            rows += lac_rows(folder, int(folder.name), la_code)
            print(f"validated ssda903/{folder.name}", file=sys.stderr)
    out = pd.DataFrame(rows, columns=["return", "collection_year", "ruleset", "rule", "kind", "locations", "message"])
    args.out_csv.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out_csv, index=False)
    pd.DataFrame(RUNS).to_csv(args.out_csv.with_name("runs.csv"), index=False)
    args.out_csv.with_name("rules.md").write_text(markdown_table(out), encoding="utf-8")
    print(f"wrote {len(out)} rule rows to {args.out_csv}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
