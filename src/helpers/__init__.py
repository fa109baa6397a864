"""Helpers for the children's services analytics notebooks.

One module per concern: readers per statutory return (``cin_census``, ``ssda903``,
``case_extracts``), reference data (``geography``, ``dfe_stats``), analyses
(``rereferrals``, ``locality``, ``placements``, ``forecast``), disclosure control
(``disclosure``), charts (``charts``) and publishing (``publish``).
"""

__version__ = "0.1.0"
