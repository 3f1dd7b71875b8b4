"""The cluster adapter of `wattbit serve` against a stateful Kubernetes API emulator, through
the official client: informers (list + watch, 410 Gone survived), the fleet read from pods and
nodes, gated pods held then released at their planned start with a merge patch, Events,
leader election handed over, a forecast outage answered by the fail-open path, and the API
calls made being exactly the RBAC rules declared."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import generate_latest

from forecasts.forecast import Forecast
from forecasts.providers.http import ProviderError
from policies.policy import load_policy
from scheduler.cluster.controller import Controller
from scheduler.cluster.fleet import pod_fingerprint, read_fleet
from scheduler.cluster.informer import Informer
from scheduler.cluster.kube import API_CALLS, KubeApi
from scheduler.cluster.leader import LeaseElector
from scheduler.core.planner import PlanConfig
from scheduler.dr.events import EventStore
from scheduler.dr.exporter import DrMetrics
from scheduler.dr.service import DrService
from scheduler.extender.gates import GATE
from scheduler.extender.service import Extender
from tests.kube_emulator import emulated_cluster, expire_next_watch, objects, rbac_calls
from tests.test_extender import MATSUE, NOW, SHIROI, fleet, load

KUEUE = "kueue.x-k8s.io/admission"
CLEAN_FROM = pd.Timestamp("2026-09-14T13:00:00Z")


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def late_window(now: datetime) -> dict[str, Forecast]:
    """Chugoku dirty until 13:00 UTC then clean; Tokyo dirty: batch work waits for Chugoku."""
    idx = pd.date_range("2026-09-14T00:00:00Z", periods=4 * 48, freq="30min")
    chugoku = np.where(idx < CLEAN_FROM, 900.0, 100.0)
    return {"chugoku": Forecast("chugoku", idx, 30, chugoku, np.zeros(len(idx))),
            "tokyo": Forecast("tokyo", idx, 30, np.full(len(idx), 800.0), np.zeros(len(idx)))}


def gated(pod: dict, name: str, **annotations: str) -> dict:
    """A copy of the fixture pod under another name and job, gated by Kueue and by us."""
    out = copy.deepcopy(pod)
    meta = out["metadata"]
    meta["name"], meta["uid"] = name, f"uid-{name}"
    meta["ownerReferences"][0]["name"] = f"job-{name}"
    meta.pop("resourceVersion", None)  # the emulator keeps none
    meta["annotations"].update(annotations)
    out["spec"]["schedulingGates"] = [{"name": KUEUE}, {"name": GATE}]
    out["spec"].pop("nodeSelector", None)
    out.pop("status", None)
    return out


def wait_for(cond: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def controller(api: KubeApi, tmp_path: Path, clock: Clock, identity: str,
               forecasts: Callable[[datetime], dict[str, Forecast]],
               pods: Informer, nodes: Informer) -> Controller:
    policy = load_policy("min-carbon")
    ext = Extender(fleet(), {}, policy, clock=clock)
    dr = DrService(fleet(), [], {}, policy, EventStore(tmp_path / f"{identity}.sqlite"),
                   plan_now=False, config=PlanConfig(deterministic=True), clock=clock)
    elector = LeaseElector(api, "wattbit-system", "wattbit-planner", identity, 15.0, clock)
    return Controller(api, ext, dr, pods, nodes, forecasts, clock, elector=elector,
                      identity=identity, replan_s=0.0)


def events_on(emu: object, pod: str) -> list[dict]:
    return [e for e in objects(emu, "events") if e["involvedObject"]["name"] == pod]


@pytest.fixture
def cluster(k8s_fixtures: Path):
    """The emulator with the fixtures' four GPU nodes (two sites) and their informers."""
    with emulated_cluster() as (emu, api):
        for node in load(k8s_fixtures, "filter-args-full-nodes.json")["Nodes"]["items"]:
            api.core.create_node(node, _preload_content=False)
        expire_next_watch(emu, "pods")  # the first pod watch expires: the informer re-lists
        pods = Informer(api, "pods", watch_s=0.5, retry_s=0.05).start()
        nodes = Informer(api, "nodes", watch_s=0.5, retry_s=0.05).start()
        try:
            yield emu, api, pods, nodes
        finally:
            pods.stop()
            nodes.stop()
    # the server is gone: the watches end at once and the threads with them
    assert pods.join(10.0) and nodes.join(10.0)


def test_gates_held_then_released_with_events_and_a_lease(cluster, k8s_fixtures: Path,
                                                          tmp_path: Path) -> None:
    emu, api, pods, nodes = cluster
    fixture_pod = load(k8s_fixtures, "filter-args-node-names.json")["Pod"]
    ns = fixture_pod["metadata"]["namespace"]
    api.core.create_namespaced_pod(ns, gated(fixture_pod, "train-a"), _preload_content=False)
    bad = gated(fixture_pod, "train-bad", **{"wattbit.io/expected-duration": "six hours"})
    api.core.create_namespaced_pod(ns, bad, _preload_content=False)
    mars = gated(fixture_pod, "train-mars", **{"wattbit.io/allowed-sites": "mars"})
    api.core.create_namespaced_pod(ns, mars, _preload_content=False)
    wait_for(lambda: len(pods.snapshot()) == 3 and len(nodes.snapshot()) == 4,
             "the informers to see 3 pods and 4 nodes")
    assert pods.relists >= 2  # the scripted 410 Gone made it list again, and it went on

    clock = Clock(NOW)
    a = controller(api, tmp_path, clock, "wattbit-a", late_window, pods, nodes)
    a.metrics = DrMetrics()
    a.step()
    assert a.ready() and a.extender.plan is not None
    text = generate_latest(a.metrics.registry).decode()
    assert 'wattbit_pods{state="managed"} 3.0' in text  # the bad ones carry the label too
    assert 'wattbit_pods{state="held"} 1.0' in text
    lease = objects(emu, "leases")[0]
    assert lease["spec"]["holderIdentity"] == "wattbit-a"

    # held: still gated, with an Event saying until when
    pod_a = next(p for p in objects(emu, "pods") if p["metadata"]["name"] == "train-a")
    assert GATE in [g["name"] for g in pod_a["spec"]["schedulingGates"]]
    held = [e for e in events_on(emu, "train-a") if e["reason"] == "Held"]
    assert len(held) == 1 and "held by wattbit until" in held[0]["message"]
    # the malformed pod: a Warning naming the annotation and value, and released (never stuck)
    warn = [e for e in events_on(emu, "train-bad") if e["reason"] == "InvalidAnnotation"]
    assert warn and warn[0]["type"] == "Warning"
    assert "wattbit.io/expected-duration" in warn[0]["message"] and "six hours" in warn[0][
        "message"]
    bad_now = next(p for p in objects(emu, "pods") if p["metadata"]["name"] == "train-bad")
    assert [g["name"] for g in bad_now["spec"]["schedulingGates"]] == [KUEUE]
    # a job the planner refuses (no such site) is left out, said so, and released: the
    # others are still planned
    refused = [e for e in events_on(emu, "train-mars") if e["reason"] == "NotPlanned"]
    assert refused and "mars" in refused[0]["message"] and refused[0]["type"] == "Warning"
    mars_now = next(p for p in objects(emu, "pods") if p["metadata"]["name"] == "train-mars")
    assert [g["name"] for g in mars_now["spec"]["schedulingGates"]] == [KUEUE]

    a.step()  # the same decision again: no second Event
    assert len([e for e in events_on(emu, "train-a") if e["reason"] == "Held"]) == 1

    # a second replica stands by while the Lease is renewed
    b = controller(api, tmp_path, clock, "wattbit-b", late_window, pods, nodes)
    b.step()
    assert not b.ready() and b.extender.plan is None

    # at the planned start: released to Matsue, our gate only, with an Event
    start = pd.Timestamp(a.extender.plan.job(f"{ns}/job-train-a").segments[0][0])
    assert start >= CLEAN_FROM
    clock.now = start.to_pydatetime()
    wait_for(lambda: "train-a" in [k.split("/")[1] for k in pods.snapshot()], "pod cache")
    a.step()
    pod_a = next(p for p in objects(emu, "pods") if p["metadata"]["name"] == "train-a")
    assert [g["name"] for g in pod_a["spec"]["schedulingGates"]] == [KUEUE]
    assert pod_a["spec"]["nodeSelector"] == {"topology.kubernetes.io/region": MATSUE}
    assert any(e["reason"] == "Released" and MATSUE in e["message"]
               for e in events_on(emu, "train-a"))
    assert 'wattbit_pods{state="held"} 0.0' in generate_latest(a.metrics.registry).decode()

    # a stops renewing; once the Lease has expired, b takes it over
    clock.now += timedelta(seconds=20)
    b.step()
    assert b.ready()
    lease = objects(emu, "leases")[0]
    assert lease["spec"]["holderIdentity"] == "wattbit-b"
    assert lease["spec"]["leaseTransitions"] == 1
    a.step()
    assert not a.ready()
    # on shutdown the leader gives the Lease up: the standby takes it at once
    b.elector.release()
    assert objects(emu, "leases")[0]["spec"].get("holderIdentity") is None
    clock.now += timedelta(seconds=1)
    a.step()
    assert a.ready() and objects(emu, "leases")[0]["spec"]["holderIdentity"] == "wattbit-a"

    # every call the adapter made is a declared RBAC rule (the chart grants exactly these)
    ours = rbac_calls(emu) - {("", "nodes", "create"), ("", "pods", "create")}  # test setup
    assert ours <= API_CALLS, ours - API_CALLS


def test_a_forecast_outage_keeps_the_plan_then_fails_open(cluster, k8s_fixtures: Path,
                                                          tmp_path: Path) -> None:
    emu, api, pods, nodes = cluster
    fixture_pod = load(k8s_fixtures, "filter-args-node-names.json")["Pod"]
    ns = fixture_pod["metadata"]["namespace"]
    api.core.create_namespaced_pod(ns, gated(fixture_pod, "train-c"), _preload_content=False)
    wait_for(lambda: len(pods.snapshot()) == 1 and len(nodes.snapshot()) == 4, "informers")
    clock = Clock(NOW)
    outage = {"on": False}

    def forecasts(now: datetime) -> dict[str, Forecast]:
        if outage["on"]:
            raise ProviderError("synthetic", "outage")
        return late_window(now)

    c = controller(api, tmp_path, clock, "wattbit-c", forecasts, pods, nodes)
    c.step()
    made = c.extender.plan.made_at
    outage["on"] = True
    clock.now = NOW + timedelta(minutes=10)
    c.step()  # the re-plan fails: the last plan stays, the pod stays held
    assert c.plan_failures == 1 and c.extender.plan.made_at == made and c.ready()
    pod = objects(emu, "pods")[0]
    assert GATE in [g["name"] for g in pod["spec"]["schedulingGates"]]
    clock.now = NOW + timedelta(minutes=45)  # the plan is now older than 30 minutes
    c.step()
    pod = objects(emu, "pods")[0]
    assert [g["name"] for g in pod["spec"]["schedulingGates"]] == [KUEUE]
    released = [e for e in events_on(emu, "train-c") if e["reason"] == "Released"]
    assert released and "fail-open" in released[0]["message"]


def test_dry_run_decides_and_says_so_but_never_patches(cluster, k8s_fixtures: Path,
                                                       tmp_path: Path) -> None:
    emu, api, pods, nodes = cluster
    fixture_pod = load(k8s_fixtures, "filter-args-node-names.json")["Pod"]
    ns = fixture_pod["metadata"]["namespace"]
    bad = gated(fixture_pod, "train-d", **{"wattbit.io/latency-class": "whenever"})
    api.core.create_namespaced_pod(ns, bad, _preload_content=False)
    wait_for(lambda: len(pods.snapshot()) == 1 and len(nodes.snapshot()) == 4, "informers")
    d = controller(api, tmp_path, Clock(NOW), "wattbit-d", late_window, pods, nodes)
    d.dry_run = True
    d.step()
    pod = objects(emu, "pods")[0]
    assert GATE in [g["name"] for g in pod["spec"]["schedulingGates"]]  # untouched
    assert any(e["reason"] == "WouldRelease" for e in events_on(emu, "train-d"))
    assert not any(req.method.value == "PATCH" and "/pods/" in str(req.url)
                   for req in emu._requests)


def test_the_extender_sees_new_nodes_between_plans(cluster, k8s_fixtures: Path,
                                                     tmp_path: Path) -> None:
    """filter maps node names to sites through the node cache: a node that joins after a
    plan is known at the next step, not only at the next re-plan."""
    _emu, api, pods, nodes = cluster
    wait_for(lambda: len(nodes.snapshot()) == 4, "informers")
    c = controller(api, tmp_path, Clock(NOW), "wattbit-e", late_window, pods, nodes)
    c.replan_s = 3600.0
    c.step()
    made = c.extender.plan.made_at
    node = copy.deepcopy(load(k8s_fixtures, "filter-args-full-nodes.json")["Nodes"]["items"][0])
    node["metadata"]["name"] = "gpu-matsue-99"
    api.core.create_node(node, _preload_content=False)
    wait_for(lambda: "gpu-matsue-99" in nodes.snapshot(), "the new node in the cache")
    c.step()
    assert c.extender.plan.made_at == made  # no re-plan in between
    assert c.extender.node_site(c.extender.nodes["gpu-matsue-99"]) == MATSUE


def test_fleet_capacity_and_running_jobs(k8s_fixtures: Path) -> None:
    """Free GPUs per site (allocatable minus unmanaged use); a bound managed pod is a running
    job at its node's site with the hours since it started done; finished pods drop out."""
    nodes = load(k8s_fixtures, "filter-args-full-nodes.json")["Nodes"]["items"]
    pod = load(k8s_fixtures, "filter-args-node-names.json")["Pod"]
    running = gated(pod, "run")
    running["spec"]["nodeName"] = "gpu-matsue-01"
    running["spec"]["schedulingGates"] = []
    running["status"] = {"phase": "Running", "startTime": "2026-09-14T01:13:00Z"}
    other = copy.deepcopy(running)
    other["metadata"] = {"name": "notebook", "namespace": "lab", "labels": {}}
    other["spec"]["nodeName"] = "gpu-shiroi-01"
    done = copy.deepcopy(running)
    done["metadata"]["name"], done["status"]["phase"] = "old", "Succeeded"
    done["metadata"]["ownerReferences"][0]["name"] = "job-old"
    ext = Extender(fleet(), {}, load_policy("min-carbon"), clock=lambda: NOW)
    f = read_fleet([running, other, done, gated(pod, "wait")], nodes, fleet(), NOW,
                   ext.node_site)
    gpus = {s.id: s.gpus for s in f.sites}
    asked = running["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
    assert gpus == {MATSUE: 16, SHIROI: 16 - int(asked)}
    jobs = {j.id: j for j in f.jobs}
    ns = pod["metadata"]["namespace"]
    assert set(jobs) == {f"{ns}/job-run", f"{ns}/job-wait"}
    run = jobs[f"{ns}/job-run"]
    assert run.running_site == MATSUE and run.done_h == pytest.approx(2.0)
    assert jobs[f"{ns}/job-wait"].running_site is None


def test_only_changes_the_planner_reads_call_for_a_replan(k8s_fixtures: Path) -> None:
    calls = []
    inf = Informer(None, "pods", on_change=lambda: calls.append(1),  # type: ignore[arg-type]
                   fingerprint=pod_fingerprint)
    pod = gated(load(k8s_fixtures, "filter-args-node-names.json")["Pod"], "p")
    inf.apply("ADDED", pod)
    beat = copy.deepcopy(pod)
    beat["status"] = {"conditions": [{"type": "PodScheduled", "status": "False"}]}
    inf.apply("MODIFIED", beat)  # a status heartbeat: cached, no re-plan
    assert len(calls) == 1 and inf.snapshot()[f"{pod['metadata']['namespace']}/p"] == beat
    moved = copy.deepcopy(beat)
    moved["spec"]["nodeName"] = "gpu-matsue-01"
    inf.apply("MODIFIED", moved)
    inf.apply("DELETED", moved)
    assert len(calls) == 3
