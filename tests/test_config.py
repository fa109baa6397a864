"""Council config loading and input resolution."""

from __future__ import annotations

import pytest

from helpers.config import ConfigError, load_config, resolve_input

CONFIG = """
[council]
la_code = "E06999001"
la_name = "Test council"
[data]
cin_census = "data/cin"
[publish]
suppression_threshold = 10
"""


def _write(tmp_path, text):
    (tmp_path / "configs").mkdir()
    path = tmp_path / "configs" / "c.toml"
    path.write_text(text)
    return path


def test_paths_resolve_against_the_project_root(tmp_path):
    cfg = load_config(_write(tmp_path, CONFIG))
    # configs/ sits in the project root, so data/cin is <root>/data/cin
    assert cfg["data"]["cin_census"] == (tmp_path / "data" / "cin").resolve()
    assert cfg["publish"]["suppression_threshold"] == 10


@pytest.mark.parametrize("bad, message", [
    (CONFIG.replace("[publish]\nsuppression_threshold = 10", ""), r"missing required section \[publish\]"),
    (CONFIG.replace('la_name = "Test council"', ""), "missing required key council.la_name"),
    (CONFIG.replace("= 10", "= 0"), "suppression_threshold must be a whole number of at least 1"),
    (CONFIG + "[[[", "not valid TOML"),
])
def test_bad_configs_name_the_file_and_the_key(tmp_path, bad, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_config(_write(tmp_path, bad))
    assert "c.toml" in str(err.value)


def test_run_inputs_come_from_the_same_run_only(tmp_path):
    cfg = load_config(_write(tmp_path, CONFIG))
    build = tmp_path / "build" / "2026-10"
    (build / "locality_sizing" / "tables").mkdir(parents=True)
    (build / "locality_sizing" / "tables" / "ward_to_locality.csv").write_text("ward_code,locality\n")
    value = "run:locality_sizing/tables/ward_to_locality.csv"
    assert resolve_input(cfg, value, build / "re_referrals") == build / "locality_sizing" / "tables" / "ward_to_locality.csv"
    assert resolve_input(cfg, value, "") is None                                  # interactive session
    assert resolve_input(cfg, "run:placement_sufficiency/tables/x.csv", build / "re_referrals") is None  # not run yet
    assert resolve_input(cfg, "", build / "re_referrals") is None
    assert resolve_input(cfg, "lookups/map.csv") == (tmp_path / "lookups" / "map.csv").resolve()
