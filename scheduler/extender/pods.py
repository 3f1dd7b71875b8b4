"""Job facts from a pod (Kubernetes API JSON), exactly as the extender fixtures carry them.

Opt-in: label `wattbit.io/managed: "true"`. Annotations (all optional; defaults below):
`wattbit.io/deadline` (RFC 3339; default: release + 24 h), `wattbit.io/expected-duration`
(Go-style duration `40m`, `6h`, `1h30m`; default 1 h), `wattbit.io/latency-class` (`batch`
= tolerant, the default, or `urgent` = critical: stays home, never waits),
`wattbit.io/allowed-sites` (comma-separated site ids or residency tags; default any),
`wattbit.io/kw-per-gpu` (default 0.7 kW), `wattbit.io/checkpointable` (`"true"`/`"false"`,
default false). GPUs: the largest of each container's `nvidia.com/gpu` request and limit,
summed. The job is the owning workload when a controller owns the pod
(`<namespace>/<owner name>`), else the pod (`<namespace>/<pod name>`). Release: the pod's
creation time. A malformed annotation raises `AnnotationError` naming it and its value;
callers treat such a pod as unmanaged (scheduled normally) and report it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

from policies.job import Job, Latency

PREFIX = "wattbit.io/"
MANAGED_LABEL = PREFIX + "managed"
GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_DURATION_H = 1.0
DEFAULT_SLACK_H = 24.0
DEFAULT_KW_PER_GPU = 0.7
_GO_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


class AnnotationError(ValueError):
    """A `wattbit.io/*` annotation that cannot be read: names the annotation and value."""

    def __init__(self, pod: str, annotation: str, value: Any, problem: str) -> None:
        self.pod, self.annotation, self.value, self.problem = pod, annotation, value, problem
        super().__init__(f"pod {pod}: annotation {annotation}={value!r}: {problem}")


@dataclass(frozen=True)
class PodFacts:
    """What the extender needs of a pod."""

    name: str
    """`<namespace>/<pod name>`."""
    managed: bool
    job: Job | None
    """The job it belongs to (None for unmanaged pods)."""


def pod_name(pod: dict[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}"


def is_managed(pod: dict[str, Any], label: str = MANAGED_LABEL) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return str(labels.get(label, "")).lower() == "true"


def go_duration_h(pod: str, value: str) -> float:
    """A Go-style duration (`6h`, `40m`, `1h30m`, `90s`) in hours (> 0)."""
    m = _GO_DURATION.match(value.strip())
    if not value.strip() or m is None or not any(m.groups()):
        raise AnnotationError(pod, PREFIX + "expected-duration", value,
                              "not a duration like 40m, 6h or 1h30m")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    hours = h + mi / 60 + s / 3600
    if hours <= 0:
        raise AnnotationError(pod, PREFIX + "expected-duration", value, "must be > 0")
    return hours


def gpus_of(pod: dict[str, Any]) -> int:
    """GPUs the pod asks for: per container the larger of request and limit, summed."""
    total = 0
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        asked = [int(float(str((res.get(k) or {}).get(GPU_RESOURCE, 0))))
                 for k in ("requests", "limits")]
        total += max(asked)
    return total


def job_id(pod: dict[str, Any]) -> str:
    """`<namespace>/<controller owner>` when a controller owns the pod, else the pod."""
    meta = pod.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{meta.get('namespace', 'default')}/{ref.get('name')}"
    return pod_name(pod)


def pod_facts(pod: dict[str, Any], label: str = MANAGED_LABEL) -> PodFacts:
    """The pod's job, if managed. Raises `AnnotationError` for a malformed annotation."""
    name = pod_name(pod)
    if not is_managed(pod, label):
        return PodFacts(name, False, None)
    meta = pod.get("metadata") or {}
    ann = meta.get("annotations") or {}
    created = meta.get("creationTimestamp")
    release = _time(name, "metadata.creationTimestamp", created) if created else None
    if release is None:
        raise AnnotationError(name, "metadata.creationTimestamp", created, "required")
    duration_h = DEFAULT_DURATION_H
    if PREFIX + "expected-duration" in ann:
        duration_h = go_duration_h(name, str(ann[PREFIX + "expected-duration"]))
    deadline = release + timedelta(hours=duration_h + DEFAULT_SLACK_H)
    if PREFIX + "deadline" in ann:
        deadline = _time(name, PREFIX + "deadline", ann[PREFIX + "deadline"])
    latency = Latency.TOLERANT
    if PREFIX + "latency-class" in ann:
        value = str(ann[PREFIX + "latency-class"])
        if value not in ("batch", "urgent"):
            raise AnnotationError(name, PREFIX + "latency-class", value,
                                  "must be batch or urgent")
        latency = Latency.CRITICAL if value == "urgent" else Latency.TOLERANT
    allowed: tuple[str, ...] = ()
    if PREFIX + "allowed-sites" in ann:
        allowed = tuple(s.strip() for s in str(ann[PREFIX + "allowed-sites"]).split(",")
                        if s.strip())
        if not allowed:
            raise AnnotationError(name, PREFIX + "allowed-sites", ann[PREFIX + "allowed-sites"],
                                  "names no site")
    kw = DEFAULT_KW_PER_GPU
    if PREFIX + "kw-per-gpu" in ann:
        try:
            kw = float(ann[PREFIX + "kw-per-gpu"])
        except (TypeError, ValueError):
            kw = float("nan")
        if not 0 < kw <= 10:
            raise AnnotationError(name, PREFIX + "kw-per-gpu", ann[PREFIX + "kw-per-gpu"],
                                  "must be a number of kW in (0, 10]")
    ckpt = False
    if PREFIX + "checkpointable" in ann:
        value = str(ann[PREFIX + "checkpointable"]).lower()
        if value not in ("true", "false"):
            raise AnnotationError(name, PREFIX + "checkpointable", value, "must be true or false")
        ckpt = value == "true"
    gpus = gpus_of(pod)
    if gpus <= 0:
        raise AnnotationError(name, GPU_RESOURCE, gpus, "a managed pod must ask for GPUs")
    return PodFacts(name, True, Job(
        id=job_id(pod), gpus=gpus, kw_per_gpu=kw, duration_h=duration_h,
        release=release.to_pydatetime(), deadline=deadline.to_pydatetime(), latency=latency,
        allowed_sites=allowed, checkpointable=ckpt and latency is Latency.TOLERANT))


def _time(pod: str, field: str, value: Any) -> pd.Timestamp:
    try:
        t = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        raise AnnotationError(pod, field, value, "not an RFC 3339 time") from None
    if t.tzinfo is None:
        raise AnnotationError(pod, field, value, "needs an offset (RFC 3339), e.g. Z")
    return t.tz_convert("UTC")
