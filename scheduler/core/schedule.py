"""`Schedule` (which site, which slots, per job; battery charge and discharge per site) and
its evaluation with the one accounting.

Accounting (used by every method, the simulator and the DR metrics):
facility kWh of site s in slot t = (IT kW × PUE + battery charge − discharge) × slot hours —
the energy drawn from the grid; the zero-carbon part is min(facility kWh,
curtailment_share × curtailment_mw × 1000 × slot hours); emissions =
(facility kWh − zero-carbon part) × carbon_gco2_per_kwh / 1000 kg.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scheduler.core.battery import soc_kwh
from scheduler.core.problem import Problem

UNPLACED = -1


@dataclass
class Schedule:
    """Per job: a site index (or UNPLACED) and a (J, T) bool matrix of the slots it runs in;
    per site with a battery: charge and discharge kW per slot.

    Mutable: `place` changes it in place; copy with `copy()` before handing it on."""

    site: np.ndarray
    run: np.ndarray
    charge_kw: np.ndarray | None = None
    """(S, T) battery charge, facility kW (None: every battery idle)."""
    discharge_kw: np.ndarray | None = None
    """(S, T) battery discharge, facility kW (None: every battery idle)."""

    @classmethod
    def empty(cls, problem: Problem) -> Schedule:
        J, T = len(problem.jobs), problem.n_slots
        return cls(np.full(J, UNPLACED), np.zeros((J, T), dtype=bool))

    def copy(self) -> Schedule:
        """An independent copy."""
        return Schedule(self.site.copy(), self.run.copy(),
                        None if self.charge_kw is None else self.charge_kw.copy(),
                        None if self.discharge_kw is None else self.discharge_kw.copy())

    def net_kw(self) -> np.ndarray | None:
        """(S, T) battery charge − discharge, facility kW (None: every battery idle)."""
        if self.charge_kw is None or self.discharge_kw is None:
            return None
        return self.charge_kw - self.discharge_kw

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
    """Grid energy: IT × PUE plus battery charge less discharge."""
    zero_carbon_kwh: np.ndarray
    kg_co2: np.ndarray
    cost_jpy: np.ndarray
    objective: float
    late: np.ndarray
    """(J,) bool: finishes after its deadline, or is unplaced while due inside the horizon."""
    charge_kw: np.ndarray | None = None
    """(S, T) battery charge, facility kW (None when no site has a battery)."""
    discharge_kw: np.ndarray | None = None
    soc_kwh: np.ndarray | None = None
    """(S, T) battery state of charge at the end of each slot, kWh."""

    @property
    def total_kg_co2(self) -> float:
        return float(self.kg_co2.sum())


def site_loads(problem: Problem, sched: Schedule, jobs: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """(IT kW, GPUs in use) per site and slot, each (S, T), of every job or of `jobs`
    (indices) alone."""
    every = np.arange(len(problem.jobs)) if jobs is None else np.asarray(jobs)
    placed = every[sched.site[every] >= 0]
    onehot = np.zeros((len(problem.sites), placed.size))
    onehot[sched.site[placed], np.arange(placed.size)] = 1.0
    run = sched.run[placed].astype(float)
    return (onehot * problem.it_kw[placed]) @ run, (onehot * problem.gpus[placed]) @ run


def account(problem: Problem, it_kw: np.ndarray, net_kw: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IT kW (S, T) and battery charge − discharge kW (None: idle) → (facility kWh,
    zero-carbon kWh to expect (× `Problem.zero_carbon_chance`), kg-CO2), each (S, T). (In a
    residual problem with work laid down at a battery site, the zero-carbon part is what this
    problem's energy adds to the site's.)"""
    facility = it_kw * problem.pue * problem.slot_h
    if net_kw is not None:
        facility = facility + net_kw * problem.slot_h
    zero = np.minimum(facility, problem.zero_carbon_cap_kwh)
    if problem.base_facility_kw is not None:
        base = problem.base_kw * problem.slot_h
        zero = (np.minimum(facility + base, problem.zero_carbon_cap_kwh)
                - np.minimum(base, problem.zero_carbon_cap_kwh))
    zero = zero * problem.zero_carbon_chance
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
    net = sched.net_kw()
    facility, zero, kg = account(problem, it_kw, net)
    placed = sched.site >= 0
    late = (~placed & ~problem.deferrable) | (placed & (sched.end_slot() > problem.deadline_slot))
    objective = float(problem.site_points(it_kw, net).sum()) + job_points(problem, sched)
    charge = discharge = soc = None
    if problem.battery is not None:
        zeros = np.zeros(problem.pue.shape)
        charge = zeros if sched.charge_kw is None else sched.charge_kw
        discharge = zeros if sched.discharge_kw is None else sched.discharge_kw
        soc = soc_kwh(problem.battery, charge, discharge, problem.slot_h)
    return Evaluation(
        it_kw=it_kw, gpus_used=gpus, facility_kwh=facility, zero_carbon_kwh=zero, kg_co2=kg,
        cost_jpy=facility * problem.price_jpy_per_kwh, objective=objective, late=late,
        charge_kw=charge, discharge_kw=discharge, soc_kwh=soc,
    )


def battery_violations(problem: Problem, sched: Schedule, keeps_kw: np.ndarray,
                       tol: float = 1e-6) -> list[str]:
    """Broken battery rules (kW and state-of-charge bounds, one direction per slot, the end
    of the horizon, no export, the grid cap beside the work that cannot move, `keeps_kw`
    IT kW)."""
    b = problem.battery
    net = sched.net_kw()
    if net is None:
        return []
    out: list[str] = []
    if b is None:
        return ["battery schedule given but no site has a battery"] if np.abs(net).max(
            initial=0.0) > tol else []
    assert sched.charge_kw is not None and sched.discharge_kw is not None
    ids = [s.id for s in problem.sites]
    kw = np.where(problem.has_battery, b.kw, 0.0)[:, None]
    for name, arr in (("charge", sched.charge_kw), ("discharge", sched.discharge_kw)):
        for s, t in zip(*np.nonzero((arr < -tol) | (arr > kw + tol)), strict=True):
            out.append(f"site {ids[s]} slot {t}: battery {name} {arr[s, t]:g} kW outside "
                       f"[0, {kw[s, 0]:g}]")
    both = (sched.charge_kw > tol) & (sched.discharge_kw > tol)
    for s, t in zip(*np.nonzero(both), strict=True):
        out.append(f"site {ids[s]} slot {t}: battery charges and discharges at once")
    soc = soc_kwh(b, sched.charge_kw, sched.discharge_kw, problem.slot_h)
    scale = tol * np.maximum(1.0, b.kwh)[:, None]
    for s, t in zip(*np.nonzero((soc < b.min_kwh[:, None] - scale)
                                | (soc > b.kwh[:, None] + scale)), strict=True):
        out.append(f"site {ids[s]} slot {t}: battery state of charge {soc[s, t]:g} kWh "
                   f"outside [{b.min_kwh[s]:g}, {b.kwh[s]:g}]")
    for s in np.flatnonzero(soc[:, -1] < b.start_kwh - scale[:, 0]):
        out.append(f"site {ids[s]}: battery ends at {soc[s, -1]:g} kWh, below its start "
                   f"{b.start_kwh[s]:g} kWh")
    it_kw, _ = site_loads(problem, sched)
    grid = problem.base_kw + it_kw * problem.pue + net
    for s, t in zip(*np.nonzero(grid < -tol), strict=True):
        out.append(f"site {ids[s]} slot {t}: grid draw {grid[s, t]:g} kW < 0 (no export)")
    # work that cannot move may exceed the cap; nothing else may add to its excess
    allowed = np.maximum(problem.facility_cap_kw,
                         problem.base_kw + keeps_kw * problem.pue)
    over = problem.has_battery[:, None] & (grid > allowed + tol)
    for s, t in zip(*np.nonzero(over), strict=True):
        out.append(f"site {ids[s]} slot {t}: grid draw {grid[s, t]:g} kW > power cap or "
                   "limit")
    return out


def violations(problem: Problem, sched: Schedule, tol: float = 1e-6) -> list[str]:
    """Every broken hard rule of a schedule, as readable lines (empty = feasible)."""
    out: list[str] = []
    # work that cannot move (fixed, or running and continuing) is there already: the caps
    # bind the other jobs beside it
    keeps = (problem.fixed_site >= 0) | ((problem.continue_site >= 0)
                                         & (sched.site == problem.continue_site) & sched.run[:, 0])
    gpu_room, kw_room, free = problem.gpu_cap, problem.it_cap_kw, sched
    bound_kw = np.zeros(problem.pue.shape)
    if keeps.any():
        bound = Schedule(np.where(keeps, sched.site, UNPLACED), sched.run & keeps[:, None])
        free = Schedule(np.where(keeps, UNPLACED, sched.site), sched.run & ~keeps[:, None])
        bound_kw, bound_gpus = site_loads(problem, bound)
        gpu_room = np.maximum(0.0, gpu_room - bound_gpus)
        kw_room = np.maximum(0.0, kw_room - bound_kw)
    it_kw, gpus = site_loads(problem, free)
    for s, t in zip(*np.nonzero(gpus > gpu_room + tol), strict=True):
        out.append(f"site {problem.sites[s].id} slot {t}: {gpus[s, t]:g} GPUs > capacity")
    # at battery sites the grid draw (battery included) is what the cap binds
    over_kw = (it_kw > kw_room + tol) & ~problem.has_battery[:, None]
    for s, t in zip(*np.nonzero(over_kw), strict=True):
        out.append(f"site {problem.sites[s].id} slot {t}: {it_kw[s, t]:g} IT kW > power cap "
                   "or limit")
    if problem.has_battery.any():
        if sched.net_kw() is None:  # an idle battery: the cap binds IT × PUE
            sched = Schedule(sched.site, sched.run, np.zeros(problem.pue.shape),
                             np.zeros(problem.pue.shape))
        out += battery_violations(problem, sched, bound_kw, tol)
    elif sched.net_kw() is not None:
        out += battery_violations(problem, sched, bound_kw, tol)
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
