"""Prometheus exporter of the DR figures, the plan and the grid signals, read by a scrape.

A planner thread builds an immutable `Snapshot` and hands it to `DrMetrics.update`, which
works out every series once and swaps the result in with one attribute assignment; a scrape
(`DrMetrics.collect`, from the HTTP server's thread) reads that reference once, so it always
sees one whole snapshot, never a mix of two, and takes no lock.

Units are Prometheus base units (watts, grams, joules, seconds, ratios); carbon intensity,
which has no base unit, stays in g/kWh. A figure that is unknown is NaN, never 0; before the
first update (and for parts a snapshot lacks) a family has no series at all.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType

import numpy as np
import pandas as pd
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from forecasts.forecast import Forecast
from inputs.errors import InputError
from scheduler.core.plan import Plan
from scheduler.dr.capacity import WINDOW_MINUTES, Capacity
from scheduler.dr.service import Current, DrService

log = logging.getLogger("wattbit.dr")
W_PER_KW = 1e3
W_PER_MW = 1e6
G_PER_KG = 1e3
J_PER_KWH = 3.6e6

# name → (type, labels, HELP); a counter's name carries its `_total`, an info's not `_info`.
FAMILIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "wattbit_dr_capacity_watts": (
        "gauge", ("scope", "id", "direction", "window_minutes"),
        "Demand-response capacity (delta kW x 1000): facility watts the scope can move in "
        "direction (down = shed, up = add) and hold for window_minutes, for the window "
        "containing the snapshot time (else the next one)."),
    "wattbit_planned_facility_power_watts": (
        "gauge", ("site",),
        "Facility power the plan gives the site in the slot containing the snapshot time, "
        "watts (NaN outside the plan)."),
    "wattbit_planned_battery_power_watts": (
        "gauge", ("site", "direction"),
        "Battery power the plan gives the site in the slot containing the snapshot time, "
        "watts, facility side: direction=charge (drawn from the grid) or discharge (feeding "
        "the site); only sites with a battery."),
    "wattbit_planned_battery_energy_joules": (
        "gauge", ("site",),
        "Energy stored in the site's battery at the end of the slot containing the snapshot "
        "time as planned, joules; only sites with a battery."),
    "wattbit_grid_carbon_intensity_grams_per_kilowatt_hour": (
        "gauge", ("region",),
        "Forecast average grid carbon intensity in the slot containing the snapshot time, "
        "gCO2/kWh (NaN where unknown)."),
    "wattbit_grid_curtailment_watts": (
        "gauge", ("region",),
        "Forecast renewable output curtailed in the region in the slot containing the "
        "snapshot time, watts (NaN where unknown)."),
    "wattbit_plan_emissions_grams": (
        "gauge", ("plan",),
        "CO2 emissions over the plan horizon, grams: plan=planned (this plan) or "
        "plan=baseline (carbon-agnostic, home site, earliest start)."),
    "wattbit_curtailment_absorbed_joules": (
        "gauge", (),
        "Zero-carbon (otherwise curtailed) energy the plan absorbs over its horizon, joules."),
    "wattbit_solver_seconds": (
        "gauge", (), "Wall time to build and solve the plan, seconds."),
    "wattbit_solver_gap_ratio": (
        "gauge", (),
        "Relative optimality gap the solver proves for the plan (0 = optimal; NaN when no "
        "finite bound is known)."),
    "wattbit_plan": (
        "info", ("method", "status"), "Method and solver status of the current plan."),
    "wattbit_provider_failures_total": (
        "counter", ("provider",), "Forecast-provider failures since start, per provider."),
    "wattbit_forecast_stale": (
        "gauge", ("region",),
        "1 when the region's forecast is the last good one kept after a provider failure, "
        "else 0."),
    "wattbit_forecast_age_seconds": (
        "gauge", ("region",),
        "Age of the region's forecast at the snapshot time (snapshot time - issued_at), "
        "seconds (NaN when the issue time is unknown)."),
    "wattbit_pods": (
        "gauge", ("state",),
        "Pods wattbit manages in the cluster (wattbit serve), by state: managed = every "
        "unfinished pod with the managed label; held = waiting at wattbit's scheduling gate "
        "for its planned start."),
    "wattbit_snapshot_timestamp_seconds": (
        "gauge", (), "The moment the published figures describe, Unix time, seconds."),
}

_Rows = tuple[tuple[tuple[str, ...], float], ...]


def _utc(value: datetime | pd.Timestamp | None, what: str) -> pd.Timestamp | None:
    """`value` as a tz-aware UTC Timestamp (None stays None); a naive time is refused."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise InputError("Snapshot", what, str(value), "must be tz-aware (UTC)")
    return ts.tz_convert(UTC)


@dataclass(frozen=True)
class Snapshot:
    """The figures published at one moment; immutable (its mappings are read-only copies).

    `at` is the moment the figures describe (UTC). `capacity` holds ΔkW rows (kW); per
    (scope, id, direction, window) the exporter publishes the row whose window contains
    `at` — see `current_capacity`. `forecasts` is keyed by region (the `region` label).
    `provider_failures` counts failures per provider since start (cumulative).
    """

    at: pd.Timestamp
    plan: Plan | None = None
    capacity: tuple[Capacity, ...] = ()
    forecasts: Mapping[str, Forecast] = field(default_factory=dict)
    provider_failures: Mapping[str, int] = field(default_factory=dict)
    pods: Mapping[str, int] = field(default_factory=dict)
    """Pod counts by state (`managed`, `held`); empty outside a cluster."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc(self.at, "at"))
        rows = tuple(self.capacity)
        for r in rows:
            _utc(r.start, f"capacity[{r.scope}/{r.id}].start")
        object.__setattr__(self, "capacity", rows)
        object.__setattr__(self, "forecasts", MappingProxyType(dict(self.forecasts)))
        failures = {str(k): int(v) for k, v in self.provider_failures.items()}
        for k, v in failures.items():
            if v < 0:
                raise InputError("Snapshot", f"provider_failures[{k}]", v, "must be ≥ 0")
        object.__setattr__(self, "provider_failures", MappingProxyType(failures))
        pods = {str(k): int(v) for k, v in self.pods.items()}
        for k, v in pods.items():
            if v < 0:
                raise InputError("Snapshot", f"pods[{k}]", v, "must be ≥ 0")
        object.__setattr__(self, "pods", MappingProxyType(pods))


def current_capacity(rows: Iterable[Capacity], at: pd.Timestamp) -> list[Capacity]:
    """Per (scope, id, direction, window_minutes): the row whose window [start, start +
    window) contains `at` (the latest start ≤ `at`), else the earliest row starting after
    `at`; a key whose rows all ended before `at` is left out (its figure is out of date).
    Sorted by key."""
    at = _utc(at, "at")
    best: dict[tuple[str, str, str, int], Capacity] = {}
    for r in rows:
        key = (r.scope, r.id, r.direction, int(r.window_minutes))
        start = _utc(r.start, "capacity.start")
        if start <= at and at >= start + pd.Timedelta(minutes=r.window_minutes):
            continue  # window over
        old = best.get(key)
        if old is None:
            best[key] = r
            continue
        o = _utc(old.start, "capacity.start")
        if start <= at:  # contains at: the latest such start wins, and beats any future one
            if o > at or start > o:
                best[key] = r
        elif o > at and start < o:  # both in the future: the earliest wins
            best[key] = r
    return [best[k] for k in sorted(best)]


def _slot(starts: pd.DatetimeIndex, minutes: float, at: pd.Timestamp) -> int | None:
    """Index of the slot [start, start + minutes) of `starts` that contains `at`, or None."""
    if len(starts) == 0:
        return None
    idx = pd.DatetimeIndex(starts)
    idx = idx.tz_localize(UTC) if idx.tz is None else idx.tz_convert(UTC)
    i = int(idx.searchsorted(at, side="right")) - 1
    if i < 0 or at >= idx[i] + pd.Timedelta(minutes=minutes):
        return None
    return i


def _value(arr: np.ndarray | None, i: int | None, scale: float = 1.0) -> float:
    """`arr[i] × scale` as a float; NaN when unknown (no array, no slot, NaN)."""
    if arr is None or i is None or i >= len(arr):
        return math.nan
    v = float(arr[i])
    return v * scale if math.isfinite(v) else math.nan


def _rows(snap: Snapshot) -> dict[str, _Rows]:
    """Every family's series (label values, value) for one snapshot."""
    at = snap.at
    out: dict[str, list[tuple[tuple[str, ...], float]]] = {name: [] for name in FAMILIES}
    for r in current_capacity(snap.capacity, at):
        out["wattbit_dr_capacity_watts"].append(
            ((r.scope, r.id, r.direction, str(int(r.window_minutes))), float(r.kw) * W_PER_KW))
    plan = snap.plan
    if plan is not None:
        i = _slot(plan.slot_starts, plan.slot_h * 60.0, at)
        for s in plan.sites:
            out["wattbit_planned_facility_power_watts"].append(
                ((s.id,), _value(s.facility_kw, i, W_PER_KW)))
            if s.battery_soc_kwh is None:
                continue
            for direction, kw in (("charge", s.battery_charge_kw),
                                  ("discharge", s.battery_discharge_kw)):
                out["wattbit_planned_battery_power_watts"].append(
                    ((s.id, direction), _value(kw, i, W_PER_KW)))
            out["wattbit_planned_battery_energy_joules"].append(
                ((s.id,), _value(s.battery_soc_kwh, i, J_PER_KWH)))
        out["wattbit_plan_emissions_grams"] += [
            (("planned",), float(plan.kg_co2) * G_PER_KG),
            (("baseline",), float(plan.baseline_kg_co2) * G_PER_KG)]
        out["wattbit_curtailment_absorbed_joules"].append(
            ((), float(plan.curtailment_absorbed_kwh) * J_PER_KWH))
        out["wattbit_solver_seconds"].append(
            ((), float(plan.build_seconds) + float(plan.solve_seconds)))
        gap = float(plan.gap)
        out["wattbit_solver_gap_ratio"].append(((), gap if math.isfinite(gap) else math.nan))
        out["wattbit_plan"].append(((str(plan.method), str(plan.status)), 1.0))
    for region in sorted(snap.forecasts):
        f = snap.forecasts[region]
        i = _slot(f.slot_starts, f.slot_minutes, at)
        out["wattbit_grid_carbon_intensity_grams_per_kilowatt_hour"].append(
            ((region,), _value(f.carbon_gco2_per_kwh, i)))
        out["wattbit_grid_curtailment_watts"].append(
            ((region,), _value(f.curtailment_mw, i, W_PER_MW)))
        out["wattbit_forecast_stale"].append(((region,), 1.0 if f.stale else 0.0))
        issued = _utc(f.issued_at, f"forecasts[{region}].issued_at")
        out["wattbit_forecast_age_seconds"].append(
            ((region,), math.nan if issued is None else (at - issued).total_seconds()))
    for provider in sorted(snap.provider_failures):
        out["wattbit_provider_failures_total"].append(
            ((provider,), float(snap.provider_failures[provider])))
    for state in sorted(snap.pods):
        out["wattbit_pods"].append(((state,), float(snap.pods[state])))
    out["wattbit_snapshot_timestamp_seconds"].append(((), at.timestamp()))
    return {name: tuple(rows) for name, rows in out.items()}


def _family(name: str, rows: _Rows) -> Metric:
    """One metric family of `FAMILIES` holding `rows`."""
    kind, labels, doc = FAMILIES[name]
    if kind == "info":
        info = InfoMetricFamily(name, doc, labels=labels)
        for values, _ in rows:
            info.add_metric(values, {})
        return info
    fam = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(
        name, doc, labels=labels)
    for values, v in rows:
        fam.add_metric(values, v)
    return fam


class DrMetrics(Collector):
    """Custom collector publishing the latest `Snapshot`; safe to update from one thread
    while others scrape."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Register with `registry` (default: a new private one, not the global REGISTRY)."""
        self.registry = CollectorRegistry() if registry is None else registry
        self._state: tuple[Snapshot, Mapping[str, _Rows]] | None = None
        self.registry.register(self)

    @property
    def snapshot(self) -> Snapshot | None:
        """The snapshot being published (None before the first update)."""
        state = self._state
        return None if state is None else state[0]

    def update(self, snap: Snapshot) -> None:
        """Publish `snap`: all series are computed here (errors surface to the caller) and
        swapped in at once."""
        if not isinstance(snap, Snapshot):
            raise TypeError(f"DrMetrics.update wants a Snapshot, got {type(snap).__name__}")
        self._state = (snap, MappingProxyType(_rows(snap)))

    def update_counts(self, pods: Mapping[str, int],
                      provider_failures: Mapping[str, int]) -> None:
        """Publish new pod counts and provider-failure totals with the figures in place
        (before the first plan: with nothing else)."""
        snap = self.snapshot or Snapshot(at=pd.Timestamp.now(tz=UTC))
        self.update(replace(snap, pods=pods, provider_failures=provider_failures))

    def describe(self) -> Iterator[Metric]:
        """The families (without samples), for the registry's name-clash check."""
        for name in FAMILIES:
            yield _family(name, ())

    def collect(self) -> Iterator[Metric]:
        """Every family with the series of the current snapshot (none before the first
        update: no made-up zeros)."""
        state = self._state  # read once: one whole snapshot per scrape
        series: Mapping[str, _Rows] = {} if state is None else state[1]
        for name in FAMILIES:
            yield _family(name, series.get(name, ()))


def publisher(metrics: DrMetrics, service: DrService) -> Callable[[Current], None]:
    """A `DrService.on_replan` hook: publish the plan at once, then its current-window ΔkW
    when computed — by one worker thread that always computes for the newest plan, so
    re-plans that come faster than ΔkW (seconds per query) never pile up computations."""
    wake = threading.Event()

    def counts() -> dict[str, Mapping[str, int]]:  # kept from the snapshot in place
        prev = metrics.snapshot
        return {} if prev is None else {"pods": prev.pods,
                                        "provider_failures": prev.provider_failures}

    def worker() -> None:
        while True:
            wake.wait()
            wake.clear()
            cur = service.current
            if cur is None:
                continue
            try:
                rows = service.capacity_now(WINDOW_MINUTES, cur)
            except Exception:  # a failed ΔkW leaves the plan's figures published
                log.exception("ΔkW of the plan of %s failed", cur.plan.made_at)
                continue
            if service.current is cur:  # else a newer plan has woken us again
                metrics.update(Snapshot(at=cur.plan.slot_starts[0], plan=cur.plan,
                                        capacity=tuple(rows), forecasts=service.forecasts,
                                        **counts()))

    threading.Thread(target=worker, name="dr-capacity", daemon=True).start()

    def publish(cur: Current) -> None:
        metrics.update(Snapshot(at=cur.plan.slot_starts[0], plan=cur.plan,
                                forecasts=service.forecasts, **counts()))
        wake.set()

    return publish
