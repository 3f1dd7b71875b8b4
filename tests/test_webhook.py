"""The admission webhook adds our gate to managed, deferrable pods at creation (and only to
them), never blocks a pod, and is served over TLS as kube-apiserver calls it."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from scheduler.extender.gates import GATE
from scheduler.extender.webhook import create_webhook_app, review_answer
from tests.loopback import Served
from tests.test_extender import NOW, load


def review(pod: dict, operation: str = "CREATE") -> dict:
    pod = copy.deepcopy(pod)
    pod["metadata"].pop("creationTimestamp", None)  # not set yet at admission
    pod["spec"].pop("nodeName", None)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                        "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "operation": operation, "namespace": pod["metadata"]["namespace"],
                        "object": pod}}


def patched(answer: dict, pod: dict) -> dict:
    """Apply the answer's JSON patch (add only, as the webhook sends) to the pod."""
    out = copy.deepcopy(pod)
    if "patch" not in answer["response"]:
        return out
    assert answer["response"]["patchType"] == "JSONPatch"
    for op in json.loads(base64.b64decode(answer["response"]["patch"])):
        assert op["op"] == "add"
        if op["path"].endswith("/-"):
            out["spec"]["schedulingGates"].append(op["value"])
        else:
            out["spec"]["schedulingGates"] = op["value"]
    return out


@pytest.fixture
def pod(k8s_fixtures: Path) -> dict:
    p = load(k8s_fixtures, "filter-args-node-names.json")["Pod"]
    p["spec"].pop("schedulingGates", None)
    return p


def gates(p: dict) -> list[str]:
    return [g["name"] for g in p["spec"].get("schedulingGates") or []]


def test_managed_batch_pods_get_the_gate_others_pass(pod: dict) -> None:
    answer = review_answer(review(pod), NOW)
    assert answer["response"]["allowed"] and answer["response"]["uid"].startswith("705ab4f5")
    assert gates(patched(answer, pod)) == [GATE]
    kueue = copy.deepcopy(pod)
    kueue["spec"]["schedulingGates"] = [{"name": "kueue.x-k8s.io/admission"}]
    assert gates(patched(review_answer(review(kueue), NOW), kueue)) == [
        "kueue.x-k8s.io/admission", GATE]
    for name, change in [
        ("already gated", lambda p: p["spec"].update(schedulingGates=[{"name": GATE}])),
        ("urgent", lambda p: p["metadata"]["annotations"].update(
            {"wattbit.io/latency-class": "urgent"})),
        ("malformed", lambda p: p["metadata"]["annotations"].update(
            {"wattbit.io/deadline": "tomorrow"})),
        ("unmanaged", lambda p: p["metadata"]["labels"].pop("wattbit.io/managed")),
    ]:
        other = copy.deepcopy(pod)
        change(other)
        answer = review_answer(review(other), NOW)
        assert answer["response"]["allowed"] and "patch" not in answer["response"], name
    update = review_answer(review(pod, "UPDATE"), NOW)  # gates can only be added at creation
    assert "patch" not in update["response"]
    for junk in (None, [], {"request": 7}, {"request": {"object": "pod"}}):
        assert review_answer(junk, NOW)["response"]["allowed"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_served_over_tls(pod: dict, tmp_path: Path) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    served = Served(create_webhook_app(lambda: NOW), scheme="https",
                    ssl_certfile=str(cert), ssl_keyfile=str(key))
    try:
        answer = requests.post(f"{served.url}/mutate", json=review(pod), verify=str(cert),
                               timeout=5).json()
        assert gates(patched(answer, pod)) == [GATE]
        broken = requests.post(f"{served.url}/mutate", data=b"{not json", verify=str(cert),
                               timeout=5)
        assert broken.status_code == 200 and broken.json()["response"]["allowed"]
    finally:
        served.stop()
