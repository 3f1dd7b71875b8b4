"""The readable reference builder: the same MILP as `milp_fast`, one variable per job.

It does not group identical jobs, so a test can check that the fast builder's classes
change nothing. Component names follow `{entity}-{rule}` in their docstrings.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import pyomo.environ as pyo

from scheduler.core.greedy import greedy
from scheduler.core.problem import Problem
from scheduler.core.schedule import Schedule, evaluate
from scheduler.core.solver import SolveStatus, run_pyomo

if TYPE_CHECKING:
    from scheduler.core.solve import Outcome


def build_pyomo(p: Problem) -> pyo.ConcreteModel:
    """The time-indexed MILP of `p` as a Pyomo model."""
    S, T = p.pue.shape
    J = len(p.jobs)
    o = p.overhead_slots
    fixed = [j for j in range(J) if not p.checkpointable[j]]
    ckpt = [j for j in range(J) if p.checkpointable[j]]
    m = pyo.ConcreteModel(name="wattbit")
    m.S, m.T = pyo.RangeSet(0, S - 1), pyo.RangeSet(0, T - 1)
    m.J = pyo.Set(initialize=range(J))
    # job-start: x[j, s, k] = 1 if fixed job j starts on site s at slot k
    m.START = pyo.Set(dimen=3, initialize=[
        (j, s, k) for j in fixed for s in range(S) if p.allowed[j, s]
        for k in range(int(p.release_slot[j]), T - int(p.dur_slots[j]) + 1)])
    m.x = pyo.Var(m.START, domain=pyo.Binary)
    # checkpointable: z site choice, r run per slot, y resume, h slots late
    m.SITE = pyo.Set(dimen=2, initialize=[(j, s) for j in ckpt for s in range(S)
                                          if p.allowed[j, s]])
    m.RUN = pyo.Set(dimen=3, initialize=[(j, s, t) for (j, s) in m.SITE
                                         for t in range(int(p.release_slot[j]), T)])
    m.z = pyo.Var(m.SITE, domain=pyo.Binary)
    m.r = pyo.Var(m.RUN, domain=pyo.Binary)
    m.y = pyo.Var(m.RUN, bounds=(0, 1))
    m.h = pyo.Var(pyo.Set(initialize=ckpt), domain=pyo.NonNegativeReals)
    m.u = pyo.Var(m.J, domain=pyo.Binary)  # job-unplaced
    m.L = pyo.Var(m.S, m.T, bounds=lambda _, s, t: (0, p.it_cap_kw[s, t]))
    m.Z = pyo.Var(m.S, m.T, bounds=lambda _, s, t: (0, p.zero_carbon_cap_kwh[s, t]))

    running: dict[tuple[int, int], list[tuple[float, float, object]]] = {}
    for (j, s, k) in m.START:
        for t in range(k, k + int(p.dur_slots[j])):
            running.setdefault((s, t), []).append((p.it_kw[j], p.gpus[j], m.x[j, s, k]))
    for (j, s, t) in m.RUN:
        running.setdefault((s, t), []).append((p.it_kw[j], p.gpus[j], m.r[j, s, t]))

    @m.Constraint(m.J)
    def job_assign(m: pyo.ConcreteModel, j: int) -> object:
        """job-assign: every job gets one site (or the unplaced slack)."""
        if p.checkpointable[j]:
            return sum(m.z[j, s] for s in range(S) if (j, s) in m.SITE) + m.u[j] == 1
        return sum(m.x[jj, s, k] for (jj, s, k) in m.START if jj == j) + m.u[j] == 1

    @m.Constraint(m.S, m.T)
    def site_load_def(m: pyo.ConcreteModel, s: int, t: int) -> object:
        """site-load-def: IT kW is the sum of the running jobs' kW."""
        return m.L[s, t] == sum(kw * v for kw, _, v in running.get((s, t), []))

    @m.Constraint(m.S, m.T)
    def site_gpu_upper(m: pyo.ConcreteModel, s: int, t: int) -> object:
        """site-gpu-upper: GPUs in use within the site's GPUs."""
        terms = running.get((s, t), [])
        if not terms:
            return pyo.Constraint.Skip
        return sum(g * v for _, g, v in terms) <= float(p.gpu_cap[s, t])

    @m.Constraint(m.S, m.T)
    def site_zero_carbon_upper(m: pyo.ConcreteModel, s: int, t: int) -> object:
        """site-zero-carbon-upper: zero-carbon kWh within the facility kWh."""
        return m.Z[s, t] <= p.pue[s, t] * p.slot_h * m.L[s, t]

    @m.Constraint(m.RUN)
    def job_run_site_upper(m: pyo.ConcreteModel, j: int, s: int, t: int) -> object:
        """job-run-site-upper: a checkpointable job runs only on its chosen site."""
        return m.r[j, s, t] <= m.z[j, s]

    @m.Constraint(m.RUN)
    def job_resume_lower(m: pyo.ConcreteModel, j: int, s: int, t: int) -> object:
        """job-resume-lower: y marks the start of every run segment."""
        if o == 0:
            return pyo.Constraint.Skip
        prev = m.r[j, s, t - 1] if (j, s, t - 1) in m.RUN else 0
        return m.y[j, s, t] >= m.r[j, s, t] - prev

    @m.Constraint(m.RUN)
    def job_resume_upper_run(m: pyo.ConcreteModel, j: int, s: int, t: int) -> object:
        """job-resume-upper-run: a segment starts only in a slot the job runs in."""
        return pyo.Constraint.Skip if o == 0 else m.y[j, s, t] <= m.r[j, s, t]

    @m.Constraint(m.RUN)
    def job_resume_upper_idle(m: pyo.ConcreteModel, j: int, s: int, t: int) -> object:
        """job-resume-upper-idle: a segment starts only after an idle slot."""
        if o == 0 or (j, s, t - 1) not in m.RUN:
            return pyo.Constraint.Skip
        return m.y[j, s, t] <= 1 - m.r[j, s, t - 1]

    @m.Constraint(m.SITE)
    def job_first_start_lower(m: pyo.ConcreteModel, j: int, s: int) -> object:
        """job-first-start-lower: a placed job has at least one segment start."""
        if o == 0:
            return pyo.Constraint.Skip
        return sum(m.y[j, s, t] for t in range(int(p.release_slot[j]), T)) >= m.z[j, s]

    @m.Constraint(m.SITE)
    def job_work(m: pyo.ConcreteModel, j: int, s: int) -> object:
        """job-work: run slots = duration + overhead per resume."""
        slots = range(int(p.release_slot[j]), T)
        resumes = sum(m.y[j, s, t] for t in slots) - m.z[j, s] if o else 0
        return sum(m.r[j, s, t] for t in slots) == int(p.dur_slots[j]) * m.z[j, s] + o * resumes

    @m.Constraint(m.RUN)
    def job_lateness_lower(m: pyo.ConcreteModel, j: int, s: int, t: int) -> object:
        """job-lateness-lower: h ≥ slots past the deadline of any run slot."""
        late_by = t + 1 - int(p.deadline_slot[j])
        if late_by <= 0:
            return pyo.Constraint.Skip
        return m.h[j] >= late_by * m.r[j, s, t]

    cost = p.cost_per_kwh() * p.pue * p.slot_h
    credit = p.credit_per_zero_kwh()
    pen_h = p.policy.lateness_penalty_per_h
    unplaced = pen_h * T * p.slot_h
    m.objective = pyo.Objective(expr=(
        sum(cost[s, t] * m.L[s, t] - credit[s, t] * m.Z[s, t] for s in range(S)
            for t in range(T))
        + sum(float(p.lateness_points(np.array(k + p.dur_slots[j]), j)) * m.x[j, s, k]
              for (j, s, k) in m.START)
        + sum(pen_h * p.slot_h * m.h[j] for j in ckpt)
        + sum(unplaced * m.u[j] for j in range(J))), sense=pyo.minimize)
    return m


def schedule_from_pyomo(p: Problem, m: pyo.ConcreteModel) -> Schedule:
    """Read the job variables of a solved model back into a `Schedule`."""
    sched = Schedule.empty(p)
    for (j, s, k) in m.START:
        if pyo.value(m.x[j, s, k]) > 0.5:
            sched.place(j, s, slice(k, k + int(p.dur_slots[j])))
    for (j, s) in m.SITE:
        if pyo.value(m.z[j, s]) > 0.5:
            slots = [t for (jj, ss, t) in m.RUN if jj == j and ss == s
                     and pyo.value(m.r[j, s, t]) > 0.5]
            sched.place(j, s, np.array(slots, dtype=int))
    return sched


def solve_pyomo(p: Problem, incumbent: Schedule, *, time_limit_s: float, mip_gap: float,
                t0: float) -> Outcome:
    """Build and solve the reference model; fall back to the incumbent without a solution."""
    from scheduler.core.solve import Outcome

    tb = time.perf_counter()
    m = build_pyomo(p)
    build_s = time.perf_counter() - tb
    result = run_pyomo(m, time_limit_s=max(0.1, time_limit_s - (time.perf_counter() - t0)),
                       mip_rel_gap=mip_gap)
    best, name = incumbent, "milp-pyomo:greedy"
    if result.x is not None:
        candidate = greedy(p, schedule_from_pyomo(p, m))
        if evaluate(p, candidate).objective <= evaluate(p, incumbent).objective:
            best, name = candidate, "milp-pyomo"
    status = result.status if result.x is not None else SolveStatus.FEASIBLE
    return Outcome(best, evaluate(p, best), name, status, result.bound, build_s,
                   time.perf_counter() - t0 - build_s)
