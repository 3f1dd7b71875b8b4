"""The simulator end to end on a small synthetic scenario: conservation, no job lost, the
policy order under perfect forecasts, determinism, no forecast leakage, reports, bad input."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from inputs.errors import InputError
from scheduler.cli import app
from simulations import forecasters
from simulations.engine import build_world, oracle, rolling, simulate, tabulate
from simulations.forecasters import make_forecaster, seasonal_naive
from simulations.results import SUMMARY_COLUMNS
from simulations.scenario import builtin_scenarios, load_scenario
from simulations.signals import RegionSignals

runner = CliRunner()

SMALL = {
    "name": "small",
    "start": "2026-04-06T00:00:00+09:00",
    "end": "2026-04-09T00:00:00+09:00",
    "replan_minutes": 120,
    "horizon_hours": 24,
    "sites": [
        {"id": "matsue", "region": "jp-chugoku", "gpus": 64, "power_cap_kw": 80, "pue": 1.33,
         "curtailment_share": 0.001, "certificate_share": 0.5},
        {"id": "shiroi", "region": "jp-tokyo", "gpus": 64, "power_cap_kw": 80,
         "pue": {"base": 1.30, "per_degc": 0.004, "above_degc": 18}, "home": True},
    ],
    "grid": {"jp-chugoku": {"source": "synthetic", "area": "chugoku"},
             "jp-tokyo": {"source": "synthetic", "area": "tokyo"}},
    "forecast": {"model": "perfect"},
    "workload": {"generator": {"jobs_per_day": 12, "home_sites": ["shiroi"],
                               "duration_max_h": 12, "gpus_choices": [1, 4, 8],
                               "gpus_weights": [0.5, 0.3, 0.2]}},
    "policies": ["asap", "lwa", "greedy", "milp", "oracle"],
    "seed": 3,
}


def write(tmp_path: Path, doc: dict, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    sc = load_scenario(write(tmp_path_factory.mktemp("sc"), SMALL))
    return sc, simulate(sc)


def test_every_job_once_per_policy_and_none_lost(small) -> None:
    sc, res = small
    duration = {j.id: j.duration_h for j in build_world(sc).jobs}
    n = res.scenario["jobs_simulated"]
    assert n == len(duration) > 20
    for policy in sc.policies:
        mine = res.jobs[res.jobs.policy == policy]
        assert len(mine) == n and mine.job_id.is_unique
        # the accounting runs past every deadline: each job is finished, or counted late
        need = mine.job_id.map(duration)
        assert ((mine.done_h >= need - 1e-9) | mine.late).all()
        assert (mine.done_h <= need + 1e-9).all()


def test_energy_is_conserved(small) -> None:
    """IT energy accounted = the jobs' work (up to slot rounding and restart overheads),
    and facility energy and emissions follow from it slot by slot."""
    sc, res = small
    world = build_world(sc)
    kw = {j.id: j.it_kw for j in world.jobs}
    slot_h = sc.replan_minutes / 60 / 4  # 30-minute slots
    for policy in sc.policies:
        slots = res.slots[res.slots.policy == policy]
        jobs = res.jobs[res.jobs.policy == policy]
        it_kwh = float(slots.it_kw.sum()) * slot_h
        work = sum(kw[r.job_id] * r.done_h for r in jobs.itertuples())
        slack = sum(kw[r.job_id] * (slot_h + sc.policy.restart_overhead_h * max(0, r.pieces - 1)
                                    + slot_h * r.pieces) for r in jobs.itertuples())
        assert work - 1e-6 <= it_kwh <= work + slack
        np.testing.assert_allclose(slots.facility_kwh, slots.it_kw * slots.pue * slot_h)
        np.testing.assert_allclose(
            slots.kg_co2_location,
            (slots.facility_kwh - slots.zero_carbon_kwh) * slots.carbon_gco2_per_kwh / 1000)
        assert (slots.zero_carbon_kwh <= slots.facility_kwh + 1e-9).all()


def test_policy_order_with_perfect_forecasts(tmp_path: Path) -> None:
    """oracle ≤ milp ≤ asap and lwa ≤ asap in emissions, with perfect forecasts. The jobs are
    neither checkpointable (the whole-period oracle runs each job on one site, while a
    re-planner may migrate a paused job) nor latency-critical (their slack can be shorter
    than the slot rounding: misses under every policy, and lateness would blur the order)."""
    gen = {**SMALL["workload"]["generator"], "checkpointable_share": 0.0, "critical_share": 0.0}
    sc = load_scenario(write(tmp_path, {**SMALL, "workload": {"generator": gen}}))
    res = simulate(sc)
    kg = res.summary.set_index("policy")["kg_co2_location"]
    assert (res.summary.deadline_misses == 0).all()
    assert kg["oracle"] <= kg["milp"] * 1.001
    assert kg["milp"] < kg["asap"]
    assert kg["lwa"] <= kg["asap"]
    share = res.summary.set_index("policy")["share_of_oracle_saving"]
    assert share["oracle"] == pytest.approx(1.0) and share["asap"] == pytest.approx(0.0)
    assert tuple(res.summary.columns) == SUMMARY_COLUMNS
    # asap and lwa never leave home
    jobs = res.jobs[res.jobs.start.notna()]
    for policy in ("asap", "lwa"):
        assert set(jobs[jobs.policy == policy].sites) == {"shiroi"}
    # capacity: facility kW per site and slot never exceeds the power cap
    for site in sc.sites:
        rows = res.slots[res.slots.site == site.id]
        assert (rows.facility_kw <= site.power_cap_kw + 1e-6).all()


def test_market_based_counts_certificates(small) -> None:
    _sc, res = small
    rows = res.slots[res.slots.site == "matsue"]
    np.testing.assert_allclose(rows.kg_co2_market, rows.kg_co2_location * 0.5)
    tokyo = res.slots[res.slots.site == "shiroi"]
    np.testing.assert_allclose(tokyo.kg_co2_market, tokyo.kg_co2_location)
    assert res.summary.cost_jpy.isna().all()  # synthetic grids carry no prices: unknown


def test_same_seed_same_results(small, tmp_path: Path) -> None:
    _sc, res = small
    doc = {**SMALL, "policies": ["asap", "milp"]}
    again = simulate(load_scenario(write(tmp_path, doc)))
    cols = [c for c in SUMMARY_COLUMNS if c not in ("planner_seconds", "share_of_oracle_saving")]
    first = res.summary.set_index("policy").loc[["asap", "milp"], cols[1:]]
    pd.testing.assert_frame_equal(first, again.summary.set_index("policy")[cols[1:]])
    other = simulate(load_scenario(write(tmp_path, {**doc, "seed": 4}, "other.yaml")))
    assert other.summary.kg_co2_location.iloc[0] != res.summary.kg_co2_location.iloc[0]


def test_policies_in_worker_processes_give_the_same_results(small) -> None:
    """The rolling policies plan with work limits: run two at a time in their own processes
    they give the same tables, in the scenario's order, and report every re-plan."""
    sc, res = small
    seen: dict[str, int] = {}

    def progress(policy: str, step: int, steps: int) -> None:
        assert seen.get(policy, 0) < step <= steps
        seen[policy] = step

    both = simulate(sc, progress, workers=2)
    cols = [c for c in SUMMARY_COLUMNS if c not in ("planner_seconds",)]
    pd.testing.assert_frame_equal(both.summary[cols], res.summary[cols])
    pd.testing.assert_frame_equal(both.slots, res.slots)
    pd.testing.assert_frame_equal(both.jobs, res.jobs)
    assert set(seen) == {"asap", "lwa", "greedy", "milp"}
    assert (both.summary.planner_seconds > 0).all()


def _perturbed(signals: dict[str, RegionSignals], after: pd.Timestamp
               ) -> dict[str, RegionSignals]:
    """The signals with every value observed at or after `after` tripled."""
    out = {}
    for region, sig in signals.items():
        fc = sig.actual
        late = np.asarray(fc.slot_starts >= after)
        fc = replace(fc, carbon_gco2_per_kwh=np.where(late, 3 * fc.carbon_gco2_per_kwh,
                                                      fc.carbon_gco2_per_kwh),
                     curtailment_mw=np.where(late, 3 * fc.curtailment_mw + 50,
                                             fc.curtailment_mw))
        tidy = sig.tidy.copy()
        tidy_late = pd.DatetimeIndex(tidy["time_utc"]) >= after
        for col in ("thermal_mw", "demand_mw", "solar_curtailed_mw", "carbon_gco2_per_kwh"):
            if col in tidy:
                tidy.loc[tidy_late, col] = 3 * tidy.loc[tidy_late, col] + 50
        out[region] = RegionSignals(fc, tidy)
    return out


@pytest.mark.parametrize("model", ["seasonal-naive", "model"])
def test_forecasts_never_see_the_future(tmp_path: Path, model: str) -> None:
    """Forecasts issued at `now` are unchanged when every signal after `now` changes."""
    doc = {**SMALL, "forecast": {"model": model, "history_days": 30}}
    sc = load_scenario(write(tmp_path, doc))
    world = build_world(sc)
    for hours in (0, 11, 30, 50):
        now = sc.start + pd.Timedelta(hours=hours)
        until = now + pd.Timedelta(hours=36)
        base = make_forecaster(model, world.signals, sc.start, horizon_hours=36).issue(
            now, until)
        moved = make_forecaster(model, _perturbed(world.signals, now), sc.start,
                                horizon_hours=36).issue(now, until)
        for region, fc in base.items():
            np.testing.assert_array_equal(fc.carbon_gco2_per_kwh,
                                          moved[region].carbon_gco2_per_kwh)
            np.testing.assert_array_equal(fc.curtailment_mw, moved[region].curtailment_mw)
            assert fc.quantiles.keys() == moved[region].quantiles.keys()
            for name, values in fc.quantiles.items():
                np.testing.assert_array_equal(values, moved[region].quantiles[name])
    # and the test has teeth: the perfect forecaster does see the change
    now = sc.start + pd.Timedelta(hours=11)
    perfect = make_forecaster("perfect", world.signals, sc.start).issue(now, now + pd.Timedelta(
        hours=36))
    seen = make_forecaster("perfect", _perturbed(world.signals, now), sc.start).issue(
        now, now + pd.Timedelta(hours=36))
    assert not np.array_equal(perfect["jp-chugoku"].carbon_gco2_per_kwh,
                              seen["jp-chugoku"].carbon_gco2_per_kwh)


@pytest.mark.parametrize("model", ["perfect", "seasonal-naive", "noisy"])
def test_an_issue_time_in_local_time_is_the_same_instant(model: str) -> None:
    """Times are UTC inside and local at the edges: forecasts issued at 14:00 JST equal
    those issued at 05:00 UTC (an issue time in Tokyo time used to fail in `window`)."""
    sc = load_scenario("matsue-vs-shiroi")
    world = build_world(sc)
    forecaster = make_forecaster(model, world.signals, sc.start)
    now = pd.Timestamp("2026-04-03T14:00:00+09:00")
    until = now + pd.Timedelta(hours=24)
    local = forecaster.issue(now, until)
    utc = forecaster.issue(now.tz_convert("UTC"), until.tz_convert("UTC"))
    assert local.keys() == utc.keys()
    for region, fc in utc.items():
        assert fc.issued_at == local[region].issued_at
        np.testing.assert_array_equal(fc.carbon_gco2_per_kwh,
                                      local[region].carbon_gco2_per_kwh)


@pytest.mark.parametrize("model", ["seasonal-naive", "noisy"])
def test_known_hours_give_the_actual_signals_first(tmp_path: Path, model: str) -> None:
    """`known_hours` (the value of a perfect nowcast): the slots starting within that many
    hours of the issue read the actuals, p10 and p90 collapsed onto them; later slots keep
    the model's forecast."""
    sc = load_scenario(write(tmp_path, {**SMALL, "forecast": {"model": model,
                                                              "known_hours": 6}}))
    assert sc.forecast.known_hours == 6
    world = build_world(sc)
    now = sc.start + pd.Timedelta(hours=30, minutes=20)
    until = now + pd.Timedelta(hours=24)
    plain = make_forecaster(model, world.signals, sc.start, seed=1).issue(now, until)
    known = make_forecaster(model, world.signals, sc.start, seed=1,
                            known_hours=6).issue(now, until)
    for region, fc in known.items():
        actual = world.signals[region].actual
        truth = pd.Series(actual.carbon_gco2_per_kwh, index=actual.slot_starts).reindex(
            fc.slot_starts).to_numpy()
        first = fc.slot_starts < now + pd.Timedelta(hours=6)
        # the slot containing `now` and those starting in the next 6 h
        assert first.sum() == 1 + 6 * 60 // actual.slot_minutes
        np.testing.assert_array_equal(fc.carbon_gco2_per_kwh[first], truth[first])
        np.testing.assert_array_equal(fc.carbon_gco2_per_kwh[~first],
                                      plain[region].carbon_gco2_per_kwh[~first])
        assert not np.allclose(plain[region].carbon_gco2_per_kwh[first], truth[first])
        if model == "seasonal-naive":  # without known hours, not even the slot under way
            np.testing.assert_array_equal(
                plain[region].carbon_gco2_per_kwh,
                seasonal_naive(actual, "carbon_gco2_per_kwh", fc.slot_starts, now))
        for name, q in fc.quantiles.items():
            point = getattr(fc, name.rsplit("_", 1)[0])
            np.testing.assert_array_equal(q[first], point[first])
            np.testing.assert_array_equal(q[~first], plain[region].quantiles[name][~first])


def test_model_forecasts_reach_as_far_as_the_horizon(tmp_path: Path) -> None:
    """Each slot holds the latest forecast issued by the re-plan time: the same day's
    intraday re-issue where one has been made, else the day-ahead forecast, and past it the
    model's forecast for the day after, issued with it — not a copy of a past day."""
    sc = load_scenario(write(tmp_path, {**SMALL, "forecast": {"model": "model",
                                                              "history_days": 30}}))
    world = build_world(sc)
    forecaster = make_forecaster("model", world.signals, sc.start, horizon_hours=48)
    rules = forecaster.predictions[("jp-chugoku", "carbon_gco2_per_kwh")]
    used = set()
    for hours in (7, 9, 10, 13, 23):  # JST: before, between and after the issue hours
        now = sc.start + pd.Timedelta(hours=hours)
        fc = forecaster.issue(now, now + pd.Timedelta(hours=48))["jp-chugoku"]
        for t, value in zip(fc.slot_starts, fc.carbon_gco2_per_kwh, strict=True):
            issued = [(frame["issued_utc"][t], rule.name, frame["p50"][t])
                      for rule, frame in rules if np.isfinite(frame["p50"][t])
                      and frame["issued_utc"][t] <= now.tz_convert(None)]
            _, name, expected = max(issued, key=lambda item: item[0])
            used.add(name)
            assert value == pytest.approx(expected), (hours, t, name)
    assert {"intraday-8", "intraday-12", "intraday-14", "day-ahead", "2-days-ahead"} <= used


def test_an_issue_whose_model_cannot_train_leaves_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An intraday issue after the sun has set sees no curtailed slot to learn from: that
    one model is left out, with a note naming it, and the day-ahead models still forecast
    curtailment (not seasonal-naive for the whole target)."""
    monkeypatch.setattr(forecasters, "INTRADAY_HOURS_JST", (21.0, 10.0))
    sc = load_scenario(write(tmp_path, {**SMALL, "forecast": {"model": "model",
                                                              "history_days": 30}}))
    fc = make_forecaster("model", build_world(sc).signals, sc.start, horizon_hours=24)
    names = [rule.name for rule, _ in fc.predictions[("jp-chugoku", "curtailment_mw")]]
    assert names == ["intraday-10", "day-ahead", "2-days-ahead"]
    assert [n for n in fc.notes if n.startswith("jp-chugoku curtailment_mw")] == [
        "jp-chugoku curtailment_mw: no intraday-21 model (history=0: too few slots with "
        "curtailment_mw > 1.0 MW to fit (need 20)); its slots take the other issues' "
        "forecasts, else seasonal-naive"]


def test_the_models_train_the_same_in_worker_processes(tmp_path: Path) -> None:
    """Each region's and target's models train in one of the workers' processes: the same
    predictions, issue times and notes as trained one after another."""
    sc = load_scenario(write(tmp_path, {**SMALL, "forecast": {"model": "model",
                                                              "history_days": 30}}))
    world = build_world(sc)
    alone = make_forecaster("model", world.signals, sc.start, horizon_hours=48)
    shared = make_forecaster("model", world.signals, sc.start, horizon_hours=48, workers=2)
    assert shared.notes == alone.notes
    assert shared.predictions.keys() == alone.predictions.keys() and alone.predictions
    for key, rules in alone.predictions.items():
        for (rule, frame), (their_rule, theirs) in zip(rules, shared.predictions[key],
                                                       strict=True):
            assert their_rule == rule
            pd.testing.assert_frame_equal(theirs, frame)


def _electricitymaps_csv(path: Path, first: str, days: int) -> Path:
    """An hourly Electricity Maps export of made-up carbon with a daily cycle."""
    hours = pd.date_range(first, periods=days * 24, freq="60min", tz="UTC")
    carbon = 450 + 80 * np.sin(2 * np.pi * hours.hour.to_numpy() / 24)
    pd.DataFrame({"Datetime (UTC)": hours.strftime("%Y-%m-%d %H:%M:%S"),
                  "Carbon Intensity gCO₂eq/kWh (direct)": carbon}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("area", "trained"), [("tokyo", True), ("atlantis", False)])
def test_a_carbon_only_file_trains_the_carbon_model_where_its_area_is_known(
        tmp_path: Path, area: str, trained: bool) -> None:
    """An Electricity Maps file trains the carbon model (its `area` places the clear sky);
    an area the models do not know leaves that region on seasonal-naive with a note, and
    its curtailment — not in the file — is unknown, never forecast as zero."""
    csv = _electricitymaps_csv(tmp_path / "em.csv", "2026-03-01", 45)
    doc = {**SMALL, "forecast": {"model": "model", "history_days": 30},
           "policies": ["asap", "milp"],
           "grid": {**SMALL["grid"], "jp-tokyo": {"source": "electricitymaps-csv",
                                                  "area": area, "files": [str(csv)]}}}
    res = simulate(load_scenario(write(tmp_path, doc)))
    notes = [n for n in res.scenario["notes"] if n.startswith("jp-tokyo")]
    assert any(n.startswith("jp-tokyo curtailment_mw: model not trained (curtailment_mw="
                            "'missing': not reported by the source") for n in notes)
    carbon = [n for n in notes if "curtailment" not in n]  # any: seasonal-naive carbon
    assert bool(carbon) is not trained
    assert trained or "area='atlantis'" in carbon[0]
    tokyo = res.slots[res.slots.region == "jp-tokyo"]
    assert tokyo.curtailment_mw.isna().all()


def test_noisy_forecasts_err_more_with_lead(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, {**SMALL, "forecast": {"model": "noisy",
                                                              "error_at_24h": 0.3}}))
    world = build_world(sc)
    now = sc.start
    fc = make_forecaster("noisy", world.signals, sc.start, seed=1).issue(
        now, now + pd.Timedelta(hours=24))["jp-tokyo"]
    actual = world.signals["jp-tokyo"].actual
    truth = pd.Series(actual.carbon_gco2_per_kwh, index=actual.slot_starts).reindex(
        fc.slot_starts).to_numpy()
    err = np.abs(fc.carbon_gco2_per_kwh / truth - 1)
    assert err[0] == pytest.approx(0.0)
    assert err[len(err) // 2:].mean() > err[: len(err) // 4].mean()


def test_noisy_forecasts_know_their_spread(tmp_path: Path) -> None:
    """p10/p90 of the noisy forecaster bracket the actual about 80 % of the time."""
    sc = load_scenario(write(tmp_path, {**SMALL, "forecast": {"model": "noisy",
                                                              "error_at_24h": 0.3}}))
    world = build_world(sc)
    actual = world.signals["jp-tokyo"].actual
    truth = pd.Series(actual.carbon_gco2_per_kwh, index=actual.slot_starts)
    inside, total = 0, 0
    forecaster = make_forecaster("noisy", world.signals, sc.start, seed=3)
    for hours in range(0, 96, 6):
        now = sc.start + pd.Timedelta(hours=hours)
        fc = forecaster.issue(now, now + pd.Timedelta(hours=24))["jp-tokyo"]
        lead = (fc.slot_starts - now) >= pd.Timedelta(hours=6)
        t = truth.reindex(fc.slot_starts).to_numpy()[lead]
        lo = fc.quantiles["carbon_gco2_per_kwh_p10"][lead]
        hi = fc.quantiles["carbon_gco2_per_kwh_p90"][lead]
        inside += int(((lo <= t) & (t <= hi)).sum())
        total += int(lead.sum())
    assert 0.7 <= inside / total <= 0.9, inside / total


def test_lwa_holds_jobs_home_and_shifts_in_time(small) -> None:
    _sc, res = small
    delay = res.summary.set_index("policy")["mean_delay_h"]
    assert delay["lwa"] > delay["asap"]


def test_cli_writes_reports(tmp_path: Path) -> None:
    doc = {**SMALL, "policies": ["asap", "greedy"], "end": "2026-04-07T00:00:00+09:00"}
    path = write(tmp_path, doc)
    out = tmp_path / "out"
    res = runner.invoke(app, ["simulate", str(path), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert list(summary.policy) == ["asap", "greedy"]
    assert pd.read_parquet(out / "slots.parquet").slot_start.dt.tz is not None
    assert "greedy" in (out / "report.html").read_text(encoding="utf-8")
    assert yaml.safe_load((out / "scenario.yaml").read_text())["name"] == "small"


@pytest.mark.parametrize(("change", "field"), [
    ({"forecast": {"model": "crystal-ball"}}, "forecast.model='crystal-ball'"),
    ({"forecast": {"model": "model", "known_hours": -6}}, "forecast.known_hours=-6"),
    ({"end": "2026-04-01T00:00:00+09:00"}, "end='2026-04-01T00:00:00+09:00': must be after"),
    ({"end": datetime(2026, 4, 1, tzinfo=timezone(timedelta(hours=9)))},
     "end=2026-04-01T00:00:00+09:00: must be after"),
    ({"start": "2026-04-06T00:00:00"}, "start="),
    ({"grid": {"jp-tokyo": {"source": "synthetic"}}}, "grid='jp-chugoku'"),
    ({"grid": {**SMALL["grid"], "jp-tokyo": {"source": "sat"}}}, "grid.jp-tokyo.source='sat'"),
    ({"policies": ["asap", "magic"]}, "policies="),
    ({"replan_minutes": 45}, "replan_minutes=45"),
    ({"workload": {"generator": {"jobs_per_day": -1}}}, "workload.generator.jobs_per_day=-1"),
    ({"colour": "red"}, "colour='red'"),
    ({"grid": {**SMALL["grid"], "jp-tokyo": {"source": "synthetic", "area": "mars"}}},
     "grid.jp-tokyo.area='mars'"),
    ({"grid": {**SMALL["grid"], "jp-tokyo": {"source": "file", "path": "$NO_SUCH_VAR/x"}}},
     "grid.jp-tokyo.path="),
])
def test_bad_scenarios_exit_2_with_one_line(tmp_path: Path, change: dict, field: str) -> None:
    path = write(tmp_path, {**SMALL, **change})
    res = runner.invoke(app, ["simulate", str(path), "--out", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and field in lines[0], lines


def test_unknown_scenario_name_lists_builtins() -> None:
    res = runner.invoke(app, ["simulate", "no-such-scenario", "--quiet"])
    assert res.exit_code == 2 and "matsue-vs-shiroi" in res.output


def test_a_job_longer_than_the_horizon_runs_to_the_end(tmp_path: Path) -> None:
    """Work longer than the planning horizon starts and is continued by later plans."""
    doc = {**SMALL, "policies": ["asap", "milp"],
           "workload": {"generator": {"jobs_per_day": 3, "duration_min_h": 30,
                                      "duration_max_h": 40, "critical_share": 0,
                                      "home_sites": ["shiroi"]}}}
    sc = load_scenario(write(tmp_path, doc))
    world = build_world(sc)
    assert min(j.duration_h for j in world.jobs) > sc.horizon_hours
    for name in ("asap", "milp"):
        run = rolling(sc, world, name, make_forecaster("perfect", world.signals, sc.start))
        assert all(run.done_h[j.id] == pytest.approx(j.duration_h) for j in world.jobs), name


@pytest.mark.shared_data
def test_real_2023_scenario_runs_a_week(shared_data: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    monkeypatch.setenv("WATTBIT_SHARED_DATA", str(shared_data))
    sc = load_scenario("matsue-vs-shiroi-2023", {"end": "2023-04-04T00:00:00+09:00",
                                                 "policies": ["asap", "milp", "oracle"]})
    res = simulate(sc)
    kg = res.summary.set_index("policy")["kg_co2_location"]
    assert kg["oracle"] < kg["asap"] and kg["milp"] < kg["asap"]
    assert any("jp-tokyo curtailment" in note for note in res.scenario["notes"])
    tokyo = res.slots[res.slots.region == "jp-tokyo"]
    assert tokyo.curtailment_mw.isna().all()  # unknown in the source: shown as missing


@pytest.mark.shared_data
def test_a_carbon_only_history_trains_a_model_that_beats_yesterday(
        shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokyo's Electricity Maps file holds carbon intensity alone; the `model` forecaster
    still learns its carbon from that history (calendar, clear sky, recent values), and in
    April 2023 its day-ahead forecasts beat a copy of the latest observed day."""
    monkeypatch.setenv("WATTBIT_SHARED_DATA", str(shared_data))
    sc = load_scenario("matsue-vs-shiroi-2023")
    tokyo = {"jp-tokyo": build_world(sc).signals["jp-tokyo"]}
    forecaster = make_forecaster("model", tokyo, sc.start, horizon_hours=sc.horizon_hours)
    assert ("jp-tokyo", "carbon_gco2_per_kwh") in forecaster.predictions
    actual = tokyo["jp-tokyo"].actual
    truth = pd.Series(actual.carbon_gco2_per_kwh, index=actual.slot_starts)
    model_err, naive_err = [], []
    for day in range(28):
        now = sc.start + pd.Timedelta(days=day, hours=12)  # after the 10:00 JST issue
        tomorrow = sc.start + pd.Timedelta(days=day + 1)
        fc = forecaster.issue(now, tomorrow + pd.Timedelta(days=1))["jp-tokyo"]
        fc = fc.select(np.asarray(fc.slot_starts >= tomorrow))
        t = truth.reindex(fc.slot_starts).to_numpy()
        model_err.append(np.abs(fc.carbon_gco2_per_kwh - t))
        naive_err.append(np.abs(seasonal_naive(actual, "carbon_gco2_per_kwh",
                                               fc.slot_starts, now) - t))
    assert np.mean(model_err) < 0.9 * np.mean(naive_err)


@pytest.mark.shared_data
def test_the_oracle_is_not_fooled_by_lateness_no_plan_can_avoid(
        shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """May 1–4 2023 with perfect forecasts holds latency-critical jobs that must finish
    late; their lateness is most of the objective. Measured on the whole objective, the
    oracle called its greedy plan 0.4 % from its bound and stopped there, emitting more
    than the rolling milp (1,345 against 1,282 kg); measured above that lateness, it plans
    on and is the limit again."""
    monkeypatch.setenv("WATTBIT_SHARED_DATA", str(shared_data))
    sc = load_scenario("matsue-vs-shiroi-2023", {
        "forecast.model": "perfect", "start": "2023-05-01T00:00:00+09:00",
        "end": "2023-05-04T00:00:00+09:00"})
    world = build_world(sc)
    limit = oracle(sc, world)
    milp = rolling(sc, world, "milp", make_forecaster("perfect", world.signals, sc.start))
    kg = tabulate(sc, world, [limit, milp]).summary.set_index("policy")["kg_co2_location"]
    assert kg["oracle"] < kg["milp"]


def test_sweep_runs_every_combination_in_parallel(tmp_path: Path) -> None:
    doc = {**SMALL, "policies": ["asap", "greedy"], "end": "2026-04-07T00:00:00+09:00"}
    path = write(tmp_path, doc)
    out = tmp_path / "sweep.csv"
    res = runner.invoke(app, ["sweep", str(path), "--param", "sites.shiroi.pue=1.2,1.5",
                              "--param", "seed=3", "--workers", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert list(table.columns[:2]) == ["sites.shiroi.pue", "seed"]
    assert list(table.columns[2:]) == list(SUMMARY_COLUMNS)
    assert len(table) == 4 and set(table["sites.shiroi.pue"]) == {1.2, 1.5}
    # the values really reach the scenario: asap runs everything at home, so its emissions
    # scale with the home site's PUE
    asap = table[table.policy == "asap"].set_index("sites.shiroi.pue")
    assert asap.kg_co2_location[1.5] / asap.kg_co2_location[1.2] == pytest.approx(1.5 / 1.2)


@pytest.mark.parametrize(("args", "field"), [
    (["--param", "sites.nowhere.gpus=8"], "sites.nowhere.gpus=8"),
    (["--param", "gpus"], "param='gpus'"),
    (["--param", "seed=1", "--address", "ray://nowhere:1"], "address="),
])
def test_bad_sweeps_exit_2(tmp_path: Path, args: list[str], field: str) -> None:
    pytest.importorskip("yaml")
    try:
        import ray  # noqa: F401
        if "--address" in args:
            pytest.skip("ray is installed: the missing-extra message does not apply")
    except ImportError:
        pass
    path = write(tmp_path, SMALL)
    res = runner.invoke(app, ["sweep", str(path), *args, "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 2, res.output
    assert res.output.strip().startswith("error: ") and field in res.output


def test_builtin_scenarios_are_valid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WATTBIT_SHARED_DATA", str(tmp_path))  # paths need not exist to parse
    for name in builtin_scenarios():
        if name.endswith("-2023"):
            with pytest.raises(InputError, match="no such file"):
                load_scenario(name)
            continue
        sc = load_scenario(name)
        assert sc.name == name and len(sc.sites) >= 2
    assert {"matsue-vs-shiroi", "matsue-vs-shiroi-2023", "follow-the-sun-wind"} <= set(
        builtin_scenarios())


def test_the_actual_signals_do_not_depend_on_the_forecast_model(tmp_path: Path) -> None:
    """Comparing forecast models compares like with like: the same grid underneath."""
    worlds = [build_world(load_scenario(write(tmp_path, {**SMALL, "forecast": {"model": m}},
                                              f"{m}.yaml")))
              for m in ("perfect", "seasonal-naive", "model")]
    for region, sig in worlds[0].signals.items():
        for other in worlds[1:]:
            np.testing.assert_array_equal(sig.actual.carbon_gco2_per_kwh,
                                          other.signals[region].actual.carbon_gco2_per_kwh)


def test_batteries_are_carried_out_and_accounted(tmp_path: Path) -> None:
    """A site's battery, as the rolling re-plans schedule it, is carried out slot by slot
    (its state of charge stays within bounds across re-plans) and accounted in the site's
    grid energy: facility kWh = IT kWh × PUE + (charge − discharge) × h."""
    from scheduler.core.battery import site_batteries, soc_kwh
    from simulations.engine import build_world, rolling

    sites = [dict(SMALL["sites"][0]), dict(SMALL["sites"][1])]
    sites[1]["battery"] = {"kwh": 200.0, "kw": 40.0, "efficiency": 0.9, "min_soc": 0.2,
                           "initial_soc": 0.5}
    doc = {**SMALL, "sites": sites, "policies": ["milp"],
           "end": "2026-04-07T00:00:00+09:00"}
    sc = load_scenario(write(tmp_path, doc))
    world = build_world(sc)
    run = rolling(sc, world, "milp", make_forecaster("perfect", world.signals, sc.start))
    assert run.charge_kw is not None and run.discharge_kw is not None
    assert run.charge_kw[1].sum() > 0 and run.discharge_kw[1].sum() > 0  # it is used
    assert not run.charge_kw[0].any() and not run.discharge_kw[0].any()
    b = site_batteries(list(sc.sites))
    soc = soc_kwh(b, run.charge_kw, run.discharge_kw, world.accounting.slot_h)[1]
    assert soc.min() >= 0.2 * 200.0 - 1e-6 and soc.max() <= 200.0 + 1e-6
    res = simulate(sc)
    shiroi = res.slots[res.slots.site == "shiroi"]
    h = world.accounting.slot_h
    expected = (shiroi.it_kw * shiroi.pue * h
                + (run.charge_kw[1] - run.discharge_kw[1]) * h).to_numpy()
    np.testing.assert_allclose(shiroi.facility_kwh.to_numpy(), expected, atol=1e-6)
