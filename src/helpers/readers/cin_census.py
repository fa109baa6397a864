"""Read CIN census XML files (one or many collection years) into tidy tables.

``read_cin_census(paths)`` takes a file, a folder (every ``*.xml`` in it) or a list of either,
and returns a :class:`CINCensus` with the tables of ``docs/data_model.md`` section 2.

Parsing is streaming: ``lxml.etree.iterparse`` reports only ``CollectionDetails`` and ``Child``
end tags; each ``Child`` is read (only the elements used, filtered inside lxml) into plain Python
lists of raw text and then cleared (with the siblings before it), so memory stays flat. After
the parse every text column is factorised once (``pd.factorize``): stripping, code checks and
date parsing (``pd.to_datetime(format="%Y-%m-%d", errors="coerce")``) run on the distinct values
only, and the rules below are numpy masks; each table is built once. Personal detail is
degraded on read: date of birth to month; LAchildID and UPN values go only to
``identifiers`` (for the publish guard).

Large runs (two or more files, 256 MB or more in all, e.g. a national council's six years)
parse their files side by side, one fresh interpreter per file up to the number of CPU cores
(``CSC_READ_WORKERS`` sets the number; 1 = everything in this process); the result, the
ledger and any error are exactly those of reading the files one after another. While parsing,
each distinct code or date text is held once, however many rows repeat it.

Specification year. Each file's collection year (below) names the specification it is read
with (``helpers.readers.specs.cin_spec``; years before 2021-22 or after 2026-27 use the nearest covered
year); the ledger records it per file (``Ledger.specs()``), with how sex was coded.

Files that cannot be read at all raise one :class:`helpers.readers.ledger.ReaderError` naming file,
line/element, field and expectation: empty file, not XML / malformed XML (with the parser's
line), root element not ``<Message>``, ``Collection`` other than ``CIN``, no usable collection
year (``Header/CollectionDetails/Year``, else the year of ``ReferenceDate``).

Also refused: a ``<Child>`` or ``<CINdetails>`` element in another namespace than ``<Message>``,
and a file with no ``<Child>`` the reader recognises (never read as 0 records). Two files for
one collection year: the later ``Header/Source/DateTime`` is used (else the later modification
time) and every record of the other is excluded ("resubmission: file replaced by ...").

Row rules (ledger sources are ``"<file>:children"``, ``"<file>:referrals"``,
``"<file>:assessments"``, ``"<file>:cin_plans"``, ``"<file>:section47"``, ``"<file>:cp_plans"``;
row = line of the element). Applied in this order; a row is excluded by the first rule it fails:

children
  * LAchildID missing -> excluded (its CINdetails are excluded too)
  * sex is read from ``<Sex>`` (M/F/U, the specification from 2024-25) or ``<GenderCurrent>``
    (0/1/2/9, to 2023-24) and mapped to the analysis vocabulary M/F/U (1->M, 2->F, 0 and 9->U,
    ``helpers.readers.specs``). A value in the other year's form (e.g. ``<GenderCurrent>`` in a 2025-26
    file) -> repaired: mapped, reported; missing or no code of any year -> repaired: set to U
  * Ethnicity not a CIN code -> repaired: set to missing
  * PersonBirthDate not a date, or after the reference date -> repaired: set to missing
    (ExpectedPersonBirthDate is used when PersonBirthDate is absent: unborn children)
  * Disability code not recognised -> repaired: counted as a disability, reported
  * same LAchildID twice in one collection year -> later copy excluded
  * same LAchildID in an earlier collection year -> excluded
    ("duplicate: superseded by later collection year")
referrals (CINdetails)
  * LAchildID missing -> excluded
  * CINreferralDate missing / not YYYY-MM-DD / after the reference date -> excluded; more than
    19 years before the reference date, or more than 40 weeks before PersonBirthDate -> excluded
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
  * parent referral excluded -> excluded with the parent's rule, except a parent superseded by
    a later year's copy: a census leaves out modules that ended before its year, so the
    sub-records of every year's copy belong to the kept referral; the same module (same start
    date) in an earlier year's copy -> excluded ("duplicate: superseded by later collection
    year"), a module only in an earlier year's copy -> kept
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

import numpy as np
import pandas as pd
from lxml import etree

from helpers import codes
from helpers.readers import input_checks, specs
from helpers.readers.ledger import Ledger, ReaderError, resolve_input_files
from helpers.readers.schemas import clean_text, validate

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
    """Column lists for one run (all files), plus one block per file read."""

    def __init__(self) -> None:
        self.ch = {k: [] for k in ("child_id", "upn", "former_upn", "dob", "edob", "sex", "gender",
                                   "ethnicity", "disabilities", "_row")}
        self.ref = {k: [] for k in ("child_id", "referral_date", "referral_source", "primary_need",
                                    "closure_date", "closure_reason", "referral_nfa", "_row", "_child_row")}
        self.ass = {k: [] for k in ("_ref", "_row", "start", "auth", "factors")}
        self.plan = {k: [] for k in ("_ref", "_row", "start", "end")}
        self.s47 = {k: [] for k in ("_ref", "_row", "start", "target", "icpc", "notreq")}
        self.cpp = {k: [] for k in ("_ref", "_row", "start", "end", "init", "latest", "nprev")}
        # one (file name, collection year, children read, referrals read) per file, in read order:
        # the rows of a file are contiguous in the lists above
        self.blocks: list[tuple[str, int, int, int]] = []
        self.files: dict[str, tuple[int, pd.Timestamp]] = {}
        self.stamps: dict[str, str] = {}      # Header/Source/DateTime per file (resubmissions)
        self.paths: dict[str, Path] = {}

    def extend(self, other: "_Raw") -> None:
        """Append ``other``'s rows (files read after this run's) as if they had been read into
        these lists: its positions of children and referrals move past the rows already here."""
        n_children, n_referrals = len(self.ch["child_id"]), len(self.ref["child_id"])
        other.ref["_child_row"] = [i + n_children for i in other.ref["_child_row"]]
        for table in (other.ass, other.plan, other.s47, other.cpp):
            table["_ref"] = [i + n_referrals for i in table["_ref"]]
        for mine, theirs in ((self.ch, other.ch), (self.ref, other.ref), (self.ass, other.ass),
                             (self.plan, other.plan), (self.s47, other.s47), (self.cpp, other.cpp)):
            for key, values in theirs.items():
                mine[key].extend(values)
        self.blocks.extend(other.blocks)
        self.files.update(other.files)
        self.stamps.update(other.stamps)
        self.paths.update(other.paths)


#: Files read side by side (one process each) when a run reads at least two files and this
#: many bytes in all: a national council's six years (5 GB) parse in about half the time on
#: 2 cores. Smaller runs (a council's own returns, tests) stay in one process, which starts
#: faster. ``CSC_READ_WORKERS`` sets the number of processes (1 = one process, none started).
PARALLEL_MIN_BYTES = 256 << 20
ENV_WORKERS = "CSC_READ_WORKERS"


def _read_workers(files: list[Path], workers: int | None) -> int:
    """How many processes parse ``files`` (1 = in this process)."""
    if workers is None:
        env = os.environ.get(ENV_WORKERS, "").strip()
        if env:
            try:
                workers = int(env)
            except ValueError:
                raise ValueError(f"{ENV_WORKERS}={env!r}: expected a whole number of processes (1 = one process)") from None
        else:
            if sum(p.stat().st_size for p in files) < PARALLEL_MIN_BYTES:
                return 1
            workers = os.cpu_count() or 1
    return max(1, min(int(workers), len(files)))


def _parse_one(path: Path) -> _Raw:
    """One file into its own lists."""
    raw = _Raw()
    _parse_file(path, raw)
    return raw


def _parse_in_subprocess(path: Path, out: Path) -> _Raw:
    """``_parse_one(path)`` in a fresh interpreter (``python -m helpers.readers.cin_census``).

    A plain subprocess rather than ``multiprocessing``: nothing of the caller is re-imported or
    forked (a Jupyter kernel's threads, an analyst's script without a ``__main__`` guard). The
    lists come back pickled in a file; a :class:`ReaderError` comes back the same way and is
    raised here unchanged.
    """
    import pickle
    import subprocess
    import sys

    import helpers

    env = dict(os.environ)
    package_root = str(Path(helpers.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    done = subprocess.run([sys.executable, "-m", "helpers.readers.cin_census", str(path), str(out)],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"{path}: the process reading this file failed (exit status {done.returncode}):\n"
                           f"{done.stderr.strip()[-4000:]}")
    with out.open("rb") as handle:
        kind, value = pickle.load(handle)
    out.unlink()
    if kind == "error":
        raise value
    return value


def _parse_files(files: list[Path], workers: int | None = None) -> _Raw:
    """Every file into one set of lists, in file order, in ``workers`` processes side by side.

    The result is the same as reading the files one after another into one :class:`_Raw`
    (``_Raw.extend`` renumbers positions); a file that cannot be read raises its
    :class:`ReaderError`, the first such file in file order as in a one-process read.
    """
    raw = _Raw()
    n = _read_workers(files, workers)
    if n <= 1:
        for path in files:
            _parse_file(path, raw)
        return raw
    import concurrent.futures
    import shutil
    import tempfile

    # the lists hold children's identifiers: the temporary folder is private (mode 700) and removed
    folder = Path(tempfile.mkdtemp(prefix="csc-cin-read-"))
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
            futures = [pool.submit(_parse_in_subprocess, path, folder / f"{i}.pickle") for i, path in enumerate(files)]
            try:
                for future in futures:
                    raw.extend(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return raw


def _worker_main(argv: list[str]) -> int:
    """``python -m helpers.readers.cin_census FILE OUT``: parse FILE, pickle the lists (or its
    ReaderError) to OUT. Used by :func:`_parse_files`."""
    import pickle

    path, out = Path(argv[0]), Path(argv[1])
    try:
        result = ("raw", _parse_one(path))
    except ReaderError as exc:
        result = ("error", exc)
    tmp = out.with_suffix(".part")
    with tmp.open("wb") as handle:
        pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, out)
    return 0


#: Raw values unique to a child (not shared between rows): not pooled while parsing.
_UNIQUE_KEYS = frozenset({"child_id", "upn", "former_upn"})


def _parse_file(path: Path, raw: _Raw) -> None:
    """Stream one file into ``raw``'s lists.

    ``iterparse`` reports only ``Child`` and ``CollectionDetails`` end events (filtered in C);
    each finished ``Child`` is walked once in document order, visiting only the elements the
    reader uses (``Element.iter(*tags)``, also filtered in C). Leaf values go into the open
    record (child, referral, assessment, ...) via a tag -> (record, key) map; a record is
    appended to its lists when the next record of its level starts or the Child ends. Values
    are kept as the raw text (cleaned later, once per distinct value). Each ``Child`` is then
    cleared with the siblings before it, so memory stays flat.
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
                 ("PersonBirthDate", "dob"), ("ExpectedPersonBirthDate", "edob"), ("GenderCurrent", "gender"),
                 ("Sex", "sex"), ("Ethnicity", "ethnicity"))),
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
    sub_kind = {t_ass: "a", t_plan: "p", t_s47: "s", t_cpp: "k"}
    # every element the walk acts on; all others are skipped inside lxml
    wanted = tuple(leaf) + tuple(sub_kind) + (t_fac, t_cin, t_dis, t_icpc, "{*}CINdetails")
    disabilities: list = []
    ch_id, ch_upn, ch_fupn, ch_dob, ch_edob, ch_sex, ch_gender, ch_eth, ch_dis, ch_row = (
        ch["child_id"], ch["upn"], ch["former_upn"], ch["dob"], ch["edob"], ch["sex"], ch["gender"],
        ch["ethnicity"], ch["disabilities"], ch["_row"])
    r_child, r_rd, r_rs, r_pn, r_cd, r_rc, r_nfa, r_row, r_crow = (
        ref["child_id"], ref["referral_date"], ref["referral_source"], ref["primary_need"], ref["closure_date"],
        ref["closure_reason"], ref["referral_nfa"], ref["_row"], ref["_child_row"])
    a_ref, a_row, a_start, a_auth, a_facs = ass["_ref"], ass["_row"], ass["start"], ass["auth"], ass["factors"]
    year: int | None = None
    ref_date = None
    n_children_start = len(ch_id)
    n_refs_start = len(r_child)
    a_fac: list = []
    # every repeated raw value (codes, dates) kept once: millions of rows hold a few thousand
    # distinct texts, so the lists hold references, not copies (GBs less at national scale)
    same = {}.setdefault
    open_sub: list = [None, 0]       # kind of the open sub-record ("a", "p", "s", "k") and its line
    open_ref: list = [False, 0]      # a referral is open, and its line

    def flush_sub() -> None:
        kind, line = open_sub
        if kind is None:
            return
        i = len(r_child)               # the open referral is appended after its sub-records
        if kind == "a":
            a_ref.append(i); a_row.append(line)
            a_start.append(a_rec.get("start")); a_auth.append(a_rec.get("auth"))
            joined = ";".join([(f or "").strip() for f in a_fac])
            a_facs.append(same(joined, joined))
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

    child_id: list = [None]            # the current Child's LAchildID (raw text; cleaned later)
    # one look-up per element: (record, key) for a leaf value, (None, what) for the others
    act: dict[str, tuple] = dict(leaf)
    act.update({t: (None, k) for t, k in sub_kind.items()})
    act.update({t_fac: (None, "fac"), t_cin: (None, "cin"), t_dis: (None, "dis"), t_icpc: (None, "icpc")})
    try:
        for _, el in etree.iterparse(str(path), events=("end",), tag=("{*}Child", "{*}CollectionDetails", "{*}Source")):
            if el.tag == t_cd:
                year, ref_date = _collection(path, el, ns)
                continue
            if el.tag != t_child:
                if el.tag == ns + "Source":          # Header/Source: DateTime decides resubmissions
                    raw.stamps[fname] = (el.findtext(ns + "DateTime") or "").strip()
                    continue
                if etree.QName(el).localname == "Source":
                    continue                          # a <Source> elsewhere is not the header's
                raise _foreign(path, el, ns)
            if year is None:
                raise ReaderError(path, f"line {el.sourceline}, element <Child>", "Header/CollectionDetails/Year",
                                  "no collection year before the first <Child>; expected "
                                  "<Header><CollectionDetails><Year>YYYY</Year>")
            # walk the finished Child in document order: a container opens a record, which is
            # appended when the next container of its level (or the end of the Child) arrives
            for e in el.iter(*wanted):
                if e.tag not in act:                 # "{*}CINdetails" in another namespace
                    raise _foreign(path, e, ns)
                rec, key = act[e.tag]
                if rec is not None:
                    text = e.text
                    # codes and dates repeat: one string object per distinct value (identifiers do not)
                    rec[key] = text if key in _UNIQUE_KEYS else same(text, text)
                elif key == "fac":
                    a_fac.append(same(e.text, e.text))
                elif key == "cin":
                    if open_sub[0] is not None:
                        flush_sub()
                    if open_ref[0]:
                        flush_ref()
                    child_id[0] = c_rec.get("child_id")      # LAchildID precedes CINdetails
                    open_ref[0] = True
                    open_ref[1] = e.sourceline
                elif key == "dis":
                    disabilities.append(same(e.text, e.text))
                elif key == "icpc":
                    if open_sub[0] == "s":
                        s_rec["icpc"] = same(e.text, e.text)
                else:                                        # Assessments, CINPlanDates, Section47, CPP
                    if open_sub[0] is not None:
                        flush_sub()
                    open_sub[0] = key
                    open_sub[1] = e.sourceline
            if open_sub[0] is not None:
                flush_sub()
            if open_ref[0]:
                flush_ref()
            ch_id.append(c_rec.get("child_id"))
            ch_upn.append(c_rec.get("upn"))
            ch_fupn.append(c_rec.get("former_upn"))
            ch_dob.append(c_rec.get("dob"))
            ch_edob.append(c_rec.get("edob"))
            ch_sex.append(c_rec.get("sex"))
            ch_gender.append(c_rec.get("gender"))
            ch_eth.append(c_rec.get("ethnicity"))
            joined = ";".join([(d or "").strip() for d in disabilities]) if disabilities else ""
            ch_dis.append(same(joined, joined))
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
    if len(ch_id) == n_children_start:
        raise ReaderError(path, "element <Children>", None,
                          "the file holds no <Child> record the reader recognises; expected "
                          "<Message><Children><Child>... (check the file is a complete CIN census return)")
    raw.blocks.append((fname, year, len(ch_id) - n_children_start, len(r_child) - n_refs_start))
    raw.files[fname] = (year, ref_date)
    raw.paths[fname] = path


def _foreign(path: Path, el, ns: str) -> ReaderError:
    """A record element in another namespace than <Message>'s: its records would be lost."""
    q = etree.QName(el)
    return ReaderError(path, f"line {el.sourceline}, element <{q.localname}>", None,
                       f"in namespace {q.namespace or '(none)'!r}, not the namespace of <Message> "
                       f"({ns[1:-1] or '(none)'!r}), so its records cannot be recognised; expected every "
                       "element in the <Message> namespace: correct the xmlns attributes and re-export")


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
    validate_output : check the tidy tables against ``helpers.readers.schemas`` (post-condition).

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
    files = resolve_input_files(paths, "*.xml", what="CIN census XML files")
    raw = _parse_files(files)
    ledger = Ledger()
    fnames = list(dict.fromkeys(b[0] for b in raw.blocks))
    ref_dates = np.array([pd.Timestamp(raw.files[f][1]).as_unit("ns").asm8 for f in fnames], dtype="datetime64[ns]")
    fidx = {f: i for i, f in enumerate(fnames)}
    ctx = _Context(ledger, fnames, ref_dates, raw)
    # two files for one collection year: the later return (header DateTime) is used
    replaced = input_checks.pick_resubmissions(
        {f: (raw.files[f][0], raw.stamps.get(f), raw.paths[f]) for f in fnames})
    ctx.replaced = np.array([replaced.get(f) for f in fnames], dtype=object)

    children = _children(raw, ctx, fidx)
    ref = _referrals(raw, ctx, fidx)
    identifiers: set[str] = set()
    for col in ("child_id", "upn", "former_upn"):
        identifiers.update(raw.ch[col])
    identifiers = {v.strip() for v in identifiers if v and v.strip()}
    # each step's raw lists are let go once no later step reads them (the dicts are emptied, the
    # lists themselves are not changed): at England scale they are gigabytes of Python objects
    raw.ch.clear()
    raw.ref.clear()
    assessments = _assessments(raw, ctx, ref)
    raw.ass.clear()
    cin_plans = _plans(raw, ctx, ref)
    raw.plan.clear()
    section47 = _s47(raw, ctx, ref)
    raw.s47.clear()
    cp_plans = _cpp(raw, ctx, ref)
    raw.cpp.clear()

    # flags from the kept sub-records of kept referrals
    n_ref = len(ref.alive)
    kept = ref.kept
    referrals = ref.table
    referrals.insert(8, "n_assessments", np.bincount(assessments.pop("_ref"), minlength=n_ref)[kept].astype(int))
    for col, pos, sub in (("has_cin_plan", 9, cin_plans), ("has_s47", 10, section47), ("has_cp_plan", 11, cp_plans)):
        referrals.insert(pos, col, np.bincount(sub.pop("_ref"), minlength=n_ref)[kept] > 0)

    out = CINCensus(children=children, referrals=referrals, assessments=assessments, cin_plans=cin_plans,
                    section47=section47, cp_plans=cp_plans, ledger=ledger, identifiers=identifiers)
    if validate_output:
        validate("cin_children", out.children)
        validate("cin_referrals", out.referrals)
        validate("cin_assessments", out.assessments)
        validate("cin_plans", out.cin_plans)
        validate("cin_section47", out.section47)
        validate("cin_cp_plans", out.cp_plans)
    ledger.check_reconciles()
    return out


# ----------------------------------------------------------------------------------------
# Vectorised building blocks. Text columns are factorised once; cleaning, code checks and
# date parsing run on the distinct values only and are taken back to the rows.
# ----------------------------------------------------------------------------------------

_NAT = np.datetime64("NaT", "ns")


def _obj(values) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


class _Text:
    """A raw text column (``str`` or ``None`` per row), factorised: ``codes`` into ``uniques``
    (-1 for ``None``)."""

    def __init__(self, values) -> None:
        self.raw = values if isinstance(values, np.ndarray) else _obj(values)
        self.codes, uniques = pd.factorize(self.raw)
        self.uniques = list(uniques)

    def take(self, per_unique, fill, dtype):
        """Row values from one value per distinct text (``fill`` for ``None``)."""
        ext = np.empty(len(per_unique) + 1, dtype=dtype)
        ext[:-1] = per_unique
        ext[-1] = fill
        return ext[self.codes]

    def clean(self, allowed=()) -> "_Clean":
        """As ``schemas.clean_text``: values in ``allowed`` kept, others stripped; blank -> None."""
        return _Clean(self, [u if u in allowed else (u.strip() or None) for u in self.uniques])

    def dates(self) -> tuple[np.ndarray, np.ndarray]:
        """As ``schemas.parse_dates(..., "%Y-%m-%d")``: (datetime64[ns] per row, bad per row)."""
        u = np.asarray(self.uniques, dtype=object)
        s = pd.Series(u, dtype=object)
        s = s.where(s.ne(""), None)
        d = pd.to_datetime(s, format=ISO, errors="coerce")
        d = d.to_numpy(dtype="datetime64[ns]").copy()
        bad = np.zeros(len(u), dtype=bool)
        failed = np.flatnonzero(s.notna().to_numpy() & np.isnat(d))
        if len(failed):
            stripped = pd.Series([u[i].strip() or None for i in failed], dtype=object)
            again = pd.to_datetime(stripped, format=ISO, errors="coerce").to_numpy(dtype="datetime64[ns]")
            d[failed] = again
            bad[failed] = np.isnat(again) & stripped.notna().to_numpy()
        return self.take(d, _NAT, "datetime64[ns]"), self.take(bad, False, bool)

    def is_none(self) -> np.ndarray:
        return self.codes < 0


class _Clean:
    """A cleaned text column: cleaned value per distinct raw text."""

    def __init__(self, text: _Text, cleaned: list) -> None:
        self.text = text
        self.cleaned = cleaned

    def values(self) -> np.ndarray:
        return self.text.take(self.cleaned, None, object)

    def mask(self, fn, fill: bool) -> np.ndarray:
        """Per-row bool from ``fn(cleaned value)`` over the distinct values (``fill`` for None)."""
        return self.text.take([bool(fn(c)) for c in self.cleaned], fill, bool)

    def not_in(self, allowed) -> np.ndarray:
        """As ``schemas.code_not_in``: present but not one of ``allowed``."""
        return self.mask(lambda c: c is not None and c not in allowed, False)

    def is_none(self) -> np.ndarray:
        return self.mask(lambda c: c is None, True)


def _labels(template: str, values: np.ndarray) -> np.ndarray:
    """``template.format(v)`` per row, one string object per distinct value (ledger details that
    repeat on millions of rows, e.g. "kept the copy from 2026")."""
    if not len(values):
        return np.empty(0, dtype=object)
    distinct, inverse = np.unique(values, return_inverse=True)
    return _obj([template.format(v) for v in distinct])[inverse]


def _memo_details(fmt, *columns) -> np.ndarray:
    """``fmt(*row)`` per row, built once per distinct row (one string object shared by the
    rows that repeat it: a whole year's files in another year's sex coding repeat a handful)."""
    memo: dict = {}
    out = []
    for key in zip(*columns):
        text = memo.get(key)
        if text is None:
            text = memo[key] = fmt(*key)
        out.append(text)
    return _obj(out)


def _as_str(values: np.ndarray) -> np.ndarray:
    """``str`` of each value (as ``Series.astype(str)`` on object values), object array."""
    return _obj([str(v) for v in values])


class _Context:
    def __init__(self, ledger: Ledger, fnames: list[str], ref_dates: np.ndarray, raw: _Raw) -> None:
        self.ledger = ledger
        self.fnames = fnames
        self.ref_dates = ref_dates
        self.raw = raw
        self.replaced: np.ndarray | None = None   # per file: "replaced by ..." or None

    def sources(self, table: str) -> np.ndarray:
        return _obj([f"{f}:{table}" for f in self.fnames])


class _Rules:
    """Exclusion and repair rules over numpy masks (the semantics of ``schemas.RowChecks``).

    Rules are applied in the order they are called; each mask is restricted to rows not yet
    excluded; every hit is recorded in the ledger with source, line, rule, field and detail.
    """

    def __init__(self, ctx: _Context, table: str, file_idx: np.ndarray, rows: np.ndarray) -> None:
        self.ledger = ctx.ledger
        self.file_idx = file_idx
        self.src = ctx.sources(table)
        self.rows = rows
        n = len(rows)
        self.alive = np.ones(n, dtype=bool)
        self.rule = np.full(n, None, dtype=object)
        counts = np.bincount(file_idx, minlength=len(self.src))
        for src, c in zip(self.src, counts):
            if c:
                self.ledger.add_read(src, int(c))

    def _details(self, hit: np.ndarray, detail):
        if callable(detail):                       # built only for the rows hit
            return _as_str(detail(hit))
        if isinstance(detail, np.ndarray):
            return _as_str(detail[hit])
        return detail

    def exclude(self, mask: np.ndarray, rule: str, field: str | None, detail) -> np.ndarray:
        hit = mask & self.alive
        if hit.any():
            self.alive &= ~hit
            self.rule[hit] = rule
            self.ledger.exclude_rows(self.src[self.file_idx[hit]], self.rows[hit], rule, field,
                                     self._details(hit, detail))
        return hit

    def exclude_with_rules(self, mask: np.ndarray, rules: np.ndarray, field: str | None, detail) -> np.ndarray:
        hit = mask & self.alive
        if hit.any():
            for rule in pd.unique(rules[hit]):        # loop over distinct rules, not rows
                this = hit & (rules == rule)
                self.alive &= ~this
                self.rule[this] = rule
                self.ledger.exclude_rows(self.src[self.file_idx[this]], self.rows[this], rule, field,
                                         self._details(this, detail))
        return hit

    def repair(self, mask: np.ndarray, rule: str, field: str | None, detail) -> np.ndarray:
        hit = mask & self.alive
        if hit.any():
            self.ledger.repair_rows(self.src[self.file_idx[hit]], self.rows[hit], rule, field,
                                    self._details(hit, detail))
        return hit

    def finish(self) -> np.ndarray:
        """Record the kept rows as used (per source); return their positions."""
        counts = np.bincount(self.file_idx[self.alive], minlength=len(self.src))
        for src, c in zip(self.src, counts):
            if c:
                self.ledger.add_used(str(src), int(c))
        return np.flatnonzero(self.alive)


def _sex(ch: dict, year: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sex per child in the analysis vocabulary (M/F/U) from ``<Sex>`` or ``<GenderCurrent>``.

    Returns (values, in another year's form, not a code). The form expected is the file's
    specification year's (``specs.cin_spec``): ``<GenderCurrent>`` 0/1/2/9 to 2023-24,
    ``<Sex>`` M/F/U from 2024-25. A value in the other form (element or codes) is mapped and
    reported; a value that is no code of any year is set to U and reported.
    """
    n = len(year)
    sex_t, gen_t = _Text(ch["sex"]), _Text(ch["gender"])
    sex_v = sex_t.take([specs.sex_to_analysis(u) for u in sex_t.uniques], None, object)
    gen_v = gen_t.take([specs.sex_to_analysis(u) for u in gen_t.uniques], None, object)
    sex_new = sex_t.take([str(u).strip().upper() in specs.SEX_CODES for u in sex_t.uniques], False, bool)
    gen_old = gen_t.take([str(u).strip() in specs.CIN_GENDER_OLD for u in gen_t.uniques], False, bool)
    has_sex = ~sex_t.is_none()
    value = np.where(has_sex, sex_v, gen_v) if n else np.empty(0, dtype=object)
    bad = np.equal(value, None)
    new_year = year >= specs.SEX_MFU_FROM
    in_form = np.where(new_year, has_sex & sex_new, ~has_sex & gen_old)
    wrong_form = ~bad & ~in_form
    value = value.astype(object)
    value[bad] = None
    return value, wrong_form, bad


def _note_specs(ctx: "_Context", file_idx: np.ndarray, ch: dict) -> None:
    """Record in the ledger the specification year recognised for each file, with how sex is coded."""
    has_sex = ~_Text(ch["sex"]).is_none()
    has_gen = ~_Text(ch["gender"]).is_none()
    n_sex = np.bincount(file_idx[has_sex], minlength=len(ctx.fnames))
    n_gen = np.bincount(file_idx[has_gen], minlength=len(ctx.fnames))
    for i, fname in enumerate(ctx.fnames):
        year = int(ctx.raw.files[fname][0])
        spec = specs.spec_year(year)
        expected = "Sex" if spec >= specs.SEX_MFU_FROM else "GenderCurrent"
        parts = [f"{specs.year_label(spec)} CIN census specification"
                 + (" (draft)" if spec in specs.DRAFT_YEARS else "")]
        if spec != year:
            parts.append(f"collection year {specs.year_label(year)} is outside the years covered: read with "
                         f"the nearest ({specs.year_label(spec)})")
        found = [f"<{e}> x{int(c[i])}" for e, c in (("Sex", n_sex), ("GenderCurrent", n_gen)) if c[i]]
        other = n_gen[i] if expected == "Sex" else n_sex[i]
        if other:
            parts.append(f"sex expected as <{expected}>; found " + ", ".join(found) + " (mapped, see repairs)")
        ctx.ledger.note_spec(fname, "CIN census", year, spec, "; ".join(parts))


def _block_arrays(raw: _Raw, fidx: dict, which: int) -> tuple[np.ndarray, np.ndarray]:
    """(file index, collection year) per row of children (which=2) or referrals (which=3)."""
    counts = [b[which] for b in raw.blocks]
    return (np.repeat(np.array([fidx[b[0]] for b in raw.blocks], dtype=np.intp), counts),
            np.repeat(np.array([b[1] for b in raw.blocks], dtype=np.int64), counts))


def _yes_no(text: _Text) -> tuple[np.ndarray, np.ndarray]:
    """(bool values, invalid mask) for CIN yes/no fields (true/false/TRUE/FALSE/1/0)."""
    t = text.clean(codes.YES_VALUES | codes.NO_VALUES)
    yes = t.mask(lambda c: c in codes.YES_VALUES, False)
    no = t.mask(lambda c: c in codes.NO_VALUES, False)
    return yes, ~yes & ~no


def _latest_year(keys: list[np.ndarray], year: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Per row: the latest collection year among alive rows with the same keys (alive rows only)."""
    latest = np.zeros(len(year), dtype=np.int64)
    if alive.any():
        sub = pd.DataFrame({f"k{i}": k[alive] for i, k in enumerate(keys)})
        latest[alive] = pd.Series(year[alive]).groupby([sub[c] for c in sub.columns], sort=False).transform("max")
    return latest


def _children(raw: _Raw, ctx: _Context, fidx: dict) -> pd.DataFrame:
    ch = raw.ch
    file_idx, year = _block_arrays(raw, fidx, 2)
    rc = _Rules(ctx, "children", file_idx, np.asarray(ch["_row"], dtype=np.int64))
    _replaced_files(rc, ctx, file_idx)
    cid_t = _Text(ch["child_id"]).clean(())
    cid = cid_t.values()
    sex, sex_wrong_form, sex_bad = _sex(ch, year)
    _note_specs(ctx, file_idx, ch)
    eth_c = _Text(ch["ethnicity"]).clean(codes.ETHNICITY_CODES)
    eth = eth_c.values()
    dob_t = _Text(ch["dob"])
    dob, dob_bad = dob_t.dates()
    edob, _ = _Text(ch["edob"]).dates()
    ref = ctx.ref_dates[file_idx]
    missing = cid_t.is_none()
    rc.exclude(missing, "LAchildID missing", "LAchildID", "blank")
    # child codes: one per cleaned id (None -> -1)
    cid_code, _ = pd.factorize(cid)
    dup = pd.DataFrame({"c": cid_code, "y": year}).duplicated(keep="first").to_numpy() & ~missing
    rc.exclude(dup, "duplicate: same child twice in one collection year", "LAchildID", year)
    alive = rc.alive.copy()
    latest = _latest_year([cid_code], year, alive)
    superseded = alive & (year < latest)
    rc.exclude(superseded, SUPERSEDED, "LAchildID", lambda m: _labels("later year: {}", latest[m]))
    sex_field = _obj(["Sex" if y >= specs.SEX_MFU_FROM else "GenderCurrent" for y in year])
    raw_sex = _obj([s if s is not None else g for s, g in zip(ch["sex"], ch["gender"])])
    rc.repair(sex_wrong_form, "sex in another year's form (GenderCurrent 0/1/2/9 to 2023-24, Sex M/F/U "
              "from 2024-25): mapped to M/F/U", "Sex",
              lambda m: _memo_details(lambda f, y, v: f"{f} expected in {specs.year_label(int(y))}; found {v!r}",
                                      sex_field[m], year[m], raw_sex[m]))
    hit = rc.repair(sex_bad, "sex missing or not a code: set to U (not recorded)", "Sex",
                    lambda m: _obj([repr(v) if v is not None else "blank" for v in raw_sex[m]]))
    sex[hit] = "U"
    hit = rc.repair(eth_c.not_in(codes.ETHNICITY_CODES),
                    "ethnicity code not recognised: set to missing", "Ethnicity", eth)
    eth[hit] = None
    rc.repair(dob_bad, "birth date not a date: set to missing", "PersonBirthDate", dob_t.raw)
    late = ~np.isnat(dob) & (dob > ref)
    rc.repair(late, "birth date after the collection's reference date: set to missing", "PersonBirthDate", dob_t.raw)
    dob[late] = _NAT
    dob = np.where(np.isnat(dob), edob, dob)
    dis_t = _Text(ch["disabilities"])
    unknown = dis_t.take([any(c != "" and c not in codes.DISABILITY_CODES for c in u.split(";"))
                          for u in dis_t.uniques], False, bool)
    rc.repair(unknown, "disability code not recognised: counted as a disability", "Disability", dis_t.raw)
    disability = dis_t.take([u != "" and u != "NONE" for u in dis_t.uniques], False, bool)
    keep = rc.finish()
    birth_month = dob[keep].astype("datetime64[M]").astype("datetime64[ns]")
    return pd.DataFrame({
        "child_id": _obj([str(v) for v in cid[keep]]),
        "sex": _obj([str(v) for v in sex[keep]]),
        "birth_month": birth_month,
        "ethnicity": eth[keep],
        "disability": disability[keep],
        "collection_year": year[keep].astype(int),
    })


class _Referrals:
    """Kept referrals plus what the sub-record tables need from every raw referral."""

    def __init__(self, table, kept, alive, rule, file_idx, rows, ref_id, child_id, target=None, year=None) -> None:
        self.table, self.kept, self.alive, self.rule = table, kept, alive, rule
        self.file_idx, self.rows, self.ref_id, self.child_id = file_idx, rows, ref_id, child_id
        # per raw referral: the raw index of the kept referral it is a copy of (itself when kept,
        # the later year's copy when superseded, -1 when excluded for another reason)
        self.target = np.where(np.equal(rule, None), np.arange(len(rule)), -1) if target is None else target
        self.year = year


def _referrals(raw: _Raw, ctx: _Context, fidx: dict) -> _Referrals:
    """Kept referrals, with the exclusion rule of every raw referral (None when kept)."""
    r = raw.ref
    file_idx, year = _block_arrays(raw, fidx, 3)
    rows = np.asarray(r["_row"], dtype=np.int64)
    rc = _Rules(ctx, "referrals", file_idx, rows)
    _replaced_files(rc, ctx, file_idx)
    cid_c = _Text(r["child_id"]).clean(())
    cid = cid_c.values()
    src_c = _Text(r["referral_source"]).clean(codes.REFERRAL_SOURCES)
    src = src_c.values()
    need_c = _Text(r["primary_need"]).clean(codes.PRIMARY_NEED_CODES)
    need = need_c.values()
    reason = _Text(r["closure_reason"]).clean(codes.REASONS_FOR_CLOSURE).values()
    ref = ctx.ref_dates[file_idx]
    rd_t, cd_t = _Text(r["referral_date"]), _Text(r["closure_date"])
    rd, rd_bad = rd_t.dates()
    cd, cd_bad = cd_t.dates()
    _all_dates_unreadable(ctx, file_idx, rows, rd_t.raw, rd, rd_bad, "CINreferralDate")
    child_lines = np.asarray(raw.ch["_row"], dtype=np.int64)
    child_row = np.asarray(r["_child_row"], dtype=np.intp)
    rc.exclude(cid_c.is_none(), "LAchildID missing", "LAchildID",
               lambda m: _obj([f"child at line {v}" for v in child_lines[child_row[m]]]))
    rd_nat = np.isnat(rd)
    rc.exclude(rd_nat & ~rd_bad, "referral date missing", "CINreferralDate", "blank")
    rc.exclude(rd_bad, "referral date not a date (expected YYYY-MM-DD)", "CINreferralDate", rd_t.raw)
    rc.exclude(rd > ref, "referral date after the collection's reference date", "CINreferralDate", rd_t.raw)
    _impossible_referral_dates(rc, raw, rd, rd_t, ref, child_row)
    hit = rc.repair(cd_bad, "closure date not a date: treated as open", "CINclosureDate", cd_t.raw)
    cd[hit] = _NAT
    hit = rc.repair(cd > ref, "closure date after the collection's reference date: treated as open",
                    "CINclosureDate", cd_t.raw)
    cd[hit] = _NAT
    rc.exclude(cd < rd, "referral after closure: closure date before referral date", "CINclosureDate",
               lambda m: _obj([f"{a} > {b}" for a, b in zip(rd_t.raw[m], cd_t.raw[m])]))
    # within one collection year: keep the first copy
    cid_code, _ = pd.factorize(cid)
    rd_i8 = rd.view(np.int64)
    alive = rc.alive.copy()
    dup = np.zeros(len(rows), dtype=bool)
    if alive.any():
        dup[alive] = pd.DataFrame({"c": cid_code[alive], "d": rd_i8[alive], "y": year[alive]}).duplicated(
            keep="first").to_numpy()
    rc.exclude(dup, "duplicate: same child and referral date twice in one collection year", "CINreferralDate",
               lambda m: np.datetime_as_string(rd[m], unit="D"))
    # across years: keep the latest collection year's record
    alive = rc.alive.copy()
    latest = _latest_year([cid_code, rd_i8], year, alive)
    superseded = rc.exclude(alive & (year < latest), SUPERSEDED, "CINreferralDate",
                            lambda m: _labels("kept the copy from {}", latest[m]))
    cd_nat = np.isnat(cd)
    reason_none = np.equal(reason, None)
    hit = rc.repair(~reason_none & cd_nat, "closure reason without closure date: treated as open",
                    "ReasonForClosure", reason)
    reason[hit] = None
    reason_none = np.equal(reason, None)
    rc.repair(reason_none & ~cd_nat, "closure date without closure reason: kept closed, reason missing",
              "ReasonForClosure", "blank")
    hit = rc.repair(src_c.not_in(codes.REFERRAL_SOURCES), "referral source not recognised: set to missing",
                    "ReferralSource", src)
    src[hit] = None
    hit = rc.repair(need_c.not_in(codes.PRIMARY_NEED_CODES), "primary need code not recognised: set to missing",
                    "PrimaryNeedCode", need)
    need[hit] = None
    bad_reason = ~np.equal(reason, None) & ~np.isin(reason, list(codes.REASONS_FOR_CLOSURE))
    hit = rc.repair(bad_reason, "closure reason not recognised: set to missing", "ReasonForClosure", reason)
    reason[hit] = None
    nfa_t = _Text(r["referral_nfa"])
    nfa, nfa_bad = _yes_no(nfa_t)
    rc.repair(nfa_bad, "ReferralNFA not true/false: set to false", "ReferralNFA", nfa_t.raw)
    keep = rc.finish()
    child_id = _obj([str(v) for v in cid[keep]])
    days = np.datetime_as_string(rd[keep], unit="D")
    referral_id = _obj([f"{c}|{d}" for c, d in zip(child_id, days)])
    table = pd.DataFrame({
        "referral_id": referral_id, "child_id": child_id, "referral_date": rd[keep],
        "referral_source": src[keep], "primary_need": need[keep], "closure_date": cd[keep],
        "closure_reason": reason[keep], "referral_nfa": nfa[keep], "collection_year": year[keep].astype(int),
        "source_file": _obj([ctx.fnames[i] for i in file_idx[keep]]),
    })
    full_id = np.full(len(rows), None, dtype=object)
    full_child = np.full(len(rows), None, dtype=object)
    full_id[keep] = referral_id
    full_child[keep] = child_id
    # superseded copies point at the kept copy (same child and referral date): a later year's
    # file leaves out modules that ended before its census year, so sub-records are taken from
    # every year's copy (de-duplicated in _sub_rules)
    target = np.full(len(rows), -1, dtype=np.intp)
    target[keep] = keep
    if superseded.any():
        kept_key = pd.Series(keep, index=pd.MultiIndex.from_arrays([cid_code[keep], rd_i8[keep]]))
        sup = np.flatnonzero(superseded)
        found = kept_key.reindex(pd.MultiIndex.from_arrays([cid_code[sup], rd_i8[sup]]))
        ok = found.notna().to_numpy()
        target[sup[ok]] = found.to_numpy()[ok].astype(np.intp)
        full_id[sup[ok]] = full_id[target[sup[ok]]]
        full_child[sup[ok]] = full_child[target[sup[ok]]]
    return _Referrals(table, keep, rc.alive, rc.rule, file_idx, rows, full_id, full_child, target, year)


def _impossible_referral_dates(rc: "_Rules", raw: "_Raw", rd, rd_t, ref, child_row) -> None:
    """Exclude referral dates no child's record can have (helpers.readers.input_checks)."""
    rc.exclude(rd < input_checks.earliest_plausible(ref),
               f"referral date implausibly early (more than {input_checks.MAX_RECORD_AGE_YEARS} years before "
               "the collection's reference date)", "CINreferralDate", rd_t.raw)
    if len(child_row):
        dob, _ = _Text(raw.ch["dob"]).dates()
        birth = dob[child_row]
        early = ~np.isnat(birth) & (rd < birth - np.timedelta64(input_checks.PRE_BIRTH_DAYS, "D"))
        rc.exclude(early, "referral date before the child's birth (more than 40 weeks before PersonBirthDate)",
                   "CINreferralDate", lambda m: _obj([f"{a} < birth {b}" for a, b in zip(
                       rd_t.raw[m], np.datetime_as_string(birth[m], unit="D"))]))


def _replaced_files(rc: "_Rules", ctx: "_Context", file_idx: np.ndarray) -> None:
    """Exclude every record of a file replaced by a resubmission (rule names the file used)."""
    if ctx.replaced is not None and len(file_idx) and np.not_equal(ctx.replaced, None).any():
        hit = np.not_equal(ctx.replaced[file_idx], None)
        rc.exclude(hit, input_checks.RESUBMITTED_RULE, None, lambda m: ctx.replaced[file_idx[m]])


def _all_dates_unreadable(ctx: _Context, file_idx, rows, text, dates, bad, field: str) -> None:
    """ReaderError when a file has values in a required date field but none is YYYY-MM-DD."""
    ok = np.bincount(file_idx[~np.isnat(dates)], minlength=len(ctx.fnames))
    n_bad = np.bincount(file_idx[bad], minlength=len(ctx.fnames))
    broken = [i for i in pd.unique(file_idx) if ok[i] == 0 and n_bad[i] > 0]
    if broken:
        fname = ctx.fnames[broken[0]]
        first = np.flatnonzero((file_idx == broken[0]) & bad)[0]
        raise ReaderError(ctx.raw.paths.get(fname, fname), f"line {rows[first]}, element <CINdetails>", field,
                          f"found {str(text[first]).strip()!r} and no date in YYYY-MM-DD form "
                          "in any CINdetails; expected dates as YYYY-MM-DD")


def _sub_rules(d: dict, table: str, ctx: _Context, ref: _Referrals) -> tuple[_Rules, np.ndarray, np.ndarray]:
    """Rules for a sub-record table, with the parent-referral rule applied first."""
    parent = np.asarray(d["_ref"], dtype=np.intp)
    file_idx = ref.file_idx[parent]
    rc = _Rules(ctx, table, file_idx, np.asarray(d["_row"], dtype=np.int64))
    rules = ref.rule[parent]
    rc.exclude_with_rules(ref.target[parent] < 0, rules, "CINdetails",
                          lambda m: _obj([f"parent referral at line {v}" for v in ref.rows[parent[m]]]))
    return rc, parent, ctx.ref_dates[file_idx]


def _across_years(rc: _Rules, parent: np.ndarray, start: np.ndarray, ref: _Referrals) -> np.ndarray:
    """Sub-records of one referral from several years' files: the same start date in an earlier
    year's copy is excluded (superseded); a module only in an earlier year (a later census leaves
    out modules that ended before its year) is kept. Returns the kept referral's raw index."""
    target = np.where(ref.target[parent] >= 0, ref.target[parent], parent)
    if ref.year is not None and rc.alive.any():
        year = ref.year[parent]
        alive = rc.alive
        key = pd.DataFrame({"t": target[alive], "d": start[alive].view(np.int64)})
        latest = np.zeros(len(parent), dtype=np.int64)
        latest[alive] = pd.Series(year[alive]).groupby([key["t"], key["d"]], sort=False).transform("max").to_numpy()
        rc.exclude(alive & (year < latest), SUPERSEDED, "CINdetails",
                   lambda m: _labels("kept the copy from {}", latest[m]))
    return target


def _keys(keep: np.ndarray, parent: np.ndarray, ref: _Referrals) -> dict:
    p = parent[keep]
    return {"referral_id": ref.ref_id[p], "child_id": ref.child_id[p]}


def _required_start(rc: _Rules, text: _Text, ref: np.ndarray, field: str, label: str) -> np.ndarray:
    start, bad = text.dates()
    rc.exclude(np.isnat(start) & ~bad, f"{label} missing", field, "blank")
    rc.exclude(bad, f"{label} not a date (expected YYYY-MM-DD)", field, text.raw)
    rc.exclude(start > ref, f"{label} after the collection's reference date", field, text.raw)
    rc.exclude(start < input_checks.earliest_plausible(ref), f"{label} implausibly early (more than "
               f"{input_checks.MAX_RECORD_AGE_YEARS} years before the collection's reference date)", field, text.raw)
    return start


def _optional_date(rc: _Rules, text: _Text, ref: np.ndarray, field: str, label: str) -> np.ndarray:
    d, bad = text.dates()
    hit = rc.repair(bad, f"{label} not a date: set to missing", field, text.raw)
    d[hit] = _NAT
    hit = rc.repair(d > ref, f"{label} after the collection's reference date: set to missing", field, text.raw)
    d[hit] = _NAT
    return d


def _assessments(raw: _Raw, ctx: _Context, ref: _Referrals) -> pd.DataFrame:
    d = raw.ass
    rc, parent, refd = _sub_rules(d, "assessments", ctx, ref)
    start = _required_start(rc, _Text(d["start"]), refd, "AssessmentActualStartDate", "assessment start date")
    auth_t = _Text(d["auth"])
    auth = _optional_date(rc, auth_t, refd, "AssessmentAuthorisationDate", "assessment authorisation date")
    hit = rc.repair(auth < start, "assessment authorised before it started: authorisation date set to missing",
                    "AssessmentAuthorisationDate", auth_t.raw)
    auth[hit] = _NAT
    target = _across_years(rc, parent, start, ref)
    keep = rc.finish()
    factors = _obj(d["factors"])[keep] if len(keep) else np.empty(0, dtype=object)
    return pd.DataFrame({**_keys(keep, target, ref), "assessment_start": start[keep],
                         "assessment_authorised": auth[keep], "factors": factors, "_ref": target[keep]})


def _plan_dates(rc, d: dict, refd, start_field: str, end_field: str, label: str):
    """A plan's required start date and optional end date, excluding plans that end before they start."""
    start_t, end_t = _Text(d["start"]), _Text(d["end"])
    start = _required_start(rc, start_t, refd, start_field, f"{label} start date")
    end = _optional_date(rc, end_t, refd, end_field, f"{label} end date")
    rc.exclude(end < start, f"{label} end date before start date", end_field,
               lambda m: _obj([f"{a} > {b}" for a, b in zip(start_t.raw[m], end_t.raw[m])]))
    return start, end


def _plans(raw: _Raw, ctx: _Context, ref: _Referrals) -> pd.DataFrame:
    d = raw.plan
    rc, parent, refd = _sub_rules(d, "cin_plans", ctx, ref)
    start, end = _plan_dates(rc, d, refd, "CINPlanStartDate", "CINPlanEndDate", "CIN plan")
    target = _across_years(rc, parent, start, ref)
    keep = rc.finish()
    return pd.DataFrame({**_keys(keep, target, ref), "cin_plan_start": start[keep], "cin_plan_end": end[keep],
                         "_ref": target[keep]})


def _s47(raw: _Raw, ctx: _Context, ref: _Referrals) -> pd.DataFrame:
    d = raw.s47
    rc, parent, refd = _sub_rules(d, "section47", ctx, ref)
    start = _required_start(rc, _Text(d["start"]), refd, "S47ActualStartDate", "section 47 start date")
    # an ICPC target date may legitimately fall after the reference date: only check it is a date
    target_t = _Text(d["target"])
    target, bad = target_t.dates()
    hit = rc.repair(bad, "initial CPC target date not a date: set to missing", "InitialCPCtarget", target_t.raw)
    target[hit] = _NAT
    icpc = _optional_date(rc, _Text(d["icpc"]), refd, "DateOfInitialCPC", "initial CPC date")
    notreq_t = _Text(d["notreq"])
    yes, bad = _yes_no(notreq_t)
    rc.repair(bad, "ICPCnotRequired not true/false: set to false", "ICPCnotRequired", notreq_t.raw)
    to = _across_years(rc, parent, start, ref)
    keep = rc.finish()
    return pd.DataFrame({**_keys(keep, to, ref), "s47_start": start[keep], "icpc_target": target[keep],
                         "icpc_date": icpc[keep], "icpc_not_required": yes[keep], "_ref": to[keep]})


def _cpp(raw: _Raw, ctx: _Context, ref: _Referrals) -> pd.DataFrame:
    d = raw.cpp
    rc, parent, refd = _sub_rules(d, "cp_plans", ctx, ref)
    start, end = _plan_dates(rc, d, refd, "CPPstartDate", "CPPendDate", "CP plan")
    cats = {}
    for col, fld in (("init", "InitialCategoryOfAbuse"), ("latest", "LatestCategoryOfAbuse")):
        c = _Text(d[col]).clean(codes.CATEGORIES_OF_ABUSE)
        values = c.values()
        hit = rc.repair(c.not_in(codes.CATEGORIES_OF_ABUSE), "category of abuse not recognised: set to missing",
                        fld, values)
        values[hit] = None
        cats[col] = values
    # NumberOfPreviousCPP: a whole number >= 0 (small column: the schemas helpers as before)
    nprev_raw = pd.Series(_obj(d["nprev"]), dtype=object)
    nprev_text = clean_text(nprev_raw, ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
    nprev = pd.to_numeric(nprev_text, errors="coerce")
    bad = (nprev_text.notna() & (nprev.isna() | (nprev < 0) | (nprev % 1 != 0))).to_numpy(dtype=bool)
    rc.repair(bad, "number of previous CP plans not a whole number: set to missing", "NumberOfPreviousCPP",
              nprev_raw.to_numpy())
    n_prev = pd.array(nprev.where(~bad), dtype="Float64").round().astype("Int64") if len(nprev) \
        else pd.array([], dtype="Int64")
    to = _across_years(rc, parent, start, ref)
    keep = rc.finish()
    return pd.DataFrame({**_keys(keep, to, ref), "cpp_start": start[keep], "cpp_end": end[keep],
                         "initial_category": cats["init"][keep], "latest_category": cats["latest"][keep],
                         "n_previous_cpp": n_prev[keep], "_ref": to[keep]})


if __name__ == "__main__":
    import sys

    # the module's own names (not this __main__ copy's), so the pickled lists load in the caller
    from helpers.readers.cin_census import _worker_main as main

    sys.exit(main(sys.argv[1:]))
