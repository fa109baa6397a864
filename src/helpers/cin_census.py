"""Read CIN census XML files (one or many collection years) into tidy tables.

``read_cin_census(paths)`` takes a file, a folder (every ``*.xml`` in it) or a list of either,
and returns a :class:`CINCensus` with the tables of ``docs/data_model.md`` section 2.

Parsing is streaming: ``lxml.etree.iterparse`` reports only ``CollectionDetails`` and ``Child``
end tags; each ``Child`` is read into plain Python lists and then cleared (with the siblings
before it), so memory stays flat; DataFrames are built once per run and dates parsed
vectorised (``pd.to_datetime(format="%Y-%m-%d", errors="coerce")``). Personal detail is
degraded on read: date of birth to month; LAchildID and UPN values go only to
``identifiers`` (for the publish guard).

Files that cannot be read at all raise one :class:`helpers.ledger.ReaderError` naming file,
line/element, field and expectation: empty file, not XML / malformed XML (with the parser's
line), root element not ``<Message>``, ``Collection`` other than ``CIN``, no usable collection
year (``Header/CollectionDetails/Year``, else the year of ``ReferenceDate``).

Row rules (ledger sources are ``"<file>:children"``, ``"<file>:referrals"``,
``"<file>:assessments"``, ``"<file>:cin_plans"``, ``"<file>:section47"``, ``"<file>:cp_plans"``;
row = line of the element). Applied in this order; a row is excluded by the first rule it fails:

children
  * LAchildID missing -> excluded (its CINdetails are excluded too)
  * GenderCurrent not 0/1/2/9 -> repaired: set to ``0`` (not recorded)
  * Ethnicity not a CIN code -> repaired: set to missing
  * PersonBirthDate not a date, or after the reference date -> repaired: set to missing
    (ExpectedPersonBirthDate is used when PersonBirthDate is absent: unborn children)
  * Disability code not recognised -> repaired: counted as a disability, reported
  * same LAchildID twice in one collection year -> later copy excluded
  * same LAchildID in an earlier collection year -> excluded
    ("duplicate: superseded by later collection year")
referrals (CINdetails)
  * LAchildID missing -> excluded
  * CINreferralDate missing / not YYYY-MM-DD / after the reference date -> excluded
  * CINclosureDate not a date, or after the reference date -> repaired: treated as open
  * CINclosureDate before CINreferralDate -> excluded ("referral after closure")
  * ReasonForClosure without CINclosureDate -> repaired: treated as open (reason cleared)
  * CINclosureDate without ReasonForClosure -> repaired: kept closed, reason missing
  * ReferralSource / PrimaryNeedCode / ReasonForClosure not in the code list -> repaired: set to
    missing (original value in the ledger detail)
  * ReferralNFA not true/false/1/0 -> repaired: set to false
  * same child and referral date twice in one collection year -> later copy excluded
  * same child and referral date in an earlier collection year -> excluded
    ("duplicate: superseded by later collection year"); the latest year's record is kept
assessments, cin_plans, section47, cp_plans
  * parent referral excluded -> excluded with the parent's rule (so superseded copies are
    counted under "duplicate: superseded by later collection year")
  * start date missing / not a date / after the reference date -> excluded
  * optional dates (authorisation, plan end, ICPC target/date, CPP end) not a date or after the
    reference date -> repaired: set to missing
  * end (or authorisation) date before start -> excluded for plans; for assessments the
    authorisation date is set to missing
  * category of abuse not a code -> repaired: set to missing; NumberOfPreviousCPP not a whole
    number -> repaired: set to missing; ICPCnotRequired not yes/no -> repaired: false

``n_assessments``, ``has_cin_plan``, ``has_s47`` and ``has_cp_plan`` count the *kept*
sub-records of the kept referral.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from lxml import etree

from helpers import codes
from helpers.ledger import Ledger, ReaderError
from helpers.schemas import RowChecks, clean_text, code_not_in, iso_day, parse_dates, to_month, validate

ISO = "%Y-%m-%d"
SUPERSEDED = "duplicate: superseded by later collection year"

CHILDREN_COLUMNS = ["child_id", "sex", "birth_month", "ethnicity", "disability", "collection_year"]
REFERRAL_COLUMNS = ["referral_id", "child_id", "referral_date", "referral_source", "primary_need",
                    "closure_date", "closure_reason", "referral_nfa", "n_assessments", "has_cin_plan",
                    "has_s47", "has_cp_plan", "collection_year", "source_file"]
ASSESSMENT_COLUMNS = ["referral_id", "child_id", "assessment_start", "assessment_authorised", "factors"]
CIN_PLAN_COLUMNS = ["referral_id", "child_id", "cin_plan_start", "cin_plan_end"]
S47_COLUMNS = ["referral_id", "child_id", "s47_start", "icpc_target", "icpc_date", "icpc_not_required"]
CP_PLAN_COLUMNS = ["referral_id", "child_id", "cpp_start", "cpp_end", "initial_category",
                   "latest_category", "n_previous_cpp"]


@dataclass
class CINCensus:
    """Tidy CIN census tables (docs/data_model.md section 2) plus the ledger and identifiers."""

    children: pd.DataFrame
    referrals: pd.DataFrame
    assessments: pd.DataFrame
    cin_plans: pd.DataFrame
    section47: pd.DataFrame
    cp_plans: pd.DataFrame
    ledger: Ledger
    identifiers: set[str] = field(default_factory=set, repr=False)


# ----------------------------------------------------------------------------------------
# File discovery and checks
# ----------------------------------------------------------------------------------------

def _resolve(paths, pattern: str) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(p.glob(pattern))
            if not found:
                raise ReaderError(p, "folder", None, f"no files matching {pattern} found")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise ReaderError(p, "path", None, "file or folder does not exist")
    return out


def _check_bytes(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        raise ReaderError(path, "line 1", None, "file is empty; expected a CIN census XML file "
                          "(root element <Message>)")


def _syntax_error(path: Path, exc: etree.XMLSyntaxError) -> ReaderError:
    line = exc.lineno if getattr(exc, "lineno", None) else 1
    msg = str(exc.msg if getattr(exc, "msg", None) else exc)
    if "encoding" in msg.lower() or "utf-8" in msg.lower() or "bytes" in msg.lower():
        expected = f"text is not valid in the declared encoding ({msg}); expected UTF-8 XML"
    else:
        expected = f"not well-formed XML ({msg}); expected a CIN census XML file"
    return ReaderError(path, f"line {line}", None, expected)


def _root(path: Path) -> tuple[str, int]:
    """Return the root element's namespace prefix (``"{ns}"`` or ``""``) and check its name."""
    try:
        for _, el in etree.iterparse(str(path), events=("start",)):
            qname = etree.QName(el)
            if qname.localname != "Message":
                raise ReaderError(path, f"line {el.sourceline}, element <{qname.localname}>", None,
                                  "wrong root element; expected <Message> (a CIN census XML file)")
            ns = f"{{{qname.namespace}}}" if qname.namespace else ""
            return ns, el.sourceline
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(path, exc) from None
    raise ReaderError(path, "line 1", None, "no XML element found; expected root element <Message>")


def bare_iterparse(path) -> int:
    """Benchmark baseline: one ``lxml.etree.iterparse`` pass that builds nothing.

    Counts every element (end events) and clears each ``Child`` as it ends, as a streaming
    reader must. Returns the element count.
    """
    n = 0
    for _, el in etree.iterparse(str(path), events=("end",)):
        n += 1
        if el.tag == "Child":
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
    return n


# ----------------------------------------------------------------------------------------
# Streaming parse: plain Python lists
# ----------------------------------------------------------------------------------------

class _Raw:
    """Column lists for one run (all files)."""

    def __init__(self) -> None:
        self.ch = {k: [] for k in ("child_id", "upn", "former_upn", "dob", "edob", "sex", "ethnicity",
                                   "disabilities", "_row", "_file", "_year")}
        self.ref = {k: [] for k in ("child_id", "referral_date", "referral_source", "primary_need",
                                    "closure_date", "closure_reason", "referral_nfa", "_row", "_file",
                                    "_year", "_child_row")}
        self.ass = {k: [] for k in ("_ref", "_row", "start", "auth", "factors")}
        self.plan = {k: [] for k in ("_ref", "_row", "start", "end")}
        self.s47 = {k: [] for k in ("_ref", "_row", "start", "target", "icpc", "notreq")}
        self.cpp = {k: [] for k in ("_ref", "_row", "start", "end", "init", "latest", "nprev")}
        self.files: dict[str, tuple[int, pd.Timestamp]] = {}
        self.paths: dict[str, Path] = {}


def _parse_file(path: Path, raw: _Raw) -> None:
    """Stream one file into ``raw``'s lists.

    ``iterparse`` reports only ``Child`` and ``CollectionDetails`` end events (filtered in C);
    each finished ``Child`` is walked once in document order. Leaf values go into the open
    record (child, referral, assessment, ...) via a tag -> (record, key) map; a record is
    appended to its lists when the next record of its level starts or the Child ends. Each
    ``Child`` is then cleared with the siblings before it, so memory stays flat.
    """
    _check_bytes(path)
    ns, _ = _root(path)
    fname = path.name
    ch, ref, ass, plan, s47, cpp = raw.ch, raw.ref, raw.ass, raw.plan, raw.s47, raw.cpp
    c_rec: dict = {}
    r_rec: dict = {}
    a_rec: dict = {}
    p_rec: dict = {}
    s_rec: dict = {}
    k_rec: dict = {}
    leaf: dict[str, tuple[dict, str]] = {}
    for rec, pairs in (
        (c_rec, (("LAchildID", "child_id"), ("UPN", "upn"), ("FormerUPN", "former_upn"),
                 ("PersonBirthDate", "dob"), ("ExpectedPersonBirthDate", "edob"), ("GenderCurrent", "sex"),
                 ("Ethnicity", "ethnicity"))),
        (r_rec, (("CINreferralDate", "referral_date"), ("ReferralSource", "referral_source"),
                 ("PrimaryNeedCode", "primary_need"), ("CINclosureDate", "closure_date"),
                 ("ReasonForClosure", "closure_reason"), ("ReferralNFA", "referral_nfa"))),
        (a_rec, (("AssessmentActualStartDate", "start"), ("AssessmentAuthorisationDate", "auth"))),
        (p_rec, (("CINPlanStartDate", "start"), ("CINPlanEndDate", "end"))),
        (s_rec, (("S47ActualStartDate", "start"), ("InitialCPCtarget", "target"), ("ICPCnotRequired", "notreq"))),
        (k_rec, (("CPPstartDate", "start"), ("CPPendDate", "end"), ("InitialCategoryOfAbuse", "init"),
                 ("LatestCategoryOfAbuse", "latest"), ("NumberOfPreviousCPP", "nprev"))),
    ):
        for tag, key in pairs:
            leaf[ns + tag] = (rec, key)
    t_child, t_cin, t_ass, t_plan, t_s47, t_cpp = (ns + t for t in (
        "Child", "CINdetails", "Assessments", "CINPlanDates", "Section47", "ChildProtectionPlans"))
    t_dis, t_fac, t_icpc, t_cd = (ns + t for t in ("Disability", "AssessmentFactors", "DateOfInitialCPC",
                                                  "CollectionDetails"))
    disabilities: list = []
    ch_id, ch_upn, ch_fupn, ch_dob, ch_edob, ch_sex, ch_eth, ch_dis, ch_row = (
        ch["child_id"], ch["upn"], ch["former_upn"], ch["dob"], ch["edob"], ch["sex"], ch["ethnicity"],
        ch["disabilities"], ch["_row"])
    r_child, r_rd, r_rs, r_pn, r_cd, r_rc, r_nfa, r_row, r_crow = (
        ref["child_id"], ref["referral_date"], ref["referral_source"], ref["primary_need"], ref["closure_date"],
        ref["closure_reason"], ref["referral_nfa"], ref["_row"], ref["_child_row"])
    year: int | None = None
    ref_date = None
    n_children_start = len(ch_id)
    n_refs_start = len(r_child)
    a_fac: list = []
    open_sub: list = [None, 0]       # kind of the open sub-record ("a", "p", "s", "k") and its line
    open_ref: list = [False, 0]      # a referral is open, and its line

    def flush_sub() -> None:
        kind, line = open_sub
        if kind is None:
            return
        i = len(r_child)               # the open referral is appended after its sub-records
        if kind == "a":
            ass["_ref"].append(i); ass["_row"].append(line)
            ass["start"].append(a_rec.get("start")); ass["auth"].append(a_rec.get("auth"))
            ass["factors"].append(";".join([(f or "").strip() for f in a_fac]))
            a_rec.clear(); a_fac.clear()
        elif kind == "p":
            plan["_ref"].append(i); plan["_row"].append(line)
            plan["start"].append(p_rec.get("start")); plan["end"].append(p_rec.get("end"))
            p_rec.clear()
        elif kind == "s":
            s47["_ref"].append(i); s47["_row"].append(line)
            s47["start"].append(s_rec.get("start")); s47["target"].append(s_rec.get("target"))
            s47["icpc"].append(s_rec.get("icpc")); s47["notreq"].append(s_rec.get("notreq"))
            s_rec.clear()
        else:
            cpp["_ref"].append(i); cpp["_row"].append(line)
            cpp["start"].append(k_rec.get("start")); cpp["end"].append(k_rec.get("end"))
            cpp["init"].append(k_rec.get("init")); cpp["latest"].append(k_rec.get("latest"))
            cpp["nprev"].append(k_rec.get("nprev"))
            k_rec.clear()
        open_sub[0] = None

    def flush_ref() -> None:
        if not open_ref[0]:
            return
        r_child.append(child_id[0])
        r_rd.append(r_rec.get("referral_date"))
        r_rs.append(r_rec.get("referral_source"))
        r_pn.append(r_rec.get("primary_need"))
        r_cd.append(r_rec.get("closure_date"))
        r_rc.append(r_rec.get("closure_reason"))
        r_nfa.append(r_rec.get("referral_nfa"))
        r_row.append(open_ref[1])
        r_crow.append(len(ch_id))          # index of the child being read
        r_rec.clear()
        open_ref[0] = False

    sub_kind = {t_ass: "a", t_plan: "p", t_s47: "s", t_cpp: "k"}
    child_id: list = [None]            # the current Child's LAchildID, stripped
    try:
        for _, el in etree.iterparse(str(path), events=("end",), tag=(t_child, t_cd)):
            if el.tag == t_cd:
                year, ref_date = _collection(path, el, ns)
                continue
            if year is None:
                raise ReaderError(path, f"line {el.sourceline}, element <Child>", "Header/CollectionDetails/Year",
                                  "no collection year before the first <Child>; expected "
                                  "<Header><CollectionDetails><Year>YYYY</Year>")
            # walk the finished Child in document order: a container opens a record, which is
            # appended when the next container of its level (or the end of the Child) arrives
            for e in el.iter():
                tag = e.tag
                slot = leaf.get(tag)
                if slot is not None:
                    slot[0][slot[1]] = e.text
                    continue
                kind = sub_kind.get(tag)
                if kind is not None:
                    flush_sub()
                    open_sub[0] = kind
                    open_sub[1] = e.sourceline
                elif tag == t_fac:
                    a_fac.append(e.text)
                elif tag == t_cin:
                    flush_sub()
                    flush_ref()
                    raw_id = c_rec.get("child_id")      # LAchildID precedes CINdetails
                    child_id[0] = raw_id.strip() if raw_id else raw_id
                    open_ref[0] = True
                    open_ref[1] = e.sourceline
                elif tag == t_dis:
                    disabilities.append(e.text)
                elif tag == t_icpc:
                    if open_sub[0] == "s":
                        s_rec["icpc"] = e.text
            flush_sub()
            flush_ref()
            raw_id = c_rec.get("child_id")
            ch_id.append(raw_id.strip() if raw_id else raw_id)
            ch_upn.append(c_rec.get("upn"))
            ch_fupn.append(c_rec.get("former_upn"))
            ch_dob.append(c_rec.get("dob"))
            ch_edob.append(c_rec.get("edob"))
            ch_sex.append(c_rec.get("sex"))
            ch_eth.append(c_rec.get("ethnicity"))
            ch_dis.append(";".join([(d or "").strip() for d in disabilities]))
            ch_row.append(el.sourceline)
            c_rec.clear()
            disabilities.clear()
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(path, exc) from None
    if year is None:
        raise ReaderError(path, "element <Header>/<CollectionDetails>", "Year",
                          "no collection year found; expected <Header><CollectionDetails><Year>YYYY</Year>")
    n_new_children = len(ch_id) - n_children_start
    n_new_refs = len(r_child) - n_refs_start
    ch["_file"].extend([fname] * n_new_children)
    ch["_year"].extend([year] * n_new_children)
    ref["_file"].extend([fname] * n_new_refs)
    ref["_year"].extend([year] * n_new_refs)
    raw.files[fname] = (year, ref_date)
    raw.paths[fname] = path


def _collection(path: Path, el, ns: str) -> tuple[int, pd.Timestamp]:
    coll = (el.findtext(ns + "Collection") or "").strip()
    if coll and coll != "CIN":
        raise ReaderError(path, f"line {el.sourceline}, element <CollectionDetails>", "Collection",
                          f"found {coll!r}; expected 'CIN' (a CIN census file)")
    year_text = (el.findtext(ns + "Year") or "").strip()
    ref_text = (el.findtext(ns + "ReferenceDate") or "").strip()
    ref_date = pd.to_datetime(ref_text, format=ISO, errors="coerce") if ref_text else pd.NaT
    if year_text.isdigit() and len(year_text) == 4:
        year = int(year_text)
    elif pd.notna(ref_date):
        year = ref_date.year
    else:
        raise ReaderError(path, f"line {el.sourceline}, element <CollectionDetails>", "Year",
                          f"found {year_text!r}; expected a four-digit collection year (or a ReferenceDate YYYY-MM-DD)")
    if pd.isna(ref_date):
        ref_date = pd.Timestamp(year=year, month=3, day=31)
    return year, ref_date


# ----------------------------------------------------------------------------------------
# Tidy tables and rules
# ----------------------------------------------------------------------------------------

def read_cin_census(paths, *, validate_output: bool = True) -> CINCensus:
    """Read one or many CIN census XML files into tidy, de-duplicated tables.

    Parameters
    ----------
    paths : a path (file or folder of ``*.xml``) or a list of paths.
    validate_output : check the tidy tables against ``helpers.schemas`` (post-condition).

    Returns
    -------
    CINCensus with ``children``, ``referrals``, ``assessments``, ``cin_plans``, ``section47``,
    ``cp_plans`` (columns of docs/data_model.md section 2), ``ledger`` and ``identifiers``.
    Referrals are de-duplicated across years by child + referral date, keeping the latest
    collection year's record; earlier copies are excluded in the ledger with rule
    ``"duplicate: superseded by later collection year"``. See the module docstring for every rule.

    Raises
    ------
    ReaderError for a file that cannot be read at all.
    """
    files = _resolve(paths, "*.xml")
    raw = _Raw()
    for path in files:
        _parse_file(path, raw)
    ledger = Ledger()
    ref_dates = {f: r for f, (_, r) in raw.files.items()}

    children = _children(raw, ledger, ref_dates)
    referrals, ref_rule = _referrals(raw, ledger, ref_dates)
    ref_key = referrals[["referral_id", "child_id"]]
    assessments = _assessments(raw, ledger, ref_dates, referrals, ref_rule, ref_key)
    cin_plans = _plans(raw, ledger, ref_dates, ref_rule, ref_key)
    section47 = _s47(raw, ledger, ref_dates, ref_rule, ref_key)
    cp_plans = _cpp(raw, ledger, ref_dates, ref_rule, ref_key)

    # flags from the kept sub-records of kept referrals
    idx = referrals.index
    referrals["n_assessments"] = assessments.groupby("_ref").size().reindex(idx, fill_value=0).astype(int)
    referrals["has_cin_plan"] = idx.isin(cin_plans["_ref"])
    referrals["has_s47"] = idx.isin(section47["_ref"])
    referrals["has_cp_plan"] = idx.isin(cp_plans["_ref"])

    identifiers = {str(v).strip() for col in ("child_id", "upn", "former_upn") for v in raw.ch[col] if v and str(v).strip()}
    out = CINCensus(
        children=children[CHILDREN_COLUMNS].reset_index(drop=True),
        referrals=referrals[REFERRAL_COLUMNS].reset_index(drop=True),
        assessments=assessments[ASSESSMENT_COLUMNS].reset_index(drop=True),
        cin_plans=cin_plans[CIN_PLAN_COLUMNS].reset_index(drop=True),
        section47=section47[S47_COLUMNS].reset_index(drop=True),
        cp_plans=cp_plans[CP_PLAN_COLUMNS].reset_index(drop=True),
        ledger=ledger,
        identifiers=identifiers,
    )
    if validate_output:
        validate("cin_children", out.children)
        validate("cin_referrals", out.referrals)
        validate("cin_assessments", out.assessments)
        validate("cin_plans", out.cin_plans)
        validate("cin_section47", out.section47)
        validate("cin_cp_plans", out.cp_plans)
    ledger.check_reconciles()
    return out


def _sources(files: pd.Series, table: str) -> pd.Series:
    return files.astype(str) + ":" + table


def _add_reads(ledger: Ledger, sources: pd.Series) -> None:
    for src, n in sources.value_counts(sort=False).items():
        ledger.add_read(src, n)


def _ref_date_col(files: pd.Series, ref_dates) -> pd.Series:
    return files.map(ref_dates).astype("datetime64[ns]")


def _yes_no(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(bool values, invalid mask) for CIN yes/no fields (true/false/TRUE/FALSE/1/0)."""
    t = clean_text(text, codes.YES_VALUES | codes.NO_VALUES)
    yes = t.isin(list(codes.YES_VALUES))
    bad = ~yes & ~t.isin(list(codes.NO_VALUES))
    return yes, bad


def _children(raw: _Raw, ledger: Ledger, ref_dates) -> pd.DataFrame:
    df = pd.DataFrame(raw.ch)
    df["_source"] = _sources(df["_file"], "children")
    _add_reads(ledger, df["_source"])
    df["child_id"] = clean_text(df["child_id"], allowed=())   # stripped during the parse
    df["sex"] = clean_text(df["sex"], codes.GENDER_CODES)
    df["ethnicity"] = clean_text(df["ethnicity"], codes.ETHNICITY_CODES)
    ref = _ref_date_col(df["_file"], ref_dates)
    dob, dob_bad = parse_dates(df["dob"], ISO)
    edob, _ = parse_dates(df["edob"], ISO)
    rc = RowChecks(df, ledger)
    rc.exclude(df["child_id"].isna(), "LAchildID missing", "LAchildID", "blank")
    df["collection_year"] = df["_year"].astype(int)
    rc.exclude(df.duplicated(["child_id", "collection_year"], keep="first") & df["child_id"].notna(),
               "duplicate: same child twice in one collection year", "LAchildID", df["collection_year"])
    alive = rc.alive
    latest = df[alive].groupby("child_id")["collection_year"].transform("max")
    superseded = pd.Series(False, index=df.index)
    superseded[latest.index] = df.loc[latest.index, "collection_year"] < latest
    rc.exclude(superseded, SUPERSEDED, "LAchildID",
               lambda m: "later year: " + latest.reindex(df.index)[m].astype(int).astype(str))
    rc.repair(code_not_in(df["sex"], codes.GENDER_CODES) | df["sex"].isna(),
              "sex code not recognised: set to 0 (not recorded)", "GenderCurrent", df["sex"], "sex", "0")
    rc.repair(code_not_in(df["ethnicity"], codes.ETHNICITY_CODES),
              "ethnicity code not recognised: set to missing", "Ethnicity", df["ethnicity"], "ethnicity", None)
    rc.repair(dob_bad, "birth date not a date: set to missing", "PersonBirthDate", df["dob"])
    late = dob.notna() & (dob > ref)
    rc.repair(late, "birth date after the collection's reference date: set to missing", "PersonBirthDate", df["dob"])
    dob = dob.where(~late)
    dob = dob.fillna(edob)
    df["birth_month"] = to_month(dob)
    dis = df["disabilities"].fillna("")
    codes_found = dis.str.split(";").explode()
    unknown = codes_found[codes_found.ne("") & ~codes_found.isin(list(codes.DISABILITY_CODES))]
    rc.repair(df.index.to_series().isin(unknown.index),
              "disability code not recognised: counted as a disability", "Disability", dis)
    df["disability"] = dis.ne("") & dis.ne("NONE")
    kept = rc.finish()
    kept = kept.astype({"child_id": str, "sex": str})
    return kept


def _referrals(raw: _Raw, ledger: Ledger, ref_dates) -> tuple[pd.DataFrame, pd.Series]:
    """Return (kept referrals indexed by raw referral position, rule per raw referral or None)."""
    df = pd.DataFrame(raw.ref)
    df["_source"] = _sources(df["_file"], "referrals")
    _add_reads(ledger, df["_source"])
    df["child_id"] = clean_text(df["child_id"], allowed=())    # stripped during the parse
    for col, allowed in (("referral_source", codes.REFERRAL_SOURCES), ("primary_need", codes.PRIMARY_NEED_CODES),
                         ("closure_reason", codes.REASONS_FOR_CLOSURE)):
        df[col] = clean_text(df[col], allowed)
    ref = _ref_date_col(df["_file"], ref_dates)
    rd, rd_bad = parse_dates(df["referral_date"], ISO)
    cd, cd_bad = parse_dates(df["closure_date"], ISO)
    _all_dates_unreadable(df, rd, rd_bad, "CINreferralDate", raw.paths)
    rc = RowChecks(df, ledger)
    child_lines = np.asarray(raw.ch["_row"], dtype=object)
    child_line = pd.Series(child_lines[df["_child_row"].to_numpy(dtype=int)] if len(df) else [], index=df.index,
                           dtype=object)
    rc.exclude(df["child_id"].isna(), "LAchildID missing", "LAchildID", lambda m: "child at line " + child_line[m].astype(str))
    rc.exclude(rd.isna() & ~rd_bad, "referral date missing", "CINreferralDate", "blank")
    rc.exclude(rd_bad, "referral date not a date (expected YYYY-MM-DD)", "CINreferralDate", df["referral_date"])
    rc.exclude(rd > ref, "referral date after the collection's reference date", "CINreferralDate", df["referral_date"])
    hit = rc.repair(cd_bad, "closure date not a date: treated as open", "CINclosureDate", df["closure_date"])
    cd = cd.where(~hit)
    hit = rc.repair(cd > ref, "closure date after the collection's reference date: treated as open",
                    "CINclosureDate", df["closure_date"])
    cd = cd.where(~hit)
    rc.exclude(cd < rd, "referral after closure: closure date before referral date", "CINclosureDate",
               lambda m: df.loc[m, "referral_date"].astype(str) + " > " + df.loc[m, "closure_date"].astype(str))
    df["referral_date"] = rd
    df["collection_year"] = df["_year"].astype(int)
    # within one collection year: keep the first copy
    alive = rc.alive
    dup = df[alive].duplicated(["child_id", "referral_date", "collection_year"], keep="first")
    dup = dup.reindex(df.index, fill_value=False)
    rc.exclude(dup, "duplicate: same child and referral date twice in one collection year", "CINreferralDate",
               lambda m: iso_day(df.loc[m, "referral_date"]))
    # across years: keep the latest collection year's record
    alive = rc.alive
    latest = df[alive].groupby(["child_id", "referral_date"])["collection_year"].transform("max")
    sup = pd.Series(False, index=df.index)
    sup[latest.index] = df.loc[latest.index, "collection_year"] < latest
    rc.exclude(sup, SUPERSEDED, "CINreferralDate",
               lambda m: "kept the copy from " + latest.reindex(df.index)[m].astype(int).astype(str))
    rc.repair(df["closure_reason"].notna() & cd.isna(),
              "closure reason without closure date: treated as open", "ReasonForClosure",
              df["closure_reason"], "closure_reason", None)
    rc.repair(df["closure_reason"].isna() & cd.notna(),
              "closure date without closure reason: kept closed, reason missing", "ReasonForClosure", "blank")
    rc.repair(code_not_in(df["referral_source"], codes.REFERRAL_SOURCES),
              "referral source not recognised: set to missing", "ReferralSource", df["referral_source"],
              "referral_source", None)
    rc.repair(code_not_in(df["primary_need"], codes.PRIMARY_NEED_CODES),
              "primary need code not recognised: set to missing", "PrimaryNeedCode", df["primary_need"],
              "primary_need", None)
    rc.repair(code_not_in(df["closure_reason"], codes.REASONS_FOR_CLOSURE),
              "closure reason not recognised: set to missing", "ReasonForClosure", df["closure_reason"],
              "closure_reason", None)
    nfa, nfa_bad = _yes_no(df["referral_nfa"])
    rc.repair(nfa_bad, "ReferralNFA not true/false: set to false", "ReferralNFA", df["referral_nfa"])
    df["referral_nfa"] = nfa
    df["closure_date"] = cd
    kept = rc.finish().copy()
    kept["referral_id"] = kept["child_id"].astype(str) + "|" + iso_day(kept["referral_date"])
    kept["source_file"] = kept["_file"].astype(str)
    kept["child_id"] = kept["child_id"].astype(str)
    return kept, rc.excluded_rule


def _all_dates_unreadable(df: pd.DataFrame, dates: pd.Series, bad: pd.Series, field: str, paths) -> None:
    """ReaderError when a file has values in a required date field but none is YYYY-MM-DD."""
    by_file = pd.DataFrame({"f": df["_file"], "ok": dates.notna(), "bad": bad}).groupby("f", sort=False).sum()
    broken = by_file[(by_file["ok"] == 0) & (by_file["bad"] > 0)]
    if len(broken):
        fname = broken.index[0]
        first = df.index[(df["_file"].eq(fname) & bad).to_numpy()][0]
        raise ReaderError(paths.get(fname, fname), f"line {df.loc[first, '_row']}, element <CINdetails>", field,
                          f"found {str(df.loc[first, field_col(field)]).strip()!r} and no date in YYYY-MM-DD form "
                          "in any CINdetails; expected dates as YYYY-MM-DD")


def field_col(field: str) -> str:
    return {"CINreferralDate": "referral_date"}[field]


def _sub_frame(d: dict, raw_files: list, table: str, ledger: Ledger, ref_dates) -> tuple[pd.DataFrame, pd.Series]:
    df = pd.DataFrame(d)
    files = pd.Series(np.asarray(raw_files, dtype=object)[df["_ref"].to_numpy(dtype=int)], index=df.index) \
        if len(df) else pd.Series([], dtype=object)
    df["_file"] = files
    df["_source"] = _sources(files, table)
    _add_reads(ledger, df["_source"])
    return df, _ref_date_col(files, ref_dates)


def _parent_rules(rc: RowChecks, df: pd.DataFrame, ref_rule: pd.Series, raw_ref_rows: list) -> None:
    parent = ref_rule.reindex(df["_ref"].to_numpy())
    parent.index = df.index
    rows = pd.Series(np.asarray(raw_ref_rows, dtype=object)[df["_ref"].to_numpy(dtype=int)] if len(df) else [],
                     index=df.index, dtype=object)
    rc.exclude_with_rules(parent.notna(), parent, "CINdetails", lambda m: "parent referral at line " + rows[m].astype(str))


def _attach_keys(kept: pd.DataFrame, ref_key: pd.DataFrame) -> pd.DataFrame:
    keys = ref_key.reindex(kept["_ref"].to_numpy())
    kept = kept.copy()
    kept["referral_id"] = keys["referral_id"].to_numpy()
    kept["child_id"] = keys["child_id"].to_numpy()
    return kept


def _required_start(rc: RowChecks, raw_text: pd.Series, ref: pd.Series, field: str, label: str) -> pd.Series:
    start, bad = parse_dates(raw_text, ISO)
    rc.exclude(start.isna() & ~bad, f"{label} missing", field, "blank")
    rc.exclude(bad, f"{label} not a date (expected YYYY-MM-DD)", field, raw_text)
    rc.exclude(start > ref, f"{label} after the collection's reference date", field, raw_text)
    return start


def _optional_date(rc: RowChecks, raw_text: pd.Series, ref: pd.Series, field: str, label: str) -> pd.Series:
    d, bad = parse_dates(raw_text, ISO)
    hit = rc.repair(bad, f"{label} not a date: set to missing", field, raw_text)
    d = d.where(~hit)
    hit = rc.repair(d > ref, f"{label} after the collection's reference date: set to missing", field, raw_text)
    return d.where(~hit)


def _assessments(raw, ledger, ref_dates, referrals, ref_rule, ref_key) -> pd.DataFrame:
    df, ref = _sub_frame(raw.ass, raw.ref["_file"], "assessments", ledger, ref_dates)
    rc = RowChecks(df, ledger)
    _parent_rules(rc, df, ref_rule, raw.ref["_row"])
    start = _required_start(rc, df["start"], ref, "AssessmentActualStartDate", "assessment start date")
    auth = _optional_date(rc, df["auth"], ref, "AssessmentAuthorisationDate", "assessment authorisation date")
    hit = rc.repair(auth < start, "assessment authorised before it started: authorisation date set to missing",
                    "AssessmentAuthorisationDate", df["auth"])
    df["assessment_start"] = start
    df["assessment_authorised"] = auth.where(~hit)
    df["factors"] = df["factors"].fillna("").astype(str)
    return _attach_keys(rc.finish(), ref_key)


def _plans(raw, ledger, ref_dates, ref_rule, ref_key) -> pd.DataFrame:
    df, ref = _sub_frame(raw.plan, raw.ref["_file"], "cin_plans", ledger, ref_dates)
    rc = RowChecks(df, ledger)
    _parent_rules(rc, df, ref_rule, raw.ref["_row"])
    start = _required_start(rc, df["start"], ref, "CINPlanStartDate", "CIN plan start date")
    end = _optional_date(rc, df["end"], ref, "CINPlanEndDate", "CIN plan end date")
    rc.exclude(end < start, "CIN plan end date before start date", "CINPlanEndDate",
               lambda m: df.loc[m, "start"].astype(str) + " > " + df.loc[m, "end"].astype(str))
    df["cin_plan_start"], df["cin_plan_end"] = start, end
    return _attach_keys(rc.finish(), ref_key)


def _s47(raw, ledger, ref_dates, ref_rule, ref_key) -> pd.DataFrame:
    df, ref = _sub_frame(raw.s47, raw.ref["_file"], "section47", ledger, ref_dates)
    rc = RowChecks(df, ledger)
    _parent_rules(rc, df, ref_rule, raw.ref["_row"])
    df["s47_start"] = _required_start(rc, df["start"], ref, "S47ActualStartDate", "section 47 start date")
    # an ICPC target date may legitimately fall after the reference date: only check it is a date
    target, bad = parse_dates(df["target"], ISO)
    hit = rc.repair(bad, "initial CPC target date not a date: set to missing", "InitialCPCtarget", df["target"])
    df["icpc_target"] = target.where(~hit)
    df["icpc_date"] = _optional_date(rc, df["icpc"], ref, "DateOfInitialCPC", "initial CPC date")
    yes, bad = _yes_no(df["notreq"])
    rc.repair(bad, "ICPCnotRequired not true/false: set to false", "ICPCnotRequired", df["notreq"])
    df["icpc_not_required"] = yes
    return _attach_keys(rc.finish(), ref_key)


def _cpp(raw, ledger, ref_dates, ref_rule, ref_key) -> pd.DataFrame:
    df, ref = _sub_frame(raw.cpp, raw.ref["_file"], "cp_plans", ledger, ref_dates)
    rc = RowChecks(df, ledger)
    _parent_rules(rc, df, ref_rule, raw.ref["_row"])
    start = _required_start(rc, df["start"], ref, "CPPstartDate", "CP plan start date")
    end = _optional_date(rc, df["end"], ref, "CPPendDate", "CP plan end date")
    rc.exclude(end < start, "CP plan end date before start date", "CPPendDate",
               lambda m: df.loc[m, "start"].astype(str) + " > " + df.loc[m, "end"].astype(str))
    df["cpp_start"], df["cpp_end"] = start, end
    for col, fld in (("init", "InitialCategoryOfAbuse"), ("latest", "LatestCategoryOfAbuse")):
        df[col] = clean_text(df[col], codes.CATEGORIES_OF_ABUSE)
        rc.repair(code_not_in(df[col], codes.CATEGORIES_OF_ABUSE),
                  "category of abuse not recognised: set to missing", fld, df[col], col, None)
    df["initial_category"], df["latest_category"] = df["init"], df["latest"]
    nprev_text = clean_text(df["nprev"], ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
    nprev = pd.to_numeric(nprev_text, errors="coerce")
    bad = nprev_text.notna() & (nprev.isna() | (nprev < 0) | (nprev % 1 != 0))
    rc.repair(bad, "number of previous CP plans not a whole number: set to missing", "NumberOfPreviousCPP",
              df["nprev"])
    df["n_previous_cpp"] = pd.array(nprev.where(~bad), dtype="Float64").round().astype("Int64") if len(df) \
        else pd.array([], dtype="Int64")
    return _attach_keys(rc.finish(), ref_key)
