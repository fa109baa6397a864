"""Validator conformance: the DfE validators' own rules over a fresh demo council.

``scripts/conformance.sh`` makes the validators' own virtual environment (``.venv-validators``:
``pandas<2``, ``csc-validator-be-cin==0.1.13``, ``csc-validator-be-903==0.1.17``, pytest),
generates the demo (seed 1, scale 1, ``--faults none``) and writes one row per rule that
flags anything (``rules.csv``). It runs once per session (a few minutes).

The test fails when an error rule appears that is not in ``scripts/conformance_allowlist.csv``.
That list holds rule 1530 and the postcode-directory rules (the fictional council has no real
LA number and no real postcodes), the validators' own faults and the rules that need more than the
two years of files the validator is given (each with its evidence; docs/conformance.md). Queries (CIN rules
ending in ``Q``) may remain at realistic rates and are not checked here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOW = ROOT / "scripts" / "conformance_allowlist.csv"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    if shutil.which("bash") is None:
        pytest.skip("bash is needed to run scripts/conformance.sh")
    out = tmp_path_factory.mktemp("conformance")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "conformance.sh"), str(out), "1"], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def rules(run) -> pd.DataFrame:
    return pd.read_csv(run / "rules.csv", dtype={"rule": str})


@pytest.mark.slow
def test_every_year_of_both_returns_was_validated(run):
    runs = pd.read_csv(run / "runs.csv")
    # demo as at 2026-10-31 with 5 complete years: collection years 2022 (2021-22) to 2027
    for ret in ("CIN", "SSDA903"):
        assert set(runs.loc[runs["return"] == ret, "collection_year"]) == set(range(2022, 2028)), ret
    assert (runs["rules_run"] > 50).all()                    # a whole rule set ran on every file


def _allow() -> pd.DataFrame:
    return pd.read_csv(ALLOW, dtype=str, comment="#").fillna("")


def _not_allowed(errors: pd.DataFrame, allow: pd.DataFrame, also=frozenset()) -> pd.DataFrame:
    """The rows of ``errors`` (return, rule, collection_year) that no allow-list entry covers:
    an entry covers its rule in the collection years its ``years`` lists ("all" = every year).
    ``also``: (return, rule) pairs allowed in every year."""
    years = {(r, c): (None if y.strip() == "all" else {int(v) for v in y.split()})
             for r, c, y in zip(allow["return"], allow["rule"], allow["years"])}

    def covered(ret: str, rule: str, year) -> bool:
        if (ret, rule) in also:
            return True
        if (ret, rule) not in years:
            return False
        allowed = years[(ret, rule)]
        return allowed is None or int(year) in allowed

    keep = [not covered(r, c, y) for r, c, y in zip(errors["return"], errors["rule"], errors["collection_year"])]
    return errors[keep]


def test_allow_list_years_limit_an_entry_to_its_years():
    # hand-made: rule 146 allowed only in 2025, rule 169 in every year, 8820 allowed by ``also``
    allow = pd.DataFrame({"return": ["SSDA903", "SSDA903"], "rule": ["146", "169"], "years": ["2025", "all"]})
    errors = pd.DataFrame({"return": ["SSDA903"] * 4 + ["CIN", "CIN"],
                           "rule": ["146", "146", "169", "178", "8820", "1530"],
                           "collection_year": [2025, 2026, 2022, 2025, 2024, 2024]})
    left = _not_allowed(errors, allow, also={("CIN", "8820")})
    assert list(zip(left["rule"], left["collection_year"])) == [("146", 2026), ("178", 2025), ("1530", 2024)]


def test_allowlist_is_documented():
    allow = _allow()
    assert list(allow.columns) == ["return", "rule", "years", "status", "reason"]
    # "all" or collection years (2022 = 2021-22 ... ): every entry says which
    assert allow["years"].str.fullmatch(r"all|20\d\d( 20\d\d)*").all()
    # the two faults the evidence places in 2024-25's rule set are allowed in that year only
    only_2025 = allow[allow["years"] == "2025"]
    assert set(zip(only_2025["return"], only_2025["rule"])) == {("SSDA903", "146"), ("SSDA903", "202")}
    # no "demo-to-fix" any more: the demo itself breaks no rule
    assert set(allow["status"]) <= {"permanent", "validator-fault", "validator-limit"}
    assert (allow["reason"].str.len() > 20).all()            # every entry says why
    assert not allow.duplicated(["return", "rule"]).any()
    assert ((allow["return"] == "CIN") & (allow["rule"] == "1530") & (allow["status"] == "permanent")).any()


@pytest.mark.slow
def test_demo_passes_the_dfe_validators_apart_from_the_allow_list(rules):
    errors = rules[rules["kind"] != "query"]
    new = _not_allowed(errors, _allow())
    assert new.empty, "error rules not in scripts/conformance_allowlist.csv:\n" + new.to_string()


@pytest.mark.slow
def test_every_table_reaches_the_validator(rules):
    # no file refused by the 903 validator (e.g. a missing.csv without DOB) and no CIN rule crashed
    assert not (rules["kind"] == "upload").any(), rules[rules["kind"] == "upload"].to_string()


#: Each injected fault kind (helpers/demo/faults.py): the rule it must trip, once per injected fault
#: (``exact``) or at least once per fault (``at least``: the CIN overlap rule flags both copies of
#: a duplicated referral), and the other rules it may trip as a consequence (docs/conformance.md).
FAULT_RULES = {
    "duplicate_referral": ("CIN", "8820", "at least", {"4014", "8815", "8816", "8935"}),
    "missing_closure_date": ("CIN", "8810", "exact", {"8815", "8816", "8820"}),
    "overlapping_episode": ("SSDA903", "501", "exact", {"388", "433"}),
    "unknown_place": ("SSDA903", "146", "exact", {"218", "242", "392d", "434", "550"}),
    "unknown_provider": ("SSDA903", "178", "exact", set()),
    "dec_before_decom": ("SSDA903", "356", "exact", {"165", "460", "577", "578", "581"}),
}


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory) -> tuple[pd.DataFrame, dict]:
    """One validator run over a demo with every fault kind injected at the high rate (scale 0.3:
    about 1,900 children a year, a minute or two)."""
    import json

    if shutil.which("bash") is None:
        pytest.skip("bash is needed to run scripts/conformance.sh")
    out = tmp_path_factory.mktemp("conformance_faults")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "conformance.sh"), str(out), "1", "high", "0.3"], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    faults = json.loads((out / "demo" / "faults.json").read_text(encoding="utf-8"))
    return pd.read_csv(out / "rules.csv", dtype={"rule": str}), faults


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(FAULT_RULES))
def test_each_injected_fault_trips_its_rule(fault_run, kind):
    rules, faults = fault_run
    ret, rule, how, _ = FAULT_RULES[kind]
    injected_total = 0
    for year in range(2022, 2028):
        key = f"cin/CIN_census_{year}.xml" if ret == "CIN" else f"ssda903/{year}/episodes.csv"
        injected = faults["by_file"][key][kind]
        injected_total += injected
        flagged = int(rules.loc[(rules["return"] == ret) & (rules["rule"] == rule)
                                & (rules["collection_year"] == year), "locations"].sum())
        if how == "exact" and not (ret == "SSDA903" and rule == "146" and year == 2025):
            assert flagged == injected, (kind, year, injected, flagged)
        else:  # 146 in 2024-25 also flags every K3 (the validator's own fault, see the allow-list)
            assert flagged >= injected, (kind, year, injected, flagged)
    assert injected_total > 0, kind                          # the high rate injects every kind


@pytest.mark.slow
def test_faults_trip_no_rule_they_do_not_explain(fault_run):
    rules, _ = fault_run
    explained = {(ret, r) for ret, main, _, others in FAULT_RULES.values() for r in {main, *others}}
    errors = rules[rules["kind"] != "query"]
    odd = _not_allowed(errors, _allow(), also=explained)
    assert odd.empty, "rules tripped by the faulted demo that no fault explains:\n" + odd.to_string()
