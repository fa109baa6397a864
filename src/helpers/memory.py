"""Hand memory a step has freed back to the operating system.

pandas and numpy allocate large tables through the C library's ``malloc``, pyarrow through its
own pool. Both keep freed memory for reuse instead of returning it, so after a step that needed
several gigabytes for a moment (parsing or joining England's 4 million referrals) a notebook's
kernel stays that large until it ends, beside the next notebook of the publishing run.
:func:`release_unused` returns what is free: pyarrow's pool (``release_unused``) and, on Linux
with glibc, the C heap (``malloc_trim``). Elsewhere it does what it can and says so; nothing
else changes (the tables are untouched)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from typing import Any

_TRIM: Any = None


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or False where there is none (macOS, Windows, musl)."""
    global _TRIM
    if _TRIM is None:
        _TRIM = False
        if sys.platform.startswith("linux"):
            try:
                trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
                trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
                _TRIM = trim
            except (OSError, AttributeError):
                _TRIM = False
    return _TRIM


def release_unused(collect: bool = False) -> bool:
    """Return free memory to the operating system. ``collect=True`` runs ``gc.collect()``
    first (about 0.15 s in a kernel that has loaded the reports' modules: not done by default,
    tables are freed when their last reference goes). True when the C heap was trimmed (Linux,
    glibc)."""
    if collect:
        gc.collect()
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    return bool(trim) and trim(0) in (0, 1)
