"""Ofsted ILACS Annex A child-level lists: reader for the lists the analyses use.

Annex A is the workbook of child-level lists every council produces for Ofsted's inspections of
local authority children's services (ILACS), often monthly. The bundle reads four lists:

* **List 3** referrals (Ofsted asks for the last six months; councils that run the monthly reports
  extract them from the day after their latest CIN census return), with "Referral NFA?",
  "Number of Referrals in Last 12 Months" and the allocated team;
* **List 6** children in need (open CIN cases, including CP and CLA), with case status;
* **List 7** children subject to a child protection plan;
* **List 8** children looked after (placement type, provider, postcode, location, number of
  placements in the last 12 months).

Layouts accepted (``docs/data_model.md`` section 1.5):

* an ``.xlsx`` workbook laid out as Ofsted's template, one sheet per list; a sheet is recognised by
  its name (``List 3``, ``List_3 Referrals``, ``L3``...) or, failing that, by its headings;
* the same lists as ``.csv`` files (one per list, recognised by file name or headings);
* a folder of either.

Tolerance, as real files need (every rule is in ``docs/data_quality_rules.md``):

* **Headings** are matched by pattern, not exact text (``Date of referral``, ``Referral Date``,
  ``Date Of Referral (dd/mm/yyyy)`` are the same column); the heading row may follow title rows;
  extra columns are ignored; blank rows are not records and are not counted.
* **Categories** given as Ofsted's ``a) Male``, the bare label ``Male``, a code ``M`` or a
  numbered code ``1 - Male`` all read the same. An unrecognised value is set to missing and listed
  in the ledger as a repair (the row is still used).
* **Dates** as real Excel dates, Excel serial numbers, or ``dd/mm/yyyy`` text (``d/m/yyyy``,
  ``dd-mm-yyyy``, ``dd.mm.yyyy`` and ISO ``yyyy-mm-dd`` too; never ``mm/dd``).
* Each list's rows are counted in the :class:`~helpers.readers.ledger.Ledger` (source
  ``"<file>:List 3"``): rows read = rows used + rows excluded. A row is excluded when it has no
  child identifier, when its list's key date (referral date, plan start, date started to be
  looked after) is blank or not a date, when that date is after the extract date, or when it
  repeats an earlier row (same child and key date).

Privacy: the ``Allocated Worker`` column is **never read** into the tidy tables; worker names are
collected only in :attr:`AnnexA.worker_names` so the publishing guard can check no page holds one.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.readers.ledger import Ledger, ReaderError, resolve_input_files
from helpers.readers.schemas import RowChecks

LIST_NAMES = {3: "List 3", 6: "List 6", 7: "List 7", 8: "List 8"}
LIST_TITLES = {3: "referrals", 6: "children in need", 7: "child protection", 8: "children looked after"}


# --------------------------------------------------------------------------------------
# Categories: canonical value -> accepted forms (letter, number, code, labels)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Category:
    """One value of an Annex A category: ``value`` is what the tidy table holds; ``letter`` the
    template's ``a)``; ``numbers`` the numbered codes (``1 - Male``); ``aliases`` bare codes and
    labels seen in real files (matched case-insensitively, ignoring punctuation and spaces)."""

    value: str
    letter: str
    aliases: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()


def _cats(*rows) -> tuple[Category, ...]:
    return tuple(Category(*r) for r in rows)


CATEGORIES: dict[str, tuple[Category, ...]] = {
    "sex": _cats(("M", "a", ("Male", "M", "Boy", "Transgender Male"), ("1",)),
                 ("F", "b", ("Female", "F", "Girl", "Transgender Female"), ("2",)),
                 ("U", "c", ("Not stated/recorded", "Not stated/recorded (or unborn)", "Not stated", "Not recorded", "Not known",
                             "Unknown", "U", "Unborn", "Unspecified", "Withheld", "I"), ("0", "9")),
                 ("U", "d", ("Neither", "Indeterminate", "Non-Binary", "Non Binary", "Unable to classify"), ())),
    "ethnicity": _cats(("White", "a", ("White",), ()), ("Mixed", "b", ("Mixed", "Mixed/Multiple ethnic groups", "Mixed or multiple"), ()),
                       ("Asian or Asian British", "c", ("Asian or Asian British", "Asian", "Asian/Asian British"), ()),
                       ("Black or Black British", "d", ("Black or Black British", "Black", "Black/African/Caribbean/Black British"), ()),
                       ("Other ethnic group", "e", ("Other ethnic group", "Other", "Any other ethnic group", "Chinese"), ()),
                       ("Not stated", "f", ("Not stated", "Not known", "Unknown", "Refused", "Information not yet obtained",
                                            "Not obtained", "Declined"), ())),
    "yes_no": _cats(("Yes", "a", ("Yes", "Y", "True", "1"), ()), ("No", "b", ("No", "N", "False", "0"), ()),
                    ("Unknown", "c", ("Unknown", "Not known", "U", "Not recorded"), ())),
    "referral_source": _cats(
        ("Individual", "a", ("Individual", "Family member", "Self", "1A", "1B", "1C", "1D"), ()),
        ("Schools", "b", ("Schools", "School", "2A"), ()), ("Education services", "c", ("Education services", "Education", "2B"), ()),
        ("Health services", "d", ("Health services", "Health", "3A", "3B", "3C", "3D", "3E", "3F"), ()),
        ("Housing", "e", ("Housing", "4"), ()), ("LA services", "f", ("LA services", "Local authority services", "5A", "5B", "5C", "5D"), ()),
        ("Police", "g", ("Police", "6"), ()), ("Other legal agency", "h", ("Other legal agency", "7"), ()),
        ("Other", "i", ("Other", "8"), ()), ("Anonymous", "j", ("Anonymous", "9"), ()), ("Unknown", "k", ("Unknown", "10"), ())),
    "need": _cats(("N1", "a", ("Abuse or neglect", "N1"), ("1",)), ("N2", "b", ("Child's disability", "Childs disability", "Disability", "N2"), ("2",)),
                  ("N3", "c", ("Parents illness or disability", "Parental illness or disability", "Parental illness/disability", "N3"), ("3",)),
                  ("N4", "d", ("Family in acute stress", "N4"), ("4",)), ("N5", "e", ("Family dysfunction", "N5"), ("5",)),
                  ("N6", "f", ("Socially unacceptable behaviour", "N6"), ("6",)), ("N7", "g", ("Low income", "N7"), ("7",)),
                  ("N8", "h", ("Absent parenting", "N8"), ("8",)), ("N9", "i", ("Not CIN", "Not in need", "Cases other than children in need", "N9"), ("9",)),
                  ("N0", "j", ("Not stated", "N0"), ("0",))),
    "case_status": _cats(("Looked after child", "a", ("Looked after child", "Looked after", "CLA", "LAC", "Child looked after"), ()),
                         ("Child protection plan", "b", ("Child protection plan", "Child Protection", "CP", "CPP"), ()),
                         ("Child in need plan", "c", ("Child in need plan", "Child in need", "CIN", "CIN plan"), ()),
                         ("Open assessment", "d", ("Open assessment", "Assessment"), ()),
                         ("Closed episode", "e", ("Closed episode", "Closed"), ())),
    "abuse": _cats(("NEG", "a", ("Neglect", "NEG"), ()), ("PHY", "b", ("Physical abuse", "Physical", "PHY"), ()),
                   ("SAB", "c", ("Sexual abuse", "Sexual", "SAB"), ()), ("EMO", "d", ("Emotional abuse", "Emotional", "EMO"), ()),
                   ("MUL", "e", ("Multiple", "MUL", "Mixed"), ())),
    "placement_type": _cats(
        ("Foster placement", "a", ("Foster placement", "Foster", "Fostering", "U1", "U2", "U3", "U4", "U5", "U6"), ()),
        ("Placed for adoption", "b", ("Placed for adoption", "Adoption", "A3", "A4", "A5", "A6"), ()),
        ("Placed with parents", "c", ("Placed with parents", "Placed with parents or other person with parental responsibility", "P1"), ()),
        ("Independent living", "d", ("Independent living", "Supported accommodation", "P2", "H5", "K3"), ()),
        ("Residential employment", "e", ("Residential employment", "P3"), ()),
        ("Residential accommodation", "f", ("Residential accommodation", "R1"), ()),
        ("Secure children's homes", "g", ("Secure children's homes", "Secure childrens homes", "Secure unit", "K1"), ()),
        ("Children's homes", "h", ("Children's homes", "Childrens homes", "Children's home", "K2"), ()),
        ("Residential care home", "i", ("Residential care home", "R2"), ()),
        ("NHS/Health Trust", "j", ("NHS/Health Trust", "NHS/Health Trust or other establishment providing medical or nursing care", "R3"), ()),
        ("Family centre or mother and baby unit", "k", ("Family centre or mother and baby unit", "Mother and baby unit", "R5"), ()),
        ("Young offender institution", "l", ("Young offender institution", "Young offender institution or prison", "R6"), ()),
        ("Residential school", "m", ("Residential school", "S1"), ()),
        ("Other placements", "n", ("Other placements", "Other placement", "Other", "Z1", "Z11", "Z12", "Z13", "Z14"), ()),
        ("Temporary placement", "o", ("Temporary placement", "T0", "T1", "T2", "T3", "T4"), ())),
    "provider": _cats(("Own LA", "a", ("Own LA", "Own provision", "Council", "In house", "In-house", "PR1"), ()),
                      ("Private", "b", ("Private", "Private provision", "PR4"), ()),
                      ("Other", "c", ("Other", "Other LA", "Voluntary", "Parents", "PR0", "PR2", "PR3", "PR5"), ())),
    "location": _cats(("In", "a", ("In", "Inside", "Inside LA boundary", "In LA boundary", "In area", "Internal"), ()),
                      ("Out", "b", ("Out", "Outside", "Outside LA boundary", "Out of area", "External"), ())),
}

#: DfE four-letter ethnicity codes read as Annex A groups (first letter), for lists that carry codes.
_ETHNIC_CODE_GROUP = {"W": "White", "M": "Mixed", "A": "Asian or Asian British", "B": "Black or Black British",
                      "C": "Other ethnic group", "O": "Other ethnic group"}


def _key(text: str) -> str:
    """Case-, space- and punctuation-insensitive form of a label."""
    return re.sub(r"[^a-z0-9]", "", text.casefold())


_LETTER = re.compile(r"^\(?([a-z])\)\s*(.*)$", re.I)          # "a) Male", "(a) Male"
_NUMBER = re.compile(r"^(\d{1,2})\s*[-:.)]\s*(.*)$")            # "1 - Male", "1: Male", "1. Male"
_PAREN_CODE = re.compile(r"\(([A-Z]\d{1,2}|[A-Z]{2,4}\d?)\)\s*$")  # "Abuse or neglect (N1)"


class _Normaliser:
    """Maps raw cell text to a category's canonical value (None when not recognised)."""

    def __init__(self, name: str):
        self.name = name
        cats = CATEGORIES[name]
        self.by_letter = {c.letter: c.value for c in cats}
        self.by_number = {n: c.value for c in cats for n in c.numbers}
        self.by_alias: dict[str, str] = {}
        for c in cats:
            for a in (c.value, *c.aliases):
                self.by_alias.setdefault(_key(a), c.value)

    def __call__(self, raw: str) -> str | None:
        text = raw.strip()
        if not text:
            return None
        hit = self.by_alias.get(_key(text))
        if hit is not None:
            return hit
        if text in self.by_number:
            return self.by_number[text]
        m = _LETTER.match(text)
        if m and m.group(1).lower() in self.by_letter:
            rest = m.group(2).strip()
            by_rest = self.by_alias.get(_key(rest)) if rest else None
            letter_value = self.by_letter[m.group(1).lower()]
            # the letter decides, unless the label clearly names another value (e.g. "a) Female")
            return by_rest if by_rest is not None and rest and by_rest != letter_value and _key(rest) != _key(letter_value) \
                and self.name != "placement_type" else letter_value
        m = _NUMBER.match(text)
        if m:
            rest = m.group(2).strip()
            if rest and self.by_alias.get(_key(rest)) is not None:
                return self.by_alias[_key(rest)]
            if m.group(1) in self.by_number:
                return self.by_number[m.group(1)]
        m = _PAREN_CODE.search(text)
        if m and self.by_alias.get(_key(m.group(1))) is not None:
            return self.by_alias[_key(m.group(1))]
        if self.name == "ethnicity":
            code = text.split()[0].split("-")[0].strip().upper()
            if code in ("REFU", "NOBT"):
                return "Not stated"
            if len(code) == 4 and code.isalpha() and code[0] in _ETHNIC_CODE_GROUP:
                return _ETHNIC_CODE_GROUP[code[0]]
            for word, value in (("white", "White"), ("mixed", "Mixed"), ("asian", "Asian or Asian British"),
                                ("black", "Black or Black British"), ("chinese", "Other ethnic group")):
                if word in text.casefold():
                    return value
        if self.name == "sex":
            first = _key(text)[:1]
            return {"m": "M", "f": "F"}.get(first) if _key(text) in ("m", "f") else None
        return None


# --------------------------------------------------------------------------------------
# Columns of each list: tidy name -> (heading pattern, kind)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    name: str          # tidy column name
    pattern: str       # regex matched against the normalised heading (lower case, single spaces)
    kind: str          # "id", "date", "int", "text", or "cat:<category>"
    heading: str       # Ofsted's heading (for messages and the demo writer)


_COMMON = (
    Column("child_id", r"\bchild\b.*\b(unique )?(id|identifier)\b|\b(id|identifier)\b.*\bchild\b|^child( unique)? id", "id", "Child Unique ID"),
    Column("sex", r"^(gender|sex)\b", "cat:sex", "Gender"),
    Column("ethnicity", r"^ethnic", "cat:ethnicity", "Ethnicity"),
    Column("date_of_birth", r"date.*birth|^dob\b|birth ?date", "date", "Date of Birth"),
    Column("age", r"^age\b", "int", "Age of Child (Years)"),
)
_TEAM = Column("allocated_team", r"allocated team|^team\b|team name", "text", "Allocated Team")
#: Heading of the worker column: matched only to be *skipped* (never read into a table).
WORKER_PATTERN = re.compile(r"allocated worker|social worker|^worker\b|key worker|practitioner", re.I)
_WORKER_HEADING = "Allocated Worker"
_DISABILITY = Column("disability", r"disab", "cat:yes_no", "Does the Child have a Disability")

LIST_COLUMNS: dict[int, tuple[Column, ...]] = {
    3: _COMMON + (
        Column("referral_date", r"date.*referral|referral date", "date", "Date of referral"),
        Column("referral_source", r"referral.*source|source.*referral", "cat:referral_source", "Referral Source"),
        Column("referral_nfa", r"\bnfa\b|no further action", "cat:yes_no", "Referral NFA?"),
        Column("referrals_12m", r"(number|no\.?|count) of referrals|referrals in (the )?last 12", "int",
               "Number of Referrals in Last 12 Months"),
        _TEAM),
    6: _COMMON + (
        _DISABILITY,
        Column("cin_start", r"cin start|start date.*cin|cin.*start date", "date", "CIN Start Date"),
        Column("primary_need", r"primary need|category of need|need code", "cat:need", "Primary Need Code"),
        Column("last_seen", r"last seen", "date", "Date Child Was Last Seen"),
        Column("cin_closure", r"cin closure|closure date", "date", "CIN Closure Date"),
        Column("closure_reason", r"reason.*closure", "text", "Reason for Closure"),
        Column("case_status", r"case status|^status\b", "cat:case_status", "Case Status"),
        _TEAM),
    7: _COMMON + (
        _DISABILITY,
        Column("cpp_start", r"(child protection|cp) plan start|start date.*(child protection|cp) plan", "date",
               "Child Protection Plan Start Date"),
        Column("initial_category", r"initial category", "cat:abuse", "Initial Category of Abuse"),
        Column("latest_category", r"latest category", "cat:abuse", "Latest Category of Abuse"),
        Column("last_visit", r"last statutory visit", "date", "Date of the Last Statutory Visit"),
        Column("cpp_end", r"(child protection|cp) plan end|end date", "date", "Child Protection Plan End Date"),
        Column("n_previous_cpp", r"previous child protection plans|previous cp", "int", "Number of Previous Child Protection Plans"),
        _TEAM),
    8: _COMMON + (
        Column("uasc", r"unaccompanied|uasc", "cat:yes_no",
               "Unaccompanied Asylum Seeking Child (UASC) within the Last 12 Months (Y/N)"),
        _DISABILITY,
        Column("cla_start", r"started to be looked after|date.*(became|entered) (looked after|care)|cla start", "date",
               "Date Started to be Looked After"),
        Column("category_of_need", r"category of need", "cat:need", "Child's Category of Need"),
        Column("legal_status", r"^(child'?s )?legal status$", "text", "Child's Legal Status"),
        Column("placements_12m", r"number of placements", "int", "Number of Placements in the Last 12 months"),
        Column("cla_end", r"^date ceased|ceased.*\bdate\b", "date", "Date Ceased to be Looked After"),
        Column("placement_start", r"start date of (most recent|current) placement|placement start", "date",
               "Start Date of Most Recent Placement"),
        Column("placement_type", r"placement type|type of placement", "cat:placement_type", "Placement Type"),
        Column("placement_provider", r"placement provider|provider", "cat:provider", "Placement Provider"),
        Column("placement_postcode", r"placement postcode|postcode", "text", "Placement postcode"),
        Column("placement_location", r"placement location|^location", "cat:location", "Placement Location"),
        Column("placement_la", r"la of placement|placement la\b", "text", "LA of Placement"),
        _TEAM),
}
#: The list's key date: rows without it are excluded; with the child it identifies a row.
KEY_DATE = {3: "referral_date", 6: None, 7: "cpp_start", 8: "cla_start"}
KEY_LABEL = {"referral_date": "referral date", "cpp_start": "child protection plan start date",
             "cla_start": "date started to be looked after"}
#: Headings that identify a list when the sheet or file name does not.
_SIGNATURE = {3: r"date.*referral|referral date", 6: r"case status|cin start", 7: r"(child protection|cp) plan start",
              8: r"started to be looked after|placement type"}


def _norm_heading(text) -> str:
    text = "" if text is None else str(text)
    text = text.replace("\u2018", "'").replace("\u2019", "'").replace("\n", " ")
    return re.sub(r"\s+", " ", text).strip().casefold()


def list_number(name: str) -> int | None:
    """The Annex A list a sheet or file name refers to (``List 3``, ``list_8_cla``, ``L6``), or None."""
    m = re.search(r"(?:^|[^a-z])(?:list|l)[\s_\-]*0?(\d{1,2})(?!\d)", name.casefold())
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------------------
# Cell parsing
# --------------------------------------------------------------------------------------

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_DMY = re.compile(r"^(\d{1,2})[/\-.](\d{1,2})[/\-.](\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


def parse_date(value) -> tuple[pd.Timestamp | None, bool]:
    """``(date, ok)``: a real Excel date, an Excel serial number, or dd/mm/yyyy (or ISO) text.
    Blank gives ``(None, True)``; anything else unreadable gives ``(None, False)``."""
    if value is None:
        return None, True
    if isinstance(value, (dt.datetime, dt.date)):
        return pd.Timestamp(value).normalize(), True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 1 <= value < 80000:     # Excel serial day (1900 date system, as openpyxl and Excel use)
            return pd.Timestamp(_EXCEL_EPOCH + dt.timedelta(days=int(value))), True
        return None, False
    text = str(value).strip()
    if not text:
        return None, True
    m = _DMY.match(text)
    try:
        if m:
            return pd.Timestamp(int(m.group(3)), int(m.group(2)), int(m.group(1))), True
        m = _ISO.match(text)
        if m:
            return pd.Timestamp(int(m.group(1)), int(m.group(2)), int(m.group(3))), True
        if re.fullmatch(r"\d{5}(\.0+)?", text):
            return parse_date(float(text))
    except ValueError:
        return None, False
    return None, False


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.strftime("%d/%m/%Y")
    return str(value).strip()


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------

@dataclass
class AnnexA:
    """Tidy Annex A lists (``docs/data_model.md`` section 2.4), the ledger and the extract date.

    ``referrals`` (List 3), ``cin`` (List 6), ``cp`` (List 7), ``cla`` (List 8): one row per
    record used, with the tidy columns of :data:`LIST_COLUMNS` plus ``source`` and ``row`` (the
    file:list and spreadsheet row, for analysts only). A list absent from the input is an empty
    frame with the same columns. ``as_at`` is the extract date given to :func:`read_annex_a`, or
    else the latest date in the lists. ``worker_names``: every allocated worker's name seen,
    for the publishing guard only (never a table column). ``identifiers``: every child identifier.
    """

    referrals: pd.DataFrame
    cin: pd.DataFrame
    cp: pd.DataFrame
    cla: pd.DataFrame
    ledger: Ledger
    as_at: pd.Timestamp | None
    lists_found: dict[int, list[str]] = field(default_factory=dict)
    worker_names: set[str] = field(default_factory=set, repr=False)
    identifiers: set[str] = field(default_factory=set, repr=False)

    def table(self, number: int) -> pd.DataFrame:
        return {3: self.referrals, 6: self.cin, 7: self.cp, 8: self.cla}[number]


def _empty(number: int) -> pd.DataFrame:
    cols = {}
    for c in LIST_COLUMNS[number]:
        cols[c.name] = pd.Series(dtype="datetime64[ns]" if c.kind == "date" else "Int64" if c.kind == "int" else object)
    cols["source"] = pd.Series(dtype=object)
    cols["row"] = pd.Series(dtype="Int64")
    return pd.DataFrame(cols)


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
#: Built-in Excel number formats that are dates.
_DATE_FORMAT_IDS = set(range(14, 23)) | {27, 30, 36, 45, 46, 47, 50, 57}


def _col_index(ref: str) -> int:
    n = 0
    for ch in ref:
        if ch.isalpha():
            n = n * 26 + (ord(ch.upper()) - 64)
        else:
            break
    return n - 1


def _fast_sheets(path: Path, wanted=None):
    """(sheet name, rows) from an xlsx by parsing its XML with lxml (several times faster than
    openpyxl on large lists). Cells formatted as dates become ``datetime``; numbers ``float``;
    text ``str``. ``wanted(name)`` False skips a sheet without parsing it."""
    import zipfile
    from lxml import etree

    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            for _, si in etree.iterparse(z.open("xl/sharedStrings.xml"), tag=_NS + "si"):
                shared.append("".join(t.text or "" for t in si.iter(_NS + "t")))
                si.clear()
        date_styles: set[int] = set()
        if "xl/styles.xml" in names:
            st = etree.parse(z.open("xl/styles.xml")).getroot()
            custom = {int(f.get("numFmtId")): f.get("formatCode", "") for f in st.iter(_NS + "numFmt")}
            xfs = st.find(_NS + "cellXfs")
            for i, xf in enumerate(xfs if xfs is not None else []):
                fid = int(xf.get("numFmtId", "0"))
                code = re.sub(r'"[^"]*"|\[[^]]*\]', "", custom.get(fid, "")).lower()
                if fid in _DATE_FORMAT_IDS or (fid in custom and re.search(r"[dy]", code)):
                    date_styles.add(i)
        wb = etree.parse(z.open("xl/workbook.xml")).getroot()
        rels = etree.parse(z.open("xl/_rels/workbook.xml.rels")).getroot()
        target = {r.get("Id"): r.get("Target") for r in rels}
        for sheet in wb.iter(_NS + "sheet"):
            name = sheet.get("name")
            if wanted is not None and not wanted(name):
                continue
            t = target[sheet.get(_REL)]
            t = t.lstrip("/") if t.startswith("/") else "xl/" + t
            rows: list[tuple] = []
            for _, row in etree.iterparse(z.open(t), tag=_NS + "row"):
                cells: dict[int, object] = {}
                for c in row.iter(_NS + "c"):
                    kind, style = c.get("t"), int(c.get("s", "0"))
                    v = c.find(_NS + "v")
                    if kind == "inlineStr":
                        value = "".join(x.text or "" for x in c.iter(_NS + "t"))
                    elif v is None or v.text is None:
                        continue
                    elif kind == "s":
                        value = shared[int(v.text)]
                    elif kind in ("str", "e"):
                        value = v.text
                    elif kind == "b":
                        value = v.text == "1"
                    else:
                        num = float(v.text)
                        value = _EXCEL_EPOCH + dt.timedelta(days=num) if style in date_styles else num
                    cells[_col_index(c.get("r", "A"))] = value
                r = int(row.get("r", len(rows) + 1))
                while len(rows) < r - 1:
                    rows.append(())
                rows.append(tuple(cells.get(i) for i in range(max(cells) + 1)) if cells else ())
                row.clear()
            yield name, rows


def _rows_of_sheet(path: Path, wanted=None):
    """(sheet name, list of row tuples) for each worksheet of an xlsx workbook."""
    try:
        sheets = list(_fast_sheets(path, wanted))
    except Exception as exc:  # noqa: BLE001 - any layout the fast path cannot parse: openpyxl decides
        fast_error = exc
    else:
        yield from sheets
        return
    from openpyxl import load_workbook
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise ReaderError(path, "file", None, f"not a readable .xlsx workbook ({type(exc).__name__}: {exc}; "
                                              f"{type(fast_error).__name__})") from exc
    try:
        for ws in wb.worksheets:
            if wanted is not None and not wanted(ws.title):
                continue
            yield ws.title, [tuple(r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _rows_of_csv(path: Path) -> list[tuple]:
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    return [tuple(r) for r in csv.reader(text.splitlines())]


def _find_header(rows: list[tuple], number: int | None) -> tuple[int, int | None]:
    """(index of the heading row, list number) within the first 15 rows, or (-1, None)."""
    id_pat = re.compile(_COMMON[0].pattern)
    for i, row in enumerate(rows[:15]):
        heads = [_norm_heading(v) for v in row]
        if not any(id_pat.search(h) for h in heads if h):
            continue
        if number is not None:
            return i, number
        for n, sig in _SIGNATURE.items():
            if any(re.search(sig, h) for h in heads if h):
                return i, n
        return i, None
    return -1, number


def _match_columns(heads: list[str], number: int) -> dict[str, int]:
    """Tidy column name -> position, first heading that matches each pattern (each used once)."""
    taken: set[int] = {i for i, h in enumerate(heads) if h and WORKER_PATTERN.search(h)}
    out: dict[str, int] = {}
    for col in LIST_COLUMNS[number]:
        pat = re.compile(col.pattern)
        for i, h in enumerate(heads):
            if i not in taken and h and pat.search(h):
                out[col.name] = i
                taken.add(i)
                break
    return out


def _parse_list(rows: list[tuple], header_at: int, number: int, source: str, path: Path, ledger: Ledger,
                workers: set[str]) -> tuple[pd.DataFrame, pd.Series]:
    """One sheet's rows as a tidy frame (``_source``, ``_row`` added) and the exclusion rule
    already applied to each row (None: still alive); rows are counted as read here."""
    heads = [_norm_heading(v) for v in rows[header_at]]
    pos = _match_columns(heads, number)
    if "child_id" not in pos:
        raise ReaderError(path, f"{LIST_NAMES[number]}, row {header_at + 1}", "Child Unique ID",
                          "no heading matches the child identifier (expected a heading like 'Child Unique ID')")
    key = KEY_DATE[number]
    if key and key not in pos:
        heading = next(c.heading for c in LIST_COLUMNS[number] if c.name == key)
        raise ReaderError(path, f"{LIST_NAMES[number]}, row {header_at + 1}", heading,
                          f"required column missing (headings found: {', '.join(h for h in heads if h)})")
    worker_pos = [i for i, h in enumerate(heads) if h and WORKER_PATTERN.search(h)]
    records: list[dict] = []
    for r, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        if not any(_cell_text(v) for v in row):
            continue                               # blank row: not a record
        rec = {"_row": r}
        for name, i in pos.items():
            rec[name] = row[i] if i < len(row) else None
        for i in worker_pos:
            if i < len(row) and _cell_text(row[i]):
                workers.add(_cell_text(row[i]))
        records.append(rec)
    ledger.add_read(source, len(records))
    raw = pd.DataFrame.from_records(records, columns=["_row", *pos.keys()])
    raw["_source"] = source
    rc = RowChecks(raw, ledger)
    out = pd.DataFrame(index=raw.index)
    out["child_id"] = raw["child_id"].map(_cell_text)
    rc.exclude(out["child_id"].eq(""), "child identifier missing", "Child Unique ID", "blank")
    for col in LIST_COLUMNS[number]:
        if col.name == "child_id":
            continue
        if col.name not in pos:
            out[col.name] = (pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]") if col.kind == "date"
                             else pd.Series(pd.NA, index=raw.index, dtype="Int64") if col.kind == "int"
                             else pd.Series(None, index=raw.index, dtype=object))
            continue
        values = raw[col.name]
        if col.kind == "date":
            parsed = [parse_date(v) for v in values]
            dates = pd.Series([p[0] for p in parsed], index=raw.index, dtype="datetime64[ns]")
            bad = pd.Series([not p[1] for p in parsed], index=raw.index)
            if col.name == key:
                rc.require_date(dates, bad, KEY_LABEL[key], col.heading, values.map(_cell_text))
            else:
                rc.repair(bad, f"{col.heading} not a date (expected dd/mm/yyyy): set to blank", col.heading,
                          values.map(_cell_text))
            out[col.name] = dates.where(~bad)
        elif col.kind == "int":
            text = values.map(_cell_text)
            num = pd.to_numeric(text.str.replace(r"\.0+$", "", regex=True), errors="coerce")
            bad = text.ne("") & (num.isna() | (num < 0) | (num % 1 != 0))
            rc.repair(bad, f"{col.heading} not a whole number: set to blank", col.heading, text)
            out[col.name] = num.where(~bad).astype("Int64")
        elif col.kind.startswith("cat:"):
            norm = _Normaliser(col.kind[4:])
            text = values.map(_cell_text)
            uniq = {t: norm(t) for t in pd.unique(text)}
            mapped = text.map(uniq)
            bad = text.ne("") & mapped.isna()
            rc.repair(bad, f"{col.heading} not recognised: set to blank", col.heading, text)
            out[col.name] = mapped.astype(object).where(mapped.notna(), None)
        else:
            text = values.map(_cell_text)
            out[col.name] = text.where(text.ne(""), None)
    out["_source"], out["_row"] = raw["_source"], raw["_row"]
    return out, rc.excluded_rule


def read_annex_a(paths, *, as_at=None, lists=(3, 6, 7, 8)) -> AnnexA:
    """Read Annex A lists from xlsx workbooks and/or CSV files (a path, a folder, or a list).

    ``as_at`` is the extract date (rows whose key date is after it are excluded); default: the
    latest date in the lists read. ``lists`` are the list numbers to read (others are ignored
    and not counted). Raises :class:`ReaderError` (naming file, sheet, row and heading) when a
    file cannot be read or a list lacks its identifier or key date column, or when no list is
    found at all.
    """
    files = [p for p in resolve_input_files(paths, "*", what="Annex A workbooks (.xlsx) or list CSVs")
             if p.suffix.lower() in (".xlsx", ".xlsm", ".csv")]
    if not files:
        raise ReaderError(paths, "folder", None, "no .xlsx or .csv files; expected Annex A workbooks or list CSVs")
    ledger = Ledger()
    workers: set[str] = set()
    frames: dict[int, list[tuple[pd.DataFrame, pd.Series]]] = {n: [] for n in lists}
    found: dict[int, list[str]] = {n: [] for n in lists}
    for path in files:
        if path.suffix.lower() == ".csv":
            sheets = [(path.stem, _rows_of_csv(path))]
        else:
            sheets = _rows_of_sheet(path, lambda name: list_number(name) in (*lists, None))
        for sheet, rows in sheets:
            named = list_number(sheet)
            header_at, number = _find_header(rows, named)
            if number not in lists or header_at < 0:
                continue
            source = f"{path.name}:{LIST_NAMES[number]}"
            frames[number].append(_parse_list(rows, header_at, number, source, path, ledger, workers))
            found[number].append(source)
    if not any(found.values()):
        raise ReaderError(files[0] if len(files) == 1 else paths, "file", None,
                          f"no Annex A list {', '.join(map(str, lists))} found (expected sheets or files named like "
                          f"'List 3' with a 'Child Unique ID' heading)")
    # one RowChecks per list over every file, so cross-file rules see all rows
    checks: dict[int, RowChecks] = {}
    for n in lists:
        if not frames[n]:
            continue
        df = pd.concat([f for f, _ in frames[n]], ignore_index=True)
        rc = RowChecks(df, ledger)
        rc.excluded_rule = pd.concat([r for _, r in frames[n]], ignore_index=True).astype(object)
        checks[n] = rc
    # extract date: given, else the latest event date in the lists (dates of birth aside)
    latest = None
    for n, rc in checks.items():
        for c in LIST_COLUMNS[n]:
            if c.kind == "date" and c.name != "date_of_birth":
                d = rc.df.loc[rc.alive, c.name]
                if d.notna().any():
                    latest = d.max() if latest is None else max(latest, d.max())
    stamp = pd.Timestamp(as_at).normalize() if as_at is not None else latest
    tables: dict[int, pd.DataFrame] = {}
    for n in (3, 6, 7, 8):
        if n not in checks:
            tables[n] = _empty(n)
            continue
        rc, key = checks[n], KEY_DATE[n]
        df = rc.df
        if key and stamp is not None:
            rc.exclude(df[key] > stamp, f"{KEY_LABEL[key]} after the extract date", key,
                       lambda m: df.loc[m, key].dt.strftime("%d/%m/%Y"))
        keys = ["child_id", key] if key else ["child_id"]
        alive = rc.alive
        dup = df[alive].duplicated(keys, keep="last").reindex(df.index, fill_value=False)
        rc.exclude(dup, "duplicate: same child" + (f" and {KEY_LABEL[key]}" if key else "")
                   + " as a later row (the later row, or the later file's, is kept)", "Child Unique ID", df["child_id"])
        kept = rc.finish().rename(columns={"_source": "source", "_row": "row"})
        kept["row"] = kept["row"].astype("Int64")
        tables[n] = kept.reset_index(drop=True)
    ids = set()
    for n in (3, 6, 7, 8):
        ids.update(tables[n]["child_id"].dropna())
    ledger.check_reconciles()
    return AnnexA(referrals=tables[3], cin=tables[6], cp=tables[7], cla=tables[8], ledger=ledger,
                  as_at=stamp, lists_found={n: v for n, v in found.items() if v}, worker_names=workers, identifiers=ids)


ALL_LISTS = (3, 6, 7, 8)


def load_configured(cfg: dict, *, lists: tuple[int, ...] = ALL_LISTS) -> AnnexA | None:
    """The council's Annex A (``[data] annex_a``), or None when it is not configured or absent.

    Every report reads it with the same call (all four lists, at the extract date in
    ``[data] council_meta`` when known, else the lists' latest date) through the input cache
    (:func:`helpers.readers.input_cache.load`), so a publishing run parses the workbook once
    and each notebook after the first reads the stored tables. ``lists``: the lists a page
    reads; the others come back empty (same columns) and the ledger keeps only their rows, as
    if only those lists had been read."""
    path = cfg.get("data", {}).get("annex_a")
    if not path or not Path(path).exists():
        return None
    from helpers import config
    from helpers.readers.input_cache import load

    as_at = config.extract_date(cfg)
    annex = load(cfg, read_annex_a, Path(path), as_at=pd.Timestamp(as_at) if as_at else None)
    return only_lists(annex, lists)


def only_lists(annex: AnnexA, lists: tuple[int, ...]) -> AnnexA:
    """``annex`` with the lists not in ``lists`` empty and its ledger restricted to the rows of
    those lists (sources ``FILE:List N``); the extract date, worker names and identifiers as read."""
    unknown = sorted(set(lists) - set(ALL_LISTS))
    if unknown:
        raise ValueError(f"Annex A lists are {', '.join(map(str, ALL_LISTS))}, not {', '.join(map(str, unknown))}")
    if set(lists) == set(ALL_LISTS):
        return annex
    suffixes = tuple(f":{LIST_NAMES[n]}" for n in lists)
    fields = {"referrals": 3, "cin": 6, "cp": 7, "cla": 8}
    return replace(annex, **{name: annex.table(n) if n in lists else annex.table(n).iloc[:0].copy()
                             for name, n in fields.items()},
                   ledger=annex.ledger.only(lambda source: str(source).endswith(suffixes)),
                   lists_found={n: v for n, v in annex.lists_found.items() if n in lists})


def workbook_people(path) -> tuple[set[str], set[dt.date], set[str]]:
    """Child identifiers, dates of birth and allocated workers' names in an Annex A workbook (every
    sheet with a child identifier heading), for the publishing guard only."""
    ids: set[str] = set()
    dobs: set[dt.date] = set()
    workers: set[str] = set()
    id_pat = re.compile(_COMMON[0].pattern)
    dob_pat = re.compile(_COMMON[3].pattern)
    for _sheet, rows in _rows_of_sheet(Path(path)):
        header_at, _ = _find_header(rows, 0)
        if header_at < 0:
            continue
        heads = [_norm_heading(v) for v in rows[header_at]]
        id_pos = [i for i, h in enumerate(heads) if h and id_pat.search(h)]
        dob_pos = [i for i, h in enumerate(heads) if h and dob_pat.search(h)]
        worker_pos = [i for i, h in enumerate(heads) if h and WORKER_PATTERN.search(h)]
        for row in rows[header_at + 1:]:
            for i in id_pos[:1]:
                if i < len(row) and _cell_text(row[i]):
                    ids.add(_cell_text(row[i]))
            for i in dob_pos:
                if i < len(row):
                    d, ok = parse_date(row[i])
                    if d is not None:
                        dobs.add(d.date())
            for i in worker_pos:
                if i < len(row) and _cell_text(row[i]):
                    workers.add(_cell_text(row[i]))
    return ids, dobs, workers
