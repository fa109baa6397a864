"""The suite leaves the checkout as it found it; on CI (a fresh clone) that means clean.

Named to run last (pytest collects the top-level test files after the subfolders). Issue 17: after
the README's two commands in a fresh clone, ``git status --porcelain`` lists nothing; the set-up
installs nbstripout as git's filter, so a committed notebook not in the form it writes, or a test
that writes into a tracked file or an un-ignored path, would show here.
"""
from __future__ import annotations

import os

import pytest

import conftest


def test_suite_leaves_git_status_as_it_found_it():
    if conftest.STATUS_AT_START is None:
        pytest.skip("not a git checkout")
    assert conftest.git_status() == conftest.STATUS_AT_START


def test_fresh_clone_is_clean_on_ci():
    if not os.environ.get("CI") or conftest.STATUS_AT_START is None:
        pytest.skip("only on CI, which runs on a fresh clone")
    assert conftest.STATUS_AT_START == "", "the set-up (bootstrap) left tracked or un-ignored files changed"
