"""The cheapest run in pieces (`split_runs`) against enumeration, and greedy using it."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from policies.policy import load_policy
from scheduler.core.greedy import greedy
from scheduler.core.problem import build_problem
from scheduler.core.schedule import evaluate, violations
from scheduler.core.split_runs import MAX_PIECES, best_split_run
from tests.helpers import forecast, job, site


def enumerate_best(cost: np.ndarray, work: int, overhead: int, deadline: int,
                   late: float) -> float:
    best = np.inf
    for size in range(1, len(cost) + 1):
        for slots in itertools.combinations(range(len(cost)), size):
            pieces = 1 + sum(1 for a, b in itertools.pairwise(slots) if b != a + 1)
            if pieces <= MAX_PIECES and size == work + overhead * (pieces - 1):
                best = min(best, cost[list(slots)].sum()
                           + late * max(0, slots[-1] + 1 - deadline))
    return best


@pytest.mark.parametrize("seed", range(60))
def test_the_cheapest_run_in_pieces_equals_the_enumerated_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    T = int(rng.integers(3, 9))
    work, overhead = int(rng.integers(1, 4)), int(rng.integers(0, 3))
    deadline, late = int(rng.integers(1, T + 2)), float(rng.choice([0.5, 5.0]))
    cost = rng.uniform(-1, 3, T)
    cost[rng.random(T) < 0.2] = np.inf
    expected = enumerate_best(cost, work, overhead, deadline, late)
    got = best_split_run(cost, work, overhead, deadline, late)
    if not np.isfinite(expected):
        assert got is None
        return
    assert got is not None
    points, slots = got
    pieces = 1 + int((np.diff(slots) != 1).sum())
    assert len(slots) == work + overhead * (pieces - 1)
    assert points == pytest.approx(expected)
    assert cost[slots].sum() + late * max(0, slots[-1] + 1 - deadline) == pytest.approx(points)


def test_greedy_splits_a_checkpointable_job_across_two_curtailment_windows() -> None:
    # Chugoku curtails in slots 1 and 4 only (10 kWh zero-carbon each, the job needs 5 per
    # slot): a 2-slot checkpointable job without restart overhead is zero-carbon only in the
    # pieces (1) and (4); any one piece runs a dirty slot.
    fcs = {"chugoku": forecast("chugoku", [700] * 6, [0, 1, 0, 0, 1, 0])}
    sites = [site("matsue", "chugoku", pue=1.25, share=0.01, home=True)]
    jobs = [job("train", gpus=4, dur_slots=2, release=0, deadline=6, ckpt=True)]
    p = build_problem(sites, jobs, fcs, replace(load_policy("min-carbon"),
                                                restart_overhead_h=0.0))
    one_piece, pieces = greedy(p), greedy(p, split=True)
    assert not violations(p, pieces)
    assert pieces.segments(0) == [(1, 2), (4, 5)]
    assert evaluate(p, pieces).total_kg_co2 == pytest.approx(0.0)
    assert evaluate(p, one_piece).total_kg_co2 > 0
