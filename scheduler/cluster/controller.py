"""The planner loop and the gate controller of `wattbit serve`.

Each `step`: renew (or take) the Lease; if this replica leads, re-plan when the period has
passed or the cluster changed (debounced), then decide every gated pod — release it with a
merge patch at its planned start, or hold it — and write an Event on the pod for each
decision (once per decision, not per step). Re-planning goes through the DR service's one
re-planner (so DR events are limits of every plan) and the new plan is published to the
extender by one reference swap. A forecast that cannot be had keeps the last plan; when
that grows stale the gates fail open. Only the leader plans, patches and writes Events;
the others stand by (not ready), so kube-scheduler reaches only the leader.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from forecasts.forecast import Forecast
from forecasts.providers.cache import FailureCounter
from forecasts.providers.http import ProviderError
from inputs.errors import InputError
from scheduler.cluster.fleet import FINISHED, Fleet, read_fleet
from scheduler.cluster.informer import Informer
from scheduler.cluster.kube import ApiException, KubeApi
from scheduler.cluster.leader import LeaseElector
from scheduler.core.plan import Plan
from scheduler.dr.exporter import DrMetrics
from scheduler.dr.service import DrService
from scheduler.extender.gates import GateDecision, decide, release_patch
from scheduler.extender.pods import is_managed
from scheduler.extender.service import Extender

log = logging.getLogger("wattbit.cluster")
COMPONENT = "wattbit"


def event_body(pod: dict[str, Any], reason: str, message: str, now: datetime,
               instance: str, warning: bool = False) -> dict[str, Any]:
    """A core/v1 Event on `pod`, named as client-go's recorder names them."""
    meta = pod.get("metadata") or {}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{time.time_ns():x}",
                         "namespace": meta.get("namespace", "default")},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name"),
                               "namespace": meta.get("namespace", "default"),
                               "uid": meta.get("uid"),
                               "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
            "reportingInstance": instance, "firstTimestamp": stamp, "lastTimestamp": stamp,
            "count": 1}


def _who(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")


@dataclass
class Controller:
    """Plans from the cluster's state and lifts gates (see the module doc)."""

    api: KubeApi
    extender: Extender
    dr: DrService
    pods: Informer
    nodes: Informer
    forecasts: Callable[[datetime], Mapping[str, Forecast]]
    """Fresh forecasts per region at a time (raises on failure)."""
    clock: Callable[[], datetime]
    elector: LeaseElector | None = None
    """None: leader election off (one replica)."""
    identity: str = COMPONENT
    replan_s: float = 300.0
    debounce_s: float = 5.0
    max_plan_age: timedelta = timedelta(minutes=30)
    dry_run: bool = False
    """Plan, decide and write Events, but never patch pods."""
    metrics: DrMetrics | None = None
    """Where pod counts and provider failures are published after each step."""
    failures: FailureCounter | None = None
    """The forecast providers' failure counts."""
    armed: bool = False
    """True once this replica, leading, has run a whole step (a plan, or fail-open)."""
    plan_failures: int = 0
    _said: set[tuple[str, str]] = field(default_factory=set)
    _dirty_at: float | None = None
    _nodes_seen: int = -1
    _planned_at: float | None = None

    def changed(self) -> None:
        """The cluster changed in what the planner reads (informer callback): re-plan once
        it has been quiet for `debounce_s` (the period re-plans meanwhile anyway)."""
        self._dirty_at = time.monotonic()

    def ready(self) -> bool:
        """Serve only as the leader that has planned or armed fail-open."""
        return self.armed and (self.elector is None or self.elector.leading)

    def step(self) -> None:
        """One round: the extender's node cache, lease, re-plan when due, gates."""
        if self.nodes.generation != self._nodes_seen:  # filter maps node names to sites
            self._nodes_seen = self.nodes.generation
            self.extender.nodes = self.nodes.snapshot()
        if self.elector is not None and not self.elector.try_acquire_or_renew():
            self.armed = False
            return
        mono = time.monotonic()
        due = self._planned_at is None or mono - self._planned_at >= self.replan_s
        settled = self._dirty_at is not None and mono - self._dirty_at >= self.debounce_s
        if due or settled or not self.armed:  # also at once on taking the lease
            self.replan()
        decisions = self.reconcile_gates()
        self.armed = True
        if self.metrics is not None:
            self.metrics.update_counts(self.pod_counts(decisions), self.provider_failures())

    def pod_counts(self, decisions: list[GateDecision]) -> dict[str, int]:
        """managed: unfinished pods with the managed label; held: pods our gate holds now."""
        label = self.extender.managed_label
        managed = sum(is_managed(p, label) for p in self.pods.snapshot().values()
                      if (p.get("status") or {}).get("phase") not in FINISHED)
        return {"managed": managed, "held": sum(not d.release for d in decisions)}

    def provider_failures(self) -> dict[str, int]:
        """Failures per provider since start."""
        out: dict[str, int] = {}
        for (provider, _reason), n in (self.failures.counts if self.failures else {}).items():
            out[provider] = out.get(provider, 0) + n
        return out

    def fleet(self, now: datetime) -> Fleet:
        """The configured sites with the cluster's free GPUs, and the managed jobs, now."""
        return read_fleet(self.pods.snapshot().values(), self.nodes.snapshot().values(),
                          self.extender.sites, now, self.extender.node_site,
                          self.extender.managed_label)

    def replan(self) -> Plan | None:
        """Plan from the cluster now and publish; None (last plan kept) on failure."""
        self._planned_at, self._dirty_at = time.monotonic(), None
        now = self.clock()
        try:
            fleet = self.fleet(now)
            self._report_malformed(fleet, now)
            forecasts = self.forecasts(now)
            self.extender.forecasts = forecasts
            plan = self._plan_without_bad_jobs(fleet, forecasts, now)
        except (InputError, ProviderError, OSError, ValueError, RuntimeError) as err:
            self.plan_failures += 1
            log.warning("re-plan failed (%s); the last plan stays until it is stale", err)
            return None
        self.extender.publish(plan)
        log.info("plan %s: %d jobs, %s, gap %.3g", plan.made_at.isoformat(), len(plan.jobs),
                 plan.method, plan.gap)
        return plan

    def _plan_without_bad_jobs(self, fleet: Fleet, forecasts: Mapping[str, Forecast],
                               now: datetime) -> Plan:
        """Plan the fleet; a job the planner refuses (an allowed site that names no site, a
        running site it may not use) is left out with a Warning Event on its pods — its gated
        pods are then released (fail-open) — instead of stopping every plan."""
        left_out: set[str] = set()
        pods = self.pods.snapshot()
        while True:
            jobs = [j for j in fleet.jobs if j.id not in left_out]
            self.dr.set_state(fleet.sites, jobs, forecasts, now)
            try:
                return self.dr.replan().plan
            except InputError as err:
                bad = err.source.removeprefix("job ")
                if bad == err.source or bad not in {j.id for j in jobs}:
                    raise
                left_out.add(bad)
                log.warning("job %s left out of the plan: %s", bad, err)
                for name in fleet.pods_of_job.get(bad, ()):
                    if name in pods:
                        self._event_once(pods[name], "NotPlanned",
                                         f"{err}; scheduled as an unmanaged pod", now,
                                         warning=True)

    def reconcile_gates(self) -> list[GateDecision]:
        """Decide every pod carrying our gate; release or hold, with an Event each."""
        now = self.clock()
        plan = self.extender.plan
        out = []
        pods = self.pods.snapshot()
        live = {_who(p) for p in pods.values()}
        self._said = {k for k in self._said if k[0] in live}
        for pod in pods.values():
            d = decide(pod, plan, now, self.max_plan_age, self.extender.managed_label)
            if d is None:
                continue
            out.append(d)
            if d.release:
                self._release(pod, d, now)
            else:
                self._event_once(pod, "Held", d.message, now)
        return out

    def _release(self, pod: dict[str, Any], d: GateDecision, now: datetime) -> None:
        site = d.site
        if site is None and "fail-open" in d.message:
            site = self._best_site_now(pod)
        selector = None if site is None else self.extender.site_selector(site)
        body = release_patch(pod, selector)
        meta = pod.get("metadata") or {}
        if body is None:
            return
        if self.dry_run:
            self._event_once(pod, "WouldRelease", f"[dry-run] {d.message}", now)
            return
        try:
            self.api.patch_pod(meta.get("namespace", "default"), meta.get("name"), body)
        except ApiException as err:  # 409: changed meanwhile; 404: gone — decide again
            log.info("release of %s: %s %s; deciding again next round", d.pod, err.status,
                     err.reason)
            return
        self._event_once(pod, "Released", d.message, now)

    def _best_site_now(self, pod: dict[str, Any]) -> str | None:
        decided = self.extender.job_placement(pod)
        return None if decided is None else decided[1].site

    def _report_malformed(self, fleet: Fleet, now: datetime) -> None:
        pods = self.pods.snapshot()
        for err in fleet.malformed:
            pod = pods.get(err.pod)
            if pod is not None:
                self._event_once(pod, "InvalidAnnotation",
                                 f"{err}; scheduled as an unmanaged pod", now, warning=True)

    def _event_once(self, pod: dict[str, Any], reason: str, message: str, now: datetime,
                    warning: bool = False) -> None:
        meta = pod.get("metadata") or {}
        key = (_who(pod), f"{reason}:{message}")
        if key in self._said:
            return
        try:
            self.api.create_event(meta.get("namespace", "default"),
                                  event_body(pod, reason, message, now, self.identity, warning))
        except ApiException as err:
            log.warning("event on %s/%s: %s %s", meta.get("namespace"), meta.get("name"),
                        err.status, err.reason)
            return
        self._said.add(key)

    def run(self, stop: threading.Event, tick_s: float = 1.0) -> None:
        """Step until `stop` is set; an unexpected error is logged and the loop goes on."""
        while not stop.is_set():
            try:
                self.step()
            except Exception:
                log.exception("planner loop step failed; continuing")
            stop.wait(tick_s)
