"""The fleet as the cluster shows it: pods and nodes (API JSON) → sites with their free GPU
capacity and the jobs to plan, pending or running. Pure functions.

- A site's GPUs: the allocatable `nvidia.com/gpu` of its schedulable nodes, minus what bound,
  unfinished pods that wattbit does not manage use (managed work is planned, so it is not
  subtracted twice).
- A job: the managed pods of one owning workload (or one pod), with the GPUs of all its
  unfinished pods. It is running when one of its pods is bound to a node of a site; its work
  done is the time since the earliest such pod started, kept below its expected duration (a
  job past its expected duration still has at least a minute to go).
- Pods that are finished (`Succeeded`/`Failed`) are not planned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from policies.job import Job
from policies.site import Site
from scheduler.extender.pods import (
    GPU_RESOURCE,
    MANAGED_LABEL,
    AnnotationError,
    gpus_of,
    pod_facts,
    pod_name,
)

FINISHED = frozenset({"Succeeded", "Failed"})
MIN_REMAINING_H = 1 / 60


@dataclass(frozen=True)
class Fleet:
    """What the planner is given, plus what the controller reports."""

    sites: tuple[Site, ...]
    jobs: tuple[Job, ...]
    pods_of_job: dict[str, tuple[str, ...]]
    """Job id → its pods (`<namespace>/<name>`)."""
    malformed: tuple[AnnotationError, ...]
    """Managed pods whose annotations cannot be read (scheduled as unmanaged)."""


def quantity_int(value: Any) -> int:
    """A whole-number resource quantity (`"8"`, `8`, `"8000m"`) → int; bad values → 0."""
    s = str(value).strip()
    try:
        return int(float(s[:-1]) / 1000) if s.endswith("m") else int(float(s))
    except ValueError:
        return 0


def read_fleet(pods: Iterable[dict[str, Any]], nodes: Iterable[dict[str, Any]],
               sites: Iterable[Site], now: datetime,
               site_of: Callable[[dict[str, Any]], str | None],
               managed_label: str = MANAGED_LABEL) -> Fleet:
    """Sites with the cluster's free GPUs, and the managed jobs, at `now` (UTC)."""
    node_site = {str((n.get("metadata") or {}).get("name")): site_of(n) for n in nodes}
    gpus: dict[str, int] = {}
    for n in nodes:
        sid = node_site[str((n.get("metadata") or {}).get("name"))]
        if sid is None or (n.get("spec") or {}).get("unschedulable"):
            continue
        alloc = ((n.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE, 0)
        gpus[sid] = gpus.get(sid, 0) + quantity_int(alloc)
    groups: dict[str, list[tuple[dict[str, Any], Job]]] = {}
    malformed: list[AnnotationError] = []
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in FINISHED:
            continue
        bound_site = node_site.get(str((pod.get("spec") or {}).get("nodeName")))
        try:
            facts = pod_facts(pod, managed_label)
        except AnnotationError as err:
            malformed.append(err)
            facts = None
        if facts is None or not facts.managed or facts.job is None:
            if bound_site is not None:
                gpus[bound_site] = gpus.get(bound_site, 0) - gpus_of(pod)
            continue
        groups.setdefault(facts.job.id, []).append((pod, facts.job))
    jobs = [job for members in groups.values()
            if (job := _job(members, node_site, now)) is not None]
    fleet_sites = tuple(dataclasses.replace(s, gpus=max(0, gpus.get(s.id, 0))) for s in sites)
    return Fleet(fleet_sites, tuple(jobs),
                 {jid: tuple(pod_name(p) for p, _ in members) for jid, members in groups.items()},
                 tuple(malformed))


def _job(members: list[tuple[dict[str, Any], Job]], node_site: dict[str, str | None],
         now: datetime) -> Job | None:
    """One job from its pods: GPUs summed, earliest release; running where bound."""
    first = members[0][1]
    release = min(j.release for _, j in members)
    job = dataclasses.replace(first, gpus=sum(j.gpus for _, j in members), release=release)
    bound = [(p, node_site.get(str((p.get("spec") or {}).get("nodeName"))))
             for p, _ in members if (p.get("spec") or {}).get("nodeName")]
    if not bound:
        return job
    sites = {s for _, s in bound if s is not None}
    if not sites:
        return None  # bound outside every site: not ours to plan
    started = [pd.Timestamp(t) for p, _ in bound
               if (t := (p.get("status") or {}).get("startTime"))]
    done_h = 0.0
    if started:
        done_h = max(0.0, (pd.Timestamp(now) - min(started)).total_seconds() / 3600)
    done_h = min(done_h, max(0.0, job.duration_h - MIN_REMAINING_H))
    return dataclasses.replace(job, running_site=sorted(sites)[0], done_h=done_h)


def pod_fingerprint(pod: dict[str, Any]) -> Hashable:
    """What `read_fleet` and the gates read of a pod (a change elsewhere is no reason to
    re-plan): labels, annotations, gates, node, phase, start, GPU requests."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    status = pod.get("status") or {}
    return (repr(sorted((meta.get("labels") or {}).items())),
            repr(sorted((meta.get("annotations") or {}).items())),
            repr(spec.get("schedulingGates")), spec.get("nodeName"), status.get("phase"),
            status.get("startTime"), gpus_of(pod))


def node_fingerprint(node: dict[str, Any]) -> Hashable:
    """What `read_fleet` and the extender read of a node: labels, GPUs, schedulability."""
    meta, spec = node.get("metadata") or {}, node.get("spec") or {}
    alloc = ((node.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE)
    return (repr(sorted((meta.get("labels") or {}).items())), str(alloc),
            bool(spec.get("unschedulable")))
