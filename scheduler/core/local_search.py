"""Local search: move single jobs to their cheapest feasible (site, start) until none gains.

Rounding an LP solution and filling the rest greedily leaves jobs that would be cheaper
elsewhere once the others have settled. Each sweep takes every free job that runs as one
piece (and, when asked, every checkpointable job that is free or running) in a seeded
random order off the loads, and puts it back at its lowest-objective feasible run — a
single run, or for a checkpointable job its cheapest run in pieces (`split_runs`) — its
own unless another is strictly cheaper, or it no longer fits beside the others (a running
job going on where a limit now binds it). Every move lowers the objective by exactly its
gain, so the plan never gets worse, and a feasible plan stays feasible.
"""

from __future__ import annotations

import time

import numpy as np

from scheduler.core.greedy import SiteLoads
from scheduler.core.problem import NOT_FIXED, Problem
from scheduler.core.schedule import Schedule

MIN_GAIN = 1e-7
"""Objective points a move must save (guards against cycling on float ties)."""


def relocate(p: Problem, sched: Schedule, time_limit_s: float, seed: int = 0,
             pieces: bool = False) -> Schedule:
    """`sched` improved by single-job moves within `time_limit_s` seconds (a new Schedule,
    or `sched` itself when no move gains). With `pieces`, a checkpointable job that is free
    or running may also move to its cheapest run in pieces (`SiteLoads.best_split`: a
    running one may pause or move), or from pieces back to one run (its dynamic program
    costs milliseconds per job and move)."""
    t0 = time.perf_counter()
    out = sched.copy()
    loads = SiteLoads(p, out)
    end = out.end_slot()
    runs = out.run.sum(axis=1)
    one_piece = (out.site >= 0) & (runs == end - out.run.argmax(axis=1))
    free = p.bound_site == NOT_FIXED
    movable = (out.site >= 0) & ((free & one_piece & (runs == p.dur_slots))
                                 | (p.checkpointable & pieces & (p.fixed_site == NOT_FIXED)))
    movable = np.flatnonzero(movable)
    rng = np.random.default_rng(seed)
    moved_any = False
    while time.perf_counter() - t0 < time_limit_s:
        moved = 0
        for j in rng.permutation(movable):
            if time.perf_counter() - t0 >= time_limit_s:
                break
            j, s0, d = int(j), int(out.site[j]), int(p.dur_slots[j])
            slots0 = np.flatnonzero(out.run[j])
            loads.add(j, s0, slots0, sign=-1.0)
            pts, ok = loads.options(j)
            if not loads.fits(j, s0, slots0):
                here = np.inf  # a running job going on where it no longer fits
            elif slots0.size == d and slots0[-1] - slots0[0] == d - 1:  # one run
                here = float(pts[s0, slots0[0]])
            else:  # in pieces
                marginal, _ = loads.marginal(j)
                here = float(marginal[s0, slots0].sum()
                             + p.lateness_points(np.array([slots0[-1] + 1]), j)[0])
            masked = np.where(ok, pts, np.inf)
            s, k = np.unravel_index(np.argmin(masked), masked.shape)
            best, site, slots = masked[s, k], int(s), np.arange(k, k + d)
            if pieces and p.checkpointable[j]:
                split = loads.best_split(j, below=min(best, here - MIN_GAIN))
                if split is not None and split[0] < best:
                    best, site, slots = split
            if best < here - MIN_GAIN:
                s0, slots0 = site, slots
                out.place(j, s0, slots0)
                moved += 1
            loads.add(j, s0, slots0)
        moved_any |= moved > 0
        if moved == 0:
            break
    return out if moved_any else sched


def restore(p: Problem, sched: Schedule, prefer: Schedule, allowance: float) -> Schedule:
    """`sched` with free jobs moved back to their run in `prefer` (e.g. the previous plan)
    where that run fits beside the others, in job order, while the points the moves add
    stay within `allowance`: fewer changed decisions for at most that much objective
    (`sched` itself when no job moves)."""
    out = sched.copy()
    loads = SiteLoads(p, out)
    spent, moved = 0.0, False
    back = (p.bound_site == NOT_FIXED) & (prefer.site >= 0) & (out.site >= 0)
    for j in np.flatnonzero(back):
        j, s0, s1 = int(j), int(out.site[j]), int(prefer.site[j])
        if s0 == s1 and np.array_equal(out.run[j], prefer.run[j]):
            continue
        r0, r1 = np.flatnonzero(out.run[j]), np.flatnonzero(prefer.run[j])
        loads.add(j, s0, r0, sign=-1.0)
        if loads.fits(j, s1, r1):
            marginal, _ = loads.marginal(j)
            ends = p.lateness_points(np.array([r1[-1] + 1, r0[-1] + 1]), j)
            extra = float(marginal[s1, r1].sum() - marginal[s0, r0].sum() + ends[0] - ends[1])
            if spent + extra <= allowance:
                spent += extra
                s0, r0, moved = s1, r1, True
                out.place(j, s0, r0)
        loads.add(j, s0, r0)
    return out if moved else sched
