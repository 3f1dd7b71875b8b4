"""The gate controller's decisions: hold until the planned start, release (narrowed to the
planned site) at it, fail open without a fresh plan; the merge patch removes only our gate."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasts.forecast import Forecast
from policies.policy import load_policy
from scheduler.core.planner import PlanConfig, Planner
from scheduler.extender.gates import GATE, decide, release_patch
from scheduler.extender.pods import pod_facts
from tests.test_extender import MATSUE, NOW, fleet, load

KUEUE = "kueue.x-k8s.io/admission"


def gated_pod(k8s_fixtures: Path) -> dict:
    pod = load(k8s_fixtures, "filter-args-node-names.json")["Pod"]
    pod["spec"]["schedulingGates"] = [{"name": KUEUE}, {"name": GATE}]
    return pod


def plan_with_a_late_window(pod: dict):
    """Chugoku is dirty for the next 10 h and clean after; Tokyo is dirty: the job waits."""
    idx = pd.date_range("2026-09-14T00:00:00Z", periods=4 * 48, freq="30min")
    chugoku = np.where(idx < pd.Timestamp("2026-09-14T13:00:00Z"), 900.0, 100.0)
    fcs = {"chugoku": Forecast("chugoku", idx, 30, chugoku, np.zeros(len(idx))),
           "tokyo": Forecast("tokyo", idx, 30, np.full(len(idx), 800.0), np.zeros(len(idx)))}
    planner = Planner(fleet(), load_policy("min-carbon"), PlanConfig(deterministic=True),
                      clock=lambda: NOW)
    return planner.replan(NOW, [pod_facts(pod).job], fcs)


def apply(doc: dict, patch: dict | None) -> dict:
    """RFC 7386 JSON merge patch, for the assertions (None: no patch)."""
    if patch is None:
        return copy.deepcopy(doc)
    out = copy.deepcopy(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = apply(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


REGION = "topology.kubernetes.io/region"


def test_held_until_the_planned_start_then_released_to_the_site(k8s_fixtures: Path) -> None:
    pod = gated_pod(k8s_fixtures)
    plan = plan_with_a_late_window(pod)
    jp = next(j for j in plan.jobs if j.site)
    start = pd.Timestamp(jp.segments[0][0])
    assert jp.site == MATSUE and start >= pd.Timestamp("2026-09-14T13:00:00Z")
    held = decide(pod, plan, NOW)
    assert held is not None and not held.release
    assert "held by wattbit until" in held.message and "JST" in held.message
    # the Event says what waiting saves against the carbon-agnostic baseline
    assert jp.kg_co2 < jp.baseline_kg_co2
    assert jp.kg_co2 == pytest.approx(plan.kg_co2)  # the only job carries the whole plan,
    assert jp.baseline_kg_co2 == pytest.approx(plan.baseline_kg_co2)  # and the baseline
    assert f"{jp.kg_co2 - jp.baseline_kg_co2:+,.1f} kg CO2 against running at release" in (
        held.message)
    day = timedelta(days=1)  # the planner loop keeps the plan fresh; here it is the same plan
    later = decide(pod, plan, start.to_pydatetime() - timedelta(minutes=1), max_plan_age=day)
    assert not later.release  # a minute before: still held
    go = decide(pod, plan, start.to_pydatetime(), max_plan_age=day)
    assert go.release and go.site == MATSUE
    patched = apply(pod, release_patch(pod, {REGION: go.site}))
    assert patched["spec"]["schedulingGates"] == [{"name": KUEUE}]  # only ours removed
    assert patched["spec"]["nodeSelector"]["topology.kubernetes.io/region"] == MATSUE


def test_fail_open_without_a_fresh_plan_or_for_strangers(k8s_fixtures: Path) -> None:
    pod = gated_pod(k8s_fixtures)
    plan = plan_with_a_late_window(pod)
    stale = decide(pod, plan, NOW + timedelta(hours=2))
    assert stale.release and "fresh plan" in stale.message  # made at NOW: 2 h old
    assert decide(pod, None, NOW).release
    other = copy.deepcopy(pod)
    other["metadata"]["ownerReferences"][0]["name"] = "another-job"
    assert "not in the plan" in decide(other, plan, NOW).message
    bad = copy.deepcopy(pod)
    bad["metadata"]["annotations"]["wattbit.io/deadline"] = "soon"
    assert decide(bad, plan, NOW).release
    ungated = copy.deepcopy(pod)
    ungated["spec"]["schedulingGates"] = [{"name": KUEUE}]
    assert decide(ungated, plan, NOW) is None and release_patch(ungated, {REGION: MATSUE}) is None


@pytest.mark.parametrize("selector", [None, {"kubernetes.io/os": "linux"},
                                      {"topology.kubernetes.io/region": "jp-tokyo-shiroi"}])
def test_the_patch_only_tightens(k8s_fixtures: Path, selector: dict | None) -> None:
    pod = gated_pod(k8s_fixtures)
    pod["spec"].pop("nodeSelector", None)
    if selector is not None:
        pod["spec"]["nodeSelector"] = dict(selector)
    patched = apply(pod, release_patch(pod, {REGION: MATSUE}))
    region = patched["spec"].get("nodeSelector", {}).get("topology.kubernetes.io/region")
    # a pod pinned to another region keeps its pin (never loosened or contradicted)
    assert region == (selector or {}).get("topology.kubernetes.io/region", MATSUE)
    assert GATE not in [g["name"] for g in patched["spec"]["schedulingGates"]]
