"""Council config loading and input resolution."""

from __future__ import annotations

import pytest

from helpers import config
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
    (tmp_path / "data" / "cin").mkdir(parents=True)
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
    (CONFIG.replace("= 10", "= -3"), "suppression_threshold must be a whole number of at least 1, got -3"),
    (CONFIG.replace("= 10", '= "ten"'), "publish.suppression_threshold must be a whole number, got 'ten'"),
    (CONFIG.replace('"data/cin"', '"data/cim"'), r"data.cin_census: 'data/cim' does not exist"),
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


DEMO_LIKE = CONFIG.replace("suppression_threshold = 10", 'suppression_threshold = 10\nreports = ["re_referrals"]')


def test_every_problem_is_listed_at_once(tmp_path):
    """A hand-made config with five mistakes: one message lists all five, each with its key."""
    bad = (CONFIG.replace('cin_census = "data/cin"', 'addresses = "data/missing.csv"')
           .replace("suppression_threshold = 10", 'suppression_threshold = 0\nreports = ["re_referals"]')
           + '[locality]\nn_localities = "twenty-one"\nsw_caseload = -2\n')
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, bad))
    msg = str(err.value)
    assert "c.toml" in msg and "problem(s)" in msg
    for expected in ("publish.suppression_threshold must be a whole number of at least 1, got 0",
                     "locality.n_localities must be a whole number, got 'twenty-one'",
                     "locality.sw_caseload must be more than 0",
                     "data.addresses: 'data/missing.csv' does not exist",
                     "publish.reports: unknown report 're_referals'"):
        assert expected in msg, (expected, msg)
    assert "KeyError" not in msg and "Traceback" not in msg


def test_a_report_names_the_data_key_it_needs(tmp_path):
    bad = DEMO_LIKE.replace('cin_census = "data/cin"', 'iod = "data/cin"')
    with pytest.raises(ConfigError, match="missing required key data.cin_census \\(the re_referrals report reads it\\)"):
        load_config(_write(tmp_path, bad))


@pytest.mark.parametrize("table, message", [
    ('[[placements.scenarios]]\nname = "x"\nlever = "magic"\n', "placements.scenarios[0].lever must be one of"),
    ('[rereferrals]\nwindow = 0\n', "rereferrals.window must be a whole number of at least 1, got 0"),
    ('[locality]\nbuilding_block = "county"\n', "locality.building_block must be one of"),
    ('[placements]\ninterval = 1.5\n', "placements.interval must be less than 1"),
])
def test_wrong_values_in_report_tables(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(_write(tmp_path, CONFIG + table))


def test_not_utf8_config(tmp_path):
    path = _write(tmp_path, CONFIG)
    path.write_bytes(CONFIG.replace("Test council", "Caf\u00e9").encode("latin-1"))
    with pytest.raises(ConfigError, match="not valid UTF-8; save the config as UTF-8"):
        load_config(path)


def test_the_demo_config_meets_the_schema(repo_root):
    from helpers.config_schema import problems
    import tomllib

    cfg = tomllib.loads((repo_root / "configs" / "demo.toml").read_text(encoding="utf-8"))
    # the demo data may not be generated yet: check everything except path existence
    found = [p for p in problems(cfg, repo_root, repo_root / "notebooks") if "does not exist" not in p]
    assert found == []


def test_extract_date_from_council_meta(tmp_path):
    meta = tmp_path / "council.json"
    cfg = {"data": {"council_meta": meta}}
    assert config.extract_date(cfg) is None                       # no file
    meta.write_text('{"as_at": "2026-10-31"}', encoding="utf-8")
    assert config.extract_date(cfg) == "2026-10-31"
    meta.write_text('{"as_at": "2026-10-31T09:15:00"}', encoding="utf-8")
    assert config.extract_date(cfg) == "2026-10-31"                # a time of day is dropped
    meta.write_text('{"la_code": "E06999001"}', encoding="utf-8")
    assert config.extract_date(cfg) is None                        # no date given
    meta.write_text('{"as_at": "31/10/2026"}', encoding="utf-8")
    with pytest.raises(config.ConfigError, match=r"council.json: as_at '31/10/2026' is not a date"):
        config.extract_date(cfg)
    meta.write_text('[1, 2]', encoding="utf-8")
    with pytest.raises(config.ConfigError, match="not a JSON object"):
        config.extract_date(cfg)
    assert config.extract_date({"data": {}}) is None
