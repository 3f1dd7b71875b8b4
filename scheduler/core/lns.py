"""Large-neighbourhood search over a model of start columns: re-solve parts of a plan.

Each round frees one neighbourhood of the plan's start columns — a random share of the job
classes, all starts at some sites, all starts in a time window, or the classes whose
planned starts lie near one class's — fixes every other start column at its count in
the plan, and solves that MILP (HiGHS, warm-started from the plan) under a short limit. A
better solution becomes the plan. The share a neighbourhood frees adapts: it grows after a
turn of rounds proven optimal without a better plan (the neighbourhoods were too small to
hold one) and shrinks after a round stopped by its limit, so on small instances the
rounds grow to the whole model and on large ones they become small enough to solve. On a
column generation's master of 100 jobs × 8 sites × 96 slots, where the LP spreads half the
jobs fractionally over curtailment and HiGHS spends 15 s in its root cuts before its first
better plan, rounds of a few tenths of a second end at 1.90 % of the bound after 13 s,
3.12 % after 45 s and 1.89 % after 7 s (seeds 1–3 of `benchmarks/plan_scale.py`), where
the MILP over the same columns ended at 1.83 % after 45 s, 6.70 % after 45 s and 2.18 %
after 30 s.

The rounds draw their neighbourhoods from a generator seeded with `seed`, so with a node
limit per round (`sub_nodes`) and a round limit the search is the same on any machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from scheduler.core.milp_fast import StartColumns
from scheduler.core.solver import MatrixModel, SolveStatus, run_highs

SUB_TIME_S = 0.4
"""Wall-clock limit of one round's MILP."""
FIRST_SHARE = 0.3
"""Share of the classes (sites, slots) the first neighbourhood frees."""
MIN_SHARE = 0.02
GROWTH = 1.25
"""Factor the share grows by after `KINDS` rounds in a row proven without a better plan,
and shrinks by after a round stopped by its limit without one (never below `MIN_SHARE`,
never above 1)."""
KINDS = 4
"""Neighbourhood kinds, taken in turn."""


def neighbourhood(kind: int, starts: StartColumns, counts: np.ndarray, share: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Boolean mask over the start columns (True = free) of neighbourhood `kind` freeing
    about `share` of the classes (0), sites (1), slots (2) or the classes planned near a
    random one's start (3); `counts` is the plan's count per start column."""
    n_classes = int(starts.cls.max()) + 1
    if kind == 0:
        return (rng.random(n_classes) < share)[starts.cls]
    if kind == 1:
        sites = np.unique(starts.site)
        return np.isin(starts.site, rng.choice(sites, max(1, round(share * sites.size)),
                                               replace=False))
    first, last = int(starts.start.min()), int(starts.start.max())
    width = max(1, round(share * (last - first + 1)))
    if kind == 2:
        t = int(rng.integers(first, last - width + 2))
        return (starts.start >= t) & (starts.start < t + width)
    on = counts > 0
    planned = np.full(n_classes, first - 1)
    planned[starts.cls[on]] = starts.start[on]
    near = np.flatnonzero(np.abs(planned - planned[rng.integers(n_classes)])
                          <= rng.uniform(0.15, 0.8) * width)
    free = np.zeros(n_classes, dtype=bool)
    free[rng.choice(near, min(near.size, max(1, round(share * n_classes))), replace=False)] = True
    return free[starts.cls]


def improve(model: MatrixModel, starts: StartColumns, x: np.ndarray, *, time_limit_s: float,
            rounds: int, done: Callable[[float], bool], seed: int = 0,
            sub_time_s: float = SUB_TIME_S, sub_nodes: int | None = None
            ) -> tuple[np.ndarray, int]:
    """The best solution found from `x` (a solution of `model`, possibly partial) in at
    most `rounds` rounds and `time_limit_s` seconds, stopping early once `done(objective)`;
    and how many rounds improved it. `sub_nodes` bounds each round's branch and bound."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    objective = float(model.c @ x)
    share, improved, proven = FIRST_SHARE, 0, 0
    for r in range(rounds):
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0 or done(objective):
            break
        free = neighbourhood(r % KINDS, starts, np.round(x[starts.col]), share, rng)
        fixed = starts.col[~free]
        lb, ub = model.lb.copy(), model.ub.copy()
        lb[fixed] = ub[fixed] = np.round(x[fixed])
        res = run_highs(replace(model, lb=lb, ub=ub), time_limit_s=min(sub_time_s, left),
                        start=x, max_nodes=sub_nodes)
        if res.x is not None and res.objective < objective - 1e-9 * max(1.0, abs(objective)):
            x, objective = res.x, res.objective
            improved, proven = improved + 1, 0
        elif res.status is SolveStatus.OPTIMAL:
            proven += 1
            if proven == KINDS:
                share, proven = min(1.0, share * GROWTH), 0
        else:
            share, proven = max(MIN_SHARE, share / GROWTH), 0
    return x, improved
