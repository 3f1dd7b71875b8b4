"""The re-planner: rolling consistency, stability, determinism, limits, and plans read back."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasts.csv_file import read_forecast_csv
from policies.job import Job
from policies.jobs_file import read_jobs_csv
from policies.limits import PowerLimit
from policies.policy import load_policy
from policies.sites_file import read_sites_yaml
from scheduler.core.plan import Plan, schedule_on
from scheduler.core.planner import PlanConfig, Planner
from scheduler.core.problem import build_problem
from scheduler.core.schedule import evaluate, violations
from scheduler.core.solve import align, solve
from scheduler.plan_cli import EXAMPLES
from scheduler.plan_file import read_plan_json, write_plan_json
from simulations.execute import run_plan
from simulations.instances import random_instance

SITES = read_sites_yaml(EXAMPLES / "sites.yaml")
JOBS = read_jobs_csv(EXAMPLES / "jobs.csv")
FORECASTS = read_forecast_csv(EXAMPLES / "forecast.csv")
START = pd.Timestamp("2026-05-02T15:00:00Z")
QUICK = PlanConfig(mip_gap=0.02, deterministic=True)
OVERHEAD_H = load_policy("min-carbon").restart_overhead_h


def first_hour_kg(plan: Plan, now: pd.Timestamp, hours: float) -> float:
    inside = (plan.slot_starts >= now) & (plan.slot_starts < now + pd.Timedelta(hours=hours))
    return float(sum(sp.kg_co2[inside].sum() for sp in plan.sites))


def test_hourly_replans_with_exact_forecasts_never_end_worse_than_the_first_plan() -> None:
    planner = Planner(SITES, load_policy("min-carbon"), QUICK)
    first = planner.replan(START.to_pydatetime(), JOBS, FORECASTS)
    assert not any(jp.late for jp in first.jobs)
    executed, jobs, now = 0.0, list(JOBS), START
    for _ in range(48):
        executed += first_hour_kg(planner.last, now, 1.0)
        jobs = run_plan(planner.last, jobs, now, 1.0, OVERHEAD_H)
        now += pd.Timedelta(hours=1)
        if not jobs:
            break
        plan = planner.replan(now.to_pydatetime(), jobs, FORECASTS)
        assert not any(jp.late for jp in plan.jobs)
    assert not jobs
    assert executed <= first.kg_co2 + 1e-6 * first.kg_co2


def test_a_replan_with_nothing_changed_returns_the_same_plan() -> None:
    planner = Planner(SITES, load_policy("min-carbon"), PlanConfig(mip_gap=0.02, time_limit_s=20))
    now = START + pd.Timedelta(hours=3)
    jobs = run_plan(planner.replan(START.to_pydatetime(), JOBS, FORECASTS), list(JOBS), START, 3,
                    OVERHEAD_H)
    a = planner.replan(now.to_pydatetime(), jobs, FORECASTS)
    b = planner.replan(now.to_pydatetime(), jobs, FORECASTS)
    assert b.changed_jobs == 0
    assert b.decisions() == a.decisions()


def test_interchangeable_jobs_keep_their_own_starts_across_replans() -> None:
    twins = [replace(JOBS[1], id=f"twin-{i}") for i in range(6)]
    planner = Planner(SITES, load_policy("min-carbon"), QUICK)
    a = planner.replan(START.to_pydatetime(), twins + JOBS[:4], FORECASTS)
    b = planner.replan(START.to_pydatetime(), list(reversed(twins)) + JOBS[:4], FORECASTS)
    assert b.decisions() == a.decisions() and b.changed_jobs == 0


def test_the_work_limited_mode_gives_the_same_plan_whatever_the_time_limit() -> None:
    inst = random_instance(16, n_sites=3, n_slots=24, slot_minutes=60, seed=3)
    pol = load_policy("follow-the-sun-wind")
    plans = [Planner(inst.sites, pol, PlanConfig(deterministic=True, time_limit_s=t))
             .replan(None, inst.jobs, inst.forecasts) for t in (1.0, 30.0)]
    assert plans[0].decisions() == plans[1].decisions()
    assert plans[0].objective == plans[1].objective


def test_an_empty_queue_is_an_empty_plan() -> None:
    plan = Planner(SITES, load_policy("min-carbon")).replan(START.to_pydatetime(), [], FORECASTS)
    assert plan.jobs == () and plan.kwh == 0.0
    assert all((sp.it_kw == 0).all() for sp in plan.sites)


def test_a_job_that_fits_nowhere_is_flagged_and_the_rest_are_planned() -> None:
    huge = replace(JOBS[0], id="huge", gpus=4096)
    plan = Planner(SITES, load_policy("min-carbon"), QUICK).replan(None, [huge, *JOBS[:5]],
                                                                   FORECASTS)
    by_id = {jp.id: jp for jp in plan.jobs}
    assert by_id["huge"].site is None and "fits no allowed site" in by_id["huge"].note
    assert all(by_id[j.id].site is not None for j in JOBS[:5])


def test_pinned_work_above_a_max_limit_is_reported_and_nothing_else_runs_there() -> None:
    now = START + pd.Timedelta(hours=6)
    pinned = replace(JOBS[1], running_site="matsue", done_h=1.0, checkpointable=False)
    window = (now.to_pydatetime(), (now + pd.Timedelta(hours=3)).to_pydatetime())
    limit = PowerLimit("matsue", *window, max_facility_kw=5.0)
    others = [j for j in JOBS if j.id != pinned.id]
    plan = Planner(SITES, load_policy("min-carbon"), QUICK).replan(
        now.to_pydatetime(), [pinned, *others], FORECASTS, [limit])
    by_id = {jp.id: jp for jp in plan.jobs}
    assert by_id[pinned.id].site == "matsue"
    assert pd.Timestamp(by_id[pinned.id].segments[0][0]) == now
    excess = [x for x in plan.limit_shortfalls if x.site == "matsue" and x.kind == "max"]
    assert excess and all(x.kw > 0 for x in excess)
    matsue = next(sp for sp in plan.sites if sp.id == "matsue")
    inside = (plan.slot_starts >= now) & (plan.slot_starts < now + pd.Timedelta(hours=3))
    pinned_kw = pinned.it_kw * 1.33
    assert np.allclose(matsue.facility_kw[inside], pinned_kw)  # nothing movable joins it


def test_frozen_decisions_of_the_previous_plan_are_kept() -> None:
    planner = Planner(SITES, load_policy("min-carbon"), replace(QUICK, freeze_minutes=600))
    first = planner.replan(START.to_pydatetime(), JOBS, FORECASTS)
    soon = {jid: d for jid, d in first.decisions().items()
            if pd.Timestamp(d[1]) < START + pd.Timedelta(minutes=600)}
    cheaper = load_policy("min-cost")  # another objective would move them, were they free
    again = Planner(SITES, cheaper, replace(QUICK, freeze_minutes=600)).replan(
        START.to_pydatetime(), JOBS, FORECASTS, previous=first)
    assert soon and all(again.decisions()[j] == d for j, d in soon.items())


def test_plan_json_reads_back_to_the_same_plan(tmp_path: Path) -> None:
    plan = Planner(SITES, load_policy("min-carbon"), QUICK).replan(None, JOBS, FORECASTS)
    write_plan_json(plan, tmp_path / "plan.json")
    back = read_plan_json(tmp_path / "plan.json")
    assert back.decisions() == plan.decisions()
    assert back.kg_co2 == pytest.approx(plan.kg_co2, abs=1e-5)
    assert back.made_at == plan.made_at.replace(microsecond=plan.made_at.microsecond)
    assert [jp.site_costs for jp in back.jobs] == [
        tuple((s, None if c is None else round(c, 6)) for s, c in jp.site_costs)
        for jp in plan.jobs]
    np.testing.assert_allclose(back.sites[0].facility_kw, plan.sites[0].facility_kw, atol=1e-5)


@st.composite
def live_states(draw: st.DrawFn) -> tuple[list[Job], datetime, list[PowerLimit]]:
    now = START + pd.Timedelta(minutes=30 * draw(st.integers(0, 12)))
    jobs = []
    for job in JOBS[:draw(st.integers(1, 12))]:
        kind = draw(st.sampled_from(["pending", "running", "paused", "next-week"]))
        done = draw(st.floats(0.0, 0.9)) * job.duration_h
        if kind == "pending":
            jobs.append(job)
        elif kind == "next-week":  # queued now, released after the forecast ends
            jobs.append(replace(job, release=job.release + timedelta(days=7),
                                deadline=job.deadline + timedelta(days=7)))
        elif kind == "running":
            allowed = [s.id for s in SITES if not job.allowed_sites
                       or any(t == s.id or t in s.residency for t in job.allowed_sites)]
            if job.latency.value == "critical":
                allowed = [job.home_site or "shiroi"]
            jobs.append(replace(job, running_site=draw(st.sampled_from(allowed)), done_h=done))
        elif job.checkpointable:
            jobs.append(replace(job, done_h=done))
    site = draw(st.sampled_from(["matsue", "shiroi", "kitakyushu"]))
    start = now + pd.Timedelta(minutes=30 * draw(st.integers(0, 8)))
    limit = PowerLimit(site, start.to_pydatetime(), (start + timedelta(hours=3)).to_pydatetime(),
                       max_facility_kw=draw(st.sampled_from([0.0, 50.0, 200.0])))
    return jobs, now.to_pydatetime(), [limit]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(live_states())
def test_every_job_appears_once_pinned_jobs_stay_and_limits_hold_or_are_reported(
        state: tuple[list[Job], datetime, list[PowerLimit]]) -> None:
    jobs, now, limits = state
    pol = load_policy("min-carbon")
    p = build_problem(SITES, jobs, FORECASTS, pol, now=now, limits=limits)
    out = solve(p, time_limit_s=5, mip_gap=0.05, deterministic=True)
    assert not violations(p, out.schedule)
    plan = Planner(SITES, pol, QUICK).replan(now, jobs, FORECASTS, limits)
    assert sorted(jp.id for jp in plan.jobs) == sorted(j.id for j in jobs)
    slot = pd.Timedelta(hours=plan.slot_h)
    for job, jp in zip(jobs, plan.jobs, strict=True):
        if job.running_site and not job.checkpointable:
            assert jp.site == job.running_site and pd.Timestamp(jp.segments[0][0]) <= now
        if pd.Timestamp(job.release) >= plan.slot_starts[-1] + pd.Timedelta(hours=plan.slot_h):
            assert jp.site is None and jp.deferred and not jp.late
        if jp.site is not None:  # done_h is never done again: only the rest runs
            hours = sum((pd.Timestamp(b) - pd.Timestamp(a)) / slot for a, b in jp.segments) \
                * plan.slot_h
            overhead_h = np.ceil(pol.restart_overhead_h / plan.slot_h) * plan.slot_h
            assert hours <= job.duration_h - job.done_h + overhead_h * len(jp.segments) \
                + plan.slot_h
    # the independent accounting of each site slot matches the plan's
    sites = {s.id: s for s in SITES}
    for sp in plan.sites:
        fc = FORECASTS[sites[sp.id].region]
        ci = pd.Series(fc.carbon_gco2_per_kwh, index=fc.slot_starts).reindex(plan.slot_starts)
        curt = pd.Series(fc.curtailment_mw, index=fc.slot_starts).reindex(plan.slot_starts)
        kwh = sp.facility_kw * plan.slot_h
        zero = np.minimum(kwh, sites[sp.id].curtailment_share * curt.to_numpy() * 1000
                          * plan.slot_h)
        np.testing.assert_allclose(sp.kg_co2, (kwh - zero) * ci.to_numpy() / 1000, atol=1e-9)
        cap = pd.Series(sites[sp.id].power_cap_kw, index=plan.slot_starts)
        for lim in limits:
            if lim.site == sp.id:
                hit = (plan.slot_starts < lim.end) & (plan.slot_starts + slot > lim.start)
                cap[hit] = np.minimum(cap[hit], lim.max_facility_kw)
        over = sp.facility_kw - cap.to_numpy()
        reported = {pd.Timestamp(x.start) for x in plan.limit_shortfalls
                    if x.site == sp.id and x.kind == "max"}
        for t in np.flatnonzero(over > 1e-6):
            assert plan.slot_starts[t] in reported


def test_align_gives_interchangeable_jobs_back_their_own_starts() -> None:
    twins = [replace(JOBS[1], id=f"twin-{i}") for i in range(4)]
    p = build_problem(SITES, twins, FORECASTS, load_policy("min-carbon"))
    sched = solve(p, time_limit_s=10, deterministic=True).schedule
    starts = sched.start_slot()
    assert len({(int(sched.site[j]), int(starts[j])) for j in range(4)}) > 1
    swapped = sched.copy()
    order = [3, 2, 1, 0]
    swapped.site[:], swapped.run[:] = sched.site[order], sched.run[order]
    back = align(p, swapped, prefer=sched)
    assert np.array_equal(back.site, sched.site) and np.array_equal(back.run, sched.run)
    assert evaluate(p, back).objective == pytest.approx(evaluate(p, swapped).objective)


def test_the_previous_plan_is_kept_unless_a_new_one_is_better_by_more_than_half_the_gap(
        ) -> None:
    inst = random_instance(12, n_sites=3, n_slots=24, slot_minutes=60, seed=5)
    carbon = load_policy("min-carbon")
    prev = Planner(inst.sites, load_policy("min-cost"), QUICK).replan(None, inst.jobs,
                                                                      inst.forecasts)
    p = build_problem(inst.sites, inst.jobs, inst.forecasts, carbon)
    prev_points = evaluate(p, schedule_on(p, prev)).objective
    best = Planner(inst.sites, carbon, PlanConfig(mip_gap=1e-6, deterministic=True)).replan(
        None, inst.jobs, inst.forecasts)
    worse = (prev_points - best.objective) / abs(best.objective)
    assert worse > 1e-3  # the other policy's plan is measurably worse here
    kept = Planner(inst.sites, carbon, PlanConfig(mip_gap=4 * worse, deterministic=True)
                   ).replan(None, inst.jobs, inst.forecasts, previous=prev)
    assert kept.changed_jobs == 0 and kept.decisions() == prev.decisions()
    replaced = Planner(inst.sites, carbon, PlanConfig(mip_gap=1e-6, deterministic=True)
                       ).replan(None, inst.jobs, inst.forecasts, previous=prev)
    assert replaced.changed_jobs > 0
    assert replaced.objective == pytest.approx(best.objective, rel=1e-6)


@pytest.mark.parametrize("method", ["milp", "greedy", "asap"])
def test_work_longer_than_the_horizon_starts_and_runs_to_its_end(method: str) -> None:
    """A 10-slot job on a 6-slot horizon: due soon (latest start slot 2) it starts at its
    release and runs to the horizon's end, for every method; due later (latest start beyond
    the horizon) it may wait. Before, no method could place it at all."""
    from scheduler.core.solve import Method
    from tests.helpers import forecast, job, site

    fleet = [site("A", "ra", home=True)]
    fcs = {"ra": forecast("ra", [300, 300, 100, 100, 300, 300])}
    policy = load_policy("min-carbon")
    soon = build_problem(fleet, [job("long", 2, 10, 1, 12)], fcs, policy)
    assert not soon.deferrable[0] and soon.dur_slots[0] == 5
    out = solve(soon, Method(method), deterministic=True)
    assert out.schedule.site[0] == 0
    assert out.schedule.run[0].tolist() == [False, True, True, True, True, True]
    later = build_problem(fleet, [job("long", 2, 10, 1, 30)], fcs, policy)
    assert later.deferrable[0]
    assert not violations(later, solve(later, Method(method), deterministic=True).schedule)


@pytest.mark.parametrize("method", ["milp", "greedy", "asap"])
@pytest.mark.parametrize("ckpt", [False, True])
def test_a_job_released_after_the_horizon_is_left_for_a_later_plan(method: str,
                                                                   ckpt: bool) -> None:
    """A job known now but released after the forecast ends (a queue that holds next
    week's jobs, a 6-slot forecast): nothing of it is planned, it is deferred (not late,
    not "fits nowhere"), and the job released inside the horizon is planned beside it.
    Before, a checkpointable one crashed the full model's build."""
    from scheduler.core.solve import Method
    from tests.helpers import forecast, job, site

    fleet = [site("A", "ra", home=True)]
    fcs = {"ra": forecast("ra", [300, 300, 100, 100, 300, 300])}
    jobs = [job("next-week", 1, 2, 9, 40, ckpt=ckpt), job("now", 1, 2, 0, 6, ckpt=ckpt)]
    planner = Planner(fleet, load_policy("min-carbon"), PlanConfig(method=Method(method),
                                                                   deterministic=True))
    plan = planner.replan(None, jobs, fcs)
    by_id = {jp.id: jp for jp in plan.jobs}
    later = by_id["next-week"]
    assert later.site is None and later.deferred and not later.late
    assert "released after the horizon" in later.note, later.note
    assert by_id["now"].site == "A"


def test_a_replan_of_a_large_instance_starts_from_the_last_plans_prices(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The column generation of the next re-plan is handed the last bound's prices, moved
    onto the new slots, and the columns the last one's LP used; the first plan starts
    without."""
    import scheduler.core.solve as solve_module

    monkeypatch.setattr(solve_module, "FULL_MODEL_MAX_NNZ", 0)
    handed: list = []
    real = solve_module.column_generation

    columns: list = []

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        handed.append(kwargs.get("prices"))
        columns.append(kwargs.get("columns"))
        return real(*args, **kwargs)

    monkeypatch.setattr(solve_module, "column_generation", recording)
    inst = random_instance(60, n_sites=3, n_slots=48, slot_minutes=60, seed=3)
    planner = Planner(inst.sites, load_policy("min-carbon"), QUICK)
    start = pd.Timestamp(inst.forecasts[next(iter(inst.forecasts))].slot_starts[0])
    first = planner.replan(start.to_pydatetime(), inst.jobs, inst.forecasts)
    assert handed == [None] and planner.last_prices is not None
    assert columns == [None] and planner.last_columns is not None
    before, grid = planner.last_prices, planner.last_problem.slot_starts
    used = planner.last_columns
    now = start + pd.Timedelta(hours=2)
    planner.replan(now.to_pydatetime(), run_plan(first, inst.jobs, start, 2.0, OVERHEAD_H),
                   inst.forecasts)
    assert len(handed) == 2 and handed[1] is not None
    assert columns[1] is used and len(used.starts[0]) > 0
    assert np.array_equal(handed[1].load, before.load[:, 2:2 + handed[1].load.shape[1]])
    assert grid[2] == planner.last_problem.slot_starts[0]


def test_a_deferred_job_is_worth_its_cheapest_hours_of_an_average_day() -> None:
    """Leaving a job due after the horizon to a later plan costs its energy at the cheapest
    window of its duration in the horizon's average day (at its cheapest site), not at the
    horizon's average: a later plan picks that day's clean hours. Two days of hourly slots,
    clean around noon (cheaper on day 2), dirtier overnight; computed here by hand."""
    from tests.helpers import forecast, job, site

    day1 = [500.0] * 24
    day1[11:14] = [200.0, 100.0, 200.0]
    day2 = [400.0] * 24
    day2[11:14] = [100.0, 50.0, 100.0]
    carbon = day1 + day2
    fleet = [site("A", "ra", home=True, pue=1.0)]
    fcs = {"ra": forecast("ra", carbon)}
    jobs = [job("two", 1, 2, 0, 100), job("day", 1, 30, 0, 100)]
    p = build_problem(fleet, jobs, fcs, load_policy("min-carbon"))
    assert p.deferrable.all()
    avg = [(a + b) / 2 for a, b in zip(day1, day2, strict=True)]  # 150 at noon, 75 at 12
    best_two = min((avg[k] + avg[(k + 1) % 24]) / 2 for k in range(24))
    assert best_two == (150.0 + 75.0) / 2
    kwh = [j.gpus * j.kw_per_gpu * j.duration_h for j in jobs]
    g_per_kg = 1000.0
    np.testing.assert_allclose(p.unplaced_points, [kwh[0] * best_two / g_per_kg,
                                                   kwh[1] * sum(avg) / 24 / g_per_kg])


def test_a_deferred_job_counts_the_zero_carbon_energy_a_later_day_offers() -> None:
    """Curtailment that covers half a site's energy at its cap (50 MW × 0.001 of 100 kW)
    at noon on both days: deferring a one-hour job is worth noon's cost less half its
    zero-carbon credit, not noon's carbon alone (the MILP would count that credit when it
    places the job there, so a value without it made waiting look dearer than it is)."""
    from tests.helpers import forecast, job, site

    curtailment = ([0.0] * 12 + [50.0] + [0.0] * 11) * 2
    fleet = [site("A", "ra", home=True, pue=1.25, cap_kw=100.0, share=0.001)]
    fcs = {"ra": forecast("ra", [400.0] * 48, curtailment)}
    policy = load_policy("min-carbon")
    one = job("one", 1, 1, 0, 100)
    p = build_problem(fleet, [one], fcs, policy)
    assert p.deferrable.all()
    cost = policy.carbon_weight_per_kg * 400.0 / 1000.0
    credit = cost + policy.curtailment_reward_per_kwh
    it_kwh = one.gpus * one.kw_per_gpu * one.duration_h
    np.testing.assert_allclose(p.unplaced_points, [it_kwh * 1.25 * (cost - 0.5 * credit)])


def test_gaps_are_measured_above_the_points_no_plan_can_avoid() -> None:
    """A job that cannot meet its deadline (4 h of work due 2 h after its release) costs
    2 h of lateness in every plan: 20,000 points at 10,000 per hour. A plan that runs a
    one-hour job at 500 g/kWh instead of in the 50 g/kWh hour emits 18 % more than the best
    (the late job's own emissions included), and its gap must say so: measured on the whole
    objective it read 0.002 %, and plans (the simulator's oracle among them) stopped at
    their 0.5 % gap far from the best emissions."""
    from scheduler.core.outcome import Outcome
    from scheduler.core.solve import Method
    from tests.helpers import forecast, job, site

    carbon = [500.0] * 8 + [50.0] + [500.0] * 3
    fleet = [site("A", "ra", home=True, pue=1.0, gpus=8)]
    jobs = [job("late", 1, 4, 0, 2), job("free", 1, 1, 0, 12)]
    p = build_problem(fleet, jobs, {"ra": forecast("ra", carbon)}, load_policy("min-carbon"))
    assert p.unavoidable_points() == 2 * p.late_points_per_slot
    best = solve(p, Method.MILP, time_limit_s=10)
    assert best.floor == p.unavoidable_points()
    worse = best.schedule.copy()
    worse.run[1] = False
    worse.run[1, 0] = True
    ev = evaluate(p, worse)
    out = Outcome(worse, ev, "test", (), best.status, best.bound, 0.0, 0.0, None, best.floor)
    np.testing.assert_allclose(out.gap, (ev.objective - best.bound) / (ev.objective - best.floor))
    assert out.gap > 0.15 and (ev.objective - best.bound) / ev.objective < 1e-4


def test_the_pyomo_reference_stops_at_the_gap_above_unavoidable_points(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference model's solver gets the same stop rule as the fast path: `mip_gap` of
    the objective above the lateness no plan can avoid, not of the whole objective (where
    20,000 points of unavoidable lateness made 0.5 % worth 100 points of emissions)."""
    from scheduler.core import milp_pyomo
    from scheduler.core.greedy import greedy
    from scheduler.core.solve import Builder, Method
    from tests.helpers import forecast, job, site

    handed: list[float] = []
    real = milp_pyomo.run_pyomo

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        handed.append(kwargs["mip_rel_gap"])
        return real(*args, **kwargs)

    monkeypatch.setattr(milp_pyomo, "run_pyomo", recording)
    carbon = [500.0] * 8 + [50.0] + [500.0] * 3
    fleet = [site("A", "ra", home=True, pue=1.0, gpus=8)]
    jobs = [job("late", 1, 4, 0, 2), job("free", 1, 1, 0, 12)]
    p = build_problem(fleet, jobs, {"ra": forecast("ra", carbon)}, load_policy("min-carbon"))
    out = solve(p, Method.MILP, builder=Builder.PYOMO, time_limit_s=20, mip_gap=0.005)
    start = evaluate(p, greedy(p)).objective
    np.testing.assert_allclose(handed, [0.005 * max(1.0, start - p.unavoidable_points())
                                        / start])
    assert out.gap <= 0.005
