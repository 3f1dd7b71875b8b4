"""The scenario file of a what-if study (the public contract), read and validated.

Every error names the scenario file, the field (dotted, e.g. `grid.jp-tokyo.source`) and
the value. Relative paths resolve against the scenario file's folder; `$VARIABLES` in paths
are expanded (the real-data scenarios read `$WATTBIT_SHARED_DATA`).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from inputs.errors import InputError
from inputs.tables import parse_time
from inputs.yaml_file import load_yaml, number
from policies.policy import Policy, load_policy
from policies.site import Site
from policies.sites_file import parse_sites, read_sites_yaml

POLICIES = ("asap", "lwa", "greedy", "milp", "oracle")
"""Policies a scenario may compare (see `simulations.policies`)."""
FORECAST_MODELS = ("perfect", "noisy", "seasonal-naive", "model")
GRID_SOURCES = ("synthetic", "file", "jp-tso", "electricitymaps-csv")
SCENARIO_DIR = Path(__file__).parent / "scenarios"
"""The built-in scenarios shipped in the package."""
DEFAULT_SCENARIO = "matsue-vs-shiroi"

_KEYS = {"name", "start", "end", "replan_minutes", "horizon_hours", "sites", "grid", "forecast",
         "workload", "policies", "policy", "seed", "history_days", "slot_minutes",
         "oracle_time_limit_s"}
_GRID_KEYS = {"source", "area", "path", "files", "seed"}
_FORECAST_KEYS = {"model", "error_at_24h", "history_days", "known_hours"}


@dataclass(frozen=True)
class GridSpec:
    """Where one region's actual signals come from."""

    region: str
    source: str
    """`synthetic`, `file` (forecast.csv format), `jp-tso` (TSO area files) or
    `electricitymaps-csv` (Electricity Maps hourly export; carbon only)."""
    area: str
    """The TSO / synthetic area (defaults to the region)."""
    paths: tuple[Path, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class ForecastSpec:
    """How the planner's forecasts are made from the signals."""

    model: str
    error_at_24h: float = 0.15
    """`noisy`: relative error (1 σ) of a value 24 h after issue; grows linearly with lead."""
    history_days: int = 365
    """`model` on synthetic grids: days of signal history before `start` to train on."""
    known_hours: float = 0.0
    """What-if: slots starting within this many hours of each issue get the actual
    signals (the value of a perfect nowcast); 0 = none."""


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: simulated period, sites, grids, forecasts, workload, policies."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp
    """Simulated period [start, end), tz-aware UTC (jobs arrive in it; running work is
    followed to its end, at most `horizon_hours` beyond)."""
    replan_minutes: int
    horizon_hours: float
    sites: tuple[Site, ...]
    grid: tuple[GridSpec, ...]
    forecast: ForecastSpec
    workload: dict[str, Any]
    """`{"jobs": Path}` or `{"generator": {...}}` (checked by `simulations.workload`)."""
    policies: tuple[str, ...]
    policy: Policy
    seed: int = 1
    slot_minutes: int | None = None
    """Slot length of the simulation (None: the signals' own, the finest region)."""
    oracle_time_limit_s: float = 120.0
    source: str = ""
    """The scenario file (or `builtin:<name>`)."""
    raw: dict[str, Any] = field(default_factory=dict)
    """The scenario document as read (what `report` writes back as run)."""


def scenario_path(name_or_path: str | Path) -> Path:
    """A built-in scenario by name, or a scenario file by path."""
    builtin = SCENARIO_DIR / f"{name_or_path}.yaml"
    if builtin.is_file():
        return builtin
    path = Path(name_or_path)
    if not path.is_file():
        names = ", ".join(builtin_scenarios())
        raise InputError("scenario", "path", str(name_or_path),
                         f"neither a built-in scenario ({names}) nor a file")
    return path


def builtin_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path, overrides: dict[str, Any] | None = None
                  ) -> Scenario:
    """Read and validate a scenario; `overrides` (dotted keys, e.g. from a sweep) replace
    values of the document before validation."""
    path = scenario_path(name_or_path)
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise InputError(str(path), "scenario", doc, "must be a mapping")
    for key, value in (overrides or {}).items():
        doc = with_value(str(path), doc, key, value)
    return parse_scenario(str(path), doc, path.parent)


def with_value(src: str, doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of `doc` with the value at `dotted` (`a.b.c`; a list element of sites by its
    id, e.g. `sites.matsue.gpus`) replaced."""
    out = copy.deepcopy(doc)
    node: Any = out
    keys = dotted.split(".")
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            match = [item for item in node if isinstance(item, dict) and item.get("id") == key]
            if not match:
                raise InputError(src, dotted, value, f"no list entry with id {key!r}")
            if last:
                raise InputError(src, dotted, value, "cannot replace a whole list entry")
            node = match[0]
            continue
        if not isinstance(node, dict) or (not last and key not in node):
            raise InputError(src, dotted, value, f"{key!r} is not in the scenario")
        if last:
            node[key] = value
        else:
            node = node[key]
    return out


def parse_scenario(src: str, doc: dict[str, Any], base: Path) -> Scenario:
    """Validate a scenario mapping; relative paths resolve against `base`."""
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise InputError(src, unknown[0], doc[unknown[0]],
                         f"unknown field (known: {', '.join(sorted(_KEYS))})")
    for key in ("name", "start", "end", "sites", "grid", "workload"):
        if key not in doc:
            raise InputError(src, key, None, "required")
    start, end = _time(src, "start", doc["start"]), _time(src, "end", doc["end"])
    if end <= start:
        raise InputError(src, "end", doc["end"], "must be after start")
    sites = _sites(src, doc["sites"], base)
    grid = _grid(src, doc["grid"], base)
    missing = sorted({s.region for s in sites} - {g.region for g in grid})
    if missing:
        raise InputError(src, "grid", missing[0], "a site's region has no grid entry")
    policies = doc.get("policies", list(POLICIES))
    if not isinstance(policies, list) or not policies or any(p not in POLICIES
                                                              for p in policies):
        raise InputError(src, "policies", policies, f"a non-empty list of {', '.join(POLICIES)}")
    if len(set(policies)) != len(policies):
        raise InputError(src, "policies", policies, "a policy is listed twice")
    slot = doc.get("slot_minutes")
    return Scenario(
        name=str(doc["name"]), start=start, end=end,
        replan_minutes=int(number(src, "replan_minutes", doc.get("replan_minutes", 60), lo=1,
                                  integer=True)),
        horizon_hours=number(src, "horizon_hours", doc.get("horizon_hours", 48), lo=1),
        sites=tuple(sites), grid=grid, forecast=_forecast(src, doc.get("forecast", {})),
        workload=_workload(src, doc["workload"], base), policies=tuple(policies),
        policy=_policy(src, doc.get("policy", "min-carbon"), base),
        seed=int(number(src, "seed", doc.get("seed", 1), lo=0, integer=True)),
        slot_minutes=None if slot is None else int(_slot_minutes(src, slot)),
        oracle_time_limit_s=number(src, "oracle_time_limit_s",
                                   doc.get("oracle_time_limit_s", 120.0), lo=0, lo_open=True),
        source=src, raw=doc,
    )


def _time(src: str, key: str, value: Any) -> pd.Timestamp:
    if hasattr(value, "isoformat"):  # YAML reads unquoted timestamps itself
        value = value.isoformat()
    if not isinstance(value, str):
        raise InputError(src, key, value, "must be an ISO 8601 time with offset")
    return pd.Timestamp(parse_time(src, key, value))


def _slot_minutes(src: str, value: Any) -> int:
    minutes = number(src, "slot_minutes", value, integer=True)
    if minutes not in (15, 30, 60):
        raise InputError(src, "slot_minutes", value, "must be 15, 30 or 60")
    return int(minutes)


def _path(src: str, key: str, value: Any, base: Path) -> Path:
    """A path of the scenario: `$VARIABLES` expanded, relative to the scenario's folder."""
    if not isinstance(value, str) or not value:
        raise InputError(src, key, value, "must be a file path")
    expanded = os.path.expandvars(value)
    if "$" in expanded:
        raise InputError(src, key, value, "names an environment variable that is not set")
    path = Path(expanded)
    return path if path.is_absolute() else base / path


def _sites(src: str, value: Any, base: Path) -> list[Site]:
    if isinstance(value, str):
        return read_sites_yaml(_path(src, "sites", value, base))
    return parse_sites(f"{src}: sites", value)


def _grid(src: str, value: Any, base: Path) -> tuple[GridSpec, ...]:
    if not isinstance(value, dict) or not value:
        raise InputError(src, "grid", value, "must map each region to its signal source")
    out = []
    for region, spec in value.items():
        where = f"grid.{region}"
        if not isinstance(spec, dict):
            raise InputError(src, where, spec, "must be a mapping with a source")
        unknown = sorted(set(spec) - _GRID_KEYS)
        if unknown:
            raise InputError(src, f"{where}.{unknown[0]}", spec[unknown[0]], "unknown field")
        source = spec.get("source")
        if source not in GRID_SOURCES:
            raise InputError(src, f"{where}.source", source,
                             f"must be one of {', '.join(GRID_SOURCES)}")
        paths: list[Path] = []
        if source in ("file", "electricitymaps-csv") and not {"path", "files"} & set(spec):
            raise InputError(src, f"{where}.path", None, f"required for source {source}")
        if "path" in spec:
            paths.append(_path(src, f"{where}.path", spec["path"], base))
        if "files" in spec:
            files = spec["files"]
            if not isinstance(files, list) or not files:
                raise InputError(src, f"{where}.files", files, "must be a non-empty list")
            paths += [_path(src, f"{where}.files", f, base) for f in files]
        if source == "jp-tso" and not paths:
            raise InputError(src, f"{where}.files", None, "required for source jp-tso")
        for p in paths:
            if not p.is_file():
                raise InputError(src, f"{where}.files", str(p), "no such file")
        area = spec.get("area", str(region).removeprefix("jp-"))
        out.append(GridSpec(region=str(region), source=source, area=str(area),
                            paths=tuple(paths),
                            seed=int(number(src, f"{where}.seed", spec.get("seed", 0), lo=0,
                                            integer=True))))
    return tuple(out)


def _forecast(src: str, value: Any) -> ForecastSpec:
    if not isinstance(value, dict):
        raise InputError(src, "forecast", value, "must be a mapping like {model: perfect}")
    unknown = sorted(set(value) - _FORECAST_KEYS)
    if unknown:
        raise InputError(src, f"forecast.{unknown[0]}", value[unknown[0]], "unknown field")
    model = value.get("model", "model")
    if model not in FORECAST_MODELS:
        raise InputError(src, "forecast.model", model,
                         f"must be one of {', '.join(FORECAST_MODELS)}")
    return ForecastSpec(
        model=model,
        error_at_24h=number(src, "forecast.error_at_24h", value.get("error_at_24h", 0.15),
                            lo=0.0, hi=5.0),
        history_days=int(number(src, "forecast.history_days", value.get("history_days", 365),
                                lo=7, hi=3660, integer=True)),
        known_hours=number(src, "forecast.known_hours", value.get("known_hours", 0.0), lo=0.0,
                           hi=8784.0),
    )


def _workload(src: str, value: Any, base: Path) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) != 1 or not {"jobs", "generator"} & set(value):
        raise InputError(src, "workload", value,
                         "must be {jobs: jobs.csv} or {generator: {...}}")
    if "jobs" in value:
        path = _path(src, "workload.jobs", value["jobs"], base)
        if not path.is_file():
            raise InputError(src, "workload.jobs", str(path), "no such file")
        return {"jobs": path}
    if not isinstance(value["generator"], dict):
        raise InputError(src, "workload.generator", value["generator"], "must be a mapping")
    return {"generator": value["generator"]}


def _policy(src: str, value: Any, base: Path) -> Policy:
    if not isinstance(value, str):
        raise InputError(src, "policy", value, "a built-in policy name or a policy file")
    candidate = base / value
    return load_policy(str(candidate) if candidate.is_file() else value)
