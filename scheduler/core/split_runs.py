"""The cheapest schedule of a checkpointable job in pieces, by dynamic programming over the
slots: `need` slots of work at slot prices (points per slot, inf where it may not run),
the first piece starting with work and every later one paying the restart overhead
first, as the MILP counts it; lateness by where the last run slot ends. Heuristics use it
to split checkpointable jobs across cheap windows (e.g. the noon curtailment of two days)
and single-job moves to re-split them (`greedy.SiteLoads.best_split`); column generation
prices its bound with it and adds its schedules to the master (`colgen`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def pieces(q: np.ndarray, need: np.ndarray, ddl: np.ndarray, o: int, pen: float,
           from_0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(points per row j, its run slots (J, T)) of the cheapest schedule in pieces, by
    dynamic programming over the slots: `need[j]` slots of work at slot prices `q` (J, T;
    inf where it may not run); the first piece starts with work, every later one with `o`
    slots of overhead; a piece of overhead alone may come between the others or after them
    (negative prices can pay for it); lateness `pen` per slot its last slot ends after
    `ddl[j]`. With `o` ≤ 1 this is every plan, so the points are exact; with longer
    overheads a plan with a piece shorter than its overhead is left out. Rows marked in
    `from_0` must start their first piece at slot 0 (a running job going on where it runs).
    Points are inf (and no slots) where no schedule exists. Compiled (`_pieces`): it runs
    per job and site in every greedy fill and pricing round."""
    return _pieces(np.ascontiguousarray(q, dtype=np.float64), need.astype(np.int64),
                   ddl.astype(np.int64), int(o), float(pen), from_0.astype(np.bool_))


@njit(cache=True)
def _pieces(q: np.ndarray, need: np.ndarray, ddl: np.ndarray, o: int, pen: float,
            from_0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    J, T = q.shape
    points = np.empty(J)
    slots = np.zeros((J, T), dtype=np.bool_)
    for j in range(J):
        points[j] = _row(q[j], need[j], ddl[j], o, pen, from_0[j], slots[j])
    return points, slots


@njit(cache=True)
def _row(q: np.ndarray, need: int, ddl: int, o: int, pen: float, from_0: bool,
         slots: np.ndarray) -> float:
    """`pieces` of one row; marks its run slots in `slots`. States by
    work done k after each slot: ran work, ran overhead (m slots of it left), paused; ties
    go to the first of each list below (the schedules are stable)."""
    T, K, om = q.size, need + 1, max(o, 1)
    run, idle, ovh = np.full(K, np.inf), np.full(K, np.inf), np.full((K, om), np.inf)
    new_run, new_idle = np.full(K, np.inf), np.full(K, np.inf)
    # the choices the schedule is read back from
    run_from = np.zeros((T, K), dtype=np.int8)  # from k − 1: work, overhead, pause, start
    idle_from = np.zeros((T, K), dtype=np.int8)  # pause, work, 2 + m: overhead m left
    end_from = np.zeros(T, dtype=np.int8)  # work, 1 + m: overhead m left
    may_start, best, last = True, np.inf, -1
    for t in range(T):
        for k in range(K):
            v, how = idle[k], 0
            if run[k] < v:
                v, how = run[k], 1
            for m in range(om):
                if ovh[k, m] < v:
                    v, how = ovh[k, m], 2 + m
            new_idle[k], idle_from[t, k] = v, how
        for k in range(1, K):
            v, how = run[k - 1], 0
            if o > 0 and ovh[k - 1, 0] < v:
                v, how = ovh[k - 1, 0], 1
            elif o == 0 and idle[k - 1] < v:
                v, how = idle[k - 1], 2
            if k == 1 and may_start and v > 0.0:
                v, how = 0.0, 3
            new_run[k], run_from[t, k] = v + q[t], how
        if o > 0:  # overhead counts down; a resume starts it at o − 1
            for k in range(K):
                for m in range(om - 1):
                    ovh[k, m] = ovh[k, m + 1] + q[t]
                ovh[k, om - 1] = idle[k] + q[t]
        run, new_run = new_run, run
        idle, new_idle = new_idle, idle
        if from_0:
            may_start = False
        v, how = run[need], 0
        for m in range(om):
            if ovh[need, m] < v:
                v, how = ovh[need, m], 1 + m
        end_from[t] = how
        v += pen * max(0, t + 1 - ddl)
        if v < best:
            best, last = v, t
    if last < 0:
        return best
    how = end_from[last]
    state, k, m = (0, need, 0) if how == 0 else (1, need, how - 1)  # work, overhead, pause
    for t in range(last, -1, -1):
        if state == 0:
            slots[t] = True
            how = run_from[t, k]
            if how == 3:  # the first piece starts here
                break
            state, k, m = (0 if how == 0 else 1 if how == 1 else 2), k - 1, 0
        elif state == 1:
            slots[t] = True
            state, m = (2, 0) if m == o - 1 else (1, m + 1)
        else:
            how = idle_from[t, k]
            state, m = (2, 0) if how == 0 else (0, 0) if how == 1 else (1, how - 2)
    return best


def job_pieces(cost: np.ndarray, d: np.ndarray, resume: np.ndarray, going_on: np.ndarray,
               ddl: np.ndarray, o: int, pen: float) -> tuple[np.ndarray, np.ndarray]:
    """(points, run slots (N, T)) of the cheapest schedule in pieces of
    each row n: a job's `d[n]` slots of work on one site at slot prices `cost[n]` (inf where
    it may not run), plus `resume[n]` restart slots (a running job's; 0 for a pending one) —
    except where the row is the site the job runs on (`going_on`): there it goes on from
    slot 0 without them, or restarts later with them, as `Problem.option_slots` counts."""
    here = np.flatnonzero(going_on)
    rows = cost.copy()
    rows[here, 0] = np.inf  # restarting there may not begin at slot 0; going on does
    rows = np.vstack([rows, cost[here]])
    need = np.concatenate([d + resume, d[here]])
    from_0 = np.arange(len(rows)) >= len(cost)
    every = np.concatenate([ddl, ddl[here]])
    points, slots = pieces(rows, need, every, o, pen, from_0)
    best = points[:len(cost)].copy()
    on = points[len(cost):] <= best[here]  # going on wins a tie: no pause for nothing
    best[here[on]] = points[len(cost):][on]
    out = slots[:len(cost)].copy()
    out[here[on]] = slots[len(cost):][on]
    return best, out
