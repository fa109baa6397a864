"""Publishing: the monthly run, what a report writes, disclosure control and its audit,
charts, formatting for members, safe output, scheduling of notebooks.

Every public name of this subpackage's modules (run, report, disclosure, disclosure_audit, charts, formatting, safe_output, scheduling, kernels) is importable from here, e.g.
``from helpers.publishing import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.publishing.run``). Modules load on first use.
"""
from __future__ import annotations

from helpers import lazy_exports

MODULES = ('run', 'report', 'disclosure', 'disclosure_audit', 'charts', 'formatting', 'safe_output', 'scheduling', 'kernels')


__getattr__, __dir__ = lazy_exports(__name__, MODULES)
