"""The discrete-time simulation: each policy re-plans from the moving state with the
forecasts of the moment, and what it runs is accounted on the actual signals.

Every `replan_minutes` the policy's `Planner` (the one re-planner of the core) sees the
jobs that have arrived — those released before the next re-plan, as a cluster that
re-plans on each arrival would (a job still cannot start before its release) — each with
its work done and where it runs, and the forecasts issued now. The plan is carried out
until the next re-plan (`run_plan`) and the IT load it puts on each site is recorded.
The accounting runs until every deadline has passed (or the signals end), so all policies
do the same work: a job not finished by its deadline is a deadline miss, one unfinished
when the signals end shows its `done_h`, and none is ever dropped. `oracle` plans once,
on the actual signals, knowing every job from the start: the limit no forecast-driven
policy can beat.

Policies:
* `asap` — carbon-agnostic: home site, start as soon as possible (`Method.ASAP`).
* `lwa` — temporal shifting only (Let's-Wait-Awhile): the MILP with each job held to its
  home site.
* `greedy` — the core's space × time greedy.
* `milp` — the core's MILP, rolling horizon on forecasts.
* `oracle` — the MILP on the whole period with actual signals and every arrival known.
All but `oracle` plan in the work-limited (deterministic) mode: the same scenario and seed
give the same results on any machine.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from forecasts.forecast import Forecast
from policies.job import Job, Latency
from policies.jobs_file import read_jobs_csv
from policies.site import Site
from scheduler.core.plan import Plan
from scheduler.core.planner import PlanConfig, Planner
from scheduler.core.problem import Problem, build_problem
from scheduler.core.schedule import account
from scheduler.core.solve import Method
from simulations.execute import run_plan
from simulations.forecasters import Forecaster, make_forecaster
from simulations.results import (
    JOB_COLUMNS,
    SITE_COLUMNS,
    SLOT_COLUMNS,
    SUMMARY_COLUMNS,
    SimulationResult,
)
from simulations.scenario import Scenario
from simulations.signals import RegionSignals, for_planner, load_signals, window
from simulations.workload import generate_jobs, parse_generator

Progress = Callable[[str, int, int], None]
"""(policy, step, steps) after each re-plan."""


@dataclass
class Run:
    """What one policy did: the IT load it put on each site and slot, and each job's
    pieces (site index, first slot, end slot) on the accounting grid."""

    policy: str
    it_kw: np.ndarray
    charge_kw: np.ndarray | None = None
    """(S, T) battery charge kW carried out (facility side; None until a plan charges)."""
    discharge_kw: np.ndarray | None = None
    pieces: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    done_h: dict[str, float] = field(default_factory=dict)
    planner_s: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class World:
    """The scenario's fixed facts: sites, jobs, signals and the accounting grid."""

    sites: tuple[Site, ...]
    jobs: tuple[Job, ...]
    signals: dict[str, RegionSignals]
    accounting: Problem
    """Empty problem on the actual signals over [start, end of accounting): `account`
    reads its PUE, carbon and curtailment."""

    @property
    def slots(self) -> pd.DatetimeIndex:
        return self.accounting.slot_starts

    @property
    def until(self) -> pd.Timestamp:
        return self.slots[-1] + pd.Timedelta(hours=self.accounting.slot_h)


def load_jobs(sc: Scenario) -> list[Job]:
    """The scenario's workload: its jobs file, or the generator's jobs; only jobs released
    in [start, end) take part."""
    if "jobs" in sc.workload:
        jobs = read_jobs_csv(sc.workload["jobs"])
    else:
        cfg = parse_generator(sc.source, sc.workload["generator"])
        jobs = generate_jobs(cfg, sc.start.to_pydatetime(), sc.end.to_pydatetime(), sc.seed)
    return [j for j in jobs if sc.start <= pd.Timestamp(j.release) < sc.end]


def build_world(sc: Scenario) -> World:
    """Signals, jobs and the accounting grid of a scenario: from `start` until every job's
    deadline has passed (at least `horizon_hours` after `end`), or the signals end."""
    jobs = load_jobs(sc)
    need = max([sc.end + pd.Timedelta(hours=sc.horizon_hours)]
               + [pd.Timestamp(j.deadline) for j in jobs])
    signals = load_signals(sc, need)
    until = min(min(s.actual.end for s in signals.values()), need)
    actual = actuals(signals, sc.start, until)
    accounting = build_problem(sc.sites, [], actual, sc.policy, now=sc.start.to_pydatetime())
    return World(tuple(sc.sites), tuple(jobs), signals, accounting)


def actuals(signals: dict[str, RegionSignals], first: pd.Timestamp, until: pd.Timestamp
            ) -> dict[str, Forecast]:
    """The actual signals over [first, until), as the planner reads them."""
    return {r: for_planner(window(s.actual, first, until)) for r, s in signals.items()}


def home_only(jobs: Sequence[Job], sites: Sequence[Site]) -> list[Job]:
    """Jobs held to their home site (temporal shifting only)."""
    default = next((s.id for s in sites if s.home), sites[0].id)
    return [replace(j, allowed_sites=(j.home_site or default,)) for j in jobs]


def rolling(sc: Scenario, world: World, name: str, forecaster: Forecaster,
            progress: Progress | None = None) -> Run:
    """Re-plan every `replan_minutes` with the forecasts of the moment and carry each plan
    out until the next re-plan."""
    method = {"asap": Method.ASAP, "greedy": Method.GREEDY}.get(name, Method.MILP)
    jobs = home_only(world.jobs, world.sites) if name == "lwa" else list(world.jobs)
    now = sc.start
    planner = Planner(world.sites, sc.policy,
                      PlanConfig(method=method, deterministic=True),
                      clock=lambda: now.to_pydatetime())
    run = Run(name, np.zeros((len(world.sites), len(world.slots))))
    step = pd.Timedelta(minutes=sc.replan_minutes)
    arrivals = sorted(jobs, key=lambda j: (pd.Timestamp(j.release), j.id))
    active: list[Job] = []
    steps = int(np.ceil((world.until - sc.start) / step))
    for k in range(steps):
        now = sc.start + k * step
        while arrivals and pd.Timestamp(arrivals[0].release) < now + step:
            active.append(arrivals.pop(0))
        if not active:
            if not arrivals:
                break
            continue
        t0 = time.perf_counter()
        plan = planner.replan(now.to_pydatetime(), active,
                              forecaster.issue(now, min(world.until, now + pd.Timedelta(
                                  hours=sc.horizon_hours))))
        run.planner_s += time.perf_counter() - t0
        hours = min(step, world.until - now) / pd.Timedelta(hours=1)
        record(world, run, plan, now, now + step)
        before = {j.id: j for j in active}
        active = run_plan(plan, active, now, hours, sc.policy.restart_overhead_h)
        left = {j.id for j in active}
        for jid, job in before.items():
            if jid not in left:
                run.done_h[jid] = job.duration_h
        if progress:
            progress(name, k + 1, steps)
    for job in active:
        run.done_h[job.id] = job.done_h
    for job in arrivals:
        run.done_h[job.id] = 0.0
    return run


def oracle(sc: Scenario, world: World) -> Run:
    """One MILP over the whole period on the actual signals, every job known in advance.
    It is no proven limit: the model runs each job on one site (a re-planner may migrate a
    checkpointable job between re-plans), and on long periods it stops at its budget or at
    its heuristics' end — its note gives its method and gap."""
    t0 = time.perf_counter()
    planner = Planner(world.sites, sc.policy,
                      PlanConfig(time_limit_s=sc.oracle_time_limit_s),
                      clock=lambda: sc.start.to_pydatetime())
    plan = planner.replan(sc.start.to_pydatetime(), list(world.jobs),
                          actuals(world.signals, sc.start, world.until))
    run = Run("oracle", np.zeros((len(world.sites), len(world.slots))),
              planner_s=time.perf_counter() - t0,
              note=f"oracle: the whole-period MILP, {plan.method}, {plan.status}, "
                   f"{plan.gap:.1%} from its bound")
    record(world, run, plan, sc.start, world.until)
    for job in world.jobs:
        done = sum((b - a) for _, a, b in run.pieces.get(job.id, ())) * world.accounting.slot_h
        overhead = sc.policy.restart_overhead_h * max(0, len(run.pieces.get(job.id, ())) - 1)
        run.done_h[job.id] = min(job.duration_h, max(0.0, done - overhead))
    return run


def record(world: World, run: Run, plan: Plan, first: pd.Timestamp, until: pd.Timestamp
           ) -> None:
    """Add what `plan` runs in [first, until) to the run: IT kW per site and slot, the
    batteries' charge and discharge, and each job's pieces (adjacent pieces on one site
    merge)."""
    site_index = {s.id: i for i, s in enumerate(world.sites)}
    kw = {j.id: j.it_kw for j in world.jobs}
    slot = pd.Timedelta(hours=world.accounting.slot_h)
    t0 = world.slots[0]
    _record_batteries(world, run, plan, first, until)
    for jp in plan.jobs:
        if jp.site is None:
            continue
        s = site_index[jp.site]
        for a, b in jp.segments:
            lo, hi = max(pd.Timestamp(a), first), min(pd.Timestamp(b), until)
            if hi <= lo:
                continue
            ka, kb = int((lo - t0) / slot), int(np.ceil((hi - t0) / slot))
            run.it_kw[s, ka:kb] += kw[jp.id]
            pieces = run.pieces.setdefault(jp.id, [])
            if pieces and pieces[-1][0] == s and pieces[-1][2] == ka:
                pieces[-1] = (s, pieces[-1][1], kb)
            else:
                pieces.append((s, ka, kb))


def _record_batteries(world: World, run: Run, plan: Plan, first: pd.Timestamp,
                      until: pd.Timestamp) -> None:
    """The plan's battery charge and discharge in [first, until), on the accounting grid."""
    site_index = {s.id: i for i, s in enumerate(world.sites)}
    inside = (plan.slot_starts >= first) & (plan.slot_starts < until)
    at = world.slots.get_indexer(plan.slot_starts[inside])
    for sp in plan.sites:
        if sp.battery_charge_kw is None or sp.battery_discharge_kw is None:
            continue
        if run.charge_kw is None or run.discharge_kw is None:
            run.charge_kw, run.discharge_kw = np.zeros_like(run.it_kw), np.zeros_like(run.it_kw)
        i, ok = site_index[sp.id], at >= 0
        run.charge_kw[i, at[ok]] = sp.battery_charge_kw[inside][ok]
        run.discharge_kw[i, at[ok]] = sp.battery_discharge_kw[inside][ok]


def simulate(sc: Scenario, progress: Progress | None = None, workers: int = 1
             ) -> SimulationResult:
    """Run every policy of the scenario and tabulate the results. The forecast models train
    in `workers` processes; the oracle (whose budget is wall-clock time) runs alone first;
    the rolling policies plan with work limits, so they may run in `workers` processes at
    once with the same results."""
    timings = {"signals": 0.0, "forecasting": 0.0, "planning": 0.0, "accounting": 0.0}
    t0 = time.perf_counter()
    world = build_world(sc)
    timings["signals"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    forecaster = make_forecaster(sc.forecast.model, world.signals, sc.start, sc.seed,
                                 sc.forecast.error_at_24h, sc.horizon_hours, workers,
                                 sc.forecast.known_hours)
    timings["forecasting"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    runs = {"oracle": oracle(sc, world)} if "oracle" in sc.policies else {}
    runs.update(rolling_runs(sc, world, [n for n in sc.policies if n != "oracle"],
                             forecaster, progress, workers))
    timings["planning"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ordered = [runs[name] for name in sc.policies]
    result = tabulate(sc, world, ordered)
    result.scenario["notes"] = [*forecaster.notes, *(r.note for r in ordered if r.note)]
    timings["accounting"] = time.perf_counter() - t0
    result.timings_s.update(timings)
    return result


def rolling_runs(sc: Scenario, world: World, names: Sequence[str], forecaster: Forecaster,
                 progress: Progress | None = None, workers: int = 1) -> dict[str, Run]:
    """`rolling` for each policy of `names`; with `workers` > 1 in as many processes (fresh
    ones: the parent's thread pools do not survive a fork), reporting progress back."""
    if workers <= 1 or len(names) <= 1:
        return {name: rolling(sc, world, name, forecaster, progress) for name in names}
    ctx = multiprocessing.get_context("spawn")
    steps: multiprocessing.Queue[tuple[str, int, int]] = ctx.Queue()
    with ProcessPoolExecutor(min(workers, len(names)), mp_context=ctx,
                             initializer=_report_to, initargs=(steps,)) as pool:
        futures = {name: pool.submit(_rolling_here, sc, world, name, forecaster)
                   for name in names}
        pending = set(futures.values())
        while pending:
            _, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            _report(steps, progress)
        _report(steps, progress)
        return {name: future.result() for name, future in futures.items()}


_steps: multiprocessing.Queue[tuple[str, int, int]] | None = None
"""In a worker of `rolling_runs`: where its progress goes."""


def _report_to(steps: multiprocessing.Queue[tuple[str, int, int]]) -> None:
    global _steps
    _steps = steps


def _rolling_here(sc: Scenario, world: World, name: str, forecaster: Forecaster) -> Run:
    """`rolling` in a worker process of `rolling_runs`."""
    steps = _steps
    return rolling(sc, world, name, forecaster,
                   None if steps is None else lambda *step: steps.put(step))


def _report(steps: multiprocessing.Queue[tuple[str, int, int]],
            progress: Progress | None) -> None:
    """Hand the workers' progress so far to `progress`."""
    while True:
        try:
            step = steps.get(timeout=0.05)
        except queue.Empty:
            return
        if progress:
            progress(*step)


def tabulate(sc: Scenario, world: World, runs: Sequence[Run]) -> SimulationResult:
    """Per-slot, per-job, per-site and summary tables of the runs, accounted on actuals."""
    p = world.accounting
    cert = np.array([s.certificate_share for s in world.sites])[:, None]
    price = np.stack([_signal(world, s.region, "price_jpy_per_kwh") for s in world.sites])
    carbon = np.stack([_signal(world, s.region, "carbon_gco2_per_kwh") for s in world.sites])
    curtail = np.stack([_signal(world, s.region, "curtailment_mw") for s in world.sites])
    slots, jobs, sites, summary = [], [], [], []
    for run in runs:
        net = (None if run.charge_kw is None or run.discharge_kw is None
               else run.charge_kw - run.discharge_kw)
        facility, zero, kg = account(p, run.it_kw, net)
        market = kg * (1.0 - cert)
        cost = facility * price
        for i, site in enumerate(world.sites):
            slots.append(pd.DataFrame({
                "policy": run.policy, "slot_start": world.slots, "site": site.id,
                "region": site.region, "it_kw": run.it_kw[i],
                "facility_kw": facility[i] / p.slot_h, "facility_kwh": facility[i],
                "zero_carbon_kwh": zero[i], "kg_co2_location": kg[i],
                "kg_co2_market": market[i], "cost_jpy": cost[i],
                "carbon_gco2_per_kwh": carbon[i], "curtailment_mw": curtail[i],
                "pue": p.pue[i]}))
            sites.append(_site_row(run.policy, site, run.it_kw[i] * p.slot_h, facility[i],
                                   zero[i], p.pue[i], p.slot_h))
        table = _job_rows(sc, world, run)
        jobs.append(table)
        delays = table["delay_h"].dropna().to_numpy()
        summary.append({
            "policy": run.policy, "kg_co2_location": float(kg.sum()),
            "kg_co2_market": float(market.sum()),
            "curtailment_absorbed_mwh": float(zero.sum()) / 1000.0,
            "cost_jpy": float(cost.sum()), "deadline_misses": int(table["late"].sum()),
            "mean_delay_h": float(delays.mean()) if len(delays) else np.nan,
            "p95_delay_h": float(np.percentile(delays, 95)) if len(delays) else np.nan,
            "planner_seconds": run.planner_s, "share_of_oracle_saving": np.nan})
    frame = pd.DataFrame(summary, columns=list(SUMMARY_COLUMNS))
    by = frame.set_index("policy")["kg_co2_location"]
    if {"asap", "oracle"} <= set(by.index) and by["asap"] - by["oracle"] > 1e-9:
        frame["share_of_oracle_saving"] = ((by["asap"] - frame["kg_co2_location"])
                                           / (by["asap"] - by["oracle"])).to_numpy()
    return SimulationResult(
        scenario=scenario_as_run(sc, world),
        summary=frame,
        slots=pd.concat(slots, ignore_index=True)[list(SLOT_COLUMNS)],
        jobs=pd.concat(jobs, ignore_index=True)[list(JOB_COLUMNS)],
        sites=pd.DataFrame(sites, columns=list(SITE_COLUMNS)),
    )


def _signal(world: World, region: str, name: str) -> np.ndarray:
    """An actual signal on the accounting grid (NaN where the source does not give it)."""
    fc = world.signals[region].actual
    values = getattr(fc, name)
    if values is None:
        return np.full(len(world.slots), np.nan)
    return pd.Series(values, index=fc.slot_starts).reindex(world.slots).to_numpy(dtype=float)


def _site_row(policy: str, site: Site, it_kwh: np.ndarray, facility: np.ndarray,
              zero: np.ndarray, pue: np.ndarray, slot_h: float) -> dict[str, object]:
    it, fac = float(it_kwh.sum()), float(facility.sum())
    green = float(zero.sum()) + site.certificate_share * (fac - float(zero.sum()))
    rated_it_kwh = site.power_cap_kw / site.pue.base * slot_h * len(pue)
    return {"policy": policy, "site": site.id, "pue": fac / it if it > 0 else np.nan,
            "gec": green / fac if fac > 0 else np.nan, "iteu": it / rated_it_kwh,
            "facility_mwh": fac / 1000.0, "it_mwh": it / 1000.0}


def _job_rows(sc: Scenario, world: World, run: Run) -> pd.DataFrame:
    slot = pd.Timedelta(hours=world.accounting.slot_h)
    t0 = world.slots[0]
    rows = []
    for job in world.jobs:
        pieces = run.pieces.get(job.id, [])
        start = t0 + pieces[0][1] * slot if pieces else pd.NaT
        end = t0 + pieces[-1][2] * slot if pieces else pd.NaT
        done = run.done_h.get(job.id, 0.0)
        finished = done >= job.duration_h - 1e-9
        due = pd.Timestamp(job.deadline) <= world.until
        sites = [world.sites[s].id for s, _, _ in pieces]
        rows.append({
            "policy": run.policy, "job_id": job.id,
            "sites": "|".join(dict.fromkeys(sites)) if pieces else "",
            "release": pd.Timestamp(job.release), "deadline": pd.Timestamp(job.deadline),
            "start": start, "end": end,
            "delay_h": (start - pd.Timestamp(job.release)) / pd.Timedelta(hours=1)
            if pieces else np.nan,
            "late": bool((due and not finished) or (finished and end > pd.Timestamp(
                job.deadline))),
            "done_h": done, "pieces": len(pieces),
            "migrations": sum(a[0] != b[0] for a, b in itertools.pairwise(pieces))})
    return pd.DataFrame(rows, columns=list(JOB_COLUMNS))


def scenario_as_run(sc: Scenario, world: World) -> dict[str, object]:
    """The scenario document as run (plain values), with what the run derived from it."""
    doc = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in sc.raw.items()}
    doc["jobs_simulated"] = len(world.jobs)
    doc["accounted_until"] = world.until.isoformat()
    doc["slot_minutes"] = round(world.accounting.slot_h * 60)
    doc["critical_jobs"] = sum(j.latency is Latency.CRITICAL for j in world.jobs)
    return doc
