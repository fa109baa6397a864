"""Money: workforce cost, business cases by financial year, savings against budget.

Every public name of this subpackage's modules (finance, page) is importable from here, e.g.
``from helpers.money import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.money.finance``). Modules load on first use.
``page`` builds the report notebook's sections (the notebook calls it section by section).
"""
from __future__ import annotations

from helpers import lazy_exports

MODULES = ('finance', 'page')


__getattr__, __dir__ = lazy_exports(__name__, MODULES)
