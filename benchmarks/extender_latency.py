"""Extender latency and throughput over real HTTP, against a pass-through extender on the
same HTTP stack measured in the same run (the floor the stack itself costs).

Usage: `python benchmarks/extender_latency.py [--nodes 100,1000,5000] [--requests 300]
[--replan-jobs 300]`

For each node count and both `nodeCacheCapable` modes (names, objects) a real HTTP client
(one keep-alive session) sends `filter` and `prioritize` for the fixture-like pod of a job
the published plan knows; nodes are split between two sites. Prints p50/p99 latency (ms),
requests/s, and the ratio to the pass-through service (which parses the body and answers
every node as kept, with no decision). Target (issue 11): names mode at 1,000 nodes p99 ≤
10 ms, ≥ 300 requests/s, within 2× of the pass-through.

Then, as `wattbit serve` runs it, the names-mode rows again while the same process re-plans
without pause in a thread (`--replan-jobs` jobs on 8 sites × 96 slots, the MILP): the ratio
column is then against the idle extender of the same row — what a re-plan under way costs
`filter` (the planner shares the interpreter; HiGHS and NumPy release the GIL, the model
building in Python does not).
"""

from __future__ import annotations

import argparse
import copy
import json
import socket
import threading
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import requests
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from rich.console import Console
from rich.table import Table

from forecasts.forecast import Forecast
from policies.policy import load_policy
from policies.site import PueModel, Site
from scheduler.core.planner import PlanConfig, Planner
from scheduler.extender.http import create_app
from scheduler.extender.pods import pod_facts
from scheduler.extender.service import Extender
from simulations.instances import random_instance

NOW = datetime(2026, 9, 14, 3, 13, tzinfo=UTC)
SITES = ("jp-chugoku-matsue", "jp-tokyo-shiroi")
POD = {
    "metadata": {
        "name": "llm-finetune-x7k2p", "namespace": "ml-batch",
        "creationTimestamp": "2026-09-14T03:12:45Z",
        "labels": {"wattbit.io/managed": "true"},
        "annotations": {"wattbit.io/deadline": "2026-09-16T00:00:00Z",
                        "wattbit.io/expected-duration": "6h"},
        "ownerReferences": [{"kind": "Job", "name": "llm-finetune", "controller": True}]},
    "spec": {"containers": [{"name": "train", "resources": {
        "requests": {"nvidia.com/gpu": "4"}, "limits": {"nvidia.com/gpu": "4"}}}]},
}


class Served:
    """An ASGI app served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: FastAPI) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def node(i: int) -> dict:
    site = SITES[i % 2]
    return {"metadata": {"name": f"gpu-{i:05d}", "labels": {
        "topology.kubernetes.io/region": site, "kubernetes.io/hostname": f"gpu-{i:05d}"}},
        "status": {"allocatable": {"nvidia.com/gpu": "8", "cpu": "96", "memory": "1Ti"}}}


def passthrough() -> FastAPI:
    """The floor: parse the body, keep every node, no decision."""
    app = FastAPI()

    @app.post("/filter")
    async def flt(request: Request) -> JSONResponse:
        args = json.loads(await request.body())
        return JSONResponse({"Nodes": args.get("Nodes"), "NodeNames": args.get("NodeNames"),
                             "FailedNodes": {}, "FailedAndUnresolvableNodes": {}, "Error": ""})

    @app.post("/prioritize")
    async def pri(request: Request) -> JSONResponse:
        args = json.loads(await request.body())
        names = args.get("NodeNames") or [n["metadata"]["name"]
                                          for n in (args.get("Nodes") or {}).get("items", [])]
        return JSONResponse([{"Host": n, "Score": 0} for n in names])

    return app


def timed(url: str, verb: str, body: bytes, n: int) -> np.ndarray:
    """Seconds of `n` sequential requests on one keep-alive session."""
    out = np.empty(n)
    with requests.Session() as s:
        s.trust_env = False
        s.post(f"{url}/{verb}", data=body, timeout=30)  # warm-up
        for i in range(n):
            t0 = time.perf_counter()
            r = s.post(f"{url}/{verb}", data=body, timeout=30,
                       headers={"Content-Type": "application/json"})
            out[i] = time.perf_counter() - t0
            assert r.status_code == 200
    return out


class BusyPlanner:
    """Re-plans a random instance over and over in a thread until stopped."""

    def __init__(self, n_jobs: int) -> None:
        inst = random_instance(n_jobs, n_sites=8, seed=1)
        self.planner = Planner(inst.sites, load_policy("min-carbon"),
                               PlanConfig(time_limit_s=5.0))
        self.inst, self.plans = inst, 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.planner.replan(None, self.inst.jobs, self.inst.forecasts)
            self.plans += 1

    def __enter__(self) -> BusyPlanner:
        self.thread.start()
        time.sleep(0.5)  # into the solve
        return self

    def __exit__(self, *_: object) -> None:
        self.stop_flag.set()
        self.thread.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", default="100,1000,5000")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--replan-jobs", type=int, default=300,
                    help="jobs of the re-plan running beside the second table (0: skip it)")
    args = ap.parse_args()
    sites = [Site(SITES[0], "chugoku", gpus=4096, power_cap_kw=1e5, pue=PueModel(1.33)),
             Site(SITES[1], "tokyo", gpus=4096, power_cap_kw=1e5, pue=PueModel(1.36),
                  home=True)]
    idx = pd.date_range("2026-09-14T00:00:00Z", periods=4 * 48, freq="30min")
    fcs = {r: Forecast(r, idx, 30, np.full(len(idx), ci), np.zeros(len(idx)))
           for r, ci in (("chugoku", 200.0), ("tokyo", 500.0))}
    policy = load_policy("min-carbon")
    job = pod_facts(POD).job
    plan = Planner(sites, policy, PlanConfig(deterministic=True)).replan(NOW, [job], fcs)
    console = Console(width=140)
    table = Table(title=f"extender over HTTP, {args.requests} sequential requests per row")
    for col in ("nodes", "mode", "verb", "p50 ms", "p99 ms", "req/s", "p50 / pass-through"):
        table.add_column(col, justify="right")
    for n_nodes in (int(x) for x in args.nodes.split(",")):
        nodes = [node(i) for i in range(n_nodes)]
        ext = Extender(sites, fcs, policy, clock=lambda: NOW, plan=plan,
                       nodes={nd["metadata"]["name"]: nd for nd in nodes})
        ours, floor = Served(create_app(ext)), Served(passthrough())
        try:
            for mode in ("names", "objects"):
                body = {"Pod": copy.deepcopy(POD),
                        "Nodes": None if mode == "names" else {"items": nodes},
                        "NodeNames": [nd["metadata"]["name"] for nd in nodes]
                        if mode == "names" else None}
                raw = json.dumps(body).encode()
                for verb in ("filter", "prioritize"):
                    t = timed(ours.url, verb, raw, args.requests)
                    f = timed(floor.url, verb, raw, args.requests)
                    table.add_row(f"{n_nodes:,}", mode, verb,
                                  f"{1000 * np.median(t):.2f}",
                                  f"{1000 * np.percentile(t, 99):.2f}",
                                  f"{len(t) / t.sum():,.0f}",
                                  f"{np.median(t) / np.median(f):.2f}×")
        finally:
            ours.stop()
            floor.stop()
    console.print(table)
    if args.replan_jobs > 0:
        busy_table(args, sites, fcs, policy, plan, console)


def busy_table(args: argparse.Namespace, sites: list[Site], fcs: dict[str, Forecast],
               policy: object, plan: object, console: Console) -> None:
    """Names mode, idle and while a re-plan runs in the same process."""
    table = Table(title=f"names mode while the process re-plans {args.replan_jobs} jobs "
                        f"(8 sites × 96 slots) without pause")
    for col in ("nodes", "verb", "idle p50 ms", "busy p50 ms", "busy p99 ms", "busy req/s",
                "busy p50 / idle p50", "plans made"):
        table.add_column(col, justify="right")
    for n_nodes in (int(x) for x in args.nodes.split(",")):
        nodes = [node(i) for i in range(n_nodes)]
        ext = Extender(sites, fcs, policy, clock=lambda: NOW, plan=plan,
                       nodes={nd["metadata"]["name"]: nd for nd in nodes})
        ours = Served(create_app(ext))
        raw = json.dumps({"Pod": copy.deepcopy(POD), "Nodes": None,
                          "NodeNames": [nd["metadata"]["name"] for nd in nodes]}).encode()
        try:
            for verb in ("filter", "prioritize"):
                idle = timed(ours.url, verb, raw, args.requests)
                with BusyPlanner(args.replan_jobs) as busy:
                    t = timed(ours.url, verb, raw, args.requests)
                table.add_row(f"{n_nodes:,}", verb, f"{1000 * np.median(idle):.2f}",
                              f"{1000 * np.median(t):.2f}",
                              f"{1000 * np.percentile(t, 99):.2f}",
                              f"{len(t) / t.sum():,.0f}",
                              f"{np.median(t) / np.median(idle):.2f}×", str(busy.plans))
        finally:
            ours.stop()
    console.print(table)


if __name__ == "__main__":
    main()
