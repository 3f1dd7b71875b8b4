"""The kube-scheduler extender's verbs, answered from the last published plan.

`filter` keeps the nodes of the job's site — the planned site, or for a job the plan has not
seen the best site now (a fast decision from the forecast) — and reports the others in
`FailedAndUnresolvableNodes` (so preemption leaves them alone). `prioritize` scores every
node's site 0–10 by the job's cost there (the plan's per-site costs, or the fast decision's),
so that if the planned site is full the next-best site wins. Unmanaged pods, pods with a
malformed annotation, and nodes of no known site pass through untouched: the extender never
blocks the cluster. Any error becomes a protocol-valid answer (`Error` for filter, an empty
list for prioritize), never an exception. Wire types: ../shared/k8s-extender/PROTOCOL.md.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from forecasts.forecast import Forecast
from inputs.errors import InputError
from policies.job import Job
from policies.policy import Policy
from policies.site import Site
from scheduler.core.plan import Plan
from scheduler.core.problem import build_problem
from scheduler.extender.pods import MANAGED_LABEL, AnnotationError, pod_facts

log = logging.getLogger("wattbit.extender")
REGION_LABEL = "topology.kubernetes.io/region"
MAX_SCORE = 10


@dataclass(frozen=True)
class Placement:
    """Where a job should run and what each site would cost it (lower is better)."""

    site: str
    costs: Mapping[str, float]
    """Site id → cost (plan points, or points per IT kWh now); absent = does not fit."""
    planned: bool
    """From the published plan (else the fast decision)."""


@dataclass
class Extender:
    """Answers the verbs for a fleet: sites, forecasts, the published plan, a node cache."""

    sites: Sequence[Site]
    forecasts: Mapping[str, Forecast]
    policy: Policy
    clock: Callable[[], datetime]
    plan: Plan | None = None
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Node cache for the names-only mode: name → Node object."""
    site_label: str = REGION_LABEL
    """Node label whose value is a site id."""
    managed_label: str = MANAGED_LABEL

    def __post_init__(self) -> None:
        self._site_ids = frozenset(s.id for s in self.sites)

    def publish(self, plan: Plan) -> None:
        """Make `plan` the one answers come from (one reference swap: atomic)."""
        self.plan = plan

    def node_site(self, node: dict[str, Any]) -> str | None:
        """The site of a node: its region label when that is a site id, else the first site
        whose `node_selector` its labels match; None when neither."""
        labels = (node.get("metadata") or {}).get("labels") or {}
        if labels.get(self.site_label) in self._site_ids:
            return str(labels[self.site_label])
        for s in self.sites:
            if s.node_selector and all(labels.get(k) == v for k, v in s.node_selector.items()):
                return s.id
        return None

    def site_selector(self, site: str) -> dict[str, str]:
        """Node labels that select the site's nodes: its `node_selector`, else the site label."""
        for s in self.sites:
            if s.id == site and s.node_selector:
                return dict(s.node_selector)
        return {self.site_label: site}

    def placement(self, job: Job) -> Placement:
        """The plan's decision for the job, or the fast decision now."""
        plan = self.plan  # one read: a whole published plan
        jp = None if plan is None else plan.job(job.id)
        if jp is not None and jp.site is not None:
            costs = {sid: float(c) for sid, c in jp.site_costs if c is not None}
            return Placement(jp.site, costs or {jp.site: 0.0}, True)
        return self.fast(job)

    def fast(self, job: Job) -> Placement:
        """Best site now for a job the plan has not seen: lowest objective points per IT
        kWh in the current slot among the sites it may use and fits."""
        now = self.clock()
        p = build_problem(self.sites, [job], self.forecasts, self.policy, now=now)
        per_kwh = (p.cost_per_kwh() * p.pue)[:, 0]
        costs = {s.id: float(per_kwh[i]) for i, s in enumerate(p.sites) if p.allowed[0, i]}
        if not costs:
            raise InputError(f"job {job.id}", "allowed sites", list(job.allowed_sites),
                             "no site fits the job")
        return Placement(min(costs, key=costs.__getitem__), costs, False)

    # --- the verbs ------------------------------------------------------------------------

    def filter(self, args: Any) -> dict[str, Any]:
        """ExtenderArgs → ExtenderFilterResult (PascalCase keys, as kube-scheduler sends)."""
        try:
            pod, names, objects = _args(args)
            decided = self.job_placement(pod)
            keep_names, failed = [], {}
            node_list = objects if objects is not None else [
                self.nodes.get(n, {"metadata": {"name": n}}) for n in names]
            keep_objects = []
            for node in node_list:
                name = str((node.get("metadata") or {}).get("name"))
                site = self.node_site(node)
                if decided is None or site is None or site == decided[1].site:
                    keep_names.append(name)
                    keep_objects.append(node)
                else:
                    job, place = decided
                    verb = "is planned for" if place.planned else "is best placed now at"
                    failed[name] = (f"wattbit: job {job.id} {verb} site {place.site}; "
                                    f"node is in site {site}")
            if objects is not None:
                return _filter_result({**(args.get("Nodes") or {}), "items": keep_objects},
                                      None, failed)
            return _filter_result(None, keep_names, failed)
        except (InputError, ValueError, TypeError, KeyError, AttributeError) as err:
            log.warning("filter: %s", err)
            return _filter_result(None, None, {}, f"wattbit: {err}")

    def prioritize(self, args: Any) -> list[dict[str, Any]]:
        """ExtenderArgs → HostPriorityList: each node's site scored 0–10 (clamped)."""
        try:
            pod, names, objects = _args(args)
            node_list = objects if objects is not None else [
                self.nodes.get(n, {"metadata": {"name": n}}) for n in names]
            decided = self.job_placement(pod)
            by_site = {} if decided is None else site_scores(decided[1])
            return [{"Host": str((node.get("metadata") or {}).get("name")),
                     "Score": by_site.get(self.node_site(node), 0)} for node in node_list]
        except (InputError, ValueError, TypeError, KeyError, AttributeError) as err:
            log.warning("prioritize: %s", err)
            return []

    def job_placement(self, pod: dict[str, Any]) -> tuple[Job, Placement] | None:
        """(job, placement) of a managed pod; None for pods to pass through untouched."""
        try:
            facts = pod_facts(pod, self.managed_label)
        except AnnotationError as err:
            log.warning("%s — scheduled as unmanaged", err)
            return None
        if not facts.managed or facts.job is None:
            return None
        try:
            return facts.job, self.placement(facts.job)
        except InputError as err:  # no forecast for now, no site fits: never block the pod
            log.warning("job %s: %s — passed through", facts.job.id, err)
            return None


def site_scores(place: Placement) -> dict[str | None, int]:
    """0–10 per site: 10 for the chosen site, the others by cost between the best and the
    worst known (sites absent from `place.costs`, and nodes of no site, score 0)."""
    values = np.array(list(place.costs.values()))
    lo, hi = float(values.min()), float(values.max())
    out: dict[str | None, int] = {}
    for site, cost in place.costs.items():
        if site == place.site:
            out[site] = MAX_SCORE
        elif not math.isfinite(hi - lo) or hi - lo <= 0:
            out[site] = MAX_SCORE - 1
        else:
            share = (cost - lo) / (hi - lo)
            out[site] = int(np.clip(round((MAX_SCORE - 1) * (1.0 - share)), 0, MAX_SCORE - 1))
    return out


def _args(args: Any) -> tuple[dict[str, Any], list[str], list[dict[str, Any]] | None]:
    """(pod, node names, node objects or None) of ExtenderArgs; names mode when NodeNames
    is given, else the Nodes list (both null: zero nodes)."""
    if not isinstance(args, dict) or not isinstance(args.get("Pod"), dict):
        raise ValueError("ExtenderArgs needs a Pod object")
    names = args.get("NodeNames")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("NodeNames must be a list of strings")
        return args["Pod"], names, None
    nodes = args.get("Nodes")
    if nodes is None:
        return args["Pod"], [], []
    items = nodes.get("items") if isinstance(nodes, dict) else None
    if not isinstance(items, list) or not all(isinstance(n, dict) for n in items):
        raise ValueError("Nodes must be a NodeList with items")
    return args["Pod"], [], items


def _filter_result(nodes: dict[str, Any] | None, names: list[str] | None,
                   failed: Mapping[str, str], error: str = "") -> dict[str, Any]:
    return {"Nodes": nodes, "NodeNames": names, "FailedNodes": {},
            "FailedAndUnresolvableNodes": dict(failed), "Error": error}
