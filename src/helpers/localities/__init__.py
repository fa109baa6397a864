"""Locality team sizing: demand by ward, the deprivation model, posts, contiguous localities.

Every public name of this subpackage's modules (model) is importable from here, e.g.
``from helpers.localities import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.localities.model``). Modules load on first use.
"""
from __future__ import annotations

from helpers import lazy_exports

MODULES = ('model',)


__getattr__, __dir__ = lazy_exports(__name__, MODULES)
