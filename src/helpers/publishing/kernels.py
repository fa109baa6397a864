"""Kernels for the publishing run, forked from one process that has already imported what the
notebooks import.

Starting a Jupyter kernel and importing pandas, Altair, SciPy and the report's ``page`` module
costs 3-4 s of CPU per notebook, more than most reports' own work on a council's data. On Linux
the publishing run therefore starts one *kernel server* (:func:`serve`, a plain Python process
of the same interpreter, nothing else running in it) that imports, once, the modules the run's
notebooks import (found by reading their ``import`` statements, :func:`notebook_imports`) and
IPykernel's own. Each notebook's kernel is then a ``fork()`` of that process: it starts in
milliseconds with those modules already loaded (shared, copy-on-write, with the server and the
other kernels) and runs ``ipykernel`` exactly as ``python -m ipykernel_launcher`` would, with
the environment, working folder and connection file Jupyter gave it. Its own process group, its
own log file (the notebook's ``work/NAME.log``), fresh random seeds. A module that adapts
itself to the IPython shell when imported (``helpers.publishing.report`` registers how data
frames are shown) was imported in the server, where there is no shell: it does so again in
each kernel through a module-level ``_on_kernel_start()`` (:func:`kernel_started`).

Papermill talks to the kernel as to any other (:class:`ForkKernelManager`, a standard
``AsyncKernelManager`` whose provisioner asks the server for the process instead of starting a
new interpreter). The server reaps each kernel with ``wait4`` and reports its exit status and
peak memory (``ru_maxrss``: the kernel's resident memory at its largest, the pages it shares
with the server included), which the manifest records as ``peak_rss_mb``.

Where ``fork`` is not available (Windows, macOS), or with ``CSC_KERNELS=fresh`` in the
environment, every notebook runs as before: papermill in a child process that starts a fresh
kernel (:func:`helpers.publishing.scheduling.run_notebook`).
"""

from __future__ import annotations

import ast
import gc
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ENV_SWITCH = "CSC_KERNELS"
#: imported by every kernel whatever the notebook: IPykernel and what it loads
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "comm", "ipywidgets")


#: optional modules the kernels do without (importing one raises ImportError, as when it is not
#: installed). ``rfc3987_syntax``: jsonschema's checker for the "iri" and "iri-reference" string
#: formats, which builds a grammar parser when imported (about 1 s, in every process that imports
#: Altair); the Vega-Lite schema Altair validates charts against uses no such format (a test
#: checks), so charts are validated exactly as with it.
SKIPPED_MODULES = ("rfc3987_syntax",)


def skip_optional_modules() -> None:
    """Make :data:`SKIPPED_MODULES` unimportable in this process (importing one raises
    ImportError, as if it were not installed). The kernel server does this before its imports,
    and the publishing run before it imports papermill (whose notebook validation, through
    nbformat and jsonschema, would otherwise build the grammar too: about 2 s of CPU; the
    notebook schema uses no such format either, a test checks). A module already imported
    stays as it is."""
    for name in SKIPPED_MODULES:
        sys.modules.setdefault(name, None)


def available() -> bool:
    """Whether kernels can be forked here (Linux, and not switched off by ``CSC_KERNELS=fresh``)."""
    return (hasattr(os, "fork") and sys.platform.startswith("linux")
            and os.environ.get(ENV_SWITCH, "fork").strip().lower() not in ("fresh", "off", "0", "no"))


#: ``ast.parse`` is not thread-safe in CPython 3.11: two threads parsing at once can fail with
#: "SystemError: AST constructor recursion depth mismatch" (seen once in a test run, where two
#: notebooks' threads read their imports together). The publishing run's threads parse one at a time.
AST_LOCK = threading.Lock()


def notebook_imports(notebooks: list[Path]) -> list[str]:
    """Absolute module names imported by the notebooks' code cells (``import a.b``, ``from a.b
    import c``: ``a.b``; ``from a import b``: also ``a.b``, which may be a module), in the
    order first seen. Cells that are not valid Python (magics) are skipped."""
    names: list[str] = []
    for path in notebooks:
        try:
            cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            try:
                with AST_LOCK:
                    tree = ast.parse("".join(source) if isinstance(source, list) else source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found = [node.module] + [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
                else:
                    continue
                names += [n for n in found if n not in names]
    return names


# ----------------------------------------------------------------------------------------
# The server (a separate process: nothing but imports, then a loop that forks)
# ----------------------------------------------------------------------------------------
def _preload(modules: list[str]) -> tuple[list[str], list[str]]:
    import importlib
    import importlib.util

    loaded, failed = [], []
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:  # "from a import b" with b not a module
                continue
            importlib.import_module(name)
            loaded.append(name)
        except Exception:  # noqa: BLE001 - the notebook meets the same error in its own kernel
            failed.append(name)
    return loaded, failed


def _fix_bundle_fingerprint() -> None:
    """Work out the input cache's bundle fingerprint (a hash of the package's source) in the
    server, once, so every kernel of the run inherits the same one: the code the kernels run is
    what the server imported, and a source file edited while the run goes on must not make a
    later notebook miss the entries an earlier one stored (and parse every input again)."""
    cache = sys.modules.get("helpers.readers.input_cache")
    if cache is not None:
        try:
            cache._bundle_fingerprint()
        except Exception:  # noqa: BLE001 - each kernel then works it out itself, as without the server
            pass


def _child(request: dict[str, Any], fds_to_close: list[int]) -> None:
    """In the forked process: become the kernel. Never returns."""
    code = 1
    try:
        os.setpgid(0, 0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        log_fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        for fd in {log_fd, null_fd, *fds_to_close} - {0, 1, 2}:
            try:
                os.close(fd)
            except OSError:
                pass
        if request.get("cwd"):
            os.chdir(request["cwd"])
            if sys.path and sys.path[0] == _SERVER_CWD:
                sys.path[0] = os.getcwd()  # as ``python -m ipykernel_launcher`` started there would have it
        os.environ.clear()
        os.environ.update(request.get("env") or {})
        # a fresh process would have fresh random state
        import random

        random.seed()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        # ipykernel read JPY_PARENT_PID when the server imported it: name the parent (the
        # server) explicitly, so the kernel ends if the server does, as a launched kernel would
        argv = [*request["argv"], f"--IPKernelApp.parent_handle={os.getppid()}",
                f"--IPKernelApp.exec_lines={STARTUP_LINE}"]
        sys.argv = [sys.executable, "-m", "ipykernel_launcher", *argv]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


_SERVER_CWD = ""
#: run by each forked kernel once its IPython shell exists (not stored in the history)
STARTUP_LINE = "from helpers.publishing.kernels import kernel_started as _csc_ks; _csc_ks(); del _csc_ks"


def kernel_started() -> None:
    """In a forked kernel, once its shell exists: let every loaded module that set itself up
    for the IPython shell when imported (there was none in the server) do so now, through its
    ``_on_kernel_start()`` function."""
    for module in list(sys.modules.values()):
        hook = getattr(module, "_on_kernel_start", None)
        if callable(hook) and getattr(module, "__name__", "").startswith("helpers."):
            hook()


def serve(modules: list[str]) -> int:
    """The server's main loop: preload ``modules``, then fork a kernel for each request read
    from stdin (one JSON object a line) and report, on the original stdout, each kernel's
    process id and, when it ends, its exit status and peak memory. Ends when stdin closes,
    killing any kernel still running."""
    global _SERVER_CWD
    _SERVER_CWD = sys.path[0] if sys.path else ""
    out_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints from imports must not reach the protocol stream
    in_fd = 0
    out = os.fdopen(out_fd, "w", buffering=1, encoding="utf-8")

    def send(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    t0 = time.perf_counter()
    skip_optional_modules()
    to_load = list(KERNEL_MODULES) + [m for m in modules if m not in KERNEL_MODULES]
    done: set[str] = set()
    loaded: list[str] = []
    failed: list[str] = []
    children: set[int] = set()
    waiting: list[dict[str, Any]] = []
    state = {"buffer": b"", "open": True}

    def reap() -> None:
        while children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                return
            if pid == 0:
                return
            children.discard(pid)
            send({"exit": pid, "status": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss})

    def read_requests(timeout: float) -> None:
        ready, _, _ = select.select([in_fd], [], [], timeout) if state["open"] else ([], [], [])
        if not ready:
            return
        chunk = os.read(in_fd, 65536)
        if not chunk:
            state["open"] = False
            waiting.clear()
            for pid in list(children):  # the publishing run has gone: so do its kernels
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
            return
        state["buffer"] += chunk
        while b"\n" in state["buffer"]:
            line, state["buffer"] = state["buffer"].split(b"\n", 1)
            if line.strip():
                waiting.append(json.loads(line))

    def fork_ready(all_loaded: bool) -> None:
        # a kernel is forked once the modules its notebook imports are loaded (IPykernel's first):
        # the first reports start while the server still loads what only later ones import
        for request in list(waiting):
            needs = set(KERNEL_MODULES) | set(request.get("needs") or ())
            if not all_loaded and not needs <= done | (needs - set(to_load)):
                continue
            waiting.remove(request)
            _fix_bundle_fingerprint()
            # what is loaded now stays out of the kernels' garbage collections: a collection
            # would otherwise walk (and so copy, page by page) every object the kernel shares
            gc.freeze()
            pid = os.fork()
            if pid == 0:
                _child(request, [in_fd, out_fd])
            try:
                os.setpgid(pid, pid)  # also done by the child: whichever runs first
            except OSError:
                pass
            children.add(pid)
            send({"id": request["id"], "pid": pid})

    for name in to_load:
        ok, bad = _preload([name])
        loaded += ok
        failed += bad
        done.add(name)
        read_requests(0)
        reap()
        fork_ready(False)
    send({"ready": True, "loaded": loaded, "failed": failed, "seconds": round(time.perf_counter() - t0, 2),
          "threads": len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None})
    while state["open"] or children:
        if state["open"]:
            read_requests(0.05)
        else:
            time.sleep(0.05)
        reap()
        fork_ready(True)
    return 0


# ----------------------------------------------------------------------------------------
# The publishing run's side
# ----------------------------------------------------------------------------------------
class ForkedKernel:
    """A kernel process forked by the server: what Jupyter's provisioner needs of a ``Popen``."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, server: "KernelServer") -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.maxrss_kb: int | None = None
        self._ended = threading.Event()
        self._server = server

    def _exited(self, status: int, maxrss_kb: int | None) -> None:
        self.returncode, self.maxrss_kb = status, maxrss_kb
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    @property
    def peak_rss_mb(self) -> float | None:
        return round(self.maxrss_kb / 1024, 1) if self.maxrss_kb else None


class KernelServer:
    """Starts the server process (:func:`serve`) and asks it for kernels; thread-safe."""

    def __init__(self, modules: list[str], cwd: Path, env: dict[str, str] | None = None,
                 log_path: Path | None = None) -> None:
        self.log_path = log_path
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "helpers.publishing.kernels", *modules],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=str(cwd),
            env={**os.environ, **(env or {})}, start_new_session=True)
        if log_path:
            log.close()
        self._lock = threading.Lock()
        self._ids = 0
        self._pending: dict[int, Any] = {}
        self._kernels: dict[int, ForkedKernel] = {}
        self._ready = threading.Event()
        self.info: dict[str, Any] = {}
        self._reader = threading.Thread(target=self._read, name="kernel-server", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if msg.get("ready"):
                self.info = msg
                self._ready.set()
            elif "exit" in msg:
                with self._lock:
                    kernel = self._kernels.pop(msg["exit"], None)
                if kernel is not None:
                    kernel._exited(msg["status"], msg.get("maxrss_kb"))
            elif "id" in msg:
                with self._lock:
                    slot = self._pending.pop(msg["id"], None)
                    if slot is not None and "pid" in msg:
                        kernel = ForkedKernel(msg["pid"], self)
                        self._kernels[msg["pid"]] = kernel
                        slot["kernel"] = kernel
                if slot is not None:
                    slot["event"].set()
        # the server has gone: any kernel it had is gone or orphaned
        self._ready.set()
        with self._lock:
            kernels, self._kernels = list(self._kernels.values()), {}
            pending, self._pending = list(self._pending.values()), {}
        for kernel in kernels:
            try:
                os.killpg(kernel.pid, signal.SIGKILL)
            except OSError:
                pass
            kernel._exited(-9, None)
        for slot in pending:
            slot["event"].set()

    def wait_ready(self, timeout: float = 120) -> dict[str, Any]:
        self._ready.wait(timeout)
        return self.info

    def spawn(self, argv: list[str], cwd: str | None, env: dict[str, str], log: Path, needs: list[str] = (),
              timeout: float = 300) -> ForkedKernel:
        """A new kernel process running ``ipykernel`` with ``argv`` (``-f CONNECTION_FILE ...``),
        forked once the server has loaded the modules in ``needs`` (what the notebook imports)."""
        slot: dict[str, Any] = {"event": threading.Event()}
        with self._lock:
            self._ids += 1
            request_id = self._ids
            self._pending[request_id] = slot
        line = json.dumps({"id": request_id, "argv": argv, "cwd": cwd, "env": env, "log": str(log), "needs": list(needs)}) + "\n"
        try:
            assert self.proc.stdin is not None
            with self._lock:
                self.proc.stdin.write(line.encode("utf-8"))
                self.proc.stdin.flush()
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"the kernel server has stopped ({exc}); see {self.log_path}") from exc
        if not slot["event"].wait(timeout) or "kernel" not in slot:
            raise RuntimeError(f"the kernel server did not start a kernel; see {self.log_path}")
        return slot["kernel"]

    def close(self) -> None:
        """Stop the server (it kills any kernel still running) and wait for it."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)


#: what :func:`kernel_manager_class` imports (imported first under the publishing run's import lock)
MANAGER_MODULES = ("jupyter_client.manager", "jupyter_client.provisioning")


def kernel_manager_class(server: KernelServer, env: dict[str, str], log: Path, cwd: Path, needs: list[str] = ()):
    """An ``AsyncKernelManager`` class whose kernels come from ``server`` (once it has loaded the
    modules in ``needs``), with ``env`` added to the environment Jupyter gives them, output to
    ``log`` and ``cwd`` as working folder."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.provisioning import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd: list[str], **kwargs: Any):
            if len(cmd) < 3 or cmd[1:3] != ["-m", "ipykernel_launcher"]:
                return await super().launch_kernel(cmd, **kwargs)  # not ours: start it as usual
            kernel_env = {**dict(kwargs.get("env") or os.environ), **env}
            self.process = server.spawn(cmd[3:], str(cwd), kernel_env, log, needs)
            self.pid = self.pgid = self.process.pid
            self.cwd = str(cwd)
            holder = getattr(self.parent, "csc_holder", None)  # see scheduling.run_notebook_forked
            if holder is not None:
                holder.kernel = self.process
                if holder.stopped:
                    self.process.kill()
            return self.connection_info

    class ForkKernelManager(AsyncKernelManager):
        csc_holder: Any = None

        async def _async_pre_start_kernel(self, **kw: Any):
            if self.provisioner is None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
            return await super()._async_pre_start_kernel(**kw)

    return ForkKernelManager


if __name__ == "__main__":
    status = serve(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # nothing to clean up: skip tearing down every module the server loaded
