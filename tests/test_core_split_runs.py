"""Heuristics using the cheapest run in pieces (`split_runs`; against enumeration in
`test_core_colgen`): the greedy fill and single-job moves."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from policies.policy import load_policy
from scheduler.core import solve as solve_module
from scheduler.core.greedy import SiteLoads, greedy
from scheduler.core.local_search import relocate
from scheduler.core.problem import build_problem
from scheduler.core.schedule import evaluate, violations
from scheduler.core.solve import solve
from scheduler.core.split_runs import job_pieces
from tests.helpers import forecast, job, site


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


def test_best_split_reads_back_the_schedule_of_the_cheapest_site() -> None:
    """Two sites priced in one call: Tokyo (first, dirty all day) and Matsue (curtails in
    slots 1 and 4). The cheapest is Matsue's two zero-carbon pieces; its slots (not the
    first site's) come back with their points."""
    fcs = {"tokyo": forecast("tokyo", [400, 300, 500, 450, 600, 350], [0] * 6),
           "chugoku": forecast("chugoku", [700] * 6, [0, 1, 0, 0, 1, 0])}
    sites = [site("shiroi", "tokyo", pue=1.36, share=0.0),
             site("matsue", "chugoku", pue=1.25, share=0.01, home=True)]
    jobs = [job("train", gpus=4, dur_slots=2, release=0, deadline=6, ckpt=True)]
    p = build_problem(sites, jobs, fcs, replace(load_policy("min-carbon"),
                                                restart_overhead_h=0.0))
    loads = SiteLoads(p)
    points, s, slots = loads.best_split(0)
    assert (s, slots.tolist()) == (1, [1, 4])
    marginal, _ = loads.marginal(0)
    assert points == pytest.approx(marginal[s, slots].sum())
    assert points < marginal[0, [1, 5]].sum()  # Tokyo's two cheapest slots cost more


def test_single_job_moves_split_a_checkpointable_job_and_join_it_again() -> None:
    """The same two windows: a move takes the one-piece run to the two zero-carbon pieces;
    when only one window curtails, and long enough, the next move joins the pieces again."""
    fcs = {"chugoku": forecast("chugoku", [700] * 6, [0, 1, 0, 0, 1, 0])}
    sites = [site("matsue", "chugoku", pue=1.25, share=0.01, home=True)]
    jobs = [job("train", gpus=4, dur_slots=2, release=0, deadline=6, ckpt=True)]
    policy = replace(load_policy("min-carbon"), restart_overhead_h=0.0)
    p = build_problem(sites, jobs, fcs, policy)
    moved = relocate(p, greedy(p), time_limit_s=10.0, pieces=True)
    assert moved.segments(0) == [(1, 2), (4, 5)]
    assert evaluate(p, moved).total_kg_co2 == pytest.approx(0.0)
    fcs = {"chugoku": forecast("chugoku", [700] * 6, [0, 0, 0, 1, 1, 0])}
    q = build_problem(sites, jobs, fcs, policy)
    joined = relocate(q, moved, time_limit_s=10.0, pieces=True)
    assert not violations(q, joined)
    assert joined.segments(0) == [(3, 5)]


@pytest.mark.parametrize(("pieces_max_nnz", "how"), [(0, ("milp:greedy", ("split",))),
                                                     (10**9, ("milp:lp-rounding", ()))])
def test_the_column_path_splits_a_checkpointable_job_when_single_runs_leave_a_gap(
        monkeypatch: pytest.MonkeyPatch, pieces_max_nnz: int, how: tuple) -> None:
    """Column generation prices runs in pieces for its bound. Where its master holds single
    runs alone and the best is not within the gap, a last round of moves splits the job
    (step `split`); where the master holds schedules in pieces, rounding takes the split."""
    monkeypatch.setattr(solve_module, "FULL_MODEL_MAX_NNZ", 0)
    monkeypatch.setattr(solve_module, "PIECES_MAX_NNZ", pieces_max_nnz)
    fcs = {"chugoku": forecast("chugoku", [700] * 6, [0, 1, 0, 0, 1, 0])}
    sites = [site("matsue", "chugoku", pue=1.25, share=0.01, home=True)]
    jobs = [job("train", gpus=4, dur_slots=2, release=0, deadline=6, ckpt=True)]
    p = build_problem(sites, jobs, fcs, replace(load_policy("min-carbon"),
                                                restart_overhead_h=0.0))
    out = solve(p, time_limit_s=30.0, deterministic=True)
    assert (out.source, out.steps[-1:]) == how
    assert out.schedule.segments(0) == [(1, 2), (4, 5)]
    assert out.evaluation.total_kg_co2 == pytest.approx(0.0)


def test_a_running_job_goes_on_rather_than_restart_where_both_cost_the_same() -> None:
    """Free slots everywhere: going on from slot 0 and restarting later (one restart slot
    more) cost the same; the job goes on, not pausing for nothing."""
    one = np.ones(1, dtype=int)
    points, slots = job_pieces(np.zeros((1, 6)), 2 * one, one, np.ones(1, dtype=bool),
                               6 * one, 1, 10.0)
    assert points[0] == 0.0
    assert np.flatnonzero(slots[0]).tolist() == [0, 1]
