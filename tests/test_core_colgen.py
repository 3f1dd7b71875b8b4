"""Column generation and price-and-dive: the path `milp` takes on large instances."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scheduler.core.solve as solve_module
from policies.limits import PowerLimit
from policies.policy import load_policy
from scheduler.core.colgen import (
    Master,
    Prices,
    column_generation,
    dive,
    lagrangian_bound,
    preemptive_costs,
)
from scheduler.core.greedy import asap, greedy
from scheduler.core.milp_fast import build_fast, decode
from scheduler.core.problem import Problem, build_problem
from scheduler.core.schedule import Schedule, evaluate, violations
from scheduler.core.solve import Method, solve
from scheduler.core.solver import SolveStatus, run_highs
from scheduler.core.split_runs import job_pieces
from simulations.instances import random_instance


def problem(n_jobs: int, seed: int, checkpointable_share: float = 0.0) -> Problem:
    inst = random_instance(n_jobs, n_sites=3, n_slots=32, seed=seed,
                           checkpointable_share=checkpointable_share)
    return build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy("min-carbon"))


@pytest.mark.parametrize("seed", range(4))
def test_column_generation_reaches_the_lp_bound_of_the_full_model(seed: int) -> None:
    p = problem(40, seed)
    full = run_highs(build_fast(p, preemptive=False).matrix, time_limit_s=60, relax=True)
    assert full.status is SolveStatus.OPTIMAL
    master = column_generation(p, greedy(p), time_limit_s=60, tol=1e-9)
    assert master.lp_objective == pytest.approx(full.objective, rel=1e-6, abs=1e-6)
    assert master.bound == pytest.approx(full.objective, rel=1e-6, abs=1e-6)
    # the restricted master holds far fewer start columns than the full model
    assert len(master.opts[0]) < build_fast(p, preemptive=False).starts.col.size


@pytest.mark.parametrize(("share", "overhead_h"), [(0.0, 0.25), (0.5, 0.25), (1.0, 0.25),
                                                 (1.0, 0.0)])
def test_the_full_model_size_estimate_counts_what_the_model_holds(share: float,
                                                                   overhead_h: float) -> None:
    """`full_model_nnz` chooses the path (the full model, columns, schedules in pieces), so it
    must count what `build_fast` builds: checkpointable jobs were counted at 8 non-zeros per
    site and slot where the model has 14, and a re-plan of 33 of them took the full LP for
    5.7 s where the column path gave the same plan in 0.2 s."""
    inst = random_instance(30, n_sites=4, n_slots=96, seed=1, checkpointable_share=share)
    policy = replace(load_policy("min-carbon"), restart_overhead_h=overhead_h)
    p = build_problem(inst.sites, inst.jobs, inst.forecasts, policy)
    built = build_fast(p).matrix.A.nnz
    assert 0.85 * built <= solve_module.full_model_nnz(p) <= 1.05 * built


@pytest.mark.parametrize("seed", range(4))
def test_the_dive_ends_integral_with_a_valid_plan_above_the_bound(seed: int) -> None:
    p = problem(40, seed)
    master = column_generation(p, greedy(p), time_limit_s=60, tol=1e-9)
    x = dive(master, time_limit_s=60, stuck_steps=10**6)
    assert x is not None
    starts = x[master.start_cols]
    assert np.allclose(starts, np.round(starts), atol=1e-6)
    sched = decode(p, master.model(), x)
    assert violations(p, sched) == []
    assert evaluate(p, sched).objective >= master.bound - 1e-6 * max(1.0, abs(master.bound))


@pytest.mark.parametrize("seed", range(4))
def test_a_stuck_dive_hands_few_fractional_jobs_to_the_fill(seed: int) -> None:
    """By default the dive stops after two steps in a row where no open column fits: what
    is still fractional is left to the greedy fill, and the plan stays valid."""
    p = problem(40, seed)
    master = column_generation(p, greedy(p), time_limit_s=60, tol=1e-9)
    value = master.x[master.start_cols]
    open_at_start = int((np.abs(value - np.round(value)) > 1e-6).sum())
    x = dive(master, time_limit_s=60)
    assert x is not None
    value = x[master.start_cols]
    assert (np.abs(value - np.round(value)) > 1e-6).sum() <= max(1, open_at_start // 2)
    sched = greedy(p, decode(p, master.model(), x))
    assert violations(p, sched) == []
    assert evaluate(p, sched).objective >= master.bound - 1e-6 * max(1.0, abs(master.bound))


@pytest.mark.parametrize("seed", range(3))
def test_the_bound_stays_valid_for_preemptive_plans(seed: int) -> None:
    """Checkpointable jobs are priced by a relaxation, so the bound never exceeds the
    optimum of the full (preemptive) MILP."""
    p = problem(12, seed, checkpointable_share=0.5)
    assert p.checkpointable.any()
    exact = solve(p, time_limit_s=60, mip_gap=1e-9)
    assert exact.status is SolveStatus.OPTIMAL
    master = column_generation(p, greedy(p), time_limit_s=60, tol=1e-9)
    assert master.bound <= exact.objective + 1e-6 * max(1.0, abs(exact.objective))


def test_large_instances_take_the_column_path_and_report_an_honest_gap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    p = problem(60, 7, checkpointable_share=0.2)
    monkeypatch.setattr(solve_module, "FULL_MODEL_MAX_NNZ", 0)
    out = solve(p, Method.MILP, time_limit_s=15)
    assert out.source in {"milp:greedy", "milp:lp-rounding", "milp:colgen-dive",
                          "milp:colgen", "milp:colgen-lns"}
    assert violations(p, out.schedule) == []
    assert np.isfinite(out.bound) and out.bound <= out.objective + 1e-6
    assert out.objective <= evaluate(p, greedy(p)).objective


def test_a_tiny_time_limit_still_returns_a_valid_plan_for_every_job() -> None:
    inst = random_instance(2000, seed=3)
    p = build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy("min-carbon"))
    out = solve(p, Method.MILP, time_limit_s=0.5)
    assert violations(p, out.schedule) == []
    # a job is placed or reported (unplaced/late), never silently lost
    assert len(out.schedule.site) == len(p.jobs)
    assert out.objective <= evaluate(p, greedy(p)).objective


def test_a_run_without_a_column_leaves_the_start_partial() -> None:
    """A restricted model of single runs may lack the column of a plan's run (a job in
    pieces, or an option column generation never priced): the MIP start leaves that job
    out (unplaced) instead of failing — a month-long simulation crashed on this."""
    from scheduler.core.milp_fast import all_start_options, class_of, job_classes, schedule_vector

    p = problem(12, 0)
    sched = greedy(p)
    j = int(np.flatnonzero(sched.site >= 0)[0])
    classes = job_classes(p, np.arange(len(p.jobs)))
    c = class_of(len(p.jobs), classes)[j]
    cls, site, start = all_start_options(p, classes)
    drop = (cls == c) & (site == sched.site[j]) & (start == sched.start_slot()[j])
    assert drop.sum() == 1
    fm = build_fast(p, preemptive=False, options=(cls[~drop], site[~drop], start[~drop]))
    x = schedule_vector(p, fm, sched)
    u0, n = fm.blocks["class-unplaced"]
    assert x[u0 + c] >= 1  # left out of the start, not lost
    assert x[u0:u0 + n].sum() + x[fm.starts.col].sum() == len(p.jobs)


def cheapest_in_pieces(q: np.ndarray, work: int, overhead: int, deadline: int,
                       pen: float, first: int | None = None) -> float:
    """Brute force: every set of run slots (q finite), split into pieces; a plan with n
    pieces runs `work + overhead · (n − 1)` slots; lateness by its last slot. With `first`,
    only plans whose first run slot is it."""
    best = np.inf
    slots = np.flatnonzero(np.isfinite(q))
    for n in range(1, slots.size + 1):
        for run in itertools.combinations(slots.tolist(), n):
            pieces = 1 + sum(b > a + 1 for a, b in itertools.pairwise(run))
            if n == work + overhead * (pieces - 1) and first in (None, run[0]):
                best = min(best, q[list(run)].sum() + pen * max(0, run[-1] + 1 - deadline))
    return best


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(3, 9), st.integers(1, 3), st.integers(0, 2),
       st.booleans(), st.integers(0, 2))
def test_preemptive_pricing_finds_the_cheapest_schedule_in_pieces(
        seed: int, T: int, work: int, overhead: int, negative: bool, resume: int) -> None:
    """Exact on non-negative prices (then the bound loses nothing to preemption) and, with
    overheads of at most one slot, at any prices (a piece of overhead alone may then come
    after the work); never above the optimum. Two sites: the job runs now on site 0, so it
    goes on there from slot 0 with its work alone, or restarts there later, or on site 1,
    paying its restart slots. `job_pieces` finds the same points and a schedule that costs
    them, as `Problem.option_slots` counts its slots."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(-1.0 if negative else 0.0, 3.0, (2, T))
    q[:, rng.random(T) < 0.3] += 20.0  # expensive slots: pieces around them pay
    release = int(rng.integers(0, 2))
    q[:, :release] = np.inf
    deadline, pen = int(rng.integers(1, T + 1)), 1.5
    got = preemptive_costs(q[None], np.array([work]), np.array([resume]), np.array([0]),
                           np.array([deadline]), overhead, pen)[0]
    going_on = np.array([True, False])
    points, slots = job_pieces(q, np.array([work] * 2), np.array([resume] * 2), going_on,
                               np.array([deadline] * 2), overhead, pen)
    later = np.where(np.arange(T) == 0, np.inf, q[0])
    for s in (0, 1):
        want = cheapest_in_pieces(q[1], work + resume, overhead, deadline, pen) if s else \
            min(cheapest_in_pieces(q[0], work, overhead, deadline, pen, first=0),
                cheapest_in_pieces(later, work + resume, overhead, deadline, pen))
        if negative and overhead > 1:
            assert got[s] <= want + 1e-9
        elif np.isinf(want):
            assert np.isinf(got[s]) and np.isinf(points[s])
        else:
            assert got[s] == pytest.approx(want, abs=1e-9)
            assert points[s] == pytest.approx(want, abs=1e-9)
            run = np.flatnonzero(slots[s])
            pieces = 1 + int((np.diff(run) > 1).sum())
            need = work if s == 0 and run[0] == 0 else work + resume
            assert run.size == need + overhead * (pieces - 1)
            assert q[s, run].sum() + pen * max(0, run[-1] + 1 - deadline) \
                == pytest.approx(want, abs=1e-9)


def test_prices_move_onto_a_later_grid_by_time() -> None:
    old = pd.date_range("2026-04-01", periods=4, freq="15min", tz="UTC")
    new = pd.date_range("2026-04-01 00:30", periods=4, freq="15min", tz="UTC")
    load = np.arange(8.0).reshape(2, 4)
    moved = Prices(load, -load).on_grid(old, new)
    assert moved.load.tolist() == [[2, 3, 3, 3], [6, 7, 7, 7]]
    assert moved.gpu.tolist() == (-moved.load).tolist()


@pytest.mark.parametrize(("overhead", "points"), [(0, 4.0), (1, 5.0), (2, 103.0)])
def test_a_job_splits_around_expensive_slots_while_its_overhead_pays(
        overhead: int, points: float) -> None:
    """4 slots of work; slots 2 and 6 cost 100. No overhead: the 4 cheap slots before 6.
    One slot per resume: 2 + (1 + 2) slots around slot 2. Two: a split needs 6 cheap
    slots of 5, so the best is one run over slot 2."""
    q = np.array([[[1.0, 1, 100, 1, 1, 1, 100]]])
    got = preemptive_costs(q, np.array([4]), np.array([0]), np.array([-1]), np.array([7]),
                           overhead, 10.0)
    assert got[0, 0] == pytest.approx(points)


def test_gaps_of_a_residual_are_relative_to_the_whole_plan() -> None:
    """The work laid down outside a residual problem counts in the objective the MIP gap is
    relative to: 10 points above the bound is 10 % of a 100-point part, 1 % of the whole."""
    p = problem(4, 0)
    plans = solve_module._Plans(p, solve_module._Budget(1.0), offset=900.0)
    plans.found.append(("test", (), greedy(p), replace(evaluate(p, greedy(p)), objective=100.0)))
    assert plans.gap(90.0) == pytest.approx(0.01)
    assert solve_module._Plans(p, solve_module._Budget(1.0)).gap(90.0, 100.0) == pytest.approx(0.1)


def test_the_bound_does_not_pass_a_job_through_a_slot_it_cannot_fit_in(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4-GPU site runs a 2-GPU job (pinned) in slots 0–2; a 4-GPU job of 2 slots due at
    slot 3 cannot start before slot 3, so it is 2 slots late in every plan. The LP could
    run it on time in halves beside the pinned job; the bound must not."""
    from dataclasses import replace as with_

    from tests.helpers import forecast, job, site

    monkeypatch.setattr(solve_module, "FULL_MODEL_MAX_NNZ", 0)
    sites = [site("a", "r", gpus=4)]
    pinned = with_(job("pinned", 2, 3, 0, 3), running_site="a")
    jobs = [pinned, job("big", 4, 2, 0, 3)]
    p = build_problem(sites, jobs, {"r": forecast("r", [100.0] * 8)}, load_policy("min-carbon"),
                      now=pinned.release)
    out = solve(p, Method.MILP, time_limit_s=10)
    assert out.schedule.start_slot()[1] == 3
    assert out.gap == pytest.approx(0.0, abs=1e-6)



def checkpointable_day(seed: int = 1) -> Problem:
    """40 jobs, half checkpointable, on 4 sites × 96 slots: a full model of ~180k
    non-zeros, above `solve.FULL_MODEL_MAX_NNZ`."""
    inst = random_instance(40, n_sites=4, n_slots=96, seed=seed, checkpointable_share=0.5)
    return build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy("min-carbon"))


def test_schedules_in_pieces_in_the_master_bring_its_bound_up_to_the_lp() -> None:
    """Single runs alone leave the master's duals favouring pieces the bound then counts
    (4 % under the full model's LP here); with the cheapest schedules in pieces as columns
    the bound reaches the LP, and the column path's plan is proven within 1 %."""
    p = checkpointable_day()
    assert solve_module.full_model_nnz(p) > solve_module.FULL_MODEL_MAX_NNZ
    lp = run_highs(build_fast(p).matrix, time_limit_s=120, relax=True)
    assert lp.status is SolveStatus.OPTIMAL
    single = column_generation(p, greedy(p), 60).bound
    pieces = column_generation(p, greedy(p), 60, pieces=True)
    assert single < lp.objective * 0.99
    assert pieces.bound >= lp.objective - 1e-6 * abs(lp.objective)
    # they stay for rounding, which takes a schedule in pieces whole (`Master.decode`)
    assert not violations(p, pieces.decode(pieces.x))
    x = np.zeros_like(pieces.x)
    x[pieces.piece_cols[0]] = 1.0
    c, s, run = pieces.piece_runs[0]
    j = pieces.classes[c][0]
    alone = pieces.decode(x)
    assert alone.site[j] == s and np.flatnonzero(alone.run[j]).tolist() == run.tolist()
    assert (alone.site >= 0).sum() == 1 and not violations(p, alone)
    plan = solve(p, deterministic=True)
    assert plan.source.startswith("milp:colgen")
    assert lp.objective - 1e-6 <= plan.bound <= plan.evaluation.objective + 1e-6
    assert plan.evaluation.objective <= 1.01 * plan.bound


def count_rounds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of master LP solves (column generation rounds), from now on."""
    rounds = [0]
    solve_lp = Master.solve

    def counted(self: Master, time_limit_s: float) -> SolveStatus:
        rounds[0] += 1
        return solve_lp(self, time_limit_s)

    monkeypatch.setattr(Master, "solve", counted)
    return rounds


def test_the_last_plans_prices_bound_the_next_plan_before_any_round(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-plan starts from the last plan's prices (here the full model's LP duals of the
    same state, as when nothing changed): the master's bound starts at their Lagrangian
    bound, which reaches the LP, so column generation stops after one round where a cold
    start takes many."""
    p = checkpointable_day()
    fm = build_fast(p)
    lp = run_highs(fm.matrix, time_limit_s=120, relax=True)
    assert lp.status is SolveStatus.OPTIMAL and lp.y is not None
    prices = Prices.from_duals(fm.blocks, lp.y, p.pue.shape)
    start = Master(p, greedy(p), prices, pieces=True)
    assert start.bound == pytest.approx(lagrangian_bound(p, prices), rel=1e-9)
    assert start.bound >= lp.objective - 1e-6 * abs(lp.objective)
    rounds = count_rounds(monkeypatch)
    enough = lp.objective - 1e-4 * abs(lp.objective)
    cold = column_generation(p, greedy(p), 60, enough=enough, pieces=True)
    cold_rounds, rounds[0] = rounds[0], 0
    warm = column_generation(p, greedy(p), 60, prices=prices, enough=enough, pieces=True)
    assert rounds[0] == 1
    assert cold_rounds > 5
    assert min(warm.bound, cold.bound) >= enough


def test_a_master_started_from_the_last_masters_columns_is_at_its_lp_at_once() -> None:
    """The columns a converged master's LP uses (`Master.columns`: start columns and
    schedules in pieces, by job ids and times) start another master of the same problem
    at that LP: its first solve finds the same optimum, with no round of pricing."""
    p = checkpointable_day()
    done = column_generation(p, greedy(p), 60, pieces=True)
    used = done.columns()
    assert len(used.starts[0]) > 0 and len(used.pieces) > 0
    again = Master(p, greedy(p), columns=used, pieces=True)
    assert again.solve(60) is SolveStatus.OPTIMAL
    assert again.lp_objective == pytest.approx(done.lp_objective, rel=1e-7)
    assert len(again.piece_cols) == len(used.pieces)


def test_the_last_masters_columns_seed_a_later_problem_without_changing_its_lp() -> None:
    """A re-plan an hour later, 8 jobs gone: the last master's columns still valid there
    (jobs present, starts inside the horizon and after the release) join the new master,
    and its column generation converges to the same LP as a cold one — the columns carried
    over are columns of the new problem, at their own points."""
    inst = random_instance(40, n_sites=4, n_slots=96, seed=1, checkpointable_share=0.5)
    policy = load_policy("min-carbon")
    p = build_problem(inst.sites, inst.jobs, inst.forecasts, policy)
    used = column_generation(p, greedy(p), 60, pieces=True).columns()
    later = pd.Timestamp(p.slot_starts[4]).to_pydatetime()
    q = build_problem(inst.sites, inst.jobs[8:], inst.forecasts, policy, now=later)
    cold = Master(q, greedy(q), pieces=True)
    warm = Master(q, greedy(q), columns=used, pieces=True)
    assert len(warm.opts[0]) > len(cold.opts[0]) and warm.piece_cols
    a = column_generation(q, greedy(q), 60, pieces=True)
    b = column_generation(q, greedy(q), 60, pieces=True, columns=used)
    assert b.lp_objective == pytest.approx(a.lp_objective, rel=1e-6)


def test_a_misleading_centre_still_leads_the_bound_to_the_lp() -> None:
    """Schedules in pieces are priced between the centre (the prices of the best bound so
    far, at first those of the last plan) and the duals. Prices far off — the LP's duals
    scaled at random, 0–3× per slot — only cost steps toward the duals: the bound still
    reaches the full model's LP, and stays under every plan."""
    p = checkpointable_day()
    fm = build_fast(p)
    lp = run_highs(fm.matrix, time_limit_s=120, relax=True)
    assert lp.status is SolveStatus.OPTIMAL and lp.y is not None
    duals = Prices.from_duals(fm.blocks, lp.y, p.pue.shape)
    rng = np.random.default_rng(0)
    off = Prices(duals.load * rng.uniform(0, 3, duals.load.shape),
                 duals.gpu * rng.uniform(0, 3, duals.gpu.shape))
    master = column_generation(p, greedy(p), 60, prices=off, pieces=True)
    assert master.bound >= lp.objective - 1e-6 * abs(lp.objective)
    plan = solve(p, deterministic=True)
    assert master.bound <= plan.evaluation.objective + 1e-6


def test_a_lone_checkpointable_job_is_proven_without_branching(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The full model's LP resumes a checkpointable job in fractions, so its bound stays
    under every schedule in pieces; at the LP's duals the Lagrangian bound prices them
    whole, which proves the best one without the MILP (one-job re-plans at the end of the
    large simulation spent ~1 s each in 500 nodes of it)."""
    inst = random_instance(1, n_sites=3, n_slots=96, seed=4, checkpointable_share=1.0)
    policy = replace(load_policy("min-carbon"), restart_overhead_h=0.25)
    p = build_problem(inst.sites, inst.jobs, inst.forecasts, policy)
    assert p.checkpointable.all() and p.overhead_slots == 1
    lp = run_highs(build_fast(p).matrix, time_limit_s=60, relax=True)

    def no_milp(*args: object, **kwargs: object) -> None:
        raise AssertionError("the MILP was not needed")

    monkeypatch.setattr(solve_module, "_mip_stage", no_milp)
    out = solve(p, deterministic=True, mip_gap=1e-6)
    assert lp.objective < out.evaluation.objective * (1 - 1e-3)
    assert out.status is SolveStatus.OPTIMAL
    assert out.bound == pytest.approx(out.evaluation.objective, rel=1e-9)


def test_the_last_plans_prices_prove_an_unchanged_plan_without_a_model(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A small re-plan (the full model's path) with nothing changed: the Lagrangian bound at
    the last plan's prices proves the last plan within the gap, so no model is built or
    solved, and the plan stays."""
    p = problem(12, 1)
    first = solve(p, deterministic=True)
    assert first.prices is not None and first.gap <= 0.005

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the last plan's prices proved it")

    monkeypatch.setattr(solve_module, "build_fast", no_model)
    again = solve(p, deterministic=True, incumbent=first.schedule, prices=first.prices)
    assert again.source == solve_module.PREVIOUS and again.gap <= 0.005
    assert np.array_equal(again.schedule.run, first.schedule.run)
    assert again.bound == pytest.approx(lagrangian_bound(p, first.prices))


def test_the_previous_plan_stays_unless_only_the_new_one_is_within_the_gap() -> None:
    """Objectives 100.6 (previous) and 100.0 (new), MIP gap 2 %: the previous plan is not
    beaten by more than half the gap, so it stays while it is within the gap of the bound
    (99) — but not when only the new plan is (bound 98.5: 2.1 % against 1.5 %)."""
    p = problem(4, 0)
    plans = solve_module._Plans(p, solve_module._Budget(1.0))
    sched = greedy(p)
    ev = evaluate(p, sched)
    plans.previous = ("previous", (), sched, replace(ev, objective=100.6))
    plans.found += [plans.previous, ("new", (), sched, replace(ev, objective=100.0))]
    assert plans.chosen(99.0, 0.02)[0] == "previous"
    assert plans.chosen(98.5, 0.02)[0] == "new"
    assert plans.chosen(95.0, 0.02)[0] == "previous"  # neither within: no churn


def test_a_new_plan_takes_back_previous_runs_for_what_its_gap_leaves() -> None:
    """Re-planning, the chosen new plan moves jobs back to their runs in the previous plan
    (fewer changed decisions) for at most half the MIP gap, and stays within the gap."""
    p = problem(12, 0)
    plans = solve_module._Plans(p, solve_module._Budget(5.0))
    plans.add_previous(asap(p))
    plans.add("milp:greedy", greedy(p))
    choice = plans.best()
    objective = choice[3].objective
    bound = objective - 0.002 * plans.whole(objective)
    out = solve_module._closer_to_previous(p, plans, choice, bound, 0.01)
    before = plans.previous[2]

    def changed(sched: Schedule) -> int:
        return int(((sched.site != before.site)
                    | (sched.start_slot() != before.start_slot())).sum())

    assert out[1][-1:] == ("restore",)
    assert changed(out[2]) < changed(choice[2])
    assert out[3].objective <= objective + 0.005 * plans.whole(objective) + 1e-9
    assert plans.gap(bound, out[3].objective) <= 0.01
    assert violations(p, out[2]) == []


def shut_running_state(pinned: int) -> Problem:
    """40 jobs on 4 sites × 96 slots: 6 checkpointable jobs running (done 1 h) on the first
    two sites, which a max limit of 0 kW shuts for the first two hours, and `pinned`
    non-checkpointable ones running on the others."""
    inst = random_instance(40, n_sites=4, n_slots=96, seed=3, checkpointable_share=0.5)
    start = pd.Timestamp(inst.forecasts[next(iter(inst.forecasts))].slot_starts[0])
    site_ids = [s.id for s in inst.sites]
    jobs = list(inst.jobs)
    ckpt = [i for i, j in enumerate(jobs) if j.checkpointable and j.duration_h >= 2][:6]
    pins = [i for i, j in enumerate(jobs) if not j.checkpointable and j.duration_h >= 2
            and set(j.allowed_sites or site_ids) >= set(site_ids[2:])][:pinned]
    assert len(ckpt) == 6 and len(pins) == pinned
    began = (start - pd.Timedelta(hours=2)).to_pydatetime()
    for n, i in enumerate(ckpt + pins):
        jobs[i] = replace(jobs[i], running_site=site_ids[n % 2 + 2 * (i in pins)], done_h=1.0,
                          release=began)
    shut = [PowerLimit(s, start.to_pydatetime(), (start + pd.Timedelta(hours=2)).to_pydatetime(),
                       max_facility_kw=0.0) for s in site_ids[:2]]
    return build_problem(inst.sites, jobs, inst.forecasts, load_policy("min-carbon"),
                         now=start.to_pydatetime(), limits=shut)


def test_the_column_path_bounds_running_checkpointable_jobs_that_cannot_go_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Running checkpointable jobs whose site is shut for the first two hours (a max limit
    of 0 kW) cannot go on where they run: their one start column does not fit. Their runs
    paused or moved, restart overhead included, must reach the master, or its duals price
    them at the cost of leaving them out and the bound falls to a fraction of the plan's.
    The bound stays below the plan and close to the full model's LP (that it holds for
    every plan, `test_core_live_bruteforce` checks by enumeration)."""
    p = shut_running_state(pinned=0)
    assert solve_module.full_model_nnz(p) > solve_module.FULL_MODEL_MAX_NNZ
    lp = run_highs(build_fast(p).matrix, time_limit_s=120, relax=True)
    assert lp.status is SolveStatus.OPTIMAL
    monkeypatch.setattr(solve_module, "PIECES_MAX_NNZ", 0)  # the master of large re-plans
    plan = solve(p, deterministic=True)
    assert plan.source.startswith("milp:")
    assert not violations(p, plan.schedule)
    assert plan.bound <= plan.evaluation.objective + 1e-6
    assert plan.bound >= 0.95 * lp.objective
    # a running job's one start column is going on: moved, its run would need the restart
    # overhead a start column has no room for
    master = column_generation(p, greedy(p), 60)
    c, s, k = master.opts
    rep = np.array([cl[0] for cl in master.classes])[c]
    running = p.continue_site[rep] != -1
    assert (s[running] == p.continue_site[rep[running]]).all() and (k[running] == 0).all()


def test_the_master_holds_schedules_in_pieces_of_running_checkpointable_jobs_only() -> None:
    """A pinned running job (not checkpointable) has its going-on alone; a schedule in
    pieces for it would let the master's LP fall under the bound of the true problem, and
    rounding place it in pieces. The master is a restriction of the full LP, so its LP
    optimum never falls under the bound, and what it rounds to is a valid plan."""
    p = shut_running_state(pinned=3)
    master = column_generation(p, greedy(p), 60, max_rounds=20)
    rep = np.array([cl[0] for cl in master.classes])
    pieces = rep[[c for c, _, _ in master.piece_runs]]
    assert pieces.size and p.checkpointable[pieces].all()
    assert (p.fixed_site[pieces] == -1).all()
    assert master.lp_objective >= master.bound - 1e-6 * abs(master.bound)
    assert not violations(p, master.decode(master.x))
