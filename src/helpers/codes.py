"""DfE code lists, defined once, as data.

Every code list used by a reader, the demo generator or an analysis lives here.
Lists that change between collections carry the collection years in which each
code is valid. A *collection year* is named by the year in which it ends on
31 March: ``2025`` is the 2024-25 collection.

Sources: the CIN census 2023-24 XML schema (``CIN_schema_2024.xsd``) for the CIN
lists; the DfE SSDA903 guidance for the looked-after lists (see
``docs/definitions.md``). Codes marked *unconfirmed* there are kept with a
label that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

# --------------------------------------------------------------------------
# CIN census (from CIN_schema_2024.xsd)
# --------------------------------------------------------------------------

REFERRAL_SOURCES: dict[str, str] = {
    "1A": "Individual: family member, relative or carer",
    "1B": "Individual: acquaintance (including neighbours and child minders)",
    "1C": "Individual: self",
    "1D": "Individual: other (including strangers)",
    "2A": "Schools",
    "2B": "Education services",
    "3A": "Health: GP",
    "3B": "Health: health visitor",
    "3C": "Health: school nurse",
    "3D": "Health: other primary health services",
    "3E": "Health: A&E",
    "3F": "Health: other",
    "4": "Housing",
    "5A": "LA services: social care (e.g. adults)",
    "5B": "LA services: other internal",
    "5C": "LA services: external",
    "5D": "LA services: early help",
    "6": "Police",
    "7": "Other legal agency",
    "8": "Other (children's centres, voluntary organisations)",
    "9": "Anonymous",
    "10": "Unknown",
}

#: Referral sources grouped as DfE publishes them.
REFERRAL_SOURCE_GROUPS: dict[str, str] = {
    "1A": "Individual", "1B": "Individual", "1C": "Individual", "1D": "Individual",
    "2A": "Schools", "2B": "Education services",
    "3A": "Health services", "3B": "Health services", "3C": "Health services",
    "3D": "Health services", "3E": "Health services", "3F": "Health services",
    "4": "Housing",
    "5A": "LA services", "5B": "LA services", "5C": "LA services", "5D": "LA services",
    "6": "Police", "7": "Other legal agency", "8": "Other", "9": "Anonymous", "10": "Unknown",
}

PRIMARY_NEED_CODES: dict[str, str] = {
    "N1": "Abuse or neglect",
    "N2": "Child's disability",
    "N3": "Parental disability or illness",
    "N4": "Family in acute stress",
    "N5": "Family dysfunction",
    "N6": "Socially unacceptable behaviour",
    "N7": "Low income",
    "N8": "Absent parenting",
    "N9": "Cases other than children in need",
    "N0": "Not stated",
}

REASONS_FOR_CLOSURE: dict[str, str] = {
    "RC1": "Adopted",
    "RC2": "Died",
    "RC3": "Child arrangements order",
    "RC4": "Special guardianship order",
    "RC5": "Transferred to services of another local authority",
    "RC6": "Transferred to adult social care services",
    "RC7": "Services ceased for any other reason, including child no longer in need",
    "RC8": "Case closed after assessment, no further action",
    "RC9": "Case closed after assessment, referred to early help",
}

#: Closure reasons that mean "assessed, not in need" for the re-referral analysis.
CLOSED_AFTER_ASSESSMENT: frozenset[str] = frozenset({"RC8", "RC9"})

GENDER_CODES: dict[str, str] = {"0": "Not recorded or unborn", "1": "Male", "2": "Female", "9": "Indeterminate"}

ETHNICITY_CODES: dict[str, str] = {
    "WBRI": "White British", "WIRI": "White Irish", "WIRT": "Traveller of Irish heritage",
    "WOTH": "Any other White background", "WROM": "Gypsy/Roma",
    "MWBC": "White and Black Caribbean", "MWBA": "White and Black African", "MWAS": "White and Asian",
    "MOTH": "Any other mixed background",
    "AIND": "Indian", "APKN": "Pakistani", "ABAN": "Bangladeshi", "AOTH": "Any other Asian background",
    "BCRB": "Caribbean", "BAFR": "African", "BOTH": "Any other Black background",
    "CHNE": "Chinese", "OOTH": "Any other ethnic group",
    "REFU": "Refused", "NOBT": "Information not yet obtained",
}

#: Ethnicity codes grouped as DfE publishes them (major groups).
ETHNICITY_GROUPS: dict[str, str] = {
    **{c: "White" for c in ("WBRI", "WIRI", "WIRT", "WOTH", "WROM")},
    **{c: "Mixed or multiple" for c in ("MWBC", "MWBA", "MWAS", "MOTH")},
    **{c: "Asian or Asian British" for c in ("AIND", "APKN", "ABAN", "AOTH", "CHNE")},
    **{c: "Black or Black British" for c in ("BCRB", "BAFR", "BOTH")},
    "OOTH": "Other ethnic group",
    "REFU": "Refused or not obtained", "NOBT": "Refused or not obtained",
}

DISABILITY_CODES: dict[str, str] = {
    "NONE": "No disability", "MOB": "Mobility", "HAND": "Hand function", "PC": "Personal care",
    "INC": "Incontinence", "COMM": "Communication", "LD": "Learning", "HEAR": "Hearing",
    "VIS": "Vision", "BEH": "Behaviour", "CON": "Consciousness", "AUT": "Autism", "DDA": "Other",
}

CATEGORIES_OF_ABUSE: dict[str, str] = {
    "NEG": "Neglect", "PHY": "Physical abuse", "SAB": "Sexual abuse",
    "EMO": "Emotional abuse", "MUL": "Multiple/not recommended",
}

UPN_UNKNOWN_CODES: frozenset[str] = frozenset({f"UN{i}" for i in range(1, 8)})

YES_VALUES: frozenset[str] = frozenset({"true", "TRUE", "1", "True"})
NO_VALUES: frozenset[str] = frozenset({"false", "FALSE", "0", "False"})

# --------------------------------------------------------------------------
# SSDA903 (looked-after children)
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class PlacementCode:
    """One SSDA903 PLACE code, the years it is valid, and its analysis category."""

    code: str
    label: str
    category: str
    first_year: int | None = None  # first collection year (year ending 31 March) it is valid
    last_year: int | None = None   # last collection year it is valid
    unconfirmed: bool = False


#: Analysis categories used in the placement and forecast reports, in display order.
PLACEMENT_CATEGORIES: tuple[str, ...] = (
    "Fostering: kinship",
    "Fostering: other carer",
    "Children's home",
    "Supported accommodation",
    "Placed with parents",
    "Placed for adoption",
    "Other residential",
    "Other",
)

PLACEMENT_CODES: tuple[PlacementCode, ...] = (
    PlacementCode("A3", "Placed for adoption with parental/guardian consent with current foster carer(s)", "Placed for adoption"),
    PlacementCode("A4", "Placed for adoption with parental/guardian consent not with current foster carer(s)", "Placed for adoption"),
    PlacementCode("A5", "Placed for adoption with placement order with current foster carer(s)", "Placed for adoption"),
    PlacementCode("A6", "Placed for adoption with placement order not with current foster carer(s)", "Placed for adoption"),
    PlacementCode("H5", "Semi-independent living accommodation not subject to children's homes regulations", "Supported accommodation", last_year=2025),
    PlacementCode("K1", "Secure children's home", "Children's home"),
    PlacementCode("K2", "Children's home subject to children's homes regulations", "Children's home"),
    PlacementCode("K3", "Supported accommodation (registered)", "Supported accommodation", first_year=2025, unconfirmed=True),
    PlacementCode("P1", "Placed with own parent(s) or other person(s) with parental responsibility", "Placed with parents"),
    PlacementCode("P2", "Independent living, e.g. in a flat, lodgings, bedsit, B&B or with friends", "Supported accommodation", last_year=2025),
    PlacementCode("P3", "Residential employment", "Other"),
    PlacementCode("R1", "Residential care home", "Other residential"),
    PlacementCode("R2", "NHS/health trust or other establishment providing medical or nursing care", "Other residential"),
    PlacementCode("R3", "Family centre or mother and baby unit", "Other residential"),
    PlacementCode("R5", "Young offender institution or prison", "Other residential"),
    PlacementCode("S1", "All residential schools, except where dual-registered as a school and children's home", "Other residential"),
    PlacementCode("T0", "Temporary move: all types of temporary move", "Other"),
    PlacementCode("T1", "Temporary periods in hospital", "Other"),
    PlacementCode("T2", "Temporary absences of the child on holiday", "Other"),
    PlacementCode("T3", "Temporary accommodation whilst normal foster carer(s) is/are on holiday", "Other"),
    PlacementCode("T4", "Temporary accommodation of seven days or less, for any reason not covered by T1-T3", "Other"),
    PlacementCode("U1", "Foster placement with relative(s) or friend(s): long term fostering", "Fostering: kinship"),
    PlacementCode("U2", "Foster placement with relative(s) or friend(s) who is/are also an approved adopter(s): fostering for adoption/concurrent planning", "Fostering: kinship"),
    PlacementCode("U3", "Foster placement with relative(s) or friend(s): not long term or FFA/concurrent planning", "Fostering: kinship"),
    PlacementCode("U4", "Foster placement with other foster carer(s): long term fostering", "Fostering: other carer"),
    PlacementCode("U5", "Foster placement with other foster carer(s) who is/are also an approved adopter(s): fostering for adoption/concurrent planning", "Fostering: other carer"),
    PlacementCode("U6", "Foster placement with other foster carer(s): not long term or FFA/concurrent planning", "Fostering: other carer"),
    PlacementCode("Z1", "Other placements", "Other", last_year=2025),
    PlacementCode("Z11", "Other placement (2025-26 code; meaning unconfirmed)", "Other", first_year=2026, unconfirmed=True),
    PlacementCode("Z12", "Other placement (2025-26 code; meaning unconfirmed)", "Other", first_year=2026, unconfirmed=True),
    PlacementCode("Z13", "Other placement (2025-26 code; meaning unconfirmed)", "Other", first_year=2026, unconfirmed=True),
    PlacementCode("Z14", "Other placement (2025-26 code; meaning unconfirmed)", "Other", first_year=2026, unconfirmed=True),
)

PLACEMENT_BY_CODE: dict[str, PlacementCode] = {p.code: p for p in PLACEMENT_CODES}


def placement_codes_for_year(collection_year: int) -> dict[str, PlacementCode]:
    """PLACE codes valid in a collection year (named by the year ending 31 March)."""
    return {
        p.code: p
        for p in PLACEMENT_CODES
        if (p.first_year is None or collection_year >= p.first_year)
        and (p.last_year is None or collection_year <= p.last_year)
    }


PLACEMENT_PROVIDERS: dict[str, str] = {
    "PR0": "Parent(s) or other person(s) with parental responsibility",
    "PR1": "Own provision (by the LA)",
    "PR2": "Other LA provision",
    "PR3": "Other public provision (e.g. by a PCT)",
    "PR4": "Private provision",
    "PR5": "Voluntary/third sector provision",
}

#: Default in-house definition (a parameter in the analyses: some models add PR2/PR3).
IN_HOUSE_PROVIDERS_DEFAULT: tuple[str, ...] = ("PR1",)

LEGAL_STATUSES: dict[str, str] = {
    "C1": "Interim care order",
    "C2": "Full care order",
    "D1": "Freeing order granted",
    "E1": "Placement order granted",
    "J1": "Remanded to local authority accommodation or to youth detention accommodation",
    "J2": "Placed in local authority accommodation under the Police and Criminal Evidence Act 1984",
    "J3": "Sentenced to CYPA 1969 supervision order with residence requirement",
    "L1": "Under police protection and in local authority accommodation",
    "L2": "Emergency protection order (EPO)",
    "L3": "Under child assessment order and in local authority accommodation",
    "V2": "Single period of accommodation under section 20 (Children Act 1989)",
    "V3": "Accommodated under an agreed series of short-term breaks, when individual episodes of care are recorded",
    "V4": "Accommodated under an agreed series of short-term breaks, when agreements are recorded",
}

REASONS_NEW_EPISODE: dict[str, str] = {
    "S": "Started to be looked after",
    "L": "Change of legal status only",
    "P": "Change of placement only",
    "T": "Change of both legal status and placement at the same time",
    # U and B are valid RNE codes; their wording here is *unconfirmed* (check the DfE 903 guidance).
    # The placement analyses treat both as a change of placement.
    "U": "Change of placement and legal status at the same time (wording unconfirmed)",
    "B": "Change of placement and carer(s) at the same time (wording unconfirmed)",
}

REASONS_EPISODE_CEASED: dict[str, str] = {
    "E11": "Adopted: application for an adoption order unopposed",
    "E12": "Adopted: consent dispensed with by the court",
    "E13": "Left care to live with parent(s), relative(s), or other person(s) with no parental responsibility",
    "E14": "Accommodation on remand ended",
    "E15": "Age assessment determined child is aged 18 or over",
    "E16": "Child moved abroad",
    "E17": "Aged 18 (or over) and remained with current carers (inc under staying put arrangements)",
    "E2": "Died",
    "E3": "Care taken over by another LA in the UK",
    "E41": "Residence order (or, from 22 April 2014, a child arrangement order) granted",
    "E45": "Special guardianship order made to former foster carer(s), who was/are a relative(s) or friend(s)",
    "E46": "Special guardianship order made to former foster carer(s), other than relative(s) or friend(s)",
    "E47": "Special guardianship order made to carer(s), other than former foster carer(s), who was/are a relative(s) or friend(s)",
    "E48": "Special guardianship order made to carer(s), other than former foster carer(s), other than relative(s) or friend(s)",
    "E4A": "Returned home to live with parent(s), relative(s), or other person(s) with parental responsibility as part of the care planning process",
    "E4B": "Returned home to live with parent(s), relative(s), or other person(s) with parental responsibility which was not part of the current care planning process",
    "E5": "Moved into independent living arrangement and no longer looked-after: supportive accommodation providing formalised advice/support arrangements",
    "E6": "Moved into independent living arrangement and no longer looked-after: accommodation providing no formalised advice/support arrangements",
    "E7": "Transferred to residential care funded by adult social care services",
    "E8": "Period of being looked-after ceased for any other reason",
    "E9": "Sentenced to custody",
    "X1": "Episode ceases, and new episode begins on same day, for any reason",
}

#: REC codes that end a period of care (everything except X1).
REC_LEAVES_CARE: frozenset[str] = frozenset(REASONS_EPISODE_CEASED) - {"X1"}

CIN_CATEGORY_903: dict[str, str] = {k: v for k, v in PRIMARY_NEED_CODES.items() if k not in ("N9", "N0")}

#: SSDA903 SEX codes to 2023-24 (from 2024-25: M/F/U; see ``helpers.readers.specs``).
SEX_903: dict[str, str] = {"1": "Male", "2": "Female"}

MISSING_TYPES: dict[str, str] = {"M": "Missing", "A": "Away from placement without authorisation"}


def placement_category(code: str | None) -> str:
    """Analysis category of a PLACE code; unknown or missing codes fall in ``"Other"``.

    The SSDA903 reader keeps unknown PLACE codes as recorded (and reports them in its ledger);
    this is the documented rule that puts them in the "Other" category.
    """
    p = PLACEMENT_BY_CODE.get(code) if isinstance(code, str) else None
    return p.category if p is not None else "Other"

#: Factors identified at the end of assessment (CIN_schema_2024.xsd, ``assessmentfactorstype``).
ASSESSMENT_FACTORS: dict[str, str] = {
    "1A": "Alcohol misuse: child", "1B": "Alcohol misuse: parent(s)/carer(s)", "1C": "Alcohol misuse: another person in household",
    "2A": "Drug misuse: child", "2B": "Drug misuse: parent(s)/carer(s)", "2C": "Drug misuse: another person in household",
    "3A": "Domestic violence: child subject", "3B": "Domestic violence: parent(s)/carer(s) subject",
    "3C": "Domestic violence: another person in household subject",
    "4A": "Mental health: child", "4B": "Mental health: parent(s)/carer(s)", "4C": "Mental health: another person in household",
    "5A": "Learning disability: child", "5B": "Learning disability: parent(s)/carer(s)",
    "5C": "Learning disability: another person in household",
    "6A": "Physical disability or illness: child", "6B": "Physical disability or illness: parent(s)/carer(s)",
    "6C": "Physical disability or illness: another person in household",
    "7A": "Young carer",
    "8B": "Privately fostered: overseas, intend to return", "8C": "Privately fostered: overseas, intend to stay",
    "8D": "Privately fostered: UK, educational placement", "8E": "Privately fostered: UK, alternative family arrangements",
    "8F": "Privately fostered: other",
    "9A": "Unaccompanied asylum-seeking child", "10A": "Going/being missing", "11A": "Child sexual exploitation",
    "12A": "Trafficking", "13A": "Gangs", "14A": "Socially unacceptable behaviour", "15A": "Self-harm",
    "16A": "Abuse or neglect: neglect", "17A": "Abuse or neglect: emotional abuse",
    "18B": "Physical abuse: child on child", "18C": "Physical abuse: adult on child",
    "19B": "Sexual abuse: child on child", "19C": "Sexual abuse: adult on child",
    "20": "Other", "21": "No factors identified", "22A": "Female genital mutilation",
    "23A": "Abuse linked to faith or belief", "24A": "Child criminal exploitation",
}

#: SSDA903 REASON_PLACE_CHANGE (reason for a change of placement, 903 guidance from 2023-24).
REASON_PLACE_CHANGE: dict[str, str] = {
    "CARPL": "Change to/implementation of care plan",
    "CLOSE": "Resignation or closure of provision",
    "ALLEG": "Allegation (section 47 enquiry)",
    "STAND": "Standards of care concern",
    "APPRR": "Approval removed",
    "CREQB": "Carer(s) requests placement end due to child's behaviour",
    "CREQO": "Carer(s) requests placement end other than due to child's behaviour",
    "CHILD": "Child requests placement end",
    "LAREQ": "Responsible or area authority requests placement end",
    "PLACE": "Change in the status of the placement only",
    "CUSTOD": "Custody arrangement",
    "OTHER": "Other",
}

#: DfE publication groups for legal status ("Children looked after by legal status"), keyed by LEGAL_STATUSES.
LEGAL_STATUS_GROUPS: dict[str, str] = {
    "C1": "Interim care order",
    "C2": "Full care order",
    "D1": "Placement order granted",
    "E1": "Placement order granted",
    "J1": "Youth justice legal statuses",
    "J2": "Youth justice legal statuses",
    "J3": "Youth justice legal statuses",
    "L1": "Detained for child protection",
    "L2": "Detained for child protection",
    "L3": "Detained for child protection",
    "V2": "Voluntary agreements under S20 CA 1989",
    "V3": "Short-term breaks",
    "V4": "Short-term breaks",
}
