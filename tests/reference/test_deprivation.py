"""IoD2025 on 2021 LSOAs beside IoD2019: reading the files as published, editions, ward profiles.

Hand-made files use the published headers (MHCLG File 7 / File 1 / File 3); the real files are read
from the shared data folder when it is present (fixtures skip otherwise).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from helpers.reference import deprivation, geography
from helpers.readers.ledger import ReaderError

REPO = Path(__file__).resolve().parents[2]
F7 = {  # IoD2025 File 7 headers as published (a subset of its columns, in its order)
    "code": "LSOA code (2021)", "name": "LSOA name (2021)",
    "lad": "Local Authority District code (2024)", "ladnm": "Local Authority District name (2024)",
    "imd_score": "Index of Multiple Deprivation (IMD) Score",
    "imd_rank": "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
    "imd_decile": "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)",
    "idaci_score": "Income Deprivation Affecting Children Index (IDACI) Score (rate)",
    "idaci_rank": "Income Deprivation Affecting Children Index (IDACI) Rank (where 1 is most deprived)",
    "idaci_decile": "Income Deprivation Affecting Children Index (IDACI) Decile (where 1 is most deprived 10% of LSOAs)",
    "pop": "Total population: mid 2022 (excluding prisoners)",
    "kids": "Dependent Children aged 0-15: mid 2022 (excluding prisoners)",
}


def _file7(path: Path) -> Path:
    rows = [("E01000001", "A 001A", "E09000001", "A", 8.742, 26525, 8, 0.02, 1, 1, 1500, 300),
            ("E01000002", "A 001B", "E09000001", "A", 4.722, 31203, 10, 0.01, 33755, 10, 1600, 200),
            ("E01000003", "A 001C", "E09000001", "A", 40.0, 100, 1, 0.45, 16878, 5, 1400, 350)]
    pd.DataFrame(rows, columns=list(F7.values())).to_csv(path, index=False)
    return path


def test_file7_as_published(tmp_path):
    iod = geography.read_iod(_file7(tmp_path / "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv"))
    assert deprivation.edition_of(iod).year == 2025 and iod.attrs["n_lsoas"] == 33_755
    assert list(iod.columns[:11]) == geography.IOD_COLUMNS
    r = iod.set_index("lsoa_code")
    # by hand: 100 * (1 - (rank - 0.5) / 33755)
    assert r.loc["E01000001", "idaci_percentile"] == pytest.approx(100 * (1 - 0.5 / 33755))
    assert r.loc["E01000002", "idaci_percentile"] == pytest.approx(100 * 0.5 / 33755)
    assert r.loc["E01000003", "idaci_percentile"] == pytest.approx(100 * (1 - 16877.5 / 33755))  # = 50.0
    assert r.loc["E01000003", "idaci_score"] == 0.45 and r.loc["E01000001", "lad_code"] == "E09000001"
    assert r.loc["E01000003", "pop_children_0_15_mid2022"] == 350


def test_files_1_and_3_workbooks_as_published(tmp_path):
    f1 = tmp_path / "File_1_IoD2025_Index_of_Multiple_Deprivation.xlsx"
    f3 = tmp_path / "File_3_IoD2025_Supplementary_Indices_IDACI_and_IDAOPI.xlsx"
    base = {F7["code"]: ["E01000001", "E01000002"], F7["name"]: ["A 001A", "A 001B"],
            F7["lad"]: ["E09000001"] * 2, F7["ladnm"]: ["A"] * 2}
    with pd.ExcelWriter(f1) as xw:
        pd.DataFrame({"Notes": ["File 1"]}).to_excel(xw, sheet_name="Notes", index=False)
        pd.DataFrame({**base, "Index of Multiple Deprivation (IMD) Rank": [26525, 31203],
                      "Index of Multiple Deprivation (IMD) Decile": [8, 10]}).to_excel(xw, sheet_name="IMD25", index=False)
    with pd.ExcelWriter(f3) as xw:
        pd.DataFrame({**base, F7["imd_rank"]: [26525, 31203], F7["imd_decile"]: [8, 10],
                      F7["idaci_rank"]: [33304, 31744], F7["idaci_decile"]: [10, 10],
                      "Income Deprivation Affecting Older People (IDAOPI) Rank (where 1 is most deprived)": [1, 2],
                      "Income Deprivation Affecting Older People (IDAOPI) Decile (where 1 is most deprived 10% of LSOAs)": [1, 1],
                      }).to_excel(xw, sheet_name="IoD2025 IDACI & IDAOPI", index=False)
    iod = geography.read_iod([f1, f3], edition=2025)
    assert iod["imd_rank"].tolist() == [26525, 31203] and iod["idaci_rank"].tolist() == [33304, 31744]
    assert iod["idaci_score"].isna().all() and deprivation.edition_of(iod).year == 2025
    with pytest.raises(ReaderError, match=r"IDACI"):
        geography.read_iod(f1, edition=2025)  # File 1 alone has no IDACI rank


def test_editions_must_match_the_files(tmp_path):
    f7 = _file7(tmp_path / "f7.csv")
    with pytest.raises(ReaderError, match=r"f7.csv.*config says IoD2019 .*IoD2025 on 2021 LSOAs"):
        geography.read_iod(f7, edition=2019)
    old = tmp_path / "iod2019.csv"
    pd.DataFrame({"lsoa11cd": ["E01000001"], "imd_rank": [5], "idaci_rank": [7]}).to_csv(old, index=False)
    with pytest.raises(ReaderError, match=r"iod2019.csv.*config says IoD2025 .*IoD2019 on 2011 LSOAs"):
        geography.read_iod(old, edition=2025)
    iod = geography.read_iod(old)
    assert deprivation.edition_of(iod).year == 2019
    assert iod["idaci_percentile"].iloc[0] == pytest.approx(100 * (1 - 6.5 / 32844))
    with pytest.raises(ValueError, match="iod_edition must be 2019 or 2025"):
        deprivation.edition(2015)


def test_ward_deciles_use_the_editions_lsoa_count():
    """Two LSOAs with equal children and IDACI ranks 3,200 and 3,400: the ward's mean rank is 3,300.
    IoD2025: 3300 / 33755 x 10 = 0.98 -> decile 1. IoD2019: 3300 / 32844 x 10 = 1.005 -> decile 2 (by hand)."""
    lookup = pd.DataFrame({"lsoa_code": ["E01000001", "E01000002"], "lsoa_name": ["a", "b"], "ward_code": ["W1", "W1"],
                           "ward_name": ["Ward"] * 2, "lad_code": ["L"] * 2, "lad_name": ["LA"] * 2})
    pop = pd.DataFrame({"lsoa_code": ["E01000001", "E01000002"], "children_0_17": [100.0, 100.0]})
    iod = pd.DataFrame({"lsoa_code": ["E01000001", "E01000002"], "imd_rank": [3200, 3400], "idaci_rank": [3200, 3400],
                        "imd_score": [30.0, 30.0], "idaci_score": [None, None]})
    for year, decile in ((2025, 1), (2019, 2)):
        frame = iod.copy()
        frame.attrs.update(deprivation.EDITIONS[year].attrs())
        wards, ledger = geography.ward_profile(lookup, frame, pop, "L")
        assert wards["idaci_decile"].iloc[0] == decile and wards["idaci_rank_mean"].iloc[0] == 3300
    # an LSOA without a deprivation row is listed under the edition's name
    frame = iod.iloc[:1].copy()
    frame.attrs.update(deprivation.EDITIONS[2025].attrs())
    wards, ledger = geography.ward_profile(lookup, frame, pop, "L")
    assert ledger.issues()["rule"].tolist() == ["LSOA not in IoD2025 file"]


def test_population_with_2021_lsoa_codes(tmp_path):
    p = tmp_path / "pop.csv"
    pd.DataFrame({"lsoa21cd": ["E01000001"], "pop_0_17_mid2022": [250], "pop_0_15_mid2022": [200],
                  "pop_all_ages_mid2022": [1500]}).to_csv(p, index=False)
    pop = geography.read_lsoa_population(p)
    assert pop.iloc[0][["lsoa_code", "children_0_17", "children_0_15"]].tolist() == ["E01000001", 250.0, 200.0]


@pytest.mark.slow
def test_real_iod2025_files_agree_and_build_wards(shared_data):
    csv = geography.read_iod(shared_data / "iod2025" / "iod2025_lsoa21_england.csv", edition=2025)
    books = geography.read_iod([shared_data / "iod2025" / "File_1_IoD2025_Index_of_Multiple_Deprivation.xlsx",
                                shared_data / "iod2025" / "File_3_IoD2025_Supplementary_Indices_IDACI_and_IDAOPI.xlsx"])
    assert len(csv) == len(books) == 33_755 and deprivation.edition_of(books).year == 2025
    both = csv.merge(books, on="lsoa_code", suffixes=("", "_xl"))
    assert (both["idaci_rank"] == both["idaci_rank_xl"]).all() and (both["imd_decile"] == both["imd_decile_xl"]).all()
    assert csv["idaci_percentile"].between(0, 100).all()
    lookup = geography.read_lsoa_ward_lookup(shared_data / "lookups" / "lsoa21_to_wd25_lad25_area_bestfit_sample_las.csv")
    den = pd.read_csv(shared_data / "iod2025" / "iod2025_population_denominators_mid2022_sample_las.csv")
    # The sample's only child count is File 6's 0-15 denominator; used here as the weight (test only).
    pop = pd.DataFrame({"lsoa_code": den["lsoa21cd"], "children_0_17": den["pop_children_0_15_mid2022"].astype(float)})
    wards, ledger = geography.ward_profile(lookup, csv, pop, "E06000060")      # Buckinghamshire
    assert len(wards) == 49 and wards["n_lsoas"].sum() == 334
    assert wards["idaci_decile"].between(1, 10).all() and wards["children_0_17"].gt(0).all()
    bounds = geography.read_boundaries(shared_data / "boundaries" / "wards_may2025_bgc_E06000060_buckinghamshire.geojson")
    assert set(bounds["ward_code"]) == set(wards["ward_code"])
    lsoas = geography.read_boundaries(shared_data / "boundaries" / "lsoa21_bgc_E06000060_buckinghamshire.geojson")
    assert set(lsoas["lsoa_code"]) == set(lookup.loc[lookup["lad_code"] == "E06000060", "lsoa_code"])
    graph = geography.contiguity_graph(bounds, "ward_code")
    import networkx as nx
    assert nx.is_connected(graph) and graph.number_of_nodes() == 49


def _as_2021(demo_geo: Path, out: Path) -> dict[str, Path]:
    """The demo's geography files rewritten with 2021-LSOA headers as ONS and MHCLG publish them."""
    import geopandas as gpd

    out.mkdir(parents=True, exist_ok=True)
    vintage = lambda c: re.sub(r"^(LSOA)\d\d(CD|NM)$", r"\g<1>21\2", re.sub(r"^(WD|LAD)\d\d(CD|NM)$", r"\g<1>25\2", c))  # noqa: E731
    lk = pd.read_csv(demo_geo / "lsoa_ward_lad_lookup.csv", dtype=str)
    lk.rename(columns=vintage).to_csv(out / "LSOA21_WD25_LAD25_EW_LU.csv", index=False)
    iod = pd.read_csv(demo_geo / "iod_lsoa.csv", dtype={"lsoa11cd": str})
    f7 = pd.DataFrame({F7["code"]: iod["lsoa11cd"], F7["name"]: iod["lsoa11nm"], F7["lad"]: iod["lad19cd"],
                       F7["ladnm"]: iod["lad19nm"], F7["imd_score"]: iod["imd_score"], F7["imd_rank"]: iod["imd_rank"],
                       F7["imd_decile"]: iod["imd_decile"], F7["idaci_score"]: iod.get("idaci_score"),
                       F7["idaci_rank"]: iod["idaci_rank"], F7["idaci_decile"]: iod["idaci_decile"]})
    f7.to_csv(out / "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv", index=False)
    pop = pd.read_csv(demo_geo / "population_lsoa.csv", dtype={"lsoa11cd": str})
    pop.rename(columns={"lsoa11cd": "lsoa21cd", "lsoa11nm": "lsoa21nm"}).to_csv(out / "population_lsoa21.csv", index=False)
    paths = {"lsoa_ward_lookup": out / "LSOA21_WD25_LAD25_EW_LU.csv",
             "iod": out / "File_7_IoD2025_All_Ranks_Scores_Deciles_Population_Denominators.csv",
             "population": out / "population_lsoa21.csv"}
    for key, name in (("ward_boundaries", "wards.geojson"), ("lsoa_boundaries", "lsoas.geojson")):
        g = gpd.read_file(demo_geo / name)
        g = g.rename(columns=vintage)
        g.to_file(out / name, driver="GeoJSON")
        paths[key] = out / name
    return paths


@pytest.mark.slow
def test_locality_report_runs_on_iod2025_and_lsoa2021(demo_config, tmp_path):
    papermill = pytest.importorskip("papermill")
    text = demo_config.read_text(encoding="utf-8")
    geo_dir = Path(re.search(r'iod = "(.+)/iod_lsoa.csv"', text).group(1))
    paths = _as_2021(geo_dir, tmp_path / "geo2021")
    for key, path in paths.items():
        text = re.sub(rf'(?m)^{key} = ".*?"', f'{key} = "{path.as_posix()}"', text)
    text = text.replace("iod_edition = 2019", "iod_edition = 2025")
    cfg = tmp_path / "configs" / "demo.toml"
    cfg.parent.mkdir()
    cfg.write_text(text, encoding="utf-8")
    out_dir = tmp_path / "published"
    executed = tmp_path / "executed.ipynb"
    notebook = REPO / "notebooks" / "locality_sizing.ipynb"
    papermill.execute_notebook(str(notebook), str(executed), parameters={"config_path": str(cfg), "output_dir": str(out_dir)},
                               cwd=str(notebook.parent), kernel_name="python3")
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["iod_edition"] == 2025 and summary["n_localities"] == 21
    page = executed.read_text(encoding="utf-8")
    assert "English Indices of Deprivation 2025 (on 2021 LSOAs, 33,755 in England)" in page
    assert "LSOA21_WD25_LAD25_EW_LU.csv" in page
    keys = [a["key"] for a in json.loads((out_dir / "attribution.json").read_text(encoding="utf-8"))]
    assert "mhclg_iod2025" in keys and "mhclg_iod2019" not in keys and "ons_boundaries_2021" in keys


def test_rereferral_decile_fallback_reads_either_edition(tmp_path):
    from helpers.rereferrals.measure import read_lsoa_deciles

    for code in ("lsoa11cd", "lsoa21cd"):
        p = tmp_path / f"{code}.csv"
        pd.DataFrame({code: ["E01000001"], "imd_decile": [3], "idaci_decile": [1], "imd_rank": [5]}).to_csv(p, index=False)
        assert read_lsoa_deciles(p).to_dict("records") == [{"lsoa_code": "E01000001", "imd_decile": 3, "idaci_decile": 1}]


def test_iod2019_file7_csv_with_published_headers(tmp_path):
    p = tmp_path / "File_7_-_All_IoD2019_Scores__Ranks__Deciles_and_Population_Denominators_3.csv"
    headers = {k: v.replace("(2021)", "(2011)").replace("(2024)", "(2019)").replace("mid 2022", "mid 2015") for k, v in F7.items()}
    pd.DataFrame([("E01000001", "A 001A", "E09000001", "A", 6.208, 29199, 9, 0.006, 32765, 10, 1296, 175)],
                 columns=list(headers.values())).to_csv(p, index=False)
    iod = geography.read_iod(p)
    assert deprivation.edition_of(iod).year == 2019
    row = iod.iloc[0]
    assert (row["lsoa_code"], row["imd_score"], row["idaci_rank"], row["idaci_score"]) == ("E01000001", 6.208, 32765, 0.006)
    assert row["idaci_percentile"] == pytest.approx(100 * (1 - 32764.5 / 32844))
    assert row["pop_children_0_15_mid2015"] == 175
