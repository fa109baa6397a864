"""pyproject.toml declares the dependencies once; environment.yml must list the same packages."""

from __future__ import annotations

import re
import tomllib

import pytest

from conftest import REPO_ROOT

# conda-forge names that differ from the PyPI name
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}
NOT_PACKAGES = {"python", "pip"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    return {_name(r): r.replace(" ", "") for r in reqs}


def _environment_yml() -> dict[str, str]:
    """Package entries under ``dependencies:`` (conda and pip), read without a YAML library."""
    entries = {}
    in_deps = False
    for line in (REPO_ROOT / "environment.yml").read_text().splitlines():
        if not line.startswith(" "):
            in_deps = line.startswith("dependencies:")
            continue
        m = re.match(r"^\s+-\s+([^#]+?)\s*(#.*)?$", line)
        if not in_deps or not m or m.group(1).endswith(":"):
            continue
        req = m.group(1).replace(" ", "")
        name = CONDA_TO_PYPI.get(_name(req), _name(req))
        if name in NOT_PACKAGES:
            continue
        entries[name] = name + req[len(_name(req)):]
    return entries


def test_environment_yml_lists_the_same_packages_as_pyproject():
    declared, conda = _pyproject(), _environment_yml()
    missing = sorted(set(declared) - set(conda))
    extra = sorted(set(conda) - set(declared))
    assert not missing and not extra, (
        f"environment.yml disagrees with pyproject.toml: missing {missing}, not in pyproject {extra}"
    )


def test_environment_yml_uses_the_same_minimum_versions():
    declared, conda = _pyproject(), _environment_yml()
    differ = {n: (declared[n], conda[n]) for n in declared if n in conda and declared[n] != conda[n]}
    assert not differ, f"version pins differ between pyproject.toml and environment.yml: {differ}"


@pytest.mark.parametrize("bad_line", ["  - someextra>=1.0\n"])
def test_the_check_catches_a_disagreement(tmp_path, monkeypatch, bad_line):
    """The comparison itself must be able to fail: add a package to a copy and re-run it."""

    fake_root = tmp_path
    (fake_root / "pyproject.toml").write_text((REPO_ROOT / "pyproject.toml").read_text())
    text = (REPO_ROOT / "environment.yml").read_text().replace("  - pip:\n", bad_line + "  - pip:\n")
    (fake_root / "environment.yml").write_text(text)
    monkeypatch.setattr(__import__(__name__), "REPO_ROOT", fake_root)
    with pytest.raises(AssertionError, match="someextra"):
        test_environment_yml_lists_the_same_packages_as_pyproject()
