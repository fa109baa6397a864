"""Readers: the statutory returns (CIN census XML, SSDA903 CSVs), Ofsted's Annex A and case
extracts, as councils hold them; the specifications by year; the checks that refuse a file
read silently wrongly; the data-quality ledger; the run-scoped cache of parsed inputs.

Every public name of this subpackage's modules (cin_census, ssda903, case_extracts, annex_a, input_checks, schemas, specs, ledger, input_cache, between_returns) is importable from here, e.g.
``from helpers.readers import name``; code that needs a private name or monkeypatches imports the
module itself (``helpers.readers.cin_census``). Modules load on first use.
"""
from __future__ import annotations

from helpers import lazy_exports

MODULES = ('cin_census', 'ssda903', 'case_extracts', 'annex_a', 'input_checks', 'schemas', 'specs', 'ledger', 'input_cache', 'between_returns')


__getattr__, __dir__ = lazy_exports(__name__, MODULES)
