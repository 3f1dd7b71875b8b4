"""The scheduler extender over real HTTP on loopback, against the wire fixtures of
../shared/k8s-extender/fixtures (both node modes), plus the pod-facts parser."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from forecasts.forecast import Forecast
from policies.policy import load_policy
from policies.site import PueModel, Site
from scheduler.core.planner import PlanConfig, Planner
from scheduler.extender.http import create_app
from scheduler.extender.pods import AnnotationError, go_duration_h, pod_facts
from scheduler.extender.service import Extender
from tests.loopback import Served

NOW = datetime.fromisoformat("2026-09-14T03:13:00+00:00")
MATSUE, SHIROI = "jp-chugoku-matsue", "jp-tokyo-shiroi"




def load(k8s_fixtures: Path, name: str):
    return json.loads((k8s_fixtures / name).read_text(encoding="utf-8"))


def fleet() -> list[Site]:
    return [Site(MATSUE, "chugoku", gpus=16, power_cap_kw=40, pue=PueModel(1.33)),
            Site(SHIROI, "tokyo", gpus=16, power_cap_kw=40, pue=PueModel(1.36), home=True)]


def forecasts(chugoku: float, tokyo: float) -> dict[str, Forecast]:
    idx = pd.date_range("2026-09-14T00:00:00Z", periods=4 * 48, freq="30min")
    return {r: Forecast(r, idx, 30, np.full(len(idx), ci), np.zeros(len(idx)))
            for r, ci in (("chugoku", chugoku), ("tokyo", tokyo))}


def extender(k8s_fixtures: Path, *, planned: bool, chugoku: float = 200.0, tokyo: float = 500.0
             ) -> Extender:
    fcs = forecasts(chugoku, tokyo)
    nodes = {n["metadata"]["name"]: n
             for n in load(k8s_fixtures, "filter-args-full-nodes.json")["Nodes"]["items"]}
    ext = Extender(fleet(), fcs, load_policy("min-carbon"), clock=lambda: NOW, nodes=nodes)
    if planned:
        job = pod_facts(load(k8s_fixtures, "filter-args-node-names.json")["Pod"]).job
        ext.publish(Planner(fleet(), load_policy("min-carbon"), PlanConfig(deterministic=True))
                    .replan(NOW, [job], fcs))
    return ext


@pytest.fixture(scope="module")
def served(k8s_fixtures: Path):
    ext = extender(k8s_fixtures, planned=True)
    srv = Served(create_app(ext))
    yield srv.url, ext
    srv.stop()


def test_names_mode_matches_the_filter_fixture_exactly(served, k8s_fixtures: Path) -> None:
    url, _ = served
    r = requests.post(f"{url}/filter", json=load(k8s_fixtures, "filter-args-node-names.json"),
                      timeout=10)
    assert r.status_code == 200
    assert r.json() == load(k8s_fixtures, "filter-result-example.json")


def test_objects_mode_keeps_the_planned_site_as_node_objects(served, k8s_fixtures: Path) -> None:
    url, _ = served
    args = load(k8s_fixtures, "filter-args-full-nodes.json")
    body = requests.post(f"{url}/filter", json=args, timeout=10).json()
    assert body["NodeNames"] is None and body["Error"] == ""
    kept = [n["metadata"]["name"] for n in body["Nodes"]["items"]]
    assert kept == ["gpu-matsue-01", "gpu-matsue-02"]
    assert body["Nodes"]["items"][0] == args["Nodes"]["items"][0]  # the objects as sent
    expected = load(k8s_fixtures, "filter-result-example.json")["FailedAndUnresolvableNodes"]
    assert body["FailedAndUnresolvableNodes"] == expected


def test_prioritize_ranks_the_planned_site_first(served, k8s_fixtures: Path) -> None:
    url, _ = served
    args = load(k8s_fixtures, "filter-args-node-names.json")
    scores = requests.post(f"{url}/prioritize", json=args, timeout=10).json()
    by = {s["Host"]: s["Score"] for s in scores}
    assert set(by) == {"gpu-matsue-01", "gpu-matsue-02", "gpu-shiroi-01", "gpu-shiroi-02"}
    assert by["gpu-matsue-01"] == by["gpu-matsue-02"] == 10
    assert all(0 <= v < 10 for h, v in by.items() if "shiroi" in h)
    assert set(scores[0]) == {"Host", "Score"}


def test_a_job_the_plan_has_not_seen_gets_the_best_site_now(k8s_fixtures: Path) -> None:
    """No plan: the fast decision picks the cleaner site now — Tokyo when it is cleaner."""
    ext = extender(k8s_fixtures, planned=False, chugoku=600.0, tokyo=300.0)
    result = ext.filter(load(k8s_fixtures, "filter-args-node-names.json"))
    assert result["NodeNames"] == ["gpu-shiroi-01", "gpu-shiroi-02"]
    assert "best placed now at site jp-tokyo-shiroi" in result["FailedAndUnresolvableNodes"][
        "gpu-matsue-01"]


@pytest.mark.parametrize("change", ["unmanaged", "bad-annotation"])
def test_unmanaged_or_malformed_pods_pass_through(served, k8s_fixtures: Path, change: str) -> None:
    url, _ = served
    args = load(k8s_fixtures, "filter-args-node-names.json")
    meta = args["Pod"]["metadata"]
    if change == "unmanaged":
        meta["labels"].pop("wattbit.io/managed")
    else:
        meta["annotations"]["wattbit.io/expected-duration"] = "six hours"
    body = requests.post(f"{url}/filter", json=args, timeout=10).json()
    assert body["NodeNames"] == args["NodeNames"] and body["FailedAndUnresolvableNodes"] == {}


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"Pod": 3}', b'{"Pod": {}, "NodeNames": 5}',
                                 b'\xff\xfe', b'{"Pod": {}, "Nodes": {"items": "x"}}'])
def test_malformed_bodies_get_protocol_valid_answers(served, raw: bytes) -> None:
    url, _ = served
    r = requests.post(f"{url}/filter", data=raw, headers={"Content-Type": "application/json"},
                      timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"Nodes", "NodeNames", "FailedNodes", "FailedAndUnresolvableNodes",
                         "Error"}
    assert body["Error"].startswith("wattbit: ")
    p = requests.post(f"{url}/prioritize", data=raw, timeout=10)
    assert p.status_code == 200 and p.json() == []


def test_both_nulls_mean_zero_nodes(served, k8s_fixtures: Path) -> None:
    url, _ = served
    args = {"Pod": load(k8s_fixtures, "filter-args-node-names.json")["Pod"], "Nodes": None,
            "NodeNames": None}
    body = requests.post(f"{url}/filter", json=args, timeout=10).json()
    assert body["Error"] == "" and body["Nodes"] == {"items": []}


def test_pod_facts_from_the_fixture(k8s_fixtures: Path) -> None:
    pod = load(k8s_fixtures, "filter-args-node-names.json")["Pod"]
    facts = pod_facts(pod)
    job = facts.job
    assert facts.managed and job is not None
    assert job.id == "ml-batch/llm-finetune-7b-0914"  # the owning batch/v1 Job
    assert job.gpus == 4 and job.kw_per_gpu == 0.7 and job.duration_h == 6.0
    assert job.allowed_sites == (MATSUE, SHIROI)
    assert pd.Timestamp(job.deadline) == pd.Timestamp("2026-09-16T00:00:00Z")
    bare = copy.deepcopy(pod)
    bare["metadata"]["ownerReferences"] = []
    assert pod_facts(bare).job.id == "ml-batch/llm-finetune-7b-0914-x7k2p"


@pytest.mark.parametrize(("annotation", "value"), [
    ("expected-duration", "6 hours"), ("expected-duration", "0h"), ("deadline", "tomorrow"),
    ("deadline", "2026-09-16T00:00:00"), ("latency-class", "asap"), ("kw-per-gpu", "-1"),
    ("kw-per-gpu", "lots"), ("checkpointable", "maybe"), ("allowed-sites", " , "),
])
def test_each_malformed_annotation_is_named(k8s_fixtures: Path, annotation: str,
                                            value: str) -> None:
    pod = load(k8s_fixtures, "filter-args-node-names.json")["Pod"]
    pod["metadata"]["annotations"][f"wattbit.io/{annotation}"] = value
    with pytest.raises(AnnotationError) as err:
        pod_facts(pod)
    assert f"wattbit.io/{annotation}" in str(err.value) and repr(value) in str(err.value)


def test_go_durations() -> None:
    assert go_duration_h("p", "40m") == pytest.approx(40 / 60)
    assert go_duration_h("p", "1h30m") == pytest.approx(1.5)
    assert go_duration_h("p", "90s") == pytest.approx(0.025)


def test_cli_bad_files_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scheduler.cli import app

    bad = tmp_path / "nodes.json"
    bad.write_text("{not json", encoding="utf-8")
    examples = Path(__file__).resolve().parents[1] / "simulations" / "examples"
    for args, text in (
        (["--sites", str(tmp_path / "none.yaml"), "--forecast", "x.csv"], "none.yaml"),
        (["--sites", str(examples / "sites.yaml"), "--forecast",
          str(examples / "forecast.csv"), "--nodes", str(bad)], "nodes.json"),
        (["--sites", str(examples / "sites.yaml"), "--forecast",
          str(examples / "forecast.csv"), "--now", "noon"], "now"),
    ):
        res = CliRunner().invoke(app, ["extender", *args])
        assert res.exit_code == 2 and res.output.startswith("error: ") and text in res.output
