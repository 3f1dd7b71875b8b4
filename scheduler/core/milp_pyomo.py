"""The readable reference builder: the same MILP as `milp_fast`, one variable per job.

It does not group identical jobs, so a test can check that the fast builder's classes
change nothing. `build_pyomo` is a flat sequence of `add_<rule>` steps; component names
follow `{entity}-{rule}` in their docstrings.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np
import pyomo.environ as pyo

from scheduler.core.battery import clean_kw
from scheduler.core.greedy import greedy
from scheduler.core.outcome import Outcome
from scheduler.core.problem import NOT_FIXED, OVER_CAP_PENALTY_PER_KWH, Problem
from scheduler.core.schedule import Schedule, evaluate
from scheduler.core.solver import SolveStatus, run_pyomo


def _start_options(p: Problem, j: int) -> list[tuple[int, int]]:
    """(site, start) options of a job that runs in one piece: its fixed decision, continuing
    where it runs, or every allowed site and start from its release."""
    T, d = p.n_slots, int(p.dur_slots[j])
    if p.bound_site[j] != NOT_FIXED:
        k = int(p.bound_start[j])
        return [(int(p.bound_site[j]), k)] if k + d <= T else []
    return [(s, k) for s in np.flatnonzero(p.allowed[j])
            for k in range(int(p.release_slot[j]), T - d + 1)]


def add_variables(m: pyo.ConcreteModel, p: Problem) -> None:
    """x job-start, z/r/y/h checkpointable site/run/resume/late slots, u job-unplaced,
    L site IT kW, Z site zero-carbon kWh, M site kWh short of a minimum limit."""
    S, T = p.pue.shape
    J = len(p.jobs)
    ckpt = [j for j in range(J) if p.checkpointable[j] and p.fixed_site[j] == NOT_FIXED]
    one_piece = [j for j in range(J) if j not in set(ckpt)]
    m.S, m.T, m.J = pyo.RangeSet(0, S - 1), pyo.RangeSet(0, T - 1), pyo.Set(initialize=range(J))
    m.START = pyo.Set(dimen=3, initialize=[(j, s, k) for j in one_piece
                                           for s, k in _start_options(p, j)])
    m.x = pyo.Var(m.START, domain=pyo.Binary)
    m.CKPT = pyo.Set(initialize=ckpt)
    m.SITE = pyo.Set(dimen=2, initialize=[(j, s) for j in ckpt for s in range(S)
                                          if p.allowed[j, s]])
    m.RUN = pyo.Set(dimen=3, initialize=[(j, s, t) for (j, s) in m.SITE
                                         for t in range(int(p.release_slot[j]), T)])
    m.z = pyo.Var(m.SITE, domain=pyo.Binary)
    m.r = pyo.Var(m.RUN, domain=pyo.Binary)
    m.y = pyo.Var(m.RUN, bounds=(0, 1))
    m.h = pyo.Var(m.CKPT, domain=pyo.NonNegativeReals)
    m.u = pyo.Var(m.J, domain=pyo.Binary)
    m.L = pyo.Var(m.S, m.T, bounds=lambda _, s, t: (0, _it_ub(p, s, t)))
    m.Z = pyo.Var(m.S, m.T, bounds=lambda _, s, t: (0, p.zero_carbon_cap_kwh[s, t]))
    m.M = pyo.Var(m.S, m.T, bounds=lambda _, s, t: (0, p.min_facility_kwh[s, t]))


def _it_ub(p: Problem, s: int, t: int) -> float:
    """Upper bound of L[s, t]: the IT cap; at a battery site, what its cap plus a full
    discharge leaves beside the work laid down outside the problem."""
    if not p.has_battery[s]:
        return float(p.it_cap_kw[s, t])
    assert p.battery is not None
    return max(0.0, float((p.facility_cap_kw[s, t] - p.base_kw[s, t] + p.battery.kw[s])
                          / p.pue[s, t]))


def add_battery_variables(m: pyo.ConcreteModel, p: Problem) -> None:
    """C/D site-battery-charge/-discharge-kw (≤ its kW), E site-battery-soc-kwh (kWh at the
    end of the slot, in [min, capacity]; the last slot's ≥ the start), Y site-battery-charging
    (1 charging, 0 discharging), O site-over-cap-kw (kW above the cap forced by work laid
    down outside) for every battery site and slot."""
    T = p.n_slots
    m.B = pyo.Set(initialize=[int(s) for s in np.flatnonzero(p.has_battery)])
    m.BT = pyo.Set(dimen=2, initialize=[(s, t) for s in m.B for t in range(T)])
    bt = p.battery
    if bt is None:
        return
    m.C = pyo.Var(m.BT, bounds=lambda _, s, t: (0, float(bt.kw[s])))
    m.D = pyo.Var(m.BT, bounds=lambda _, s, t: (0, float(bt.kw[s])))
    m.E = pyo.Var(m.BT, bounds=lambda _, s, t: (
        float(max(bt.min_kwh[s], bt.start_kwh[s]) if t == T - 1 else bt.min_kwh[s]),
        float(bt.kwh[s])))
    m.Y = pyo.Var(m.BT, domain=pyo.Binary)
    m.O = pyo.Var(m.BT, bounds=lambda _, s, t: (
        0, float(max(0.0, p.base_kw[s, t] - p.facility_cap_kw[s, t]))))


def grid_kw(m: pyo.ConcreteModel, p: Problem, s: int, t: int) -> Any:
    """The site's grid draw, kW: work laid down outside + IT kW × PUE + charge − discharge."""
    own = p.pue[s, t] * m.L[s, t]
    if s not in m.B:
        return own
    return float(p.base_kw[s, t]) + own + m.C[s, t] - m.D[s, t]


def add_battery_rows(m: pyo.ConcreteModel, p: Problem) -> None:
    """site-battery-soc-def E[t] = E[t−1] + √η h C − h/√η D (E[−1] = start),
    site-battery-charge-upper C ≤ kW·Y, site-battery-discharge-upper D ≤ kW·(1 − Y),
    site-grid-upper grid − O ≤ cap, site-grid-lower grid ≥ 0 (no export)."""
    bt = p.battery
    if bt is None or not m.B:
        return
    h = p.slot_h

    def soc(m: pyo.ConcreteModel, s: int, t: int) -> Any:
        before = m.E[s, t - 1] if t > 0 else float(bt.start_kwh[s])
        a = float(bt.one_way[s])
        return m.E[s, t] == before + a * h * m.C[s, t] - h / a * m.D[s, t]

    m.site_battery_soc_def = pyo.Constraint(m.BT, rule=soc)
    m.site_battery_charge_upper = pyo.Constraint(
        m.BT, rule=lambda m, s, t: m.C[s, t] <= float(bt.kw[s]) * m.Y[s, t])
    m.site_battery_discharge_upper = pyo.Constraint(
        m.BT, rule=lambda m, s, t: m.D[s, t] <= float(bt.kw[s]) * (1 - m.Y[s, t]))
    m.site_grid_upper = pyo.Constraint(m.BT, rule=lambda m, s, t: (
        grid_kw(m, p, s, t) - m.O[s, t] <= float(p.facility_cap_kw[s, t])))
    m.site_grid_lower = pyo.Constraint(m.BT, rule=lambda m, s, t: grid_kw(m, p, s, t) >= 0)


def add_job_assign(m: pyo.ConcreteModel, p: Problem) -> None:
    """job-assign: every job gets one start or site (or the unplaced slack)."""
    choices: dict[int, list[Any]] = defaultdict(list)
    for (j, s, k) in m.START:
        choices[j].append(m.x[j, s, k])
    for (j, s) in m.SITE:
        choices[j].append(m.z[j, s])
    m.job_assign = pyo.Constraint(m.J, rule=lambda m, j: sum(choices[j]) + m.u[j] == 1)


def add_site_rows(m: pyo.ConcreteModel, p: Problem) -> None:
    """site-load-def, site-gpu-upper, site-zero-carbon-upper, site-min-limit-lower (the last
    two on the grid draw: battery included)."""
    running: dict[tuple[int, int], list[tuple[float, float, Any]]] = defaultdict(list)
    for (j, s, k) in m.START:
        for t in range(k, k + int(p.dur_slots[j])):
            running[s, t].append((p.it_kw[j], p.gpus[j], m.x[j, s, k]))
    for (j, s, t) in m.RUN:
        running[s, t].append((p.it_kw[j], p.gpus[j], m.r[j, s, t]))

    def load(m: pyo.ConcreteModel, s: int, t: int) -> Any:
        return m.L[s, t] == sum(kw * v for kw, _, v in running.get((s, t), []))

    def gpus(m: pyo.ConcreteModel, s: int, t: int) -> Any:
        terms = running.get((s, t), [])
        if not terms:
            return pyo.Constraint.Skip
        return sum(g * v for _, g, v in terms) <= float(p.gpu_cap[s, t])

    def zero(m: pyo.ConcreteModel, s: int, t: int) -> Any:
        return m.Z[s, t] <= p.slot_h * grid_kw(m, p, s, t)

    def minimum(m: pyo.ConcreteModel, s: int, t: int) -> Any:
        if p.min_facility_kwh[s, t] <= 0:
            return pyo.Constraint.Skip
        return p.slot_h * grid_kw(m, p, s, t) + m.M[s, t] >= p.min_facility_kwh[s, t]

    m.site_load_def = pyo.Constraint(m.S, m.T, rule=load)
    m.site_gpu_upper = pyo.Constraint(m.S, m.T, rule=gpus)
    m.site_zero_carbon_upper = pyo.Constraint(m.S, m.T, rule=zero)
    m.site_min_limit_lower = pyo.Constraint(m.S, m.T, rule=minimum)


def add_checkpointable_rows(m: pyo.ConcreteModel, p: Problem) -> None:
    """job-run-site-upper, job-resume-lower/-upper-run/-upper-idle, job-first-start-lower,
    job-work (duration + overhead per resume; a running job continuing on its site in slot 0
    pays none), job-lateness-lower."""
    o, T = p.overhead_slots, p.n_slots
    m.job_run_site_upper = pyo.Constraint(m.RUN, rule=lambda m, j, s, t: m.r[j, s, t] <= m.z[j, s])
    if o > 0:
        def prev(m: pyo.ConcreteModel, j: int, s: int, t: int) -> Any:
            return m.r[j, s, t - 1] if t > p.release_slot[j] else 0

        m.job_resume_lower = pyo.Constraint(
            m.RUN, rule=lambda m, j, s, t: m.y[j, s, t] >= m.r[j, s, t] - prev(m, j, s, t))
        m.job_resume_upper_run = pyo.Constraint(
            m.RUN, rule=lambda m, j, s, t: m.y[j, s, t] <= m.r[j, s, t])
        m.job_resume_upper_idle = pyo.Constraint(m.RUN, rule=lambda m, j, s, t: (
            m.y[j, s, t] <= 1 - m.r[j, s, t - 1] if t > p.release_slot[j]
            else pyo.Constraint.Skip))
        m.job_first_start_lower = pyo.Constraint(m.SITE, rule=lambda m, j, s: sum(
            m.y[j, s, t] for t in range(int(p.release_slot[j]), T)) >= m.z[j, s])

    def work(m: pyo.ConcreteModel, j: int, s: int) -> Any:
        slots = range(int(p.release_slot[j]), T)
        resumes = sum(m.y[j, s, t] for t in slots) - m.z[j, s] if o else 0
        extra = int(p.resume_slots[j])
        waived = extra * m.r[j, s, 0] if extra and s == p.continue_site[j] else 0
        return sum(m.r[j, s, t] for t in slots) == (int(p.dur_slots[j]) + extra) * m.z[j, s] \
            + o * resumes - waived

    def lateness(m: pyo.ConcreteModel, j: int, s: int, t: int) -> Any:
        late_by = t + 1 - int(p.deadline_slot[j])
        return m.h[j] >= late_by * m.r[j, s, t] if late_by > 0 else pyo.Constraint.Skip

    m.job_work = pyo.Constraint(m.SITE, rule=work)
    m.job_lateness_lower = pyo.Constraint(m.RUN, rule=lateness)


def add_objective(m: pyo.ConcreteModel, p: Problem) -> None:
    """Site points (emissions/cost of the grid draw less the zero-carbon credit,
    minimum-limit shortfall, kWh over the cap at battery sites), lateness and unplaced
    points."""
    S, T = p.pue.shape
    cost = p.cost_per_kwh() * p.pue * p.slot_h
    credit = p.credit_per_zero_kwh()
    pen = p.policy.min_limit_penalty_per_kwh
    late_per_slot = p.late_points_per_slot
    per_kwh = p.cost_per_kwh() * p.slot_h
    over = OVER_CAP_PENALTY_PER_KWH * p.slot_h
    m.objective = pyo.Objective(expr=(
        sum(cost[s, t] * m.L[s, t] - credit[s, t] * m.Z[s, t] + pen * m.M[s, t]
            for s in range(S) for t in range(T))
        + sum(per_kwh[s, t] * (m.C[s, t] - m.D[s, t]) + over * m.O[s, t] for (s, t) in m.BT)
        + sum(float(p.lateness_points(np.array(k + p.dur_slots[j]), j)) * m.x[j, s, k]
              for (j, s, k) in m.START)
        + sum(late_per_slot * m.h[j] for j in m.CKPT)
        + sum(float(p.unplaced_points[j]) * m.u[j] for j in m.J)), sense=pyo.minimize)


def build_pyomo(p: Problem) -> pyo.ConcreteModel:
    """The time-indexed MILP of `p` as a Pyomo model."""
    m = pyo.ConcreteModel(name="wattbit")
    add_variables(m, p)
    add_battery_variables(m, p)
    add_job_assign(m, p)
    add_site_rows(m, p)
    add_battery_rows(m, p)
    add_checkpointable_rows(m, p)
    add_objective(m, p)
    return m


def schedule_from_pyomo(p: Problem, m: pyo.ConcreteModel) -> Schedule:
    """Read the job variables of a solved model back into a `Schedule`."""
    sched = Schedule.empty(p)
    for (j, s, k) in m.START:
        if pyo.value(m.x[j, s, k]) > 0.5:
            sched.place(j, s, slice(k, k + int(p.dur_slots[j])))
    runs: dict[tuple[int, int], list[int]] = defaultdict(list)
    for (j, s, t) in m.RUN:
        if pyo.value(m.r[j, s, t]) > 0.5:
            runs[j, s].append(t)
    for (j, s) in m.SITE:
        if pyo.value(m.z[j, s]) > 0.5:
            sched.place(j, s, np.array(runs[j, s], dtype=int))
    if p.battery is not None:
        charge, discharge = np.zeros(p.pue.shape), np.zeros(p.pue.shape)
        for (s, t) in m.BT:
            charge[s, t], discharge[s, t] = pyo.value(m.C[s, t]), pyo.value(m.D[s, t])
        kw = p.battery.kw[:, None]
        sched.charge_kw, sched.discharge_kw = clean_kw(charge, kw), clean_kw(discharge, kw)
    return sched


def solve_pyomo(p: Problem, incumbent: Schedule, *, time_limit_s: float, mip_gap: float,
                t0: float) -> Outcome:
    """Build and solve the reference model; fall back to the incumbent without a solution."""
    tb = time.perf_counter()
    m = build_pyomo(p)
    build_s = time.perf_counter() - tb
    result = run_pyomo(m, time_limit_s=max(0.1, time_limit_s - (time.perf_counter() - t0)),
                       mip_rel_gap=mip_gap)
    best, source = incumbent, "milp-pyomo:greedy"
    if result.x is not None:
        candidate = greedy(p, schedule_from_pyomo(p, m))
        if evaluate(p, candidate).objective <= evaluate(p, incumbent).objective:
            best, source = candidate, "milp-pyomo"
    status = result.status if result.x is not None else SolveStatus.FEASIBLE
    return Outcome(best, evaluate(p, best), source, (), status, result.bound, build_s,
                   time.perf_counter() - t0 - build_s)
