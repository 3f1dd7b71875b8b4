"""Run one planning method on a `Problem` inside a time budget and say how good it is.

`milp`: the greedy plan is the first incumbent; the LP relaxation gives a bound and an
LP-rounded plan (floor the class counts, repair the rest greedily); if that is not within
`mip_gap` of the bound, the MILP is solved warm-started from the best plan until the budget
ends. Instances whose full model would be too large for that (above about 40 jobs on 8 sites
× 96 slots) get the LP bound by column generation and a plan by price-and-dive instead
(`colgen`); above about 1,500 jobs the jobs are split into parts whose LPs are solved
apart and added up, and the jobs they leave over get one more LP in the room left
(`decompose`). Every plan found also gets a late-job repair (`repair`), and the best one
single-job moves (`local_search`). The best plan found is returned with the best bound, so
the gap is honest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from scheduler.core.colgen import column_generation, dive, schedule_options
from scheduler.core.decompose import solve_parts, split
from scheduler.core.greedy import asap, greedy
from scheduler.core.local_search import relocate
from scheduler.core.milp_fast import FastModel, build_fast, decode, schedule_vector
from scheduler.core.problem import Problem
from scheduler.core.repair import repair_late
from scheduler.core.schedule import Evaluation, Schedule, evaluate, violations
from scheduler.core.solver import SolveStatus, run_highs


class Method(StrEnum):
    """Planning methods: the MILP and the two baselines."""

    MILP = "milp"
    GREEDY = "greedy"
    ASAP = "asap"


class Builder(StrEnum):
    """Which builder of the MILP: the fast matrix path or the readable Pyomo reference."""

    FAST = "fast"
    PYOMO = "pyomo"


@dataclass(frozen=True)
class Outcome:
    """A schedule, its evaluation, and how it was obtained."""

    schedule: Schedule
    evaluation: Evaluation
    method: str
    """What produced the schedule, e.g. `milp`, `milp:lp-rounding`, `greedy`."""
    status: SolveStatus
    bound: float
    """Best lower bound on the objective (−inf when none was computed)."""
    build_seconds: float
    """Building the model: the full matrix, or the column generation of large instances."""
    solve_seconds: float

    @property
    def objective(self) -> float:
        return self.evaluation.objective

    @property
    def gap(self) -> float:
        """(objective − bound) / |objective|; inf without a bound."""
        return relative_gap(self.objective, self.bound)


def relative_gap(objective: float, bound: float) -> float:
    """(objective − bound) / |objective|, 0 when they agree to rounding, inf without a bound."""
    if not np.isfinite(bound):
        return float("inf")
    diff = objective - bound
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return diff / max(abs(objective), 1e-9)


class _Plans:
    """The valid plans found so far, each checked and evaluated once, with their repairs."""

    def __init__(self, p: Problem) -> None:
        self.p = p
        self.found: list[tuple[str, Schedule, Evaluation]] = []

    def add(self, name: str, sched: Schedule) -> None:
        """Keep `sched` (if valid) and, when it improves on it, its late-job repair."""
        self._keep(name, sched)
        fixed = repair_late(self.p, sched, REPAIR_TIME_S)
        if fixed is not sched:
            self._keep(f"{name}+repair", fixed)

    def _keep(self, name: str, sched: Schedule) -> None:
        if not violations(self.p, sched):
            self.found.append((name, sched, evaluate(self.p, sched)))

    def best(self) -> tuple[str, Schedule, Evaluation]:
        """(name, schedule, evaluation) of the lowest objective."""
        return min(self.found, key=lambda item: item[2].objective)

    def gap(self, bound: float) -> float:
        return relative_gap(self.best()[2].objective, bound)


def solve(p: Problem, method: Method = Method.MILP, *, time_limit_s: float = 60.0,
          mip_gap: float = 1e-4, builder: Builder = Builder.FAST) -> Outcome:
    """Plan with `method` within about `time_limit_s` seconds of wall time."""
    t0 = time.perf_counter()
    if method is Method.ASAP:
        sched = asap(p)
        return Outcome(sched, evaluate(p, sched), "asap", SolveStatus.FEASIBLE, -np.inf, 0.0,
                       time.perf_counter() - t0)
    incumbent = greedy(p)
    if method is Method.GREEDY:
        return Outcome(incumbent, evaluate(p, incumbent), "greedy", SolveStatus.FEASIBLE,
                       -np.inf, 0.0, time.perf_counter() - t0)
    if builder is Builder.PYOMO:
        from scheduler.core.milp_pyomo import solve_pyomo

        return solve_pyomo(p, incumbent, time_limit_s=time_limit_s, mip_gap=mip_gap, t0=t0)
    return _solve_fast(p, incumbent, time_limit_s, mip_gap, t0)


FULL_MODEL_MAX_NNZ = 500_000
"""Above this estimated matrix size the LP bound comes from column generation."""
COLGEN_SHARE = 0.55
"""Share of the budget column generation may use (it stops earlier once converged)."""
PARTS_SHARE = 0.85
"""Share of the budget the parts and the residual of a very large instance may use
(`decompose`); the rest goes to filling in and single-job moves."""
RELOCATE_SHARE = 0.2
"""Share of the time left after column generation kept for single-job moves at the end."""
REPAIR_TIME_S = 2.0
"""Budget of one late-job repair (0.2 s measured for 10,000 jobs with 47 late)."""
DECODE_RESERVE_S = 3.0
"""Time kept back after the dive to decode, repair and evaluate the plans (10,000 jobs)."""
RESTRICTED_MIP_MIN_S = 5.0
RESTRICTED_MIP_MAX_COLUMNS = 30_000
"""The MILP over the generated columns runs with at least this many seconds left and
at most this many start columns (the master of 1,000 jobs has about 20,000)."""


def full_model_nnz(p: Problem) -> int:
    """Estimated non-zeros of the full fast model (start columns × duration × 2 rows)."""
    T = p.n_slots
    starts = np.maximum(0, T - p.dur_slots - p.release_slot + 1) * p.allowed.sum(axis=1)
    per_job = np.where(p.checkpointable, (T - p.release_slot) * p.allowed.sum(axis=1) * 8,
                       starts * p.dur_slots * 2)
    return int(per_job.sum())


def _mip_stage(p: Problem, fm: FastModel, plans: _Plans, left: float, mip_gap: float,
               name: str) -> tuple[SolveStatus, float]:
    """Solve the (full or restricted) MILP from the best plan; add its plan."""
    mip = run_highs(fm.matrix, time_limit_s=left, mip_rel_gap=mip_gap,
                    start=schedule_vector(p, fm, plans.best()[1]))
    if mip.x is not None:
        plans.add(name, greedy(p, decode(p, fm, mip.x)))
    return mip.status, mip.bound


def _solve_fast(p: Problem, incumbent: Schedule, time_limit_s: float, mip_gap: float,
                t0: float) -> Outcome:
    def left() -> float:
        return time_limit_s - (time.perf_counter() - t0)

    plans = _Plans(p)
    plans.add("milp:greedy", incumbent)
    status = SolveStatus.FEASIBLE
    if full_model_nnz(p) > FULL_MODEL_MAX_NNZ:
        large = _solve_by_parts if len(split(p)) > 1 else _solve_by_columns
        bound, build_s = large(p, plans, left, mip_gap)
    else:
        tb = time.perf_counter()
        fm = build_fast(p)
        build_s = time.perf_counter() - tb
        lp = run_highs(fm.matrix, time_limit_s=max(0.1, 0.5 * left()), relax=True)
        bound = lp.objective if lp.status is SolveStatus.OPTIMAL else -np.inf
        if lp.x is not None:
            plans.add("milp:lp-rounding", greedy(p, decode(p, fm, lp.x)))
        if plans.gap(bound) > mip_gap and left() > 0.2:
            mip_status, mip_bound = _mip_stage(p, fm, plans, left(), mip_gap, "milp")
            bound = max(bound, mip_bound)
            status = mip_status if mip_status is SolveStatus.OPTIMAL else status
    name, best, ev = plans.best()
    if relative_gap(ev.objective, bound) <= mip_gap:
        status = SolveStatus.OPTIMAL
    elif status is SolveStatus.OPTIMAL:
        status = SolveStatus.FEASIBLE  # the solver's own gap rule was looser than ours
    return Outcome(best, ev, name, status, bound, build_s, time.perf_counter() - t0 - build_s)


def _relocate_best(p: Problem, plans: _Plans, time_limit_s: float) -> None:
    """Improve the best plan so far by single-job moves (`local_search.relocate`)."""
    name, best, _ = plans.best()
    if time_limit_s > 0:
        plans.add(f"{name}+relocate", relocate(p, best, time_limit_s))


def _solve_by_parts(p: Problem, plans: _Plans, left: Callable[[], float],
                    mip_gap: float) -> tuple[float, float]:
    """Very large instances: the parts' and the residual's LP solutions placed together
    (`decompose`), filled greedily, then single-job moves with the time left. Returns the
    bound and the parts' seconds."""
    tb = time.perf_counter()
    sched, bound, _ = solve_parts(p, PARTS_SHARE * left())
    build_s = time.perf_counter() - tb
    plans.add("milp:parts", greedy(p, sched))
    if plans.gap(bound) > mip_gap:
        _relocate_best(p, plans, left() - DECODE_RESERVE_S)
    return bound, build_s


def _solve_by_columns(p: Problem, plans: _Plans, left: Callable[[], float],
                      mip_gap: float) -> tuple[float, float]:
    """Large instances: column generation for the LP bound, a price-and-dive for a plan,
    with time left the MILP over the generated columns (only while the master is small:
    HiGHS' presolve overran the time limit by 15 s on the master of 10,000 jobs), and
    single-job moves on the best plan last. Returns the bound and the column generation's
    seconds."""
    tb = time.perf_counter()
    master = column_generation(p, plans.best()[1], time_limit_s=COLGEN_SHARE * left())
    build_s = time.perf_counter() - tb
    if master.x is None:
        return master.bound, build_s
    reserve = DECODE_RESERVE_S + RELOCATE_SHARE * left()

    def until_reserve() -> float:
        return left() - reserve

    plans.add("milp:lp-rounding", greedy(p, decode(p, master.model(), master.x)))
    x = dive(master, time_limit_s=until_reserve())
    if x is not None:
        plans.add("milp:colgen-dive", greedy(p, decode(p, master.model(), x)))
    if (plans.gap(master.bound) > mip_gap and until_reserve() > RESTRICTED_MIP_MIN_S
            and len(master.opts[0]) <= RESTRICTED_MIP_MAX_COLUMNS):
        opts = set(zip(*(a.tolist() for a in master.opts), strict=True))
        for _, sched, _ in plans.found:
            opts |= schedule_options(p, master.classes, sched)
        arrays = tuple(np.array(a, dtype=int) for a in zip(*sorted(opts), strict=True))
        fm = build_fast(p, preemptive=False, options=arrays)
        _mip_stage(p, fm, plans, until_reserve(), mip_gap, "milp:colgen")
    if plans.gap(master.bound) > mip_gap:
        _relocate_best(p, plans, left() - DECODE_RESERVE_S)
    return master.bound, build_s
