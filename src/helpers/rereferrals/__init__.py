"""Re-referrals: the DfE measure, its sensitivity to definition, drivers and time to re-referral.

Every public name of this subpackage's modules (measure, timing) is importable from here, e.g.
``from helpers.rereferrals import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.rereferrals.measure``). Modules load on first use.
"""
from __future__ import annotations

from helpers import lazy_exports

MODULES = ('measure', 'timing')


__getattr__, __dir__ = lazy_exports(__name__, MODULES)
