"""The optional mutating admission webhook: adds the scheduling gate `wattbit.io/carbon-window`
to managed pods as they are created, so that Jobs need not list it.

`POST /mutate` takes an `admission.k8s.io/v1` AdmissionReview and always allows the pod: a
managed `batch` pod (readable annotations, not `urgent`) without our gate gets a JSON patch
(RFC 6902) adding it; every other pod, and any request it cannot read, is allowed unchanged —
the webhook never blocks pod creation (register it with `failurePolicy: Ignore`).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from policies.job import Latency
from scheduler.extender.gates import GATE, gate_index
from scheduler.extender.pods import MANAGED_LABEL, AnnotationError, pod_facts


def gate_patch(pod: dict[str, Any], now: datetime, managed_label: str = MANAGED_LABEL
               ) -> list[dict[str, Any]]:
    """The JSON patch adding our gate to a managed, deferrable pod; [] for any other pod."""
    if gate_index(pod) is not None:
        return []
    probe = copy.deepcopy(pod)
    meta = probe.setdefault("metadata", {})
    meta.setdefault("creationTimestamp", now.isoformat())  # unset until the pod is stored
    try:
        facts = pod_facts(probe, managed_label)
    except AnnotationError:
        return []  # the controller reports it; the pod is scheduled as unmanaged
    if facts.job is None or facts.job.latency is Latency.CRITICAL:
        return []
    if (pod.get("spec") or {}).get("schedulingGates"):
        return [{"op": "add", "path": "/spec/schedulingGates/-", "value": {"name": GATE}}]
    return [{"op": "add", "path": "/spec/schedulingGates", "value": [{"name": GATE}]}]


def review_answer(review: Any, now: datetime, managed_label: str = MANAGED_LABEL
                  ) -> dict[str, Any]:
    """The AdmissionReview answer to `review` (allowed; patched when `gate_patch` says)."""
    request = review.get("request") if isinstance(review, dict) else None
    request = request if isinstance(request, dict) else {}
    response: dict[str, Any] = {"uid": str(request.get("uid", "")), "allowed": True}
    pod = request.get("object")
    kind = (request.get("kind") or {}) if isinstance(request.get("kind"), dict) else {}
    if (request.get("operation") == "CREATE" and kind.get("kind") == "Pod"
            and isinstance(pod, dict) and isinstance(pod.get("spec"), dict)):
        patch = gate_patch(pod, now, managed_label)
        if patch:
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": response}


def create_webhook_app(clock: Callable[[], datetime],
                       managed_label: str = MANAGED_LABEL) -> FastAPI:
    """`POST /mutate` over `review_answer` (serve it over TLS)."""
    app = FastAPI(title="wattbit admission webhook", version="1")

    @app.post("/mutate")
    async def mutate(request: Request) -> JSONResponse:
        try:
            review = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            review = None
        return JSONResponse(review_answer(review, clock(), managed_label))

    return app
