"""Tests for helpers.reference.dfe_cla_stats on the real DfE files in ../shared/data/dfe."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.reference import dfe_cla_stats as d


@pytest.fixture(scope="module")
def dfe(shared_data):
    return shared_data / "dfe"


def test_numbers_england_2025(dfe):
    n = d.read_cla_numbers(dfe / "cla_number_and_rate_per_10k_children.csv")
    t = d.cla_trend(n).set_index("time_period")["children_count"]
    # domain.md: 81,770 (2025), 83,530 (2024), 83,750 (2023), 82,090 (2022), 80,780 (2021)
    assert t.to_dict() == {2021: 80780, 2022: 82090, 2023: 83750, 2024: 83530, 2025: 81770}
    rate = d.cla_trend(n).set_index("time_period")["rate_per_10000"]
    assert rate[2025] == 67


def test_suppression_symbols_are_kept(dfe):
    s = d.read_placement_stability(dfe / "la_cla_placement_stability.csv")
    rut = s[(s["la_name"] == "Rutland") & (s["time_period"] == 2025)
            & (s["placement_stability"] == "With 3 or more placements during the year")]
    assert np.isnan(rut["children_count"].iat[0]) and rut["children_count_symbol"].iat[0] == "c"
    # unsuppressed values carry no symbol
    assert s["children_count_symbol"].notna().sum() == s["children_count"].isna().sum()


def test_new_placements_location_2025(dfe):
    p = d.read_new_placements(dfe / "la_cla_during_year_new_placements.csv")
    nat = p[(p["geographic_level"] == "National") & (p["time_period"] == 2025)].set_index("breakdown")["children_percent"]
    # domain.md: inside <20 46%, inside >20 5%, outside <20 20%, outside >20 16%, unknown 13%
    assert nat["Placed inside LA boundary less than 20 miles from home"] == 46
    assert nat["Placed outside LA boundary more than 20 miles from home"] == 16
    assert nat["Distance not known or not recorded"] == 13


def test_characteristics_and_headline(dfe):
    c = d.read_cla_characteristics(dfe / "cla_on_31_march_by_characteristics_2021_2025_via_dfe_dashboard.csv")
    s = d.read_placement_stability(dfe / "la_cla_placement_stability.csv")
    h = d.england_headline(c, s, 2024)
    assert h["pct_long_term_stable"] == 68          # domain.md: long-term stability 68% in 2024
    h25 = d.england_headline(c, s)
    assert h25["year"] == 2025 and h25["cla"] == 81770
    assert (h25["pct_outside_boundary"], h25["pct_over_20_miles"], h25["pct_own_provision"]) == (44, 22, 43)
    # SOURCES.md: Buckinghamshire 2025: 522 children, 273 (52%) outside the boundary, 204 (39%) over 20 miles
    loc = d.characteristic_percentages(c, "Locality of placement", 2025, la_code="E06000060").set_index(["area", "breakdown"])
    assert loc.loc[("This council", "Placed outside the local authority boundary"), "children_count"] == 273
    dist = d.characteristic_percentages(c, "Distance between home and placement", 2025, la_code="E06000060").set_index(["area", "breakdown"])
    assert dist.loc[("This council", "Placed more than 20 miles from home"), "children_percent"] == 39


def test_placement_mix_comparison(dfe):
    c = d.read_cla_characteristics(dfe / "cla_on_31_march_by_characteristics_2021_2025_via_dfe_dashboard.csv")
    local = pd.Series({"Fostering: kinship": 10, "Fostering: other carer": 50, "Children's home": 20, "Other": 20})
    mix = d.placement_mix_comparison(local, c, 2025).set_index("dfe_group")
    # kinship + other foster carers = 60 of 100 children -> 60%; England 2025 foster placements 67%
    assert mix.loc["Foster placements", "council_percent"] == 60
    assert mix.loc["Foster placements", "england_percent"] == 67
    assert mix["council_children"].sum() == 100


def test_wrong_file_is_named(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="x.csv"):
        d.read_cla_numbers(p)
