"""House rules for the committed notebooks: no outputs, one tagged parameters cell of literals."""

from __future__ import annotations

import ast
import json

import pytest

from conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    with_outputs = [i for i, c in enumerate(nb["cells"]) if c.get("outputs") or c.get("execution_count")]
    assert not with_outputs, f"{path.name}: cells {with_outputs} hold outputs (strip them: they can hold child-level data)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell_of_annotated_literals(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected exactly one cell tagged 'parameters', found {len(tagged)}"
    source = "".join(tagged[0]["source"])
    tree = ast.parse(source)
    names = set()
    for stmt in tree.body:
        assert isinstance(stmt, ast.AnnAssign), f"{path.name}: parameters cell line {stmt.lineno} is not `name: type = literal`"
        ast.literal_eval(stmt.value)  # raises if the value is not a literal
        names.add(stmt.target.id)
    for required in ("config_path", "output_dir", "month"):
        assert required in names, f"{path.name}: parameters cell lacks {required}"
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert all("#" in ln for ln in lines), f"{path.name}: every parameter needs a short comment"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_personal_paths_or_run_magic(path):
    text = path.read_text(encoding="utf-8")
    for bad in ("%run", "/home/", "C:\\\\Users", "/Users/"):
        assert bad not in text, f"{path.name}: contains {bad!r}"


TRACKED_NOTEBOOKS = NOTEBOOKS + sorted((REPO_ROOT / "tests" / "fixtures" / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", TRACKED_NOTEBOOKS, ids=lambda p: p.name)
def test_committed_in_the_form_the_strip_filter_writes(path):
    """The set-up installs nbstripout as git's clean filter; a notebook not already in the form it writes
    shows as modified in a fresh clone although nobody changed it (e.g. cell ids renumbered)."""
    import subprocess
    import sys

    pytest.importorskip("nbstripout")
    stripped = subprocess.run([sys.executable, "-m", "nbstripout", "-t", str(path)],
                              capture_output=True, text=True, check=True).stdout
    assert stripped == path.read_text(encoding="utf-8"), (
        f"{path.name}: differs from nbstripout's output; run `.venv/bin/nbstripout {path.relative_to(REPO_ROOT)}` "
        "(or `git add --renormalize .`) and commit")
