"""Re-referrals: the DfE measure, its sensitivity to definition, drivers and time to re-referral.

Every public name of this subpackage's modules (measure, timing, page) is importable from here, e.g.
``from helpers.rereferrals import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.rereferrals.measure``). Modules load on first use.
``page`` builds the report notebook's sections (the notebook calls it section by section).
"""
from __future__ import annotations

from helpers import lazy_exports

MODULES = ('measure', 'timing', 'page')


__getattr__, __dir__ = lazy_exports(__name__, MODULES)
