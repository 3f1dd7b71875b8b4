"""Two fast planners: `greedy` (carbon-aware, deadline order) and `asap` (carbon-agnostic).

Both place every job as one contiguous run (a checkpointable job simply is not split) and
respect GPU and power caps. A job with a fixed decision keeps it and a running
checkpointable job continues where it runs (the MILP alone weighs pausing or moving it).
A job that fits nowhere in the horizon stays UNPLACED and is reported, never silently
dropped.
"""

from __future__ import annotations

import functools

import numpy as np

from scheduler.core.problem import NOT_FIXED, Problem
from scheduler.core.schedule import Schedule, site_loads
from scheduler.core.split_runs import job_pieces


class SiteLoads:
    """Running site loads with the marginal objective of adding a job."""

    def __init__(self, problem: Problem, sched: Schedule | None = None) -> None:
        """Empty sites, or the loads of the jobs `sched` places (beside its battery
        schedule, which stays as it is: idle when it has none)."""
        self.p = problem
        net = None
        if sched is None:
            S, T = problem.pue.shape
            self.it_kw, self.gpus = np.zeros((S, T)), np.zeros((S, T))
        else:
            self.it_kw, self.gpus = site_loads(problem, sched)
            net = sched.net_kw()
        self.it_cap_kw = problem.it_room_kw(net)
        """IT kW the jobs may draw (the battery's charge takes room, discharge gives it)."""
        self.points = functools.partial(problem.site_points, net_kw=net)

    def marginal(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(S, T) points job j adds in each site slot beside the loads, and where it does
        not fit (GPUs or power)."""
        p = self.p
        kw, g = p.it_kw[j], p.gpus[j]
        points = self.points(self.it_kw + kw) - self.points(self.it_kw)
        return points, (self.gpus + g > p.gpu_cap) | (self.it_kw + kw > self.it_cap_kw + 1e-9)

    def options(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(S, K) points and feasibility of starting job j at slot k on site s (K = T−D+1)."""
        p = self.p
        d = int(p.dur_slots[j])
        marginal, bad = self.marginal(j)
        zero_col = np.zeros((marginal.shape[0], 1))
        csum = np.concatenate([zero_col, np.cumsum(marginal, axis=1)], axis=1)
        cbad = np.concatenate([zero_col, np.cumsum(bad, axis=1)], axis=1)
        window_points = csum[:, d:] - csum[:, :-d]
        ok = (cbad[:, d:] - cbad[:, :-d]) == 0
        K = ok.shape[1]
        ok[:, : min(K, int(p.release_slot[j]))] = False
        ok &= p.allowed[j][:, None]
        s0, k0 = int(p.bound_site[j]), int(p.bound_start[j])
        if s0 != NOT_FIXED:  # bound to one option: its fixed decision, or continuing
            keep = np.zeros_like(ok)
            keep[s0, k0] = k0 < K and ok[s0, k0]
            ok = keep
        window_points = window_points + p.lateness_points(np.arange(K) + d, j)[None, :]
        return window_points, ok

    def best_split(self, j: int, below: float = np.inf) -> tuple[float, int, np.ndarray] | None:
        """(points, site, run slots) of checkpointable job j's cheapest run in pieces
        (`split_runs`) beside the loads, or None when none fits (or, given `below`, none
        can cost less: its work in the cheapest slots of a site is not below it). A running
        job may go on where it runs (from slot 0, no restart overhead) or pause or move: a
        first piece anywhere else, or later, pays its restart overhead."""
        p = self.p
        d = int(p.dur_slots[j])
        if d > p.n_slots:
            return None
        marginal, bad = self.marginal(j)
        cost = np.where(bad, np.inf, marginal)
        cost[:, : int(p.release_slot[j])] = np.inf
        cheapest = np.partition(cost, d - 1, axis=1)[:, :d].sum(axis=1)
        sites = np.flatnonzero(p.allowed[j] & (cheapest < below))
        if sites.size == 0:
            return None
        here = int(p.continue_site[j]) if p.fixed_site[j] == NOT_FIXED else NOT_FIXED
        n = sites.size
        points, slots = job_pieces(cost[sites], np.full(n, d), np.full(n, p.resume_slots[j]),
                                   sites == here, np.full(n, p.deadline_slot[j]),
                                   p.overhead_slots, p.late_points_per_slot)
        i = int(points.argmin())
        if not points[i] < below:
            return None
        return float(points[i]), int(sites[i]), np.flatnonzero(slots[i])

    def fits(self, j: int, s: int, slots: np.ndarray | slice) -> bool:
        """Job j on site s in `slots` stays within the GPU and power caps beside the loads."""
        p = self.p
        return bool((self.gpus[s, slots] + p.gpus[j] <= p.gpu_cap[s, slots]).all()
                    and (self.it_kw[s, slots] + p.it_kw[j]
                         <= self.it_cap_kw[s, slots] + 1e-9).all())

    def add(self, j: int, s: int, slots: np.ndarray | slice, sign: float = 1.0) -> None:
        """Add job j's load on site s in `slots` (sign −1 takes it away)."""
        self.it_kw[s, slots] += sign * self.p.it_kw[j]
        self.gpus[s, slots] += sign * self.p.gpus[j]


def placement_order(p: Problem, release_first: bool = False) -> np.ndarray:
    """Job indices in the order heuristics place them: bound (fixed and running) jobs first,
    then by deadline and release (release and deadline if `release_first`), then index."""
    keys = (p.release_slot, p.deadline_slot) if not release_first else (p.deadline_slot,
                                                                        p.release_slot)
    free = p.bound_site == NOT_FIXED
    return np.lexsort((np.arange(len(p.jobs)), *keys, free))


def greedy(problem: Problem, start: Schedule | None = None, split: bool = False) -> Schedule:
    """Each job, in deadline order, takes its lowest-objective feasible (site, start).

    With `start`, its placed jobs stay where they are and only the unplaced ones are added
    (the repair step after LP rounding). With `split`, a free checkpointable job may take
    its cheapest run in pieces instead (slower: for the instances the full model solves); a
    running checkpointable job always may (its one run otherwise is going on, which may not
    fit).
    """
    sched = Schedule.empty(problem) if start is None else start.copy()
    loads = SiteLoads(problem, sched)
    order = placement_order(problem)
    may_split = problem.checkpointable & (problem.fixed_site == NOT_FIXED) & (
        split | (problem.continue_site != NOT_FIXED))
    for j in order[sched.site[order] < 0]:
        pts, ok = loads.options(int(j))
        points, s, slots = np.inf, -1, slice(0, 0)
        if ok.any():
            masked = np.where(ok, pts, np.inf)
            # earliest start wins ties: scan starts first, then sites
            k, s = np.unravel_index(np.argmin(masked.T), masked.T.shape)
            points, slots = masked[s, k], slice(int(k), int(k) + int(problem.dur_slots[j]))
        if may_split[j]:
            pieces = loads.best_split(int(j))
            if pieces is not None and pieces[0] < points:
                points, s, slots = pieces
        if not points < problem.unplaced_points[j]:
            continue  # nothing fits, or leaving it for a later plan is cheaper
        loads.add(int(j), int(s), slots)
        sched.place(int(j), int(s), slots)
    return sched


def asap(problem: Problem) -> Schedule:
    """Carbon-agnostic baseline: each job, in release order, at its home site, earliest start."""
    sched = Schedule.empty(problem)
    loads = SiteLoads(problem)
    for j in placement_order(problem, release_first=True):
        _, ok = loads.options(int(j))
        bound = int(problem.bound_site[j])
        s = int(problem.home[j]) if bound == NOT_FIXED else bound
        starts = np.flatnonzero(ok[s])
        if starts.size == 0:
            continue
        slots = slice(int(starts[0]), int(starts[0]) + int(problem.dur_slots[j]))
        loads.add(int(j), s, slots)
        sched.place(int(j), s, slots)
    return sched
