"""`Policy`: objective weights and planning options, loaded from built-ins or YAML."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from inputs.errors import InputError
from inputs.yaml_file import load_yaml, number

BUILTIN_DIR = Path(__file__).parent / "builtin"


class CarbonSignal(StrEnum):
    """Which carbon intensity the objective uses (reports always use the average)."""

    AVERAGE = "average"
    MARGINAL = "marginal"


@dataclass(frozen=True)
class Policy:
    """Objective weights (in objective points) and planning options.

    Objective = carbon_weight_per_kg × kg-CO2 + cost_weight_per_jpy × JPY
    − curtailment_reward_per_kwh × curtailed kWh absorbed + lateness_penalty_per_h × job-hours late
    + min_limit_penalty_per_kwh × kWh short of minimum limits.
    """

    name: str = "min-carbon"
    description: str = ""
    carbon_weight_per_kg: float = 1.0
    cost_weight_per_jpy: float = 0.0
    curtailment_reward_per_kwh: float = 0.0
    lateness_penalty_per_h: float = 10_000.0
    """Points per job-hour finished after the deadline; must dominate the other terms."""
    restart_overhead_h: float = 0.25
    """Extra run time per resume of a checkpointable job, hours."""
    min_limit_penalty_per_kwh: float = 10.0
    """Points per facility kWh below a `min_facility_kw` limit (an up-DR commitment)."""
    carbon_signal: CarbonSignal = CarbonSignal.AVERAGE
    risk_quantile: float | None = None
    """How the planner reads forecasts with quantiles. None (the default; YAML `mean`): at
    their expected value (risk-neutral; `forecasts.forecast.expected_value`). A quantile —
    one of 0.1, 0.5, 0.9: carbon intensity at it and curtailment at 1 − it (0.9: plan on a
    dirtier grid and less curtailment than expected; 0.5: the median, the point forecast).
    Forecasts without quantiles are read at their point values."""


RISK_QUANTILES = (0.1, 0.5, 0.9)

NUMERIC = ("carbon_weight_per_kg", "cost_weight_per_jpy", "curtailment_reward_per_kwh",
           "lateness_penalty_per_h", "restart_overhead_h", "min_limit_penalty_per_kwh")


def builtin_policies() -> list[str]:
    """Names of the built-in policies."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def parse_policy(src: str, doc: Any) -> Policy:
    """A policy mapping (as in a policy YAML file) → `Policy`; errors name field and value."""
    if not isinstance(doc, dict):
        raise InputError(src, "policy", doc, "must be a mapping")
    known = {f.name for f in fields(Policy)}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise InputError(src, unknown[0], doc[unknown[0]], f"unknown field (known: "
                         f"{', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for key in NUMERIC:
        if key in doc:
            values[key] = number(src, key, doc[key], lo=0.0)
    if "carbon_signal" in doc:
        try:
            values["carbon_signal"] = CarbonSignal(doc["carbon_signal"])
        except ValueError:
            raise InputError(src, "carbon_signal", doc["carbon_signal"],
                             "must be average or marginal") from None
    q = doc.get("risk_quantile", "mean")
    if q != "mean":
        if isinstance(q, bool) or not isinstance(q, int | float) or q not in RISK_QUANTILES:
            raise InputError(src, "risk_quantile", q,
                             f"must be mean or one of {', '.join(map(str, RISK_QUANTILES))} "
                             "(the forecasts' p10, p50, p90)")
        values["risk_quantile"] = float(q)
    for key in ("name", "description"):
        if key in doc:
            values[key] = str(doc[key])
    return Policy(**values)


def load_policy(name_or_path: str) -> Policy:
    """A built-in policy by name (`min-carbon`, …) or a policy YAML file by path."""
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if builtin.is_file():
        return parse_policy(str(builtin), load_yaml(builtin))
    path = Path(name_or_path)
    if not path.is_file():
        raise InputError("--policy", "policy", name_or_path,
                         f"neither a built-in ({', '.join(builtin_policies())}) nor a file")
    doc = load_yaml(path)
    if isinstance(doc, dict) and "name" not in doc:
        doc = {**doc, "name": path.stem}
    return parse_policy(str(path), doc)
