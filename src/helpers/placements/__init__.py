"""Placements: where looked-after children are placed, the forecast, sufficiency, scenarios.

Every public name of this subpackage's modules (where, forecast, sufficiency, scenarios, page) is importable from here, e.g.
``from helpers.placements import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.placements.where``). Modules load on first use.
``page`` builds the report notebook's sections (the notebook calls it section by section).
"""
from __future__ import annotations

from helpers import lazy_exports

MODULES = ('where', 'forecast', 'sufficiency', 'scenarios', 'page')


__getattr__, __dir__ = lazy_exports(__name__, MODULES)
