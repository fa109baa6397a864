"""Read SSDA903 (looked-after children) CSV tables, one or many collection years.

``read_ssda903(paths_or_folders)`` takes CSV files and/or folders (searched recursively for
``*.csv``) and returns an :class:`SSDA903` with the tables of ``docs/data_model.md`` section 2.

Recognising tables. Each file is recognised by its **header row**, not its name (column names
are compared after trimming spaces and upper-casing):

=========  ==========================================  =====================================
table      required columns                            optional columns
=========  ==========================================  =====================================
header     CHILD, SEX, DOB, ETHNIC                     UPN, MOTHER, MC_DOB
episodes   CHILD, DECOM, RNE, LS, CIN, PLACE,          URN
           PLACE_PROVIDER, DEC, REC, REASON_PLACE_CHANGE,
           HOME_POST, PL_POST
uasc       CHILD, SEX, DOB, DUC
missing    CHILD, MISSING, MIS_START, MIS_END
=========  ==========================================  =====================================

A header with DECOM is an episodes table, with DUC a UASC table, with MIS_START or MISSING a
missing table, with ETHNIC a header table; if such a table lacks a required column the file
raises :class:`ReaderError`. Other 903 tables (OC2, OC3, Reviews, AD1, PlacedAdoption,
PrevPerm: recognised by IN_TOUCH/CONVICTED/REVIEW/DATE_INT/DATE_PLACED/PREV_PERM) are
skipped when found in a folder. Any other header raises ``ReaderError``.

Collection year of a file: the name of the folder holding it when that is a four-digit year
(``ssda903/2025/episodes.csv`` -> 2025). Otherwise the year is taken from the latest DECOM of
the episodes table in the same folder (the collection year ending 31 March after that date:
DECOM 15/06/2024 -> 2025); files in a folder without a year name and without an episodes table
raise ``ReaderError``. The reference date is 31 March of the collection year.

Files that cannot be read raise one ``ReaderError`` naming file, line, field and expectation:
empty file, UTF-16 or other non-UTF-8 bytes (a UTF-8 byte-order mark is accepted), a row with
more fields than the header, unrecognised header, missing required column, no data rows with
a required date (DECOM, DOB, MIS_START) in ``dd/mm/yyyy`` form although the column has values.

Also refused (``helpers.readers.input_checks``): a workbook saved as ``.csv``; a date column not
consistently ``dd/mm/yyyy`` (one value only readable as US ``mm/dd/yyyy``, or two or more in
another format), naming the column and example lines.

Row rules (ledger source ``"<folder>/<file>"``, row = CSV line number, header = line 1).
Blank lines are ignored (not counted as rows). In order; a row is excluded by the first rule it
fails:

all tables
  * the same table for the same year in another folder modified later (a resubmission) ->
    excluded ("resubmission: file replaced by ..."), naming the file used
  * fewer fields than the header (row cut short) -> excluded
  * CHILD missing -> excluded
  * an unknown code (SEX, ETHNIC, RNE, LS, CIN, PLACE_PROVIDER, REC, MISSING) -> repaired: set to
    missing, original value in the ledger detail
  * the same key twice in one collection year -> later copy excluded
    (keys: header/uasc CHILD; episodes CHILD+DECOM; missing CHILD+MIS_START)
  * the same key in an earlier collection year -> excluded
    ("duplicate: superseded by later collection year"); the latest year's row is kept
header, uasc
  * DOB not a date -> repaired: set to missing (DOB is degraded to month on read); DUC not a
    date -> repaired: set to missing
episodes
  * DECOM missing / not dd/mm/yyyy / after the reference date -> excluded; more than 19 years
    before the reference date, or before the child's DOB (header table) -> excluded
  * DEC not a date, or after the reference date -> repaired: treated as open (REC cleared)
  * DEC before DECOM -> excluded ("episode ends before it starts")
  * REC without DEC -> repaired: treated as open (REC cleared)
  * PLACE unknown or not valid in the file's collection year (e.g. H5/P2 from 2025, K3 before
    2025) -> kept as recorded and reported (analyses map unknown codes to category "Other", see
    ``codes.placement_category``)
  * after consolidation across years, an episode that is open or ends after the child's next
    DECOM -> repaired: its DEC is set to the next DECOM (REC set to X1 if blank)
    ("overlapping episodes")
missing
  * MIS_START missing / not a date / after the reference date / more than 19 years before it /
    before the child's DOB -> excluded; MIS_END not a date -> repaired: set to missing;
    MIS_END before MIS_START -> excluded

Postcodes: HOME_POST and PL_POST are kept as recorded (trimmed, upper case) because the
placement analysis computes distances from them; they must never be published.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import codes
from helpers.readers import input_checks, specs
from helpers.readers.ledger import Ledger, ReaderError, resolve_input_files
from helpers.readers.schemas import RowChecks, clean_text, code_not_in, parse_dates, place_invalid_for_year, to_month, validate

DMY = "%d/%m/%Y"
SUPERSEDED = "duplicate: superseded by later collection year"

TABLES: dict[str, tuple[list[str], list[str]]] = {
    "header": (["CHILD", "SEX", "DOB", "ETHNIC"], ["UPN", "MOTHER", "MC_DOB"]),
    "episodes": (["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                  "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST"], ["URN"]),
    "uasc": (["CHILD", "SEX", "DOB", "DUC"], []),
    "missing": (["CHILD", "MISSING", "MIS_START", "MIS_END"], ["DOB"]),
    "reviews": (["CHILD", "REVIEW", "REVIEW_CODE"], ["DOB"]),
    "oc3": (["CHILD", "IN_TOUCH", "ACTIV", "ACCOM"], ["DOB"]),
}
#: Columns that mark the other SSDA903 tables (recognised, counted in the ledger, not used).
OTHER_903_MARKERS = ("CONVICTED", "DATE_INT", "DATE_PLACED", "PREV_PERM", "SDQ_SCORE", "DATE_MATCH",
                     "SW_ID", "SW_DECOM", "DOLO_START")
#: Rule recorded for every row of a recognised table the analyses do not use.
NOT_USED = "table recognised, not used by these analyses"

#: Date columns of each table: all must be dd/mm/yyyy (helpers.readers.input_checks.check_date_formats).
DATE_COLUMNS = {"header": ("DOB", "MC_DOB"), "episodes": ("DECOM", "DEC"), "uasc": ("DOB", "DUC"),
                "missing": ("MIS_START", "MIS_END"), "reviews": ("REVIEW",), "oc3": ("DOB",)}

HEADER_COLUMNS = ["child_id", "sex", "birth_month", "date_of_birth", "ethnicity", "collection_year"]
REVIEW_COLUMNS = ["child_id", "review_date", "participation", "collection_year"]
OC3_COLUMNS = ["child_id", "birth_month", "in_touch", "activity", "accommodation", "collection_year"]
EPISODE_COLUMNS = ["child_id", "decom", "rne", "ls", "cin", "place", "place_provider", "dec", "rec",
                   "reason_place_change", "home_post", "pl_post", "urn", "collection_year", "source_file"]
UASC_COLUMNS = ["child_id", "sex", "birth_month", "duc"]
MISSING_COLUMNS = ["child_id", "missing", "mis_start", "mis_end"]


@dataclass
class SSDA903:
    """Tidy SSDA903 tables (docs/data_model.md section 2) plus the ledger and identifiers."""

    header: pd.DataFrame
    episodes: pd.DataFrame
    uasc: pd.DataFrame
    missing: pd.DataFrame
    ledger: Ledger
    identifiers: set[str] = field(default_factory=set, repr=False)
    reviews: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REVIEW_COLUMNS))
    oc3: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=OC3_COLUMNS))


# ----------------------------------------------------------------------------------------
# CSV reading shared with helpers.readers.case_extracts
# ----------------------------------------------------------------------------------------

def read_csv_text(path: Path, what: str) -> pd.DataFrame:
    """Read a UTF-8 CSV as text columns (no type guessing) with clear errors.

    Column names are trimmed and upper-cased; blank lines are dropped; the frame's ``_row``
    column holds the CSV line number (header = line 1). ``what`` names the expected file in
    error messages. Raises ``ReaderError`` for empty files, UTF-16 / non-UTF-8 bytes and rows
    with more fields than the header.
    """
    data = Path(path).read_bytes()
    if not data.strip():
        raise ReaderError(path, "line 1", None, f"file is empty; expected {what} with a header row")
    input_checks.sniff_binary(path, data[:8], what)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:200]:
        raise ReaderError(path, "line 1", None, "file is UTF-16 encoded; expected UTF-8 "
                          "(re-save as 'CSV UTF-8')")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ReaderError(path, f"line {line}", None,
                          f"byte 0x{data[exc.start]:02x} is not valid UTF-8; expected a UTF-8 file "
                          "(it may be latin-1/Windows-1252: re-save as 'CSV UTF-8')") from None
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False,
                         skip_blank_lines=False, engine="c")
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            raise ReaderError(path, f"line {m.group(2)}", None,
                              f"row has {m.group(3)} fields; expected {m.group(1)} as in the header of {what}") from None
        raise ReaderError(path, "unknown line", None, f"CSV not readable ({str(exc).strip()}); expected {what}") from None
    except pd.errors.EmptyDataError:
        raise ReaderError(path, "line 1", None, f"no header row; expected {what}") from None
    df.columns = [str(c).strip().upper() for c in df.columns]
    # rows cut short (fewer fields than the header): excluded by RowChecks with a reason
    df["_truncated"] = input_checks.short_rows(text, len(df), len(df.columns))
    df["_row"] = np.arange(2, len(df) + 2)
    values = df.drop(columns=["_row", "_truncated"])
    if len(values.columns):
        blank = values.eq("").all(axis=1)      # lines with no values (e.g. ",,,," or empty)
        df = df[~blank.to_numpy()]
    return df


def _which_table(path: Path, columns: list[str]) -> str | None:
    cols = set(columns)
    if "DECOM" in cols:
        table = "episodes"
    elif "DUC" in cols:
        table = "uasc"
    elif "MIS_START" in cols or "MISSING" in cols:
        table = "missing"
    elif "ETHNIC" in cols:
        table = "header"
    elif "REVIEW" in cols or "REVIEW_CODE" in cols:
        table = "reviews"
    elif "IN_TOUCH" in cols or "ACCOM" in cols:
        table = "oc3"
    elif cols & set(OTHER_903_MARKERS):
        return "other:" + (specs.ssda903_table_of(cols) or "unrecognised SSDA903 table")
    else:
        shown = ",".join(c for c in columns if c != "_ROW")[:120]
        raise ReaderError(path, "line 1", None,
                          f"header not recognised ({shown}); expected one of the SSDA903 tables: "
                          + "; ".join(f"{t} ({','.join(req)})" for t, (req, _) in TABLES.items()))
    required, _ = TABLES[table]
    missing = [c for c in required if c not in cols]
    if missing:
        raise ReaderError(path, "line 1", missing[0],
                          f"required column missing from the {table} table; expected columns "
                          + ",".join(required))
    return table


def collection_year_of(decom_latest: pd.Timestamp) -> int:
    """Collection year (ending 31 March) containing a date: 15/06/2024 -> 2025, 31/03/2024 -> 2024."""
    return int(decom_latest.year + (1 if decom_latest.month >= 4 else 0))


def _folder_year(folder: Path) -> int | None:
    m = re.fullmatch(r"(20\d\d)", folder.name)
    return int(m.group(1)) if m else None


def _required_dates_readable(path: Path, df: pd.DataFrame, column: str) -> None:
    """ReaderError when a required date column has values but none is dd/mm/yyyy."""
    dates, bad = parse_dates(df[column], DMY)
    if bad.any() and dates.notna().sum() == 0:
        first = df.index[bad.to_numpy()][0]
        raise ReaderError(path, f"line {df.loc[first, '_row']}", column,
                          f"found {str(df.loc[first, column]).strip()!r} and no date in dd/mm/yyyy form "
                          "in any row; expected dates as dd/mm/yyyy")


# ----------------------------------------------------------------------------------------
# Reader
# ----------------------------------------------------------------------------------------

def read_ssda903(paths_or_folders, *, validate_output: bool = True) -> SSDA903:
    """Read SSDA903 CSV tables (one or many years) into tidy, consolidated tables.

    Parameters
    ----------
    paths_or_folders : a CSV file or folder, or a list of them (folders are searched recursively).
    validate_output : check the tidy tables against ``helpers.readers.schemas`` (post-condition).

    Returns
    -------
    SSDA903 with ``header``, ``episodes``, ``uasc``, ``missing`` (columns of docs/data_model.md
    section 2; dates ``datetime64[ns]``; DOB degraded to ``birth_month``), ``ledger`` and
    ``identifiers`` (CHILD and UPN values). Episodes are consolidated across years by
    CHILD + DECOM, the latest collection year winning. Rules: module docstring.
    """
    files = resolve_input_files(paths_or_folders, "*.csv", what="SSDA903 tables (CSV)", recursive=True)
    frames: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    by_folder: dict[Path, list[tuple[Path, str, pd.DataFrame]]] = {}
    paths_by_file: dict[str, Path] = {}
    for path in files:
        df = read_csv_text(path, "an SSDA903 table")
        table = _which_table(path, [c for c in df.columns if c not in ("_row", "_truncated")])
        if not table.startswith("other:"):
            required, optional = TABLES[table]
            df["_columns"] = ",".join(c for c in df.columns if c not in ("_row", "_truncated"))
            for col in optional:
                if col not in df.columns:
                    df[col] = ""
            date_col = {"episodes": "DECOM", "header": "DOB", "missing": "MIS_START", "uasc": None,
                        "reviews": "REVIEW", "oc3": None}[table]
            if date_col:
                _required_dates_readable(path, df, date_col)
            input_checks.check_date_formats(path, df, DATE_COLUMNS[table])
        by_folder.setdefault(path.parent, []).append((path, table, df))
        paths_by_file[f"{path.parent.name}/{path.name}"] = path
    ledger = Ledger()

    for folder, items in by_folder.items():
        year = _folder_year(folder)
        if year is None:
            decoms = [parse_dates(df["DECOM"], DMY)[0].max() for _, t, df in items if t == "episodes"]
            decoms = [d for d in decoms if pd.notna(d)]
            if not decoms:
                path = items[0][0]
                raise ReaderError(path, "folder " + folder.name, None,
                                  "cannot tell the collection year: put the tables in a folder named by "
                                  "the year ending 31 March (e.g. ssda903/2025/) or include the episodes table")
            year = collection_year_of(max(decoms))
        for path, table, df in items:
            fname = f"{folder.name}/{path.name}"
            _note_spec(ledger, fname, table, df, year)
            if table.startswith("other:"):
                # recognised but not used: every row counted as read and listed as not used
                ledger.add_read(fname, len(df))
                ledger.exclude_rows(fname, df["_row"].to_numpy(), NOT_USED, None, table[6:])
                continue
            df = df.copy()
            df["_year"] = year
            df["_file"] = fname
            df["_source"] = df["_file"]
            frames[table].append(df)
    # the same table twice for one year (a resubmission in another folder): the newest folder is used
    newest = {folder: max(items, key=lambda it: it[0].stat().st_mtime)[0] for folder, items in by_folder.items()}
    replaced = input_checks.pick_resubmissions(
        {str(df["_file"].iat[0]): ((t, int(df["_year"].iat[0])), None, newest[Path(paths_by_file[df["_file"].iat[0]]).parent])
         for t, dfs in frames.items() for df in dfs if len(df)})
    for dfs in frames.values():
        for df in dfs:
            df["_replaced"] = replaced.get(str(df["_file"].iat[0])) if len(df) else None

    def stack(table: str) -> pd.DataFrame:
        required, optional = TABLES[table]
        cols = required + optional + ["_row", "_truncated", "_replaced", "_year", "_file", "_source"]
        if not frames[table]:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        df = pd.concat([f[cols] for f in frames[table]], ignore_index=True)
        for src, n in df["_source"].value_counts(sort=False).items():
            ledger.add_read(src, n)
        return df

    raw_header, raw_episodes, raw_uasc, raw_missing, raw_reviews, raw_oc3 = (
        stack(t) for t in ("header", "episodes", "uasc", "missing", "reviews", "oc3"))
    identifiers = set()
    for df in (raw_header, raw_episodes, raw_uasc, raw_missing, raw_reviews, raw_oc3):
        identifiers |= set(clean_text(df["CHILD"]).dropna().astype(str))
    identifiers |= {u for u in clean_text(raw_header["UPN"]).dropna().astype(str)}

    header = _header(raw_header, ledger)
    births = _births(raw_header)
    episodes = _episodes(raw_episodes, ledger, births)
    uasc = _uasc(raw_uasc, ledger)
    missing = _missing(raw_missing, ledger, births)
    reviews = _reviews(raw_reviews, ledger)
    oc3 = _oc3(raw_oc3, ledger)
    out = SSDA903(header=header, episodes=episodes, uasc=uasc, missing=missing, ledger=ledger,
                  identifiers=identifiers, reviews=reviews, oc3=oc3)
    if validate_output:
        validate("903_header", out.header)
        validate("903_episodes", out.episodes)
        validate("903_uasc", out.uasc)
        validate("903_missing", out.missing)
        validate("903_reviews", out.reviews)
        validate("903_oc3", out.oc3)
    ledger.check_reconciles()
    return out


def _reference_date(year: pd.Series) -> pd.Series:
    return pd.to_datetime(year.astype(int).astype(str) + "-03-31", format="%Y-%m-%d")


def _births(raw_header: pd.DataFrame) -> pd.Series:
    """Each child's date of birth (header table, latest year's readable DOB), by CHILD."""
    dob, _ = parse_dates(raw_header["DOB"], DMY)
    known = pd.DataFrame({"c": clean_text(raw_header["CHILD"]), "d": dob, "y": raw_header["_year"]}).dropna()
    known = known[known["d"] <= _reference_date(known["y"])] if len(known) else known   # future DOBs are repaired
    return known.sort_values("y", kind="stable").groupby("c")["d"].last()


def _impossible_dates(rc: RowChecks, df: pd.DataFrame, dates: pd.Series, ref: pd.Series, births: pd.Series | None,
                      field: str) -> None:
    """Exclude start dates no looked-after child's record can have (helpers.readers.input_checks)."""
    rc.exclude(dates < input_checks.earliest_plausible(ref), f"{field} implausibly early (more than "
               f"{input_checks.MAX_RECORD_AGE_YEARS} years before the collection's reference date)", field, df[field])
    if births is not None and len(births):
        birth = clean_text(df["CHILD"]).map(births)
        rc.exclude(dates < birth, f"{field} before the child's date of birth", field,
                   lambda m: df.loc[m, field].astype(str) + " < DOB " + birth[m].dt.strftime("%d/%m/%Y"))


def _code_repair(rc: RowChecks, df: pd.DataFrame, col: str, field: str, allowed, label: str) -> None:
    rc.repair(code_not_in(df[col], allowed), f"{label} not recognised: set to missing", field, df[col], col, None)


def _dedupe(rc: RowChecks, df: pd.DataFrame, keys: list[str], field: str, label: str) -> None:
    """Exclude a key's later copy within a year, then copies from earlier years."""
    alive = rc.alive
    dup = df[alive].duplicated(keys + ["_year"], keep="first").reindex(df.index, fill_value=False)
    rc.exclude(dup, f"duplicate: same {label} twice in one collection year", field, df["_file"])
    alive = rc.alive
    latest = df[alive].groupby(keys)["_year"].transform("max")
    sup = (df.loc[latest.index, "_year"] < latest).reindex(df.index, fill_value=False)
    rc.exclude(sup, SUPERSEDED, field, lambda m: "kept the copy from " + latest.reindex(df.index)[m].astype(int).astype(str))


def _header(df: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    df = df.copy()
    for col in ("CHILD", "SEX", "ETHNIC"):
        df[col] = clean_text(df[col])
    rc = RowChecks(df, ledger)
    rc.exclude(df["CHILD"].isna(), "CHILD missing", "CHILD", "blank")
    _dedupe(rc, df, ["CHILD"], "CHILD", "child")
    _sex_repair(rc, df)
    _code_repair(rc, df, "ETHNIC", "ETHNIC", codes.ETHNICITY_CODES, "ETHNIC code")
    dob, bad = parse_dates(df["DOB"], DMY)
    rc.repair(bad, "DOB not a date (expected dd/mm/yyyy): set to missing", "DOB", df["DOB"])
    ref = _reference_date(df["_year"]) if len(df) else pd.Series([], dtype="datetime64[ns]")
    late = rc.repair(dob > ref, "DOB after the collection's reference date: set to missing", "DOB", df["DOB"])
    dob = dob.where(~late)
    df["birth_month"] = to_month(dob)
    df["date_of_birth"] = dob  # exact ages (forecast start stock on any date); never published
    kept = rc.finish()
    out = pd.DataFrame({
        "child_id": kept["CHILD"].astype(str), "sex": kept["SEX"], "birth_month": kept["birth_month"],
        "date_of_birth": kept["date_of_birth"], "ethnicity": kept["ETHNIC"], "collection_year": kept["_year"].astype(int),
    })
    return out.reset_index(drop=True)


def _episodes(df: pd.DataFrame, ledger: Ledger, births: pd.Series | None = None) -> pd.DataFrame:
    df = df.copy()
    for col in ("CHILD", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "REC", "REASON_PLACE_CHANGE", "URN"):
        df[col] = clean_text(df[col])
    for col in ("HOME_POST", "PL_POST"):
        df[col] = clean_text(df[col]).str.upper()
    ref = _reference_date(df["_year"]) if len(df) else pd.Series([], dtype="datetime64[ns]")
    decom, decom_bad = parse_dates(df["DECOM"], DMY)
    dec, dec_bad = parse_dates(df["DEC"], DMY)
    rc = RowChecks(df, ledger)
    rc.exclude(df["CHILD"].isna(), "CHILD missing", "CHILD", "blank")
    rc.require_date(decom, decom_bad, "DECOM", "DECOM", df["DECOM"])
    rc.exclude(decom > ref, "DECOM after the collection's reference date", "DECOM", df["DECOM"])
    _impossible_dates(rc, df, decom, ref, births, "DECOM")
    hit = rc.repair(dec_bad, "DEC not a date: treated as open", "DEC", df["DEC"])
    dec = dec.where(~hit)
    hit = rc.repair(dec > ref, "DEC after the collection's reference date: treated as open", "DEC", df["DEC"])
    dec = dec.where(~hit)
    rc.exclude(dec < decom, "episode ends before it starts (DEC before DECOM)", "DEC",
               lambda m: df.loc[m, "DECOM"] + " > " + df.loc[m, "DEC"])
    df["decom"], df["dec"] = decom, dec
    _dedupe(rc, df, ["CHILD", "decom"], "DECOM", "child and DECOM")
    rc.repair(df["REC"].notna() & dec.isna(), "REC without DEC: treated as open", "REC", df["REC"], "REC", None)
    _code_repair(rc, df, "RNE", "RNE", codes.REASONS_NEW_EPISODE, "RNE code")
    _code_repair(rc, df, "LS", "LS", codes.LEGAL_STATUSES, "LS code")
    _code_repair(rc, df, "CIN", "CIN", codes.CIN_CATEGORY_903, "CIN code")
    _code_repair(rc, df, "PLACE_PROVIDER", "PLACE_PROVIDER", codes.PLACEMENT_PROVIDERS, "PLACE_PROVIDER code")
    _code_repair(rc, df, "REC", "REC", codes.REASONS_EPISODE_CEASED, "REC code")
    rc.repair(place_invalid_for_year(df["PLACE"], df["_year"]),
              "PLACE code not valid in the collection year: kept, category Other", "PLACE",
              lambda m: df.loc[m, "PLACE"].astype(str) + " in " + df.loc[m, "_year"].astype(str))
    kept = rc.finish().copy()

    # overlapping episodes after consolidation: close the earlier one at the next DECOM
    kept = kept.sort_values(["CHILD", "decom"], kind="stable")
    next_decom = kept.groupby("CHILD")["decom"].shift(-1)
    overlap = next_decom.notna() & (kept["dec"].isna() | (kept["dec"] > next_decom))
    if overlap.any():
        ov = kept[overlap]
        ledger.repair_rows(ov["_source"].to_numpy(), ov["_row"].to_numpy(),
                           "overlapping episodes: DEC set to the next DECOM", "DEC",
                           ("DEC " + ov["DEC"].astype(str).replace("", "blank") + " -> next DECOM "
                            + next_decom[overlap].dt.strftime("%d/%m/%Y")).to_numpy())
        kept.loc[overlap, "dec"] = next_decom[overlap]
        kept.loc[overlap & kept["REC"].isna(), "REC"] = "X1"

    out = pd.DataFrame({
        "child_id": kept["CHILD"].astype(str), "decom": kept["decom"], "rne": kept["RNE"], "ls": kept["LS"],
        "cin": kept["CIN"], "place": kept["PLACE"], "place_provider": kept["PLACE_PROVIDER"],
        "dec": kept["dec"], "rec": kept["REC"], "reason_place_change": kept["REASON_PLACE_CHANGE"],
        "home_post": kept["HOME_POST"], "pl_post": kept["PL_POST"], "urn": kept["URN"],
        "collection_year": kept["_year"].astype(int), "source_file": kept["_file"].astype(str),
    })
    return out.reset_index(drop=True)


def _uasc(df: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    df = df.copy()
    for col in ("CHILD", "SEX"):
        df[col] = clean_text(df[col])
    rc = RowChecks(df, ledger)
    rc.exclude(df["CHILD"].isna(), "CHILD missing", "CHILD", "blank")
    _dedupe(rc, df, ["CHILD"], "CHILD", "child")
    _sex_repair(rc, df)
    dob, bad = parse_dates(df["DOB"], DMY)
    rc.repair(bad, "DOB not a date (expected dd/mm/yyyy): set to missing", "DOB", df["DOB"])
    duc, bad = parse_dates(df["DUC"], DMY)
    rc.repair(bad, "DUC not a date (expected dd/mm/yyyy): set to missing", "DUC", df["DUC"])
    df["birth_month"], df["duc"] = to_month(dob), duc
    kept = rc.finish()
    return pd.DataFrame({"child_id": kept["CHILD"].astype(str), "sex": kept["SEX"],
                         "birth_month": kept["birth_month"], "duc": kept["duc"]}).reset_index(drop=True)


def _missing(df: pd.DataFrame, ledger: Ledger, births: pd.Series | None = None) -> pd.DataFrame:
    df = df.copy()
    for col in ("CHILD", "MISSING"):
        df[col] = clean_text(df[col])
    df["MISSING"] = df["MISSING"].str.upper()
    start, sbad = parse_dates(df["MIS_START"], DMY)
    end, ebad = parse_dates(df["MIS_END"], DMY)
    rc = RowChecks(df, ledger)
    rc.exclude(df["CHILD"].isna(), "CHILD missing", "CHILD", "blank")
    rc.require_date(start, sbad, "MIS_START", "MIS_START", df["MIS_START"])
    ref = _reference_date(df["_year"]) if len(df) else pd.Series([], dtype="datetime64[ns]")
    rc.exclude(start > ref, "MIS_START after the collection's reference date", "MIS_START", df["MIS_START"])
    _impossible_dates(rc, df, start, ref, births, "MIS_START")
    rc.exclude(end < start, "MIS_END before MIS_START", "MIS_END", df["MIS_START"] + " > " + df["MIS_END"])
    df["mis_start"] = start
    _dedupe(rc, df, ["CHILD", "mis_start"], "MIS_START", "child and MIS_START")
    hit = rc.repair(ebad, "MIS_END not a date: set to missing", "MIS_END", df["MIS_END"])
    df["mis_end"] = end.where(~hit)
    _code_repair(rc, df, "MISSING", "MISSING", codes.MISSING_TYPES, "MISSING type")
    kept = rc.finish()
    return pd.DataFrame({"child_id": kept["CHILD"].astype(str), "missing": kept["MISSING"],
                         "mis_start": kept["mis_start"], "mis_end": kept["mis_end"]}).reset_index(drop=True)


def _sex_repair(rc: RowChecks, df: pd.DataFrame) -> None:
    """SEX of any year -> the analysis vocabulary M/F/U (``helpers.readers.specs``).

    The form expected is the collection year's: 1/2 to 2023-24, M/F/U from 2024-25. A code of
    the other form is mapped and reported; a value that is no code of any year is set to
    missing and reported.
    """
    raw = df["SEX"]
    mapped = raw.map(specs.sex_to_analysis, na_action="ignore")
    upper = raw.str.upper()
    new_year = df["_year"] >= specs.SEX_MFU_FROM
    old_code = upper.isin(list(specs.SSDA903_SEX_OLD))
    new_code = upper.isin(list(specs.SEX_CODES))
    # 0 and 9 are CIN codes, never SSDA903 ones: not a code here
    bad = raw.notna() & (mapped.isna() | ~(old_code | new_code))
    wrong = raw.notna() & ~bad & ((new_year & old_code) | (~new_year & new_code))
    rc.repair(wrong, "SEX code of another year's form (1/2 to 2023-24, M/F/U from 2024-25): mapped to M/F/U",
              "SEX", lambda m: raw[m] + " in " + df.loc[m, "_year"].astype(str))
    rc.repair(bad, "SEX code not recognised: set to missing", "SEX", raw)
    df["SEX"] = mapped.astype(object).where(~bad & mapped.notna(), None)


def _note_spec(ledger: Ledger, fname: str, table: str, df: pd.DataFrame, year: int) -> None:
    """Record the specification year recognised for one SSDA903 file, with what was found."""
    spec = specs.spec_year(year)
    name = table[6:] if table.startswith("other:") else table
    parts = [f"{specs.year_label(spec)} SSDA903 specification"
             + (" (draft)" if spec in specs.DRAFT_YEARS else "") + f": {name} table"]
    if spec != year:
        parts.append(f"collection year {specs.year_label(year)} outside the years covered: read with "
                     f"the nearest ({specs.year_label(spec)})")
    tspec = specs.ssda903_tables(year).get(name)
    cols = [c for c in df.columns if not c.startswith("_")]
    if "_columns" in df.columns and len(df):
        cols = str(df["_columns"].iloc[0]).split(",")
    if tspec is None:
        parts.append(f"table not in the {specs.year_label(spec)} specification")
    else:
        missing = [c for c in tspec.columns if c not in cols]
        extra = [c for c in cols if c not in tspec.columns]
        if missing:
            parts.append("columns of the specification missing: " + ",".join(missing))
        if extra:
            parts.append("columns not in the specification: " + ",".join(extra))
    if "SEX" in df.columns:
        found = specs.ssda903_sex_spec(df["SEX"])
        expected_new = spec >= specs.SEX_MFU_FROM
        if found is not None and (found >= specs.SEX_MFU_FROM) != expected_new:
            parts.append("SEX coded as " + ("M/F/U (2024-25 on)" if found >= specs.SEX_MFU_FROM else "1/2 (to 2023-24)")
                         + ": mapped, see repairs")
    ledger.note_spec(fname, "SSDA903", year, spec, "; ".join(parts))


def _reviews(df: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    """Looked-after reviews: one row per child and review date (REVIEW_CODE = participation)."""
    df = df.copy()
    for col in ("CHILD", "REVIEW_CODE"):
        df[col] = clean_text(df[col])
    df["REVIEW_CODE"] = df["REVIEW_CODE"].str.upper()
    ref = _reference_date(df["_year"]) if len(df) else pd.Series([], dtype="datetime64[ns]")
    review, bad = parse_dates(df["REVIEW"], DMY)
    rc = RowChecks(df, ledger)
    rc.exclude(df["CHILD"].isna(), "CHILD missing", "CHILD", "blank")
    rc.require_date(review, bad, "REVIEW", "REVIEW", df["REVIEW"])
    rc.exclude(review > ref, "REVIEW after the collection's reference date", "REVIEW", df["REVIEW"])
    df["review_date"] = review
    _dedupe(rc, df, ["CHILD", "review_date"], "REVIEW", "child and review date")
    allowed = specs.SSDA903_SPECS[specs.LAST_YEAR]["reviews"].code_lists["REVIEW_CODE"]
    _code_repair(rc, df, "REVIEW_CODE", "REVIEW_CODE", allowed, "REVIEW_CODE (participation)")
    kept = rc.finish()
    return pd.DataFrame({"child_id": kept["CHILD"].astype(str), "review_date": kept["review_date"],
                         "participation": kept["REVIEW_CODE"],
                         "collection_year": kept["_year"].astype(int)}).reset_index(drop=True)


def _oc3(df: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    """Care leavers' outcomes around their 17th-21st birthdays: one row per child and collection year."""
    df = df.copy()
    for col in ("CHILD", "IN_TOUCH", "ACTIV", "ACCOM"):
        df[col] = clean_text(df[col])
    for col in ("IN_TOUCH", "ACTIV", "ACCOM"):
        df[col] = df[col].str.upper()
    rc = RowChecks(df, ledger)
    rc.exclude(df["CHILD"].isna(), "CHILD missing", "CHILD", "blank")
    dup = df[rc.alive].duplicated(["CHILD", "_year"], keep="first").reindex(df.index, fill_value=False)
    rc.exclude(dup, "duplicate: same child twice in one collection year", "CHILD", df["_file"])
    lists = specs.SSDA903_SPECS[specs.LAST_YEAR]["oc3"].code_lists
    for col in ("IN_TOUCH", "ACTIV", "ACCOM"):
        _code_repair(rc, df, col, col, lists[col], f"{col} code")
    dob, bad = parse_dates(df["DOB"], DMY)
    rc.repair(bad, "DOB not a date (expected dd/mm/yyyy): set to missing", "DOB", df["DOB"])
    df["birth_month"] = to_month(dob)
    kept = rc.finish()
    return pd.DataFrame({"child_id": kept["CHILD"].astype(str), "birth_month": kept["birth_month"],
                         "in_touch": kept["IN_TOUCH"], "activity": kept["ACTIV"], "accommodation": kept["ACCOM"],
                         "collection_year": kept["_year"].astype(int)}).reset_index(drop=True)
