"""The demo council's Ofsted Annex A workbook (Lists 3, 6, 7 and 8), consistent with its CIN
census and SSDA903 files: the same children (``LAchildID`` = 903 ``CHILD``), the same referral,
plan and placement dates, as at the demo's extract date.

* **List 3** referrals: Ofsted asks for the last six months; the demo council, which runs the
  monthly reports, extracts from 1 April of the current collection year when that is earlier (so
  the list joins up with the latest CIN census return). "Number of Referrals in Last 12 Months"
  counts the child's referrals in the 12 calendar months up to and including this one; about 3%
  of rows disagree by one (recording problems the report's data-quality appendix counts).
* **List 6** every open case: children with an open CIN episode (case status from the open plan or care)
  and every looked-after child, **List 7**
  open child protection plans, **List 8** children looked after on the extract date.
* **Teams**: children in need and child protection cases are allocated to four area safeguarding
  teams by home ward, looked-after children to two children-in-care teams, NFA referrals to the
  front door; a small disabled children's team holds a few cases (the report suppresses it).
  Allocated workers are fictional names (the reports never publish them).
* **Variants** as in real files: categories mostly in Ofsted's ``a) Male`` form, some bare
  (``Male``), coded (``M``, ``N1``, ``U4``) or numbered (``1 - Male``); dates mostly real Excel
  dates, some ``dd/mm/yyyy`` text; List 8's headings as in the LIIA sample template (``Age``, a
  stray ``)``, curly quotes); a title row above List 3's headings; a blank row in each list.
"""

from __future__ import annotations

import datetime as dt
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .cin import EPOCH

# Ofsted labels (letter, label) of the categories the demo writes; keys are the DfE codes.
_SEX = {"1": ("a", "Male", "M", "1"), "2": ("b", "Female", "F", "2"), "0": ("c", "Not stated/recorded", "U", "0"),
        "9": ("c", "Not stated/recorded", "U", "9")}
_ETHNIC = {"W": ("a", "White"), "M": ("b", "Mixed"), "A": ("c", "Asian or Asian British"), "B": ("d", "Black or Black British"),
           "C": ("e", "Other ethnic group"), "O": ("e", "Other ethnic group"), "R": ("f", "Not stated"), "N": ("f", "Not stated")}
_SOURCE = {"1": ("a", "Individual"), "2A": ("b", "Schools"), "2B": ("c", "Education services"), "3": ("d", "Health services"),
           "4": ("e", "Housing"), "5": ("f", "LA services"), "6": ("g", "Police"), "7": ("h", "Other legal agency"),
           "8": ("i", "Other"), "9": ("j", "Anonymous"), "10": ("k", "Unknown")}
_NEED = {"N1": ("a", "Abuse or neglect"), "N2": ("b", "Child's disability"), "N3": ("c", "Parents illness or disability"),
         "N4": ("d", "Family in acute stress"), "N5": ("e", "Family dysfunction"), "N6": ("f", "Socially unacceptable behaviour"),
         "N7": ("g", "Low income"), "N8": ("h", "Absent parenting"), "N9": ("i", "Not CIN"), "N0": ("j", "Not stated")}
_ABUSE = {"NEG": ("a", "Neglect"), "PHY": ("b", "Physical Abuse"), "SAB": ("c", "Sexual Abuse"), "EMO": ("d", "Emotional Abuse"),
          "MUL": ("e", "Multiple")}
_PLACE = {"U": ("a", "Foster placement"), "A": ("b", "Placed for adoption"), "P1": ("c", "Placed with parents"),
          "P2": ("d", "Independent living"), "H5": ("d", "Independent living"), "K3": ("d", "Independent living"),
          "R1": ("f", "Residential accommodation"), "K1": ("g", "Secure children's homes"), "K2": ("h", "Children's homes"),
          "R2": ("i", "Residential care home"), "R3": ("j", "NHS/Health Trust"), "R5": ("k", "Family centre or mother and baby unit"),
          "S1": ("m", "Residential school"), "Z1": ("n", "Other placements")}
_PROVIDER = {"PR1": ("a", "Own LA"), "PR4": ("b", "Private"), "PR5": ("c", "Other"), "PR0": ("c", "Other"), "PR2": ("c", "Other"),
             "PR3": ("c", "Other")}
_LEGAL = {"C1": "a) Interim care orders (C1)", "C2": "b) Full care orders (C2)", "D1": "c) Freed for adoption (D1)",
          "E1": "d) Placement order granted (E1)", "V2": "e) Accommodated under S20 (V2)", "V3": "e) Accommodated under S20 (V3/V4)",
          "V4": "e) Accommodated under S20 (V3/V4)", "L1": "f) Detained on child protection grounds in LA accommodation (L1)",
          "L2": "f) Emergency protection order (L2)", "L3": "f) Under police protection (L3)", "J1": "g) Youth justice legal status (J1)",
          "J2": "g) Youth justice legal status (J2)", "J3": "g) Youth justice legal status (J3)"}
_AREAS = ("North", "East", "South", "West")
_FIRST = ("Alex", "Sam", "Jordan", "Morgan", "Riley", "Casey", "Jamie", "Taylor", "Robin", "Charlie", "Frankie", "Hayden",
          "Kit", "Lee", "Nico", "Parker", "Quinn", "Reese", "Rowan", "Sasha")
_LAST = ("Ashdown", "Brightwell", "Coldharbour", "Dunmere", "Elmstead", "Fairholme", "Greystoke", "Hollins", "Ivybridge",
         "Kestrel", "Larkhill", "Marston", "Northcote", "Oakridge", "Pendle", "Redmire", "Stanwick", "Thornbury")

COMMON_HEADINGS = ["Child Unique ID", "Gender", "Ethnicity", "Date of Birth", "Age of Child (Years)"]
LIST3 = COMMON_HEADINGS + ["Date of referral", "Referral Source", "Referral NFA?", "Number of Referrals in Last 12 Months",
                           "Allocated Team", "Allocated Worker"]
LIST6 = COMMON_HEADINGS + ["Does the Child have a Disability", "CIN Start Date", "Primary Need Code", "Date Child Was Last Seen",
                           "CIN Closure Date", "Reason for Closure", "Case Status", "Allocated Team", "Allocated Worker"]
LIST7 = COMMON_HEADINGS + ["Does the Child have a Disability", "Child Protection Plan Start Date", "Initial Category of Abuse",
                           "Latest Category of Abuse", "Date of the Last Statutory Visit", "Was the Child Seen Alone?",
                           "Date of latest review conference", "Child Protection Plan End Date",
                           "Subject to Emergency Protection Order or Protected Under Police Powers in Last Six Months (Y/N)",
                           "Number of Previous Child Protection Plans", "Allocated Team", "Allocated Worker"]
LIST8 = ["Child Unique ID", "Gender", "Ethnicity", "Date of Birth", "Age",
         "Unaccompanied Asylum Seeking Child (UASC) within the Last 12 Months (Y/N))", "Does the Child have a Disability",
         "Date Started to be Looked After", "Child's Category of Need",
         "Is this a second or subsequent period of being a Looked After Child within the last 12 months (Y/N)",
         "Start date of current legal status", "Child's Legal Status", "Date of Latest Statutory Review",
         "Date of Last Social Work Visit", "What is the permanence plan for this child?", "Number of Placements in the Last 12 months",
         "Date Ceased to be Looked After", "Reason Ceased to be Looked After", "Start Date of Most Recent Placement",
         "Placement Type", "Placement Provider", "Placement postcode", "URN of Placement", "Placement Location", "LA of Placement",
         "Number of Episodes the Child has been \u2018Missing\u2019 from their Placement in the last 12 months",
         "Number of Episodes the Child has been \u2018Absent\u2019 from their Placement in the last 12 months",
         "Allocated Team", "Allocated Worker"]

#: Largest ``scale`` for which the demo writes a workbook (a county; an England-sized Annex A is not a thing).
MAX_SCALE = 10.0
#: Share of category cells written bare, as a code, and numbered (the rest in Ofsted's "a) ..." form).
STYLE_SHARES = (0.75, 0.12, 0.08, 0.05)
TEXT_DATE_SHARE = 0.1          # date cells written as dd/mm/yyyy text instead of Excel dates
COUNT_DISAGREEMENT_SHARE = 0.03


def _date(day: float) -> dt.datetime | None:
    return None if day is None or np.isnan(day) else (EPOCH + np.timedelta64(int(day), "D")).astype(dt.datetime)


class _Writer:
    """Cell values in the variant styles, drawn from one random generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def style(self, n: int) -> np.ndarray:
        return self.rng.choice(4, size=n, p=np.array(STYLE_SHARES))

    def cat(self, letter: str, label: str, code: str, style: int, number: str | None = None) -> str:
        if style == 1:
            return label
        if style == 2:
            return code
        if style == 3 and number is not None:
            return f"{number} - {label}"
        return f"{letter}) {label}"

    def dates(self, days: np.ndarray) -> list:
        text = self.rng.uniform(size=len(days)) < TEXT_DATE_SHARE
        out = []
        for d, t in zip(days, text):
            v = _date(d)
            out.append(v.strftime("%d/%m/%Y") if (v is not None and t) else v)
        return out


def _sex(w: _Writer, sex: np.ndarray) -> list[str]:
    st = w.style(len(sex))
    return [w.cat(*_SEX.get(s, _SEX["0"])[:3], style=int(k), number=_SEX.get(s, _SEX["0"])[3]) for s, k in zip(sex, st)]


def _ethnic(w: _Writer, eth: np.ndarray) -> list[str]:
    st = w.style(len(eth))
    return [w.cat(*_ETHNIC.get(e[:1], ("f", "Not stated")), code=e, style=int(k)) for e, k in zip(eth, st)]


def _coded(w: _Writer, values: np.ndarray, table: dict, key=lambda v: v) -> list[str]:
    st = w.style(len(values))
    out = []
    for v, k in zip(values, st):
        hit = table.get(key(v))
        out.append("" if hit is None else w.cat(hit[0], hit[1], v, int(k) if k != 3 else 0))
    return out


def _yes_no(w: _Writer, flags: np.ndarray) -> list[str]:
    st = w.style(len(flags))
    return [("a) Yes", "Yes", "Y", "a) Yes")[k] if f else ("b) No", "No", "N", "b) No")[k] for f, k in zip(flags, st)]


def _age(dob: np.ndarray, at: float) -> np.ndarray:
    return np.floor((at - dob) / 365.25).astype(int)


class _Roster:
    """Fictional workers per team (about ``per_worker`` open cases each), one worker per child
    and team across the lists (the same child keeps the same worker in Lists 6, 7 and 8)."""

    def __init__(self, rng: np.random.Generator, per_worker: int = 16):
        self.rng, self.per_worker, self.staff = rng, per_worker, {}

    def size(self, teams: np.ndarray) -> None:
        """Create each team's staff from its number of cases (first list seen for a team decides)."""
        for team, n in pd.Series(teams).value_counts().items():
            if team not in self.staff:
                k = max(2, int(np.ceil(n / self.per_worker)))
                self.staff[team] = [f"{_FIRST[self.rng.integers(len(_FIRST))]} {_LAST[self.rng.integers(len(_LAST))]}"
                                    for _ in range(k)]

    def allocate(self, ids: np.ndarray, teams: np.ndarray) -> np.ndarray:
        self.size(teams)
        return np.array([self.staff[t][zlib.crc32(str(i).encode()) % len(self.staff[t])] for i, t in zip(ids, teams)],
                        dtype=object)


def _months_before(days: np.ndarray, months: int) -> np.ndarray:
    ts = pd.DatetimeIndex((EPOCH + days.astype("int64").astype("timedelta64[D]")).astype("datetime64[ns]"))
    return ((ts - pd.DateOffset(months=months)).to_numpy().astype("datetime64[D]") - EPOCH).astype(float)


def build_lists(geo, children: pd.DataFrame, referrals: pd.DataFrame, cla: dict, directory: pd.DataFrame,
                as_at: dt.date, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Rows of Lists 3, 6, 7 and 8 (values as written, in the variant styles) keyed by sheet name."""
    end = float((np.datetime64(as_at, "D") - EPOCH).astype(int))
    w = _Writer(rng)
    roster = _Roster(rng)
    ch = children.set_index("child_idx")
    ward_rank = pd.Series(geo.lsoa["WD21CD"]).rank(method="dense").to_numpy().astype(int) - 1
    n_wards = max(1, int(ward_rank.max()) + 1)
    area_of_lsoa = np.asarray(_AREAS)[np.minimum(ward_rank * len(_AREAS) // n_wards, len(_AREAS) - 1)]
    # every referral in the CIN files (front-door duplicates included: they are recorded referrals).
    # List 3 counts referrals as the CIN census does, so referrals received while a case was open
    # (part of that case in the census; only the flat referrals extract lists them) are not in it:
    # the re-referral report extends the census with List 3 and the two must agree.
    if "while_open" in referrals.columns:
        referrals = referrals[~referrals["while_open"].to_numpy()]
    ref = referrals.sort_values(["child_idx", "referral_day"], kind="stable").drop_duplicates(["child_idx", "referral_day"])
    cy_start = dt.date(as_at.year if as_at.month >= 4 else as_at.year - 1, 4, 1)
    six = (pd.Timestamp(as_at) - pd.DateOffset(months=6) + pd.Timedelta(days=1)).date()
    start3 = float((np.datetime64(min(cy_start, six), "D") - EPOCH).astype(int))
    disabled = ch["disabilities"].astype(str).str.contains("NONE") == False  # noqa: E712 - vectorised
    out: dict[str, pd.DataFrame] = {}

    # ---- List 3
    l3 = ref[(ref["referral_day"] >= start3) & (ref["referral_day"] <= end)]
    hist = ref[ref["child_idx"].isin(l3["child_idx"].unique())][["child_idx", "referral_day"]]
    pair = l3[["child_idx", "referral_day"]].reset_index().merge(hist, on="child_idx", suffixes=("", "_h"))
    lo = _months_before(pair["referral_day"].to_numpy(), 12)
    pair = pair[(pair["referral_day_h"] <= pair["referral_day"]) & (pair["referral_day_h"] >= lo)]
    n12 = pair.groupby("index").size().reindex(l3.index, fill_value=1).to_numpy()
    off = rng.uniform(size=len(l3)) < COUNT_DISAGREEMENT_SHARE
    n12 = np.where(off, np.where((n12 > 1) & (rng.uniform(size=len(l3)) < 0.5), n12 - 1, n12 + 1), n12)
    c = ch.loc[l3["child_idx"].to_numpy()]
    nfa = l3["nfa"].to_numpy(dtype=bool)
    team3 = np.where(nfa, "Front Door (MASH)", np.char.add("Safeguarding ", area_of_lsoa[c["lsoa_idx"].to_numpy()].astype(str)))
    src_key = lambda s: s if s in ("2A", "2B", "10") else s[:1]  # noqa: E731
    out["List 3"] = pd.DataFrame({
        LIST3[0]: c["la_child_id"].to_numpy(), LIST3[1]: _sex(w, c["sex"].to_numpy()), LIST3[2]: _ethnic(w, c["ethnicity"].to_numpy()),
        LIST3[3]: w.dates(c["dob"].to_numpy()), LIST3[4]: np.maximum(_age(c["dob"].to_numpy(), end), 0),
        LIST3[5]: w.dates(l3["referral_day"].to_numpy()), LIST3[6]: _coded(w, l3["source"].to_numpy(), _SOURCE, src_key),
        LIST3[7]: _yes_no(w, nfa), LIST3[8]: n12, LIST3[9]: team3, LIST3[10]: None})

    # ---- looked after on the extract date (903 episodes)
    ep = cla["episodes"].sort_values(["k", "decom"], kind="stable")
    kids = cla["kids"].reset_index(drop=True)
    open_ep = ep[(ep["decom"] <= end) & (ep["dec"].isna() | (ep["dec"] > end))].drop_duplicates("k", keep="last")
    looked_after = set(kids.loc[open_ep["k"].to_numpy(), "child"])

    # ---- List 6: open CIN episodes (and every looked-after child)
    open_all = ref[(ref["referral_day"] <= end) & (ref["closure_day"].isna() | (ref["closure_day"] > end))]
    cp_all = open_all[(open_all["cpp_start"].to_numpy() <= end) & ~(open_all["cpp_end"].to_numpy() <= end)]
    cin_all = open_all[(open_all["cin_plan_start"].to_numpy() <= end) & ~(open_all["cin_plan_end"].to_numpy() <= end)]
    cur = open_all.drop_duplicates("child_idx", keep="last")   # one row per child: the latest open episode
    c6 = ch.loc[cur["child_idx"].to_numpy()]
    ids6 = c6["la_child_id"].to_numpy()
    cp_open = cur["child_idx"].isin(cp_all["child_idx"]).to_numpy()
    cin_open = cur["child_idx"].isin(cin_all["child_idx"]).to_numpy()
    status_code = np.select([np.isin(ids6, list(looked_after)), cp_open, cin_open], ["a", "b", "c"], "d")
    labels = {"a": "Looked after child", "b": "Child protection plan", "c": "Child in need plan", "d": "Open assessment"}
    st = w.style(len(cur))
    status = [labels[s] if k == 1 else f"{s}) {labels[s]}" for s, k in zip(status_code, st)]
    lsoa6 = c6["lsoa_idx"].to_numpy()
    team6 = np.where(status_code == "a", np.where(np.arange(len(cur)) % 2 == 0, "Children in Care 1", "Children in Care 2"),
                     np.char.add("Safeguarding ", area_of_lsoa[lsoa6].astype(str))).astype(object)
    dis6 = disabled.loc[cur["child_idx"].to_numpy()].to_numpy()
    # a small specialist team: a few disabled children (fewer than the usual suppression threshold)
    cand = np.flatnonzero(dis6 & (status_code == "c"))
    team6[rng.permutation(cand)[:min(len(cand), 4)]] = "Disabled Children's Team"
    need6 = cur["need"].to_numpy(dtype=object)
    out["List 6"] = pd.DataFrame({
        LIST6[0]: ids6, LIST6[1]: _sex(w, c6["sex"].to_numpy()), LIST6[2]: _ethnic(w, c6["ethnicity"].to_numpy()),
        LIST6[3]: w.dates(c6["dob"].to_numpy()), LIST6[4]: np.maximum(_age(c6["dob"].to_numpy(), end), 0),
        LIST6[5]: _yes_no(w, dis6), LIST6[6]: w.dates(cur["referral_day"].to_numpy()),
        LIST6[7]: _coded(w, np.where(need6 == "", "N0", need6), _NEED), LIST6[8]: w.dates(end - rng.integers(1, 40, len(cur)).astype(float)),
        LIST6[9]: None, LIST6[10]: None, LIST6[11]: status, LIST6[12]: team6, LIST6[13]: roster.allocate(ids6, team6)})
    team_of = dict(zip(ids6, team6))

    # ---- List 7: open child protection plans
    cp = cp_all.sort_values(["child_idx", "cpp_start"], kind="stable").drop_duplicates("child_idx", keep="last")
    c7 = ch.loc[cp["child_idx"].to_numpy()]
    ids7 = c7["la_child_id"].to_numpy()
    team7 = np.array([team_of.get(i, "Safeguarding North") for i in ids7], dtype=object)
    out["List 7"] = pd.DataFrame({
        LIST7[0]: ids7, LIST7[1]: _sex(w, c7["sex"].to_numpy()), LIST7[2]: _ethnic(w, c7["ethnicity"].to_numpy()),
        LIST7[3]: w.dates(c7["dob"].to_numpy()), LIST7[4]: np.maximum(_age(c7["dob"].to_numpy(), end), 0),
        LIST7[5]: _yes_no(w, disabled.loc[cp["child_idx"].to_numpy()].to_numpy()), LIST7[6]: w.dates(cp["cpp_start"].to_numpy()),
        LIST7[7]: _coded(w, cp["cat_initial"].to_numpy(), _ABUSE), LIST7[8]: _coded(w, cp["cat_latest"].to_numpy(), _ABUSE),
        LIST7[9]: w.dates(end - rng.integers(1, 20, len(cp)).astype(float)), LIST7[10]: _yes_no(w, rng.uniform(size=len(cp)) < 0.7),
        LIST7[11]: w.dates(np.minimum(cp["cpp_start"].to_numpy() + 90, end)), LIST7[12]: None,
        LIST7[13]: _yes_no(w, np.zeros(len(cp), bool)),
        LIST7[14]: cp["n_previous_cpp"].to_numpy() if "n_previous_cpp" in cp else 0, LIST7[15]: team7, LIST7[16]: roster.allocate(ids7, team7)})

    # ---- List 8: looked after on the extract date
    k = open_ep["k"].to_numpy()
    kk = kids.loc[k]
    eps = ep[ep["k"].isin(k) & (ep["decom"] <= end)]
    # period of care start: latest "S" (or first) episode; placement start: latest non-legal-only change
    starts = eps[eps["rne"].isin(["S"])].groupby("k")["decom"].max()
    first = eps.groupby("k")["decom"].min()
    spell_start = starts.reindex(k).fillna(first.reindex(k)).to_numpy()
    moves = eps[~eps["rne"].isin(["L"])]
    place_start = moves.groupby("k")["decom"].max().reindex(k).fillna(first.reindex(k)).to_numpy()
    yr_ago = _months_before(np.array([end]), 12)[0]
    # placements in the last 12 months: those starting in it, plus the one already running at its start
    started_in = moves[moves["decom"] > yr_ago].groupby("k").size().reindex(k, fill_value=0).to_numpy()
    running_before = moves[moves["decom"] <= yr_ago].groupby("k").size().reindex(k, fill_value=0).to_numpy() > 0
    n_place = started_in + running_before
    ls_start = eps[eps["rne"].isin(["S", "L", "T"])].groupby("k")["decom"].max().reindex(k).fillna(first.reindex(k)).to_numpy()
    place = open_ep["place"].to_numpy(dtype=object)
    pkey = lambda p: p[:1] if p[:1] in ("U", "A") else p  # noqa: E731
    zone = directory.set_index("pcd")["zone"].reindex(open_ep["pl_post"].to_numpy()).fillna("far").to_numpy()
    st = w.style(len(k))
    loc = [("a) In", "In", "In", "a) In")[s] if z == "inside" else ("b) Out", "Out", "Out", "b) Out")[s] for z, s in zip(zone, st)]
    missing = cla["missing"]
    mis = missing[(missing["mis_start"] > yr_ago) & (missing["mis_start"] <= end)]
    mis_n = mis[mis["missing"] == "M"].groupby("child").size()
    abs_n = mis[mis["missing"] == "A"].groupby("child").size()
    ids8 = kk["child"].to_numpy()
    team8 = np.where(np.arange(len(k)) % 2 == 0, "Children in Care 1", "Children in Care 2")
    team8 = np.array([team_of.get(i, t) for i, t in zip(ids8, team8)], dtype=object)
    team8 = np.where(np.char.startswith(team8.astype(str), "Children in Care"), team8,
                     np.where(np.arange(len(k)) % 2 == 0, "Children in Care 1", "Children in Care 2"))
    out["List 8"] = pd.DataFrame({
        LIST8[0]: ids8, LIST8[1]: _sex(w, kk["sex"].to_numpy()), LIST8[2]: _ethnic(w, kk["ethnicity"].to_numpy()),
        LIST8[3]: w.dates(kk["dob"].to_numpy()), LIST8[4]: np.maximum(_age(kk["dob"].to_numpy(), end), 0),
        LIST8[5]: _yes_no(w, kk["uasc"].to_numpy(dtype=bool)), LIST8[6]: _yes_no(w, rng.uniform(size=len(k)) < 0.1),
        LIST8[7]: w.dates(spell_start), LIST8[8]: _coded(w, open_ep["cin"].to_numpy(dtype=object), _NEED),
        LIST8[9]: _yes_no(w, np.zeros(len(k), bool)), LIST8[10]: w.dates(ls_start),
        LIST8[11]: [_LEGAL.get(x, x) for x in open_ep["ls"].to_numpy()],
        LIST8[12]: w.dates(end - rng.integers(1, 150, len(k)).astype(float)), LIST8[13]: w.dates(end - rng.integers(1, 40, len(k)).astype(float)),
        LIST8[14]: None, LIST8[15]: n_place, LIST8[16]: None, LIST8[17]: None, LIST8[18]: w.dates(place_start),
        LIST8[19]: _coded(w, place, _PLACE, pkey), LIST8[20]: _coded(w, open_ep["place_provider"].to_numpy(dtype=object), _PROVIDER),
        LIST8[21]: open_ep["pl_post"].to_numpy(), LIST8[22]: open_ep["urn"].to_numpy(), LIST8[23]: loc,
        LIST8[24]: np.where(zone == "inside", geo.la_name, "Other LA"),
        LIST8[25]: mis_n.reindex(ids8, fill_value=0).to_numpy(), LIST8[26]: abs_n.reindex(ids8, fill_value=0).to_numpy(),
        LIST8[27]: team8, LIST8[28]: roster.allocate(ids8, team8)})
    # List 3's workers last: teams are sized by their open cases (Lists 6-8), not by referral volume
    out["List 3"][LIST3[10]] = roster.allocate(out["List 3"][LIST3[0]].to_numpy(), team3)
    # List 6 holds every open case, looked-after children included: add those without an open CIN episode
    extra = ~np.isin(ids8, ids6)
    if extra.any():
        l8 = out["List 8"][extra]
        w8 = _Writer(rng)
        st8 = w8.style(int(extra.sum()))
        add = pd.DataFrame({
            LIST6[0]: l8[LIST8[0]].to_numpy(), LIST6[1]: l8[LIST8[1]].to_numpy(), LIST6[2]: l8[LIST8[2]].to_numpy(),
            LIST6[3]: l8[LIST8[3]].to_numpy(), LIST6[4]: l8[LIST8[4]].to_numpy(), LIST6[5]: l8[LIST8[6]].to_numpy(),
            LIST6[6]: l8[LIST8[7]].to_numpy(), LIST6[7]: l8[LIST8[8]].to_numpy(), LIST6[8]: l8[LIST8[13]].to_numpy(),
            LIST6[9]: None, LIST6[10]: None,
            LIST6[11]: ["Looked after child" if k == 1 else "a) Looked after child" for k in st8],
            LIST6[12]: l8[LIST8[27]].to_numpy(), LIST6[13]: l8[LIST8[28]].to_numpy()})
        out["List 6"] = pd.concat([out["List 6"], add], ignore_index=True)
    return out


def _save_reproducibly(wb, path: Path, as_at: dt.date) -> None:
    """Save so that the same data give byte-identical files: fixed zip entry times and document
    dates (openpyxl stamps the current time on both)."""
    import io
    import re
    import zipfile

    buf = io.BytesIO()
    wb.save(buf)
    stamp = f"{as_at:%Y-%m-%d}T00:00:00Z"
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            out = zipfile.ZipInfo(info.filename, date_time=(as_at.year, as_at.month, as_at.day, 0, 0, 0))
            out.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(out, data)


def write_annex_a(path: Path, geo, children: pd.DataFrame, referrals: pd.DataFrame, cla: dict, directory: pd.DataFrame,
                  as_at: dt.date, rng: np.random.Generator) -> dict[str, int]:
    """Write the Annex A workbook to ``path`` and return the rows written per list."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    lists = build_lists(geo, children, referrals, cla, directory, as_at, rng)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    contents = wb.create_sheet("Contents")
    contents.append([f"{geo.la_name}: Annex A child-level lists as at {as_at:%d/%m/%Y} (generated demo data)"])
    for name in lists:
        contents.append([name])
    for name, frame in lists.items():
        ws = wb.create_sheet(name)
        if name == "List 3":
            ws.append([f"List 3: referrals from {frame[LIST3[5]].map(lambda v: v if isinstance(v, str) else v.strftime('%d/%m/%Y')).min()} "
                       f"to {as_at:%d/%m/%Y}"])
        ws.append(list(frame.columns))
        blank_at = len(frame) // 2
        for i, row in enumerate(frame.itertuples(index=False, name=None)):
            if i == blank_at:
                ws.append([None] * len(frame.columns))
            cells = []
            for v in row:
                if isinstance(v, dt.datetime):
                    c = WriteOnlyCell(ws, value=v)
                    c.number_format = "dd/mm/yyyy"
                    cells.append(c)
                elif isinstance(v, (np.integer,)):
                    cells.append(int(v))
                elif v is None or (isinstance(v, float) and np.isnan(v)) or v == "":
                    cells.append(None)
                else:
                    cells.append(v)
            ws.append(cells)
    _save_reproducibly(wb, path, as_at)
    return {name: int(len(frame)) for name, frame in lists.items()}
