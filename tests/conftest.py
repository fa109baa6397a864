"""Shared fixtures: demo data generated once per test session, and paths to shared open data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SHARED_SPECS = REPO_ROOT.parent / "shared" / "specs"


def git_status() -> str | None:
    """``git status --porcelain`` of the repository (None outside a git checkout)."""
    import subprocess

    try:
        done = subprocess.run(["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


#: The working tree's status when the session started (tests/test_zz_clean_checkout.py compares).
STATUS_AT_START: str | None = None


def pytest_sessionstart(session):
    global STATUS_AT_START
    STATUS_AT_START = git_status()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside the repository")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cin_schema_path() -> Path:
    path = SHARED_SPECS / "CIN_schema_2024.xsd"
    if not path.is_file():
        pytest.skip("../shared/specs/CIN_schema_2024.xsd is not beside the repository")
    return path


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """Demo council data (seed 1, scale 1, normal faults), generated once per session."""
    from helpers.demo import generate

    out = tmp_path_factory.mktemp("demo")
    return generate(out, seed=1, years=5, scale=1.0, faults="normal")


@pytest.fixture(scope="session")
def demo_config(demo_dir, tmp_path_factory) -> Path:
    """A copy of configs/demo.toml whose [data] paths point at the session's demo data."""
    text = (REPO_ROOT / "configs" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('"data/demo/', f'"{demo_dir.as_posix()}/')
    # paths relative to the project root (e.g. "../shared/data/...") must survive the move
    text = text.replace('"../', f'"{REPO_ROOT.parent.as_posix()}/')
    cfg_dir = tmp_path_factory.mktemp("config") / "configs"
    cfg_dir.mkdir()
    path = cfg_dir / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def demo_published(demo_config, tmp_path_factory) -> Path:
    """The demo month published once per session (every report of configs/demo.toml, with PDFs);
    returns the output folder (``reports/``). Shared by the browser, attack and PDF tests."""
    from helpers.publishing import run as publish

    out = tmp_path_factory.mktemp("published") / "reports"
    assert publish.main(["--config", str(demo_config), "--month", "2026-10", "--out", str(out), "--pdf"]) == 0
    return out


@pytest.fixture(scope="session")
def test_output_dir() -> Path:
    """Where tests leave files for a person to look at (screenshots): test-output/ in the project (git-ignored)."""
    out = REPO_ROOT / "test-output"
    out.mkdir(exist_ok=True)
    return out
