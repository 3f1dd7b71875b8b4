"""`Plan`: the result handed to users (CLI, plan.json, extender, simulator), and plan.json
written and read back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import numpy as np
import pandas as pd

from scheduler.core.greedy import SiteLoads
from scheduler.core.outcome import Outcome
from scheduler.core.problem import Problem
from scheduler.core.schedule import UNPLACED, Schedule


@dataclass(frozen=True)
class JobPlan:
    """Where and when one job runs; kWh and kg-CO2 are its share of its site's accounting."""

    id: str
    site: str | None
    """None when the job is not in this plan (deferred, or fits nowhere; kept for the next)."""
    segments: tuple[tuple[datetime, datetime], ...]
    late: bool
    """Finishes after its deadline, or is left out while due inside the horizon."""
    impossible: bool
    """Release + duration already ends after the deadline."""
    kwh: float
    """Facility kWh."""
    kg_co2: float
    deferred: bool = False
    """Left for a later plan: due after the horizon, and no window here beats waiting."""
    note: str = ""
    """Why a job is not placed, in words (empty when it is)."""
    site_costs: tuple[tuple[str, float | None], ...] = ()
    """Per allowed site: objective points of the job's best option there beside the other
    jobs of the plan (None where none fits) — to rank sites when the planned one is full."""
    baseline_kg_co2: float = float("nan")
    """kg-CO2 of the job in the plan's carbon-agnostic baseline (home site, earliest start);
    NaN when the baseline does not place it."""


@dataclass(frozen=True)
class SitePlan:
    """Per slot of one site: IT kW, facility kW (the grid draw: IT kW × PUE + battery charge −
    discharge), zero-carbon kWh, kg-CO2, and for a site with a battery its charge and
    discharge kW and state of charge (kWh at the end of the slot)."""

    id: str
    it_kw: np.ndarray
    facility_kw: np.ndarray
    zero_carbon_kwh: np.ndarray
    kg_co2: np.ndarray
    battery_charge_kw: np.ndarray | None = None
    battery_discharge_kw: np.ndarray | None = None
    battery_soc_kwh: np.ndarray | None = None
    """None for a site without a battery."""

    def battery_start_kwh(self, i: int, one_way_efficiency: float, slot_h: float
                          ) -> float | None:
        """State of charge at the start of slot i (None without a battery)."""
        if (self.battery_soc_kwh is None or self.battery_charge_kw is None
                or self.battery_discharge_kw is None):
            return None
        step = (one_way_efficiency * self.battery_charge_kw[i]
                - self.battery_discharge_kw[i] / one_way_efficiency) * slot_h
        return float(self.battery_soc_kwh[i] - step)


@dataclass(frozen=True)
class LimitShortfall:
    """A slot where a site's facility kW breaks a limit the planner could not meet: above a
    max (work that cannot move exceeds it) or below a min (not enough work to fill it)."""

    site: str
    start: datetime
    kind: str
    """`max` or `min`."""
    kw: float
    """Facility kW above the max or below the min (> 0)."""


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
    made_at: datetime
    """When the plan was made, UTC."""
    now: datetime | None = None
    """The planning time it starts from (None: the forecasts' start)."""
    forecast_issued_at: datetime | None = None
    forecast_stale: bool = False
    changed_jobs: int | None = None
    """Jobs given another site or start than in the previous plan (None without one)."""
    limit_shortfalls: tuple[LimitShortfall, ...] = ()

    @property
    def saving_kg_co2(self) -> float:
        return self.baseline_kg_co2 - self.kg_co2

    @cached_property
    def _by_id(self) -> dict[str, JobPlan]:
        return {jp.id: jp for jp in self.jobs}

    def job(self, job_id: str) -> JobPlan | None:
        """The plan entry of a job (None when the plan does not hold it); O(1)."""
        return self._by_id.get(job_id)

    def decisions(self) -> dict[str, tuple[str, datetime]]:
        """Job id → (site, start) of every placed job."""
        return {jp.id: (jp.site, jp.segments[0][0]) for jp in self.jobs
                if jp.site is not None and jp.segments}


def _note(p: Problem, j: int, placed: bool) -> str:
    if placed:
        return ""
    if p.unplaceable[j]:
        return "fits no allowed site's GPU count or power cap"
    if p.release_slot[j] >= p.n_slots:
        return "deferred: released after the horizon's end"
    if p.deferrable[j]:
        return "deferred: due after the horizon; no window in it beats waiting"
    return "no room before the horizon ends"


def _site_costs(p: Problem, sched: Schedule, loads: SiteLoads, j: int
                ) -> tuple[tuple[str, float | None], ...]:
    """Best option's points per allowed site for job j beside the others' loads."""
    s0 = int(sched.site[j])
    if s0 >= 0:
        loads.add(j, s0, sched.run[j], sign=-1.0)
    pts, ok = loads.options(j)
    if s0 >= 0:
        loads.add(j, s0, sched.run[j])
    out = []
    for s in np.flatnonzero(p.allowed[j]):
        best = np.where(ok[s], pts[s], np.inf).min(initial=np.inf)
        out.append((p.sites[s].id, float(best) if np.isfinite(best) else None))
    return tuple(out)


def _job_energy(p: Problem, out: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """(J,) facility kWh and kg-CO2 of each job in an outcome, its kWh at its site's rate
    per slot (0 kWh and NaN kg for a job it does not place)."""
    sched = out.schedule
    placed = sched.site != UNPLACED
    s = np.where(placed, sched.site, 0)
    kwh = p.it_kw[:, None] * p.pue[s] * p.slot_h * sched.run * placed[:, None]
    kg = (kwh * _kg_per_kwh(p, out)[s]).sum(axis=1)
    return kwh.sum(axis=1), np.where(placed, kg, np.nan)


def _kg_per_kwh(p: Problem, out: Outcome) -> np.ndarray:
    """(S, T) kg-CO2 per facility kWh of the jobs at each site and slot."""
    ev = out.evaluation
    with np.errstate(invalid="ignore", divide="ignore"):
        kg_per_kwh = np.where(ev.facility_kwh > 0, ev.kg_co2 / ev.facility_kwh, 0.0)
        # a battery moves energy between slots: its site's jobs share the site's kg-CO2
        # pro rata of their kWh over the horizon
        jobs_kwh = (ev.it_kw * p.pue * p.slot_h).sum(axis=1)
        site_rate = np.where(jobs_kwh > 0, ev.kg_co2.sum(axis=1) / jobs_kwh, 0.0)
    return np.where(p.has_battery[:, None], site_rate[:, None], kg_per_kwh)


def _job_plans(p: Problem, out: Outcome, baseline: Outcome) -> tuple[JobPlan, ...]:
    sched = out.schedule
    (kwh, kg), (_, base_kg) = _job_energy(p, out), _job_energy(p, baseline)
    starts = p.slot_starts.to_pydatetime()
    ends = (p.slot_starts + pd.Timedelta(hours=p.slot_h)).to_pydatetime()
    loads = SiteLoads(p, sched)
    plans = []
    for j, job in enumerate(p.jobs):
        s = int(sched.site[j])
        costs = _site_costs(p, sched, loads, j)
        if s == UNPLACED:
            plans.append(JobPlan(job.id, None, (), bool(out.evaluation.late[j]),
                                 bool(p.impossible[j]), 0.0, 0.0,
                                 deferred=bool(p.deferrable[j]), note=_note(p, j, False),
                                 site_costs=costs, baseline_kg_co2=float(base_kg[j])))
            continue
        segs = tuple((starts[a], ends[b - 1]) for a, b in sched.segments(j))
        plans.append(JobPlan(job.id, p.sites[s].id, segs, bool(out.evaluation.late[j]),
                             bool(p.impossible[j]), float(kwh[j]), float(kg[j]),
                             site_costs=costs, baseline_kg_co2=float(base_kg[j])))
    return tuple(plans)


def _shortfalls(p: Problem, facility_kw: np.ndarray) -> tuple[LimitShortfall, ...]:
    over = facility_kw - p.facility_cap_kw
    under = p.min_facility_kwh / p.slot_h - facility_kw
    out = []
    for kind, excess in (("max", over), ("min", under)):
        for s, t in zip(*np.nonzero(excess > 1e-6), strict=True):
            out.append(LimitShortfall(p.sites[s].id, p.slot_starts[t].to_pydatetime(), kind,
                                      round(float(excess[s, t]), 6)))
    return tuple(sorted(out, key=lambda x: (x.start, x.site, x.kind)))


def changed_jobs(plan_jobs: tuple[JobPlan, ...], previous: Plan) -> int:
    """Jobs of both plans whose site or start differs (plan churn)."""
    before = previous.decisions()
    return sum(1 for jp in plan_jobs if jp.id in before and (
        jp.site is None or (jp.site, jp.segments[0][0]) != before[jp.id]))


def make_plan(p: Problem, out: Outcome, baseline: Outcome, previous: Plan | None = None,
              made_at: datetime | None = None) -> Plan:
    """Turn a method's outcome (and the baseline's) into a `Plan`."""
    ev = out.evaluation
    facility_kw = ev.it_kw * p.pue
    if ev.charge_kw is not None and ev.discharge_kw is not None:
        facility_kw = facility_kw + ev.charge_kw - ev.discharge_kw

    def battery(arr: np.ndarray | None, i: int) -> np.ndarray | None:
        return arr[i] if arr is not None and p.has_battery[i] else None

    sites = tuple(SitePlan(s.id, ev.it_kw[i], facility_kw[i], ev.zero_carbon_kwh[i],
                           ev.kg_co2[i], battery(ev.charge_kw, i), battery(ev.discharge_kw, i),
                           battery(ev.soc_kwh, i)) for i, s in enumerate(p.sites))
    jobs = _job_plans(p, out, baseline)
    return Plan(
        slot_starts=p.slot_starts, slot_h=p.slot_h, jobs=jobs, sites=sites,
        kwh=float(ev.facility_kwh.sum()), kg_co2=ev.total_kg_co2,
        baseline_kwh=float(baseline.evaluation.facility_kwh.sum()),
        baseline_kg_co2=baseline.evaluation.total_kg_co2,
        curtailment_absorbed_kwh=float(ev.zero_carbon_kwh.sum()), objective=out.objective,
        bound=out.bound, gap=out.gap, method=out.method, status=out.status.value,
        build_seconds=out.build_seconds, solve_seconds=out.solve_seconds,
        made_at=made_at or datetime.now(UTC),
        now=None if p.now is None else p.now.to_pydatetime(),
        forecast_issued_at=None if p.forecast_issued_at is None
        else p.forecast_issued_at.to_pydatetime(),
        forecast_stale=p.forecast_stale,
        changed_jobs=None if previous is None else changed_jobs(jobs, previous),
        limit_shortfalls=_shortfalls(p, facility_kw),
    )


def schedule_on(p: Problem, plan: Plan) -> Schedule:
    """A plan's decisions laid on problem `p`'s slot grid (jobs `p` knows; the parts of
    their runs inside the horizon) — the previous plan as a starting point of a re-plan."""
    sched = Schedule.empty(p)
    ids = {s.id: i for i, s in enumerate(p.sites)}
    by_id = {jp.id: jp for jp in plan.jobs}
    pieces = [(j, ids[jp.site], a, b) for j, jp in enumerate(by_id.get(job.id) for job in p.jobs)
              if jp is not None and jp.site in ids for a, b in jp.segments]
    if not pieces:
        return sched
    js, sites, starts, ends = zip(*pieces, strict=True)
    # each piece covers the slots lying wholly inside it: [first, last)
    first = p.slot_starts.searchsorted(pd.to_datetime(starts, utc=True))
    last = (p.slot_starts + pd.Timedelta(hours=p.slot_h)).searchsorted(
        pd.to_datetime(ends, utc=True), side="right")
    run = np.zeros((len(p.jobs), p.n_slots), dtype=bool)
    for j, a, b in zip(js, first, last, strict=True):
        run[j, a:b] = True
    for j, s in dict(zip(js, sites, strict=True)).items():
        if run[j].any():
            sched.place(j, s, run[j])
    return sched
