"""DfE return specifications by collection year, as data: CIN census XML and every SSDA903 table.

A *collection year* is named, as everywhere in this package, by the year in which it ends on
31 March: ``2025`` is the 2024-25 collection. This module covers 2021-22 (``2022``) to 2026-27
(``2027``, draft). For each year it says which elements (CIN) or columns (SSDA903) a return
has and which codes each coded field may hold. The readers use it to recognise the
specification of each file, to check codes against *that year's* lists, and to map old and new
codes onto one analysis vocabulary (:func:`sex_to_analysis`). The demo generator uses it to
write each year's files in that year's specification.

Where these lists come from (machine-readable statements of the DfE specifications):

* CIN census: the census XML schemas for 2023-24, 2024-25 and 2025-26 as encoded by the
  liia-tools pipeline, and the rule code of the DfE-commissioned CIN validator
  (``csc-validator-be-cin`` 0.1.13, rule folders ``cin2022_23`` .. ``cin2026_27``).
* SSDA903: the column lists of the 903 validator (``csc-validator-be-903`` 0.1.17,
  ``lac_validator/config.py``) and its code-list rules by year (e.g. rule 101 for SEX, 146 for
  PLACE, SW13STG1 for SW_REASON), with the liia-tools SSDA903 schemas by year.

The main changes by year (details in ``docs/data_model.md``):

* 2021-22: CIN plan dates module; assessment factor 24A.
* 2022-23: CIN referral source 5D, closure reason RC9.
* 2023-24: SSDA903 social worker episodes table (``sw_episodes``).
* 2024-25: CIN ``<GenderCurrent>`` (0/1/2/9) replaced by ``<Sex>`` (M/F/U); SSDA903 SEX
  1/2 replaced by M/F/U; PLACE K3 added.
* 2025-26: PLACE H5, P2 and Z1 removed, Z11-Z14 added; CIN N1 relabelled.
* 2026-27 (draft): CIN pre-proceedings and FGDM module; SSDA903 deprivation of liberty
  orders table (``dolo``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers import codes

FIRST_YEAR = 2022
LAST_YEAR = 2027
#: Collection years with a specification here (named by the year ending 31 March).
YEARS: tuple[int, ...] = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
#: Years whose specification is a draft (rules not final).
DRAFT_YEARS: frozenset[int] = frozenset({2027})
#: First collection year in which sex is coded M/F/U (CIN <Sex>, SSDA903 SEX).
SEX_MFU_FROM = 2025


def year_label(year: int) -> str:
    """``2025`` -> ``"2024-25"``."""
    return f"{year - 1}-{str(year)[2:]}"


def spec_year(year: int) -> int:
    """The specification year used for a collection year: the year itself inside the range,
    else the nearest year covered (older files are read with the 2021-22 specification, later
    ones with the 2026-27 draft)."""
    return min(max(int(year), FIRST_YEAR), LAST_YEAR)


# ----------------------------------------------------------------------------------------
# Sex: one analysis vocabulary (M / F / U) for old and new codes
# ----------------------------------------------------------------------------------------

#: The analysis vocabulary for sex, used by every tidy table.
SEX_CODES: dict[str, str] = {"M": "Male", "F": "Female", "U": "Not recorded, unborn or indeterminate"}
#: CIN ``<GenderCurrent>`` (to 2023-24): 1 male, 2 female, 0 not recorded or unborn, 9 indeterminate.
CIN_GENDER_OLD: dict[str, str] = dict(codes.GENDER_CODES)
#: SSDA903 SEX to 2023-24: 1 male, 2 female.
SSDA903_SEX_OLD: dict[str, str] = {"1": "Male", "2": "Female"}
#: Old and new codes -> the analysis vocabulary.
SEX_TO_ANALYSIS: dict[str, str] = {"1": "M", "2": "F", "0": "U", "9": "U", "M": "M", "F": "F", "U": "U"}


def sex_to_analysis(value) -> str | None:
    """Map a sex code of any year (1/2/0/9 or M/F/U, any case, spaces trimmed) to M/F/U;
    ``None`` when it is not a sex code of any year."""
    if value is None:
        return None
    return SEX_TO_ANALYSIS.get(str(value).strip().upper())


# ----------------------------------------------------------------------------------------
# CIN census
# ----------------------------------------------------------------------------------------

_REFERRAL_SOURCES_2022 = frozenset(codes.REFERRAL_SOURCES) - {"5D"}
_CLOSURE_2022 = frozenset(codes.REASONS_FOR_CLOSURE) - {"RC9"}
#: Factors valid in every year covered (18A/19A were split in 2020-21; 24A added in 2021-22).
_FACTORS = frozenset(codes.ASSESSMENT_FACTORS)
_N1_OLD = "Abuse or neglect"
_N1_NEW = "Abuse, neglect and exploitation"

_CIN_IDENTIFIERS_OLD = ("LAchildID", "UPN", "FormerUPN", "UPNunknown", "PersonBirthDate",
                        "ExpectedPersonBirthDate", "GenderCurrent", "PersonDeathDate")
_CIN_IDENTIFIERS_NEW = tuple("Sex" if e == "GenderCurrent" else e for e in _CIN_IDENTIFIERS_OLD)
_CIN_MODULES = ("Assessments", "CINPlanDates", "Section47", "ChildProtectionPlans")
#: Elements of the 2026-27 draft "Pre-proceedings and FGDM" module inside <CINdetails>.
PRE_PROCEEDINGS_ELEMENTS: tuple[str, ...] = (
    "PPStartDate", "LBPSentDate", "FGDMMeetingOffer", "FGDMMeetingFac", "InitialPPMeetingDate",
    "ReviewMeetingsCount", "StepDecisionDate", "PPOutcome", "CourtAppDate", "LetterInitCPDate")


@dataclass(frozen=True)
class CINSpec:
    """The CIN census specification of one collection year."""

    year: int
    sex_element: str                       # "GenderCurrent" (to 2023-24) or "Sex" (from 2024-25)
    sex_codes: frozenset[str]              # codes of that element
    child_identifiers: tuple[str, ...]     # elements of <ChildIdentifiers>, in schema order
    cin_details_modules: tuple[str, ...]   # repeating modules inside <CINdetails>
    referral_sources: frozenset[str]
    reasons_for_closure: frozenset[str]
    primary_need: dict[str, str]           # code -> that year's label
    assessment_factors: frozenset[str]
    ethnicity: frozenset[str] = frozenset(codes.ETHNICITY_CODES)
    disability: frozenset[str] = frozenset(codes.DISABILITY_CODES)
    categories_of_abuse: frozenset[str] = frozenset(codes.CATEGORIES_OF_ABUSE)
    upn_unknown: frozenset[str] = frozenset({f"UN{i}" for i in range(1, 8)})
    #: yes/no values (ReferralNFA, ICPCnotRequired): 0/1 in the 2024-25 and later schemas;
    #: earlier schemas also accept true/false (the demo writes 0/1 in every year)
    yes_no: frozenset[str] = frozenset({"0", "1"})
    draft: bool = False

    @property
    def label(self) -> str:
        return year_label(self.year) + (" (draft)" if self.draft else "")


def _cin_spec(year: int) -> CINSpec:
    new_sex = year >= SEX_MFU_FROM
    return CINSpec(
        year=year,
        sex_element="Sex" if new_sex else "GenderCurrent",
        sex_codes=frozenset(SEX_CODES) if new_sex else frozenset(CIN_GENDER_OLD),
        child_identifiers=_CIN_IDENTIFIERS_NEW if new_sex else _CIN_IDENTIFIERS_OLD,
        cin_details_modules=_CIN_MODULES + (("PreProceedingsandFGDM",) if year >= 2027 else ()),
        referral_sources=frozenset(codes.REFERRAL_SOURCES) if year >= 2023 else _REFERRAL_SOURCES_2022,
        reasons_for_closure=frozenset(codes.REASONS_FOR_CLOSURE) if year >= 2023 else _CLOSURE_2022,
        primary_need={**codes.PRIMARY_NEED_CODES, "N1": _N1_NEW if year >= 2026 else _N1_OLD},
        assessment_factors=_FACTORS,
        yes_no=frozenset({"0", "1"}) if new_sex else frozenset({"0", "1", "true", "false", "TRUE", "FALSE"}),
        draft=year in DRAFT_YEARS,
    )


#: CIN census specification by collection year.
CIN_SPECS: dict[int, CINSpec] = {y: _cin_spec(y) for y in YEARS}


def cin_spec(year: int) -> CINSpec:
    """The CIN census specification for a collection year (nearest covered year outside the range)."""
    return CIN_SPECS[spec_year(year)]


# ----------------------------------------------------------------------------------------
# SSDA903
# ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TableSpec:
    """One SSDA903 table in one collection year: its conventional file name, its columns (in
    the validator's order) and the code list of each coded column."""

    name: str
    file: str
    columns: tuple[str, ...]
    code_lists: dict[str, frozenset[str]] = field(default_factory=dict)
    #: columns holding dates (dd/mm/yyyy)
    dates: tuple[str, ...] = ()


_PLACE_2023 = frozenset("A3 A4 A5 A6 H5 K1 K2 P1 P2 P3 R1 R2 R3 R5 S1 T0 T1 T2 T3 T4 U1 U2 U3 U4 U5 U6 Z1".split())
_PLACE_2025 = _PLACE_2023 | {"K3"}
_PLACE_2026 = (_PLACE_2025 - {"H5", "P2", "Z1"}) | {"Z11", "Z12", "Z13", "Z14"}
_SDQ_REASON = frozenset({"SDQ1", "SDQ2", "SDQ3", "SDQ4", "SDQ5"})
_IN_TOUCH = frozenset({"YES", "NO", "DIED", "REFU", "NREQ", "RHOM"})
_ACTIV = frozenset("F1 P1 F2 P2 F4 P4 F5 P5 G4 G5 G6 0".split())
_ACCOM = frozenset("B1 B2 C1 C2 D1 D2 E1 E2 G1 G2 H1 H2 K1 K2 R1 R2 S2 T1 T2 U1 U2 V1 V2 W1 W2 X2 Y1 Y2 Z1 Z2 0".split())
_SEX_ADOPTR = frozenset({"M1", "F1", "MM", "FF", "MF"})
_LS_ADOPTR = frozenset({"L0", "L11", "L12", "L2", "L3", "L4"})
_RD = frozenset({"RD1", "RD2", "RD3", "RD4"})
_PREV_PERM = frozenset({"P1", "P2", "P3", "P4", "Z1"})
_REVIEW_CODE = frozenset({f"PN{i}" for i in range(8)})
_SW_REASON = frozenset("MANAGE FCONTA LEFTRL ORGRST TSPROC ABSENC CHCHAN PCCHAN SWDIED OTHERS".split())
_YES_NO_01 = frozenset({"0", "1"})

#: Order in which the tables are listed (and in which the demo writes them).
SSDA903_TABLE_ORDER: tuple[str, ...] = (
    "header", "episodes", "reviews", "uasc", "oc2", "oc3", "ad1", "placed_for_adoption",
    "previous_permanence", "missing", "sw_episodes", "dolo")


def _ssda903_tables(year: int) -> dict[str, TableSpec]:
    sex = frozenset(SEX_CODES) if year >= SEX_MFU_FROM else frozenset(SSDA903_SEX_OLD)
    place = _PLACE_2026 if year >= 2026 else _PLACE_2025 if year >= 2025 else _PLACE_2023
    t = [
        TableSpec("header", "header.csv", ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"),
                  {"SEX": sex, "ETHNIC": frozenset(codes.ETHNICITY_CODES), "MOTHER": _YES_NO_01},
                  ("DOB", "MC_DOB")),
        TableSpec("episodes", "episodes.csv",
                  ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                   "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN"),
                  {"RNE": frozenset(codes.REASONS_NEW_EPISODE), "LS": frozenset(codes.LEGAL_STATUSES),
                   "CIN": frozenset(codes.CIN_CATEGORY_903), "PLACE": place,
                   "PLACE_PROVIDER": frozenset(codes.PLACEMENT_PROVIDERS),
                   "REC": frozenset(codes.REASONS_EPISODE_CEASED),
                   "REASON_PLACE_CHANGE": frozenset(codes.REASON_PLACE_CHANGE)},
                  ("DECOM", "DEC")),
        TableSpec("reviews", "reviews.csv", ("CHILD", "DOB", "REVIEW", "REVIEW_CODE"),
                  {"REVIEW_CODE": _REVIEW_CODE}, ("DOB", "REVIEW")),
        TableSpec("uasc", "uasc.csv", ("CHILD", "SEX", "DOB", "DUC"), {"SEX": sex}, ("DOB", "DUC")),
        TableSpec("oc2", "oc2.csv",
                  ("CHILD", "DOB", "SDQ_SCORE", "SDQ_REASON", "CONVICTED", "HEALTH_CHECK", "IMMUNISATIONS",
                   "TEETH_CHECK", "HEALTH_ASSESSMENT", "SUBSTANCE_MISUSE", "INTERVENTION_RECEIVED",
                   "INTERVENTION_OFFERED"),
                  {"SDQ_REASON": _SDQ_REASON, **{c: _YES_NO_01 for c in (
                      "CONVICTED", "HEALTH_CHECK", "IMMUNISATIONS", "TEETH_CHECK", "HEALTH_ASSESSMENT",
                      "SUBSTANCE_MISUSE", "INTERVENTION_RECEIVED", "INTERVENTION_OFFERED")}},
                  ("DOB",)),
        TableSpec("oc3", "oc3.csv", ("CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"),
                  {"IN_TOUCH": _IN_TOUCH, "ACTIV": _ACTIV, "ACCOM": _ACCOM}, ("DOB",)),
        TableSpec("ad1", "ad1.csv",
                  ("CHILD", "DOB", "DATE_INT", "DATE_MATCH", "FOSTER_CARE", "NB_ADOPTR", "SEX_ADOPTR", "LS_ADOPTR"),
                  {"FOSTER_CARE": _YES_NO_01, "NB_ADOPTR": frozenset({"1", "2"}), "SEX_ADOPTR": _SEX_ADOPTR,
                   "LS_ADOPTR": _LS_ADOPTR}, ("DOB", "DATE_INT", "DATE_MATCH")),
        TableSpec("placed_for_adoption", "placed_for_adoption.csv",
                  ("CHILD", "DOB", "DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED"),
                  {"REASON_PLACED_CEASED": _RD}, ("DOB", "DATE_PLACED", "DATE_PLACED_CEASED")),
        TableSpec("previous_permanence", "previous_permanence.csv", ("CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"),
                  {"PREV_PERM": _PREV_PERM}, ("DOB",)),
        TableSpec("missing", "missing.csv", ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"),
                  {"MISSING": frozenset(codes.MISSING_TYPES)}, ("DOB", "MIS_START", "MIS_END")),
    ]
    if year >= 2024:
        t.append(TableSpec("sw_episodes", "sw_episodes.csv", ("CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"),
                           {"SW_REASON": _SW_REASON}, ("DOB", "SW_DECOM", "SW_DEC")))
    if year >= 2027:
        t.append(TableSpec("dolo", "dolo.csv", ("CHILD", "DOB", "DOLO_START", "DOLO_END"), {},
                           ("DOB", "DOLO_START", "DOLO_END")))
    return {s.name: s for s in t}


#: SSDA903 tables by collection year.
SSDA903_SPECS: dict[int, dict[str, TableSpec]] = {y: _ssda903_tables(y) for y in YEARS}


def ssda903_tables(year: int) -> dict[str, TableSpec]:
    """The SSDA903 tables of a collection year (nearest covered year outside the range)."""
    return SSDA903_SPECS[spec_year(year)]


def ssda903_table_of(columns) -> str | None:
    """Name of the SSDA903 table whose columns (any year) are exactly ``columns`` (compared
    upper-case, order ignored), else ``None``."""
    cols = {str(c).strip().upper() for c in columns}
    for y in reversed(YEARS):
        for name, spec in SSDA903_SPECS[y].items():
            if cols == set(spec.columns):
                return name
    return None


def ssda903_sex_spec(values) -> int | None:
    """Which sex coding a column of SSDA903 SEX values follows: ``SEX_MFU_FROM`` when every
    recognised value is M/F/U, ``SEX_MFU_FROM - 1`` when every one is 1/2, else ``None``
    (no values, or a mix)."""
    vals = {str(v).strip().upper() for v in values if v is not None and str(v).strip()}
    if not vals:
        return None
    if vals <= set(SEX_CODES):
        return SEX_MFU_FROM
    if vals <= set(SSDA903_SEX_OLD):
        return SEX_MFU_FROM - 1
    return None
