"""The Prometheus exporter: the samples it yields for a snapshot (units, NaN for unknowns,
the ΔkW row it picks), thread safety, and a real Prometheus server scraping it over HTTP."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from forecasts.forecast import Forecast
from inputs.errors import InputError
from scheduler.core.plan import Plan, SitePlan
from scheduler.dr.capacity import Capacity
from scheduler.dr.exporter import (
    FAMILIES,
    DrMetrics,
    Snapshot,
    current_capacity,
)
from tests.prometheus_server import PromServer, prometheus_scraping

T0 = pd.Timestamp("2025-01-15 00:00", tz="UTC")
SLOTS = pd.date_range(T0, periods=48, freq="30min")
AT = pd.Timestamp("2025-01-15 10:40", tz="UTC")  # inside slot 21 (10:30–11:00)
SITES = ("tokyo-1", "osaka-1")


def site_plan(sid: str, base_kw: float) -> SitePlan:
    it = base_kw + 10.0 * np.arange(len(SLOTS), dtype=float)
    fac = it * 1.3
    return SitePlan(sid, it, fac, np.zeros(len(SLOTS)), fac * 0.5 * 0.45)


def make_plan(gap: float = 0.012) -> Plan:
    n = len(SLOTS)
    with_battery = replace(site_plan(SITES[1], 450.0), battery_charge_kw=np.zeros(n),
                           battery_discharge_kw=np.full(n, 25.0),
                           battery_soc_kwh=np.linspace(900.0, 400.0, n))
    sites = (site_plan(SITES[0], 800.0), with_battery)
    return Plan(slot_starts=SLOTS, slot_h=0.5, jobs=(), sites=sites, kwh=50_000.0,
                kg_co2=21_500.5, baseline_kwh=50_000.0, baseline_kg_co2=24_800.25,
                curtailment_absorbed_kwh=1_234.5, objective=1.0, bound=0.99, gap=gap,
                method="milp", status="optimal", build_seconds=0.75, solve_seconds=2.5,
                made_at=datetime(2025, 1, 15, 10, 35, tzinfo=UTC))


def capacity_rows() -> tuple[Capacity, ...]:
    """Rows every 30 min from 09:00 to 12:00 for both sites, both directions, 3 windows."""
    rows = []
    for s, sid in enumerate(SITES):
        for d, direction in enumerate(("down", "up")):
            for window in (30, 60, 180):
                for k in range(18, 25):
                    kw = 100.0 * (s + 1) + 10.0 * d + window / 10.0 + 0.125 * k
                    rows.append(Capacity("site", sid, direction, window, SLOTS[k], kw))
    return tuple(rows)


def forecast(region: str, curtailment: np.ndarray, issued_at: datetime | None = None,
             stale: bool = False) -> Forecast:
    return Forecast(region=region, slot_starts=SLOTS, slot_minutes=30,
                    carbon_gco2_per_kwh=np.linspace(300.0, 500.0, len(SLOTS)),
                    curtailment_mw=curtailment, issued_at=issued_at, stale=stale,
                    source="test")


def make_snapshot(at: pd.Timestamp = AT) -> Snapshot:
    kyushu = np.zeros(len(SLOTS))
    kyushu[18:26] = [0.0, 120.0, 250.5, 310.0, 280.0, 90.0, 0.0, 0.0]
    tokyo = np.full(len(SLOTS), np.nan)  # the source publishes no curtailment here
    return Snapshot(
        at=at, plan=make_plan(), capacity=capacity_rows(),
        forecasts={"kyushu": forecast("kyushu", kyushu,
                                      datetime(2025, 1, 15, 9, 40, tzinfo=UTC)),
                   "tokyo": forecast("tokyo", tokyo, None, stale=True)},
        provider_failures={"jp_tso": 3, "electricitymaps": 0},
        pods={"managed": 7, "held": 2})


def value(m: DrMetrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def all_samples(m: DrMetrics) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for fam in m.registry.collect() for s in fam.samples]


# --- unit tests of the samples -----------------------------------------------------------


def test_before_any_update_there_are_families_but_no_series() -> None:
    m = DrMetrics()
    assert m.snapshot is None
    fams = list(m.registry.collect())
    assert {f.name for f in fams} == {n.removesuffix("_total") for n in FAMILIES}
    assert all(f.documentation for f in fams)
    assert all_samples(m) == []


def test_a_new_private_registry_by_default_and_the_given_one_otherwise() -> None:
    from prometheus_client import REGISTRY
    a, b = DrMetrics(), DrMetrics()
    assert a.registry is not b.registry and a.registry is not REGISTRY
    reg = CollectorRegistry()
    m = DrMetrics(reg)
    assert m.registry is reg
    m.update(make_snapshot())
    assert reg.get_sample_value("wattbit_solver_seconds") == 3.25


def test_capacity_is_published_in_watts_for_the_window_containing_at() -> None:
    m = DrMetrics()
    m.update(make_snapshot())
    k = 21  # 10:30 ≤ 10:40: the latest start ≤ at
    for s, sid in enumerate(SITES):
        for d, direction in enumerate(("down", "up")):
            for window in (30, 60, 180):
                kw = 100.0 * (s + 1) + 10.0 * d + window / 10.0 + 0.125 * k
                got = value(m, "wattbit_dr_capacity_watts", scope="site", id=sid,
                            direction=direction, window_minutes=str(window))
                assert got == pytest.approx(kw * 1000.0, rel=1e-12)
    n = sum(1 for name, _, _ in all_samples(m) if name == "wattbit_dr_capacity_watts")
    assert n == 2 * 2 * 3


def test_capacity_pick_rule() -> None:
    def row(start: str, window: int, kw: float) -> Capacity:
        return Capacity("site", "a", "down", window, ts(start), kw)

    def ts(hhmm: str) -> pd.Timestamp:
        return pd.Timestamp(f"2025-01-15 {hhmm}", tz="UTC")

    at = ts("10:40")
    rows = [row("10:00", 60, 1.0), row("10:30", 60, 2.0), row("11:00", 60, 3.0)]
    assert [r.kw for r in current_capacity(rows, at)] == [2.0]  # latest start ≤ at
    assert [r.kw for r in current_capacity(rows[::-1], at)] == [2.0]  # order-free
    future = [row("12:00", 30, 5.0), row("11:00", 30, 4.0), row("11:30", 30, 6.0)]
    assert [r.kw for r in current_capacity(future, at)] == [4.0]  # none yet: the earliest
    over = [row("09:00", 30, 7.0), row("10:00", 30, 8.0)]  # both windows ended before 10:40
    assert current_capacity(over, at) == []
    assert [r.kw for r in current_capacity(over + future, at)] == [4.0]
    edge = [row("10:10", 30, 9.0)]  # [10:10, 10:40) does not contain 10:40
    assert current_capacity(edge, at) == []
    assert [r.kw for r in current_capacity([row("10:40", 30, 9.5)], at)] == [9.5]
    # keys are independent: window, direction, id and scope each make their own series
    mixed = [row("10:30", 60, 1.0), row("10:30", 180, 2.0),
             Capacity("site", "a", "up", 60, ts("10:30"), 3.0),
             Capacity("site", "b", "down", 60, ts("10:30"), 4.0),
             Capacity("region", "a", "down", 60, ts("10:30"), 5.0)]
    assert sorted(r.kw for r in current_capacity(mixed, at)) == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_capacity_before_the_first_row_uses_the_earliest() -> None:
    m = DrMetrics()
    m.update(make_snapshot(at=pd.Timestamp("2025-01-15 06:00", tz="UTC")))
    got = value(m, "wattbit_dr_capacity_watts", scope="site", id="osaka-1", direction="up",
                window_minutes="60")
    assert got == pytest.approx((200.0 + 10.0 + 6.0 + 0.125 * 18) * 1000.0, rel=1e-12)


def test_planned_facility_power_in_the_slot_containing_at() -> None:
    m = DrMetrics()
    m.update(make_snapshot())
    plan = make_plan()
    for s in plan.sites:
        got = value(m, "wattbit_planned_facility_power_watts", site=s.id)
        assert got == pytest.approx(float(s.facility_kw[21]) * 1000.0, rel=1e-12)
    # slot boundary: 11:00 is the start of slot 22
    m.update(make_snapshot(at=pd.Timestamp("2025-01-15 11:00", tz="UTC")))
    got = value(m, "wattbit_planned_facility_power_watts", site="tokyo-1")
    assert got == pytest.approx(float(plan.sites[0].facility_kw[22]) * 1000.0, rel=1e-12)
    # the last slot ends at 24:00
    m.update(make_snapshot(at=pd.Timestamp("2025-01-15 23:59:59", tz="UTC")))
    got = value(m, "wattbit_planned_facility_power_watts", site="osaka-1")
    assert got == pytest.approx(float(plan.sites[1].facility_kw[47]) * 1000.0, rel=1e-12)


def test_planned_battery_power_and_energy_only_for_battery_sites() -> None:
    m = DrMetrics()
    m.update(make_snapshot())
    osaka = make_plan().sites[1]
    assert value(m, "wattbit_planned_battery_power_watts", site="osaka-1",
                 direction="discharge") == 25_000.0
    assert value(m, "wattbit_planned_battery_power_watts", site="osaka-1",
                 direction="charge") == 0.0
    assert value(m, "wattbit_planned_battery_energy_joules", site="osaka-1") == pytest.approx(
        float(osaka.battery_soc_kwh[21]) * 3.6e6, rel=1e-12)
    assert value(m, "wattbit_planned_battery_energy_joules", site="tokyo-1") is None


@pytest.mark.parametrize("at", ["2025-01-14 23:59:59", "2025-01-16 00:00"])
def test_planned_power_and_grid_signals_are_nan_outside_the_plan(at: str) -> None:
    m = DrMetrics()
    m.update(make_snapshot(at=pd.Timestamp(at, tz="UTC")))
    for sid in SITES:
        assert math.isnan(value(m, "wattbit_planned_facility_power_watts", site=sid))
    for region in ("kyushu", "tokyo"):
        assert math.isnan(value(
            m, "wattbit_grid_carbon_intensity_grams_per_kilowatt_hour", region=region))
        assert math.isnan(value(m, "wattbit_grid_curtailment_watts", region=region))
    # plan-wide figures do not depend on the slot
    assert value(m, "wattbit_plan_emissions_grams", plan="planned") == pytest.approx(21_500_500)


def test_grid_signals_in_watts_and_nan_for_unknown_curtailment() -> None:
    m = DrMetrics()
    m.update(make_snapshot())
    carbon = np.linspace(300.0, 500.0, len(SLOTS))[21]
    for region in ("kyushu", "tokyo"):
        got = value(m, "wattbit_grid_carbon_intensity_grams_per_kilowatt_hour", region=region)
        assert got == pytest.approx(carbon, rel=1e-12)
    assert value(m, "wattbit_grid_curtailment_watts", region="kyushu") == 310.0e6
    unknown = value(m, "wattbit_grid_curtailment_watts", region="tokyo")
    assert unknown is not None and math.isnan(unknown)  # a series, NaN, never 0
    # a known zero stays zero
    m.update(make_snapshot(at=pd.Timestamp("2025-01-15 09:10", tz="UTC")))
    assert value(m, "wattbit_grid_curtailment_watts", region="kyushu") == 0.0


def test_forecast_staleness_and_age() -> None:
    m = DrMetrics()
    m.update(make_snapshot())
    assert value(m, "wattbit_forecast_stale", region="kyushu") == 0.0
    assert value(m, "wattbit_forecast_stale", region="tokyo") == 1.0
    assert value(m, "wattbit_forecast_age_seconds", region="kyushu") == 3600.0
    assert math.isnan(value(m, "wattbit_forecast_age_seconds", region="tokyo"))


def test_plan_figures_in_base_units() -> None:
    m = DrMetrics()
    m.update(make_snapshot())
    assert value(m, "wattbit_plan_emissions_grams", plan="planned") == pytest.approx(21_500_500)
    assert value(m, "wattbit_plan_emissions_grams", plan="baseline") == pytest.approx(
        24_800_250)
    assert value(m, "wattbit_curtailment_absorbed_joules") == pytest.approx(1_234.5 * 3.6e6)
    assert value(m, "wattbit_solver_seconds") == 3.25
    assert value(m, "wattbit_solver_gap_ratio") == pytest.approx(0.012)
    assert value(m, "wattbit_plan_info", method="milp", status="optimal") == 1.0
    assert value(m, "wattbit_snapshot_timestamp_seconds") == AT.timestamp()


def test_an_infinite_gap_is_nan() -> None:
    m = DrMetrics()
    snap = make_snapshot()
    m.update(Snapshot(at=snap.at, plan=make_plan(gap=math.inf)))
    assert math.isnan(value(m, "wattbit_solver_gap_ratio"))


def test_provider_failures_are_a_counter() -> None:
    m = DrMetrics()
    m.update(make_snapshot())
    assert value(m, "wattbit_provider_failures_total", provider="jp_tso") == 3.0
    assert value(m, "wattbit_provider_failures_total", provider="electricitymaps") == 0.0
    assert value(m, "wattbit_pods", state="managed") == 7.0
    assert value(m, "wattbit_pods", state="held") == 2.0
    fam = next(f for f in m.registry.collect() if f.name == "wattbit_provider_failures")
    assert fam.type == "counter"


def test_a_snapshot_without_plan_or_forecasts_has_no_made_up_series() -> None:
    m = DrMetrics()
    m.update(Snapshot(at=AT))
    assert all_samples(m) == [("wattbit_snapshot_timestamp_seconds", {}, AT.timestamp())]


def test_the_snapshot_is_immutable_and_validated() -> None:
    failures = {"jp_tso": 1}
    snap = Snapshot(at=pd.Timestamp("2025-01-15 19:40", tz="Asia/Tokyo"),
                    provider_failures=failures, capacity=list(capacity_rows()))
    failures["jp_tso"] = 99  # the caller's dict changes later: the snapshot does not
    assert snap.provider_failures["jp_tso"] == 1
    assert isinstance(snap.capacity, tuple)
    assert str(snap.at.tz) == "UTC" and snap.at == AT
    with pytest.raises(TypeError):
        snap.provider_failures["x"] = 1  # type: ignore[index]
    with pytest.raises(InputError, match="tz-aware"):
        Snapshot(at=pd.Timestamp("2025-01-15 10:40"))
    with pytest.raises(InputError, match="provider_failures"):
        Snapshot(at=AT, provider_failures={"jp_tso": -1})
    with pytest.raises(TypeError):
        DrMetrics().update({"at": AT})  # type: ignore[arg-type]


def test_the_text_exposition_parses_and_every_family_has_help() -> None:
    m = DrMetrics()
    m.update(make_snapshot())
    text = generate_latest(m.registry).decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    # the text format has no info type: an info family reads back as a gauge `<name>_info`
    want = {n + "_info" if kind == "info" else n.removesuffix("_total")
            for n, (kind, _, _) in FAMILIES.items()}
    assert set(fams) == want
    assert fams["wattbit_provider_failures"].type == "counter"
    for name, f in fams.items():
        assert name.startswith("wattbit_") and f.documentation
    assert "NaN" in text  # unknowns are exposed as NaN


def test_scrapes_see_whole_snapshots_while_a_planner_thread_updates() -> None:
    m = DrMetrics()

    def snap(i: int) -> Snapshot:
        rows = tuple(Capacity("site", sid, "down", 60, AT, float(i)) for sid in SITES)
        return Snapshot(at=AT, capacity=rows, provider_failures={"p": i})

    m.update(snap(0))
    stop = threading.Event()

    def planner() -> None:
        i = 0
        while not stop.is_set() and i < 100_000:
            i += 1
            m.update(snap(i))

    t = threading.Thread(target=planner, daemon=True)
    t.start()
    try:
        for _ in range(300):
            samples = all_samples(m)
            watts = [v for name, _, v in samples if name == "wattbit_dr_capacity_watts"]
            count = [v for name, _, v in samples if name == "wattbit_provider_failures_total"]
            assert len(watts) == 2 and len(count) == 1
            assert watts[0] == watts[1] == count[0] * 1000.0  # all from one snapshot
    finally:
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive()


# --- a real Prometheus server scraping the exporter over HTTP ----------------------------



@dataclass
class Scraped:
    """A real Prometheus scraping a served `DrMetrics` holding `snapshot`."""

    prom: PromServer
    target: str
    snapshot: Snapshot

    def query(self, promql: str) -> list[dict]:
        return self.prom.query(promql)

    def log_text(self) -> str:
        return self.prom.log_text()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Scraped]:
    """A real Prometheus scraping a `DrMetrics` (served on loopback) every second."""
    metrics = DrMetrics()
    snap = make_snapshot()
    metrics.update(snap)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=metrics.registry)
    target = f"127.0.0.1:{server.server_port}"
    try:
        with prometheus_scraping(target, tmp_path) as prom:
            yield Scraped(prom, target, snap)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_real_prometheus_scrapes_the_snapshot_values(prometheus: Scraped) -> None:
    snap, target = prometheus.snapshot, prometheus.target
    want_capacity = {
        (r.scope, r.id, r.direction, str(r.window_minutes)): r.kw * 1000.0
        for r in current_capacity(snap.capacity, snap.at)}
    want_power = {s.id: float(s.facility_kw[21]) * 1000.0 for s in snap.plan.sites}
    assert len(want_capacity) == 12 and len(want_power) == 2

    got = prometheus.query(f'wattbit_dr_capacity_watts{{instance="{target}"}}')
    got_capacity = {(m["metric"]["scope"], m["metric"]["id"], m["metric"]["direction"],
                     m["metric"]["window_minutes"]): float(m["value"][1]) for m in got}
    assert set(got_capacity) == set(want_capacity), prometheus.log_text()
    for key, w in want_capacity.items():
        assert got_capacity[key] == pytest.approx(w, rel=1e-12), key

    got = prometheus.query(f'wattbit_planned_facility_power_watts{{instance="{target}"}}')
    got_power = {m["metric"]["site"]: float(m["value"][1]) for m in got}
    assert set(got_power) == set(want_power), prometheus.log_text()
    for sid, w in want_power.items():
        assert got_power[sid] == pytest.approx(w, rel=1e-12), sid
    assert all(m["metric"]["job"] == "wattbit" for m in got)

    # NaN travels end to end as NaN (no 0 for an unknown)
    got = prometheus.query(f'wattbit_grid_curtailment_watts{{instance="{target}"}}')
    curtail = {m["metric"]["region"]: m["value"][1] for m in got}
    assert curtail["tokyo"] == "NaN" and float(curtail["kyushu"]) == 310.0e6


def test_capacity_is_computed_by_one_worker_for_the_newest_plan() -> None:
    """Re-plans faster than ΔkW never pile up computations: one worker, always the newest
    plan; a superseded plan's ΔkW is never published."""
    from scheduler.dr.exporter import publisher

    class SlowService:
        def __init__(self) -> None:
            self.current, self.forecasts = None, {}
            self.running, self.most, self.computed = 0, 0, []
            self.lock = threading.Lock()

        def capacity_now(self, windows: tuple[int, ...], cur: object) -> list[Capacity]:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            time.sleep(0.2)
            with self.lock:
                self.running -= 1
            self.computed.append(cur)
            return [Capacity("site", SITES[0], "down", 30, cur.plan.slot_starts[0],
                             float(len(self.computed)))]

    @dataclass
    class Cur:
        plan: Plan

    service, metrics = SlowService(), DrMetrics()
    publish = publisher(metrics, service)  # type: ignore[arg-type]
    plans = [Cur(make_plan(gap=0.01 * k)) for k in range(5)]
    for cur in plans:
        service.current = cur
        publish(cur)  # type: ignore[arg-type]
        time.sleep(0.02)
    for _ in range(200):
        snap = metrics.snapshot
        if snap is not None and snap.capacity and snap.plan is plans[-1].plan:
            break
        time.sleep(0.05)
    assert metrics.snapshot.plan is plans[-1].plan and metrics.snapshot.capacity
    assert service.most == 1  # never two computations at once
    assert len(service.computed) < len(plans)  # superseded plans were skipped
    assert service.computed[-1] is plans[-1]
