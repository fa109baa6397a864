"""helpers.memory: freed memory goes back to the operating system."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import memory


def test_release_unused_runs_everywhere_and_trims_on_glibc():
    trimmed = memory.release_unused()
    glibc = sys.platform.startswith("linux") and "glibc" in " ".join(__import__("platform").libc_ver())
    assert trimmed is glibc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and glibc malloc_trim: Linux")
def test_freed_heap_memory_leaves_the_process():
    # In a fresh process: 400,000 blocks of 1,000 bytes (too big for Python's small-object
    # allocator, so from malloc's heap), then free all but the last one, which pins the top of
    # the heap so malloc cannot shrink it by itself. About 400 MB stays resident until trimmed.
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        from helpers import memory
        def rss():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) // 1024
        blocks = [bytes(1000) for _ in range(400_000)]
        last = blocks[-1]
        del blocks[:-1]
        before = rss()
        memory.release_unused()
        print(before, rss())
    """)
    src = str(Path(memory.__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", code, src], capture_output=True, text=True, check=True)
    before, after = map(int, out.stdout.split())
    assert before - after > 250, (before, after)
