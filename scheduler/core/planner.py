"""`Planner`: the one re-planner the CLI, the simulator, the cluster loop and DR use.

Each `replan(now, jobs, forecasts, limits)` builds the problem from the live state (running
jobs and their work done, power limits in time windows, near-term decisions kept from the
last plan, the batteries' state of charge the last plan gives at now), starts from the last
plan, and returns the next plan. Decisions are stable: the last plan wins ties and is
replaced only by a plan that is better by more than half the MIP gap (or that is proven
within the gap where the last plan is not), a new plan takes back the last plan's runs where
its gap leaves room (`local_search.restore`), and interchangeable jobs keep their own starts,
so a re-plan with nothing changed returns the same plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from forecasts.forecast import Forecast, at_quantile, expected_value
from inputs.clock import utc_now
from policies.job import Job
from policies.limits import PowerLimit
from policies.policy import Policy
from policies.site import Site
from scheduler.core.colgen import Columns, Prices
from scheduler.core.plan import Plan, make_plan, schedule_on
from scheduler.core.problem import Problem, build_problem
from scheduler.core.schedule import Schedule
from scheduler.core.solve import DEFAULT_MIP_GAP, Builder, Method, solve


@dataclass(frozen=True)
class PlanConfig:
    """How to plan: method, budget (wall seconds, or work limits when `deterministic`),
    the gap at which to stop, and how long near-term decisions stay frozen."""

    method: Method = Method.MILP
    time_limit_s: float = 60.0
    mip_gap: float = DEFAULT_MIP_GAP
    builder: Builder = Builder.FAST
    deterministic: bool = False
    """Work limits instead of the clock: the same inputs give the same plan on any machine."""
    freeze_minutes: float = 0.0
    """Decisions of the last plan for jobs starting within this many minutes of now stay."""


class Planner:
    """Plans again and again from a moving state, remembering the last plan."""

    def __init__(self, sites: Sequence[Site], policy: Policy, config: PlanConfig | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.sites = tuple(sites)
        self.policy = policy
        self.config = config or PlanConfig()
        self.clock = clock
        self.last: Plan | None = None
        """The last plan returned (the starting point of the next)."""
        self.last_problem: Problem | None = None
        self.last_schedule: Schedule | None = None
        """The problem the last plan solves and its schedule on it (what ΔkW queries and
        reports read, instead of building the problem again)."""
        self.last_prices: Prices | None = None
        """The capacity prices of the last plan's LP (its duals, or the column generation's
        of large instances): the next column generation starts from them, moved onto its
        slots."""
        self.last_columns: Columns | None = None
        """The columns the last column generation's LP used: the next one's master starts
        with those still valid."""

    def frozen(self, now: datetime | None, previous: Plan | None
               ) -> dict[str, tuple[str, datetime]]:
        """The previous plan's decisions for jobs starting in [now, now + freeze_minutes)."""
        if previous is None or now is None or self.config.freeze_minutes <= 0:
            return {}
        start = pd.Timestamp(now)
        until = start + timedelta(minutes=self.config.freeze_minutes)
        return {jid: (site, t) for jid, (site, t) in previous.decisions().items()
                if start <= pd.Timestamp(t) < until}

    def battery_soc(self, now: datetime | None, previous: Plan | None) -> dict[str, float]:
        """Site id → the state of charge `previous` plans for its battery at the start of the
        slot containing `now` (the live state a re-plan starts from; empty without one)."""
        if previous is None or now is None or len(previous.slot_starts) == 0:
            return {}
        slot = pd.Timedelta(hours=previous.slot_h)
        i = int(previous.slot_starts.searchsorted(pd.Timestamp(now), side="right")) - 1
        if i < 0 or pd.Timestamp(now) >= previous.slot_starts[i] + slot:
            return {}
        plans = {sp.id: sp for sp in previous.sites}
        out = {}
        for site in self.sites:
            sp = plans.get(site.id)
            if site.battery is None or sp is None:
                continue
            soc = sp.battery_start_kwh(i, site.battery.one_way_efficiency, previous.slot_h)
            if soc is not None:
                out[site.id] = soc
        return out

    def replan(self, now: datetime | None, jobs: Sequence[Job],
               forecasts: Mapping[str, Forecast], limits: Sequence[PowerLimit] = (),
               previous: Plan | None = None) -> Plan:
        """The next plan from the state at `now` (None: plan from the forecasts' start).
        `previous` defaults to the last plan this planner returned. Forecasts with quantiles
        are read at their expected value, or at the policy's `risk_quantile` when it has one
        (`expected_value`, `at_quantile`)."""
        previous = previous if previous is not None else self.last
        cfg = self.config
        q = self.policy.risk_quantile
        # the plan's figures are on the forecasts as read
        if q is None:
            forecasts = {r: expected_value(fc) for r, fc in forecasts.items()}
        elif q != 0.5:
            forecasts = {r: at_quantile(fc, q) for r, fc in forecasts.items()}
        p = build_problem(self.sites, jobs, forecasts, self.policy, now=now, limits=limits,
                          fixed=self.frozen(now, previous),
                          battery_soc_kwh=self.battery_soc(now, previous))
        incumbent = None if previous is None else schedule_on(p, previous)
        prices = None
        if self.last_prices is not None and self.last_problem is not None:
            prices = self.last_prices.on_grid(self.last_problem.slot_starts, p.slot_starts)
        out = solve(p, cfg.method, time_limit_s=cfg.time_limit_s, mip_gap=cfg.mip_gap,
                    builder=cfg.builder, deterministic=cfg.deterministic, incumbent=incumbent,
                    prices=prices, columns=self.last_columns)
        baseline = solve(p, Method.ASAP)
        plan = make_plan(p, out, baseline, previous, made_at=self.clock())
        self.last, self.last_problem, self.last_schedule = plan, p, out.schedule
        self.last_prices, self.last_columns = out.prices, out.columns
        return plan
