"""Case-management extracts: the child address extract, the flat referrals CSV, and ``attach_ward``.

Formats are in ``docs/data_model.md`` sections 1.3 and 1.4 (UTF-8 CSV, dates ``dd/mm/yyyy``).
CSV reading shares :func:`helpers.readers.ssda903.read_csv_text`, so unreadable files raise the same
one-line :class:`helpers.readers.ledger.ReaderError` (empty, UTF-16, not UTF-8, extra fields, missing
required column, a required date column with no ``dd/mm/yyyy`` value in any row).

Both extracts: a row with fewer fields than the header -> excluded; a date column not
consistently dd/mm/yyyy refuses the file (``helpers.readers.input_checks``). ``as_at`` (default: the
file's modification date) bounds the dates: starts after it excluded, ends after it repaired
(current/open), starts more than 19 years before it excluded.

Address extract (``read_address_extract``), ledger source = file name, row = CSV line:
  * required columns LAchildID, Postcode, AddressStartDate; optional LSOA, WardCode, AddressEndDate
  * LAchildID missing -> excluded
  * AddressStartDate missing / not a date -> excluded
  * AddressEndDate not a date -> repaired: treated as current (blank)
  * AddressEndDate before AddressStartDate -> excluded
  * same child and start date twice -> later copy excluded
  * Postcode not a UK postcode or sector -> repaired: sector set to missing
  * the full postcode is degraded to its sector on read (``QX4 7AB`` -> ``QX4 7``)

Flat referrals (``read_flat_referrals``): the same referral rules as the CIN census reader
(see :mod:`helpers.readers.cin_census`), except that there is no reference date; ``collection_year``
is the year ending 31 March that contains the referral date; BirthMonth ``mm/yyyy`` not a month
-> repaired: set to missing; Sex not 0/1/2/9 -> repaired: ``0``; Disability not a code ->
repaired: counted as a disability. The export holds no assessments, plans or section 47s, so
``n_assessments`` is 0 and ``has_cin_plan``/``has_s47``/``has_cp_plan`` are False, and the
other tables are empty. Children: one row per LAchildID, characteristics from its latest referral.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers import codes
from helpers.readers import input_checks, specs
from helpers.reference import postcodes
from helpers.readers.cin_census import (ASSESSMENT_COLUMNS, CHILDREN_COLUMNS, CIN_PLAN_COLUMNS, CP_PLAN_COLUMNS,
                                REFERRAL_COLUMNS, S47_COLUMNS, CINCensus)
from helpers.readers.ledger import Ledger, ReaderError
from helpers.readers.schemas import RowChecks, clean_text, code_not_in, iso_day, parse_dates, validate
from helpers.readers.ssda903 import read_csv_text

DMY = "%d/%m/%Y"
ADDRESS_COLUMNS = ["child_id", "postcode_sector", "lsoa_code", "ward_code", "start_date", "end_date"]


def postcode_sector(postcode: pd.Series) -> pd.Series:
    """Postcode sector (``"QX4 7"``) from full postcodes or sectors, any spacing or case
    (the rule is :func:`helpers.reference.postcodes.postcode_sector`); ``None`` where the value is not a
    UK postcode or sector."""
    sector = postcodes.postcode_sector(postcode).astype(object)
    return sector.where(sector.notna(), None)


def _require(path: Path, df: pd.DataFrame, required: list[str], what: str) -> None:
    missing = [c for c in required if c.upper() not in df.columns]
    if missing:
        raise ReaderError(path, "line 1", missing[0], f"required column missing; expected {what} with columns "
                          + ",".join(required))


def _dates_readable(path: Path, df: pd.DataFrame, column: str, fmt: str, shown: str) -> None:
    dates, bad = parse_dates(df[column], fmt)
    if bad.any() and dates.notna().sum() == 0:
        first = df.index[bad.to_numpy()][0]
        raise ReaderError(path, f"line {df.loc[first, '_row']}", column,
                          f"found {str(df.loc[first, column]).strip()!r} and no date in {shown} form in any row; "
                          f"expected dates as {shown}")


def read_address_extract(path, as_at=None) -> tuple[pd.DataFrame, Ledger]:
    """Read the child address extract (data_model 1.3).

    Input: path to ``LAchildID,Postcode,LSOA,WardCode,AddressStartDate,AddressEndDate`` CSV.
    Output: ``(addresses, ledger)``; addresses has ``child_id, postcode_sector, lsoa_code,
    ward_code, start_date, end_date`` (end NaT = current). ``as_at``: the date the extract was
    taken (default: the file's modification date). Rules: module docstring.
    """
    path = Path(path)
    df = read_csv_text(path, "a child address extract")
    _require(path, df, ["LAchildID", "Postcode", "AddressStartDate"], "a child address extract")
    for col in ("LSOA", "WARDCODE", "ADDRESSENDDATE"):
        if col not in df.columns:
            df[col] = ""
    _dates_readable(path, df, "ADDRESSSTARTDATE", DMY, "dd/mm/yyyy")
    input_checks.check_date_formats(path, df, ("ADDRESSSTARTDATE", "ADDRESSENDDATE"))
    ledger = Ledger()
    df = df.reset_index(drop=True)
    df["_source"] = path.name
    ledger.add_read(path.name, len(df))
    df["child_id"] = clean_text(df["LACHILDID"])
    start, sbad = parse_dates(df["ADDRESSSTARTDATE"], DMY)
    end, ebad = parse_dates(df["ADDRESSENDDATE"], DMY)
    rc = RowChecks(df, ledger)
    rc.exclude(df["child_id"].isna(), "LAchildID missing", "LAchildID", "blank")
    rc.require_date(start, sbad, "address start date", "AddressStartDate", df["ADDRESSSTARTDATE"])
    as_at = pd.Timestamp(as_at) if as_at is not None else input_checks.file_date(path)
    rc.exclude(start > as_at, "address start date after the extract's date", "AddressStartDate",
               df["ADDRESSSTARTDATE"] + " > " + f"{as_at:%d/%m/%Y}")
    rc.exclude(start < input_checks.earliest_plausible(as_at), "address start date implausibly early (more than "
               f"{input_checks.MAX_RECORD_AGE_YEARS} years before the extract's date)", "AddressStartDate",
               df["ADDRESSSTARTDATE"])
    hit = rc.repair(ebad, "address end date not a date: treated as current", "AddressEndDate", df["ADDRESSENDDATE"])
    end = end.where(~hit)
    hit = rc.repair(end > as_at, "address end date after the extract's date: treated as current", "AddressEndDate",
                    df["ADDRESSENDDATE"])
    end = end.where(~hit)
    rc.exclude(end < start, "address end date before start date", "AddressEndDate",
               df["ADDRESSSTARTDATE"] + " > " + df["ADDRESSENDDATE"])
    df["start_date"], df["end_date"] = start, end
    dup = df[rc.alive].duplicated(["child_id", "start_date"], keep="first").reindex(df.index, fill_value=False)
    rc.exclude(dup, "duplicate: same child and address start date twice", "AddressStartDate", df["ADDRESSSTARTDATE"])
    df["postcode_sector"] = postcode_sector(df["POSTCODE"])
    rc.repair(clean_text(df["POSTCODE"]).notna() & df["postcode_sector"].isna(),
              "postcode not recognised: sector set to missing", "Postcode", "value withheld (postcode)")
    df["lsoa_code"] = clean_text(df["LSOA"])
    df["ward_code"] = clean_text(df["WARDCODE"])
    kept = rc.finish()
    out = kept[ADDRESS_COLUMNS].copy().reset_index(drop=True)
    out["child_id"] = out["child_id"].astype(str)
    validate("addresses", out)
    ledger.check_reconciles()
    return out, ledger


def read_flat_referrals(path, as_at=None) -> CINCensus:
    """Read the flat referrals CSV (data_model 1.4) into a :class:`CINCensus`.

    Input: path to ``LAchildID,ReferralDate,ReferralSource,PrimaryNeedCode,ClosureDate,
    ReasonForClosure,ReferralNFA,Sex,BirthMonth,Ethnicity,Disability``.
    Output: ``children`` and ``referrals`` with the CIN census reader's columns (the other
    tables empty), the ledger and identifiers. ``as_at``: the date the export was taken
    (default: the file's modification date). Rules: module docstring.
    """
    path = Path(path)
    required = ["LAchildID", "ReferralDate", "ReferralSource", "PrimaryNeedCode", "ClosureDate",
                "ReasonForClosure", "ReferralNFA", "Sex", "BirthMonth", "Ethnicity", "Disability"]
    df = read_csv_text(path, "a flat referrals export")
    _require(path, df, required, "a flat referrals export")
    _dates_readable(path, df, "REFERRALDATE", DMY, "dd/mm/yyyy")
    input_checks.check_date_formats(path, df, ("REFERRALDATE", "CLOSUREDATE"))
    df = df.reset_index(drop=True)
    source = path.name
    df["_source"] = source
    ledger = Ledger()
    ledger.add_read(source, len(df))
    for col in ("LACHILDID", "REFERRALSOURCE", "PRIMARYNEEDCODE", "REASONFORCLOSURE", "SEX", "ETHNICITY",
                "DISABILITY"):
        df[col] = clean_text(df[col])
    rd, rd_bad = parse_dates(df["REFERRALDATE"], DMY)
    cd, cd_bad = parse_dates(df["CLOSUREDATE"], DMY)
    rc = RowChecks(df, ledger)
    rc.exclude(df["LACHILDID"].isna(), "LAchildID missing", "LAchildID", "blank")
    rc.require_date(rd, rd_bad, "referral date", "ReferralDate", df["REFERRALDATE"])
    as_at = pd.Timestamp(as_at) if as_at is not None else input_checks.file_date(path)
    rc.exclude(rd > as_at, "referral date after the export's date", "ReferralDate",
               df["REFERRALDATE"] + " > " + f"{as_at:%d/%m/%Y}")
    rc.exclude(rd < input_checks.earliest_plausible(as_at), "referral date implausibly early (more than "
               f"{input_checks.MAX_RECORD_AGE_YEARS} years before the export's date)", "ReferralDate", df["REFERRALDATE"])
    birth, _ = parse_dates(df["BIRTHMONTH"], "%m/%Y")
    rc.exclude(rd < birth - pd.Timedelta(days=input_checks.PRE_BIRTH_DAYS),
               "referral date before the child's birth (more than 40 weeks before BirthMonth)", "ReferralDate",
               lambda m: df.loc[m, "REFERRALDATE"] + " < birth month " + df.loc[m, "BIRTHMONTH"])
    hit = rc.repair(cd_bad, "closure date not a date: treated as open", "ClosureDate", df["CLOSUREDATE"])
    cd = cd.where(~hit)
    hit = rc.repair(cd > as_at, "closure date after the export's date: treated as open", "ClosureDate", df["CLOSUREDATE"])
    cd = cd.where(~hit)
    rc.exclude(cd < rd, "referral after closure: closure date before referral date", "ClosureDate",
               df["REFERRALDATE"] + " > " + df["CLOSUREDATE"])
    df["referral_date"] = rd
    dup = df[rc.alive].duplicated(["LACHILDID", "referral_date"], keep="first").reindex(df.index, fill_value=False)
    rc.exclude(dup, "duplicate: same child and referral date twice in one file", "ReferralDate", df["REFERRALDATE"])
    rc.repair(df["REASONFORCLOSURE"].notna() & cd.isna(), "closure reason without closure date: treated as open",
              "ReasonForClosure", df["REASONFORCLOSURE"], "REASONFORCLOSURE", None)
    rc.repair(df["REASONFORCLOSURE"].isna() & cd.notna(),
              "closure date without closure reason: kept closed, reason missing", "ReasonForClosure", "blank")
    for col, field, allowed, label in (("REFERRALSOURCE", "ReferralSource", codes.REFERRAL_SOURCES, "referral source"),
                                       ("PRIMARYNEEDCODE", "PrimaryNeedCode", codes.PRIMARY_NEED_CODES, "primary need code"),
                                       ("REASONFORCLOSURE", "ReasonForClosure", codes.REASONS_FOR_CLOSURE, "closure reason"),
                                       ("ETHNICITY", "Ethnicity", codes.ETHNICITY_CODES, "ethnicity code")):
        rc.repair(code_not_in(df[col], allowed), f"{label} not recognised: set to missing", field, df[col], col, None)
    # sex in either vocabulary (0/1/2/9 or M/F/U) -> the analysis vocabulary M/F/U (helpers.readers.specs)
    sex_raw = df["SEX"].copy()
    df["SEX"] = sex_raw.map(specs.sex_to_analysis, na_action="ignore")
    rc.repair(df["SEX"].isna(), "sex missing or not a code: set to U (not recorded)", "Sex",
              sex_raw.fillna("blank"), "SEX", "U")
    nfa_text = clean_text(df["REFERRALNFA"])
    yes = nfa_text.isin(list(codes.YES_VALUES))
    rc.repair(~yes & ~nfa_text.isin(list(codes.NO_VALUES)), "ReferralNFA not true/false: set to false",
              "ReferralNFA", df["REFERRALNFA"])
    bm, bm_bad = parse_dates(df["BIRTHMONTH"], "%m/%Y")
    rc.repair(bm_bad, "birth month not a month (expected mm/yyyy): set to missing", "BirthMonth", df["BIRTHMONTH"])
    rc.repair(code_not_in(df["DISABILITY"], codes.DISABILITY_CODES),
              "disability code not recognised: counted as a disability", "Disability", df["DISABILITY"])
    df["referral_nfa"], df["closure_date"], df["birth_month"] = yes, cd, bm
    kept = rc.finish().copy()

    year = np.where(kept["referral_date"].dt.month >= 4, kept["referral_date"].dt.year + 1,
                    kept["referral_date"].dt.year).astype(int)
    child_id = kept["LACHILDID"].astype(str)
    referrals = pd.DataFrame({
        "referral_id": child_id + "|" + iso_day(kept["referral_date"]),
        "child_id": child_id, "referral_date": kept["referral_date"],
        "referral_source": kept["REFERRALSOURCE"], "primary_need": kept["PRIMARYNEEDCODE"],
        "closure_date": kept["closure_date"], "closure_reason": kept["REASONFORCLOSURE"],
        "referral_nfa": kept["referral_nfa"].astype(bool), "n_assessments": 0, "has_cin_plan": False,
        "has_s47": False, "has_cp_plan": False, "collection_year": year, "source_file": source,
    })[REFERRAL_COLUMNS].sort_values(["child_id", "referral_date"], kind="stable").reset_index(drop=True)
    chars = pd.DataFrame({
        "child_id": child_id, "sex": kept["SEX"].astype(str), "birth_month": kept["birth_month"],
        "ethnicity": kept["ETHNICITY"],
        "disability": kept["DISABILITY"].notna() & kept["DISABILITY"].ne("NONE"),
        "collection_year": year, "_date": kept["referral_date"],
    }).sort_values(["child_id", "_date"], kind="stable")
    children = chars.groupby("child_id", sort=True).tail(1).copy()
    children["collection_year"] = chars.groupby("child_id")["collection_year"].max().reindex(children["child_id"]).to_numpy()
    children = children[CHILDREN_COLUMNS].reset_index(drop=True)

    def empty(cols, dates=(), bools=(), ints=()):
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        for c in dates:
            frame[c] = frame[c].astype("datetime64[ns]")
        for c in bools:
            frame[c] = frame[c].astype(bool)
        for c in ints:
            frame[c] = frame[c].astype("Int64")
        return frame

    out = CINCensus(
        children=children, referrals=referrals,
        assessments=empty(ASSESSMENT_COLUMNS, dates=("assessment_start", "assessment_authorised")),
        cin_plans=empty(CIN_PLAN_COLUMNS, dates=("cin_plan_start", "cin_plan_end")),
        section47=empty(S47_COLUMNS, dates=("s47_start", "icpc_target", "icpc_date"), bools=("icpc_not_required",)),
        cp_plans=empty(CP_PLAN_COLUMNS, dates=("cpp_start", "cpp_end"), ints=("n_previous_cpp",)),
        ledger=ledger, identifiers=set(clean_text(df["LACHILDID"]).dropna().astype(str)),
    )
    validate("cin_children", out.children)
    validate("cin_referrals", out.referrals)
    ledger.check_reconciles()
    return out


#: Why an address gives no ward of the council (``ward_problem`` of :func:`check_ward_codes`).
WARD_PROBLEMS = {
    "blank": "address has no ward or LSOA code",
    "unknown": "ward code not in the ONS lookup (nor a known LSOA)",
    "elsewhere": "ward of another council",
}


def check_ward_codes(addresses: pd.DataFrame, lookup: pd.DataFrame, la_codes=None,
                     source: str = "address extract: ward codes") -> tuple[pd.DataFrame, Ledger]:
    """Validate the address extract's ward and LSOA codes against the ONS lookup.

    Inputs: ``addresses`` from :func:`read_address_extract`; ``lookup`` from
    ``helpers.reference.geography.read_lsoa_ward_lookup``; ``la_codes`` the council's LAD code(s) (None:
    any council in the lookup).
    Rules, per address row (ledger ``source``; repairs, the row is kept):
      * ward code not in the lookup but the LSOA is -> repaired: ward taken from the LSOA
        ("ward code not in the ONS lookup: ward from the LSOA"); a blank ward with a known LSOA
        likewise ("ward code blank: ward from the LSOA");
      * neither ward nor LSOA known -> repaired: ward and LSOA set to missing, ``ward_problem``
        says why (:data:`WARD_PROBLEMS`: blank, or not in the lookup - a typing slip, an
        out-of-date code or text such as a formula typed into the field);
      * a known ward of another council (``la_codes``) -> ward set to missing, ``ward_problem``
        "ward of another council".
    Output ``(addresses, ledger)``: a copy with ``ward_code``/``lsoa_code`` validated and
    ``ward_problem`` (None when the ward is one of the council's).
    """
    out = addresses.copy()
    wards = lookup.drop_duplicates("ward_code").set_index("ward_code")["lad_code"]
    lsoa_ward = lookup.drop_duplicates("lsoa_code").set_index("lsoa_code")["ward_code"]
    ward = clean_text(out["ward_code"])
    lsoa = clean_text(out["lsoa_code"])
    ward_ok = ward.isin(wards.index)
    lsoa_ok = lsoa.isin(lsoa_ward.index)
    ledger = Ledger()
    ledger.add_read(source, len(out))
    ledger.add_used(source, len(out))
    from_lsoa = ~ward_ok & lsoa_ok
    blank_ward = ward.isna()
    for mask, rule in ((from_lsoa & ~blank_ward, "ward code not in the ONS lookup: ward from the LSOA"),
                       (from_lsoa & blank_ward, "ward code blank: ward from the LSOA")):
        ledger.repair_rows(source, [None] * int(mask.sum()), rule, "WardCode", ward[mask].astype(str).to_numpy())
    ward = ward.where(~from_lsoa, lsoa.map(lsoa_ward))
    problem = pd.Series(None, index=out.index, dtype=object)
    none_known = ~ward_ok & ~lsoa_ok
    problem[none_known & blank_ward & lsoa.isna()] = WARD_PROBLEMS["blank"]
    problem[none_known & problem.isna()] = WARD_PROBLEMS["unknown"]
    ledger.repair_rows(source, [None] * int(none_known.sum()), "ward not known: set to missing", "WardCode",
                       problem[none_known].to_numpy())
    ward = ward.where(~none_known, None)
    lsoa = lsoa.where(lsoa_ok, None)
    if la_codes is not None:
        codes_ = {la_codes} if isinstance(la_codes, str) else set(la_codes)
        elsewhere = ward.notna() & ~ward.map(wards).isin(codes_)
        problem[elsewhere] = WARD_PROBLEMS["elsewhere"]
        ward = ward.where(~elsewhere, None)
        lsoa = lsoa.where(~elsewhere, None)
    out["ward_code"], out["lsoa_code"] = ward.astype(object), lsoa.astype(object)
    out["ward_problem"] = problem.astype(object).where(problem.notna(), None)
    return out, ledger


def attach_ward(referrals: pd.DataFrame, addresses: pd.DataFrame) -> pd.DataFrame:
    """Add the child's ``ward_code`` and ``lsoa_code`` on the referral date.

    Inputs: ``referrals`` (needs ``child_id``, ``referral_date``) and ``addresses`` (the
    output of :func:`read_address_extract`).
    Rule: the address in force on the referral date (start <= date <= end, end blank = current;
    if several, the latest start); else the child's nearest address in time (fewest days between
    the referral date and the address period; ties to the later address); else missing.
    Output: a copy of ``referrals`` with ``ward_code``, ``lsoa_code`` and ``address_match``
    (``"in force"``, ``"nearest"``, ``"none"`` (no address), or ``"no ward: <reason>"`` when the
    address found has no ward of the council: blank, not in the ONS lookup or another council's,
    see :func:`check_ward_codes`); the counts by ``address_match`` are also in
    ``out.attrs["address_match_counts"]`` so the report counts every referral it cannot place.
    """
    out = referrals.copy()
    left = pd.DataFrame({"_i": np.arange(len(out)), "child_id": out["child_id"].to_numpy(),
                         "referral_date": out["referral_date"].to_numpy()})
    keep = ["child_id", "ward_code", "lsoa_code", "start_date", "end_date"] + (
        ["ward_problem"] if "ward_problem" in addresses.columns else [])
    pairs = left.merge(addresses[keep],
                       on="child_id", how="inner")
    date, start = pairs["referral_date"], pairs["start_date"]
    end = pairs["end_date"]
    before = (start - date).dt.days.clip(lower=0)          # address starts after the referral
    after = (date - end).dt.days.clip(lower=0).fillna(0)    # address ended before the referral
    pairs["_gap"] = before + after
    pairs = pairs.sort_values(["_i", "_gap", "start_date"], ascending=[True, True, False], kind="stable")
    best = pairs.drop_duplicates("_i", keep="first").set_index("_i")
    idx = np.arange(len(out))
    out["ward_code"] = best["ward_code"].reindex(idx).to_numpy()
    out["lsoa_code"] = best["lsoa_code"].reindex(idx).to_numpy()
    gap = best["_gap"].reindex(idx)
    match = np.where(gap.isna(), "none", np.where(gap.eq(0), "in force", "nearest")).astype(object)
    # an address found but with no ward of the council is not a placed referral: say why
    no_ward = (gap.notna() & pd.isna(out["ward_code"])).to_numpy()
    if no_ward.any():
        why = (best["ward_problem"].reindex(idx).to_numpy() if "ward_problem" in best.columns
               else np.full(len(idx), None, dtype=object))
        match[no_ward] = ["no ward: " + (w if isinstance(w, str) else WARD_PROBLEMS["blank"]) for w in why[no_ward]]
    out["address_match"] = match
    out.attrs["address_match_counts"] = out["address_match"].value_counts().to_dict()
    return out


def unplaced_text(reasons: dict[str, int], threshold: int) -> str:
    """Plain text of records that could not be placed in a ward, by reason, safe to publish.

    ``reasons`` maps a reason to a count. Counts from 1 to ``threshold`` show as "c"; when only
    one reason would be hidden, the next smallest is hidden too, so that no hidden count can be
    worked out from the total. Reasons with a zero count are left out.
    Example: ``{"no address": 40, "ward code not in the ONS lookup": 3}`` with threshold 5 ->
    ``"no address: c; ward code not in the ONS lookup: c"``.
    """
    items = sorted(((k, int(v)) for k, v in reasons.items() if int(v) > 0), key=lambda kv: kv[1])
    small = {k for k, v in items if v <= threshold}
    if len(small) == 1 and len(items) > 1:
        small.add(next(k for k, _ in items if k not in small))
    return "; ".join(f"{k}: {'c' if k in small else f'{v:,}'}" for k, v in sorted(items, key=lambda kv: -kv[1]))
