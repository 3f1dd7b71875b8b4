"""Run one planning method on a `Problem` within a budget and say how good it is.

`milp`: the greedy plan (and, when re-planning, the previous plan) is the first incumbent;
the LP relaxation gives a bound and an LP-rounded plan (floor the class counts, repair the
rest greedily); if that is not within `mip_gap` of the bound, the MILP is solved
warm-started from the best plan until the budget ends. Instances whose full model would be
too large for that (above about 40 jobs on 8 sites × 96 slots) get the LP bound by column
generation (from the last plan's prices, `prices`, when re-planning) and a plan by
price-and-dive instead (`colgen`), improved — on a fresh plan, while it is not within the
gap — by a short MILP over the generated columns and by re-solving neighbourhoods of it
over them (`lns`); above about
1,500 jobs the jobs are split into parts whose LPs are solved apart and added up, and the
jobs they leave over get one more LP in the room left (`decompose`). Every plan found also
gets a late-job repair (`repair`), and the best one single-job moves (`local_search`; on
the column path each rounded plan too);
on the large paths, when no plan is within the gap yet, a last round of moves may also split
checkpointable jobs into pieces, and pause or move running ones (step `split`). When
re-planning, a new plan moves jobs back to their previous runs for what its gap leaves
(step `restore`).
The best plan found is returned with the best bound, so the gap is honest; the gap of a
residual problem is relative to the whole plan's objective. On instances the full model solves,
the greedy fills may also split checkpointable jobs into pieces (`split_runs`), as the
model may: their LP-rounded plans then start the MILP close to the optimum.

Jobs whose decision is fixed (running and not checkpointable, or kept from the previous
plan) are not decided again: they are laid down first, and the other jobs are planned in
the room they leave (`Problem.residual`), which adds up exactly. Running checkpointable
jobs may pause or move under `milp`; `greedy` and `asap` let them go on where they run.
The large-instance paths hold a running checkpointable job to one start column, going on
where it runs, and price its other runs (paused or moved, paying the restart overhead) in
pieces: the column generation's bound holds with it free, and its schedules in pieces join
the master (without them its duals priced such a job at the cost of leaving it out, and
the bound fell to a quarter of the plan). Rounding and the dive keep them, so a rounded
plan may pause or move it; so may the fills and the moves of step `split`.

Sites with a battery: the full models schedule it with the jobs; every plan the `milp`
method finds (also those of column generation, of parts, repairs and moves) gets the best
battery schedule beside its jobs (`milp_fast.dispatch_battery`) before plans are compared.
`greedy` and `asap` leave batteries idle.

The budget is wall-clock seconds, or (`deterministic`) work limits only: no step looks at
the clock, HiGHS runs single-threaded with a node limit, and the same instance gives the
same plan on any machine.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from scheduler.core.colgen import (
    Columns,
    Master,
    Prices,
    column_generation,
    dive,
    lagrangian_bound,
    schedule_options,
)
from scheduler.core.decompose import average_prices, solve_parts, split
from scheduler.core.greedy import SiteLoads, asap, greedy, placement_order
from scheduler.core.lns import SUB_TIME_S, improve
from scheduler.core.local_search import relocate, restore
from scheduler.core.milp_fast import (
    FastModel,
    build_fast,
    decode,
    dispatch_battery,
    job_classes,
    schedule_vector,
)
from scheduler.core.milp_pyomo import solve_pyomo
from scheduler.core.outcome import Outcome, relative_gap
from scheduler.core.problem import NOT_FIXED, Problem
from scheduler.core.repair import repair_late
from scheduler.core.schedule import Evaluation, Schedule, evaluate, site_loads, violations
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


DEFAULT_MIP_GAP = 0.005
"""Stop once the plan is proven within this relative gap of the bound."""
DETERMINISTIC_MAX_NODES = 500
"""Branch-and-bound nodes of one MILP solve in the deterministic (work-limited) mode."""
PREVIOUS = "milp:previous"
"""Source label of the previous plan kept in a re-plan."""
STABILITY_GAP = 0.5
"""The previous plan is kept unless a new one is better by more than this share of the MIP
gap (relative): re-plans do not churn over differences the solver does not resolve. (Not
when the new plan is within the gap and the previous one is not: the gap is the promise.)"""
FULL_MODEL_MAX_NNZ = 100_000
"""Above this estimated matrix size (`full_model_nnz`) the LP bound comes from column
generation. (At 500,000, 40 jobs, half of them checkpointable, on 4 sites × 96 slots —
then estimated at 180,000 — went to the full MILP: its 500 work-limited nodes took 150 s
for a plan 1.9 % from the bound; the column path gives a better plan in 3–6 s, and a
re-plan of 60–70 jobs waited 2 s for the full LP where the previous plan was already
within the gap. Until the estimate counted a checkpointable job's 14 non-zeros per site
and slot instead of 8, re-plans of 33 of them took the full LP, 5.7 s for the plan the
column path gives in 0.2 s.)"""
PIECES_MAX_NNZ = 500_000
"""Up to this estimated full-model size the column generation's master also takes schedules
in pieces (`colgen.column_generation(pieces=...)`); above it the rounds they add cost more
than the bound gains (1,000-job re-plans of `benchmarks/replan_speed.py`: warm p50 6.7 s
with them, measured beside a test run, and 10 % gaps where the budget ran out; 3.9 s
without)."""
COLGEN_SHARE = 0.55
"""Share of the budget column generation may use (it stops earlier once converged)."""
PARTS_SHARE = 0.85
"""Share of the budget the parts and the residual of a very large instance may use
(`decompose`); the rest goes to filling in and single-job moves."""
RELOCATE_SHARE = 0.2
"""Share of the time left after column generation kept for single-job moves at the end."""
REPAIR_TIME_S = 2.0
"""Budget of one late-job repair (the benchmarks print what it takes)."""
DECODE_RESERVE_S = 3.0
"""Time kept back after the dive to decode, repair and evaluate the plans (10,000 jobs)."""
RESTRICTED_MIP_S = 2.0
"""Seconds for the MILP over the generated columns before the neighbourhood search (with
work limits: `DETERMINISTIC_MAX_NODES` nodes). Where that model is small it proves a plan
within the gap at once (a 4-site day of checkpointable jobs: 0.76 % in 3 s, where 40 rounds
of the search took 66 s); on 100 jobs × 8 sites its root cuts alone take 15 s, and the
search does better."""
LNS_MIN_S = 1.0
LNS_MAX_COLUMNS = 30_000
"""The neighbourhood search over the generated columns (`lns`) runs with at least this many
seconds left and at most this many start columns (the master of 1,000 jobs has about
20,000)."""
LNS_ROUNDS = 10
LNS_NODES = 100
"""Work limits of the neighbourhood search in the work-limited mode: rounds, and
branch-and-bound nodes per round (with a clock, it runs rounds of `lns.SUB_TIME_S` until
the plan is within the gap or the time is up)."""


@dataclass
class _Budget:
    """Seconds left of a wall-clock budget; always infinite when work-limited."""

    seconds: float
    deterministic: bool = False
    t0: float = field(default_factory=time.perf_counter)

    def left(self) -> float:
        if self.deterministic:
            return math.inf
        return self.seconds - (time.perf_counter() - self.t0)

    def step(self, seconds: float) -> float:
        """Seconds for a step with its own small budget: never more than is left (no limit
        when work-limited)."""
        return math.inf if self.deterministic else min(seconds, self.left())

    def keep_back(self, seconds: float) -> float:
        """`seconds` to keep for later steps (0 when work-limited: no clock to race)."""
        return 0.0 if self.deterministic else seconds

    @property
    def max_nodes(self) -> int | None:
        return DETERMINISTIC_MAX_NODES if self.deterministic else None


class _Plans:
    """The valid plans found so far, each checked and evaluated once, with their repairs.
    On equal objectives the plan found first wins (the previous plan, when given)."""

    def __init__(self, p: Problem, budget: _Budget, offset: float = 0.0) -> None:
        self.p = p
        self.budget = budget
        self.offset = offset - p.unavoidable_points()
        """Points of the work laid down outside `p` (a residual problem), less the points
        every plan of `p` pays (`Problem.unavoidable_points`): gaps are relative to the whole
        plan's objective above those, as the caller's MIP gap means."""
        self.split = full_model_nnz(p) <= FULL_MODEL_MAX_NNZ
        """Fill with runs in pieces too (instances small enough for the full model)."""
        self.found: list[tuple[str, tuple[str, ...], Schedule, Evaluation]] = []
        self.previous: tuple[str, tuple[str, ...], Schedule, Evaluation] | None = None
        """The previous plan (when re-planning and still valid): kept unless beaten clearly."""

    def add_previous(self, sched: Schedule) -> None:
        """Keep the previous plan's still-valid part, filled greedily, as the first plan."""
        n = len(self.found)
        self.add(PREVIOUS, sched)
        if len(self.found) > n:
            self.previous = self.found[n]

    def fill(self, sched: Schedule | None = None) -> Schedule:
        """`sched` (default: nothing placed) with the unplaced jobs placed greedily."""
        return greedy(self.p, sched, split=self.split)

    def add(self, source: str, sched: Schedule, steps: tuple[str, ...] = ()) -> None:
        """Keep `sched` (if valid) and, when it improves on it, its late-job repair — each
        with the best battery schedule beside its jobs (`dispatch_battery`)."""
        sched = dispatch_battery(self.p, sched)
        self._keep(source, steps, sched)
        repair_s = self.budget.step(REPAIR_TIME_S)
        fixed = repair_late(self.p, sched, repair_s) if repair_s > 0 else sched
        if fixed is not sched:
            self._keep(source, (*steps, "repair"), dispatch_battery(self.p, fixed))

    def _keep(self, source: str, steps: tuple[str, ...], sched: Schedule) -> None:
        if not violations(self.p, sched):
            self.found.append((source, steps, sched, evaluate(self.p, sched)))

    def best(self) -> tuple[str, tuple[str, ...], Schedule, Evaluation]:
        """(source, steps, schedule, evaluation) of the lowest objective."""
        return min(self.found, key=lambda item: item[3].objective)

    def chosen(self, bound: float, mip_gap: float
               ) -> tuple[str, tuple[str, ...], Schedule, Evaluation]:
        """The plan to return: the best, or the previous plan where the best is not worth
        the churn (`STABILITY_GAP`) — unless only the best is proven within `mip_gap`."""
        best, previous = self.best(), self.previous
        objective = best[3].objective
        if previous is not None and previous[3].objective <= objective \
                + STABILITY_GAP * mip_gap * self.whole(objective) \
                and (self.gap(bound, previous[3].objective) <= mip_gap
                     or self.gap(bound, objective) > mip_gap):
            return previous
        return best

    def gap(self, bound: float, objective: float | None = None) -> float:
        """The whole plan's gap: of the best plan (or `objective`) to `bound`."""
        objective = self.best()[3].objective if objective is None else objective
        return relative_gap(objective + self.offset, bound + self.offset)

    def enough(self, mip_gap: float) -> float:
        """The least bound that proves the best plan so far within `mip_gap`."""
        objective = self.best()[3].objective
        return objective - mip_gap * self.whole(objective)

    def solver_gap(self, mip_gap: float, objective: float) -> float:
        """The relative gap to hand a solver whose objective is this part's, `objective` for
        its best plan: `mip_gap` of the whole plan's objective above the unavoidable points."""
        return mip_gap * self.whole(objective) / max(1.0, abs(objective))

    def whole(self, objective: float) -> float:
        """|Objective of the whole plan| for a plan of `objective` here (at least 1)."""
        return max(1.0, abs(objective + self.offset))


def still_feasible(p: Problem, sched: Schedule) -> Schedule:
    """The jobs of `sched` (e.g. the previous plan mapped onto this problem) whose runs are
    still valid here, laid down in placement order while they fit; the others unplaced."""
    out = Schedule.empty(p)
    loads = SiteLoads(p)
    first = sched.start_slot()
    for j in placement_order(p):
        s, run = int(sched.site[j]), sched.run[j]
        if s < 0 or not p.allowed[j, s] or first[j] < p.release_slot[j]:
            continue
        pieces = len(sched.segments(int(j)))
        if p.fixed_site[j] >= 0 and (s, first[j]) != (p.fixed_site[j], p.fixed_start[j]):
            continue
        if (pieces > 1 and not p.checkpointable[j]) or run.sum() != p.option_slots(
                int(j), s, int(first[j])) + p.overhead_slots * (pieces - 1):
            continue
        if loads.fits(int(j), s, run):
            loads.add(int(j), s, run)
            out.place(int(j), s, run.copy())
    return out


def solve(p: Problem, method: Method = Method.MILP, *, time_limit_s: float = 60.0,
          mip_gap: float = DEFAULT_MIP_GAP, builder: Builder = Builder.FAST,
          deterministic: bool = False, incumbent: Schedule | None = None,
          prices: Prices | None = None, columns: Columns | None = None) -> Outcome:
    """Plan with `method` within about `time_limit_s` seconds of wall time (or, when
    `deterministic`, within work limits). `incumbent` (e.g. the previous plan on this
    problem's grid) seeds the MILP and wins ties; `prices` (e.g. the previous plan's, on this
    grid) and `columns` (e.g. the previous plan's master's) start the column generation of
    large instances."""
    budget = _Budget(time_limit_s, deterministic)
    running = p.continue_site != NOT_FIXED
    fixed = p.fixed_site != NOT_FIXED
    # the MILP plans running checkpointable jobs with the rest: they may pause or move
    bound_here = fixed | (running & ~(p.checkpointable & (method is Method.MILP)))
    if not bound_here.any():
        return replace(_solve_free(p, method, budget, mip_gap, builder, incumbent, prices,
                                   columns), floor=p.unavoidable_points())
    base, sub, offset = _lay_down(p, bound_here)
    free = np.flatnonzero(~bound_here)
    sub_incumbent = None if incumbent is None else Schedule(incumbent.site[free].copy(),
                                                            incumbent.run[free].copy())
    out = _solve_free(sub, method, budget, mip_gap, builder, sub_incumbent, prices, columns,
                      offset)
    sched = base
    sched.site[free], sched.run[free] = out.schedule.site, out.schedule.run
    sched.charge_kw, sched.discharge_kw = out.schedule.charge_kw, out.schedule.discharge_kw
    ev = evaluate(p, sched)
    # the whole's objective is the bound jobs' points plus the rest's, exactly
    return Outcome(sched, ev, out.source, out.steps, out.status,
                   out.bound + (ev.objective - out.objective), out.build_seconds,
                   out.solve_seconds, out.prices, p.unavoidable_points(), out.columns)


def _lay_down(p: Problem, bound_here: np.ndarray) -> tuple[Schedule, Problem, float]:
    """(the jobs of `bound_here` laid down at their bound run, the problem of the others in
    the room they leave, the points of the laid-down work outside that problem)."""
    base = Schedule.empty(p)
    for j in np.flatnonzero(bound_here):
        k = int(p.bound_start[j])
        base.place(int(j), int(p.bound_site[j]), slice(k, k + int(p.dur_slots[j])))
    sub = p.residual(np.flatnonzero(~bound_here), *site_loads(p, base))
    return base, sub, evaluate(p, base).objective - evaluate(sub, Schedule.empty(sub)).objective


def _solve_free(p: Problem, method: Method, budget: _Budget, mip_gap: float,
                builder: Builder, incumbent: Schedule | None, prices: Prices | None,
                columns: Columns | None = None, offset: float = 0.0) -> Outcome:
    """`solve` for a problem whose jobs are all free to move (fixed jobs already split off,
    except running checkpointable ones in the exact models); `offset` is the points of the
    work laid down outside it."""
    t0 = time.perf_counter()
    if method is Method.ASAP:
        sched = asap(p)
        return Outcome(sched, evaluate(p, sched), "asap", (), SolveStatus.FEASIBLE, -np.inf,
                       0.0, time.perf_counter() - t0)
    if method is Method.GREEDY:
        sched = greedy(p)
        return Outcome(sched, evaluate(p, sched), "greedy", (), SolveStatus.FEASIBLE,
                       -np.inf, 0.0, time.perf_counter() - t0)
    plans = _Plans(p, budget, offset)
    if builder is Builder.PYOMO:
        start = greedy(p)
        return solve_pyomo(p, start, time_limit_s=budget.left(), t0=t0,
                           mip_gap=plans.solver_gap(mip_gap, evaluate(p, start).objective))
    if incumbent is not None:
        plans.add_previous(plans.fill(still_feasible(p, incumbent)))
    plans.add("milp:greedy", plans.fill())
    out = _solve_fast(p, plans, budget, mip_gap, t0, prices, columns)
    if incumbent is None:
        return out
    aligned = align(p, out.schedule, incumbent)
    return replace(out, schedule=aligned, evaluation=evaluate(p, aligned))


def align(p: Problem, sched: Schedule, prefer: Schedule) -> Schedule:
    """`sched` with interchangeable jobs (one class) trading places so that as many as
    possible keep their (site, start) in `prefer`: the same plan, less churn."""
    out = sched.copy()
    first, want = sched.start_slot(), prefer.start_slot()
    for cl in job_classes(p, np.arange(len(p.jobs))):
        if len(cl) < 2:
            continue
        holder: dict[tuple[int, int], list[int]] = {}  # (site, start) → jobs holding it
        for h in cl:
            holder.setdefault((int(sched.site[h]), int(first[h])), []).append(int(h))
        takes: dict[int, int] = {}  # job → the job whose run it takes
        for j in cl:
            held = holder.get((int(prefer.site[j]), int(want[j])), [])
            if prefer.site[j] >= 0 and held:
                takes[int(j)] = held.pop(held.index(j) if j in held else 0)
        rest = [h for hs in holder.values() for h in hs]
        for j in cl:
            if int(j) not in takes:
                takes[int(j)] = rest.pop(0)
        for j, h in takes.items():
            out.site[j], out.run[j] = sched.site[h], sched.run[h]
    return out


def full_model_nnz(p: Problem) -> int:
    """Estimated non-zeros of the full fast model: a start column has its duration × 2
    (load and GPU rows); a checkpointable job has, per site and slot from its release, 5
    (its run column's rows) — 14 with a restart overhead (its resume column's too) — and 2
    more in each slot past its deadline (its lateness) (`milp_fast.add_checkpointable_jobs`,
    counted on 4 sites × 96 slots)."""
    T = p.n_slots
    sites = p.allowed.sum(axis=1)
    starts = np.maximum(0, T - p.dur_slots - p.release_slot + 1) * sites
    per_slot = 14 if p.overhead_slots > 0 else 5
    late = np.maximum(0, T - np.maximum(p.deadline_slot, p.release_slot))
    per_job = np.where(p.checkpointable, sites * ((T - p.release_slot) * per_slot + 2 * late),
                       starts * p.dur_slots * 2)
    return int(per_job.sum())


def _mip_stage(p: Problem, fm: FastModel, plans: _Plans, left: float, mip_gap: float,
               source: str) -> tuple[SolveStatus, float]:
    """Solve the (full or restricted) MILP from the best plan; add its plan."""
    mip = run_highs(fm.matrix, time_limit_s=left,
                    mip_rel_gap=plans.solver_gap(mip_gap, plans.best()[3].objective),
                    start=schedule_vector(p, fm, plans.best()[2]),
                    max_nodes=plans.budget.max_nodes)
    if mip.x is not None:
        plans.add(source, plans.fill(decode(p, fm, mip.x)))
    return mip.status, mip.bound


def _solve_fast(p: Problem, plans: _Plans, budget: _Budget, mip_gap: float, t0: float,
                prices: Prices | None, columns: Columns | None) -> Outcome:
    left = budget.left
    status = SolveStatus.FEASIBLE
    may_split = bool((p.checkpointable & (p.fixed_site == NOT_FIXED)).any())
    if full_model_nnz(p) > FULL_MODEL_MAX_NNZ:
        if len(split(p)) > 1:
            bound, build_s, prices = _solve_by_parts(p, plans, budget, mip_gap)
            columns = None
        else:
            bound, build_s, prices, columns = _solve_by_columns(p, plans, budget, mip_gap,
                                                                prices, columns)
        if plans.gap(bound) > mip_gap and may_split:
            # the large paths plan single runs (running jobs going on where they run);
            # checkpointable jobs may then split, pause or move
            _relocate_best(p, plans, left() - budget.keep_back(DECODE_RESERVE_S), pieces=True)
    else:
        build_s, columns = 0.0, None
        # the last plan's prices, on this grid, may prove the best plan (often the last
        # one) within the gap already: no model to build
        bound = -np.inf if prices is None else lagrangian_bound(p, prices)
        if plans.gap(bound) > mip_gap:
            tb = time.perf_counter()
            fm = build_fast(p)
            build_s = time.perf_counter() - tb
            lp = run_highs(fm.matrix, time_limit_s=max(0.1, 0.5 * left()), relax=True)
            if lp.status is SolveStatus.OPTIMAL:
                bound = max(bound, lp.objective)
            if lp.x is not None:
                plans.add("milp:lp-rounding", plans.fill(decode(p, fm, lp.x)))
            if lp.y is not None:
                prices = Prices.from_duals(fm.blocks, lp.y, p.pue.shape)
                if may_split:
                    # the LP resumes in fractions; at its duals, schedules in pieces are
                    # priced whole
                    bound = max(bound, lagrangian_bound(p, prices))
            if plans.gap(bound) > mip_gap and left() > 0.2:
                mip_status, mip_bound = _mip_stage(p, fm, plans, left(), mip_gap, "milp")
                bound = max(bound, mip_bound)
                status = mip_status if mip_status is SolveStatus.OPTIMAL else status
    source, steps, best, ev = _closer_to_previous(p, plans, plans.chosen(bound, mip_gap),
                                                  bound, mip_gap)
    if plans.gap(bound, ev.objective) <= mip_gap:
        status = SolveStatus.OPTIMAL
    elif status is SolveStatus.OPTIMAL:
        status = SolveStatus.FEASIBLE  # the solver's own gap rule was looser than ours
    return Outcome(best, ev, source, steps, status, bound, build_s,
                   time.perf_counter() - t0 - build_s, prices, columns=columns)


def _closer_to_previous(p: Problem, plans: _Plans,
                        choice: tuple[str, tuple[str, ...], Schedule, Evaluation], bound: float,
                        mip_gap: float) -> tuple[str, tuple[str, ...], Schedule, Evaluation]:
    """`choice`, or — when re-planning and it is not the previous plan — `choice` with jobs
    moved back to their previous runs (`local_search.restore`) for at most the points that
    keep it within the gap it has or `mip_gap`, and `STABILITY_GAP` of the gap: fewer
    changed decisions (each one an Event in Kubernetes) for objective the gap allows."""
    previous = plans.previous
    if previous is None or choice is previous:
        return choice
    objective = choice[3].objective
    whole = plans.whole(objective)
    slack = max(mip_gap, plans.gap(bound, objective)) * whole - (objective - bound)
    allowance = min(STABILITY_GAP * mip_gap * whole, 0.99 * slack)
    if not allowance > 0:
        return choice
    back = restore(p, choice[2], previous[2], allowance)
    if back is choice[2]:
        return choice
    n = len(plans.found)
    plans.add(choice[0], back, (*choice[1], "restore"))
    kept = [item for item in plans.found[n:]
            if item[3].objective <= objective + allowance * (1 + 1e-9)]
    return min(kept, key=lambda item: item[3].objective) if kept else choice


def _relocate_best(p: Problem, plans: _Plans, time_limit_s: float, since: int = 0,
                   pieces: bool = False) -> None:
    """Improve the best plan so far (of those found from index `since` on) by single-job
    moves (`local_search.relocate`; with `pieces`, into and out of runs in pieces too)."""
    source, steps, best, _ = min(plans.found[since:], key=lambda item: item[3].objective)
    if time_limit_s > 0:
        plans.add(source, relocate(p, best, time_limit_s, pieces=pieces),
                  (*steps, "split" if pieces else "relocate"))


def _add_relocated(p: Problem, plans: _Plans, source: str, sched: Schedule,
                   time_limit_s: float) -> None:
    """Add a plan and its improvement by single-job moves (rounded plans gain most)."""
    n = len(plans.found)
    plans.add(source, sched)
    if len(plans.found) > n:
        _relocate_best(p, plans, time_limit_s, since=n)


def _search_neighbourhoods(p: Problem, plans: _Plans, master: Master, mip_gap: float,
                           time_limit_s: float) -> None:
    """Improve the best plan in the model of the generated columns and the columns of every
    plan found: its MILP for at most `RESTRICTED_MIP_S`, then re-solving neighbourhoods of
    the best plan (`lns.improve`); add what they find. Both stop once the plan is within
    `mip_gap` of the master's bound, or of that model's LP optimum: no plan of the model is
    better by more (on 1,000-job states whose bound prices runs in pieces the model has no
    columns for, the rounds otherwise ran out the budget for 0.03 %)."""
    opts = set(zip(*(a.tolist() for a in master.opts), strict=True))
    for _, _, sched, _ in plans.found:
        opts |= schedule_options(p, master.classes, sched)
    arrays = tuple(np.array(a, dtype=int) for a in zip(*sorted(opts), strict=True))
    fm = build_fast(p, preemptive=False, options=arrays, classes=master.classes)
    t0 = time.perf_counter()
    lp = run_highs(fm.matrix, time_limit_s=time_limit_s, relax=True)
    reach = master.bound
    if lp.status is SolveStatus.OPTIMAL:
        reach = max(reach, lp.objective)
    _mip_stage(p, fm, plans, plans.budget.step(min(RESTRICTED_MIP_S, time_limit_s - lp.seconds)),
               mip_gap, "milp:colgen")
    if plans.gap(reach) <= mip_gap:
        return
    x, improved = improve(fm.matrix, fm.starts, schedule_vector(p, fm, plans.best()[2]),
                          time_limit_s=time_limit_s - (time.perf_counter() - t0),
                          rounds=LNS_ROUNDS if plans.budget.deterministic else sys.maxsize,
                          done=lambda objective: plans.gap(reach, objective) <= mip_gap,
                          sub_time_s=plans.budget.step(SUB_TIME_S),
                          sub_nodes=LNS_NODES if plans.budget.deterministic else None)
    if improved:
        plans.add("milp:colgen-lns", plans.fill(decode(p, fm, x)))


def _solve_by_parts(p: Problem, plans: _Plans, budget: _Budget,
                    mip_gap: float) -> tuple[float, float, Prices | None]:
    """Very large instances: the parts' and the residual's LP solutions placed together
    (`decompose`), filled greedily, then single-job moves with the time left. Returns the
    bound, the parts' seconds and the prices of the bound."""
    tb = time.perf_counter()
    sched, bound, results = solve_parts(p, PARTS_SHARE * budget.left())
    build_s = time.perf_counter() - tb
    plans.add("milp:parts", plans.fill(sched))
    if plans.gap(bound) > mip_gap:
        _relocate_best(p, plans, budget.left() - budget.keep_back(DECODE_RESERVE_S))
    return bound, build_s, average_prices(results)


def _solve_by_columns(p: Problem, plans: _Plans, budget: _Budget, mip_gap: float,
                      prices: Prices | None, columns: Columns | None
                      ) -> tuple[float, float, Prices | None, Columns | None]:
    """Large instances: column generation for the LP bound (from `prices` and `columns` when
    given);
    single-job moves on the best plan so far (often the previous plan, when re-planning),
    which may already be within the gap; then a price-and-dive for a plan, with time left
    the MILP over the generated columns for at most `RESTRICTED_MIP_S` and then a
    neighbourhood search over them (`lns`; only while the master is small, and not when
    re-planning: over 24 warm re-plans of `benchmarks/replan_speed.py` the MILP over those
    columns never gave the best plan and took most of the time), and single-job moves on
    the best plan last. Returns the bound, the column
    generation's seconds, the prices of its best bound (`Master.center`) and the columns
    its LP uses."""
    left = budget.left
    tb = time.perf_counter()
    master = column_generation(p, plans.best()[2], time_limit_s=COLGEN_SHARE * left(),
                               prices=prices, enough=plans.enough(mip_gap),
                               pieces=full_model_nnz(p) <= PIECES_MAX_NNZ, columns=columns)
    build_s = time.perf_counter() - tb
    if master.x is None:
        return master.bound, build_s, prices, None
    prices, columns = master.center, master.columns()
    reserve = budget.keep_back(DECODE_RESERVE_S + RELOCATE_SHARE * left())

    def until_reserve() -> float:
        return left() - reserve

    _add_relocated(p, plans, "milp:lp-rounding",
                   plans.fill(master.decode(master.x)), RELOCATE_SHARE * left())
    if plans.gap(master.bound) > mip_gap and plans.best()[1][-1:] != ("relocate",):
        _relocate_best(p, plans, RELOCATE_SHARE * left())
    if plans.gap(master.bound) <= mip_gap:
        return master.bound, build_s, prices, columns
    x = dive(master, time_limit_s=until_reserve())
    if x is not None:
        _add_relocated(p, plans, "milp:colgen-dive", plans.fill(master.decode(x)),
                       RELOCATE_SHARE * left())
    if (plans.gap(master.bound) > mip_gap and until_reserve() > LNS_MIN_S
            and len(master.opts[0]) <= LNS_MAX_COLUMNS and plans.previous is None):
        _search_neighbourhoods(p, plans, master, mip_gap, until_reserve())
    if plans.gap(master.bound) > mip_gap:
        _relocate_best(p, plans, left() - budget.keep_back(DECODE_RESERVE_S))
    return master.bound, build_s, prices, columns


