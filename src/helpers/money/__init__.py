"""Money: workforce cost, business cases by financial year, savings against budget.

Every public name of this subpackage's modules (finance) is importable from here, e.g.
``from helpers.money import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.money.finance``). Modules load on first use.
"""
from __future__ import annotations

import importlib

MODULES = ('finance',)


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
