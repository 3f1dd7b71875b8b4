"""Late-job repair: make room for a late or unplaced job by moving one job out of its way.

Rounding and greedy placement can leave a job late because every on-time start it has is
blocked by another job that could just as well run elsewhere. For each such job (in
deadline order) this tries its on-time (site, start) options; where a single placed job
blocks the GPU or power cap, that job is moved to its lowest-objective on-time option
elsewhere and the late job takes the freed room (an ejection chain of depth one).
The result is kept only if the evaluated objective falls.
"""

from __future__ import annotations

import time

import numpy as np

from scheduler.core.greedy import SiteLoads
from scheduler.core.problem import Problem
from scheduler.core.schedule import Schedule, evaluate


def _on_time_best(loads: SiteLoads, p: Problem, j: int) -> tuple[int, int] | None:
    """Lowest-objective feasible (site, start) of job j that meets its deadline, or None."""
    pts, ok = loads.options(j)
    latest = int(p.deadline_slot[j]) - int(p.dur_slots[j])
    ok[:, max(0, latest + 1):] = False
    if not ok.any():
        return None
    s, k = np.unravel_index(np.argmin(np.where(ok, pts, np.inf)), ok.shape)
    return int(s), int(k)


def _try_job(loads: SiteLoads, p: Problem, sched: Schedule, j: int) -> bool:
    """Place late job j on time by moving one blocker; mutates `loads` and `sched` on success."""
    d, g, kw = int(p.dur_slots[j]), p.gpus[j], p.it_kw[j]
    latest = int(p.deadline_slot[j]) - d
    for s in np.flatnonzero(p.allowed[j]):
        here = np.flatnonzero(sched.site == s)
        for k in range(int(p.release_slot[j]), latest + 1):
            win = slice(k, k + d)
            over_g = loads.gpus[s, win] + g - p.gpu_cap[s, win]
            over_kw = loads.it_kw[s, win] + kw - loads.it_cap_kw[s, win]
            if (over_g <= 0).all() and (over_kw <= 1e-9).all():
                continue  # fits as it is (the caller found no such start, so a guard only)
            runs = sched.run[here, win]
            frees = ((p.gpus[here, None] * runs >= over_g[None, :]).all(axis=1)
                     & (p.it_kw[here, None] * runs >= over_kw[None, :] - 1e-9).all(axis=1))
            for b in here[frees]:
                b_slots = sched.run[b].copy()
                loads.add(int(b), s, b_slots, sign=-1.0)
                loads.add(j, int(s), win)
                target = _on_time_best(loads, p, int(b))
                if target is not None:
                    bs, bk = target
                    b_win = slice(bk, bk + int(p.dur_slots[b]))
                    loads.add(int(b), bs, b_win)
                    sched.place(int(b), bs, b_win)
                    sched.place(j, int(s), win)
                    return True
                loads.add(j, int(s), win, sign=-1.0)
                loads.add(int(b), s, b_slots)
    return False


def repair_late(p: Problem, sched: Schedule, time_limit_s: float) -> Schedule:
    """`sched` with late and unplaced jobs moved on time where one move makes room."""
    t0 = time.perf_counter()
    late = np.flatnonzero((sched.site < 0) | (sched.end_slot() > p.deadline_slot))
    if late.size == 0:
        return sched
    out = sched.copy()
    loads = SiteLoads(p, out)
    for j in late[np.argsort(p.deadline_slot[late], kind="stable")]:
        if time.perf_counter() - t0 > time_limit_s:
            break
        if int(p.deadline_slot[j]) - int(p.dur_slots[j]) < int(p.release_slot[j]):
            continue  # cannot be on time anywhere
        was_site, was_run = int(out.site[j]), out.run[j].copy()
        if was_site >= 0:
            loads.add(int(j), was_site, was_run, sign=-1.0)
            out.site[j], out.run[j] = -1, False
        target = _on_time_best(loads, p, int(j))
        if target is not None:  # room appeared after earlier moves
            slots = slice(target[1], target[1] + int(p.dur_slots[j]))
            loads.add(int(j), target[0], slots)
            out.place(int(j), target[0], slots)
        elif not _try_job(loads, p, out, int(j)) and was_site >= 0:
            loads.add(int(j), was_site, was_run)
            out.site[j], out.run[j] = was_site, was_run
    if np.array_equal(out.run, sched.run) and np.array_equal(out.site, sched.site):
        return sched
    return out if evaluate(p, out).objective < evaluate(p, sched).objective else sched
