"""Scenario savings: one function builds the figures for the published page and the analyst's sliders.

:func:`scenario_figures` turns the configured scenarios (with any lever or unit cost changed)
into the savings table and chart. The published report calls it with the config's values; the
interactive view (:func:`scenario_widget`) calls the same function each time a slider moves, its
sliders starting at the config's values, so at those values the two show the same figures
(``tests/test_scenario_view.py``). Running costs, budgets and inflation come from the config in
both: a slider changes only the lever or unit cost it names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import altair as alt
import pandas as pd

from helpers.placements import sufficiency

#: The setting each lever's slider moves, its label and range (min, max, step).
LEVER_SLIDERS: dict[str, tuple[str, str, float, float, float]] = {
    "recruit_foster_households": ("extra_households_per_year", "Extra foster households a year", 0, 50, 1),
    "edge_of_care": ("entry_reduction", "Share of entries aged 10+ avoided", 0, 0.5, 0.05),
    "step_down": ("annual_proportion", "Share of children's home places stepped down a year", 0, 0.5, 0.05),
    "parent_and_child": ("places", "In-house parent-and-child places", 0, 12, 1),
}
#: Unit costs a slider can move: (placement category, provider column, label).
COST_SLIDERS: dict[str, tuple[str, str, str]] = {
    "ifa_weekly": ("Fostering: other carer", "external", "Agency (IFA) foster placement, £ a week"),
    "home_weekly": ("Children's home", "external", "External children's home, £ a week"),
}


@dataclass(frozen=True)
class ScenarioFigures:
    savings: pd.DataFrame   # one row per scenario (sufficiency.compare_scenarios)
    annual: pd.DataFrame    # cost by scenario and year
    chart: alt.Chart
    description: str


def with_changes(scenarios: Sequence[sufficiency.Scenario], lever_values: Mapping[str, float] | None = None) -> list[sufficiency.Scenario]:
    """The scenarios with their lever settings replaced (``{scenario name: value}``); everything else kept."""
    out = []
    for sc in scenarios:
        if lever_values and sc.name in lever_values and sc.lever in LEVER_SLIDERS:
            key = LEVER_SLIDERS[sc.lever][0]
            sc = replace(sc, params={**dict(sc.params), key: lever_values[sc.name]})
        out.append(sc)
    return out


def with_costs(inputs: sufficiency.SufficiencyInputs, cost_values: Mapping[str, float] | None = None) -> sufficiency.SufficiencyInputs:
    """The inputs with unit costs replaced (keys of :data:`COST_SLIDERS`)."""
    if not cost_values:
        return inputs
    costs = inputs.costs.copy()
    for key, value in cost_values.items():
        category, column, _ = COST_SLIDERS[key]
        costs.at[category, column] = float(value)
    return replace(inputs, costs=costs)


def scenario_figures(model, inputs: sufficiency.SufficiencyInputs, scenarios: Sequence[sufficiency.Scenario]) -> ScenarioFigures:
    """Savings table, cost by year and the chart of modelled against budgeted savings."""
    annual, savings = sufficiency.compare_scenarios(model, inputs, list(scenarios))
    plot = savings.melt(id_vars="scenario", value_vars=["saving_total", "budgeted_total"], var_name="what", value_name="pounds")
    plot["what"] = plot["what"].map({"saving_total": "Modelled saving", "budgeted_total": "Budgeted saving"})
    plot["pounds_m"] = plot["pounds"] / 1e6
    plot["scenario_lines"] = plot["scenario"].map(wrap_label)
    chart = (alt.Chart(plot).mark_bar().encode(
        # Long scenario names on up to three lines rather than cut off on a phone.
        y=alt.Y("scenario_lines:N", title=None, axis=alt.Axis(labelExpr="split(datum.label, '|')", labelLimit=400)),
        x=alt.X("pounds_m:Q", title=f"£ million over {inputs.horizon_years} years"),
        color=alt.Color("what:N", title=None, legend=alt.Legend(orient="top")), yOffset="what:N",
        tooltip=[alt.Tooltip("scenario:N", title="Scenario"), alt.Tooltip("what:N", title="Saving"),
                 alt.Tooltip("pounds_m:Q", title="£ million", format=",.2f")]))
    met = int(savings["meets_budget"].sum()) if "meets_budget" in savings else 0
    description = ("Each scenario's modelled saving over the horizon beside the saving the council has budgeted. "
                   f"{met} of {len(savings)} scenarios meet their budgeted saving.")
    return ScenarioFigures(savings, annual, chart, description)


def wrap_label(text: str, width: int = 24) -> str:
    """``text`` broken at spaces into lines of at most about ``width`` characters, joined by ``|``
    (the chart splits them into lines)."""
    import textwrap

    return "|".join(textwrap.wrap(str(text), width)) or str(text)


def scenario_widget(model, inputs: sufficiency.SufficiencyInputs, scenarios: Sequence[sufficiency.Scenario], show) -> Any:
    """Sliders for each scenario's lever and two unit costs, starting at the config's values;
    every change redraws :func:`scenario_figures` through ``show(figures)``. Returns the widget box
    and the function computing the figures for the sliders' current values (for tests)."""
    import ipywidgets as w

    lever = {sc.name: w.FloatSlider(value=float(sc.params.get(LEVER_SLIDERS[sc.lever][0], 0.0)),
                                    min=LEVER_SLIDERS[sc.lever][2], max=LEVER_SLIDERS[sc.lever][3],
                                    step=LEVER_SLIDERS[sc.lever][4], description=LEVER_SLIDERS[sc.lever][1],
                                    style={"description_width": "initial"}, layout=w.Layout(width="36rem"))
             for sc in scenarios if sc.lever in LEVER_SLIDERS}
    cost = {k: w.FloatSlider(value=float(inputs.costs.at[c, col]), min=0, max=max(2 * float(inputs.costs.at[c, col]), 100),
                             step=50, description=label, style={"description_width": "initial"}, layout=w.Layout(width="36rem"))
            for k, (c, col, label) in COST_SLIDERS.items()}
    out = w.Output()

    def current() -> ScenarioFigures:
        return scenario_figures(model, with_costs(inputs, {k: s.value for k, s in cost.items()}),
                                with_changes(scenarios, {k: s.value for k, s in lever.items()}))

    def redraw(_=None):
        with out:
            out.clear_output(wait=True)
            show(current())

    for slider in [*lever.values(), *cost.values()]:
        slider.observe(redraw, names="value")
    box = w.VBox([*lever.values(), *cost.values(), out])
    redraw()
    return box, current
