"""The SSDA903 tables beyond header, episodes, UASC and missing, for one collection year.

Reviews, OC2 (outcomes of children looked after 12 months), OC3 (care leavers), AD1
(adoptions), placed for adoption, previous permanence and, from 2023-24, social worker
episodes: each written in the year's columns (``helpers.readers.specs.ssda903_tables``) so that no
validator rule is skipped for want of a table. Values are plausible, not modelled: the
analyses read only reviews and OC3. Random draws use their own generator (seeded per year),
so adding these tables changes nothing else in the demo.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.readers import specs
from .cin import birthday, day, dmy


def _csv(path: Path, table: str, year: int, frame: pd.DataFrame) -> None:
    cols = list(specs.ssda903_tables(year)[table].columns)
    frame.reindex(columns=cols).fillna("").to_csv(path, index=False, lineterminator="\n")


def write_other_tables(d: Path, year: int, ep: pd.DataFrame, kids: pd.DataFrame, start: float, end: float,
                       seed: int) -> np.ndarray:
    """Write the other tables of ``year`` into folder ``d``.

    ``ep``: every episode (``child, decom, dec, rec, rne, ls, place``; day numbers), ``kids``:
    looked-after children indexed by ``child`` (``dob, entry``), ``start``/``end``: the year's
    first and last day (day numbers; ``end`` is the extract date in the current part-year).
    Returns the OC3 care leavers' ids (they belong in the year's header too).
    """
    rng = np.random.default_rng([seed, year, 903])
    ye = day(date(year, 3, 31))
    in_year = ep[(ep["decom"] <= end) & (ep["dec"].isna() | (ep["dec"] >= start))]
    ids = pd.unique(in_year["child"])
    k = kids.loc[ids]
    dob = k["dob"].to_numpy(float)
    # period of care: from the child's entry to the end of their last episode (or open)
    last = ep.sort_values(["child", "decom"]).groupby("child").tail(1).set_index("child")
    leave = last.loc[ids, "dec"].to_numpy(float)
    leave = np.where(last.loc[ids, "rec"].to_numpy() == "X1", np.nan, leave)
    entry = k["entry"].to_numpy(float)

    # ---- reviews: 20 working days (28 days) after entry, 3 months after that, then every 6 months
    offsets = np.concatenate([[28, 28 + 91], 28 + 91 + 182 * np.arange(1, 40)])
    rev_day = entry[:, None] + offsets[None, :]
    stop = np.where(np.isnan(leave), end, np.minimum(leave, end))
    ok = (rev_day >= start) & (rev_day <= stop[:, None])
    ci, oi = np.nonzero(ok)
    rday = rev_day[ci, oi]
    age = (rday - dob[ci]) / 365.25
    code = np.where(age < 4, "PN0", np.array(["PN1", "PN2", "PN3", "PN4", "PN5", "PN6", "PN7"], dtype=object)[
        rng.choice(7, size=len(ci), p=[0.55, 0.15, 0.12, 0.08, 0.05, 0.03, 0.02])])
    _csv(d / "reviews.csv", "reviews", year, pd.DataFrame({
        "CHILD": ids[ci], "DOB": dmy(dob[ci]), "REVIEW": dmy(rday), "REVIEW_CODE": code}))

    # ---- OC2: looked after continuously for 12 months at 31 March: looked after on the year's first
    # day and not leaving care before 31 March (a child leaving on 31 March counts, as in rule 191;
    # in the current part-year: those who will have 12 months at 31 March if still looked after)
    oc2 = (entry <= start) & (np.isnan(leave) | (leave >= ye))
    n = int(oc2.sum())
    # SDQ for children 4 or over at 31 March and not yet 17 at the year's start (rules 197B, 189)
    sdq_age = (birthday(dob[oc2], 4) <= ye) & (birthday(dob[oc2], 17) >= start)
    _csv(d / "oc2.csv", "oc2", year, pd.DataFrame({
        "CHILD": ids[oc2], "DOB": dmy(dob[oc2]),
        "SDQ_SCORE": np.where(sdq_age, rng.integers(0, 41, n).astype(str), ""),
        "SDQ_REASON": "",
        "CONVICTED": np.where(birthday(dob[oc2], 10) <= ye, "0", ""),
        "HEALTH_CHECK": np.where(birthday(dob[oc2], 5) > ye, "1", ""),     # under-5s only (rule 546)
        "IMMUNISATIONS": "1", "TEETH_CHECK": "1", "HEALTH_ASSESSMENT": "1", "SUBSTANCE_MISUSE": "0",
        "INTERVENTION_RECEIVED": "", "INTERVENTION_OFFERED": ""}))

    # ---- OC3: care leavers whose 17th to 21st birthday falls in the year, who left care at 16+
    all_ids = last.index.to_numpy()
    all_dob = kids.loc[all_ids, "dob"].to_numpy(float)
    all_leave = np.where(last["rec"].to_numpy() == "X1", np.nan, last["dec"].to_numpy(float))
    # former relevant children: looked after for 13 weeks or more since their 14th birthday and on or
    # after their 16th, then left care (rule 1001 checks this on the two years of files it has)
    all_entry = kids.loc[all_ids, "entry"].to_numpy(float)
    since14 = all_leave - np.maximum(all_entry, birthday(all_dob, 14))
    # (not a child who died in care or was adopted: rules 1000, 1001)
    gone = last["rec"].isin(["E2", "E11", "E12"]).to_numpy()
    left16 = ~np.isnan(all_leave) & ~gone & (all_leave < start) & (all_leave > birthday(all_dob, 16)) & (since14 >= 91)
    bdays = np.stack([birthday(all_dob, a) for a in (17, 18, 19, 20, 21)], axis=1)
    bday_in = ((bdays >= start) & (bdays <= min(end, ye))).any(axis=1)
    oc3 = left16 & bday_in
    n3 = int(oc3.sum())
    _csv(d / "oc3.csv", "oc3", year, pd.DataFrame({
        "CHILD": all_ids[oc3], "DOB": dmy(all_dob[oc3]), "IN_TOUCH": "YES",
        "ACTIV": np.array(["F2", "P2", "F1", "G4", "G6"], dtype=object)[rng.choice(5, size=n3, p=[0.35, 0.1, 0.15, 0.3, 0.1])],
        "ACCOM": np.array(["S2", "V2", "K2", "U2"], dtype=object)[rng.choice(4, size=n3, p=[0.3, 0.3, 0.2, 0.2])]}))

    # ---- adoptions in the year (AD1) and placements for adoption
    # decision that the child should be placed for adoption: 60 days before the placement order (E1)
    # or the placement, whichever came first (rules 553, 554); AD1 gives the same date (rule 523)
    adopted = last.loc[ids, "rec"].isin(["E11", "E12"]).to_numpy() & (leave >= start) & (leave <= end)
    # the decision is dated from the child's whole history, so every year's files agree (rules 559, 560)
    placed = ep[ep["place"].isin(["A3", "A4", "A5", "A6"])].groupby("child")["decom"].min()
    e1 = ep[ep["ls"] == "E1"].groupby("child")["decom"].min()
    decided = pd.concat([e1, placed], axis=1).min(axis=1) - 60
    decided = np.maximum(decided, kids.loc[decided.index, "entry"] + 1)      # while looked after
    decided = decided[decided.index.isin(ids) & (decided <= min(end, ye))]
    a_ids = ids[adopted]
    date_int = decided.reindex(a_ids).to_numpy(float)
    date_int = np.where(np.isnan(date_int), leave[adopted] - 200, date_int)
    # matched with the adopters after the decision, by the start of the adoption episode (rule 331)
    last_decom = last.loc[a_ids, "decom"].to_numpy(float)
    date_match = np.maximum(np.minimum(date_int + 45, last_decom), date_int)
    with_carers = in_year[in_year["place"].isin(["A3", "A5"])]["child"].unique()   # adopted by foster carers
    _csv(d / "ad1.csv", "ad1", year, pd.DataFrame({
        "CHILD": a_ids, "DOB": dmy(dob[adopted]), "DATE_INT": dmy(date_int), "DATE_MATCH": dmy(date_match),
        "FOSTER_CARE": np.where(np.isin(a_ids, with_carers), "1", "0"), "NB_ADOPTR": "2", "SEX_ADOPTR": "MF",
        "LS_ADOPTR": "L11"}))
    p_ids = decided.index.to_numpy()
    _csv(d / "placed_for_adoption.csv", "placed_for_adoption", year, pd.DataFrame({
        "CHILD": p_ids, "DOB": dmy(kids.loc[p_ids, "dob"].to_numpy(float)), "DATE_PLACED": dmy(decided.to_numpy(float)),
        "DATE_PLACED_CEASED": "", "REASON_PLACED_CEASED": ""}))

    # ---- previous permanence: every child starting to be looked after in the year
    starts = (entry >= start) & (entry <= end)
    _csv(d / "previous_permanence.csv", "previous_permanence", year, pd.DataFrame({
        "CHILD": ids[starts], "DOB": dmy(dob[starts]), "PREV_PERM": "Z1", "LA_PERM": "", "DATE_PERM": ""}))

    # ---- social worker episodes (from 2023-24): one worker per period of care in the year
    if "sw_episodes" in specs.ssda903_tables(year):
        # the worker allocated from the start of care; the episode ends when care ends, at least 3
        # days after it began (rules SW09STG2, SW18STG2), and is still open at 31 March when the
        # child left care in the last 5 days of the year (the case is closed after the return; SW11bSTG2)
        sw_start = entry
        sw_end = np.where(np.isnan(leave), np.nan, np.maximum(leave, entry + 3))
        sw_end = np.where((sw_end > end) | (sw_end >= ye - 5), np.nan, sw_end)
        _csv(d / "sw_episodes.csv", "sw_episodes", year, pd.DataFrame({
            "CHILD": ids, "DOB": dmy(dob), "SW_ID": pd.Series(rng.integers(1, 400, len(ids))).map("SW{:04d}".format),
            "SW_DECOM": dmy(sw_start), "SW_DEC": dmy(sw_end),
            "SW_REASON": "OTHERS"}))
    # ---- deprivation of liberty orders (from 2026-27): a few children aged 10+ in a children's home
    # (K2), each order within one stay, ending with it or before (rules 700-710)
    if "dolo" in specs.ssda903_tables(year):
        k2 = in_year[(in_year["place"] == "K2")].sort_values(["child", "decom"])
        # one stay = consecutive K2 episodes of a child (legal changes only between them)
        stay = (k2["child"] != k2["child"].shift()) | (k2["decom"] != k2["dec"].shift())
        k2 = k2.assign(stay=stay.cumsum())
        stays = k2.groupby("stay").agg(child=("child", "first"), s=("decom", "min"), e=("dec", "max"),
                                       open_=("dec", lambda v: v.isna().any()))
        stays["e"] = np.where(stays["open_"], np.nan, stays["e"])
        dob_s = kids.loc[stays["child"], "dob"].to_numpy(float)
        first = np.maximum(stays["s"].to_numpy(float), np.maximum(start, birthday(dob_s, 10)))
        last = np.where(np.isnan(stays["e"].to_numpy(float)), end, np.minimum(stays["e"].to_numpy(float), end))
        pick = (last - first >= 30) & (rng.uniform(size=len(stays)) < 0.12)
        d_start = first[pick] + np.floor(rng.uniform(0, 0.5, pick.sum()) * (last[pick] - first[pick]))
        d_end = d_start + np.floor(rng.uniform(28, 240, pick.sum()))
        stay_end = stays["e"].to_numpy(float)[pick]
        d_end = np.where(~np.isnan(stay_end) & (d_end > stay_end), stay_end, d_end)   # ends with the stay (707)
        d_end = np.where(d_end > end, np.nan, d_end)                                   # still in force
        ch = stays["child"].to_numpy()[pick]
        _csv(d / "dolo.csv", "dolo", year, pd.DataFrame({
            "CHILD": ch, "DOB": dmy(kids.loc[ch, "dob"].to_numpy(float)), "DOLO_START": dmy(d_start),
            "DOLO_END": dmy(d_end)}))
    return all_ids[oc3]
