"""Locality team sizing: demand by ward, the deprivation model, posts, contiguous localities.

Every public name of this subpackage's modules (model, page) is importable from here, e.g.
``from helpers.localities import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.localities.model``). Modules load on first use.
``page`` builds the report notebook's sections (the notebook calls it section by section).
"""
from __future__ import annotations

from helpers import lazy_exports

MODULES = ('model', 'page')


__getattr__, __dir__ = lazy_exports(__name__, MODULES)
