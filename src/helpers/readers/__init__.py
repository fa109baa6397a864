"""Readers: the statutory returns (CIN census XML, SSDA903 CSVs), Ofsted's Annex A and case
extracts, as councils hold them; the specifications by year; the checks that refuse a file
read silently wrongly; the data-quality ledger; the run-scoped cache of parsed inputs.

Every public name of this subpackage's modules (cin_census, ssda903, case_extracts, annex_a, input_checks, schemas, specs, ledger, input_cache, between_returns) is importable from here, e.g.
``from helpers.readers import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.readers.cin_census``). Modules load on first use.
"""
from __future__ import annotations

import importlib

MODULES = ('cin_census', 'ssda903', 'case_extracts', 'annex_a', 'input_checks', 'schemas', 'specs', 'ledger', 'input_cache', 'between_returns')


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
