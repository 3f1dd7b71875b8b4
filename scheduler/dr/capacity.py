"""ΔkW: how much a site's (or a region's) facility power can move below (down, 下げDR) or
above (up, 上げDR) the current plan over a window, computed with the planning model itself.
A region's sites are solved together — they share work, so its ΔkW is not the sum of its
sites' in general.

For site s, window [t, t + L): the plan is the one the re-planner made (`base`). One MILP
per query re-plans the jobs that matter to it (`movers`) in the room the rest of the plan
leaves, built from the core's fast model (`milp_fast`) with one more column, R kW, and the
objective "maximise R":

* down: facility kW of s in every window slot ≤ the plan's − R; the movers are the jobs the
  plan runs at s during the window, and each may go to any allowed site and time outside it;
* up: facility kW of s in every window slot ≥ the plan's + R (GPUs, power cap and limits
  still hold); the movers are the jobs that could run at s during the window and do not
  (none planned at a battery site: the load it would leave may be what the planned
  discharge there leans on), and each may start there so that it overlaps the window, or
  stay as planned;

and every job that meets its deadline in the plan must still meet it (start columns that
end late, lateness and leaving a due job out are closed; a job the plan defers — due after
the horizon — may still be deferred). Jobs that may never move stay exactly as planned:
running jobs that are not checkpointable (`Problem.fixed_site`) and latency-critical ones
(a running checkpointable job may pause or migrate for a down query, paying its restart
overhead). A mover runs as one piece: on its planned start (or, planned in pieces, as
planned) or on the `OPTIONS_PER_SITE` start(s) per site nearest to it (down) or to the
window (up) at which it fits in the room alone; at most `MAX_MOVERS` move. So a query is a
small model however large the plan. The answer is the R of the best *feasible* plan found
(the plan itself is feasible with R = 0, so it is never negative; `delta_plan` returns that
plan): a value the fleet can really deliver, not an optimistic bound — and, as only the
movers and these starts are re-planned, possibly less than a re-plan of the whole fleet
could free. The queries of a table run on threads (HiGHS and numpy release the GIL).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from inputs.errors import InputError
from policies.job import Latency
from scheduler.core.battery_model import battery_cells
from scheduler.core.milp_fast import (
    FastModel,
    all_start_options,
    build_fast,
    class_of,
    decode,
    job_classes,
    ragged,
    schedule_vector,
)
from scheduler.core.problem import NOT_FIXED, Problem
from scheduler.core.schedule import Schedule, site_loads
from scheduler.core.solver import SolveStatus, run_highs

WINDOW_MINUTES = (30, 60, 180)
DIRECTIONS = ("down", "up")
BLOCK_MINUTES = 180
"""Japan's balancing market trades 3-hour blocks (00:00, 03:00, … JST): a block's value is
the ΔkW of the 180-minute window starting at it."""
OPTIONS_PER_SITE = 1
"""Start slots a mover keeps per allowed site in a ΔkW query, besides its planned one. More
cost time about in proportion and gained little: with 4, ΔkW summed over the benchmark's
1,000-job state and over the built-in example's table was ≤ 1.1 % higher, at 2.5× the time."""
MAX_MOVERS = 48
"""Movers a ΔkW query re-plans at most: those that can draw the most kW over the window."""
QUERY_TIME_LIMIT_S = 5.0
"""Wall budget of one ΔkW query (its answer stays feasible when it runs out)."""


@dataclass(frozen=True)
class Capacity:
    """One ΔkW figure: facility kW that `scope` `id` can move in `direction`, held for
    `window_minutes` from `start` (UTC)."""

    scope: str
    id: str
    direction: str
    window_minutes: int
    start: pd.Timestamp
    kw: float


@dataclass(frozen=True)
class DrModel:
    """The re-plannable part of a plan as a MILP, built once and queried many times."""

    problem: Problem
    """The residual problem of the jobs that may move."""
    model: FastModel
    plan_it_kw: np.ndarray
    """(S, T) IT kW the movable jobs draw in the plan."""
    plan_net_kw: np.ndarray
    """(S, T) battery charge − discharge in the plan, kW (0 where no battery)."""
    start: np.ndarray
    """The plan of the movable jobs as a start vector of `model` (R = 0)."""
    free: np.ndarray
    """The jobs of `problem`, as indices of the whole plan's problem."""
    stay: np.ndarray
    """The jobs (of `problem`) planned in pieces, in the order of the job-stay columns."""
    unplaced_stays: bool
    """A job the model leaves out stays as planned (up), or is deferred (down)."""


def _with_stay_columns(p: Problem, fm: FastModel, plan: Schedule, jobs: np.ndarray
                       ) -> FastModel:
    """`fm` plus one binary column per job of `jobs` ("job-stay"): the job runs as `plan`
    has it (its load in the site rows, one job of its class assigned)."""
    if jobs.size == 0:
        return fm
    m, T = fm.matrix, p.n_slots
    n = m.A.shape[1]
    which = class_of(len(p.jobs), fm.class_jobs)
    a0, ldef0, gpu0 = (fm.blocks[name][0] for name in ("class-assign", "site-load-def",
                                                        "site-gpu-upper"))
    k = jobs.size
    rows, cols, vals = [a0 + which[jobs]], [np.arange(k)], [np.ones(k)]
    for i, j in enumerate(jobs):
        cell = plan.site[j] * T + np.flatnonzero(plan.run[j])
        rows += [ldef0 + cell, gpu0 + cell]
        cols += [np.full(cell.size, i)] * 2
        vals += [np.full(cell.size, -p.it_kw[j]), np.full(cell.size, float(p.gpus[j]))]
    extra = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                      np.concatenate(cols))),
                              shape=(m.A.shape[0], k))
    matrix = m.with_columns(extra, np.zeros(k), np.zeros(k), np.ones(k), np.ones(k, bool))
    return FastModel(matrix, fm.class_jobs, fm.starts, fm.slots,
                     {**fm.blocks, "job-stay": (n, k)})


def block_starts(starts: pd.DatetimeIndex) -> np.ndarray:
    """(n,) bool: the starts that begin a 3-hour JST block."""
    jst = pd.DatetimeIndex(starts).tz_convert("Asia/Tokyo")
    return np.asarray((jst.hour * 60 + jst.minute) % BLOCK_MINUTES == 0)


def movable(p: Problem) -> np.ndarray:
    """(J,) bool: jobs DR may re-plan: not fixed (as a running job that is not
    checkpointable is) and not latency-critical. A running checkpointable job may pause or
    migrate (and pays its restart overhead)."""
    critical = np.array([j.latency is Latency.CRITICAL for j in p.jobs], dtype=bool)
    return (p.fixed_site == NOT_FIXED) & ~critical


def movers(p: Problem, base: Schedule, group: np.ndarray, slots: np.ndarray,
           direction: str) -> np.ndarray:
    """(J,) bool: the movable jobs a query of `group`'s facility kW over `slots` re-plans:
    down, those the plan runs there then; up, of the pending ones that could run there then
    and do not (and are not planned at a battery site), the `MAX_MOVERS` that fit there in the
    room the plan leaves and can draw the most kW over the window."""
    state = _plan_state(p, base)
    here = np.isin(base.site, group) & base.run[:, slots].any(axis=1)
    if direction == "down":
        return state.movable & here
    window = (p.release_slot <= slots[-1]) & (p.deadline_slot > slots[0])
    # not from a battery site: the load it would leave there may be what the planned
    # discharge is beside (the grid draw must stay ≥ 0)
    at_battery = (base.site >= 0) & p.has_battery[np.maximum(base.site, 0)]
    pending = p.continue_site == NOT_FIXED
    cand = np.flatnonzero(state.movable & pending & ~here & window
                          & p.allowed[:, group].any(axis=1) & ~at_battery)
    # of those, the ones with a start on the group overlapping the window, in time, where
    # they fit beside the plan, the most kW over the window first
    it_kw, gpus = state.it_kw, state.gpus
    pair = np.argwhere(p.allowed[np.ix_(cand, group)])
    j, site = cand[pair[:, 0]], group[pair[:, 1]]
    dur = p.dur_slots[j]
    first = np.maximum(p.release_slot[j], slots[0] - dur + 1)
    last = np.minimum(slots[-1], np.minimum(p.deadline_slot[j], p.n_slots) - dur)
    owner, start = ragged(first, np.maximum(0, last - first + 1))
    j, site, dur = j[owner], site[owner], dur[owner]
    fits = (_run_min(p.gpu_cap - gpus, site, start, dur) >= p.gpus[j] - 1e-9) & (
        _run_min(p.it_cap_kw - it_kw, site, start, dur) >= p.it_kw[j] - 1e-9)
    cand = np.unique(j[fits])
    draw = p.it_kw[cand] * np.minimum(p.dur_slots[cand], slots.size)
    return np.isin(np.arange(len(p.jobs)), cand[np.lexsort((cand, -draw))[:MAX_MOVERS]])


def query_options(p: Problem, classes: list[np.ndarray], plan: Schedule, pieces: np.ndarray,
                  group: np.ndarray, slots: np.ndarray, direction: str
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The (class, site, start) columns of a query's model: every planned start (of the jobs
    not planned in `pieces`), and per class and site the `OPTIONS_PER_SITE` starts nearest
    the planned one (down: off `group` during `slots`) or the window (up: on `group`,
    overlapping `slots`) where one job of the class fits in the room alone (GPUs and IT kW
    over its whole run). Also (classes,) bool: the classes that have such a start (the
    others can only stay as planned)."""
    cls, site, start = all_start_options(p, classes)
    if cls.size == 0:
        return (cls, site, start), np.zeros(len(classes), dtype=bool)
    rep = np.array([cl[0] for cl in classes])
    first = plan.start_slot()
    which = class_of(len(p.jobs), classes)
    placed = (plan.site >= 0) & ~pieces
    S = len(p.sites)
    key = (cls * S + site) * p.n_slots + start
    planned = np.isin(key, (which[placed] * S + plan.site[placed]) * p.n_slots + first[placed])
    j = rep[cls]
    dur = p.dur_slots[j]
    overlaps = np.isin(site, group) & (start <= slots[-1]) & (start + dur > slots[0])
    cand = np.flatnonzero(overlaps != (direction == "down"))
    j, d = j[cand], dur[cand]
    cand = cand[(_run_min(p.gpu_cap, site[cand], start[cand], d) >= p.gpus[j] - 1e-9)
                & (_run_min(p.it_cap_kw, site[cand], start[cand], d) >= p.it_kw[j] - 1e-9)]
    if direction == "down":
        target = np.array([first[cl].min() for cl in classes])[cls]
    else:
        target = np.full(cls.size, slots[0])
    # rank the useful starts of each (class, site) by distance to the target
    pair = (cls * S + site)[cand]
    order = np.lexsort((np.abs(start[cand] - target[cand]), pair))
    pair = pair[order]
    new_pair = np.concatenate(([True], pair[1:] != pair[:-1]))
    group_start = np.maximum.accumulate(np.where(new_pair, np.arange(pair.size), 0))
    rank = np.arange(pair.size) - group_start
    keep = planned.copy()
    keep[cand[order[rank < OPTIONS_PER_SITE]]] = True
    return (cls[keep], site[keep], start[keep]), np.isin(np.arange(len(classes)), cls[cand])


def _run_min(room: np.ndarray, site: np.ndarray, start: np.ndarray, dur: np.ndarray
             ) -> np.ndarray:
    """min(room[site, start:start + dur]) for every run (dur ≥ 1), from a sparse table of
    minima over power-of-two spans."""
    if dur.size == 0:
        return np.zeros(0)
    table = [room]
    while 2 ** len(table) <= dur.max():  # (a span's last columns, never read, stay as were)
        half = 2 ** (len(table) - 1)
        prev = table[-1]
        nxt = prev.copy()
        np.minimum(prev[:, :-half], prev[:, half:], out=nxt[:, :-half])
        table.append(nxt)
    level = np.floor(np.log2(dur)).astype(int)
    spans = np.stack(table)
    return np.minimum(spans[level, site, start], spans[level, site, start + dur - 2 ** level])


@dataclass(frozen=True)
class _PlanState:
    """What every query of one plan reads."""

    it_kw: np.ndarray
    gpus: np.ndarray
    """(S, T) IT kW and GPUs the plan uses (`site_loads`)."""
    movable: np.ndarray
    """(J,) `movable`."""


_last_plan: list[tuple[Problem, Schedule, _PlanState]] = []


def _plan_state(p: Problem, base: Schedule) -> _PlanState:
    """The `_PlanState` of plan `base` of `p`, remembered for the last plan (every query of
    a table reads the same)."""
    last = _last_plan[-1] if _last_plan else None
    if last is not None and last[0] is p and last[1] is base:
        return last[2]
    state = _PlanState(*site_loads(p, base), movable(p))
    _last_plan[:] = [(p, base, state)]
    return state


def dr_model(p: Problem, base: Schedule, free_mask: np.ndarray, group: np.ndarray,
             slots: np.ndarray, direction: str) -> DrModel:
    """The jobs of `free_mask` re-planned in the room the others leave as planned in `base`
    (a plan of `p`) as single runs on the starts `query_options` keeps — or, for a job the
    plan runs in pieces, as planned (a `stay` column) — with lateness beyond the plan's
    closed. Jobs with no start to move to stay as planned too, and of the others the
    `MAX_MOVERS` that can draw the most kW over the window move. Up, a mover that does not
    start on the group stays as planned (it is "unplaced" in the model, its planned load
    part of the room), so the model holds the group's sites only."""
    up = direction == "up"
    for _ in range(2):
        free = np.flatnonzero(free_mask)
        state = _plan_state(p, base)
        it_kw, gpus = state.it_kw, state.gpus
        if up:  # a mover may start on the group or stay as planned ("unplaced" here), so
            # its planned load stays in the room: elsewhere it can only fall
            sub = p.residual(free, it_kw, gpus)
            sub = dataclasses.replace(sub, allowed=sub.allowed & np.isin(
                np.arange(len(p.sites)), group)[None, :])
            mine = Schedule(np.full(free.size, -1), np.zeros((free.size, p.n_slots), bool),
                            base.charge_kw, base.discharge_kw)
        else:
            free_kw, free_gpus = site_loads(p, base, free)
            sub = p.residual(free, it_kw - free_kw, gpus - free_gpus)
            mine = Schedule(base.site[free].copy(), base.run[free].copy(), base.charge_kw,
                            base.discharge_kw)
        # all in one piece; a running (checkpointable) job that moves stops now and runs
        # later, its restart overhead included, and staying is its planned run
        resumed = sub.continue_site != NOT_FIXED
        sub = dataclasses.replace(
            sub, checkpointable=np.zeros(free.size, dtype=bool),
            dur_slots=sub.dur_slots + sub.resume_slots, resume_slots=np.zeros(free.size, int),
            release_slot=np.where(resumed, np.maximum(sub.release_slot, 1), sub.release_slot),
            continue_site=np.full(free.size, NOT_FIXED))
        pieces = (mine.site >= 0) & (resumed | (mine.end_slot() - mine.start_slot()
                                                > mine.run.sum(axis=1)))
        classes = job_classes(sub, np.arange(free.size))
        options, can_move = query_options(sub, classes, mine, pieces, group, slots, direction)
        chosen = free[np.concatenate([classes[c] for c in np.flatnonzero(can_move)] or
                                     [np.zeros(0, dtype=int)])]
        if can_move.all() and chosen.size <= MAX_MOVERS:
            break
        # once more with the jobs that can move, the most kW over the window first
        draw = p.it_kw[chosen] * np.minimum(p.dur_slots[chosen], slots.size)
        chosen = chosen[np.lexsort((chosen, -draw))[:MAX_MOVERS]]
        free_mask = np.isin(np.arange(len(p.jobs)), chosen)
    fm = _with_stay_columns(sub, build_fast(sub, classes=classes, options=options), mine,
                            np.flatnonzero(pieces))
    m = fm.matrix
    ub = m.ub.copy()
    late_in_plan = (mine.site >= 0) & (mine.end_slot() > sub.deadline_slot)
    may_wait = sub.deferrable | (mine.site < 0)  # due later, or left out by the plan already
    st = fm.starts
    rep = np.array([jobs[0] for jobs in fm.class_jobs], dtype=int)
    class_late = np.array([late_in_plan[jobs].any() for jobs in fm.class_jobs], dtype=bool)
    if rep.size:
        j = rep[st.cls]
        ends_late = (st.start + sub.dur_slots[j] > sub.deadline_slot[j]) & ~class_late[st.cls]
        ub[st.col[ends_late]] = 0.0
    if "class-unplaced" in fm.blocks:
        u0, n = fm.blocks["class-unplaced"]
        ub[u0:u0 + n] = [float(may_wait[jobs].sum()) for jobs in fm.class_jobs]
    if "job-unplaced" in fm.blocks:
        u0, n = fm.blocks["job-unplaced"]
        ub[u0:u0 + n] = may_wait[fm.slots.jobs].astype(float)
        h0, n = fm.blocks["job-late-slots"]
        ub[h0:h0 + n] = np.where(late_in_plan[fm.slots.jobs], np.inf, 0.0)
    start = schedule_vector(sub, fm, mine)
    if pieces.any():  # their runs are the stay columns, not the starts they begin with
        counted = schedule_vector(sub, fm, Schedule(np.where(pieces, -1, mine.site),
                                                    mine.run & ~pieces[:, None]))
        for name in ("class-start-count", "class-unplaced"):
            c0, n = fm.blocks[name]
            start[c0:c0 + n] = counted[c0:c0 + n] - (name == "class-unplaced") * np.bincount(
                class_of(free.size, classes)[pieces], minlength=n)
        c0, n = fm.blocks["job-stay"]
        start[c0:c0 + n] = 1.0
    if "site-over-cap-kw" in fm.blocks:  # no more above a cap than the plan draws there
        o0, n = fm.blocks["site-over-cap-kw"]
        ub[o0:o0 + n] = start[o0:o0 + n]
    fm = FastModel(dataclasses.replace(m, c=np.zeros_like(m.c), ub=ub), fm.class_jobs,
                   fm.starts, fm.slots, fm.blocks)
    plan_it, _ = site_loads(sub, mine)
    net = mine.net_kw()
    plan_net = np.zeros(p.pue.shape) if net is None else np.where(
        sub.has_battery[:, None], net, 0.0)
    return DrModel(sub, fm, plan_it, plan_net, start, free, np.flatnonzero(pieces), up)


def delta_kw(p: Problem, base: Schedule, sites: int | Sequence[int], first: int, length: int,
             direction: str, time_limit_s: float = QUERY_TIME_LIMIT_S) -> float:
    """ΔkW (facility kW, ≥ 0) of a site — or of several sites together (a region: their
    summed facility kW) — over slots [first, first + length) in `direction`, given the plan
    `base` of `p`."""
    return delta_plan(p, base, sites, first, length, direction, time_limit_s)[0]


def delta_plan(p: Problem, base: Schedule, sites: int | Sequence[int], first: int,
               length: int, direction: str, time_limit_s: float = QUERY_TIME_LIMIT_S
               ) -> tuple[float, Schedule]:
    """`delta_kw` and the plan of `p` that delivers it (`base` where it is 0)."""
    group = np.atleast_1d(np.asarray(sites, dtype=int))
    if not 0 <= first < p.n_slots or length < 1:
        raise InputError("ΔkW query", "window", (first, length),
                         f"must start inside the plan's {p.n_slots} slots and last ≥ 1 slot")
    slots = np.arange(first, min(p.n_slots, first + length))
    free = movers(p, base, group, slots, direction)
    if not free.any() and not p.has_battery[group].any():
        return 0.0, base  # nothing at s can move
    dm = dr_model(p, base, free, group, slots, direction)
    sub, m = dm.problem, dm.model.matrix
    cells = np.ix_(group, slots)
    pue = sub.pue[cells]
    stored = sub.has_battery[group][:, None]
    # facility kW of the window slots: the movable jobs' and the batteries' (the rest stays)
    plan_each = dm.plan_it_kw[cells] * pue + dm.plan_net_kw[cells]
    plan_kw = plan_each.sum(axis=0)
    if direction == "down":  # down to no grid draw at battery sites, to no movable load
        top = float(np.min((plan_each + np.where(stored, sub.base_kw[cells], 0.0)).sum(axis=0)))
        lo, hi, sign = -np.inf, plan_kw, 1.0
    else:
        room = np.where(stored, sub.facility_cap_kw[cells] - sub.base_kw[cells] - plan_each,
                        (sub.it_cap_kw[cells] - dm.plan_it_kw[cells]) * pue)
        top = float(np.min(room.sum(axis=0)))
        lo, hi, sign = plan_kw, np.inf, -1.0
    if top <= 1e-9:
        return 0.0, base
    L0, _ = dm.model.blocks["site-it-kw"]
    n, k = m.A.shape[1], len(slots)
    # one row per slot: Σ_sites (PUE × L[s, t] + charge − discharge) ± R against the plan's
    rows = [np.tile(np.arange(k), len(group)), np.arange(k)]
    cols = [(L0 + group[:, None] * sub.n_slots + slots[None, :]).ravel(), np.full(k, n)]
    vals = [pue.ravel(), np.full(k, sign)]
    lb, ub = m.lb.copy(), m.ub.copy()
    if "site-battery-charge-kw" in dm.model.blocks:
        _battery_terms(dm, group, slots, first, rows, cols, vals, lb, ub)
    window = sparse.coo_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                       np.concatenate(cols))), shape=(k, n + 1))
    model = dataclasses.replace(m, lb=lb, ub=ub).with_columns(
        sparse.csc_matrix((m.A.shape[0], 1)), -1.0, 0.0, top, False).with_rows(
        window, np.broadcast_to(lo, k), np.broadcast_to(hi, k))
    lp = run_highs(model, time_limit_s=time_limit_s, relax=True)
    if lp.x is None or lp.x[n] <= 1e-9:
        return 0.0, base  # the relaxation bounds R: nothing to move
    x = lp.x  # an integral relaxation optimum is a plan: exact
    if not _integral(x, model.integer):
        out = run_highs(model, time_limit_s=time_limit_s, mip_rel_gap=0.05,
                        start=np.append(dm.start, 0.0))
        if out.x is None or out.status is SolveStatus.INFEASIBLE or out.x[n] <= 1e-9:
            return 0.0, base
        x = out.x
    return float(x[n]), _merged(p, base, dm, x[:n])


def _merged(p: Problem, base: Schedule, dm: DrModel, x: np.ndarray) -> Schedule:
    """The whole plan with the movers and the batteries as solution `x` of `dm` has them."""
    moved = decode(dm.problem, dm.model, x)
    if dm.stay.size:  # a job kept as planned (in pieces, or running)
        c0, _ = dm.model.blocks["job-stay"]
        which = class_of(len(dm.problem.jobs), dm.model.class_jobs)
        for i, j in enumerate(dm.stay):
            if x[c0 + i] > 0.5:
                # the start columns may have given its run to it rather than to an
                # identical job: that one takes the run, and it keeps its own
                k = next(k for k in [j, *dm.model.class_jobs[which[j]]] if moved.site[k] < 0)
                moved.site[k], moved.run[k] = moved.site[j], moved.run[j].copy()
                moved.site[j], moved.run[j] = base.site[dm.free[j]], base.run[dm.free[j]]
    site, run = base.site.copy(), base.run.copy()
    out = moved.site < 0 if dm.unplaced_stays else np.zeros(dm.free.size, dtype=bool)
    site[dm.free[~out]], run[dm.free[~out]] = moved.site[~out], moved.run[~out]
    charge, discharge = base.charge_kw, base.discharge_kw
    if moved.charge_kw is not None and moved.discharge_kw is not None:
        stored = p.has_battery[:, None]
        charge = np.where(stored, moved.charge_kw, 0.0 if charge is None else charge)
        discharge = np.where(stored, moved.discharge_kw, 0.0 if discharge is None else discharge)
    return Schedule(site, run, charge, discharge)


def _battery_terms(dm: DrModel, group: np.ndarray, slots: np.ndarray, first: int,
                   rows: list[np.ndarray], cols: list[np.ndarray], vals: list[np.ndarray],
                   lb: np.ndarray, ub: np.ndarray) -> None:
    """Add the group's batteries to the window rows (charge + , discharge −), and hold them
    as planned before the window — each answers from its planned state of charge — and the
    other sites' batteries as planned throughout. Mutates the row lists and the column
    bounds."""
    p = dm.problem
    T = p.n_slots
    cells = battery_cells(p)
    c0, d0, y0 = (dm.model.blocks[name][0] for name in (
        "site-battery-charge-kw", "site-battery-discharge-kw", "site-battery-charging"))
    held = np.flatnonzero((cells % T < first) | ~np.isin(cells // T, group))
    for col0 in (c0, d0, y0):
        lb[col0 + held] = ub[col0 + held] = dm.start[col0 + held]
    where = {int(cell): i for i, cell in enumerate(cells)}
    for k, t in enumerate(slots):
        for s in group:
            i = where.get(int(s) * T + int(t))
            if i is not None:
                rows.append(np.array([k, k]))
                cols.append(np.array([c0 + i, d0 + i]))
                vals.append(np.array([1.0, -1.0]))


def _integral(x: np.ndarray, integer: np.ndarray, tol: float = 1e-6) -> bool:
    """Every integer column of solution `x` takes a whole value."""
    v = x[integer]
    return bool(np.all(np.abs(v - np.round(v)) <= tol))


def capacity_table(p: Problem, base: Schedule, *, sites: Sequence[str] | None = None,
                   windows: Sequence[int] = WINDOW_MINUTES,
                   directions: Sequence[str] = DIRECTIONS, hours: float = 24.0,
                   every_minutes: int = 30, time_limit_s: float = QUERY_TIME_LIMIT_S,
                   regions: bool = False, workers: int | None = None) -> list[Capacity]:
    """ΔkW per site (and, with `regions`, per grid region: its sites together), direction,
    window and start over the first `hours` of the plan, one start every `every_minutes`
    (at least one slot). `sites` restricts both to those sites (a region to the listed
    sites in it). The queries run on `workers` threads (default: one per CPU this process
    may use)."""
    slot_min = round(p.slot_h * 60)
    step = max(1, math.ceil(every_minutes / slot_min))
    starts = range(0, min(p.n_slots, math.ceil(hours * 60 / slot_min)), step)
    ids = [s.id for s in p.sites]
    chosen = list(sites or ids)
    scopes: list[tuple[str, str, list[int]]] = [("site", sid, [ids.index(sid)])
                                                for sid in chosen]
    if regions:
        for region in sorted({p.sites[ids.index(sid)].region for sid in chosen}):
            scopes.append(("region", region, [ids.index(sid) for sid in chosen
                                              if p.sites[ids.index(sid)].region == region]))
    queries = [(scope, sid, group, direction, minutes, k) for scope, sid, group in scopes
               for direction in directions for minutes in windows for k in starts]

    def one(q: tuple[str, str, list[int], str, int, int]) -> Capacity:
        scope, sid, group, direction, minutes, k = q
        length = max(1, math.ceil(minutes / slot_min))
        kw = delta_kw(p, base, group, k, length, direction, time_limit_s)
        return Capacity(scope, sid, direction, minutes, p.slot_starts[k], kw)

    # the queries are independent and HiGHS and numpy release the GIL: threads share the plan
    with ThreadPoolExecutor(max(1, workers or len(os.sched_getaffinity(0)))) as pool:
        return list(pool.map(one, queries))
