"""Tests for helpers.reference.postcodes: DfE distance and boundary rules on a hand-made directory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.reference import postcodes as pc

# Hand-made directory (grid references in metres).
RAW = pd.DataFrame({
    "pcd": ["QX1 1AA", "QX1 1AB", "QY2 3CD", "QX9 9ZY", "QX9 9ZZ", "QS1 1AA"],
    "oseast1m": [400000, 400000, 430000, 400000, 400000, 410000],
    "osnrth1m": [300000, 300600, 340000, 332180, 332270, 300000],
    "laua": ["E06999001", "E06999001", "E06999002", "E06999001", "E06999001", "E07000192"],
})


@pytest.fixture()
def directory():
    return pc.prepare_directory(RAW)


def test_sector_and_compact_forms():
    s = pd.Series(["qx4 7ab", "QX47AB", "QX4 7", "SW1A 1AA", "", None, "NOT A PC"])
    assert pc.postcode_sector(s).tolist()[:4] == ["QX4 7", "QX4 7", "QX4 7", "SW1A 1"]
    assert pc.postcode_sector(s).isna().tolist()[4:] == [True, True, True]
    assert pc.compact_postcode(pd.Series(["qx4 7ab"])).iat[0] == "QX47AB"
    assert pc.postcode_area_letters(pd.Series(["qx4 7ab", "HP1 1AA", None])) == ["H", "Q"]


def test_distance_rule_by_hand():
    # (0,0)->(30000,40000) m: 50 km / 1.6093 = 31.0697 -> 31.1 miles
    # (0,0)->(0,32180): 32.18 / 1.6093 = 19.9963 -> 20.0 (NOT more than 20)
    # (0,0)->(0,32270): 32.27 / 1.6093 = 20.0522 -> 20.1 (more than 20)
    d = pc.distance_miles([0, 0, 0], [0, 0, 0], [30000, 0, 0], [40000, 32180, 32270])
    assert d.tolist() == [31.1, 20.0, 20.1]
    assert np.isnan(pc.distance_miles([np.nan], [0], [0], [0])[0])


def test_placement_locations(directory):
    ep = pd.DataFrame({
        "child_id": ["a", "b", "c", "d", "e"],
        "home_post": ["QX1 1AA", "QX1 1AA", "QX1 1AA", "QX1 1", "QX1 1AA"],
        "pl_post": ["QY2 3CD", "QX9 9ZY", "QX9 9ZZ", "QY2 3CD", "ZZ1 1ZZ"],
    })
    out = pc.placement_locations(ep, directory, "E06999001")
    # a: 31.1 miles, outside (E06999002); b: 20.0 inside, not over; c: 20.1 inside, over
    # d: home is a sector: centroid of QX1 1AA and QX1 1AB = (400000, 300300);
    #    to (430000, 340000): sqrt(30000^2 + 39700^2) = 49760.4 m -> 49.7604/1.6093 = 30.92 -> 30.9
    # e: placement postcode unknown -> distance NaN, not over, boundary unknown so not outside
    assert out["distance_miles"].iloc[:4].tolist() == [31.1, 20.0, 20.1, 30.9]
    assert out["over_20_miles"].tolist() == [True, False, True, True, False]
    assert out["outside_boundary"].tolist() == [True, False, False, True, False]
    assert out["distance_known"].tolist() == [True, True, True, True, False]
    assert out["home_match"].tolist() == ["postcode", "postcode", "postcode", "sector", "postcode"]
    assert out["placement_match"].iat[4] == "not found"


def test_upper_tier_from_lookup():
    # QS1 1AA lies in a district (E07000192) of a county (E10000028): a county council's child
    # placed there is inside its boundary; without the lookup the district code is compared.
    lookup = pd.DataFrame({"laua": ["E07000192"], "utla": ["E10000028"]})
    d = pc.prepare_directory(RAW, lookup)
    ep = pd.DataFrame({"home_post": ["QS1 1AA"], "pl_post": ["QS1 1AA"]})
    assert not pc.placement_locations(ep, d, "E10000028")["outside_boundary"].iat[0]
    d_no = pc.prepare_directory(RAW)
    assert pc.placement_locations(ep, d_no, "E10000028")["outside_boundary"].iat[0]


def test_real_ltla_utla_lookup(shared_data):
    lk = pc.read_ltla_utla_lookup(shared_data / "lookups" / "LTLA-UTLA_Apr23_Lookup_England-Wales.csv")
    m = lk.set_index("laua")["utla"]
    assert m["E07000192"] == "E10000028"   # Cannock Chase -> Staffordshire
    assert m["E06000060"] == "E06000060"   # Buckinghamshire is unitary


def test_ons_directory_from_package():
    d = pc.load_ons_postcodes(["H"])
    assert set(d["pcd_abbr"].str[0].unique()) == {"H"}
    loc = pc.locate_postcodes(pd.Series(["ha0 1aa"]), d)
    assert loc["easting"].iat[0] == 517753.0 and loc["laua"].iat[0] == "E09000005"
