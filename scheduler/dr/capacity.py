"""ΔkW: how much a site's (or a region's) facility power can move below (down, 下げDR) or
above (up, 上げDR) the current plan over a window, computed with the planning model itself.
A region's sites are solved together — they share work, so its ΔkW is not the sum of its
sites' in general.

For site s, window [t, t + L): the plan is the one the re-planner made (`base`). Jobs that
may not move stay exactly as planned: running jobs (`Problem.bound_site`) and
latency-critical ones, and — to keep each query small — every job that could not run on s
during the window. The others are re-planned in the room those leave, by one MILP per
query built from the core's fast model (`milp_fast`) with one more column, R kW, and the
objective "maximise R":

* down: facility kW of s in every window slot ≤ the plan's − R;
* up: facility kW of s in every window slot ≥ the plan's + R (GPUs, power cap and limits
  still hold);

and every job that meets its deadline in the plan must still meet it (start columns that
end late, lateness and leaving a due job out are closed; a job the plan defers — due after
the horizon — may still be deferred). The answer is the R of the best *feasible* plan the
solver finds within its budget (the plan itself is feasible with R = 0, so it is never
negative): a value the fleet can really deliver, not an optimistic bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from inputs.errors import InputError
from policies.job import Latency
from scheduler.core.battery_model import battery_cells
from scheduler.core.milp_fast import FastModel, build_fast, schedule_vector
from scheduler.core.problem import NOT_FIXED, Problem
from scheduler.core.schedule import Schedule, site_loads
from scheduler.core.solver import MatrixModel, SolveStatus, run_highs

WINDOW_MINUTES = (30, 60, 180)
DIRECTIONS = ("down", "up")
BLOCK_MINUTES = 180
"""Japan's balancing market trades 3-hour blocks (00:00, 03:00, … JST): a block's value is
the ΔkW of the 180-minute window starting at it."""
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


def block_starts(starts: pd.DatetimeIndex) -> np.ndarray:
    """(n,) bool: the starts that begin a 3-hour JST block."""
    jst = pd.DatetimeIndex(starts).tz_convert("Asia/Tokyo")
    return np.asarray((jst.hour * 60 + jst.minute) % BLOCK_MINUTES == 0)


def movable(p: Problem) -> np.ndarray:
    """(J,) bool: jobs DR may re-plan (not running, not fixed, not latency-critical)."""
    critical = np.array([j.latency is Latency.CRITICAL for j in p.jobs], dtype=bool)
    return (p.bound_site == NOT_FIXED) & ~critical


def dr_model(p: Problem, base: Schedule, free_mask: np.ndarray) -> DrModel:
    """The jobs of `free_mask` re-planned in the room the others leave as planned in `base`
    (a plan of `p`), with lateness beyond the plan's closed."""
    free = np.flatnonzero(free_mask)
    keep = Schedule(np.where(free_mask, -1, base.site), base.run & ~free_mask[:, None])
    sub = p.residual(free, *site_loads(p, keep))
    mine = Schedule(base.site[free].copy(), base.run[free].copy(), base.charge_kw,
                    base.discharge_kw)
    fm = build_fast(sub)
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
    if "site-over-cap-kw" in fm.blocks:  # no more above a cap than the plan draws there
        o0, n = fm.blocks["site-over-cap-kw"]
        ub[o0:o0 + n] = start[o0:o0 + n]
    fm = FastModel(MatrixModel(np.zeros_like(m.c), m.lb, ub, m.integer, m.A, m.row_lo,
                               m.row_hi), fm.class_jobs, fm.starts, fm.slots, fm.blocks)
    plan_it, _ = site_loads(sub, mine)
    net = mine.net_kw()
    plan_net = np.zeros(p.pue.shape) if net is None else np.where(
        sub.has_battery[:, None], net, 0.0)
    return DrModel(sub, fm, plan_it, plan_net, start)


def delta_kw(p: Problem, base: Schedule, sites: int | Sequence[int], first: int, length: int,
             direction: str, time_limit_s: float = QUERY_TIME_LIMIT_S) -> float:
    """ΔkW (facility kW, ≥ 0) of a site — or of several sites together (a region: their
    summed facility kW) — over slots [first, first + length) in `direction`, given the plan
    `base` of `p`."""
    group = np.atleast_1d(np.asarray(sites, dtype=int))
    if not 0 <= first < p.n_slots or length < 1:
        raise InputError("ΔkW query", "window", (first, length),
                         f"must start inside the plan's {p.n_slots} slots and last ≥ 1 slot")
    touches = p.allowed[:, group].any(axis=1) & (p.release_slot < first + length) & (
        p.deadline_slot > first)
    dm = dr_model(p, base, movable(p) & touches)
    p, m = dm.problem, dm.model.matrix
    T = p.n_slots
    slots = np.arange(first, min(T, first + length))
    cells = np.ix_(group, slots)
    pue = p.pue[cells]
    stored = p.has_battery[group][:, None]
    # facility kW of the window slots: the movable jobs' and the batteries' (the rest stays)
    plan_each = dm.plan_it_kw[cells] * pue + dm.plan_net_kw[cells]
    plan_kw = plan_each.sum(axis=0)
    if direction == "down":  # down to no grid draw at battery sites, to no movable load
        top = float(np.min((plan_each + np.where(stored, p.base_kw[cells], 0.0)).sum(axis=0)))
        lo, hi, sign = -np.inf, plan_kw, 1.0
    else:
        room = np.where(stored, p.facility_cap_kw[cells] - p.base_kw[cells] - plan_each,
                        (p.it_cap_kw[cells] - dm.plan_it_kw[cells]) * pue)
        top = float(np.min(room.sum(axis=0)))
        lo, hi, sign = plan_kw, np.inf, -1.0
    if top <= 1e-9:
        return 0.0
    L0, _ = dm.model.blocks["site-it-kw"]
    n, k = m.A.shape[1], len(slots)
    # one row per slot: Σ_sites (PUE × L[s, t] + charge − discharge) ± R against the plan's
    rows = [np.tile(np.arange(k), len(group)), np.arange(k)]
    cols = [(L0 + group[:, None] * T + slots[None, :]).ravel(), np.full(k, n)]
    vals = [pue.ravel(), np.full(k, sign)]
    lb, ub = m.lb.copy(), m.ub.copy()
    if "site-battery-charge-kw" in dm.model.blocks:
        _battery_terms(dm, group, slots, first, rows, cols, vals, lb, ub)
    block = sparse.coo_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                      np.concatenate(cols))), shape=(k, n + 1))
    A = sparse.vstack([sparse.hstack([m.A, sparse.csc_matrix((m.A.shape[0], 1))]), block]
                      ).tocsc()
    model = MatrixModel(np.append(m.c, -1.0), np.append(lb, 0.0), np.append(ub, top),
                        np.append(m.integer, False), A,
                        np.concatenate([m.row_lo, np.broadcast_to(lo, k)]),
                        np.concatenate([m.row_hi, np.broadcast_to(hi, k)]))
    lp = run_highs(model, time_limit_s=time_limit_s, relax=True)
    if lp.x is not None and _integral(lp.x, model.integer):
        return max(0.0, float(lp.x[n]))  # the relaxation's optimum is a plan: exact
    out = run_highs(model, time_limit_s=time_limit_s, mip_rel_gap=0.05,
                    start=np.append(dm.start, 0.0))
    if out.x is None or out.status is SolveStatus.INFEASIBLE:
        return 0.0
    return max(0.0, float(out.x[n]))


def _battery_terms(dm: DrModel, group: np.ndarray, slots: np.ndarray, first: int,
                   rows: list[np.ndarray], cols: list[np.ndarray], vals: list[np.ndarray],
                   lb: np.ndarray, ub: np.ndarray) -> None:
    """Add the group's batteries to the window rows (charge + , discharge −), and hold every
    battery as planned before the window: it answers from its planned state of charge.
    Mutates the row lists and the column bounds."""
    p = dm.problem
    T = p.n_slots
    cells = battery_cells(p)
    c0, d0 = (dm.model.blocks["site-battery-charge-kw"][0],
              dm.model.blocks["site-battery-discharge-kw"][0])
    before = np.flatnonzero(cells % T < first)
    for col0 in (c0, d0):
        lb[col0 + before] = ub[col0 + before] = dm.start[col0 + before]
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
                   regions: bool = False) -> list[Capacity]:
    """ΔkW per site (and, with `regions`, per grid region: its sites together), direction,
    window and start over the first `hours` of the plan, one start every `every_minutes`
    (at least one slot). `sites` restricts both to those sites (a region to the listed
    sites in it)."""
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
    out = []
    for scope, sid, group in scopes:
        for direction in directions:
            for minutes in windows:
                length = max(1, math.ceil(minutes / slot_min))
                for k in starts:
                    kw = delta_kw(p, base, group, k, length, direction, time_limit_s)
                    out.append(Capacity(scope, sid, direction, minutes, p.slot_starts[k], kw))
    return out
