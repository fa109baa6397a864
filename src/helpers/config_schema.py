"""The council config's declared schema (pydantic v2), checked once when a config is loaded.

:func:`problems` returns every problem in a parsed config at once, each naming the key and
what to put there: a missing section or key, a value of the wrong type (``n_localities =
"twenty-one"``), a number out of range (a suppression threshold or caseload of zero or less),
a ``[data]`` path that does not exist, a file a chosen report needs that is not set, an
unknown report name in ``[publish] reports`` (no ``notebooks/NAME.ipynb``) or an unknown
scenario lever. :func:`helpers.config.load_config` raises one
:class:`helpers.config.ConfigError` listing them all.

Sections and keys not declared here are allowed (a council may keep notes in its config, and
new reports add their own tables); declared keys are checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

LEVERS = ("recruit_foster_households", "edge_of_care", "step_down", "parent_and_child")

#: ``[data]`` keys each report reads (a report not listed here needs none).
REPORT_DATA = {
    "locality_sizing": ("cin_census", "ssda903", "addresses", "lsoa_ward_lookup", "iod", "population",
                        "ward_boundaries", "lsoa_boundaries"),
    "re_referrals": ("cin_census", "addresses", "iod", "lsoa_ward_lookup"),
    "placement_sufficiency": ("ssda903", "inhouse_capacity"),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow")


class Council(_Section):
    la_code: str = Field(min_length=1, description="ONS code of the council, e.g. E06000015")
    la_name: str = Field(min_length=1)
    la_old_code: str | None = None
    region: str | None = None
    statistical_neighbours: list[str] = []


class Publish(_Section):
    suppression_threshold: int = Field(5, ge=1)
    reports: list[str] = []
    out_dir: str | None = None
    notebooks: str | None = None


class Costs(_Section):
    in_house: float = Field(ge=0.0)
    external: float = Field(ge=0.0)


class Scenario(_Section):
    name: str = Field(min_length=1)
    lever: Literal[LEVERS]  # type: ignore[valid-type]
    running_cost_per_year: float = Field(0.0, ge=0.0)
    budgeted_saving: float | list[float] = 0.0


class Capacity(_Section):
    recruitment_lag_months: float = Field(6, ge=0.0)
    net_recruitment_per_year: float | None = None
    foster_utilisation: float | None = Field(None, gt=0.0, le=1.0)


class Placements(_Section):
    in_house_providers: list[str] = ["PR1"]
    reference_years: float = Field(2, gt=0.0)
    interval: float = Field(0.9, gt=0.0, lt=1.0)
    inflation: float = Field(0.0, ge=-0.5, le=1.0)
    ltla_utla_lookup: str = ""
    postcode_source: Literal["directory", "ons"] = "directory"
    capacity: Capacity = Capacity()
    costs: dict[str, Costs] | None = None
    scenarios: list[Scenario] = []


class Locality(_Section):
    n_localities: int = Field(21, ge=1)
    building_block: Literal["ward", "lsoa", "auto"] = "auto"
    target_ratio: float = Field(1.25, ge=1.0)
    sweep: list[int] = Field([12, 30], min_length=2, max_length=2)
    sweep_step: int = Field(1, ge=1)
    seed: int = Field(0, ge=0)
    keep_together: list[list[str]] = []
    keep_districts_whole: bool = False
    lad_codes: list[str] = []
    demand_measure: Literal["referrals", "open_cin", "cp_plans", "looked_after", "open_cases"] = "open_cases"
    growth_rate: float = Field(0.0, gt=-1.0)
    years_ahead: float = Field(1, ge=0.0)
    sw_caseload: float = Field(15.0, gt=0.0)
    fsw_caseload: float = Field(12.0, gt=0.0)
    early_help_per_statutory: float = Field(0.5, ge=0.0)
    workers_per_team_manager: float = Field(8.0, gt=0.0)
    sw_per_senior_practitioner: float = Field(6.0, gt=0.0)
    vacancy_allowance: float = Field(0.10, ge=0.0, lt=1.0)


class Rereferrals(_Section):
    collection_year: int = Field(0, ge=0)
    window: int = Field(12, ge=1)
    window_unit: Literal["months", "days"] = "months"
    inclusive: bool = True
    duplicate_days: int = Field(7, ge=0)
    locality_map: str = ""
    dfe_c1: str = ""


class CouncilConfig(_Section):
    council: Council
    data: dict[str, str | list[str]]
    publish: Publish
    placements: Placements | None = None
    locality: Locality | None = None
    rereferrals: Rereferrals | None = None


def _key(loc: tuple) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1] = f"{parts[-1]}[{p}]" if parts else f"[{p}]"
        else:
            parts.append(str(p))
    return ".".join(parts)


def _message(err: dict[str, Any]) -> str:
    loc = tuple(p for p in err["loc"] if p not in ("str", "list[str]", "float", "list[float]", "function-after[...]"))
    key = _key(loc)
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    got = err.get("input")
    if kind == "missing":
        return f"missing required section [{key}]" if len(loc) == 1 else f"missing required key {key}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{key} must be a whole number, got {got!r}"
    if kind in ("float_type", "float_parsing"):
        return f"{key} must be a number, got {got!r}"
    if kind in ("bool_type", "bool_parsing"):
        return f"{key} must be true or false, got {got!r}"
    if kind in ("string_type",):
        return f"{key} must be text in quotes, got {got!r}"
    if kind in ("list_type",):
        return f"{key} must be a list in square brackets, got {got!r}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{key} must be a table ([{key}] or {{ ... }}), got {got!r}"
    if kind == "literal_error":
        return f"{key} must be one of {ctx.get('expected')}, got {got!r}"
    if kind in ("greater_than_equal", "greater_than", "less_than", "less_than_equal"):
        limit = next(iter(ctx.values()), None)
        whole = isinstance(limit, int) and isinstance(got, int) and not isinstance(got, bool)
        bound = {"greater_than_equal": f"at least {ctx.get('ge')}", "greater_than": f"more than {ctx.get('gt')}",
                 "less_than": f"less than {ctx.get('lt')}", "less_than_equal": f"at most {ctx.get('le')}"}[kind]
        return f"{key} must be {'a whole number of ' if whole else ''}{bound}, got {got!r}"
    if kind in ("too_short", "too_long", "string_too_short"):
        return f"{key}: {err['msg'].lower()}, got {got!r}"
    return f"{key}: {err['msg']} (got {got!r})"


def _dedupe_union(errors: list[dict]) -> list[dict]:
    """A union type (``str | list[str]``) reports one error per branch: keep one per key."""
    seen, out = set(), []
    for e in errors:
        loc = tuple(p for p in e["loc"] if p not in ("str", "list[str]", "float", "list[float]"))
        if loc in seen:
            continue
        seen.add(loc)
        out.append(e)
    return out


def problems(cfg: dict[str, Any], root: Path, default_notebooks: Path | None = None) -> list[str]:
    """Every problem in a parsed config (empty when it can be used).

    ``root`` is the project root relative paths resolve against; ``default_notebooks`` the
    folder of report notebooks when ``[publish] notebooks`` is not set.
    """
    found: list[str] = []
    try:
        CouncilConfig.model_validate(cfg)
    except ValidationError as exc:
        found += [_message(e) for e in _dedupe_union(exc.errors())]
    data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
    for key, value in data.items():
        for v in (value if isinstance(value, list) else [value]):
            if isinstance(v, str) and v and not (root / v).exists():
                found.append(f"data.{key}: {v!r} does not exist (looked in {(root / v).resolve()}); "
                             "fix the path or create the file")
            elif isinstance(v, str) and not v:
                found.append(f"data.{key} is empty: give a path or remove the key")
    publish = cfg.get("publish") if isinstance(cfg.get("publish"), dict) else {}
    reports = publish.get("reports", [])
    if isinstance(reports, list) and all(isinstance(r, str) for r in reports):
        nb_value = publish.get("notebooks")
        nb_dir = (root / nb_value) if isinstance(nb_value, str) else default_notebooks
        if nb_dir is not None and nb_dir.is_dir():
            known = sorted(p.stem for p in nb_dir.glob("*.ipynb"))
            for r in reports:
                if r not in known:
                    found.append(f"publish.reports: unknown report {r!r}; choose from {known} "
                                 f"(notebooks in {nb_dir})")
        for r in dict.fromkeys(reports):
            for key in REPORT_DATA.get(r, ()):
                if key not in data:
                    found.append(f"missing required key data.{key} (the {r} report reads it)")
        if "placement_sufficiency" in reports:
            placements = cfg.get("placements") if isinstance(cfg.get("placements"), dict) else {}
            if "costs" not in placements:
                found.append("missing required key placements.costs (the placement_sufficiency report needs unit costs)")
            if placements.get("postcode_source", "directory") == "directory" and "postcode_directory" not in data:
                found.append("missing required key data.postcode_directory (placements.postcode_source = \"directory\")")
    return list(dict.fromkeys(found))
