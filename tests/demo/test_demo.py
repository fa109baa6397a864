"""Tests of the demo council generator (helpers.demo).

Expected values are national figures from ../shared/docs/domain.md with stated tolerances,
computed here by simple, independent pandas calculations on the written files.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from lxml import etree

from helpers import codes
from helpers.readers import specs
from helpers.demo import RealGeography, collection_year_of, generate, make_geography
from helpers.demo.faults import pick_faults
from helpers.demo.geography import demand_index, imd_score_from_rank

YEARS = list(range(2022, 2028))


def _read_flat(demo_dir: Path, census_only: bool = False) -> pd.DataFrame:
    """The flat referrals extract; ``census_only``: only the referrals the CIN census holds (the
    extract also has those received while a case was open, which the census cannot hold)."""
    flat = pd.read_csv(demo_dir / "referrals_flat.csv", dtype=str, keep_default_na=False)
    flat["date"] = pd.to_datetime(flat["ReferralDate"], format="%d/%m/%Y")
    flat["year"] = np.where(flat["date"].dt.month >= 4, flat["date"].dt.year + 1, flat["date"].dt.year)
    if census_only:
        keys = set()
        for y in YEARS:
            doc = etree.parse(str(demo_dir / "cin" / f"CIN_census_{y}.xml"))
            keys |= {(c.findtext("ChildIdentifiers/LAchildID"), d.findtext("CINreferralDate"))
                     for c in doc.iter("Child") for d in c.iter("CINdetails")}
        key = list(zip(flat["LAchildID"], flat["date"].dt.strftime("%Y-%m-%d")))
        flat = flat[[k in keys for k in key]]
    return flat


def _episodes(demo_dir: Path, year: int) -> pd.DataFrame:
    ep = pd.read_csv(demo_dir / "ssda903" / str(year) / "episodes.csv", dtype=str, keep_default_na=False)
    ep["decom_d"] = pd.to_datetime(ep["DECOM"], format="%d/%m/%Y")
    ep["dec_d"] = pd.to_datetime(ep["DEC"], format="%d/%m/%Y", errors="coerce")
    return ep


# ---------------------------------------------------------------- small units

def test_collection_year_of():
    assert collection_year_of(date(2026, 10, 31)) == 2027
    assert collection_year_of(date(2026, 3, 31)) == 2026
    assert collection_year_of(date(2026, 4, 1)) == 2027


def test_pick_faults_counts():
    rng = np.random.default_rng(0)
    eligible = np.array([True] * 200 + [False] * 50)
    mask = pick_faults(rng, eligible, 0.05)
    assert mask.sum() == 10  # 5% of 200
    assert not mask[200:].any()
    assert pick_faults(rng, eligible, 0).sum() == 0
    assert pick_faults(rng, np.array([True, False]), 0.001).sum() == 1  # at least one when asked


def test_imd_score_from_rank_uses_national_quantiles():
    # rank at the national median (16,422.5 of 32,844) -> the published median score 17.65
    assert imd_score_from_rank(np.array([16422.5 + 0.5]))[0] == pytest.approx(17.65, abs=0.01)
    # most deprived LSOA -> about the published maximum 92.7
    assert imd_score_from_rank(np.array([1]))[0] > 92


def test_demand_index_rises_with_deprivation_and_has_mean_one():
    d = demand_index(np.array([60.0, 20.0, 5.0]), np.array([100, 16000, 32000]))
    assert d.mean() == pytest.approx(1.0)
    assert d[0] > d[1] > d[2]
    assert d[0] / d[2] > 3


# ---------------------------------------------------------------- geography

@pytest.mark.parametrize("n_wards", [50, 300])
def test_make_geography_contiguous(n_wards):
    wards, lsoas = make_geography(n_wards, (4, 9), seed=3)
    assert len(wards) == n_wards
    assert wards["WD22CD"].is_unique and lsoas["LSOA11CD"].is_unique
    per_ward = lsoas.groupby("WD22CD").size()
    assert per_ward.between(4, 9).all()
    assert (wards.geom_type == "Polygon").all()  # each ward one piece
    assert shapely.union_all(wards.geometry.values).geom_type == "Polygon"  # council one piece
    # every ward touches at least one other ward
    tree = shapely.STRtree(wards.geometry.values)
    pairs = tree.query(wards.geometry.values, predicate="touches")
    assert set(np.unique(pairs[0])) == set(range(n_wards))
    # a ward is the union of its LSOAs (areas agree)
    ward_area = wards.set_index("WD22CD").to_crs(27700).geometry.area    # areas in m2 (British National Grid)
    lsoa_area = lsoas.assign(a=lsoas.to_crs(27700).geometry.area).groupby("WD22CD")["a"].sum()
    assert np.allclose(ward_area.loc[lsoa_area.index].to_numpy(), lsoa_area.to_numpy(), rtol=1e-9)


# ---------------------------------------------------------------- the demo council files

def test_layout_and_council_json(demo_dir):
    for rel in ["council.json", "faults.json", "referrals_flat.csv", "addresses/child_addresses.csv",
                "geography/lsoa_ward_lad_lookup.csv", "geography/iod_lsoa.csv", "geography/population_lsoa.csv",
                "geography/wards.geojson", "geography/lsoas.geojson", "postcodes/postcode_directory.csv",
                "capacity/inhouse_capacity.csv"]:
        assert (demo_dir / rel).is_file(), rel
    for y in YEARS:
        assert (demo_dir / "cin" / f"CIN_census_{y}.xml").is_file()
        for t in ("header", "episodes", "uasc", "missing"):
            assert (demo_dir / "ssda903" / str(y) / f"{t}.csv").is_file()
    meta = json.loads((demo_dir / "council.json").read_text())
    assert meta["la_code"] == "E06999001" and meta["la_old_code"] == "999" and meta["as_at"] == "2026-10-31"
    lookup = pd.read_csv(demo_dir / "geography/lsoa_ward_lad_lookup.csv")
    assert list(lookup.columns) == ["LSOA11CD", "LSOA11NM", "WD21CD", "WD21NM", "LAD21CD", "LAD21NM"]
    assert 45 <= lookup["WD21CD"].nunique() <= 55
    iod = pd.read_csv(demo_dir / "geography/iod_lsoa.csv")
    assert "idaci_score" in iod and iod["imd_rank"].between(1, 32844).all()
    # skewed: a few very deprived LSOAs, most middling
    assert (iod["imd_decile"] == 1).mean() < 0.15 and iod["imd_decile"].between(3, 8).mean() > 0.5


def _cin_schema(cin_schema_path, year: int):
    """The year's CIN schema beside ``cin_schema_path``: CIN_schema_2024.xsd (2023-24; also the
    schema of 2021-22 and 2022-23 for what the demo writes), 2025 (2024-25), 2026 (2025-26 and
    the 2026-27 draft, whose only addition is an optional module the demo does not write)."""
    return etree.XMLSchema(etree.parse(str(cin_schema_path.parent / f"CIN_schema_{min(max(year, 2024), 2026)}.xsd")))


def test_every_cin_file_is_schema_valid(demo_dir, cin_schema_path):
    # each year's file against that year's schema
    for y in YEARS:
        schema = _cin_schema(cin_schema_path, y)
        doc = etree.parse(str(demo_dir / "cin" / f"CIN_census_{y}.xml"))
        assert schema.validate(doc), (y, schema.error_log.last_error)
        assert doc.findtext("Header/CollectionDetails/Year") == str(y)
        assert doc.findtext("Header/CollectionDetails/ReferenceDate") == f"{y}-03-31"
        assert doc.findtext("Header/Source/DateTime") == "2026-10-31T00:00:00"


def test_open_referral_appears_in_two_years(demo_dir):
    def keys(y):
        doc = etree.parse(str(demo_dir / "cin" / f"CIN_census_{y}.xml"))
        out = {}
        for child in doc.iter("Child"):
            cid = child.findtext("ChildIdentifiers/LAchildID")
            for det in child.iter("CINdetails"):
                out[(cid, det.findtext("CINreferralDate"))] = det.findtext("CINclosureDate")
        return out
    k24, k25 = keys(2024), keys(2025)
    open_at_end = {k for k, closed in k24.items() if closed is None and k[1] <= "2024-03-31"}
    assert len(open_at_end) > 500
    # open on 31 March 2024 -> also in the 2025 file, except referrals whose closure date
    # was removed as an injected fault (closed during 2023-24, so only in that file)
    dropped = json.loads((demo_dir / "faults.json").read_text())["by_file"]["cin/CIN_census_2024.xml"]["missing_closure_date"]
    assert len(open_at_end - set(k25)) <= dropped


def test_national_like_referral_figures(demo_dir):
    flat = _read_flat(demo_dir, census_only=True)  # national figures are from the census
    dedup = flat.drop_duplicates(["LAchildID", "ReferralDate"]).sort_values(["LAchildID", "date"])
    prev = dedup.groupby("LAchildID")["date"].shift()
    dedup["rereferral"] = prev.notna() & (dedup["date"] <= prev + pd.DateOffset(months=12))
    full = dedup[dedup["year"].between(2023, 2026)]  # complete years with a full look-back
    per_month = len(full) / 48
    assert 340 <= per_month <= 460
    nfa = (full["ReferralNFA"] == "true").mean()
    assert 0.06 <= nfa <= 0.08
    rate = full["rereferral"].mean()
    assert 0.18 <= rate <= 0.27
    # police about 30%, schools about 20%, N1 about 55%
    assert 0.25 <= (full["ReferralSource"] == "6").mean() <= 0.35
    assert 0.15 <= full["ReferralSource"].isin(["2A", "2B"]).mean() <= 0.25
    assert 0.45 <= (full["PrimaryNeedCode"] == "N1").mean() <= 0.62
    assert set(full["ReferralSource"]) <= set(codes.REFERRAL_SOURCES)
    assert set(full["PrimaryNeedCode"]) <= set(codes.PRIMARY_NEED_CODES)
    # recording artefact: re-referral rate steps up from 2024-25 (front-door change)
    by_year = full.groupby("year")["rereferral"].mean()
    assert by_year[[2025, 2026]].mean() - by_year[[2023, 2024]].mean() > 0.02


def test_rereferrals_rise_in_most_deprived_areas(demo_dir):
    flat = _read_flat(demo_dir, census_only=True).drop_duplicates(["LAchildID", "ReferralDate"]).sort_values(["LAchildID", "date"])
    prev = flat.groupby("LAchildID")["date"].shift()
    flat["rereferral"] = prev.notna() & (flat["date"] <= prev + pd.DateOffset(months=12))
    addr = pd.read_csv(demo_dir / "addresses/child_addresses.csv", dtype=str).drop_duplicates("LAchildID")
    iod = pd.read_csv(demo_dir / "geography/iod_lsoa.csv", dtype={"lsoa11cd": str})
    flat = flat.merge(addr[["LAchildID", "LSOA"]], on="LAchildID").merge(iod[["lsoa11cd", "idaci_decile"]], left_on="LSOA", right_on="lsoa11cd")
    dep = flat[flat["idaci_decile"] <= 2].groupby("year")["rereferral"].mean()
    rest = flat[flat["idaci_decile"] > 2].groupby("year")["rereferral"].mean()
    assert dep[2026] > dep[2023]
    assert (dep[2026] - rest[2026]) > (dep[2023] - rest[2023])


def test_duplicate_referral_faults_reconcile(demo_dir):
    faults = json.loads((demo_dir / "faults.json").read_text())
    total = 0
    for y in YEARS:
        doc = etree.parse(str(demo_dir / "cin" / f"CIN_census_{y}.xml"))
        keys = [(c.findtext("ChildIdentifiers/LAchildID"), d.findtext("CINreferralDate"))
                for c in doc.iter("Child") for d in c.iter("CINdetails")]
        dups = len(keys) - len(set(keys))
        assert dups == faults["by_file"][f"cin/CIN_census_{y}.xml"]["duplicate_referral"]
        total += dups
    assert total == faults["cin"]["duplicate_referral"] > 0


def test_903_codes_valid_for_year_except_injected_faults(demo_dir):
    faults = json.loads((demo_dir / "faults.json").read_text())
    for y in YEARS:
        ep = _episodes(demo_dir, y)
        valid_place = set(codes.placement_codes_for_year(y))
        bad_place = ~ep["PLACE"].isin(valid_place)
        assert set(ep.loc[bad_place, "PLACE"]) <= {"Z9"}
        f = faults["by_file"][f"ssda903/{y}/episodes.csv"]
        assert bad_place.sum() == f["unknown_place"]
        # no provider for the "other" placements Z1 / Z11-Z14 (903 rules 178, 213): blank
        blank = ep["PLACE_PROVIDER"] == ""
        assert ep.loc[blank, "PLACE"].str.startswith("Z1").all()
        assert (~ep["PLACE_PROVIDER"].isin(codes.PLACEMENT_PROVIDERS) & ~blank).sum() == f["unknown_provider"]
        assert ep["LS"].isin(codes.LEGAL_STATUSES).all()
        assert ep["RNE"].isin(codes.REASONS_NEW_EPISODE).all()
        assert ep.loc[ep["REC"] != "", "REC"].isin(codes.REASONS_EPISODE_CEASED).all()
        assert ep["CIN"].isin(codes.CIN_CATEGORY_903).all()
        assert ((ep["dec_d"] < ep["decom_d"]).sum()) == f["dec_before_decom"]
        header = pd.read_csv(demo_dir / "ssda903" / str(y) / "header.csv", dtype=str, keep_default_na=False)
        assert list(header.columns) == ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"]
        # each year's own SEX codes (helpers.readers.specs): 1/2 to 2023-24, M/F/U from 2024-25
        assert header["SEX"].isin(specs.ssda903_tables(y)["header"].code_lists["SEX"]).all()
        assert header["ETHNIC"].isin(codes.ETHNICITY_CODES).all()
        assert header["CHILD"].is_unique
    # H5/P2 until 2024, K3 from 2025
    assert _episodes(demo_dir, 2024)["PLACE"].isin(["H5", "P2"]).any()
    assert _episodes(demo_dir, 2026)["PLACE"].eq("K3").any()
    assert sum(faults["ssda903"].values()) > 0


def test_903_national_like_shares(demo_dir):
    pc = pd.read_csv(demo_dir / "postcodes/postcode_directory.csv").set_index("pcd")
    for y in (2023, 2025, 2026):
        ep = _episodes(demo_dir, y)
        year_end = pd.Timestamp(f"{y}-03-31")
        open_ = ep[(ep["decom_d"] <= year_end) & (ep["DEC"] == "")]
        assert 400 <= open_["CHILD"].nunique() <= 650  # about 500 looked after at 31 March
        assert ep["PL_POST"].isin(pc.index).all() and ep["HOME_POST"].isin(pc.index).all()
        outside = (pc.loc[open_["PL_POST"], "utla"].to_numpy() != "E06999001").mean()
        assert 0.38 <= outside <= 0.62
        home = pc.loc[open_["HOME_POST"], ["oseast1m", "osnrth1m"]].to_numpy()
        place = pc.loc[open_["PL_POST"], ["oseast1m", "osnrth1m"]].to_numpy()
        miles = np.hypot(*(home - place).T) / 1000 / 1.6093
        assert (miles < 20).mean() > 0.6
        assert (open_["LS"] == "C2").mean() > 0.5
        fost_in = (open_["PLACE"].isin(["U4", "U5", "U6"]) & (open_["PLACE_PROVIDER"] == "PR1")).mean()
        ifa = (open_["PLACE"].isin(["U4", "U5", "U6"]) & open_["PLACE_PROVIDER"].isin(["PR4", "PR5"])).mean()
        kin = open_["PLACE"].isin(["U1", "U2", "U3"]).mean()
        homes = open_["PLACE"].isin(["K1", "K2"]).mean()
        assert 0.22 <= fost_in <= 0.40 and 0.17 <= ifa <= 0.33 and 0.09 <= kin <= 0.22 and 0.06 <= homes <= 0.16
        uasc = pd.read_csv(demo_dir / "ssda903" / str(y) / "uasc.csv", dtype=str)
        assert 0.03 <= open_["CHILD"].isin(uasc["CHILD"]).mean() <= 0.12


def test_episode_open_at_31_march_in_both_years(demo_dir):
    e25, e26 = _episodes(demo_dir, 2025), _episodes(demo_dir, 2026)
    spanning = e25[(e25["DEC"] == "") & (e25["decom_d"] <= "2025-03-31")]
    merged = spanning.merge(e26, on=["CHILD", "DECOM"], suffixes=("", "_later"))
    assert len(merged) == len(spanning) > 300
    assert (merged["REC"] == "").all()  # DEC and REC blank in the earlier year


def test_addresses_and_capacity(demo_dir):
    addr = pd.read_csv(demo_dir / "addresses/child_addresses.csv", dtype=str, keep_default_na=False)
    assert list(addr.columns) == ["LAchildID", "Postcode", "LSOA", "WardCode", "AddressStartDate", "AddressEndDate"]
    flat = pd.read_csv(demo_dir / "referrals_flat.csv", dtype=str)
    assert set(flat["LAchildID"]) <= set(addr["LAchildID"])
    assert addr.duplicated("LAchildID").mean() > 0.05  # some children move
    pc = pd.read_csv(demo_dir / "postcodes/postcode_directory.csv", dtype=str)
    assert addr["Postcode"].isin(pc["pcd"]).all()
    assert addr["Postcode"].str.match(r"^QX\d{1,2} \d[A-Z]{2}$").all()
    cap = pd.read_csv(demo_dir / "capacity/inhouse_capacity.csv")
    assert (cap["foster_beds_occupied"] <= cap["foster_beds"]).all()
    assert (cap["home_beds_occupied"] <= cap["home_beds"]).all()
    assert cap["foster_households"].iloc[-12:].mean() < cap["foster_households"].iloc[:12].mean()
    assert cap["month"].iloc[0] == "2021-04" and cap["month"].iloc[-1] == "2026-10"


# ---------------------------------------------------------------- determinism, faults switch, real geography

def test_deterministic_byte_identical(tmp_path):
    a = generate(tmp_path / "a", seed=5, years=2, scale=0.2, faults="high")
    b = generate(tmp_path / "b", seed=5, years=2, scale=0.2, faults="high")
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) > 20
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    c = generate(tmp_path / "c", seed=6, years=2, scale=0.2, faults="high")
    assert (c / "referrals_flat.csv").read_bytes() != (a / "referrals_flat.csv").read_bytes()
    none = generate(tmp_path / "none", seed=5, years=2, scale=0.2, faults="none")
    counts = json.loads((none / "faults.json").read_text())
    assert sum(counts["cin"].values()) + sum(counts["ssda903"].values()) == 0
    high = json.loads((a / "faults.json").read_text())
    assert all(v > 0 for v in high["cin"].values()) and all(v > 0 for v in high["ssda903"].values())


def test_buckinghamshire_real_geography(shared_data, tmp_path, cin_schema_path):
    geo = RealGeography.from_files(
        "E06000060",
        shared_data / "lookups/LSOA11_WD21_LAD21_EW_LU_V2.csv",
        shared_data / "iod2019/iod2019_lsoa11_imd_idaci_population.csv",
        shared_data / "population/ons_mye2020_lsoa11_children_single_year_age.csv",
        shared_data / "boundaries/wards_dec2022_bgc_E06000060_buckinghamshire.geojson",
        shared_data / "boundaries/lsoa11_bgc_E06000060_buckinghamshire.geojson")
    assert len(geo.wards) == 49 and len(geo.lsoa) == 319
    out = generate(tmp_path / "bucks", years=1, scale=0.3, geography=geo)
    lookup = pd.read_csv(out / "geography/lsoa_ward_lad_lookup.csv")
    assert len(lookup) == 319 and lookup["WD21CD"].nunique() == 49 and (lookup["LAD21CD"] == "E06000060").all()
    addr = pd.read_csv(out / "addresses/child_addresses.csv", dtype=str)
    assert addr["LSOA"].isin(lookup["LSOA11CD"]).all()
    # referrals concentrate where IDACI says children are most deprived
    iod = pd.read_csv(out / "geography/iod_lsoa.csv")
    pop = pd.read_csv(out / "geography/population_lsoa.csv")
    first = addr.drop_duplicates("LAchildID").merge(iod, left_on="LSOA", right_on="lsoa11cd")
    rate = first.groupby("lsoa11cd").size().reindex(iod["lsoa11cd"], fill_value=0) / pop.set_index("lsoa11cd")["pop_0_17_mid2020"].reindex(iod["lsoa11cd"])
    low = iod["idaci_decile"].to_numpy() <= 3
    assert rate[low].mean() > 1.5 * rate[~low].mean()
    for f in sorted((out / "cin").glob("*.xml")):
        assert _cin_schema(cin_schema_path, int(f.stem[-4:])).validate(etree.parse(str(f))), f
    assert json.loads((out / "council.json").read_text())["la_code"] == "E06000060"


def test_generator_code_choices_are_in_the_code_lists():
    """The generator's weighted code choices must be codes the readers know."""
    from helpers import codes
    from helpers.demo import cin as demo_cin, ssda903 as demo_903

    assert set(demo_cin.ASSESSMENT_FACTORS) <= set(codes.ASSESSMENT_FACTORS)
    assert set(demo_903.REASON_PLACE_CHANGE) <= set(codes.REASON_PLACE_CHANGE)


def test_while_open_rows_join_the_open_case_by_hand():
    """A referral received on day 150 while an episode (referred day 100, closed day 400, RC7)
    is open: linked to that case, so it closes on day 400 with RC7 and has no modules."""
    from helpers.demo import cin as cin_mod

    ep = pd.DataFrame({"referral_day": [100.0], "source": ["6"], "need": ["N1"], "nfa": [False],
                       "closure_day": [400.0], "reason": ["RC7"], "assess_start": [102.0], "factors": ["1C"],
                       "cin_plan_start": [130.0], "cpp_start": [np.nan], "child_idx": [7], "lsoa_idx": [3],
                       "generation": [2]})
    rows = cin_mod._while_open_rows(np.random.default_rng(0), ep, np.array([150.0]))
    r = rows.iloc[0]
    assert (r["referral_day"], r["closure_day"], r["reason"], r["need"]) == (150.0, 400.0, "RC7", "N1")
    assert (r["child_idx"], r["lsoa_idx"], r["generation"]) == (7, 3, 2)
    assert bool(r["while_open"]) and not bool(r["front_door_duplicate"]) and not bool(r["nfa"])
    assert np.isnan(r["assess_start"]) and np.isnan(r["cin_plan_start"]) and r["factors"] == ""
    assert r["source"] in cin_mod.REFERRAL_SOURCE_SHARES


def test_census_episodes_never_overlap_while_open_referrals_only_in_the_extract(demo_dir):
    """The CIN census forbids overlapping episodes of a child (CIN rules 8820, 4014, 8815...):
    no CINdetails starts before the child's previous one closed. Referrals received while a
    case was open are in the flat referrals extract only, inside one of the child's episodes."""
    episodes = []
    for y in YEARS:
        doc = etree.parse(str(demo_dir / "cin" / f"CIN_census_{y}.xml"))
        episodes += [(c.findtext("ChildIdentifiers/LAchildID"), d.findtext("CINreferralDate"), d.findtext("CINclosureDate"))
                     for c in doc.iter("Child") for d in c.iter("CINdetails")]
    ep = pd.DataFrame(episodes, columns=["child", "ref", "close"])
    # the latest file's copy of an episode (a closure only appears in later files); duplicate-referral
    # faults are exact copies and collapse here
    ep = ep.sort_values("close", na_position="first").drop_duplicates(["child", "ref"], keep="last")
    ep = ep.sort_values(["child", "ref"]).reset_index(drop=True)
    prev_close = ep.groupby("child")["close"].shift()
    same = ep["child"].eq(ep["child"].shift())
    overlapping = same & (prev_close.isna() | (prev_close >= ep["ref"]))
    # an episode open in an earlier file whose closure date was dropped as an injected fault is the
    # only allowed exception (faults.json missing_closure_date)
    dropped = json.loads((demo_dir / "faults.json").read_text())["cin"]["missing_closure_date"]
    assert overlapping.sum() <= dropped
    flat = _read_flat(demo_dir)
    flat["ref"] = flat["date"].dt.strftime("%Y-%m-%d")
    extra = flat.merge(ep[["child", "ref"]].rename(columns={"child": "LAchildID"}), how="left", on=["LAchildID", "ref"],
                       indicator=True)
    extra = extra[extra["_merge"] == "left_only"]
    assert len(extra) > 500  # about 5% of referrals at scale 1
    # each lies inside an episode of the same child: after its referral, before its closure (or open)
    inside = extra[["LAchildID", "ref"]].merge(ep.rename(columns={"child": "LAchildID", "ref": "ep_ref"}), on="LAchildID")
    inside = inside[(inside["ep_ref"] < inside["ref"]) & (inside["close"].isna() | (inside["close"] > inside["ref"]))]
    assert inside.drop_duplicates(["LAchildID", "ref"]).shape[0] == len(extra.drop_duplicates(["LAchildID", "ref"]))


def test_adoption_codes_by_hand():
    """Four placement segments of two children: child 0 goes foster (U4) -> adoption on the day of
    the placement order (RNE T): A5, with the current foster carers; child 1 goes children's home
    (K2) -> adoption (RNE T): A6 (not from foster carers), then a second adoption segment after a
    plain move (RNE P): A6 (no legal change that day, rule 217)."""
    from helpers.demo.ssda903 import _adoption_codes

    place = np.array(["U4", "A3", "K2", "A5", "A4"], dtype=object)
    child = np.array([0, 0, 1, 1, 1])
    rne = np.array(["S", "T", "S", "T", "P"])
    got = _adoption_codes(np.random.default_rng(0), place, child, rne)
    assert got.tolist() == ["U4", "A5", "K2", "A6", "A6"]


def test_903_episodes_follow_the_dfe_rules_the_generator_models(demo_dir):
    """Rules the generator models (903 rules 358, 372, 373, 378, 408, 516, 529, 574, 577): checked
    on every year's files of the session demo (normal faults: injected codes Z9/PR9 are ignored)."""
    for y in YEARS:
        ep = _episodes(demo_dir, y)
        head = pd.read_csv(demo_dir / "ssda903" / str(y) / "header.csv", dtype=str, keep_default_na=False)
        ep = ep.merge(head[["CHILD", "DOB"]], on="CHILD")
        dob = pd.to_datetime(ep["DOB"], format="%d/%m/%Y")
        age_at = lambda years: ep["decom_d"] >= dob + pd.DateOffset(years=years)  # noqa: E731
        assert not (ep["LS"].isin(["J1", "J2", "J3"]) & ~age_at(10)).any(), y
        assert not ((ep["PLACE"] == "R5") & ~age_at(10)).any(), y
        assert not ((ep["PLACE"] == "S1") & ~age_at(4)).any(), y
        assert not ((ep["PLACE"] == "P1") & (ep["LS"] == "V2")).any(), y
        assert not (ep["PLACE"].isin(["A5", "A6"]) & (ep["LS"] != "E1")).any(), y
        assert not (ep["REC"].isin(["E45", "E46"]) & ~ep["PLACE"].isin(["U1", "U2", "U3", "U4", "U5", "U6"])).any(), y
        assert not (ep["PLACE"].isin(["K1", "K2", "P1", "U1", "U4", "A5", "A6"]) & (ep["PLACE_PROVIDER"] == "PR3")).any(), y
        mis = pd.read_csv(demo_dir / "ssda903" / str(y) / "missing.csv", dtype=str, keep_default_na=False)
        ms = pd.to_datetime(mis["MIS_START"], format="%d/%m/%Y")
        me = pd.to_datetime(mis["MIS_END"], format="%d/%m/%Y", errors="coerce")
        assert me.notna().all() and (me >= ms).all(), y           # ended, by the extract date
        m = mis.assign(ms=ms, me=me).sort_values(["CHILD", "ms"])
        prev_end = m.groupby("CHILD")["me"].shift()
        assert not (prev_end.notna() & (m["ms"] <= prev_end)).any(), y   # one at a time


def test_no_census_referral_before_birth(demo_dir):
    """A front-door duplicate (1-5 days before a real referral) never falls before the child's
    birth: the census holds born children only (CIN rule 8520: birth date after the census end)."""
    for y in YEARS:
        doc = etree.parse(str(demo_dir / "cin" / f"CIN_census_{y}.xml"))
        for child in doc.iter("Child"):
            dob = child.findtext("ChildIdentifiers/PersonBirthDate")
            assert dob <= f"{y}-03-31", (y, child.findtext("ChildIdentifiers/LAchildID"))
            assert all(d.findtext("CINreferralDate") >= dob for d in child.iter("CINdetails"))


def test_stale_demo_folder_is_known(tmp_path):
    """A demo folder is reused only when this generator wrote it with the same arguments (by hand:
    each changed field below must make it stale, and the untouched copy must not)."""
    import json
    from datetime import date

    from helpers.demo.generator import generator_fingerprint, stale_reason

    args = dict(seed=1, years=5, scale=1.0, as_at=date(2026, 10, 31), faults="normal")
    assert stale_reason(tmp_path, **args) == "no demo data yet"
    meta = {"generator": "helpers.demo", "generator_fingerprint": generator_fingerprint(), "seed": 1, "years": 5,
            "scale": 1.0, "as_at": "2026-10-31", "faults": "normal"}
    (tmp_path / "council.json").write_text(json.dumps(meta))
    assert stale_reason(tmp_path, **args) is None
    assert stale_reason(tmp_path, **{**args, "seed": 3}) == "different seed"
    (tmp_path / "council.json").write_text(json.dumps({**meta, "generator_fingerprint": "0" * 16}))
    assert stale_reason(tmp_path, **args) == "written by another version of the generator"
    (tmp_path / "council.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "generator_fingerprint"}))
    assert stale_reason(tmp_path, **args) == "written by another version of the generator"
    assert len(generator_fingerprint()) == 16 and generator_fingerprint() == generator_fingerprint()


def test_if_stale_replaces_only_an_old_demo(tmp_path, monkeypatch):
    """--if-stale leaves an up-to-date folder alone and replaces an old one (its stray files go)."""
    import json

    from helpers.demo import __main__ as cli
    from helpers.demo.generator import generator_fingerprint

    calls = []
    monkeypatch.setattr(cli, "generate", lambda out, **kw: calls.append(out) or __import__("pathlib").Path(out))
    out = tmp_path / "demo"
    out.mkdir()
    meta = {"generator": "helpers.demo", "generator_fingerprint": generator_fingerprint(), "seed": 1, "years": 5,
            "scale": 1.0, "as_at": "2026-10-31", "faults": "normal"}
    (out / "council.json").write_text(json.dumps(meta))
    (out / "stray.csv").write_text("x\n")
    assert cli.main(["--out", str(out), "--if-stale"]) == 0 and calls == []
    assert (out / "stray.csv").exists()
    (out / "council.json").write_text(json.dumps({**meta, "generator_fingerprint": "old"}))
    assert cli.main(["--out", str(out), "--if-stale"]) == 0 and calls == [str(out)]
    assert not (out / "stray.csv").exists()
