"""Single-job moves: a misplaced job moves to its cheapest start; plans never get worse."""

from __future__ import annotations

import numpy as np
import pytest

from policies.policy import load_policy
from scheduler.core.greedy import greedy
from scheduler.core.local_search import relocate, restore
from scheduler.core.problem import build_problem
from scheduler.core.schedule import Schedule, evaluate, violations
from simulations.instances import random_instance
from tests.helpers import forecast, job, site


def test_a_job_in_dirty_slots_moves_to_the_clean_ones() -> None:
    fcs = {"chugoku": forecast("chugoku", [900, 900, 100, 100])}
    p = build_problem([site("matsue", "chugoku", gpus=8)],
                      [job("sweep", gpus=4, dur_slots=2, release=0, deadline=4)], fcs,
                      load_policy("min-carbon"))
    dirty = Schedule.empty(p)
    dirty.place(0, 0, slice(0, 2))
    moved = relocate(p, dirty, time_limit_s=10)
    assert moved.segments(0) == [(2, 4)]
    assert evaluate(p, moved).objective < evaluate(p, dirty).objective
    assert relocate(p, moved, time_limit_s=10) is moved  # nothing left to gain


@pytest.mark.parametrize("seed", range(3))
def test_moves_keep_plans_valid_and_never_worse(seed: int) -> None:
    inst = random_instance(150, n_sites=3, n_slots=48, seed=seed, checkpointable_share=0.2)
    p = build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy("min-carbon"))
    start = greedy(p)
    rng = np.random.default_rng(seed)
    for j in rng.choice(np.flatnonzero(start.site >= 0), 20, replace=False):
        start.site[j], start.run[j] = -1, False  # leave gaps for the moves to use
    start = greedy(p, start)
    out = relocate(p, start, time_limit_s=30, seed=seed)
    assert violations(p, out) == []
    assert evaluate(p, out).objective <= evaluate(p, start).objective + 1e-9
    assert np.array_equal(out.site >= 0, start.site >= 0)


def test_restore_moves_a_job_back_to_its_previous_run_only_within_the_allowance() -> None:
    """Slot 1 is dirtier than slot 0 by a little: the job goes back to its previous run
    (slot 1) when the allowance covers the difference, and stays when it does not or when
    another job took the slot."""
    fcs = {"tokyo": forecast("tokyo", [400, 401, 900])}
    sites = [site("shiroi", "tokyo", gpus=4, home=True)]
    jobs = [job("a", gpus=4, dur_slots=1, release=0, deadline=3),
            job("b", gpus=4, dur_slots=1, release=0, deadline=3)]
    p = build_problem(sites, jobs, fcs, load_policy("min-carbon"))
    now, before = Schedule.empty(p), Schedule.empty(p)
    now.place(0, 0, slice(0, 1))
    before.place(0, 0, slice(1, 2))
    extra = evaluate(p, before).objective - evaluate(p, now).objective
    assert extra > 0
    back = restore(p, now, before, allowance=1.01 * extra)
    assert back.segments(0) == [(1, 2)] and not violations(p, back)
    assert evaluate(p, back).objective == pytest.approx(evaluate(p, now).objective + extra)
    assert restore(p, now, before, allowance=0.99 * extra) is now
    now.place(1, 0, slice(1, 2))  # b holds slot 1 now (and held slot 0 before)
    before.place(1, 0, slice(0, 1))
    held = restore(p, now, before, allowance=10 * extra)
    assert held.segments(0) == [(0, 1)] and held.segments(1) == [(1, 2)]
