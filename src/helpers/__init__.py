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
schema ``config_schema``, ``codes`` (DfE code lists) and ``stats`` (intervals and funnel limits).

Every subpackage's public names are importable from the subpackage itself, e.g.
``from helpers import rereferrals as rr; rr.rereferral_rates(...)`` or
``from helpers.placements import categorise_placements``; code that needs a private name or
monkeypatches imports the module (``helpers.rereferrals.measure``).
"""

__version__ = "0.1.0"
