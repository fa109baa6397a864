"""Validation: pandera schemas for every tidy table, and the row-rule engine the readers share.

Two layers, both vectorised:

1. **Row rules** (:class:`RowChecks`): while a reader turns raw text into a tidy table, each
   rule is a boolean mask over the rows. A failing row is either *excluded* (it is dropped and
   listed in the ledger with the rule, field, row number and offending value) or *repaired*
   (a documented change, e.g. an unknown code set to missing, listed in the ledger; the row is
   kept). A row is excluded by the first exclusion rule it fails, so
   rows read = rows used + rows excluded always holds. The rules themselves are documented in
   each reader's module docstring and in ``docs/data_quality_rules.md``.
2. **Output schemas** (pandera ``DataFrameSchema`` objects below, one per tidy table of
   ``docs/data_model.md`` section 2): required columns, dtypes, code lists (by collection year
   where lists change), date logic and key uniqueness. Readers validate their output against
   these as a post-condition (:func:`validate`), so a table that leaves a reader always meets
   the contract; analyses and tests can validate frames from anywhere with the same schemas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.dtypes import immutable
from pandera.engines import pandas_engine

from helpers import codes
from helpers.readers import specs
from helpers.readers.ledger import Ledger

# --------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------


def clean_text(raw: pd.Series, allowed=None) -> pd.Series:
    """Strip whitespace; empty strings become missing (``None``). Object dtype out.

    With ``allowed`` (a code list), values already in the list are left alone and only the
    others are stripped: the same result, without a per-value pass over clean columns.
    """
    s = raw.astype(object)
    if allowed is not None:
        todo = s.notna() & ~s.isin(list(allowed))
    else:
        todo = s.notna()
    if todo.any():
        s = s.copy()
        s[todo] = s[todo].astype(str).str.strip()
    return s.where(s.notna() & s.ne(""), None)


def parse_dates(raw: pd.Series, fmt: str) -> tuple[pd.Series, pd.Series]:
    """Parse text dates with an exact ``fmt``; return ``(dates, bad)``.

    ``dates`` is ``datetime64[ns]`` (NaT when blank or unparseable); ``bad`` is True where
    text was present but is not a date in ``fmt`` (e.g. ``31/02/2023`` or ``2023-13-01``).
    Surrounding spaces are allowed (only values that fail the fast parse are stripped).
    """
    s = raw.astype(object)
    s = s.where(s.notna() & s.ne(""), None)
    dates = pd.to_datetime(s, format=fmt, errors="coerce")
    if dates.dtype != "datetime64[ns]":
        dates = dates.astype("datetime64[ns]")
    failed = s.notna() & dates.isna()
    if failed.any():
        stripped = clean_text(s[failed])
        dates = dates.copy()
        dates[failed] = pd.to_datetime(stripped, format=fmt, errors="coerce").astype("datetime64[ns]")
        bad = failed & dates.isna() & stripped.reindex(s.index).notna()
    else:
        bad = failed
    return dates, bad


def to_month(dates: pd.Series) -> pd.Series:
    """Degrade dates to the 1st of their month (``datetime64[ns]``; NaT stays NaT)."""
    values = dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]").astype("datetime64[ns]")
    return pd.Series(values, index=dates.index)


def iso_day(dates: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` text for dates (vectorised; NaT gives ``"NaT"``)."""
    return pd.Series(np.datetime_as_string(dates.to_numpy(dtype="datetime64[ns]"), unit="D"),
                     index=dates.index)


# --------------------------------------------------------------------------------------
# Row rules
# --------------------------------------------------------------------------------------


class RowChecks:
    """Apply exclusion and repair rules to a raw frame, recording each in a ledger.

    ``df`` must hold ``_source`` (ledger source name) and ``_row`` (line or element number).
    Rules are applied in the order they are called; each mask is restricted to rows not yet
    excluded. :meth:`finish` records rows used and returns the kept rows.
    """

    def __init__(self, df: pd.DataFrame, ledger: Ledger):
        self.df = df
        self.ledger = ledger
        self.excluded_rule = pd.Series(None, index=df.index, dtype=object)
        if "_replaced" in df.columns:
            # a file replaced by a resubmission for the same year: every row, naming the file used
            from helpers.readers.input_checks import RESUBMITTED_RULE

            gone = pd.Series(df["_replaced"].to_numpy(), index=df.index)
            self.exclude(gone.notna(), RESUBMITTED_RULE, None, gone)
        if "_truncated" in df.columns:
            # a row cut short (fewer fields than the header): its missing fields would read as
            # blanks (an open episode, no end date), so it is excluded first
            from helpers.readers.input_checks import TRUNCATED_RULE

            short = pd.Series(df["_truncated"].to_numpy(), index=df.index).fillna(0).astype(int)
            self.exclude(short > 0, TRUNCATED_RULE, None,
                         lambda m: "only " + short[m].astype(str) + " field(s)")

    @property
    def alive(self) -> pd.Series:
        return self.excluded_rule.isna()

    def _details(self, mask: pd.Series, detail) -> object:
        if callable(detail):                      # built only for the rows hit
            return np.asarray(detail(mask).astype(str), dtype=object)
        if isinstance(detail, pd.Series):
            return detail[mask].astype(str).to_numpy()
        return detail

    def _mask(self, mask) -> pd.Series:
        mask = pd.Series(mask, index=self.df.index) if not isinstance(mask, pd.Series) else mask
        if mask.dtype != bool:
            mask = mask.astype("boolean").fillna(False).astype(bool)
        return mask & self.alive

    def exclude(self, mask: pd.Series, rule: str, field: str | None, detail) -> pd.Series:
        """Exclude rows where ``mask`` (and not already excluded); return the rows hit."""
        hit = self._mask(mask)
        if hit.any():
            self.excluded_rule[hit] = rule
            self.ledger.exclude_rows(self.df.loc[hit, "_source"].to_numpy(),
                                     self.df.loc[hit, "_row"].to_numpy(), rule, field,
                                     self._details(hit, detail))
        return hit

    def require_date(self, dates: pd.Series, bad: pd.Series, label: str, field: str, raw) -> None:
        """A required dd/mm/yyyy date: exclude rows where it is blank ("<label> missing") or not a
        date ("<label> not a date (expected dd/mm/yyyy)"), in that order."""
        self.exclude(dates.isna() & ~bad, f"{label} missing", field, "blank")
        self.exclude(bad, f"{label} not a date (expected dd/mm/yyyy)", field, raw)

    def exclude_with_rules(self, mask: pd.Series, rules: pd.Series, field: str | None, detail) -> pd.Series:
        """Exclude rows where ``mask``, each with its own rule text from ``rules``."""
        hit = self._mask(mask)
        if hit.any():
            sub_rules = rules[hit]
            for rule in sub_rules.unique():          # loop over distinct rules, not rows
                this = hit & rules.eq(rule)
                self.excluded_rule[this] = rule
                self.ledger.exclude_rows(self.df.loc[this, "_source"].to_numpy(),
                                         self.df.loc[this, "_row"].to_numpy(), rule, field,
                                         self._details(this, detail))
        return hit

    def repair(self, mask: pd.Series, rule: str, field: str | None, detail,
               column: str | None = None, value=None) -> pd.Series:
        """Repair rows where ``mask``: set ``column`` to ``value`` (if given) and record it."""
        hit = self._mask(mask)
        if hit.any():
            self.ledger.repair_rows(self.df.loc[hit, "_source"].to_numpy(),
                                    self.df.loc[hit, "_row"].to_numpy(), rule, field,
                                    self._details(hit, detail))
            if column is not None:
                self.df.loc[hit, column] = value
        return hit

    def finish(self) -> pd.DataFrame:
        """Record the kept rows as used (per source) and return them."""
        kept = self.df[self.alive.to_numpy()]
        self.ledger.add_used_counts(kept["_source"])
        return kept


def code_not_in(values: pd.Series, allowed) -> pd.Series:
    """True where a value is present but not one of ``allowed``."""
    return values.notna() & ~values.isin(list(allowed))


def place_invalid_for_year(place: pd.Series, year: pd.Series) -> pd.Series:
    """True where a present PLACE code is unknown or not valid in the row's collection year."""
    first = place.map({p.code: p.first_year or 0 for p in codes.PLACEMENT_CODES})
    last = place.map({p.code: p.last_year or 9999 for p in codes.PLACEMENT_CODES})
    known = first.notna()
    in_years = known & (year >= first.fillna(0)) & (year <= last.fillna(9999))
    return place.notna() & ~in_years


# --------------------------------------------------------------------------------------
# Output schemas (pandera): the contract of docs/data_model.md section 2
# --------------------------------------------------------------------------------------

_DT = "datetime64[ns]"


@immutable
class _Str(pandas_engine.NpString):
    """pandera's ``str`` dtype (every value a Python ``str``, or missing), checked in one
    vectorised pass (``pandas.api.types.infer_dtype``) instead of a Python call per value.

    Only a column that fails falls back to pandera's own per-value check, so failures and
    failure cases are reported exactly as for ``pa.Column(str)``.
    """

    def check(self, pandera_dtype, data_container=None):
        if isinstance(data_container, pd.Series) and \
                pd.api.types.infer_dtype(data_container, skipna=True) in ("string", "empty"):
            return True
        return super().check(pandera_dtype, data_container)


STR = _Str()


def _codes(mapping) -> pa.Check:
    return pa.Check.isin(list(mapping))


def _not_after(start: str, end: str) -> pa.Check:
    """Row check: ``start`` <= ``end`` where both are present."""
    return pa.Check(lambda df: ~(df[start].notna() & df[end].notna() & (df[start] > df[end])),
                    name=f"{start} not after {end}", ignore_na=False)


def _unique(cols: list[str]) -> pa.Check:
    return pa.Check(lambda df: ~df.duplicated(cols, keep=False), name=f"unique {'+'.join(cols)}", ignore_na=False)


CIN_CHILDREN = pa.DataFrameSchema({
    "child_id": pa.Column(STR, nullable=False),
    "sex": pa.Column(STR, _codes(specs.SEX_CODES)),
    "birth_month": pa.Column(_DT, pa.Check(lambda s: s.dropna().dt.day.eq(1), name="1st of month"), nullable=True),
    "ethnicity": pa.Column(object, _codes(codes.ETHNICITY_CODES), nullable=True),
    "disability": pa.Column(bool),
    "collection_year": pa.Column(int),
}, checks=[_unique(["child_id"])], strict=True, ordered=True, name="cin children")

CIN_REFERRALS = pa.DataFrameSchema({
    "referral_id": pa.Column(STR, unique=True),
    "child_id": pa.Column(STR),
    "referral_date": pa.Column(_DT, nullable=False),
    "referral_source": pa.Column(object, _codes(codes.REFERRAL_SOURCES), nullable=True),
    "primary_need": pa.Column(object, _codes(codes.PRIMARY_NEED_CODES), nullable=True),
    "closure_date": pa.Column(_DT, nullable=True),
    "closure_reason": pa.Column(object, _codes(codes.REASONS_FOR_CLOSURE), nullable=True),
    "referral_nfa": pa.Column(bool),
    "n_assessments": pa.Column(int, pa.Check.ge(0)),
    "has_cin_plan": pa.Column(bool),
    "has_s47": pa.Column(bool),
    "has_cp_plan": pa.Column(bool),
    "collection_year": pa.Column(int),
    "source_file": pa.Column(STR),
}, checks=[_not_after("referral_date", "closure_date"),
           pa.Check(lambda df: ~(df["closure_reason"].notna() & df["closure_date"].isna()),
                    name="closure reason only with closure date", ignore_na=False),
           _unique(["child_id", "referral_date"])],
    strict=True, ordered=True, name="cin referrals")

CIN_ASSESSMENTS = pa.DataFrameSchema({
    "referral_id": pa.Column(STR), "child_id": pa.Column(STR),
    "assessment_start": pa.Column(_DT, nullable=False),
    "assessment_authorised": pa.Column(_DT, nullable=True),
    "factors": pa.Column(STR),
}, checks=[_not_after("assessment_start", "assessment_authorised")], strict=True, ordered=True,
    name="cin assessments")

CIN_PLANS = pa.DataFrameSchema({
    "referral_id": pa.Column(STR), "child_id": pa.Column(STR),
    "cin_plan_start": pa.Column(_DT, nullable=False),
    "cin_plan_end": pa.Column(_DT, nullable=True),
}, checks=[_not_after("cin_plan_start", "cin_plan_end")], strict=True, ordered=True, name="cin plans")

CIN_SECTION47 = pa.DataFrameSchema({
    "referral_id": pa.Column(STR), "child_id": pa.Column(STR),
    "s47_start": pa.Column(_DT, nullable=False),
    "icpc_target": pa.Column(_DT, nullable=True),
    "icpc_date": pa.Column(_DT, nullable=True),
    "icpc_not_required": pa.Column(bool),
}, strict=True, ordered=True, name="cin section47")

CIN_CP_PLANS = pa.DataFrameSchema({
    "referral_id": pa.Column(STR), "child_id": pa.Column(STR),
    "cpp_start": pa.Column(_DT, nullable=False),
    "cpp_end": pa.Column(_DT, nullable=True),
    "initial_category": pa.Column(object, _codes(codes.CATEGORIES_OF_ABUSE), nullable=True),
    "latest_category": pa.Column(object, _codes(codes.CATEGORIES_OF_ABUSE), nullable=True),
    "n_previous_cpp": pa.Column("Int64", pa.Check.ge(0), nullable=True),
}, checks=[_not_after("cpp_start", "cpp_end")], strict=True, ordered=True, name="cin cp plans")

SSDA903_HEADER = pa.DataFrameSchema({
    "child_id": pa.Column(STR),
    "sex": pa.Column(object, _codes(specs.SEX_CODES), nullable=True),
    "birth_month": pa.Column(_DT, nullable=True),
    "date_of_birth": pa.Column(_DT, nullable=True, required=False),
    "ethnicity": pa.Column(object, _codes(codes.ETHNICITY_CODES), nullable=True),
    "collection_year": pa.Column(int),
}, checks=[_unique(["child_id"])], strict=True, ordered=True, name="903 header")

SSDA903_EPISODES = pa.DataFrameSchema({
    "child_id": pa.Column(STR),
    "decom": pa.Column(_DT, nullable=False),
    "rne": pa.Column(object, _codes(codes.REASONS_NEW_EPISODE), nullable=True),
    "ls": pa.Column(object, _codes(codes.LEGAL_STATUSES), nullable=True),
    "cin": pa.Column(object, _codes(codes.CIN_CATEGORY_903), nullable=True),
    # unknown PLACE codes are kept (and reported): any text
    "place": pa.Column(object, nullable=True),
    "place_provider": pa.Column(object, _codes(codes.PLACEMENT_PROVIDERS), nullable=True),
    "dec": pa.Column(_DT, nullable=True),
    "rec": pa.Column(object, _codes(codes.REASONS_EPISODE_CEASED), nullable=True),
    "reason_place_change": pa.Column(object, nullable=True),
    "home_post": pa.Column(object, nullable=True),
    "pl_post": pa.Column(object, nullable=True),
    "urn": pa.Column(object, nullable=True),
    "collection_year": pa.Column(int),
    "source_file": pa.Column(STR),
}, checks=[_not_after("decom", "dec"), _unique(["child_id", "decom"])],
    strict=True, ordered=True, name="903 episodes")

SSDA903_UASC = pa.DataFrameSchema({
    "child_id": pa.Column(STR),
    "sex": pa.Column(object, _codes(specs.SEX_CODES), nullable=True),
    "birth_month": pa.Column(_DT, nullable=True),
    "duc": pa.Column(_DT, nullable=True),
}, strict=True, ordered=True, name="903 uasc")

SSDA903_MISSING = pa.DataFrameSchema({
    "child_id": pa.Column(STR),
    "missing": pa.Column(object, _codes(codes.MISSING_TYPES), nullable=True),
    "mis_start": pa.Column(_DT, nullable=False),
    "mis_end": pa.Column(_DT, nullable=True),
}, checks=[_not_after("mis_start", "mis_end")], strict=True, ordered=True, name="903 missing")

SSDA903_REVIEWS = pa.DataFrameSchema({
    "child_id": pa.Column(STR),
    "review_date": pa.Column(_DT, nullable=False),
    "participation": pa.Column(object, _codes(specs.SSDA903_SPECS[specs.LAST_YEAR]["reviews"].code_lists["REVIEW_CODE"]),
                               nullable=True),
    "collection_year": pa.Column(int),
}, checks=[_unique(["child_id", "review_date"])], strict=True, ordered=True, name="903 reviews")

_OC3 = specs.SSDA903_SPECS[specs.LAST_YEAR]["oc3"].code_lists
SSDA903_OC3 = pa.DataFrameSchema({
    "child_id": pa.Column(STR),
    "birth_month": pa.Column(_DT, nullable=True),
    "in_touch": pa.Column(object, _codes(_OC3["IN_TOUCH"]), nullable=True),
    "activity": pa.Column(object, _codes(_OC3["ACTIV"]), nullable=True),
    "accommodation": pa.Column(object, _codes(_OC3["ACCOM"]), nullable=True),
    "collection_year": pa.Column(int),
}, checks=[_unique(["child_id", "collection_year"])], strict=True, ordered=True, name="903 oc3")

ADDRESSES = pa.DataFrameSchema({
    "child_id": pa.Column(STR),
    "postcode_sector": pa.Column(object, pa.Check.str_matches(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9]$"), nullable=True),
    "lsoa_code": pa.Column(object, nullable=True),
    "ward_code": pa.Column(object, nullable=True),
    "start_date": pa.Column(_DT, nullable=False),
    "end_date": pa.Column(_DT, nullable=True),
}, checks=[_not_after("start_date", "end_date")], strict=True, ordered=True, name="child addresses")

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "cin_children": CIN_CHILDREN, "cin_referrals": CIN_REFERRALS, "cin_assessments": CIN_ASSESSMENTS,
    "cin_plans": CIN_PLANS, "cin_section47": CIN_SECTION47, "cin_cp_plans": CIN_CP_PLANS,
    "903_header": SSDA903_HEADER, "903_episodes": SSDA903_EPISODES, "903_uasc": SSDA903_UASC,
    "903_missing": SSDA903_MISSING, "903_reviews": SSDA903_REVIEWS, "903_oc3": SSDA903_OC3,
    "addresses": ADDRESSES,
}


def validate(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Validate a tidy table against its schema (all failures at once); return it unchanged.

    Raises ``pandera.errors.SchemaErrors`` listing every failing column/check. Readers call
    this on their output, so a failure here is a reader bug, not bad input.
    """
    return SCHEMAS[name].validate(df, lazy=True)
