"""Read each input once per run: a cache of parsed inputs as Parquet, shared by every notebook.

Every notebook loads its inputs through one function::

    from helpers.readers.input_cache import load
    cin = load(cfg, cin_census.read_cin_census, data["cin_census"])
    addresses, address_ledger = load(cfg, case_extracts.read_address_extract, data["addresses"])

``load(cfg, reader, *args, **kwargs)`` returns exactly what ``reader(*args, **kwargs)``
returns. The first call parses the files and stores the result (tables as Parquet, the
reader's ledger and identifiers beside them) in the cache folder; every later call with the
same reader, arguments and input files, in this notebook, another notebook of the same
publishing run or an analyst's interactive session, reads the stored tables instead of
parsing the files again. It works for any reader whose result is made of DataFrames
(GeoDataFrames included), Series, :class:`~helpers.readers.ledger.Ledger` objects (with the
specification year recognised per file), dataclasses, tuples, lists, dicts (keys all text or all
whole numbers), sets of strings, timestamps and plain values; anything else is simply not cached
(the reader runs every time), so a new reader needs no registration.

**The key.** An entry is used only when all of these match what it was built from: the
reader (module and name), its arguments (paths, text, numbers, dates, tables), the sha256 of every input file the arguments name
(a folder stands for every file under it), the bundle version, a fingerprint of the
bundle's source code (so a changed reader rebuilds even before a release), and the pandas
and pyarrow versions. A change to any of them builds a new entry, and the entry it
supersedes (same reader and arguments, older files or bundle) is deleted.

**Where.** ``[publish] cache_dir`` in the council config (default ``.cache/inputs`` under the
project root, git-ignored); ``cache_dir = ""`` turns the cache off. The publishing run passes
its folder to the notebooks in the ``CSC_INPUT_CACHE`` environment variable
(``CSC_INPUT_CACHE=off`` turns it off for one run), together with the sha256 of the config's
input files it has already computed for the manifest (``CSC_INPUT_HASHES``), so no notebook
hashes them again. The cache holds child-level tables, exactly as sensitive as the input
files: keep it where the inputs are kept, never in the published reports folder.

**One parse per run.** Building an entry holds a lock on it (``fcntl`` where available), so
when notebooks run concurrently the second one waits for the first one's parse and then
reads the stored tables.

**Faithful.** Parquet keeps every column type the readers use (datetimes, categoricals,
nullable integers, strings, geometries). Two things it would change are recorded and
restored: missing values in text columns (NaN or None as the reader left them) and
``DataFrame.attrs``. A table with text columns holding anything but text (or missing values
of mixed kinds) is not cached. After reading, every table's column types are checked against
those recorded when it was stored; any difference discards the entry and parses the files.
Sets of more than ``LARGE_SET`` strings (the CIN reader's millions of identifiers) are stored
as a Parquet column beside the tables, not in ``meta.json``.

**Only what a notebook reads.** ``load(cfg, reader, ..., keep=("referrals", "ledger"))``, for a
reader whose result is a dataclass, returns the fields named in ``keep`` as the reader made
them and every other table field empty (no rows, the same columns and types), every other
set empty and every other ledger empty; plain values are always kept. Read from the cache,
the tables left out are never loaded, so a notebook holds only what it uses: the national CIN
census is about 4 GB in memory, of which the re-referral report reads two tables. The stored
entry always holds the whole result, for the other notebooks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import importlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Collection

import numpy as np
import pandas as pd

import helpers
from helpers.readers.ledger import Ledger

ENV_DIR = "CSC_INPUT_CACHE"
ENV_HASHES = "CSC_INPUT_HASHES"
DEFAULT_DIR = ".cache/inputs"
FORMAT = 3
#: Sets of more text values than this are stored as a Parquet column beside the tables.
LARGE_SET = 10_000
_TEXT_KINDS = {"string", "empty"}

#: What the cache did in this process, one dict per :func:`load` call (reader, key, action:
#: ``parsed``, ``cached``, ``uncached`` (cache off or result not storable), seconds).
EVENTS: list[dict[str, Any]] = []


class _NotStorable(TypeError):
    """A reader result (or part of one) that the cache cannot store faithfully."""


class KeepError(ValueError):
    """``keep`` names fields the reader's result does not have, or the result is not a dataclass."""


# ----------------------------------------------------------------------------------------
# The one function notebooks call
# ----------------------------------------------------------------------------------------
def load(cfg: dict[str, Any] | None, reader: Callable[..., Any], *args: Any,
         keep: Collection[str] | None = None, **kwargs: Any) -> Any:
    """``reader(*args, **kwargs)``, read from the cache when the same inputs were parsed before.

    ``cfg`` is the loaded council config (it names the cache folder; ``None`` uses the
    ``CSC_INPUT_CACHE`` folder or the default under the current folder). Errors from the
    reader (bad input) are raised exactly as without the cache, and nothing is stored.
    ``keep``: the fields of a dataclass result the caller reads; the others come back empty
    (see "Only what a notebook reads" in the module docstring). Same result with the cache
    on or off.
    """
    t0 = time.perf_counter()
    folder = cache_dir(cfg)
    name = f"{reader.__module__}.{reader.__qualname__}"
    if folder is None:
        result = _kept(reader(*args, **kwargs), keep)
        _event(name, None, "uncached", t0, "cache off")
        return result
    try:
        signature, inputs = _describe_call(name, args, kwargs)
    except _NotStorable as exc:
        result = _kept(reader(*args, **kwargs), keep)
        _event(name, None, "uncached", t0, str(exc))
        return result
    key = _digest({"signature": signature, "inputs": inputs, "bundle": _bundle_fingerprint(), "format": FORMAT})
    entry = folder / f"{reader.__name__}-{key[:20]}"
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / f".{entry.name}.lock"):
        if entry.is_dir():
            try:
                result = _read_entry(entry, key, keep)
                _event(name, key, "cached", t0)
                return result
            except KeepError:
                raise  # the caller's mistake, not the entry's
            except Exception as exc:  # noqa: BLE001 - a damaged or unfaithful entry is rebuilt
                shutil.rmtree(entry, ignore_errors=True)
                note = f"entry discarded ({type(exc).__name__}: {exc})"
        else:
            note = ""
        result = reader(*args, **kwargs)
        try:
            _write_entry(folder, entry, key, name, signature, inputs, result)
        except _NotStorable as exc:
            _event(name, key, "uncached", t0, str(exc))
            return _kept(result, keep)
        _prune_superseded(folder, entry, signature)
        _event(name, key, "parsed", t0, note)
        if keep is None:
            return result
        _check_keep(type(result), keep)  # the caller's mistake: raised, the entry stays
        # Only part of the result is wanted: let the whole parse go and read the kept tables back
        # from the entry just written. The caller then holds the same compact tables as after a
        # cached load, not a heap fragmented by millions of parsed objects (about 1 GB of a
        # locality kernel at England scale).
        del result
        from helpers import memory

        memory.release_unused()
        try:
            return _read_entry(entry, key, keep)
        except Exception:  # noqa: BLE001 - an entry that does not read back: parse again, keep it out
            shutil.rmtree(entry, ignore_errors=True)
            return _kept(reader(*args, **kwargs), keep)


def _check_keep(result_type: type, keep: Collection[str]) -> None:
    if isinstance(keep, str):
        raise KeepError("keep: a list or tuple of field names, not one string")
    if not dataclasses.is_dataclass(result_type):
        raise KeepError(f"keep: the reader's result ({result_type.__name__}) is not a dataclass")
    unknown = sorted(set(keep) - {f.name for f in dataclasses.fields(result_type)})
    if unknown:
        raise KeepError(f"keep: {result_type.__name__} has no field(s) {', '.join(unknown)}")


def _empty_like(value: Any) -> Any:
    """An empty value of the same kind, for a field left out by ``keep`` (None: keep it)."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.iloc[:0].copy()
    if isinstance(value, (set, frozenset)):
        return type(value)()
    if isinstance(value, Ledger):
        return Ledger()
    return None


def _kept(result: Any, keep: Collection[str] | None) -> Any:
    """``result`` with the dataclass fields not in ``keep`` emptied (``keep`` None: as it is)."""
    if keep is None:
        return result
    _check_keep(type(result), keep)
    empty = {}
    for f in dataclasses.fields(result):
        if f.name not in keep:
            value = _empty_like(getattr(result, f.name))
            if value is not None:
                empty[f.name] = value
    return dataclasses.replace(result, **empty)


def cache_dir(cfg: dict[str, Any] | None) -> Path | None:
    """The cache folder for this config (see the module docstring), or None when it is off."""
    env = os.environ.get(ENV_DIR)
    if env is not None and env.strip():
        return None if env.strip().lower() in ("off", "0", "none", "false") else Path(env).resolve()
    if cfg is None:
        return Path(DEFAULT_DIR).resolve()
    value = cfg.get("publish", {}).get("cache_dir", DEFAULT_DIR)
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else (Path(cfg["_root"]) / path).resolve()


def _event(reader: str, key: str | None, action: str, t0: float, note: str = "") -> None:
    EVENTS.append({"reader": reader, "key": key, "action": action, "seconds": round(time.perf_counter() - t0, 3), "note": note})


# ----------------------------------------------------------------------------------------
# Keys
# ----------------------------------------------------------------------------------------
def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()


_FILE_HASHES: dict[str, tuple[int, int, str]] = {}
_RUN_HASHES_LOADED: set[str] = set()


def file_sha256(path: Path) -> str:
    """sha256 of a file, computed once per process (and once per publishing run: the run's
    hashes arrive in ``CSC_INPUT_HASHES``) unless its size or modification time changes."""
    path = Path(path).resolve()
    run_file = os.environ.get(ENV_HASHES, "")
    if run_file and run_file not in _RUN_HASHES_LOADED:
        _RUN_HASHES_LOADED.add(run_file)
        with contextlib.suppress(OSError, ValueError):
            for p, (size, mtime, digest) in json.loads(Path(run_file).read_text(encoding="utf-8")).items():
                _FILE_HASHES.setdefault(p, (int(size), int(mtime), str(digest)))
    st = path.stat()
    known = _FILE_HASHES.get(str(path))
    if known and known[0] == st.st_size and known[1] == st.st_mtime_ns:
        return known[2]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    _FILE_HASHES[str(path)] = (st.st_size, st.st_mtime_ns, digest.hexdigest())
    return digest.hexdigest()


def write_run_hashes(paths: list[Path], target: Path) -> dict[str, str]:
    """Hash ``paths`` once, write them for the notebooks of a publishing run; returns path -> sha256."""
    out: dict[str, list] = {}
    hashes: dict[str, str] = {}
    for p in paths:
        p = Path(p).resolve()
        digest = file_sha256(p)
        st = p.stat()
        out[str(p)] = [st.st_size, st.st_mtime_ns, digest]
        hashes[str(p)] = digest
    target.write_text(json.dumps(out), encoding="utf-8")
    return hashes


def _describe_arg(value: Any, inputs: list) -> Any:
    """A JSON description of one argument; input files found in it are added to ``inputs``."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (str, Path)):
        path = Path(value)
        with contextlib.suppress(OSError, ValueError):
            if path.is_file():
                resolved = path.resolve()
                inputs.append([str(resolved), file_sha256(resolved)])
                return {"path": str(resolved)}
            if path.is_dir():
                resolved = path.resolve()
                for f in sorted(p for p in resolved.rglob("*") if p.is_file()):
                    inputs.append([str(f), file_sha256(f)])
                return {"folder": str(resolved)}
        return {"text": str(value)}
    if isinstance(value, pd.Timestamp) or isinstance(value, (dt.date, dt.datetime)):
        return {type(value).__name__: value.isoformat()}  # a date argument (an extract date)
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [_describe_arg(v, inputs) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): _describe_arg(v, inputs) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}}
    if isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        content = pd.util.hash_pandas_object(frame, index=True).to_numpy()
        return {"frame": [list(map(str, frame.columns)), list(map(str, frame.dtypes)),
                          hashlib.sha256(content.tobytes()).hexdigest()]}
    raise _NotStorable(f"argument of type {type(value).__name__} cannot be part of a cache key")


def _describe_call(name: str, args: tuple, kwargs: dict) -> tuple[str, list]:
    inputs: list = []
    described = {"reader": name, "args": [_describe_arg(a, inputs) for a in args],
                 "kwargs": {k: _describe_arg(v, inputs) for k, v in sorted(kwargs.items())}}
    return _digest(described), inputs


_BUNDLE: str | None = None


def _bundle_fingerprint() -> str:
    """Bundle version + sha256 of the package's Python source + pandas and pyarrow versions."""
    global _BUNDLE
    if _BUNDLE is None:
        import pyarrow

        digest = hashlib.sha256()
        package = Path(helpers.__file__).resolve().parent
        for path in sorted(package.rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
        _BUNDLE = _digest({"version": helpers.__version__, "source": digest.hexdigest(),
                           "pandas": pd.__version__, "pyarrow": pyarrow.__version__})
    return _BUNDLE


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock on ``path`` while building or reading an entry (no-op without fcntl)."""
    try:
        import fcntl
    except ImportError:  # Windows: at worst two notebooks parse the same input at once
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------------------
# Storing a reader's result
# ----------------------------------------------------------------------------------------
def _missing_kind(values: pd.Series) -> str:
    """How missing values are written in an object column: ``nan``, ``none``, ``na`` or ``nat``."""
    missing = values[values.isna()]
    kinds = {"none" if v is None else "na" if v is pd.NA else "nat" if v is pd.NaT else "nan" for v in missing}
    if len(kinds) > 1:
        raise _NotStorable(f"column {values.name!r} mixes missing-value kinds {sorted(kinds)}")
    return kinds.pop() if kinds else "none"


def _release_arrow_memory() -> None:
    """Hand back to the system the memory pyarrow's allocator keeps after a table is converted.

    pyarrow's pool (mimalloc or jemalloc) keeps freed buffers for reuse: without this, a kernel
    that loaded the national CIN tables held about 1 GB more per large table than the tables
    themselves (1.9 GB resident for a 0.5 GB ledger)."""
    import pyarrow  # noqa: F401  (loaded: its pool is one of those released)

    from helpers import memory

    memory.release_unused()  # pyarrow's pool, and the C heap (glibc)


class _Writer:
    def __init__(self, folder: Path):
        self.folder = folder
        self.n = 0

    def frame(self, df: pd.DataFrame) -> dict:
        import pyarrow  # noqa: F401  (a clear ImportError if it is missing)

        if not all(isinstance(c, str) for c in df.columns) or df.columns.has_duplicates:
            raise _NotStorable("a table's column names are not unique strings")
        geometry = None
        try:
            import geopandas as gpd

            if isinstance(df, gpd.GeoDataFrame):
                geometry = df.geometry.name
        except ImportError:
            pass
        missing: dict[str, str] = {}
        for col in df.columns:
            if col == geometry or df[col].dtype != object:
                continue
            kind = pd.api.types.infer_dtype(df[col], skipna=True)
            if kind not in _TEXT_KINDS:
                raise _NotStorable(f"column {col!r} holds {kind} values in a text column")
            if df[col].isna().any():
                missing[col] = _missing_kind(df[col])
        try:
            attrs = json.loads(json.dumps(df.attrs)) if df.attrs else {}
        except TypeError as exc:
            raise _NotStorable(f"table attrs are not JSON: {exc}") from None
        if attrs != df.attrs:
            raise _NotStorable("table attrs do not survive JSON")
        name = f"t{self.n}.parquet"
        self.n += 1
        plain = pd.DataFrame(df) if geometry is None else df
        plain = plain.copy(deep=False)
        plain.attrs = {}
        if geometry is None:
            plain.to_parquet(self.folder / name, engine="pyarrow", index=True)
        else:
            plain.to_parquet(self.folder / name, index=True)
        _release_arrow_memory()
        return {"t": "geoframe" if geometry else "frame", "file": name, "missing": missing, "attrs": attrs,
                "dtypes": [str(t) for t in df.dtypes], "columns": list(df.columns), "rows": len(df)}

    def node(self, value: Any) -> dict:
        if isinstance(value, pd.DataFrame):
            return self.frame(value)
        if isinstance(value, pd.Series):
            if value.name is not None and not isinstance(value.name, str):
                raise _NotStorable("a series name that is not text")
            inner = self.frame(value.to_frame(name="values"))
            return {"t": "series", "name": value.name, "frame": inner}
        if isinstance(value, Ledger):
            return {"t": "ledger", "read": dict(value._read), "used": dict(value._used), "issues": self.frame(value.issues()),
                    "specs": {k: list(v) for k, v in value._specs.items()}}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            cls = type(value)
            return {"t": "dataclass", "cls": f"{cls.__module__}:{cls.__qualname__}",
                    "fields": {f.name: self.node(getattr(value, f.name)) for f in dataclasses.fields(value)}}
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return {"t": "tuple", "items": [self.node(v) for v in value]}
        if isinstance(value, list):
            return {"t": "list", "items": [self.node(v) for v in value]}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {"t": "dict", "items": {k: self.node(v) for k, v in value.items()}}
            if all(isinstance(k, int) and not isinstance(k, bool) for k in value):  # Annex A list numbers
                return {"t": "intdict", "items": [[k, self.node(v)] for k, v in value.items()]}
            raise _NotStorable("a dict with keys that are neither all text nor all whole numbers")
        if isinstance(value, (set, frozenset)):
            if not all(isinstance(v, str) for v in value):
                raise _NotStorable("a set of values that are not text")
            kind = "frozenset" if isinstance(value, frozenset) else "set"
            if len(value) > LARGE_SET:
                # millions of identifiers: a Parquet column, not JSON in meta.json (which every
                # load, and every new entry's clean-up of superseded ones, would parse again)
                import pyarrow as pa
                import pyarrow.parquet as pq

                name = f"t{self.n}.parquet"
                self.n += 1
                pq.write_table(pa.table({"values": pa.array(sorted(value), type=pa.string())}), self.folder / name)
                return {"t": kind, "file": name, "n": len(value)}
            return {"t": kind, "items": sorted(value)}
        if isinstance(value, pd.Timestamp):
            return {"t": "timestamp", "v": value.isoformat()}
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and np.isfinite(value)):
            return {"t": "value", "v": value}
        raise _NotStorable(f"a reader result part of type {type(value).__name__}")


def _write_entry(folder: Path, entry: Path, key: str, name: str, signature: str, inputs: list, result: Any) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        tree = _Writer(tmp).node(result)
        meta = {"format": FORMAT, "key": key, "reader": name, "signature": signature,
                "bundle_version": helpers.__version__, "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "inputs": inputs, "tree": tree}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        try:
            os.replace(tmp, entry)
        except OSError:  # another process stored the same entry first (no fcntl)
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _prune_superseded(folder: Path, keep: Path, signature: str) -> None:
    """Delete entries for the same reader and arguments built from other files or another bundle."""
    for other in folder.iterdir():
        if other == keep or not other.is_dir() or other.name.startswith("."):
            continue
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads((other / "meta.json").read_text(encoding="utf-8"))["signature"] == signature:
                shutil.rmtree(other, ignore_errors=True)
                with contextlib.suppress(OSError):
                    (folder / f".{other.name}.lock").unlink()


# ----------------------------------------------------------------------------------------
# Reading it back
# ----------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, folder: Path):
        self.folder = folder

    def empty(self, node: dict) -> Any:
        """A node left out by ``keep``, empty and of the same kind, without reading its data;
        None when it is kept (a plain value: nothing to save)."""
        t = node["t"]
        if t == "frame":
            import pyarrow.parquet as pq

            df = pq.read_schema(self.folder / node["file"]).empty_table().to_pandas()
            if list(df.columns) != node["columns"] or [str(x) for x in df.dtypes] != node["dtypes"]:
                df = self.frame(node).iloc[:0].copy()  # a type the schema alone does not restore
            df.attrs = dict(node["attrs"])
            return df
        if t == "geoframe":
            return self.frame(node).iloc[:0].copy()
        if t == "series":
            return self.empty(node["frame"])["values"].rename(node["name"])
        if t == "ledger":
            return Ledger()
        if t in ("set", "frozenset"):
            return set() if t == "set" else frozenset()
        return None

    def kept(self, node: dict, keep: Collection[str]) -> Any:
        """The top-level dataclass with the fields not in ``keep`` empty (see :func:`load`)."""
        if node["t"] != "dataclass":
            raise KeepError(f"keep: the reader's result is a {node['t']}, not a dataclass")
        cls = self._class(node)
        _check_keep(cls, keep)
        values = {}
        for name, child in node["fields"].items():
            value = None if name in keep else self.empty(child)
            values[name] = self.node(child) if value is None else value
        return cls(**values)

    @staticmethod
    def _class(node: dict) -> type:
        module, qualname = node["cls"].split(":")
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        return cls

    def frame(self, node: dict) -> pd.DataFrame:
        path = self.folder / node["file"]
        if node["t"] == "geoframe":
            import geopandas as gpd

            df = gpd.read_parquet(path)
        else:
            df = pd.read_parquet(path, engine="pyarrow")
        _release_arrow_memory()
        for col, kind in node["missing"].items():
            fill = {"nan": np.nan, "none": None, "na": pd.NA, "nat": pd.NaT}[kind]
            values = df[col].to_numpy(dtype=object, copy=True)
            values[pd.isna(values)] = fill
            df[col] = pd.Series(values, index=df.index, dtype=object)
        if list(df.columns) != node["columns"] or [str(t) for t in df.dtypes] != node["dtypes"] or len(df) != node["rows"]:
            raise ValueError(f"{node['file']}: column types changed in storage "
                             f"({[str(t) for t in df.dtypes]} != {node['dtypes']})")
        df.attrs = dict(node["attrs"])
        return df

    def node(self, node: dict) -> Any:
        t = node["t"]
        if t in ("frame", "geoframe"):
            return self.frame(node)
        if t == "series":
            return self.frame(node["frame"])["values"].rename(node["name"])
        if t == "ledger":
            led = Ledger()
            led._read.update({k: int(v) for k, v in node["read"].items()})
            led._used.update({k: int(v) for k, v in node["used"].items()})
            led._specs.update({k: tuple(v) for k, v in node["specs"].items()})
            issues = self.frame(node["issues"])
            if len(issues):
                led._chunks.append(issues)
            return led
        if t == "dataclass":
            return self._class(node)(**{k: self.node(v) for k, v in node["fields"].items()})
        if t == "tuple":
            return tuple(self.node(v) for v in node["items"])
        if t == "list":
            return [self.node(v) for v in node["items"]]
        if t == "dict":
            return {k: self.node(v) for k, v in node["items"].items()}
        if t == "intdict":
            return {int(k): self.node(v) for k, v in node["items"]}
        if t in ("set", "frozenset"):
            if "file" in node:
                import pyarrow.parquet as pq

                items = pq.read_table(self.folder / node["file"]).column("values").to_pylist()
                if len(items) != node["n"]:
                    raise ValueError(f"{node['file']}: {len(items)} values stored, {node['n']} expected")
            else:
                items = node["items"]
            return set(items) if t == "set" else frozenset(items)
        if t == "timestamp":
            return pd.Timestamp(node["v"])
        if t == "value":
            return node["v"]
        raise ValueError(f"unknown cache node {t!r}")


def _read_entry(entry: Path, key: str, keep: Collection[str] | None = None) -> Any:
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    if meta.get("key") != key or meta.get("format") != FORMAT:
        raise ValueError("key mismatch")
    reader = _Reader(entry)
    return reader.node(meta["tree"]) if keep is None else reader.kept(meta["tree"], keep)


def clear(cfg: dict[str, Any] | None = None) -> int:
    """Delete every cache entry for this config's cache folder; returns how many were removed."""
    folder = cache_dir(cfg)
    if folder is None or not folder.is_dir():
        return 0
    n = 0
    for item in folder.iterdir():
        if item.is_dir():
            shutil.rmtree(item, ignore_errors=True)
            n += not item.name.startswith(".")
        else:
            with contextlib.suppress(OSError):
                item.unlink()
    return n
