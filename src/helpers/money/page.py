"""The savings summary (notebooks/savings_summary.ipynb), section by section.

It reads the money tables the locality and placement reports published earlier in the same run;
``report_figures`` gathers them, the ``show_*`` functions publish each section, and the text
templates (``*_text``) are pure functions tested on small hand-made tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import config
from helpers.money import finance
from helpers.publishing import charts

SOURCES = {"locality_sizing": "locality_savings_by_year.csv",
           "placement_sufficiency": "scenario_savings_by_year.csv"}
CASE_SOURCES = (("locality_sizing", "locality_business_case.csv"),
                ("placement_sufficiency", "scenario_business_case.csv"))
ALL = "All workstreams"


@dataclass
class Figures:
    """The run's savings by year and workstream, the business cases and the years shown."""

    cfg: dict
    threshold: int
    fin: Any
    years: pd.DataFrame
    cases: pd.DataFrame
    placement_summary: dict
    fys: list
    table: pd.DataFrame
    months_first: int
    full_fy: str

    def total(self, measure: str, column: str) -> float:
        """All workstreams' ``measure`` ("Modelled saving", "Budgeted saving") in ``column``."""
        return self.table.set_index(["workstream", "measure"]).loc[(ALL, measure), column]


def workstream_names(cfg: dict) -> list[str]:
    """Workstream names as the config gives them (the locality model, then each scenario)."""
    scenarios = cfg.get("placements", {}).get("scenarios", [])
    return [finance.LOCALITY_WORKSTREAM, *(str(s.get("name", "")) for s in scenarios)]


def headline_year(fys: list[str], months_first: int) -> str:
    """The first full financial year shown (the first is a part year when it has < 12 months)."""
    return fys[1] if months_first < 12 and len(fys) > 1 else fys[0]


def report_figures(config_path: str | Path, *, output_dir: str = "") -> Figures:
    """Read the run's savings and business-case tables (names restored as the config gives them:
    published CSVs put an apostrophe before text starting = + - @)."""
    cfg = config.load_config(config_path)
    fin = finance.settings_from_config(cfg)
    paths = {r: finance.run_file(cfg, output_dir, r, f"tables/{name}") for r, name in SOURCES.items()}
    missing = [r for r, p in paths.items() if p is None]
    if missing:
        raise RuntimeError(f"the savings summary needs the tables of {', '.join(missing)} from the "
                           "same run: list them before savings_summary in [publish] reports "
                           "(interactively, publish a month first)")
    names = workstream_names(cfg)
    years = pd.concat([finance.read_years(p, names) for p in paths.values()], ignore_index=True)
    cases = pd.concat([pd.read_csv(finance.run_file(cfg, output_dir, r, f"tables/{n}"))
                       for r, n in CASE_SOURCES], ignore_index=True)
    cases = finance.restore_names(cases, names)
    summary = finance.run_file(cfg, output_dir, "placement_sufficiency", "summary.json")
    finance.check_budget_names(fin, list(dict.fromkeys(years["workstream"])))
    first_fy = years["financial_year"].min()
    fys = finance.summary_years(first_fy, fin.summary_years)
    months_first = int(years.loc[years["financial_year"] == first_fy, "months"].max())
    return Figures(cfg=cfg, threshold=cfg["publish"]["suppression_threshold"], fin=fin, years=years,
                   cases=cases.astype(object).where(cases.notna(), None),
                   placement_summary=json.loads(summary.read_text(encoding="utf-8")), fys=fys,
                   table=finance.savings_against_budget(years, fys), months_first=months_first,
                   full_fy=headline_year(fys, months_first))


def headline_text(f: Figures) -> str:
    """The headline: the first full year, then all years against budget, then the part year."""
    fys = f.fys
    part = (f" ({fys[0]} counts only the {f.months_first} months after the latest data, with its "
            "budget pro-rated)." if f.months_first < 12 else ".")
    return (f"**{finance.headline(f.table, f.full_fy, 12, markdown=True)}**\n\n"
            f"Over the {len(fys)} financial years {fys[0]} to {fys[-1]}, the plans are modelled to save "
            f"{finance.money(f.total('Modelled saving', 'All years'))} against "
            f"{finance.money(f.total('Budgeted saving', 'All years'))} budgeted" + part
            + f" In {fys[0]}: {finance.headline(f.table, fys[0], f.months_first, markdown=True)}")


def show_headline(rep: Any, f: Figures) -> None:
    """The headline box, shown first on the page under the title."""
    rep.headline(headline_text(f))


def years_text(f: Figures) -> str:
    """Modelled against budgeted saving for each year shown, all workstreams."""
    return "; ".join(f"{fy}: {finance.money(f.total('Modelled saving', fy))} modelled against "
                     f"{finance.money(f.total('Budgeted saving', fy))} budgeted" for fy in f.fys)


def show_savings(rep: Any, f: Figures) -> None:
    """Savings by financial year and workstream against budget: table and chart."""
    rep.table("savings_against_budget", f.table, count_cols=[])
    shown = finance.for_members(f.table, [*f.fys, "All years"], group_col="workstream")
    _display(shown.rename(columns={"workstream": "Workstream", "measure": ""}))
    charts.show(finance.savings_chart(f.years, f.fys), description=(
        "Modelled net saving by financial year, stacked by workstream, with the council's budgeted "
        f"saving for each year marked by a black tick. {years_text(f)}."))


def show_business_cases(rep: Any, f: Figures) -> None:
    """Each workstream's business case, one sentence each."""
    rep.table("business_cases", f.cases, count_cols=[])
    _markdown("\n".join(f"- {finance.case_sentence(r)}" for r in f.cases.to_dict("records")))


def assumptions_text(f: Figures) -> str:
    """The money assumptions the figures rest on, one bullet each."""
    inflation = float(f.cfg.get("placements", {}).get("inflation", 0.0))
    growth = float(f.cfg.get("locality", {}).get("growth_rate", 0.0))
    return "\n".join(f"- {a}" for a in finance.assumptions(f.fin, placement_inflation=inflation,
                                                           demand_growth=growth))


def show_assumptions(f: Figures) -> None:
    """The assumptions section."""
    _markdown(assumptions_text(f))


def write_summary(rep: Any, f: Figures) -> None:
    """The summary's figures in summary.json (the period is the placement report's)."""
    ps = f.placement_summary
    rep.summary(
        title="Savings against budget",
        period_start=ps["period_start"], period_end=ps["period_end"], data_as_at=ps["data_as_at"],
        financial_years=f.fys,
        modelled_savings_by_year={fy: round(float(f.total("Modelled saving", fy))) for fy in f.fys},
        budgeted_savings_by_year={fy: round(float(f.total("Budgeted saving", fy))) for fy in f.fys},
        headline_year=f.full_fy,
        headline=finance.headline(f.table, f.full_fy, 12),
        workstreams=list(dict.fromkeys(f.years["workstream"])),
    )


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def _markdown(text: str) -> None:
    from IPython.display import Markdown

    _display(Markdown(text))
