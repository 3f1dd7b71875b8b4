"""`Schedule` (which site, which slots, per job) and its evaluation with the one accounting.

Accounting (used by every method, the simulator and the DR metrics):
facility kWh of site s in slot t = IT kW × PUE × slot hours; the zero-carbon part is
min(facility kWh, curtailment_share × curtailment_mw × 1000 × slot hours); emissions =
(facility kWh − zero-carbon part) × carbon_gco2_per_kwh / 1000 kg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scheduler.core.problem import Problem

UNPLACED = -1


@dataclass
class Schedule:
    """Per job: a site index (or UNPLACED) and a (J, T) bool matrix of the slots it runs in.

    Mutable: `place` changes it in place; copy with `copy()` before handing it on."""

    site: np.ndarray
    run: np.ndarray

    @classmethod
    def empty(cls, problem: Problem) -> Schedule:
        J, T = len(problem.jobs), problem.n_slots
        return cls(np.full(J, UNPLACED), np.zeros((J, T), dtype=bool))

    def copy(self) -> Schedule:
        """An independent copy."""
        return Schedule(self.site.copy(), self.run.copy())

    def start_slot(self) -> np.ndarray:
        """(J,) first slot each job runs in (−1 for unplaced)."""
        return np.where(self.run.any(axis=1), np.argmax(self.run, axis=1), -1)

    def place(self, j: int, s: int, slots: np.ndarray | slice) -> None:
        """Put job j on site s running in `slots` (mutates the arrays)."""
        self.site[j] = s
        self.run[j] = False
        self.run[j, slots] = True

    def end_slot(self) -> np.ndarray:
        """(J,) exclusive end slot of each job (0 for unplaced)."""
        T = self.run.shape[1]
        last = T - np.argmax(self.run[:, ::-1], axis=1)
        return np.where(self.run.any(axis=1), last, 0)

    def segments(self, j: int) -> list[tuple[int, int]]:
        """[(start, end_exclusive)] slot ranges job j runs in."""
        padded = np.concatenate(([False], self.run[j], [False])).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@dataclass(frozen=True)
class Evaluation:
    """The accounting of a schedule (site × slot arrays and totals)."""

    it_kw: np.ndarray
    gpus_used: np.ndarray
    facility_kwh: np.ndarray
    zero_carbon_kwh: np.ndarray
    kg_co2: np.ndarray
    cost_jpy: np.ndarray
    objective: float
    late: np.ndarray
    """(J,) bool: finishes after its deadline, or is unplaced while due inside the horizon."""

    @property
    def total_kg_co2(self) -> float:
        return float(self.kg_co2.sum())


def site_loads(problem: Problem, sched: Schedule) -> tuple[np.ndarray, np.ndarray]:
    """(IT kW, GPUs in use) per site and slot, each (S, T)."""
    S = len(problem.sites)
    placed = sched.site >= 0
    onehot = np.zeros((S, len(problem.jobs)))
    onehot[sched.site[placed], np.flatnonzero(placed)] = 1.0
    run = sched.run.astype(float)
    return (onehot * problem.it_kw) @ run, (onehot * problem.gpus) @ run


def account(problem: Problem, it_kw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IT kW (S, T) → (facility kWh, zero-carbon kWh, kg-CO2), each (S, T)."""
    facility = it_kw * problem.pue * problem.slot_h
    zero = np.minimum(facility, problem.zero_carbon_cap_kwh)
    kg = (facility - zero) * problem.carbon_gco2_per_kwh / 1000.0
    return facility, zero, kg


def job_points(problem: Problem, sched: Schedule) -> float:
    """Objective points of the jobs themselves: lateness of the placed, and what leaving
    the others out costs (`Problem.unplaced_points`)."""
    placed = sched.site >= 0
    late = problem.lateness_points(sched.end_slot(), np.arange(len(problem.jobs)))
    return float(late[placed].sum() + problem.unplaced_points[~placed].sum())


def evaluate(problem: Problem, sched: Schedule) -> Evaluation:
    """Account a schedule and compute its objective (the same for every method)."""
    it_kw, gpus = site_loads(problem, sched)
    facility, zero, kg = account(problem, it_kw)
    placed = sched.site >= 0
    late = (~placed & ~problem.deferrable) | (placed & (sched.end_slot() > problem.deadline_slot))
    objective = float(problem.site_points(it_kw).sum()) + job_points(problem, sched)
    return Evaluation(
        it_kw=it_kw, gpus_used=gpus, facility_kwh=facility, zero_carbon_kwh=zero, kg_co2=kg,
        cost_jpy=facility * problem.price_jpy_per_kwh, objective=objective, late=late,
    )


def violations(problem: Problem, sched: Schedule, tol: float = 1e-6) -> list[str]:
    """Every broken hard rule of a schedule, as readable lines (empty = feasible)."""
    out: list[str] = []
    # work that cannot move (fixed, or running and continuing) is there already: the caps
    # bind the other jobs beside it
    keeps = (problem.fixed_site >= 0) | ((problem.continue_site >= 0)
                                         & (sched.site == problem.continue_site) & sched.run[:, 0])
    gpu_room, kw_room, free = problem.gpu_cap, problem.it_cap_kw, sched
    if keeps.any():
        bound = Schedule(np.where(keeps, sched.site, UNPLACED), sched.run & keeps[:, None])
        free = Schedule(np.where(keeps, UNPLACED, sched.site), sched.run & ~keeps[:, None])
        bound_kw, bound_gpus = site_loads(problem, bound)
        gpu_room = np.maximum(0.0, gpu_room - bound_gpus)
        kw_room = np.maximum(0.0, kw_room - bound_kw)
    it_kw, gpus = site_loads(problem, free)
    for s, t in zip(*np.nonzero(gpus > gpu_room + tol), strict=True):
        out.append(f"site {problem.sites[s].id} slot {t}: {gpus[s, t]:g} GPUs > capacity")
    for s, t in zip(*np.nonzero(it_kw > kw_room + tol), strict=True):
        out.append(f"site {problem.sites[s].id} slot {t}: {it_kw[s, t]:g} IT kW > power cap "
                   "or limit")
    for j, job in enumerate(problem.jobs):
        s = sched.site[j]
        if s == UNPLACED:
            if sched.run[j].any():
                out.append(f"job {job.id}: unplaced but running")
            continue
        if not problem.allowed[j, s]:
            out.append(f"job {job.id}: site {problem.sites[s].id} not allowed")
        segs = sched.segments(j)
        if not segs or segs[0][0] < problem.release_slot[j]:
            out.append(f"job {job.id}: runs before release or not at all")
            continue
        if problem.fixed_site[j] >= 0 and (s, segs[0][0]) != (problem.fixed_site[j],
                                                                problem.fixed_start[j]):
            out.append(f"job {job.id}: moved from its fixed site and start")
        need = problem.option_slots(j, int(s), segs[0][0]) \
            + problem.overhead_slots * (len(segs) - 1)
        if not problem.checkpointable[j] and len(segs) != 1:
            out.append(f"job {job.id}: not checkpointable but runs in {len(segs)} pieces")
        if sched.run[j].sum() != need:
            out.append(f"job {job.id}: runs {sched.run[j].sum()} slots, needs {need}")
    return out
