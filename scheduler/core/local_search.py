"""Local search: move single jobs to their cheapest feasible (site, start) until none gains.

Rounding an LP solution and filling the rest greedily leaves jobs that would be cheaper
elsewhere once the others have settled. Each sweep takes every job that runs as one piece
(in a seeded random order) off the loads, and puts it back at its lowest-objective
feasible start — its own start unless another is strictly cheaper. Every move lowers the
objective by exactly its gain, so the plan never gets worse and stays feasible.
"""

from __future__ import annotations

import time

import numpy as np

from scheduler.core.greedy import SiteLoads
from scheduler.core.problem import NOT_FIXED, Problem
from scheduler.core.schedule import Schedule

MIN_GAIN = 1e-7
"""Objective points a move must save (guards against cycling on float ties)."""


def relocate(p: Problem, sched: Schedule, time_limit_s: float, seed: int = 0) -> Schedule:
    """`sched` improved by single-job moves within `time_limit_s` seconds (a new Schedule,
    or `sched` itself when no move gains)."""
    t0 = time.perf_counter()
    out = sched.copy()
    loads = SiteLoads(p, out)
    end = out.end_slot()
    one_piece = (out.site >= 0) & (out.run.sum(axis=1) == end - out.run.argmax(axis=1))
    free = p.bound_site == NOT_FIXED
    movable = np.flatnonzero(one_piece & free & (out.run.sum(axis=1) == p.dur_slots))
    rng = np.random.default_rng(seed)
    moved_any = False
    while time.perf_counter() - t0 < time_limit_s:
        moved = 0
        for j in rng.permutation(movable):
            if time.perf_counter() - t0 >= time_limit_s:
                break
            j, s0, d = int(j), int(out.site[j]), int(p.dur_slots[j])
            k0 = int(end[j]) - d
            loads.add(j, s0, slice(k0, k0 + d), sign=-1.0)
            pts, ok = loads.options(j)
            masked = np.where(ok, pts, np.inf)
            s, k = np.unravel_index(np.argmin(masked), masked.shape)
            if masked[s, k] < pts[s0, k0] - MIN_GAIN:
                s0, k0 = int(s), int(k)
                out.place(j, s0, slice(k0, k0 + d))
                end[j] = k0 + d
                moved += 1
            loads.add(j, s0, slice(k0, k0 + d))
        moved_any |= moved > 0
        if moved == 0:
            break
    return out if moved_any else sched
