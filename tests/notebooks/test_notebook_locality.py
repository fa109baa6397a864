"""The locality sizing notebook runs end to end under papermill on the demo data and publishes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support import run_notebook, rook_pieces



@pytest.mark.slow
def test_locality_notebook_publishes(demo_config, tmp_path):
    pytest.importorskip("papermill")
    out_dir = tmp_path / "published"
    summary = run_notebook("locality_sizing", demo_config, out_dir, tmp_path / "executed.ipynb")
    for key in ("title", "period_start", "period_end", "data_as_at", "n_localities", "fte_social_workers",
                "fte_family_support_workers", "fte_managers", "workload_ratio_max_min", "all_localities_contiguous",
                "caseload_targets", "building_block"):
        assert key in summary, key
    assert summary["n_localities"] == 21                      # configs/demo.toml [locality] n_localities
    assert summary["caseload_targets"] == {"social_worker": 15.0, "family_support_worker": 12.0}
    assert summary["all_localities_contiguous"] is True
    assert summary["workload_ratio_max_min"] <= 1.25
    assert summary["building_block"] in ("ward", "ward+lsoa", "lsoa")
    # looked-after children with no address in the extract are placed from the 903 home postcode, and counted
    assert summary["open_cases_placed_by_home_postcode"] > 100          # 191 in the seed-1 demo
    assert summary["open_cases_not_placed"] in (0, "c")
    assert summary["open_cases_latest"] > summary["open_cases_placed_by_home_postcode"]
    assert summary["keep_districts_whole"] is False and summary["n_districts"] == 1
    # social workers = projected cases / 15 x 1.1, so they are a positive share of the total
    assert 0 < summary["fte_social_workers"] < summary["fte_total"]
    localities = pd.read_csv(out_dir / "tables" / "localities.csv")
    assert len(localities) == 21
    assert "child_id" not in " ".join(localities.columns)
    assert localities["locality_name"].is_unique and not localities["locality_name"].str.startswith("Locality").any()
    # the assignment as used: every block once, every locality
    blocks = pd.read_csv(out_dir / "tables" / "block_to_locality.csv")
    assert blocks["block_code"].is_unique and blocks["locality"].nunique() == 21
    assert set(blocks["locality"]) == set(localities["locality"])
    w2l = pd.read_csv(out_dir / "tables" / "ward_to_locality.csv")
    assert set(w2l["locality"]) == set(localities["locality"])          # every locality appears in the ward table too
    assert w2l.groupby("ward_code")["share_workload"].sum().sub(1).abs().le(0.002).all()   # shares published to 3 dp
    split = set(w2l.loc[w2l["split"], "ward_code"])
    assert set(blocks.loc[blocks["block_type"] == "ward", "ward_code"]).isdisjoint(split)
    assert summary["n_wards_split"] == len(split)
    # posts per role exceed FTE per role by less than one post (council-level rounding)
    for role, fte in summary["fte_by_role"].items():
        assert 0 <= summary["posts_by_role"][role] - fte < 1 + 0.05, role   # FTE is rounded to 0.1 in the summary
    est = pd.read_csv(out_dir / "tables" / "establishment.csv")
    total = est[est["locality"] == "Council total"].iloc[0]
    for role in ("social_workers", "family_support_workers", "senior_practitioners", "team_managers"):
        assert 0 <= total[f"posts_{role}"] - total[f"fte_{role}"] < 1
    # independent check of the published table: every locality's LSOAs form one piece under rook (edge) contiguity,
    # computed from the polygons with shapely (shared border of positive length), not from the library's graph
    from helpers.reference import geography as geo
    cfg_text = demo_config.read_text(encoding="utf-8")
    gdir = Path(cfg_text.split('lsoa_boundaries = "')[1].split('"')[0]).parent
    lsoas = geo.read_boundaries(gdir / "lsoas.geojson")
    lookup = geo.read_lsoa_ward_lookup(gdir / "lsoa_ward_lad_lookup.csv")
    per_lsoa = lookup[["lsoa_code", "ward_code"]].merge(blocks[["block_code", "locality"]], left_on="lsoa_code",
                                                        right_on="block_code", how="left")
    by_ward = blocks[blocks["block_type"] == "ward"].set_index("ward_code")["locality"]
    per_lsoa["locality"] = per_lsoa["locality"].fillna(per_lsoa["ward_code"].map(by_ward))
    assert per_lsoa["locality"].notna().all()                          # every LSOA covered exactly once
    assert not (out_dir / "tables" / "contiguity_links.csv").exists()   # the demo's wards are exact unions of LSOAs
    assert rook_pieces(lsoas, per_lsoa.set_index("lsoa_code")["locality"]) == {loc: 1 for loc in set(blocks["locality"])}
    # the re-referral report's breakdown by locality (rereferrals.read_locality_map + add_area, as its notebook
    # calls them) reads this block table and shows every locality (the old ward table lost 3 of 21)
    from helpers.readers import case_extracts, cin_census
    from helpers.rereferrals import measure as rr

    folder = gdir.parent
    cin = cin_census.read_cin_census(folder / "cin")
    addresses, _ = case_extracts.read_address_extract(folder / "addresses" / "child_addresses.csv")
    referrals = case_extracts.attach_ward(cin.referrals, addresses)
    flags = rr.add_area(rr.flag_definition(referrals, rr.DFE),
                        None, rr.read_locality_map(out_dir / "tables" / "block_to_locality.csv"))
    start, end = rr.collection_year_bounds(int(cin.referrals["collection_year"].max()) - 1)
    table = rr.breakdown(flags, "locality", start, end)
    assert set(localities["locality_name"]) <= set(table["locality"])
    # the lead names the 12 months to the run month; today's teams are shown beside the localities
    page = (tmp_path / "executed.ipynb").read_text(encoding="utf-8")
    assert "In the 12 months to October 2026, the council received" in page
    assert (summary["latest_12m_start"], summary["latest_12m_end"]) == ("2025-11-01", "2026-10-31")
    assert summary["latest_12m_referrals"] > 1000
    teams = pd.read_csv(out_dir / "tables" / "current_team_caseloads.csv", dtype=str)
    assert list(teams.columns) == ["team", "children_in_need", "child_protection", "looked_after", "children"]
    assert teams["team"].iloc[-1] == "All teams" and len(teams) >= 6
    # the demo's small disabled children's team holds fewer children than the threshold in some lists: hidden
    assert (teams == "c").any().any()
    assert "Workers are not shown" in page


