"""The DR service: the current plan of a fleet, its ΔkW, and DR events turned into limits of
the next plan — what `wattbit dr serve` exposes over HTTP and as metrics.

An accepted event is stored with its counterfactual baseline (the site's planned facility
kW in the event's slots before the event) and becomes, slot by slot, a limit of every later
plan: `max_facility_kw = baseline − kW` (down) or `min_facility_kw = baseline + kW` (up).
The kW accepted is at most the ΔkW the plan can deliver over the window (`delta_kw`), so a
down event never makes a job miss its deadline; the reason says when less was accepted.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from forecasts.forecast import Forecast
from inputs.clock import utc_now
from inputs.errors import InputError
from policies.job import Job
from policies.limits import PowerLimit
from policies.policy import Policy
from policies.site import Site
from scheduler.core.plan import Plan
from scheduler.core.planner import PlanConfig, Planner
from scheduler.core.problem import Problem
from scheduler.core.schedule import Schedule
from scheduler.dr.baseline import high_4_of_5
from scheduler.dr.capacity import Capacity, capacity_table, delta_kw
from scheduler.dr.events import DrEvent, EventStore

MAX_EVENT_HOURS = 24.0
"""Longest DR event window accepted."""


class NoPlanYet(RuntimeError):
    """Asked for the plan before the first one was made (the service is starting)."""


@dataclass(frozen=True)
class Current:
    """One plan with the problem it solves (what ΔkW and reports read)."""

    problem: Problem
    plan: Plan
    schedule: Schedule


class DrService:
    """Plans the fleet's state, answers ΔkW queries and takes DR events (thread-safe). The
    state is fixed (`wattbit dr serve`) or moved on by the cluster loop (`set_state`)."""

    def __init__(self, sites: Sequence[Site], jobs: Sequence[Job],
                 forecasts: Mapping[str, Forecast], policy: Policy, store: EventStore, *,
                 now: datetime | None = None, query_time_limit_s: float = 5.0,
                 on_replan: Callable[[Current], None] | None = None,
                 meter: Mapping[str, pd.Series] | None = None,
                 config: PlanConfig | None = None, plan_now: bool = True,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.sites, self.jobs, self.forecasts = tuple(sites), tuple(jobs), dict(forecasts)
        self.policy, self.store, self.now = policy, store, now
        self.query_time_limit_s = query_time_limit_s
        self.meter = dict(meter or {})
        """Metered facility kW per site (slot-start index), where a meter exists."""
        self.planner = Planner(self.sites, policy, config or PlanConfig(deterministic=True),
                               clock=clock)
        self._lock = threading.RLock()
        self._cache: dict[tuple, list[Capacity]] = {}
        self.on_replan = on_replan
        """Called with each new plan (e.g. to publish metrics; keep it short or threaded)."""
        self.current: Current | None = None
        if plan_now:
            self.replan()

    def set_state(self, sites: Sequence[Site], jobs: Sequence[Job],
                  forecasts: Mapping[str, Forecast], now: datetime) -> None:
        """The fleet as it is at `now` (site capacities, jobs, fresh forecasts): what the
        next `replan` plans from."""
        with self._lock:
            self.sites, self.jobs, self.forecasts = tuple(sites), tuple(jobs), dict(forecasts)
            self.planner.sites, self.now = self.sites, now

    def limits(self) -> list[PowerLimit]:
        """Every stored event with kW accepted, as per-slot limits."""
        out = []
        step = pd.Timedelta(minutes=min(f.slot_minutes for f in self.forecasts.values()))
        for ev in self.store.all():
            if ev.kw_accepted <= 0:
                continue
            for t, base in zip(ev.slot_starts, ev.baseline_kw, strict=True):
                a = pd.Timestamp(t)
                if ev.direction == "down":
                    lim = PowerLimit(ev.site, a, a + step, max_facility_kw=max(
                        0.0, base - ev.kw_accepted))
                else:
                    lim = PowerLimit(ev.site, a, a + step, min_facility_kw=base + ev.kw_accepted)
                out.append(lim)
        return out

    def replan(self) -> Current:
        """Plan again with the events' limits; the new plan becomes current."""
        with self._lock:
            lims = self.limits()
            plan = self.planner.replan(self.now, self.jobs, self.forecasts, lims)
            cur = Current(self.planner.last_problem, plan, self.planner.last_schedule)
            self.current = cur
            self._cache.clear()
        if self.on_replan is not None:
            self.on_replan(cur)
        return cur

    def current_plan(self) -> Current:
        """The current plan with its problem; `NoPlanYet` before the first."""
        cur = self.current
        if cur is None:
            raise NoPlanYet("no plan yet: the service is making its first")
        return cur

    def site_index(self, site: str) -> int:
        ids = [s.id for s in self.sites]
        if site not in ids:
            raise InputError("request", "site", site, f"unknown (sites: {', '.join(ids)})")
        return ids.index(site)

    def capacity_now(self, windows: Sequence[int], cur: Current | None = None
                     ) -> list[Capacity]:
        """ΔkW of every site, direction and window starting at the first slot of plan `cur`
        (default the current one)."""
        cur = cur or self.current_plan()
        return capacity_table(cur.problem, cur.schedule, windows=windows,
                              hours=cur.plan.slot_h, time_limit_s=self.query_time_limit_s,
                              regions=True)

    def capacity(self, site: str | None, window_minutes: int, hours: float = 24.0,
                 every_minutes: int = 30, region: str | None = None) -> list[Capacity]:
        """ΔkW curve of a site — or of a region's sites together — for one window length
        (both directions), cached per plan."""
        if (site is None) == (region is None):
            raise InputError("request", "site/region", (site, region), "give exactly one")
        if site is not None:
            self.site_index(site)
            members, scope = [site], "site"
        else:
            members = [s.id for s in self.sites if s.region == region]
            if not members:
                regions = sorted({s.region for s in self.sites})
                raise InputError("request", "region", region,
                                 f"no site in it (regions: {', '.join(regions)})")
            scope = "region"
        with self._lock:
            cur = self.current_plan()
            key = (cur.plan.made_at, scope, site or region, window_minutes, hours,
                   every_minutes)
            if key not in self._cache:
                rows = capacity_table(
                    cur.problem, cur.schedule, sites=members, windows=(window_minutes,),
                    hours=hours, every_minutes=every_minutes,
                    time_limit_s=self.query_time_limit_s, regions=scope == "region")
                self._cache[key] = [r for r in rows if r.scope == scope]
            return self._cache[key]

    def _slots(self, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """Indices of the current plan's slots overlapping [start, end)."""
        plan = self.current_plan().plan
        step = pd.Timedelta(hours=plan.slot_h)
        idx = np.flatnonzero((plan.slot_starts < end) & (plan.slot_starts + step > start))
        horizon_end = plan.slot_starts[-1] + step
        if start < plan.slot_starts[0] or end > horizon_end or idx.size == 0:
            raise InputError("request", "start/end", f"{start.isoformat()}…{end.isoformat()}",
                             f"must lie inside the plan's horizon {plan.slot_starts[0]}"
                             f"…{horizon_end}")
        return idx

    def post_event(self, site: str, direction: str, kw: float, start: datetime,
                   end: datetime, idempotency_key: str) -> tuple[DrEvent, bool]:
        """Accept as much of the request as the plan can deliver; re-plan with it.
        Returns (the event, created?) — a known key returns the stored event unchanged."""
        with self._lock:
            known = self.store.by_key(idempotency_key)
            if known is not None:
                return known, False
            s = self.site_index(site)
            a, b = pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC")
            if not a < b:
                raise InputError("request", "end", b.isoformat(), "must be after start")
            if (b - a) > pd.Timedelta(hours=MAX_EVENT_HOURS):
                raise InputError("request", "end", b.isoformat(),
                                 f"window longer than {MAX_EVENT_HOURS:g} h")
            if not (kw > 0 and math.isfinite(kw)):
                raise InputError("request", "kw", kw, "must be a finite number > 0")
            cur = self.current_plan()
            idx = self._slots(a, b)
            can = delta_kw(cur.problem, cur.schedule, s, int(idx[0]), len(idx), direction,
                           self.query_time_limit_s)
            accepted = min(kw, can)
            reason = "" if accepted >= kw - 1e-9 else (
                f"the plan can {'shed' if direction == 'down' else 'add'} at most "
                f"{can:,.1f} kW over the whole window with every deadline met")
            facility = cur.plan.sites[s].facility_kw
            event = DrEvent(
                id=uuid.uuid4().hex, idempotency_key=idempotency_key, site=site,
                direction=direction, kw_requested=float(kw), kw_accepted=float(accepted),
                reason=reason, start=a.isoformat(), end=b.isoformat(),
                slot_starts=tuple(cur.plan.slot_starts[i].isoformat() for i in idx),
                baseline_kw=tuple(float(facility[i]) for i in idx),
                created_at=utc_now().isoformat())
            stored, created = self.store.add(event)
            if created:
                self.replan()
            return stored, created

    def report(self, event_id: str) -> tuple[DrEvent, list[dict[str, object]]] | None:
        """The event and, per slot: the counterfactual baseline (the plan before the
        event), the planned and — where the site has a meter — measured kW, the "High 4 of
        5" baseline when the meter's history allows it, and the kW delivered against each
        baseline (baseline − measured for down, measured − baseline for up; the planned kW
        stands in for the measured where there is no reading)."""
        ev = self.store.get(event_id)
        if ev is None:
            return None
        plan = self.current_plan().plan
        s = self.site_index(ev.site)
        where = {t: i for i, t in enumerate(plan.slot_starts)}
        meter = self.meter.get(ev.site)
        start, end = ev.window()
        others = [e.window()[0] for e in self.store.all() if e.id != ev.id]
        high = None if meter is None else high_4_of_5(meter, start, end, others)
        sign = 1.0 if ev.direction == "down" else -1.0
        rows = []
        for t, base in zip(ev.slot_starts, ev.baseline_kw, strict=True):
            ts = pd.Timestamp(t)
            i = where.get(ts)
            planned = float(plan.sites[s].facility_kw[i]) if i is not None else float("nan")
            measured = float(meter.get(ts, np.nan)) if meter is not None else float("nan")
            actual = measured if not np.isnan(measured) else planned
            h4 = float(high.get(ts, np.nan)) if high is not None else float("nan")
            rows.append({"start": t, "baseline_kw": base, "planned_kw": planned,
                         "measured_kw": measured, "delivered_kw": sign * (base - actual),
                         "high4of5_baseline_kw": h4,
                         "delivered_vs_high4of5_kw": sign * (h4 - actual)})
        return ev, rows
