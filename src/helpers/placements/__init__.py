"""Placements: where looked-after children are placed, the forecast, sufficiency, scenarios.

Every public name of this subpackage's modules (where, forecast, sufficiency, scenarios) is importable from here, e.g.
``from helpers.placements import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.placements.where``). Modules load on first use.
"""
from __future__ import annotations

import importlib

MODULES = ('where', 'forecast', 'sufficiency', 'scenarios')


def __getattr__(name: str):
    if name in MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if not name.startswith("_"):
        for module_name in MODULES:
            module = importlib.import_module(f"{__name__}.{module_name}")
            if name in vars(module):
                return vars(module)[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    names = set(globals()) | set(MODULES)
    for module_name in MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        names |= {n for n in vars(module) if not n.startswith("_")}
    return sorted(names)
