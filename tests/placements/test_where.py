"""Tests for helpers.placements.where on hand-made SSDA903 tidy tables (data_model section 2)."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.placements import where as pl

EP_COLS = ["child_id", "decom", "rne", "ls", "cin", "place", "place_provider", "dec", "rec",
           "reason_place_change", "home_post", "pl_post", "urn", "collection_year", "source_file"]


def episodes(rows):
    """rows: (child, decom, rne, ls, place, provider, dec, rec, year)."""
    recs = []
    for child, decom, rne, ls, place, prov, dec, rec, year in rows:
        recs.append({"child_id": child, "decom": pd.Timestamp(decom), "rne": rne, "ls": ls, "cin": "N1",
                     "place": place, "place_provider": prov, "dec": pd.Timestamp(dec) if dec else pd.NaT,
                     "rec": rec, "reason_place_change": None, "home_post": "QX1 1AA", "pl_post": "QX1 1AB",
                     "urn": None, "collection_year": year, "source_file": "x"})
    return pd.DataFrame(recs, columns=EP_COLS)


def header(births):
    return pd.DataFrame({"child_id": list(births), "sex": "1",
                         "birth_month": pd.to_datetime(list(births.values())), "ethnicity": "WBRI",
                         "collection_year": 2025})


NO_UASC = pd.DataFrame({"child_id": pd.Series(dtype="string"), "sex": pd.Series(dtype="string"),
                        "birth_month": pd.Series(dtype="datetime64[ns]"), "duc": pd.Series(dtype="datetime64[ns]")})


def test_code_mapping_across_years():
    ep = episodes([
        ("a", "2023-05-01", "S", "C2", "H5", "PR4", "2024-03-01", "E13", 2024),  # H5 valid in 2024
        ("b", "2025-05-01", "S", "C2", "H5", "PR4", None, None, 2026),         # H5 withdrawn for 2025-26
        # (the DfE 903 validator's 2024-25 PLACE list still has H5 and P2 beside K3: helpers.readers.specs)
        ("c", "2024-05-01", "S", "C2", "K3", "PR4", None, None, 2025),         # K3 new in 2025
        ("d", "2023-05-01", "S", "C2", "K3", "PR4", "2024-02-01", "E13", 2024),  # K3 not yet valid
        ("e", "2024-05-01", "S", "C2", "XX9", "PR4", None, None, 2025),        # not a DfE code
        ("f", "2024-05-01", "S", "C2", "u4", "PR1", None, None, 2025),         # lower case tolerated
    ])
    out = pl.categorise_placements(ep)
    assert out["category"].tolist() == ["Supported accommodation"] * 4 + ["Other", "Fostering: other carer"]
    assert out["code_status"].tolist() == ["valid", "not valid in year", "valid", "not valid in year", "unknown", "valid"]
    issues = pl.placement_code_issues(out)
    assert sorted(zip(issues["place"], issues["collection_year"], issues["code_status"])) == [
        ("H5", 2026, "not valid in year"), ("K3", 2024, "not valid in year"), ("XX9", 2025, "unknown")]


def test_cla_at_date_rules():
    ep = episodes([
        ("A", "2023-01-01", "S", "C2", "U4", "PR1", None, None, 2025),         # in care, in-house
        ("B", "2024-01-01", "S", "C2", "U4", "PR1", "2025-03-31", "E13", 2025),  # ceased ON 31 March: out
        ("C", "2025-01-01", "S", "V3", "U4", "PR1", None, None, 2025),         # short break: excluded
        ("D", "2025-04-01", "S", "C2", "U4", "PR1", None, None, 2026),         # starts after the date
        ("E", "2024-06-01", "S", "V2", "K2", "PR4", None, None, 2025),         # private home, UASC
        ("F", "2024-06-01", "S", "C1", "U6", "PR2", None, None, 2025),         # other LA foster carer
    ])
    hd = header({"A": "2015-06-01", "B": "2010-01-01", "C": "2010-01-01", "D": "2010-01-01",
                 "E": "2008-03-01", "F": "2009-04-01"})
    uasc = pd.DataFrame({"child_id": ["E"], "sex": ["1"], "birth_month": [pd.Timestamp("2008-03-01")], "duc": [pd.NaT]})
    snap = pl.cla_at_date(ep, hd, uasc, "2025-03-31").set_index("child_id")
    assert sorted(snap.index) == ["A", "E", "F"]
    # ages at 31/03/2025: A born 06/2015 -> 9; E born 03/2008 -> 17; F born 04/2009 -> 15 (birthday 1 April not reached)
    assert snap["age"].tolist() == [9, 17, 15]
    assert snap["age_band"].tolist() == ["5 to 9", "16 and over", "10 to 15"]
    assert snap["in_house"].tolist() == [True, False, False]
    assert snap.loc["E", "provider"] == "Private provision" and snap.loc["E", "uasc"]
    assert snap.loc["E", "legal_status"] == "Voluntary agreements under S20 CA 1989"
    # In-house definition widened to PR1+PR2: F becomes in-house
    wide = pl.cla_at_date(ep, hd, uasc, "2025-03-31", in_house=("PR1", "PR2")).set_index("child_id")
    assert wide["in_house"].tolist() == [True, False, True]
    # over time: at 30/04/2025 D has joined (B has left): A, D, E, F
    ot = pl.cla_over_time(ep, hd, uasc, [pd.Timestamp("2025-03-31"), pd.Timestamp("2025-04-30")], by="category")
    tot = ot.groupby("date")["children"].sum()
    assert tot.tolist() == [3, 4]


def test_entries_and_exits_by_month():
    ep = episodes([
        ("A", "2025-01-10", "S", "C2", "U4", "PR1", "2025-02-05", "X1", 2025),  # entry Jan
        ("A", "2025-02-05", "P", "C2", "U6", "PR1", "2025-03-20", "E13", 2025),  # move (not an entry); exit Mar
        ("B", "2025-02-01", "S", "C2", "K2", "PR4", None, None, 2025),          # entry Feb
        ("C", "2025-02-15", "S", "V3", "U4", "PR1", "2025-02-16", "E13", 2025),  # short break: ignored
    ])
    out = pl.entries_exits_by_month(ep, "2025-01-01", "2025-03-31")
    assert out["entries"].tolist() == [1, 1, 0]
    assert out["exits"].tolist() == [0, 0, 1]
    assert out["net"].tolist() == [1, 1, -1]


def test_three_or_more_placements_in_year():
    ep = episodes([
        # X: placement open on 1 April (1), move in May (2), legal change only in Aug (still 2), move in Dec (3)
        ("X", "2023-06-01", "S", "C1", "U4", "PR1", "2024-05-10", "X1", 2025),
        ("X", "2024-05-10", "P", "C1", "U6", "PR4", "2024-08-01", "X1", 2025),
        ("X", "2024-08-01", "L", "C2", "U6", "PR4", "2024-12-01", "X1", 2025),
        ("X", "2024-12-01", "P", "C2", "K2", "PR4", None, None, 2025),
        # Y: first placement ended 31/03/2024, before the year began on 01/04/2024: 1 placement
        ("Y", "2024-01-01", "S", "C1", "U4", "PR1", "2024-03-31", "X1", 2024),
        ("Y", "2024-03-31", "P", "C1", "U6", "PR1", None, None, 2025),
        # Z: three placements but left care before 31 March: not in the cohort
        ("Z", "2024-05-01", "S", "V2", "U4", "PR1", "2024-06-01", "X1", 2025),
        ("Z", "2024-06-01", "P", "V2", "U6", "PR1", "2024-07-01", "X1", 2025),
        ("Z", "2024-07-01", "P", "V2", "U6", "PR1", "2024-08-01", "E13", 2025),
    ])
    out = pl.placements_in_year(ep, "2025-03-31").set_index("child_id")
    assert out["n_placements"].to_dict() == {"X": 3, "Y": 1}
    assert out["three_or_more"].to_dict() == {"X": True, "Y": False}


def test_long_term_stability():
    # At 31/03/2025: continuous care since <= 30/09/2022; same carer since <= 31/03/2023; under 16.
    ep = episodes([
        ("L1", "2022-01-01", "S", "C1", "U4", "PR1", "2023-01-01", "X1", 2023),
        ("L1", "2023-01-01", "P", "C2", "U4", "PR1", "2024-01-01", "X1", 2024),  # carer since 01/01/2023
        ("L1", "2024-01-01", "L", "E1", "U4", "PR1", None, None, 2025),         # legal change: same carer -> stable
        ("L2", "2022-01-01", "S", "C1", "U4", "PR1", "2023-06-01", "X1", 2023),
        ("L2", "2023-06-01", "P", "C2", "U4", "PR1", None, None, 2025),         # carer since 01/06/2023 -> not stable
        ("L3", "2021-01-01", "S", "C1", "U4", "PR1", "2022-05-01", "X1", 2022),
        ("L3", "2022-05-01", "P", "C2", "U5", "PR1", "2024-06-01", "X1", 2024),
        ("L3", "2024-06-01", "B", "E1", "A5", "PR1", None, None, 2025),         # same carers become adopters: stable
        ("L4", "2023-01-01", "S", "C2", "U4", "PR1", None, None, 2025),         # in care < 2.5 years: not in cohort
        ("L5", "2020-01-01", "S", "C2", "U4", "PR1", None, None, 2025),         # aged 16: not in cohort
        ("L6", "2020-01-01", "S", "C2", "U4", "PR1", "2022-12-31", "E13", 2023),  # left care, came back
        ("L6", "2023-02-01", "S", "C2", "U4", "PR1", None, None, 2025),         # period since 01/02/2023: not in cohort
    ])
    hd = header({"L1": "2014-05-01", "L2": "2014-05-01", "L3": "2018-05-01", "L4": "2014-05-01",
                 "L5": "2009-03-01", "L6": "2014-05-01"})
    out = pl.long_term_stability(ep, hd, "2025-03-31").set_index("child_id")
    assert out["stable"].to_dict() == {"L1": True, "L2": False, "L3": True}
    s = pl.stability_summary(ep, hd, "2025-03-31")
    assert (s["long_term_cohort"], s["long_term_stable"]) == (3, 2)
    assert s["pct_long_term_stable"] == pytest.approx(200 / 3)


def test_location_breakdown_counts():
    located = pd.DataFrame({
        "outside_boundary": [True, True, False, False, False],
        "over_20_miles": [True, False, False, False, False],
        "distance_known": [True, True, True, False, True],
    })
    s = pl.location_summary(located)
    assert (s["outside_boundary"], s["over_20_miles"], s["distance_unknown"]) == (2, 1, 1)
    assert s["pct_outside_boundary"] == 40.0 and s["pct_over_20_miles"] == 20.0
    b = pl.location_breakdown(located).set_index(["locality", "distance"])["children"]
    assert b[("Outside LA boundary", "More than 20 miles")] == 1
    assert b[("Inside LA boundary", "20 miles or less")] == 2
    assert b[("Inside LA boundary", "Distance not known")] == 1
    assert b.sum() == 5


def test_legal_status_groups_cover_dfe_codes():
    from helpers import codes
    assert set(pl.LEGAL_STATUS_GROUPS) == set(codes.LEGAL_STATUSES)
