"""Kernels forked from the publishing run's kernel server (helpers.publishing.kernels)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from helpers.publishing import kernels
from helpers.publishing import run as publish

pytestmark = pytest.mark.skipif(not kernels.available(), reason="kernels are forked on Linux only")


def _notebook(path: Path, sources: list[str]) -> Path:
    cells = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None} for s in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    return path


def test_notebook_imports_lists_modules_in_order_and_skips_magics(tmp_path):
    nb = _notebook(tmp_path / "a.ipynb", ["from helpers.publishing import report\nfrom helpers.localities import page",
                                          "%matplotlib inline", "import json, os.path\nfrom . import x\nfrom pandas import *"])
    assert kernels.notebook_imports([nb]) == ["helpers.publishing", "helpers.publishing.report", "helpers.localities",
                                              "helpers.localities.page", "json", "os.path", "pandas"]


def test_vega_lite_and_notebook_schemas_use_no_format_the_skipped_checker_handles():
    # rfc3987_syntax checks only the "iri" and "iri-reference" formats: without it in the kernels
    # and the publishing run, Altair's validation of charts and nbformat's of notebooks are
    # unchanged as long as their schemas use neither.
    import altair
    import nbformat

    schema = Path(altair.__file__).parent / "vegalite" / f"v{altair.SCHEMA_VERSION.split('.')[0].lstrip('v')}" / "schema" / "vega-lite-schema.json"
    notebook_schemas = sorted((Path(nbformat.__file__).parent / "v4").glob("nbformat.v4*.schema.json"))
    assert notebook_schemas
    formats: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("format"), str) and node.get("type", "string") == "string":
                formats.add(node["format"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(schema.read_text(encoding="utf-8")))
    assert formats and not formats & {"iri", "iri-reference"}
    for path in notebook_schemas:
        walk(json.loads(path.read_text(encoding="utf-8")))
    assert not formats & {"iri", "iri-reference"}


@pytest.mark.slow
def test_forked_kernel_runs_code_in_its_folder_with_its_environment_and_reports_its_peak(tmp_path):
    log = tmp_path / "kernel.log"
    server = kernels.KernelServer(["json", "helpers.readers.input_cache"], tmp_path, {}, tmp_path / "server.log")
    try:
        info = server.wait_ready()
        assert "ipykernel.kernelapp" in info["loaded"] and "json" in info["loaded"]
        kernel_name = publish.ensure_kernelspec(tmp_path / "jupyter")
        manager_class = kernels.kernel_manager_class(server, {"CSC_TEST_VALUE": "forty-two"}, log, tmp_path)

        async def run() -> tuple[dict, object]:
            km = manager_class(kernel_name=kernel_name)
            await km.start_kernel()
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=60)
            outputs: list[str] = []
            reply = await kc.execute_interactive(
                "import os, sys\n"
                "from helpers.readers import input_cache\n"
                "print(os.getcwd(), os.environ['CSC_TEST_VALUE'], sys.executable, 'json' in sys.modules, os.getpgrp() == os.getpid(),"
                " input_cache._BUNDLE is not None)",
                output_hook=lambda msg: outputs.append(msg["content"].get("text", "")), timeout=60)
            kc.stop_channels()
            process = km.provisioner.process
            await km.shutdown_kernel()
            return {"reply": reply, "out": "".join(outputs)}, process

        result, process = asyncio.run(run())
        assert result["reply"]["content"]["status"] == "ok"
        cwd, value, exe, preloaded, own_group, fingerprint = result["out"].split()
        assert (Path(cwd), value, exe, preloaded, own_group) == (tmp_path, "forty-two", sys.executable, "True", "True")
        # the input cache's fingerprint came from the server: the same for every kernel of a run
        assert fingerprint == "True"
        assert process.wait(timeout=10) == 0
        assert process.peak_rss_mb and process.peak_rss_mb > 10
        assert log.is_file()
    finally:
        server.close()
    assert server.proc.returncode == 0


@pytest.mark.slow
def test_killed_kernel_fails_its_notebook_and_keeps_the_executed_notebook(tmp_path, capsys):
    # the fixture report plus a cell that kills its own kernel (as the out-of-memory killer would)
    from test_run import FIXTURE_NOTEBOOKS, make_project

    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = json.loads((FIXTURE_NOTEBOOKS / "fixture_ok.ipynb").read_text(encoding="utf-8"))
    nb["cells"].insert(2, {"cell_type": "code", "id": "kill-own-kernel", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"})
    (notebooks / "killed.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    config = make_project(tmp_path / "project", ["killed"])
    config.write_text(config.read_text(encoding="utf-8").replace(json.dumps(FIXTURE_NOTEBOOKS.as_posix()),
                                                                  json.dumps(notebooks.as_posix())), encoding="utf-8")
    assert publish.main(["--config", str(config), "--month", "2026-10"]) == 1
    err = capsys.readouterr().err
    assert "killed.ipynb" in err and "DeadKernelError" in err and "killed: out of memory?" in err
    kept = list((tmp_path / "project" / "reports" / "logs").glob("failed-2026-10-killed-*.ipynb"))
    assert len(kept) == 1 and "os.kill" in kept[0].read_text(encoding="utf-8")
    assert not (tmp_path / "project" / "reports" / "2026-10").exists()


def test_notebook_imports_parse_one_thread_at_a_time(tmp_path, monkeypatch):
    # ast.parse is not thread-safe in CPython 3.11 ("AST constructor recursion depth mismatch",
    # seen once when two notebooks' threads started together): parsing waits for the lock.
    import threading

    nb = _notebook(tmp_path / "a.ipynb", ["import json"])
    lock = threading.Lock()
    monkeypatch.setattr(kernels, "AST_LOCK", lock)
    result: list[list[str]] = []
    lock.acquire()
    thread = threading.Thread(target=lambda: result.append(kernels.notebook_imports([nb])))
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and not result      # waiting for the lock
    lock.release()
    thread.join(5)
    assert result == [["json"]]
