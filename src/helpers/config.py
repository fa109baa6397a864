"""Council configuration: one readable TOML file per council (and per monthly run).

A config names the council, where its files are, the suppression threshold, and each
report's settings (caseload targets, cost tables, scenarios). Notebooks receive only the
path to the config, so a council adds its own config without editing any notebook.

Relative paths in the ``[data]`` table are resolved against the folder that holds the
config file's *project root* (the config's parent folder when the config sits in
``configs/``), so the same config works from the repo root, from ``notebooks/`` and
from papermill's working directory.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REQUIRED_SECTIONS = ("council", "data", "publish")   # declared in helpers.config_schema


class ConfigError(ValueError):
    """A config file that cannot be used: the message names the file and the key."""


def project_root_for(config_path: Path) -> Path:
    """The folder that relative data paths in a config are resolved against."""
    config_path = config_path.resolve()
    return config_path.parent.parent if config_path.parent.name == "configs" else config_path.parent


def load_config(config_path: str | Path) -> dict[str, Any]:
    """Read a council config (TOML) and resolve its data paths.

    Returns the parsed TOML as a dict, with ``_path`` (the config file), ``_root`` (the
    folder relative paths are resolved against) and every string in ``[data]`` turned
    into an absolute :class:`~pathlib.Path`.
    """
    path = Path(config_path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: byte {exc.start} is not valid UTF-8; save the config as UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    root = project_root_for(path)
    # the declared schema (helpers.config_schema): every problem at once, each naming its key
    from helpers.config_schema import problems

    found = problems(cfg, root, default_notebooks=_default_notebooks(root))
    if found:
        raise ConfigError(f"{path}: {len(found)} problem(s) in the council config; fix each in the file "
                          "(configs/demo.toml shows every key):\n" + "\n".join(f"  - {p}" for p in found))
    cfg["_path"] = path.resolve()
    cfg["_root"] = root
    cfg["data"] = {k: (root / v).resolve() if isinstance(v, str) else v for k, v in cfg["data"].items()}
    cfg["publish"].setdefault("suppression_threshold", 5)
    return cfg


def _default_notebooks(root: Path) -> Path:
    """The report notebooks used when ``[publish] notebooks`` is not set (as helpers.publishing.run)."""
    return root / "notebooks" if (root / "notebooks").is_dir() else Path(__file__).resolve().parents[2] / "notebooks"


RUN_PREFIX = "run:"


def resolve_input(cfg: dict[str, Any], value: str, output_dir: str | Path = "") -> Path | None:
    """Where an optional input named in a report's config table lives, or None when it is not set.

    ``value`` is a path relative to the project root, or ``"run:REPORT/tables/NAME.csv"`` for a
    table published earlier in the same monthly run (e.g. the locality report's
    ``ward_to_locality.csv``, which the re-referral report uses for its locality breakdown).
    A ``run:`` input resolves against the run's build folder (the parent of ``output_dir``); it
    is None in an interactive session (no ``output_dir``) or when that report has not run yet
    in this run (it must come earlier in ``[publish] reports``).
    """
    if not value:
        return None
    if value.startswith(RUN_PREFIX):
        if not output_dir:
            return None
        path = Path(output_dir).parent / value[len(RUN_PREFIX):]
        return path if path.is_file() else None
    return (Path(cfg["_root"]) / value).resolve()


def extract_date(cfg: dict[str, Any]) -> str | None:
    """The date the council's extracts were taken (``as_at``, ``YYYY-MM-DD``, in the JSON file
    named by ``[data] council_meta``), or None when no such file or date is configured.
    Raises :class:`ConfigError` naming the file when it is not JSON or the date is not a date."""
    meta = cfg.get("data", {}).get("council_meta")
    if not meta or not Path(meta).is_file():
        return None
    import datetime as dt
    import json

    try:
        value = json.loads(Path(meta).read_text(encoding="utf-8")).get("as_at")
    except (ValueError, AttributeError) as exc:
        raise ConfigError(f"{meta}: [data] council_meta is not a JSON object ({exc})") from None
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise ConfigError(f"{meta}: as_at {value!r} is not a date (expected YYYY-MM-DD)") from None
