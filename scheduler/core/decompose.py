"""Very large instances: split the jobs into parts, solve each part's LP, add the plans up.

The restricted master of 10,000 jobs re-solves too slowly for a one-minute budget (one
column-generation round can take longer than the whole budget), while parts of about a
thousand jobs converge in seconds. The jobs are dealt into parts in (release, deadline,
GPUs) order, so every part gets a like mix, and each part gets its share of the GPU-slots
asked for as its share of every site's GPUs, power cap and zero-carbon energy: the parts'
plans then add up to a plan of the whole. Two pilot parts are solved from scratch; the
others start from the pilots' averaged prices and need a few rounds. Each part's LP
solution is rounded down and placed; the parts' averaged prices give the Lagrangian bound
of the whole.

A part's LP solution is fractional wherever its share of a capacity binds, so about a fifth
of each part's jobs are left over, ten times as many as rounding the whole's LP would
leave. Those jobs form one residual problem in the room the placed jobs leave
(`Problem.residual`); its column generation (seeded at the averaged prices) is rounded
down and placed too, and the caller fills in the rest.

`benchmarks/plan_scale.py --reference-lp-s` measures how far the parts' plan and bound lie
from the LP of the whole instance.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np

from scheduler.core.colgen import Prices, column_generation, lagrangian_bound
from scheduler.core.greedy import greedy
from scheduler.core.problem import Problem
from scheduler.core.schedule import Schedule, site_loads

log = logging.getLogger(__name__)

PART_JOBS = 1000
"""Jobs per part (small enough for a part's column generation to converge in seconds)."""
PILOTS = 2
"""Parts solved from scratch to price the others' first columns."""
PILOT_SHARE = 0.45
"""Share of the budget the pilots may use."""
SPAWN_MIN_S = 5.0
"""Below this budget the parts are solved in this process (starting workers takes ~1 s)."""
PART_TOL = 1e-3
"""A part's column generation stops within this relative distance of its LP optimum."""
RESIDUAL_SHARE = 0.25
"""Share of the budget kept for the residual problem (a larger share starves the parts of
the hardest 10,000-job benchmark instances and lowers the bound)."""
RESIDUAL_TOL = 1e-2
"""The residual's column generation stops within this relative distance of its LP optimum
(a tighter tolerance gave the same plans, later)."""


@dataclass(frozen=True)
class PartResult:
    """A part's LP solution rounded down: jobs placed (indices of the whole), their sites and
    run slots (placed × T), the part's prices and LP optimum (None / inf without an LP
    solution)."""

    jobs: np.ndarray
    sites: np.ndarray
    runs: np.ndarray
    prices: Prices | None
    lp_objective: float
    weight: float
    """The part's share of the GPU-slots asked for."""


def split(p: Problem, part_jobs: int | None = None) -> list[np.ndarray]:
    """Job indices of each part (about `part_jobs`, default `PART_JOBS`, each), dealt
    round-robin in (release, deadline, GPUs) order."""
    n_parts = max(1, round(len(p.jobs) / (part_jobs or PART_JOBS)))
    order = np.lexsort((p.gpus, p.deadline_slot, p.release_slot))
    return [np.sort(order[i::n_parts]) for i in range(n_parts)]


def solve_part(part: Problem, jobs: np.ndarray, share: float, prices: Prices | None,
               time_limit_s: float) -> PartResult:
    """Column generation on a part (`jobs` of the whole with `share` of its capacity, as
    `Problem.part` builds it); its LP solution rounded down."""
    master = column_generation(part, greedy(part), time_limit_s, tol=PART_TOL, prices=prices)
    if master.x is None:
        empty = np.zeros(0, dtype=int)
        return PartResult(empty, empty, np.zeros((0, part.n_slots), dtype=bool), None,
                          math.inf, share)
    sched = master.decode(master.x)
    placed = np.flatnonzero(sched.site >= 0)
    return PartResult(jobs[placed], sched.site[placed], sched.run[placed], master.prices(),
                      master.lp_objective, share)


def average_prices(results: list[PartResult]) -> Prices | None:
    """Share-weighted mean of the parts' prices (the Lagrangian bound is concave in them)."""
    have = [r for r in results if r.prices is not None]
    if not have:
        return None
    w = np.array([r.weight for r in have]) / sum(r.weight for r in have)
    return Prices(sum(wi * r.prices.load for wi, r in zip(w, have, strict=True)),
                  sum(wi * r.prices.gpu for wi, r in zip(w, have, strict=True)))


def _run(pool: ProcessPoolExecutor | None, workers: int, calls: list[tuple],
         deadline: float) -> list[PartResult]:
    """`solve_part(*call, time limit)` for each call, sharing the time until `deadline`
    (a `time.monotonic()` value) — in the pool's processes, or here one after the other
    when there is no pool or it broke (e.g. a script without a `__main__` guard)."""
    if not calls:
        return []
    if pool is not None:
        each = max(0.1, (deadline - time.monotonic()) * min(workers, len(calls)) / len(calls))
        try:
            return [f.result() for f in [pool.submit(solve_part, *c, each) for c in calls]]
        except (BrokenProcessPool, OSError) as exc:
            log.warning("part workers failed (%s); solving the parts in this process", exc)
    return [solve_part(*c, max(0.1, (deadline - time.monotonic()) / (len(calls) - i)))
            for i, c in enumerate(calls)]


def place_residual(p: Problem, sched: Schedule, prices: Prices | None,
                   time_limit_s: float) -> None:
    """Place some of the jobs `sched` leaves unplaced (mutating it): column generation on
    them in the room the placed jobs leave, started at `prices`, its LP solution rounded
    down."""
    rest = np.flatnonzero(sched.site < 0)
    if rest.size == 0 or time_limit_s <= 0:
        return
    residual = p.residual(rest, *site_loads(p, sched))
    master = column_generation(residual, greedy(residual), time_limit_s, tol=RESIDUAL_TOL,
                               prices=prices)
    if master.x is None:
        return
    placed = master.decode(master.x)
    got = np.flatnonzero(placed.site >= 0)
    sched.site[rest[got]] = placed.site[got]
    sched.run[rest[got]] = placed.run[got]


def solve_parts(p: Problem, time_limit_s: float, workers: int | None = None
                ) -> tuple[Schedule, float, list[PartResult]]:
    """(the parts' and the residual's rounded plans placed together, the bound of the
    whole, the part results).

    `workers` processes (default: one per core) solve the parts; with one, they run in
    this process. The pilots may use 45 % of the parts' time, the other parts share the
    rest, and the residual gets the last 25 % of the budget; a part out of time keeps what
    it has (or places nothing) and its jobs go to the residual, then to the caller's fill.
    """
    t0 = time.monotonic()
    parts = split(p)
    demand = p.gpus * p.dur_slots
    shares = [float(demand[j].sum() / demand.sum()) for j in parts]
    workers = min(workers or os.cpu_count() or 1, len(parts))
    if time_limit_s < SPAWN_MIN_S:
        workers = 1
    pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 1 else None)
    pilots = range(min(PILOTS, len(parts)))
    parts_s = (1.0 - RESIDUAL_SHARE) * time_limit_s
    try:
        def calls(which: range, prices: Prices | None) -> list[tuple]:
            return [(p.part(parts[i], shares[i]), parts[i], shares[i], prices) for i in which]

        results = _run(pool, workers, calls(pilots, None), t0 + PILOT_SHARE * parts_s)
        results += _run(pool, workers, calls(range(len(pilots), len(parts)),
                                             average_prices(results)), t0 + parts_s)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    sched = Schedule.empty(p)
    for r in results:
        for j, s, run in zip(r.jobs, r.sites, r.runs, strict=True):
            sched.place(int(j), int(s), run)
    prices = average_prices(results)
    place_residual(p, sched, prices, time_limit_s - (time.monotonic() - t0))
    bound = -math.inf if prices is None else lagrangian_bound(p, prices)
    return sched, bound, results
