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


def cheapest_pieces(q: np.ndarray, need: np.ndarray, ddl: np.ndarray, o: int, pen: float,
                    from_0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(points, run slots (J, T)): per row j the schedule `pieces_dp` finds, read back from
    its choices — a column of the master. No slots where no schedule exists (points inf)."""
    J, T = q.shape
    points, (last, end_from, run_from, idle_from) = pieces_dp(q, need, ddl, o, pen, keep=True,
                                                               from_0=from_0)
    slots = np.zeros((J, T), dtype=bool)
    for j in np.flatnonzero(np.isfinite(points)):
        how = int(end_from[last[j], j])
        state, k, m = ("run", int(need[j]), 0) if how == 0 else ("ovh", int(need[j]), how - 1)
        for t in range(int(last[j]), -1, -1):
            if state == "run":
                slots[j, t] = True
                how = int(run_from[t, j, k])
                if how == 3:  # the first piece starts here
                    break
                state, k, m = ("run", k - 1, 0) if how == 0 else \
                    ("ovh", k - 1, 0) if how == 1 else ("idle", k - 1, 0)
            elif state == "ovh":
                slots[j, t] = True
                state, m = ("idle", 0) if m == o - 1 else ("ovh", m + 1)
            else:
                how = int(idle_from[t, j, k])
                state, m = ("idle", 0) if how == 0 else ("run", 0) if how == 1 \
                    else ("ovh", how - 2)
    return points, slots


def pieces_dp(q: np.ndarray, need: np.ndarray, ddl: np.ndarray, o: int, pen: float,
               keep: bool, from_0: np.ndarray | None = None
               ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Cheapest schedule in pieces per row j, by dynamic programming over slots: `need[j]`
    slots of work at slot prices `q` (J, T; inf where it may not run); the first piece
    starts with work, every later one with `o` slots of overhead; a piece of overhead alone
    may come between the others or after them (negative prices can pay for it); lateness
    `pen` per slot its last run slot ends after `ddl[j]`. With `o` ≤ 1 this is every plan, so the
    points are exact; with longer overheads a plan with a piece shorter than its overhead
    is left out. Rows marked in `from_0` must start their first piece at slot 0 (a running
    job going on where it runs). Returns (points, and with `keep` the choices
    `cheapest_pieces` reads the schedule back from: last slot, end, run and pause choices
    per slot)."""
    J, T = q.shape
    K, rows, om = int(need.max()) + 1, np.arange(J), max(o, 1)
    never = np.full((J, K), np.inf)
    first = np.where(np.arange(K) == 0, 0.0, np.inf) * np.ones((J, 1))  # not started yet
    idle = never.copy()  # paused after a piece, by work done
    run = never.copy()  # ran this slot, doing work
    ovh = np.full((J, K, om), np.inf)  # ran this slot as overhead, m slots left
    end_cost = np.full((T, J), np.inf)
    if keep:
        run_from = np.zeros((T, J, K), dtype=np.int8)  # from k − 1: run, overhead, pause, start
        idle_from = np.zeros((T, J, K), dtype=np.int8)  # pause, run, 2 + m overhead m
        end_from = np.zeros((T, J), dtype=np.int8)  # run, 1 + m overhead m
    lateness = pen * np.maximum(0, np.arange(1, T + 1)[:, None] - ddl[None, :])  # (T, J)
    for t in range(T):
        qt = q[:, t, None]
        # the best way into a work slot (from k − 1 slots done), and into a pause
        if keep:
            came = np.stack((run, ovh[..., 0] if o > 0 else never, idle if o == 0 else never,
                             first))
            run_from[t, :, 1:] = came.argmin(axis=0)[:, :-1]
            stay = np.concatenate((idle[None], run[None], np.moveaxis(ovh, 2, 0)))
            idle_from[t] = stay.argmin(axis=0)
            into_run, into_idle = came.min(axis=0), stay.min(axis=0)
        else:
            into_run = np.minimum(np.minimum(run, first), ovh[..., 0] if o > 0 else idle)
            into_idle = np.minimum(np.minimum(idle, run), ovh.min(axis=2))
        new_run = np.empty_like(run)
        new_run[:, 0] = np.inf
        np.add(into_run[:, :-1], qt, out=new_run[:, 1:])
        if o > 0:  # overhead counts down; a resume starts it at o − 1
            new_ovh = np.empty_like(ovh)
            new_ovh[..., :-1] = ovh[..., 1:] + qt[..., None]
            new_ovh[..., -1] = idle + qt
            ovh = new_ovh
        idle, run = into_idle, new_run
        if t == 0 and from_0 is not None:
            first = np.where(from_0[:, None], np.inf, first)
        at_end = np.column_stack([run[rows, need], ovh[rows, need]])
        end_cost[t] = at_end.min(axis=1) + lateness[t]
        if keep:
            end_from[t] = at_end.argmin(axis=1)
    last = end_cost.argmin(axis=0)
    points = end_cost[last, rows]
    return points, ((last, end_from, run_from, idle_from) if keep else ())


def job_pieces(cost: np.ndarray, d: np.ndarray, resume: np.ndarray, going_on: np.ndarray,
               ddl: np.ndarray, o: int, pen: float, keep: bool
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """(points, and with `keep` the run slots (N, T)) of the cheapest schedule in pieces of
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
    if keep:
        points, slots = cheapest_pieces(rows, need, every, o, pen, from_0=from_0)
    else:
        points, _ = pieces_dp(rows, need, every, o, pen, keep=False, from_0=from_0)
    best = points[:len(cost)].copy()
    on = points[len(cost):] <= best[here]  # going on wins a tie: no pause for nothing
    best[here[on]] = points[len(cost):][on]
    if not keep:
        return best, None
    out = slots[:len(cost)].copy()
    out[here[on]] = slots[len(cost):][on]
    return best, out
