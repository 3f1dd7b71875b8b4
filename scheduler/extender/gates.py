"""*When* a gated pod may be scheduled: the decisions of the gate controller, as pure
functions (the cluster adapter applies them with the Kubernetes client).

A managed pod created with the scheduling gate `wattbit.io/carbon-window` is held until its
job's planned start; then its node selector is narrowed to the planned site (allowed while
the pod is gated: directives may only be tightened) and the gate is removed, in one JSON
merge patch. Never blocks the cluster: a gated pod that is unmanaged or malformed, or whose
job the plan does not hold, or any gated pod while the plan is missing or staler than
`max_plan_age`, is released now (to the best site now where one is known). Only our own
gate is ever removed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from scheduler.core.plan import Plan
from scheduler.extender.pods import MANAGED_LABEL, AnnotationError, pod_facts, pod_name

GATE = "wattbit.io/carbon-window"
MAX_PLAN_AGE = timedelta(minutes=30)
"""A plan older than this is stale: gated pods are released rather than held on it."""


@dataclass(frozen=True)
class GateDecision:
    """What to do with one gated pod now."""

    pod: str
    """`<namespace>/<name>`."""
    release: bool
    site: str | None
    """Site to narrow the node selector to on release (None: leave it as it is)."""
    message: str
    """The Event text: why it is held or released."""


def gate_index(pod: dict[str, Any]) -> int | None:
    """Position of our gate in `spec.schedulingGates` (None when the pod has none of ours)."""
    for i, g in enumerate((pod.get("spec") or {}).get("schedulingGates") or []):
        if isinstance(g, dict) and g.get("name") == GATE:
            return i
    return None


def decide(pod: dict[str, Any], plan: Plan | None, now: datetime,
           max_plan_age: timedelta = MAX_PLAN_AGE, managed_label: str = MANAGED_LABEL
           ) -> GateDecision | None:
    """The decision for a pod carrying our gate (None for pods without it)."""
    if gate_index(pod) is None:
        return None
    name = pod_name(pod)
    try:
        facts = pod_facts(pod, managed_label)
    except AnnotationError as err:
        return GateDecision(name, True, None, f"released by wattbit: {err}")
    if not facts.managed or facts.job is None:
        return GateDecision(name, True, None, "released by wattbit: pod is not managed")
    if plan is None or pd.Timestamp(now) - pd.Timestamp(plan.made_at) > max_plan_age:
        return GateDecision(name, True, None, "released by wattbit: no fresh plan (fail-open)")
    jp = plan.job(facts.job.id)
    if jp is None or jp.site is None or not jp.segments:
        return GateDecision(name, True, None,
                            f"released by wattbit: job {facts.job.id} is not in the plan")
    start = pd.Timestamp(jp.segments[0][0])
    saving = ""
    if math.isfinite(jp.kg_co2) and math.isfinite(jp.baseline_kg_co2):
        saving = (f", {jp.kg_co2 - jp.baseline_kg_co2:+,.1f} kg CO2 against running at "
                  "release at home")
    elif math.isfinite(jp.kg_co2):
        saving = f", {jp.kg_co2:,.1f} kg CO2 planned"
    jst = start.tz_convert("Asia/Tokyo").strftime("%m-%d %H:%M JST")
    if start > pd.Timestamp(now):
        return GateDecision(name, False, jp.site,
                            f"held by wattbit until {jst} (site {jp.site}{saving})")
    return GateDecision(name, True, jp.site,
                        f"released by wattbit for its planned start {jst} at site {jp.site}")


def release_patch(pod: dict[str, Any], selector: Mapping[str, str] | None
                  ) -> dict[str, Any] | None:
    """JSON merge patch (RFC 7386) that releases the pod: our gate removed (the other gates
    kept, in order) and `nodeSelector` narrowed by `selector` (the planned site's node
    labels) unless the pod already pins one of those labels to another value — then it is
    left as it is, never contradicted. Conditional on the pod's resourceVersion when it has
    one, so a pod changed meanwhile gets 409 and is decided again. None without our gate."""
    if gate_index(pod) is None:
        return None
    spec = pod.get("spec") or {}
    gates = [g for g in spec.get("schedulingGates") or [] if g.get("name") != GATE]
    patch: dict[str, Any] = {"spec": {"schedulingGates": gates}}
    current = spec.get("nodeSelector") or {}
    if selector and all(current.get(k, v) == v for k, v in selector.items()):
        added = {k: v for k, v in selector.items() if k not in current}
        if added:
            patch["spec"]["nodeSelector"] = added
    rv = (pod.get("metadata") or {}).get("resourceVersion")
    if rv:
        patch["metadata"] = {"resourceVersion": rv}
    return patch
