"""`Plan`: the result handed to users (CLI, plan.json, extender, simulator)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from scheduler.core.problem import Problem
from scheduler.core.schedule import UNPLACED
from scheduler.core.solve import Outcome


@dataclass(frozen=True)
class JobPlan:
    """Where and when one job runs; kWh and kg-CO2 are its share of its site's accounting."""

    id: str
    site: str | None
    """None when the job fits nowhere in the horizon (reported, kept for the next plan)."""
    segments: tuple[tuple[datetime, datetime], ...]
    late: bool
    """Finishes after its deadline, or is unplaced."""
    impossible: bool
    """Release + duration already ends after the deadline."""
    kwh: float
    """Facility kWh."""
    kg_co2: float


@dataclass(frozen=True)
class SitePlan:
    """Per slot of one site: IT kW, facility kW, zero-carbon kWh, kg-CO2."""

    id: str
    it_kw: np.ndarray
    facility_kw: np.ndarray
    zero_carbon_kwh: np.ndarray
    kg_co2: np.ndarray


@dataclass(frozen=True)
class Plan:
    """A plan with its accounting and the honest quality figures of the method."""

    slot_starts: pd.DatetimeIndex
    slot_h: float
    jobs: tuple[JobPlan, ...]
    sites: tuple[SitePlan, ...]
    kwh: float
    kg_co2: float
    baseline_kwh: float
    baseline_kg_co2: float
    """kg-CO2 of the carbon-agnostic baseline (asap: home site, earliest start)."""
    curtailment_absorbed_kwh: float
    objective: float
    bound: float
    gap: float
    method: str
    status: str
    build_seconds: float
    solve_seconds: float

    @property
    def saving_kg_co2(self) -> float:
        return self.baseline_kg_co2 - self.kg_co2


def _job_plans(p: Problem, out: Outcome) -> tuple[JobPlan, ...]:
    ev, sched = out.evaluation, out.schedule
    with np.errstate(invalid="ignore", divide="ignore"):
        kg_per_kwh = np.where(ev.facility_kwh > 0, ev.kg_co2 / ev.facility_kwh, 0.0)
    slot = pd.Timedelta(hours=p.slot_h)
    plans = []
    for j, job in enumerate(p.jobs):
        s = int(sched.site[j])
        if s == UNPLACED:
            plans.append(JobPlan(job.id, None, (), True, bool(p.impossible[j]), 0.0, 0.0))
            continue
        run = sched.run[j]
        kwh = p.it_kw[j] * p.pue[s] * p.slot_h * run
        segs = tuple((p.slot_starts[a].to_pydatetime(), (p.slot_starts[b - 1] + slot)
                      .to_pydatetime()) for a, b in sched.segments(j))
        plans.append(JobPlan(job.id, p.sites[s].id, segs, bool(ev.late[j]),
                             bool(p.impossible[j]), float(kwh.sum()),
                             float((kwh * kg_per_kwh[s]).sum())))
    return tuple(plans)


def make_plan(p: Problem, out: Outcome, baseline: Outcome) -> Plan:
    """Turn a method's outcome (and the baseline's) into a `Plan`."""
    ev = out.evaluation
    sites = tuple(SitePlan(s.id, ev.it_kw[i], ev.it_kw[i] * p.pue[i], ev.zero_carbon_kwh[i],
                           ev.kg_co2[i]) for i, s in enumerate(p.sites))
    return Plan(
        slot_starts=p.slot_starts, slot_h=p.slot_h, jobs=_job_plans(p, out), sites=sites,
        kwh=float(ev.facility_kwh.sum()), kg_co2=ev.total_kg_co2,
        baseline_kwh=float(baseline.evaluation.facility_kwh.sum()),
        baseline_kg_co2=baseline.evaluation.total_kg_co2,
        curtailment_absorbed_kwh=float(ev.zero_carbon_kwh.sum()), objective=out.objective,
        bound=out.bound, gap=out.gap, method=out.method, status=out.status.value,
        build_seconds=out.build_seconds, solve_seconds=out.solve_seconds,
    )


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan.json document (times ISO 8601 with offset; null where no bound exists)."""
    return {
        "jobs": [{
            "id": jp.id, "site": jp.site,
            "segments": [{"start": a.isoformat(), "end": b.isoformat()} for a, b in jp.segments],
            "late": jp.late, "impossible": jp.impossible,
            "kwh": round(jp.kwh, 6), "kg_co2": round(jp.kg_co2, 6),
        } for jp in plan.jobs],
        "sites": [{
            "id": sp.id,
            "slots": [{"start": t.isoformat(), "it_kw": round(float(it), 6),
                       "facility_kw": round(float(fac), 6),
                       "zero_carbon_kwh": round(float(z), 6), "kg_co2": round(float(kg), 6)}
                      for t, it, fac, z, kg in zip(plan.slot_starts, sp.it_kw, sp.facility_kw,
                                                   sp.zero_carbon_kwh, sp.kg_co2, strict=True)],
        } for sp in plan.sites],
        "summary": {
            "kwh": round(plan.kwh, 6), "kg_co2": round(plan.kg_co2, 6),
            "baseline_kwh": round(plan.baseline_kwh, 6),
            "baseline_kg_co2": round(plan.baseline_kg_co2, 6),
            "curtailment_absorbed_kwh": round(plan.curtailment_absorbed_kwh, 6),
            "objective": plan.objective, "bound": _finite(plan.bound),
            "gap": _finite(plan.gap), "method": plan.method, "status": plan.status,
            "build_seconds": round(plan.build_seconds, 4),
            "solve_seconds": round(plan.solve_seconds, 4),
        },
    }
