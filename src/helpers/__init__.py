"""Helpers for the children's services analytics notebooks.

The folders follow the data from files to pages:

- ``readers/``: the statutory returns (CIN census XML, SSDA903 CSVs), Ofsted's Annex A and case
  extracts as councils hold them, the specifications by year, the checks that refuse a file read
  silently wrongly, the data-quality ledger and the run-scoped cache of parsed inputs;
- ``reference/``: geography, postcodes, deprivation and DfE national tables, with the committed
  national snapshot;
- one subpackage per analysis: ``rereferrals/``, ``localities/``, ``placements/``, and ``money/``
  (workforce cost, business cases and savings against budget, used by the last two);
- ``publishing/``: the monthly run (``python -m helpers.publishing``), what a report writes,
  disclosure control and its audit, charts and formatting for members;
- ``demo/``: the fictional demo council, written in the DfE's formats.

Top-level modules are the few everything shares: ``config`` (the council's TOML file) and its
schema ``config_schema``, ``codes`` (DfE code lists), ``stats`` (intervals and funnel limits) and
``memory`` (freed memory handed back to the system after a large step).

Every subpackage's public names are importable from the subpackage itself, e.g.
``from helpers import rereferrals as rr; rr.rereferral_rates(...)`` or
``from helpers.placements import categorise_placements``; code that needs a private name or
monkeypatches imports the module (``helpers.rereferrals.measure``).
"""

__version__ = "0.1.0"


def lazy_exports(package: str, modules: tuple[str, ...]):
    """``__getattr__`` and ``__dir__`` for a subpackage that re-exports its modules' public names.

    Asking the re-referrals subpackage for ``rereferral_rates`` loads its ``measure`` module on first use
    and returns the function; a module name returns the module. Private names are not re-exported.
    """
    import importlib

    def _modules():
        for name in modules:
            yield importlib.import_module(f"{package}.{name}")

    def __getattr__(name: str):
        if name in modules:
            return importlib.import_module(f"{package}.{name}")
        if not name.startswith("_"):
            for module in _modules():
                if name in vars(module):
                    return vars(module)[name]
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        names = set(importlib.import_module(package).__dict__) | set(modules)
        for module in _modules():
            names |= {n for n in vars(module) if not n.startswith("_")}
        return sorted(names)

    return __getattr__, __dir__
