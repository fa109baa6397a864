"""DfE table C1 reader: the real published file and a small hand-made file with symbols."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.reference import dfe_stats

C1_NAME = "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"


@pytest.fixture(scope="module")
def c1(shared_data):
    return dfe_stats.read_c1(shared_data / "dfe" / C1_NAME)


def test_real_c1_england_rates(c1):
    england = c1[c1["geographic_level"] == "National"].set_index("time_period")
    # domain.md: England 2025 632,830 referrals, 142,900 re-referrals, 22.6%; 2024 22.4%
    assert england.loc[2025, "rereferral_percent"] == pytest.approx(22.6)
    assert england.loc[2025, "referral_count"] == 632_830
    assert england.loc[2025, "rereferral_count"] == 142_900
    assert england.loc[2024, "rereferral_percent"] == pytest.approx(22.4)
    assert england.loc[2025, "rereferral_child_percent"] == pytest.approx(21.0)
    assert england.loc[2025, "area_name"] == "England"


def test_real_c1_levels_and_symbols(c1):
    assert set(c1["geographic_level"]) == {"National", "Regional", "Local authority"}
    assert c1["time_period"].min() == 2013 and c1["time_period"].max() == 2025
    # the published file uses c, x and u in the re-referral count; each becomes NaN with its symbol kept
    symbols = set(c1["rereferral_count_symbol"].dropna())
    assert symbols == {"c", "x", "u"}
    assert c1.loc[c1["rereferral_count_symbol"].notna(), "rereferral_count"].isna().all()
    regions = c1[(c1["geographic_level"] == "Regional") & (c1["time_period"] == 2025)].set_index("region_name")
    # as published for 2025: North East 20.7%, East Midlands 24.7%; the "Regional" level also
    # holds Inner and Outer London (E13 codes), so the range is 19.1% (Inner London) to 28.4% (South East)
    assert regions.loc["North East", "rereferral_percent"] == pytest.approx(20.7)
    assert regions.loc["East Midlands", "rereferral_percent"] == pytest.approx(24.7)
    assert len(regions) == 11 and regions.loc["Inner London", "region_code"] == "E13000001"
    assert regions["rereferral_percent"].min() == pytest.approx(19.1)
    assert regions["rereferral_percent"].idxmax() == "South East"
    # LA rows carry the new LA code as area_code
    derby = c1[(c1["la_name"] == "Derby") & (c1["time_period"] == 2025)].iloc[0]
    assert derby["area_code"] == "E06000015" and derby["old_la_code"] == "831"


HEADER = ",".join((*dfe_stats.GEOGRAPHY_COLUMNS, "category", *dfe_stats.C1_INDICATORS))


def write_c1(tmp_path, rows: list[str]):
    path = tmp_path / "c1.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_hand_made_c1_with_suppression_symbols(tmp_path):
    path = write_c1(tmp_path, [
        "2025,Reporting year,National,E92000001,England,,,,,,Referrals and Re-referrals,1000,200,20,50,5,300,30,900,180,20",
        "2025,Reporting year,Regional,E92000001,England,E12000004,East Midlands,,,,Referrals and Re-referrals,100,25,25,c,c,z,z,90,20,22.2",
        '2025,Reporting year,Local authority,E92000001,England,E12000004,East Midlands,831,E06000015,"Derby, City of",'
        "Referrals and Re-referrals,40,x,x,low,low,:,:,36,u,u",
        "2025,Reporting year,Local authority,E92000001,England,E12000004,East Midlands,999,E06000099,Testshire,"
        'Referrals and Re-referrals,"1,200",300,25,0,0,1,0.1,1100,250,22.7',
    ])
    c1 = dfe_stats.read_c1(path).set_index("area_name")
    assert c1.loc["England", "rereferral_count"] == 200
    assert c1.loc["East Midlands", "area_code"] == "E12000004"
    assert np.isnan(c1.loc["East Midlands", "no_further_action_count"])
    assert c1.loc["East Midlands", "no_further_action_count_symbol"] == "c"
    assert c1.loc["East Midlands", "not_in_need_count_symbol"] == "z"
    derby = c1.loc["Derby, City of"]  # quoted name with a comma is one field
    assert derby["area_code"] == "E06000015"
    assert np.isnan(derby["rereferral_percent"]) and derby["rereferral_percent_symbol"] == "x"
    assert derby["no_further_action_count_symbol"] == "low" and derby["not_in_need_count_symbol"] == ":"
    assert derby["rereferral_child_count_symbol"] == "u"
    assert c1.loc["Testshire", "referral_count"] == 1200  # thousands separator
    assert c1.loc["Testshire", "rereferral_count_symbol"] is None


def test_unknown_symbol_and_missing_column_are_refused(tmp_path):
    path = write_c1(tmp_path, [
        "2025,Reporting year,National,E92000001,England,,,,,,Referrals and Re-referrals,1000,??,20,50,5,300,30,900,180,20",
    ])
    with pytest.raises(dfe_stats.DfEFileError, match="rereferral_count"):
        dfe_stats.read_c1(path)
    bad = tmp_path / "bad.csv"
    bad.write_text("time_period,referral_count\n2025,10\n", encoding="utf-8")
    with pytest.raises(dfe_stats.DfEFileError, match="missing columns"):
        dfe_stats.read_c1(bad)


def test_benchmarks_england_region_and_neighbours(tmp_path):
    path = write_c1(tmp_path, [
        "2025,Reporting year,National,E92000001,England,,,,,,Referrals and Re-referrals,1000,200,20,50,5,300,30,900,180,20",
        "2025,Reporting year,Regional,E92000001,England,E12000004,East Midlands,,,,Referrals and Re-referrals,100,25,25,c,c,z,z,90,20,22.2",
        "2025,Reporting year,Local authority,E92000001,England,E12000004,East Midlands,801,E06000001,A,Referrals and Re-referrals,100,20,20,1,1,1,1,90,18,20",
        "2025,Reporting year,Local authority,E92000001,England,E12000004,East Midlands,802,E06000002,B,Referrals and Re-referrals,100,30,30,1,1,1,1,90,27,30",
        "2025,Reporting year,Local authority,E92000001,England,E12000004,East Midlands,803,E06000003,C,Referrals and Re-referrals,100,c,c,1,1,1,1,90,c,c",
        "2025,Reporting year,Local authority,E92000001,England,E12000004,East Midlands,804,E06000004,D,Referrals and Re-referrals,100,10,10,1,1,1,1,90,9,10",
    ])
    c1 = dfe_stats.read_c1(path)
    # neighbours A (20%), B (30%), C (suppressed: left out), given by new and old code
    bench = dfe_stats.c1_benchmarks(c1, region="east midlands", statistical_neighbours=["E06000001", "802", "E06000003"])
    rates = bench.set_index("comparator")["rereferral_rate"].to_dict()
    assert rates["England"] == pytest.approx(0.20)
    assert rates["east midlands"] == pytest.approx(0.25)
    assert rates["Statistical neighbours (median of 2)"] == pytest.approx(0.25)  # median of 20 and 30


def test_benchmarks_on_real_file(c1):
    bench = dfe_stats.c1_benchmarks(c1, region="East Midlands", statistical_neighbours=["E06000015", "E10000007"])
    b25 = bench[bench["time_period"] == 2025].set_index("comparator")
    assert b25.loc["England", "rereferral_rate"] == pytest.approx(0.226)
    assert b25.loc["East Midlands", "rereferral_rate"] == pytest.approx(0.247)
    assert any(name.startswith("Statistical neighbours") for name in b25.index)
