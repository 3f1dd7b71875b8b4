"""ΔkW on tiny instances worked out by hand, and the `wattbit dr capacity` command."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from forecasts.csv_file import read_forecast_csv
from policies.jobs_file import read_jobs_csv
from policies.policy import load_policy
from policies.sites_file import read_sites_yaml
from scheduler.cli import app
from scheduler.core.problem import build_problem
from scheduler.core.schedule import violations
from scheduler.core.solve import Method, solve
from scheduler.dr.capacity import capacity_table, delta_kw, delta_plan, movable
from simulations.instances import random_instance
from tests.helpers import forecast, job, site
from tests.test_dr_api import EXAMPLES

runner = CliRunner()

# Site A is clean in slot 1 only; site B is dirty throughout; 4 one-hour slots, PUE 1.25.
FCS = {"ra": forecast("ra", [500, 100, 500, 500]), "rb": forecast("rb", [900] * 4)}


def sites(cap_kw: float = 100.0):
    return [site("A", "ra", gpus=10, cap_kw=cap_kw, pue=1.25, home=True),
            site("B", "rb", gpus=10, cap_kw=100.0, pue=1.25)]


def plan_of(jobs, cap_kw: float = 100.0):
    p = build_problem(sites(cap_kw), jobs, FCS, load_policy("min-carbon"))
    out = solve(p, deterministic=True)
    return p, out.schedule


def test_a_movable_job_can_leave_its_slot() -> None:
    """j1 (4 kW IT = 5 kW facility) is planned at A in the clean slot 1; it may run any
    time on either site, so A can shed all 5 kW in slot 1, and take 5 kW more in slot 0."""
    p, base = plan_of([job("j1", 4, 1, 0, 4)])
    assert base.site[0] == 0 and base.run[0, 1]
    assert delta_kw(p, base, 0, 1, 1, "down") == pytest.approx(5.0)
    assert delta_kw(p, base, 0, 0, 1, "up") == pytest.approx(5.0)
    assert delta_kw(p, base, 0, 1, 1, "up") == pytest.approx(0.0)  # nothing else to add
    # a window of two slots holds only what every slot of it can give: slot 0 has nothing
    assert delta_kw(p, base, 0, 0, 2, "down") == pytest.approx(0.0)


def test_critical_and_deadline_bound_work_never_moves() -> None:
    """A critical job (2 kW IT) stays; j1 due at the end of slot 1 and allowed only at A
    cannot move either: A sheds nothing in slot 1. With a later deadline it sheds j1's 5 kW
    but never the critical job's 2.5 kW."""
    crit = job("c", 2, 1, 1, 2, critical=True, home="A")
    p, base = plan_of([job("j1", 4, 1, 1, 2, allowed=("A",)), crit])
    assert delta_kw(p, base, 0, 1, 1, "down") == pytest.approx(0.0)
    p, base = plan_of([job("j1", 4, 1, 0, 4, allowed=("A",)), crit])
    assert base.run[0, 1] and base.run[1, 1]
    assert delta_kw(p, base, 0, 1, 1, "down") == pytest.approx(5.0)


@pytest.mark.parametrize(("ckpt", "want"), [(True, 5.0), (False, 0.0)])
def test_a_running_checkpointable_job_may_pause(ckpt: bool, want: float) -> None:
    """A job running at A with 2 h of work left, due in 4 h, continues there from now. If
    it is checkpointable, A can shed its 5 kW in the first hour: it pauses and resumes after
    it (3 slots with its restart overhead); if not, it is pinned and A sheds nothing."""
    running = dataclasses.replace(job("r", 4, 3, -1, 4, ckpt=ckpt, allowed=("A",)),
                                  running_site="A", done_h=1.0)
    p, base = plan_of([running])
    assert base.site[0] == 0 and base.run[0, 0]
    kw, plan = delta_plan(p, base, 0, 0, 1, "down")
    assert kw == pytest.approx(want)
    assert violations(p, plan) == []
    if ckpt:  # resumed later with its overhead: 2 slots of work + 1
        assert not plan.run[0, 0] and plan.run[0].sum() == 3
    assert delta_kw(p, base, 0, 0, 1, "up") == pytest.approx(0.0)  # running: not pulled


def test_up_is_capped_by_gpus_and_power() -> None:
    """Three 4-GPU jobs (5 kW facility each), all cheaper at A than at B: A's 10 GPUs hold
    two at a time, so slot 0 can take 5 kW more for each of the two places the plan leaves
    free there. A power cap of 6 kW facility holds one job per slot."""
    jobs = [job(f"j{i}", 4, 1, 0, 4) for i in range(3)]
    ups = []
    for cap_kw, per_slot in ((100.0, 2), (12.0, 2), (6.0, 1)):
        p, base = plan_of(jobs, cap_kw)
        at_a_slot0 = int((base.site == 0)[base.run[:, 0]].sum())
        ups.append(delta_kw(p, base, 0, 0, 1, "up"))
        assert ups[-1] == pytest.approx(5.0 * (per_slot - at_a_slot0))
        assert delta_kw(p, base, 0, 1, 1, "up") == pytest.approx(0.0)  # slot 1 is full
    assert ups[0] == pytest.approx(5.0)  # two fit in slot 0, the plan puts one there


def test_table_covers_every_site_direction_window_and_start() -> None:
    p, base = plan_of([job("j1", 4, 1, 0, 4)])
    rows = capacity_table(p, base, windows=(60, 120), hours=4, every_minutes=60)
    assert len(rows) == 2 * 2 * 2 * 4
    assert all(r.kw >= 0 for r in rows)
    a_down = {(r.window_minutes, r.start.hour): r.kw for r in rows
              if r.id == "A" and r.direction == "down"}
    assert a_down[(60, 1)] == pytest.approx(5.0) and a_down[(120, 0)] == pytest.approx(0.0)


def test_cli_json_contract() -> None:
    res = runner.invoke(app, ["dr", "capacity", "--site", "matsue", "--window", "180",
                              "--every", "180", "--hours", "6", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 2 * 2 * 2  # site and its region × 2 directions × 2 starts
    assert set(rows[0]) == {"scope", "id", "direction", "window_minutes", "start", "kw"}
    assert {r["direction"] for r in rows} == {"down", "up"}
    assert {(r["scope"], r["id"]) for r in rows} == {("site", "matsue"), ("region", "chugoku")}
    assert all(r["kw"] >= 0 and r["window_minutes"] == 180 for r in rows)
    assert rows[0]["start"].endswith("+00:00")


@pytest.mark.parametrize(("args", "field"), [
    (["--site", "atlantis"], "site='atlantis'"),
    (["--window", "0"], "window="),
    (["--hours", "-1"], "hours"),
])
def test_cli_bad_options(args: list[str], field: str) -> None:
    res = runner.invoke(app, ["dr", "capacity", *args])
    assert res.exit_code == 2 and res.output.startswith("error: ") and field in res.output


def test_a_region_is_not_the_sum_of_its_sites() -> None:
    """j1 must run in slot 1, at A or A2 (both in region ra): A can shed its 5 kW (j1 moves
    to A2), A2 has nothing to shed, and the region can shed nothing — 0, not 5 + 0."""
    fleet = [site("A", "ra", gpus=10, pue=1.25, home=True), site("A2", "ra", gpus=10, pue=1.25),
             site("B", "rb", gpus=10, pue=1.25)]
    p = build_problem(fleet, [job("j1", 4, 1, 1, 2, allowed=("A", "A2"))], FCS,
                      load_policy("min-carbon"))
    base = solve(p, deterministic=True).schedule
    on = int(base.site[0])
    assert on in (0, 1) and base.run[0, 1]
    assert delta_kw(p, base, on, 1, 1, "down") == pytest.approx(5.0)
    assert delta_kw(p, base, 1 - on, 1, 1, "down") == pytest.approx(0.0)
    assert delta_kw(p, base, [0, 1], 1, 1, "down") == pytest.approx(0.0)
    rows = capacity_table(p, base, windows=(60,), directions=("down",), hours=2,
                          every_minutes=60, regions=True)
    by = {(r.scope, r.id, r.start.hour): r.kw for r in rows}
    assert by[("region", "ra", 1)] == pytest.approx(0.0)
    assert by[("site", fleet[on].id, 1)] == pytest.approx(5.0)
    assert ("region", "rb", 1) in by


def test_a_window_outside_the_plan_is_refused() -> None:
    from inputs.errors import InputError

    p, base = plan_of([job("j1", 4, 1, 0, 4)])
    with pytest.raises(InputError, match="window"):
        delta_kw(p, base, 0, 4, 1, "down")


@pytest.fixture(scope="module", params=["random", "example"])
def fleet_plan(request):
    """The greedy's plan of 160 jobs on 4 sites × 48 half-hour slots (any feasible plan
    will do; 10 % of the jobs are checkpointable), and the MILP's plan of the built-in
    example (checkpointable jobs in pieces, Shiroi's battery)."""
    if request.param == "random":
        inst = random_instance(160, n_sites=4, n_slots=48, slot_minutes=30, seed=3)
        p = build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy("min-carbon"))
        return p, solve(p, Method.GREEDY).schedule
    p = build_problem(read_sites_yaml(EXAMPLES / "sites.yaml"),
                      read_jobs_csv(EXAMPLES / "jobs.csv"),
                      read_forecast_csv(EXAMPLES / "forecast.csv"), load_policy("min-carbon"))
    base = solve(p, deterministic=True).schedule
    assert (base.end_slot() - base.start_slot() > base.run.sum(axis=1)).any()  # in pieces
    return p, base


def facility_kw(p, sched) -> np.ndarray:
    """(S, T) facility kW of a plan, counted from its runs: Σ IT kW × PUE + battery net."""
    it = np.zeros(p.pue.shape)
    for j in np.flatnonzero(sched.site >= 0):
        it[sched.site[j]] += sched.run[j] * p.it_kw[j]
    net = sched.net_kw()
    return it * p.pue + (0.0 if net is None else net)


@pytest.mark.parametrize("direction", ["down", "up"])
def test_every_answer_on_a_fleet_is_a_plan_that_delivers_it(fleet_plan, direction) -> None:
    """On a fleet plan, each ΔkW comes with a plan that breaks no rule, makes no job later
    than its deadline (or its planned end), leaves no due job out, never moves running,
    critical or fixed work, and moves the window's facility kW by at least ΔkW."""
    p, base = fleet_plan
    before = facility_kw(p, base)
    fixed = ~movable(p)
    late_ok = np.maximum(p.deadline_slot, base.end_slot())
    answers = []
    for s in range(len(p.sites)):
        for first, length in ((4, 1), (10, 2), (20, 6), (24, 6), (30, 2)):
            kw, plan = delta_plan(p, base, s, first, length, direction)
            answers.append(kw)
            assert violations(p, plan) == []
            placed = plan.site >= 0
            assert np.array_equal(placed, base.site >= 0)
            assert np.all(plan.end_slot()[placed] <= late_ok[placed])
            assert np.array_equal(plan.site[fixed], base.site[fixed])
            assert np.array_equal(plan.run[fixed], base.run[fixed])
            moved = facility_kw(p, plan)[s, first:first + length] - before[s, first:first + length]
            if direction == "down":
                assert np.all(moved <= -kw + 1e-6)
            else:
                assert np.all(moved >= kw - 1e-6)
    assert sum(a > 1.0 for a in answers) >= 4  # the fleet has room to move


def test_the_table_on_threads_is_the_table_on_one(fleet_plan) -> None:
    """The table's queries run on threads: the same answers as one after another."""
    p, base = fleet_plan
    rows = {w: capacity_table(p, base, hours=6, every_minutes=60, regions=True, workers=w)
            for w in (1, 3)}
    assert rows[1] == rows[3]
    assert any(r.kw > 0 for r in rows[1])
