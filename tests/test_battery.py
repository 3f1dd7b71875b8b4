"""Site batteries: hand-worked instances, the model's rules, both builders, sites.yaml errors
and ΔkW.

The hand-worked battery (unless a test says otherwise): 40 kWh, 20 kW, round-trip 81 %
(90 % each way), reserve 25 % (10 kWh), start 75 % (30 kWh) — 20 kWh stored above the
reserve, 18 kWh deliverable to the site.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

import scheduler.core.decompose as decompose
import scheduler.core.solve as solve_module
from inputs.errors import InputError
from policies.battery import Battery
from policies.job import Job
from policies.limits import PowerLimit
from policies.policy import load_policy
from policies.site import Site
from policies.sites_file import read_sites_yaml
from scheduler.core.colgen import Prices, column_generation, lagrangian_bound
from scheduler.core.greedy import greedy
from scheduler.core.milp_fast import dispatch_battery
from scheduler.core.plan import make_plan
from scheduler.core.planner import PlanConfig, Planner
from scheduler.core.problem import Problem, build_problem
from scheduler.core.schedule import Schedule, evaluate, violations
from scheduler.core.solve import Builder, Method, solve
from scheduler.dr.capacity import delta_kw
from scheduler.plan_file import plan_from_json, plan_to_json
from simulations.instances import random_instance
from tests.helpers import T0, at, forecast, job, site
from tests.test_core_bruteforce import job_options, tiny_problem

BATTERY = Battery(kwh=40.0, kw=20.0, efficiency=0.81, min_soc=0.25, initial_soc=0.75)
NOW = T0.to_pydatetime()
MIN_CARBON = load_policy("min-carbon")
EXACT = 1e-7


def site_a(battery: Battery | None = BATTERY, cap_kw: float = 100.0) -> Site:
    """One site, PUE 1.0 (facility kW = IT kW), 10 GPUs."""
    return dataclasses.replace(site("A", "r", gpus=10, cap_kw=cap_kw, pue=1.0, home=True),
                               battery=battery)


def pinned(it_kw: float = 50.0, hours: int = 4) -> Job:
    """A job running at A since an hour ago, not checkpointable: it stays for `hours` more."""
    return Job(id="run", gpus=10, kw_per_gpu=it_kw / 10, duration_h=hours + 1.0,
               release=at(-1).to_pydatetime(), deadline=at(hours).to_pydatetime(),
               running_site="A", done_h=1.0)


def problem(carbon: list[float], battery: Battery | None = BATTERY, jobs: list[Job] | None = None,
            curtailment_mw: list[float] | None = None, share: float = 0.0,
            cap_kw: float = 100.0, limits: tuple[PowerLimit, ...] = ()) -> Problem:
    a = dataclasses.replace(site_a(battery, cap_kw), curtailment_share=share)
    return build_problem([a], [pinned()] if jobs is None else jobs,
                         {"r": forecast("r", carbon, curtailment_mw)}, MIN_CARBON, now=NOW,
                         limits=limits)


# (1) dirty, then clean slots ------------------------------------------------------------

def test_the_battery_discharges_in_dirty_slots_and_recharges_in_clean_ones() -> None:
    """A 50 kW job runs through 4 slots of 800, 700, 200, 300 g/kWh: 100 kg without a
    battery. The battery delivers its 18 kWh in the dirtiest slot (−14.4 kg) and stores the
    20 kWh back from 20 kWh at 200 g and 20/0.9 − 20 = 2.22 kWh at 300 g (+4.67 kg):
    100 − 14.4 + 4 + 0.667 = 90.267 kg."""
    carbon = [800.0, 700.0, 200.0, 300.0]
    without = solve(problem(carbon, battery=None), mip_gap=1e-9)
    assert without.evaluation.total_kg_co2 == pytest.approx(100.0)
    for builder in (Builder.FAST, Builder.PYOMO):
        p = problem(carbon)
        out = solve(p, builder=builder, mip_gap=1e-9)
        ev = out.evaluation
        assert violations(p, out.schedule) == []
        assert ev.discharge_kw is not None and ev.charge_kw is not None
        assert ev.soc_kwh is not None
        assert ev.discharge_kw[0] == pytest.approx([18.0, 0.0, 0.0, 0.0], abs=1e-6)
        assert ev.charge_kw[0] == pytest.approx([0.0, 0.0, 20.0, 20 / 0.9 - 20], abs=1e-6)
        assert ev.soc_kwh[0] == pytest.approx([10.0, 10.0, 28.0, 30.0], abs=1e-6)
        assert ev.facility_kwh[0] == pytest.approx([32.0, 50.0, 70.0, 50 + 20 / 0.9 - 20])
        assert ev.total_kg_co2 == pytest.approx(100.0 - 14.4 + 4.0 + (20 / 0.9 - 20) * 0.3)
        assert ev.total_kg_co2 == pytest.approx(90.26667, abs=1e-4)
        assert out.objective == pytest.approx(ev.total_kg_co2)  # min-carbon: 1 point/kg


def test_charging_from_curtailment_counts_zero_carbon() -> None:
    """As above, with 6 MW curtailed in the last slot and a 1 % share (60 kWh zero-carbon):
    the job takes 50 of it, the battery charges the other 10 kWh for nothing and 12.22 kWh
    at 200 g — 85 kg without the battery, 85 − 14.4 + 2.444 = 73.044 kg with it, and 60 kWh
    of curtailment absorbed instead of 50."""
    carbon, curtailed = [800.0, 700.0, 200.0, 300.0], [0.0, 0.0, 0.0, 6.0]
    without = solve(problem(carbon, None, curtailment_mw=curtailed, share=0.01), mip_gap=1e-9)
    assert without.evaluation.total_kg_co2 == pytest.approx(85.0)
    p = problem(carbon, curtailment_mw=curtailed, share=0.01)
    for builder in (Builder.FAST, Builder.PYOMO):
        ev = solve(p, builder=builder, mip_gap=1e-9).evaluation
        assert ev.charge_kw is not None
        assert ev.charge_kw[0] == pytest.approx([0.0, 0.0, 20 / 0.9 - 10, 10.0], abs=1e-6)
        assert ev.zero_carbon_kwh[0] == pytest.approx([0.0, 0.0, 0.0, 60.0])
        assert ev.total_kg_co2 == pytest.approx(85.0 - 14.4 + (20 / 0.9 - 10) * 0.2)


def test_the_plan_reports_the_grid_draw_and_the_battery_and_reads_back() -> None:
    p = problem([800.0, 700.0, 200.0, 300.0])
    plan = make_plan(p, solve(p, mip_gap=1e-9), solve(p, Method.ASAP))
    a = plan.sites[0]
    assert a.facility_kw == pytest.approx([32.0, 50.0, 70.0, 50 + 20 / 0.9 - 20])
    assert a.battery_soc_kwh == pytest.approx([10.0, 10.0, 28.0, 30.0], abs=1e-6)
    assert plan.kwh == pytest.approx(200.0 + 20 / 0.9 - 18)  # the losses are drawn too
    assert plan.baseline_kg_co2 == pytest.approx(100.0)  # asap leaves the battery idle
    assert plan.jobs[0].kg_co2 == pytest.approx(plan.kg_co2)  # the one job bears it all
    doc = plan_to_json(plan)
    slot = doc["sites"][0]["slots"][0]
    assert slot["battery_discharge_kw"] == pytest.approx(18.0)
    assert {"battery_charge_kw", "battery_soc_kwh"} <= set(slot)
    back = plan_from_json(doc)
    assert back.sites[0].battery_soc_kwh == pytest.approx(a.battery_soc_kwh)
    assert back.sites[0].facility_kw == pytest.approx(a.facility_kw)
    # a site without a battery has no battery fields, and reads back as None
    q = problem([800.0, 700.0, 200.0, 300.0], battery=None)
    doc = plan_to_json(make_plan(q, solve(q), solve(q, Method.ASAP)))
    assert "battery_soc_kwh" not in doc["sites"][0]["slots"][0]
    assert plan_from_json(doc).sites[0].battery_soc_kwh is None


# (2) the rules: kW, state of charge, the end of the horizon -----------------------------

def test_the_end_of_the_horizon_rule_keeps_the_battery_from_draining() -> None:
    """Clean first (200, 300 g), then dirty (800, 700 g). Without the end rule the battery
    would deliver all 20 kWh above its reserve; with it, it may only give back what it
    charged first: it fills up to 40 kWh (10 kWh stored = 11.1 kWh drawn at 200 g) and
    delivers those 9 kWh at 800 g, ending where it started."""
    p = problem([200.0, 300.0, 800.0, 700.0])
    ev = solve(p, mip_gap=1e-9).evaluation
    assert ev.soc_kwh is not None and ev.discharge_kw is not None and ev.charge_kw is not None
    assert ev.soc_kwh[0, -1] == pytest.approx(30.0, abs=1e-6)
    assert ev.charge_kw[0] == pytest.approx([10 / 0.9, 0.0, 0.0, 0.0], abs=1e-6)
    assert ev.discharge_kw[0] == pytest.approx([0.0, 0.0, 9.0, 0.0], abs=1e-6)
    assert ev.total_kg_co2 == pytest.approx(100.0 + 10 / 0.9 * 0.2 - 9 * 0.8)


def battery_instance(seed: int, n_jobs: int = 8, checkpointable_share: float = 0.3) -> Problem:
    inst = random_instance(n_jobs, n_sites=3, n_slots=12, slot_minutes=60, seed=seed,
                           checkpointable_share=checkpointable_share, load_factor=0.9)
    rng = np.random.default_rng(seed)
    sites = [dataclasses.replace(s, power_cap_kw=s.power_cap_kw * 0.6, battery=Battery(
        kwh=float(rng.uniform(5, 30)), kw=float(rng.uniform(2, 10)),
        efficiency=float(rng.uniform(0.7, 1.0)), min_soc=0.1,
        initial_soc=float(rng.uniform(0.1, 0.9)))) if i != 1 else s
        for i, s in enumerate(inst.sites)]
    return build_problem(sites, inst.jobs, inst.forecasts, MIN_CARBON)


@pytest.mark.parametrize("seed", range(6))
def test_every_plan_keeps_the_battery_rules(seed: int) -> None:
    p = battery_instance(seed)
    b = p.battery
    assert b is not None
    for method in Method:
        out = solve(p, method, time_limit_s=20)
        assert violations(p, out.schedule) == [], method
        ev = out.evaluation
        assert ev.charge_kw is not None and ev.discharge_kw is not None
        assert ev.soc_kwh is not None
        kw = b.kw[:, None] + 1e-6
        assert (ev.charge_kw >= -1e-9).all() and (ev.charge_kw <= kw).all()
        assert (ev.discharge_kw >= -1e-9).all() and (ev.discharge_kw <= kw).all()
        assert (ev.soc_kwh >= b.min_kwh[:, None] - 1e-6).all()
        assert (ev.soc_kwh <= b.kwh[:, None] + 1e-6).all()
        assert (ev.soc_kwh[:, -1] >= b.start_kwh - 1e-6).all()
        grid = ev.facility_kwh / p.slot_h
        assert (grid >= -1e-6).all()
        assert (grid <= p.facility_cap_kw + 1e-6).all()
        if method is not Method.MILP:  # the baselines leave the battery idle
            assert not ev.charge_kw.any() and not ev.discharge_kw.any()


def test_violations_name_each_broken_battery_rule() -> None:
    """The pinned 50 kW job with a battery schedule broken one rule at a time."""
    p = problem([500.0] * 4)
    sched = solve(p, Method.GREEDY).schedule

    def broken(problem_: Problem, charge: list[float], discharge: list[float]) -> list[str]:
        s = solve(problem_, Method.GREEDY).schedule
        return violations(problem_, Schedule(s.site, s.run, np.array([charge]),
                                             np.array([discharge])))

    idle = [0.0] * 4
    assert broken(p, idle, idle) == []
    assert any("charge 25 kW outside [0, 20]" in v for v in broken(p, [25, 0, 0, 0], idle))
    assert any("outside [10, 40]" in v for v in broken(p, idle, [19, 0, 0, 0]))
    assert any("below its start" in v for v in broken(p, idle, [5, 0, 0, 0]))
    assert any("at once" in v for v in broken(p, [0, 0, 10, 0], [0, 0, 9, 0]))
    nothing_runs = problem([500.0] * 4, jobs=[])
    assert any("no export" in v for v in broken(nothing_runs, [0, 0, 5, 0], [4.5, 0, 0, 0]))
    capped = problem([500.0] * 4, cap_kw=55.0)
    assert any("grid draw 60 kW > power cap" in v
               for v in broken(capped, [0, 0, 0, 10], [9, 0, 0, 0]))
    assert violations(p, sched) == []


# (3) a cap only the battery can meet ----------------------------------------------------

def test_a_peak_above_the_cap_runs_on_the_battery() -> None:
    """An 80 kW job must run in slot 1; the site's cap is 60 kW. Without a battery it fits
    nowhere. With one (25 kW) it runs: 20 kW from the battery keep the grid at the cap.
    Flat 500 g/kWh, so the battery is used for the peak alone and pays only its losses:
    it stores 2.22 kWh in slot 0 (needs 32.22 kWh before delivering 20), and tops up to
    30 kWh after: 24.69 kWh drawn for 20 delivered, (80 + 4.69) × 0.5 = 42.35 kg."""
    peak = [job("peak", gpus=10, dur_slots=1, release=1, deadline=2, kw=8.0)]
    big = dataclasses.replace(BATTERY, kw=25.0)
    flat = [500.0] * 4
    without = solve(problem(flat, battery=None, jobs=peak, cap_kw=60.0), mip_gap=1e-9)
    assert without.schedule.site[0] < 0 and without.evaluation.late[0]
    p = problem(flat, battery=big, jobs=peak, cap_kw=60.0)
    for builder in (Builder.FAST, Builder.PYOMO):
        out = solve(p, builder=builder, mip_gap=1e-9)
        assert violations(p, out.schedule) == []
        assert out.schedule.site[0] == 0 and out.schedule.segments(0) == [(1, 2)]
        ev = out.evaluation
        assert ev.facility_kwh[0, 1] == pytest.approx(60.0)
        assert ev.discharge_kw is not None and ev.discharge_kw[0, 1] == pytest.approx(20.0)
        assert ev.total_kg_co2 == pytest.approx((80 + 20 / 0.81 - 20) * 0.5, abs=1e-6)


def test_a_limit_below_work_that_cannot_move_is_met_by_the_battery() -> None:
    """The 50 kW running job cannot move; a DR limit asks for ≤ 35 kW in slot 2. Without a
    battery the plan reports a 15 kW shortfall; with one, the battery covers the 15 kW."""
    flat = [500.0] * 4
    limit = (PowerLimit("A", at(2).to_pydatetime(), at(3).to_pydatetime(), 35.0),)
    q = problem(flat, battery=None, limits=limit)
    plan = make_plan(q, solve(q), solve(q, Method.ASAP))
    assert [(x.kind, x.kw) for x in plan.limit_shortfalls] == [("max", 15.0)]
    p = problem(flat, limits=limit)
    for builder in (Builder.FAST, Builder.PYOMO):
        out = solve(p, builder=builder, mip_gap=1e-9)
        assert violations(p, out.schedule) == []
        plan = make_plan(p, out, solve(p, Method.ASAP))
        assert plan.limit_shortfalls == ()
        assert plan.sites[0].facility_kw[2] == pytest.approx(35.0)


# (4) both builders, and the enumerated optimum ------------------------------------------

def enumerated_optimum(p: Problem) -> float:
    """Every combination of job options, each with its best battery schedule (the
    dispatch LP): the optimum of the model with batteries."""
    best = np.inf
    for combo in itertools.product(*[job_options(p, j) for j in range(len(p.jobs))]):
        sched = Schedule(np.array([s for s, _ in combo]), np.array([r for _, r in combo]))
        sched = dispatch_battery(p, sched)
        if not violations(p, sched):
            best = min(best, evaluate(p, sched).objective)
    return best


@pytest.mark.parametrize("seed", range(4))
def test_both_builders_reach_the_enumerated_optimum_with_batteries(seed: int) -> None:
    p0 = tiny_problem(seed, MIN_CARBON)
    sites = [dataclasses.replace(s, battery=Battery(kwh=6.0, kw=3.0, efficiency=0.85,
                                                    min_soc=0.2, initial_soc=0.5))
             for s in p0.sites]
    p = build_problem(sites, p0.jobs, {"chugoku": forecast("chugoku", [650, 300, 700, 200],
                                                           [0.0, 0.6, 0.0, 0.2]),
                                       "tokyo": forecast("tokyo", [450, 500, 300, 600])},
                      p0.policy)
    optimum = enumerated_optimum(p)
    for builder in (Builder.FAST, Builder.PYOMO):
        out = solve(p, time_limit_s=30, mip_gap=1e-9, builder=builder)
        assert violations(p, out.schedule) == []
        assert out.objective == pytest.approx(optimum, abs=EXACT * max(1.0, abs(optimum)))
        assert out.bound <= optimum + EXACT * max(1.0, abs(optimum))
    idle = solve(build_problem(p0.sites, p0.jobs, {
        "chugoku": forecast("chugoku", [650, 300, 700, 200], [0.0, 0.6, 0.0, 0.2]),
        "tokyo": forecast("tokyo", [450, 500, 300, 600])}, p0.policy), mip_gap=1e-9)
    assert optimum <= idle.objective + 1e-9  # a battery never makes the optimum worse


# (5) sites.yaml ----------------------------------------------------------------------------

SITE_YAML = """sites:
  - id: a
    region: r
    gpus: 8
    power_cap_kw: 100
    pue: 1.2
  - id: b
    region: r
    gpus: 8
    power_cap_kw: 100
    pue: 1.2
    battery: {battery}
"""


def test_a_battery_is_read_from_sites_yaml(tmp_path: Path) -> None:
    f = tmp_path / "sites.yaml"
    f.write_text(SITE_YAML.format(battery="{kwh: 4000, kw: 1000, efficiency: 0.9, "
                                          "min_soc: 0.1, initial_soc: 0.6}"))
    a, b = read_sites_yaml(f)
    assert a.battery is None
    assert b.battery == Battery(kwh=4000.0, kw=1000.0, efficiency=0.9, min_soc=0.1,
                                initial_soc=0.6)
    f.write_text(SITE_YAML.format(battery="{kwh: 100, kw: 50}"))
    assert read_sites_yaml(f)[1].battery == Battery(kwh=100.0, kw=50.0)


@pytest.mark.parametrize(("battery", "field", "words"), [
    ("{kwh: 100, kw: -5}", "battery.kw=-5", "must be ≥ 0"),
    ("{kwh: 0, kw: 5}", "battery.kwh=0", "must be > 0"),
    ("{kw: 5}", "battery.kwh=None", "required"),
    ("{kwh: 100}", "battery.kw=None", "required"),
    ("{kwh: 100, kw: 5, efficiency: 1.2}", "battery.efficiency=1.2", "≤ 1"),
    ("{kwh: 100, kw: 5, efficiency: 0}", "battery.efficiency=0", "> 0"),
    ("{kwh: 100, kw: 5, min_soc: -0.1}", "battery.min_soc=-0.1", "≥ 0"),
    ("{kwh: 100, kw: 5, initial_soc: 1.5}", "battery.initial_soc=1.5", "≤ 1"),
    ("{kwh: 100, kw: 5, min_soc: 0.5, initial_soc: 0.2}", "battery.initial_soc=0.2",
     "≥ battery.min_soc 0.5"),
    ("{kwh: 100, kw: 5, capacity: 3}", "battery.capacity=3", "unknown key"),
    ("{kwh: '100', kw: 5}", "battery.kwh='100'", "must be a number"),
    ("5", "battery=5", "must be a mapping"),
])
def test_a_bad_battery_names_the_field(tmp_path: Path, battery: str, field: str,
                                       words: str) -> None:
    f = tmp_path / "sites.yaml"
    f.write_text(SITE_YAML.format(battery=battery))
    with pytest.raises(InputError) as err:
        read_sites_yaml(f)
    assert "site b" in str(err.value) and field in str(err.value) and words in str(err.value)


# (6) ΔkW -----------------------------------------------------------------------------------

def dkw(p: Problem, first: int, length: int, direction: str) -> float:
    return delta_kw(p, solve(p, deterministic=True).schedule, 0, first, length, direction)


def test_the_battery_adds_to_down_dkw_up_to_what_its_charge_can_give() -> None:
    """Flat carbon: the plan leaves the battery idle at 30 kWh, and the running job cannot
    move, so without a battery nothing can be shed. With it, from slot 0: 1 h → 18 kW (its
    20 kWh above the reserve, 90 % delivered); 2 h → 9 kW; 3 h → 5.4 kW, not 6: it must
    store the 20 kWh back before the horizon ends and only the last slot is left (20 kW ×
    0.9 = 18 kWh). Up: it can take 10 kWh more (11.1 kW for an hour)."""
    flat = [500.0] * 4
    assert dkw(problem(flat, battery=None), 0, 1, "down") == pytest.approx(0.0)
    p = problem(flat)
    b = p.battery
    assert b is not None
    for length, want in ((1, 18.0), (2, 9.0), (3, 5.4)):
        got = dkw(p, 0, length, "down")
        assert got == pytest.approx(want, abs=1e-6)
        # never more than the charge above the reserve delivers over the window
        above = float(b.start_kwh[0] - b.min_kwh[0]) * float(b.one_way[0])
        assert got <= above / (length * p.slot_h) + 1e-6
    # (charging and discharging at once would burn 1.7 kW more in losses: 12.8 kW)
    assert dkw(p, 0, 1, "up") == pytest.approx(10 / 0.9, abs=1e-6)


def test_dkw_starts_from_the_planned_state_of_charge() -> None:
    """800 g/kWh in slot 0: the plan empties the battery to its reserve there (and refills
    it at 200 g in slots 2–3), so in slot 1 it has nothing left to shed."""
    p = problem([800.0, 500.0, 200.0, 200.0])
    plan = solve(p, deterministic=True)
    assert plan.evaluation.soc_kwh is not None
    assert plan.evaluation.soc_kwh[0, 0] == pytest.approx(10.0, abs=1e-6)
    assert delta_kw(p, plan.schedule, 0, 1, 1, "down") == pytest.approx(0.0, abs=1e-6)
    assert dkw(problem([500.0] * 4), 1, 1, "down") == pytest.approx(18.0, abs=1e-6)


# the live state ------------------------------------------------------------------------------

def test_a_replan_starts_from_the_state_of_charge_the_last_plan_gives() -> None:
    carbon = [800.0, 700.0, 200.0, 300.0, 300.0]
    fcs = {"r": forecast("r", carbon)}
    planner = Planner([site_a()], MIN_CARBON, PlanConfig(mip_gap=1e-9, deterministic=True))
    first = planner.replan(NOW, [pinned(hours=5)], fcs)
    assert first.sites[0].battery_soc_kwh is not None
    assert first.sites[0].battery_soc_kwh[0] == pytest.approx(10.0, abs=1e-6)
    now = at(1).to_pydatetime()
    assert planner.battery_soc(now, first) == pytest.approx({"A": 10.0}, abs=1e-6)
    again = planner.replan(now, [dataclasses.replace(pinned(hours=5), done_h=2.0)], fcs)
    assert planner.last_problem is not None and planner.last_problem.battery is not None
    assert planner.last_problem.battery.start_kwh == pytest.approx([10.0])
    soc = again.sites[0].battery_soc_kwh
    assert soc is not None and soc[-1] >= 10.0 - 1e-6


# the large-instance paths --------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(2))
def test_the_lagrangian_bound_covers_the_batteries(seed: int) -> None:
    """At the master's duals the bound equals its LP (the batteries' columns included); at
    other prices it stays below — a bound of the knee formula alone would ignore what the
    batteries save and could exceed the optimum."""
    p = battery_instance(seed, n_jobs=12, checkpointable_share=0.0)
    master = column_generation(p, greedy(p), time_limit_s=60, tol=1e-9)
    assert master.bound == pytest.approx(master.lp_objective, rel=1e-6, abs=1e-6)
    assert lagrangian_bound(p, master.prices()) == pytest.approx(master.lp_objective,
                                                                rel=1e-6, abs=1e-6)
    rng = np.random.default_rng(seed)
    y = master.prices()
    for _ in range(3):
        shaken = Prices(y.load * rng.uniform(0.5, 1.5, y.load.shape), y.gpu)
        assert lagrangian_bound(p, shaken) <= master.lp_objective + 1e-6


@pytest.mark.parametrize("path", ["columns", "parts"])
def test_the_large_instance_paths_give_valid_plans_that_use_the_battery(
        monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    p = battery_instance(3, n_jobs=16)
    exact = solve(p, time_limit_s=60, mip_gap=1e-9)
    monkeypatch.setattr(solve_module, "FULL_MODEL_MAX_NNZ", 0)
    if path == "parts":
        monkeypatch.setattr(decompose, "PART_JOBS", 6)
        monkeypatch.setattr(decompose, "SPAWN_MIN_S", np.inf)
    out = solve(p, deterministic=True)
    assert out.source.startswith("milp:") and ("parts" in out.source) == (path == "parts")
    assert violations(p, out.schedule) == []
    tol = 1e-6 * max(1.0, abs(exact.objective))
    assert out.bound <= exact.objective + tol <= out.objective + 2 * tol
    ev = out.evaluation
    assert ev.charge_kw is not None and ev.charge_kw.sum() > 0  # dispatched beside the jobs
