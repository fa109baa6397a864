"""The scenario sliders and the published page come from one function: at the config's values they agree."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.placements import scenarios as sv
from helpers.placements import sufficiency as su
from test_sufficiency import NO_CAPACITY, inputs, model

SCENARIOS = [
    su.Scenario("Recruit carers", "recruit_foster_households", {"extra_households_per_year": 10},
                running_cost_per_year=150_000, budgeted_saving=100_000),
    su.Scenario("Edge of care", "edge_of_care", {"entry_reduction": 0.15, "age_bands": ["All"]},
                running_cost_per_year=400_000, budgeted_saving=50_000),
]


@pytest.fixture
def setup():
    m = model({"Fostering: other carer": 40, "Children's home": 6},
              entries={("All", "Fostering: other carer"): 0.05, ("All", "Children's home"): 0.01})
    return m, inputs(NO_CAPACITY, horizon=3)


def test_widget_at_config_values_equals_published_figures(setup):
    m, inp = setup
    published = su.compare_scenarios(m, inp, SCENARIOS)[1]        # what the page shows
    shown = []
    box, current = sv.scenario_widget(m, inp, SCENARIOS, show=shown.append)
    assert len(shown) == 1                                          # drawn once at the start
    pd.testing.assert_frame_equal(shown[0].savings, published)
    pd.testing.assert_frame_equal(current().savings, published)
    # Running costs are counted in both: removing them changes the figure, so the comparison can fail.
    no_running = [su.Scenario(s.name, s.lever, s.params, 0.0, s.budgeted_saving) for s in SCENARIOS]
    assert (su.compare_scenarios(m, inp, no_running)[1]["saving_total"] > published["saving_total"]).all()


def test_moving_a_slider_changes_only_that_scenario(setup):
    m, inp = setup
    before = sv.scenario_figures(m, inp, SCENARIOS).savings.set_index("scenario")["saving_total"]
    after = sv.scenario_figures(m, inp, sv.with_changes(SCENARIOS, {"Recruit carers": 20})).savings.set_index("scenario")["saving_total"]
    assert after["Edge of care"] == before["Edge of care"]
    assert after["Recruit carers"] != before["Recruit carers"]


def test_cost_slider_replaces_one_unit_cost(setup):
    _, inp = setup
    changed = sv.with_costs(inp, {"ifa_weekly": 1200})
    assert changed.costs.at["Fostering: other carer", "external"] == 1200
    assert changed.costs.at["Fostering: other carer", "in_house"] == inp.costs.at["Fostering: other carer", "in_house"]
