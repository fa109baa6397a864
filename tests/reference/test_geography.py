"""Tests for helpers.reference.geography: readers of the published reference files, ward_profile, contiguity."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from helpers.reference import geography as geo

N = geo.N_LSOA_ENGLAND_2019


def _pct(rank: float) -> float:
    return 100 * (1 - (rank - 0.5) / N)


# -- hand-made LSOA -> ward case --------------------------------------------------------------
@pytest.fixture()
def hand_lookup() -> pd.DataFrame:
    # W1 = L1 + L2; W2 = L3 + L5 (L5 has no IoD row); W3 is another council's ward; W4 = L7 + L8 (no children)
    return pd.DataFrame({
        "lsoa_code": ["L1", "L2", "L3", "L5", "L4", "L7", "L8"],
        "lsoa_name": ["a", "b", "c", "e", "d", "g", "h"],
        "ward_code": ["W1", "W1", "W2", "W2", "W3", "W4", "W4"],
        "ward_name": ["One", "One", "Two", "Two", "Three", "Four", "Four"],
        "lad_code": ["A", "A", "A", "A", "B", "A", "A"],
        "lad_name": ["Ay"] * 4 + ["Bee"] + ["Ay"] * 2,
    })


@pytest.fixture()
def hand_iod() -> pd.DataFrame:
    # L6 is in council A's IoD rows but in no ward of the lookup
    return pd.DataFrame({
        "lsoa_code": ["L1", "L2", "L3", "L4", "L6", "L7", "L8"],
        "lad_code": ["A", "A", "A", "B", "A", "A", "A"],
        "imd_score": [10.0, 40.0, 20.0, 5.0, 50.0, 10.0, 30.0],
        "imd_rank": [3000, 100, 2000, 30000, 50, 5000, 7000],
        "idaci_rank": [100, 300, 1000, 30000, 10, 5000, 7000],
        "idaci_score": [0.1, 0.3, 0.2, 0.05, 0.5, 0.1, 0.3],
        "idaci_percentile": [_pct(r) for r in [100, 300, 1000, 30000, 10, 5000, 7000]],
    })


@pytest.fixture()
def hand_population() -> pd.DataFrame:
    return pd.DataFrame({"lsoa_code": ["L1", "L2", "L3", "L4", "L5", "L7", "L8"],
                         "children_0_17": [100.0, 300.0, 50.0, 80.0, 70.0, 0.0, 0.0]})


def test_ward_profile_child_weighted_means(hand_lookup, hand_iod, hand_population):
    wards, ledger = geo.ward_profile(hand_lookup, hand_iod, hand_population, "A")
    wards = wards.set_index("ward_code")
    assert sorted(wards.index) == ["W1", "W2", "W4"]          # W3 belongs to council B
    w1 = wards.loc["W1"]
    # children 100 + 300 = 400; IMD (10*100 + 40*300) / 400 = 13000 / 400 = 32.5
    assert w1["children_0_17"] == 400
    assert w1["imd_score"] == pytest.approx(32.5)
    # IDACI score (0.1*100 + 0.3*300) / 400 = 100 / 400 = 0.25; rank (100*100 + 300*300) / 400 = 250
    assert w1["idaci_score"] == pytest.approx(0.25)
    assert w1["idaci_rank_mean"] == pytest.approx(250)
    # percentile is linear in rank, so the weighted mean percentile is the percentile of 250
    assert w1["idaci_percentile"] == pytest.approx(100 * (1 - 249.5 / 32844))
    assert w1["idaci_decile"] == 1                       # 250 / 32844 * 10 = 0.08 -> decile 1
    # IMD rank (3000*100 + 100*300) / 400 = 825 -> 825 / 3284.4 = 0.25 -> decile 1
    assert w1["imd_rank_mean"] == pytest.approx(825) and w1["imd_decile"] == 1
    assert w1["n_lsoas"] == 2
    # W2: L5 has no IoD row, so only L3 counts: children 50, IMD 20; still 2 LSOAs in the lookup
    w2 = wards.loc["W2"]
    assert (w2["children_0_17"], w2["imd_score"], w2["n_lsoas"]) == (50, 20.0, 2)
    # W4: no children anywhere -> plain mean (10 + 30) / 2 = 20; ranks (5000+7000)/2 = 6000 -> decile ceil(1.83) = 2
    w4 = wards.loc["W4"]
    assert w4["imd_score"] == pytest.approx(20.0) and w4["idaci_decile"] == 2


def test_ward_profile_ledger_lists_unmatched_lsoas(hand_lookup, hand_iod, hand_population):
    _, ledger = geo.ward_profile(hand_lookup, hand_iod, hand_population, "A")
    issues = ledger.issues()
    # read: L1 L2 L3 L5 L7 L8 from the lookup + L6 (IoD only) = 7; used L1 L2 L3 L7 L8 = 5
    summary = ledger.summary().set_index("source").iloc[0]
    assert (summary["rows_read"], summary["rows_used"], summary["rows_excluded"]) == (7, 5, 2)
    assert set(zip(issues["rule"], issues["detail"])) == {("LSOA not in IoD2019 file", "L5"),
                                                          ("LSOA not in ward lookup", "L6")}
    ledger.check_reconciles()


def test_ward_profile_unknown_council(hand_lookup, hand_iod, hand_population):
    with pytest.raises(ValueError, match="no LSOAs"):
        geo.ward_profile(hand_lookup, hand_iod, hand_population, "Z")


def test_idaci_percentile_from_rank():
    # rank 1 -> 100 * (1 - 0.5/32844); the middle rank 16422.5 -> 50
    got = geo.idaci_percentile_from_rank(pd.Series([1, 16422.5, 32844]))
    assert got.tolist() == pytest.approx([100 * (1 - 0.5 / N), 50.0, 100 * 0.5 / N])


# -- readers on files written by hand ------------------------------------------------------------
def test_read_iod_csv_with_and_without_score(tmp_path):
    base = ("lsoa11cd,lsoa11nm,lad19cd,lad19nm,imd_score,imd_rank,imd_decile,idaci_rank,idaci_decile\n"
            "E01000001,A 001A,E09000001,A,6.2,29199,9,32806,10\n")
    (tmp_path / "real.csv").write_text(base)
    real = geo.read_iod(tmp_path / "real.csv")
    assert real.loc[0, "lsoa_code"] == "E01000001" and math.isnan(real.loc[0, "idaci_score"])
    assert real.loc[0, "idaci_percentile"] == pytest.approx(100 * (1 - 32805.5 / N))
    (tmp_path / "demo.csv").write_text(base.replace("idaci_decile\n", "idaci_decile,idaci_score\n").replace(",10\n", ",10,0.031\n"))
    demo = geo.read_iod(tmp_path / "demo.csv")
    assert demo.loc[0, "idaci_score"] == pytest.approx(0.031)
    assert list(real.columns[:11]) == geo.IOD_COLUMNS == list(demo.columns[:11])


def test_read_iod_workbook_published_headers(tmp_path):
    # File 3 layout: a Notes sheet, then the data sheet with MHCLG's long headers
    path = tmp_path / "File_3.xlsx"
    data = pd.DataFrame({
        "LSOA code (2011)": ["E01000001", "E01000002"], "LSOA name (2011)": ["x", "y"],
        "Local Authority District code (2019)": ["E09000001"] * 2, "Local Authority District name (2019)": ["C"] * 2,
        "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)": [29199, 30379],
        "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)": [9, 10],
        "Income Deprivation Affecting Children Index (IDACI) Rank (where 1 is most deprived)": [32806, 1],
        "Income Deprivation Affecting Children Index (IDACI) Decile (where 1 is most deprived 10% of LSOAs)": [10, 1],
    })
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"Notes": ["read me"]}).to_excel(xl, sheet_name="Notes", index=False)
        data.to_excel(xl, sheet_name="IoD2019 IDACI & IDAOPI", index=False)
    iod = geo.read_iod(path)
    assert iod["idaci_rank"].tolist() == [32806, 1]
    assert iod["imd_decile"].tolist() == [9, 10]
    assert iod.loc[1, "idaci_percentile"] == pytest.approx(100 * (1 - 0.5 / N))


def test_read_lookup_and_population_hand(tmp_path):
    (tmp_path / "lu.csv").write_text("\ufeffLSOA11CD,LSOA11NM,WD21CD,WD21NM,LAD21CD,LAD21NM\nE01,L one,E05,Ward,E06,Council\n",
                                     encoding="utf-8")
    lk = geo.read_lsoa_ward_lookup(tmp_path / "lu.csv")
    assert lk.iloc[0].to_dict() == {"lsoa_code": "E01", "lsoa_name": "L one", "ward_code": "E05", "ward_name": "Ward",
                                    "lad_code": "E06", "lad_name": "Council"}
    ages = ",".join(f"age_{a}" for a in range(18))
    vals = ",".join("1" for _ in range(18))
    (tmp_path / "pop.csv").write_text(f"lsoa11cd,lsoa11nm,pop_all_ages_mid2020,{ages}\nE01,x,100,{vals}\n")
    pop = geo.read_lsoa_population(tmp_path / "pop.csv")
    # no total columns: summed from single years, 18 x 1 = 18 and 16 x 1 = 16
    assert (pop.loc[0, "children_0_17"], pop.loc[0, "children_0_15"], pop.loc[0, "population_all_ages"]) == (18, 16, 100)
    with pytest.raises(geo.ReaderError, match="lsoa11cd"):
        (tmp_path / "bad.csv").write_text("code,x\n1,2\n")
        geo.read_lsoa_population(tmp_path / "bad.csv")


def test_contiguity_graph_queen_rook_and_island():
    # 2 x 2 grid of 1 km squares (BNG metres) plus an island 5 km east of SE (NE is sqrt(5000^2 + 200^2) away)
    cells = [box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000), box(0, 1000, 1000, 2000), box(1000, 1000, 2000, 2000),
             box(7000, 200, 8000, 800)]
    gdf = gpd.GeoDataFrame({"code": ["SW", "SE", "NW", "NE", "ISL"]}, geometry=cells, crs=27700)
    queen = geo.contiguity_graph(gdf, "code")
    rook = geo.contiguity_graph(gdf, "code", rule="rook", connect_islands=False)
    assert rook.has_edge("SW", "SE") and not rook.has_edge("SW", "NE")   # diagonal: corner only
    assert queen.has_edge("SW", "NE")
    assert "ISL" in rook and rook.degree("ISL") == 0
    # the island joins its nearest square (SE, 5 km away) by a bridge edge
    assert queen.has_edge("ISL", "SE") and queen.edges["ISL", "SE"].get("bridge") is True
    assert queen.nodes["SW"]["x"] == pytest.approx(500)


def test_shared_boundary_pairs_by_hand():
    # a 2 x 2 grid as one multipolygon (SW + NE squares) and two squares, plus a square with a
    # hole holding a small square: the hole's ring counts as that area's boundary
    from shapely.geometry import MultiPolygon, Polygon

    sw_ne = MultiPolygon([box(0, 0, 1, 1), box(1, 1, 2, 2)])
    se, nw = box(1, 0, 2, 1), box(0, 1, 1, 2)
    ring = Polygon([(10, 0), (13, 0), (13, 3), (10, 3)], holes=[[(11, 1), (12, 1), (12, 2), (11, 2)]])
    inner = box(11, 1, 12, 2)
    geoms = [sw_ne, se, nw, ring, inner]
    # by hand: SW+NE meets SE and NW along edges; SE and NW touch only at the corner (1, 1);
    # the ring and the square in its hole share the hole's four edges
    assert geo.shared_boundary_pairs(geoms, "rook").tolist() == [[0, 1], [0, 2], [3, 4]]
    assert geo.shared_boundary_pairs(geoms, "queen").tolist() == [[0, 1], [0, 2], [1, 2], [3, 4]]
    assert geo.shared_boundary_pairs([], "queen").shape == (0, 2)
    with pytest.raises(ValueError, match="'queen' or 'rook'"):
        geo.shared_boundary_pairs(geoms, "bishop")


# -- real published files ----------------------------------------------------------------------
@pytest.mark.parametrize("pattern", ["wards_*_bgc_*.geojson", "lsoa*_bgc_*.geojson"])
def test_contiguity_matches_libpysal_on_ons_boundaries(shared_data, pattern):
    # An independent computation: libpysal's Queen and Rook weights (the library the graph was
    # built with before), on every ONS ward and LSOA boundary file in the shared data.
    import warnings

    from libpysal.weights import Queen, Rook

    files = sorted((shared_data / "boundaries").glob(pattern))
    assert len(files) >= 6
    for path in files:
        areas = geo.read_boundaries(path).to_crs(geo.BRITISH_NATIONAL_GRID).reset_index(drop=True)
        for rule, builder in (("queen", Queen), ("rook", Rook)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                w = builder.from_dataframe(areas, use_index=False, silence_warnings=True)
            theirs = sorted({(min(i, j), max(i, j)) for i, nb in w.neighbors.items() for j in nb})
            mine = [tuple(p) for p in geo.shared_boundary_pairs(areas.geometry.values, rule).tolist()]
            assert mine == theirs, (path.name, rule)
            assert len(mine) >= len(areas)   # a council's areas each have neighbours


def test_real_files_buckinghamshire(shared_data):
    iod = geo.read_iod(shared_data / "iod2019" / "iod2019_lsoa11_imd_idaci_population.csv")
    lookup = geo.read_lsoa_ward_lookup(shared_data / "lookups" / "LSOA11_WD21_LAD21_EW_LU_V2.csv")
    pop = geo.read_lsoa_population(shared_data / "population" / "ons_mye2020_lsoa11_children_single_year_age.csv")
    wards, ledger = geo.ward_profile(lookup, iod, pop, "E06000060")
    assert len(iod) == 32844 and len(wards) == 49 and wards["n_lsoas"].sum() == 319
    assert ledger.issues().empty
    assert wards["idaci_score"].isna().all() and wards["idaci_percentile"].between(0, 100).all()
    # ward children sum to the LSOA total for the council
    bucks = lookup.loc[lookup["lad_code"] == "E06000060", "lsoa_code"]
    assert wards["children_0_17"].sum() == pop.loc[pop["lsoa_code"].isin(bucks), "children_0_17"].sum()
    bounds = geo.read_boundaries(shared_data / "boundaries" / "wards_dec2022_bgc_E06000060_buckinghamshire.geojson")
    assert set(bounds["ward_code"]) == set(wards["ward_code"])
    graph = geo.contiguity_graph(bounds, "ward_code")
    assert graph.number_of_nodes() == 49 and nx_connected(graph)


def nx_connected(graph) -> bool:
    import networkx as nx
    return nx.is_connected(graph)


def test_real_workbooks_agree_with_csv(shared_data):
    folder = shared_data / "iod2019"
    csv = geo.read_iod(folder / "iod2019_lsoa11_imd_idaci_population.csv").set_index("lsoa_code")
    books = geo.read_iod([folder / "File_1_-_IMD2019_Index_of_Multiple_Deprivation.xlsx",
                          folder / "File_3_-_IoD2019_Supplementary_Indices_-_IDACI_and_IDAOPI.xlsx"]).set_index("lsoa_code")
    assert len(books) == 32844
    joined = csv.join(books, rsuffix="_xl")
    assert (joined["idaci_rank"] == joined["idaci_rank_xl"]).all()
    assert (joined["imd_decile"] == joined["imd_decile_xl"]).all()
    lk_xlsx = geo.read_lsoa_ward_lookup(shared_data / "lookups" / "LSOA11_WD21_LAD21_EW_LU_V2.xlsx")
    lk_csv = geo.read_lsoa_ward_lookup(shared_data / "lookups" / "LSOA11_WD21_LAD21_EW_LU_V2.csv")
    pd.testing.assert_frame_equal(lk_xlsx.reset_index(drop=True), lk_csv.reset_index(drop=True))


# -- point in polygon --------------------------------------------------------------------------
def test_locate_points_by_hand():
    # two 1 km squares side by side in British National Grid: A = [0, 1000] x [0, 1000], B = [1000, 2000] x [0, 1000]
    areas = gpd.GeoDataFrame({"lsoa_code": ["B", "A"]}, geometry=[box(1000, 0, 2000, 1000), box(0, 0, 1000, 1000)],
                             crs="EPSG:27700")
    east = pd.Series([500.0, 1500.0, 1000.0, 2050.0, 2500.0, np.nan], index=list("pqrstu"))
    north = pd.Series([500.0, 200.0, 500.0, 500.0, 500.0, 500.0], index=list("pqrstu"))
    got = geo.locate_points(east, north, areas, "lsoa_code", tolerance_m=100)
    assert list(got.index) == list("pqrstu")
    # inside A; inside B; on the shared border -> first code (A); 50 m outside B (within 100 m) -> B;
    # 500 m outside -> NaN; no grid reference -> NaN
    assert got[["p", "q", "r", "s"]].tolist() == ["A", "B", "A", "B"]
    assert pd.isna(got["t"]) and pd.isna(got["u"])
    strict = geo.locate_points(east.to_numpy(), north.to_numpy(), areas, "lsoa_code", tolerance_m=0)
    assert pd.isna(strict.iloc[3]) and strict.iloc[0] == "A"
    # areas in EPSG:4326 (as the boundary readers return them) are projected before matching
    assert geo.locate_points(east, north, areas.to_crs(4326), "lsoa_code")[["p", "q", "s"]].tolist() == ["A", "B", "B"]
