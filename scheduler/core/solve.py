"""Run one planning method on a `Problem` inside a time budget and say how good it is.

`milp`: the greedy plan is the first incumbent; the LP relaxation gives a bound and an
LP-rounded plan (floor the class counts, repair the rest greedily); if that is not within
`mip_gap` of the bound, the MILP is solved warm-started from the best plan until the budget
ends. The best plan found is returned with the best bound, so the gap is honest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from scheduler.core.greedy import asap, greedy
from scheduler.core.milp_fast import build_fast, decode, schedule_vector
from scheduler.core.problem import Problem
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
    solve_seconds: float

    @property
    def objective(self) -> float:
        return self.evaluation.objective

    @property
    def gap(self) -> float:
        """(objective − bound) / |objective|; inf without a bound."""
        if not np.isfinite(self.bound):
            return float("inf")
        return max(0.0, self.objective - self.bound) / max(abs(self.objective), 1e-9)


def _best(p: Problem, candidates: list[tuple[str, Schedule]]) -> tuple[str, Schedule, Evaluation]:
    scored = [(evaluate(p, sched), name, sched) for name, sched in candidates
              if not violations(p, sched)]
    ev, name, sched = min(scored, key=lambda item: item[0].objective)
    return name, sched, ev


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


def _solve_fast(p: Problem, incumbent: Schedule, time_limit_s: float, mip_gap: float,
                t0: float) -> Outcome:
    tb = time.perf_counter()
    fm = build_fast(p)
    build_s = time.perf_counter() - tb
    left = lambda: time_limit_s - (time.perf_counter() - t0)  # noqa: E731
    candidates: list[tuple[str, Schedule]] = [("milp:greedy", incumbent)]
    bound, status = -np.inf, SolveStatus.FEASIBLE
    lp = run_highs(fm.matrix, time_limit_s=max(0.1, 0.5 * left()), relax=True)
    if lp.x is not None and lp.status is SolveStatus.OPTIMAL:
        bound = lp.objective
        candidates.append(("milp:lp-rounding", greedy(p, decode(p, fm, lp.x))))
    name, best, ev = _best(p, candidates)
    gap = (ev.objective - bound) / max(abs(ev.objective), 1e-9)
    if gap > mip_gap and left() > 0.2:
        mip = run_highs(fm.matrix, time_limit_s=left(), mip_rel_gap=mip_gap,
                        start=schedule_vector(p, fm, best))
        bound = max(bound, mip.bound)
        status = mip.status if mip.x is not None else status
        if mip.x is not None:
            candidates.append(("milp", greedy(p, decode(p, fm, mip.x))))
        name, best, ev = _best(p, candidates)
    elif np.isfinite(bound):
        status = SolveStatus.OPTIMAL if gap <= mip_gap else SolveStatus.FEASIBLE
    if status is SolveStatus.OPTIMAL and ev.objective - bound > mip_gap * max(1.0, abs(bound)):
        status = SolveStatus.FEASIBLE
    return Outcome(best, ev, name, status, bound, build_s, time.perf_counter() - t0 - build_s)
