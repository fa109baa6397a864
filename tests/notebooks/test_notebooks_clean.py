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


# -- thin notebooks: the limits the developers' guide sets ------------------------------------------
MAX_CODE_LINES = 120
MAX_LINE_LENGTH = 100


def code_lines(source: str) -> list[str]:
    """Lines of code in a cell: not blank, not a comment."""
    return [ln for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def limit_problems(nb: dict) -> list[str]:
    """Every way a notebook breaks the thin-notebook limits: more than MAX_CODE_LINES lines of code
    in all, a code line longer than MAX_LINE_LENGTH characters, or a function or class defined."""
    problems, total = [], 0
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        total += len(code_lines(source))
        for n, line in enumerate(source.splitlines(), 1):
            if len(line) > MAX_LINE_LENGTH:
                problems.append(f"cell {i} line {n}: {len(line)} characters (at most {MAX_LINE_LENGTH})")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                kind = "lambda" if isinstance(node, ast.Lambda) else f"{type(node).__name__} {node.name}"
                problems.append(f"cell {i}: defines {kind} (put it in src/helpers with a test)")
    if total > MAX_CODE_LINES:
        problems.append(f"{total} lines of code (at most {MAX_CODE_LINES})")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_thin_notebook_limits(path):
    """Each notebook: at most 120 lines of code, no line over 100 characters, no def, class or lambda.
    Logic, chart building and formatting live in src/helpers, with tests."""
    problems = limit_problems(json.loads(path.read_text(encoding="utf-8")))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def _notebook(*sources: str) -> dict:
    return {"cells": [{"cell_type": "markdown", "source": ["# Title\n", "x" * 150]}]
            + [{"cell_type": "code", "source": [s]} for s in sources]}


def test_the_limits_catch_each_breach():
    """Hand-made notebooks: one within every limit, and one breaking each (counts worked out by hand:
    121 one-line code cells is 121 lines; comments, blank lines and Markdown do not count)."""
    ok = _notebook("# a comment\n\nx = 1\n", "y = 2  # " + "z" * 80)   # 2 code lines, longest 89
    assert limit_problems(ok) == []
    assert any("121 lines" in p for p in limit_problems(_notebook(*["x = 1"] * 121)))
    assert limit_problems(_notebook(*["x = 1"] * 120)) == []
    assert any("101 characters" in p for p in limit_problems(_notebook("x = '" + "a" * 95 + "'")))
    assert limit_problems(_notebook("x = '" + "a" * 94 + "'")) == []             # exactly 100
    assert any("FunctionDef f" in p for p in limit_problems(_notebook("def f():\n    return 1")))
    assert any("ClassDef C" in p for p in limit_problems(_notebook("class C:\n    pass")))
    assert any("lambda" in p for p in limit_problems(_notebook("pct = lambda x: x")))
