"""The package's folders show the architecture, and tests mirror them (issue 17).

Expected values are the layout the README's tree documents: a handful of top-level modules, one
subpackage per step of the data flow, every public name importable from its subpackage.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import helpers
from conftest import REPO_ROOT

SRC = REPO_ROOT / "src" / "helpers"
SUBPACKAGES = {"readers", "reference", "rereferrals", "localities", "placements", "money", "publishing", "demo"}


def test_top_level_holds_a_handful_of_shared_modules():
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert modules == {"config", "config_schema", "codes", "stats", "memory"}
    folders = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert folders == SUBPACKAGES


def test_every_module_imports_and_has_a_docstring():
    for info in pkgutil.walk_packages(helpers.__path__, "helpers."):
        module = importlib.import_module(info.name)
        assert (module.__doc__ or "").strip(), info.name


def test_public_names_importable_from_their_subpackage():
    from helpers import placements, rereferrals
    from helpers.placements import where
    from helpers.readers import read_cin_census
    from helpers.readers.cin_census import read_cin_census as direct
    from helpers.rereferrals import measure

    assert read_cin_census is direct
    assert rereferrals.rereferral_rates is measure.rereferral_rates
    assert placements.categorise_placements is where.categorise_placements
    assert "rereferral_rates" in dir(rereferrals)
    try:
        rereferrals.no_such_name  # noqa: B018
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_tests_mirror_the_package():
    tests = REPO_ROOT / "tests"
    for sub in SUBPACKAGES:
        assert list((tests / sub).glob("test_*.py")), f"tests/{sub}/ has no tests"
    names = [p.name for p in tests.rglob("test_*.py") if "fixtures" not in p.parts]
    assert len(names) == len(set(names)), "test file names must be unique across folders"
    untested = [f"{folder}/{module.name}"
                for folder in ("readers", "rereferrals", "localities", "placements", "money", "publishing", "reference")
                for module in sorted((SRC / folder).glob("*.py"))
                if module.stem not in {"__init__", "__main__"}
                and not (tests / folder / f"test_{module.stem}.py").exists() and not _tested_elsewhere(module)]
    assert untested == []
    assert not list(tests.glob("test_*.py")) or {p.name for p in tests.glob("test_*.py")} <= {
        "test_config.py", "test_conformance.py", "test_environment.py", "test_stats.py", "test_memory.py", "test_package_layout.py",
        "test_zz_clean_checkout.py"}


def _tested_elsewhere(module: Path) -> bool:
    """A module without its own test file must be imported by some test in its folder."""
    folder = REPO_ROOT / "tests" / module.parent.name
    pattern = re.compile(rf"^\s*(from|import) .*\b{module.stem}\b", re.M)
    return any(pattern.search(p.read_text()) for p in folder.glob("test_*.py"))
