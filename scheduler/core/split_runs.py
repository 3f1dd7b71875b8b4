"""The cheapest run of a checkpointable job on one site, in up to `MAX_PIECES` pieces, by
dynamic programming over the slots.

A run in m pieces occupies work + overhead × (m − 1) slots (each resume pays the restart
overhead, as the MILP counts it). Each slot the job runs in costs `cost[t]` (inf where it
does not fit or before its release); finishing in slot t adds `late_per_slot × max(0,
t + 1 − deadline)`. Heuristics use it to split checkpointable jobs across cheap windows
(e.g. the noon curtailment of two days), as the full model may.
"""

from __future__ import annotations

import numpy as np

MAX_PIECES = 4
"""Pieces a run may have (three resumes): more rarely pay their overhead back."""


def best_split_run(cost: np.ndarray, work: int, overhead: int, deadline: int,
                   late_per_slot: float) -> tuple[float, np.ndarray] | None:
    """(points, run slots) of the cheapest run, or None when none fits."""
    T, M = len(cost), MAX_PIECES
    n_max = work + overhead * (M - 1)
    need = work + overhead * np.arange(M + 1) - overhead  # slots a run of m pieces takes
    # on[m, n] / off[m, n]: least cost after slot t with m pieces begun and n slots run,
    # running in slot t (on) or not (off); off[0, 0] = 0 is "not started"
    on = np.full((M + 1, n_max + 1), np.inf)
    off = np.full_like(on, np.inf)
    off[0, 0] = 0.0
    from_new_piece = np.zeros((T, M + 1, n_max + 1), dtype=bool)
    from_on = np.zeros_like(from_new_piece)
    best, best_at = np.inf, (-1, 0)
    for t in range(T):
        go_on, go_new = on[:, :-1], np.vstack([np.full(n_max, np.inf), off[:-1, :-1]])
        new_on = np.full_like(on, np.inf)
        new_on[:, 1:] = np.minimum(go_on, go_new) + cost[t]
        from_new_piece[t, :, 1:] = go_new < go_on
        new_off = np.minimum(off, on)
        from_on[t] = on < off
        on, off = new_on, new_off
        for m in range(1, M + 1):
            if need[m] <= n_max:
                points = on[m, need[m]] + late_per_slot * max(0, t + 1 - deadline)
                if points < best:
                    best, best_at = points, (t, m)
    if not np.isfinite(best):
        return None
    (t, m), n, running, slots = best_at, need[best_at[1]], True, []
    while m > 0:
        if running:
            slots.append(t)
            running = not from_new_piece[t, m, n]
            m, n = (m, n - 1) if running else (m - 1, n - 1)
        else:
            running = bool(from_on[t, m, n])
        t -= 1
    return float(best), np.array(slots[::-1], dtype=int)
