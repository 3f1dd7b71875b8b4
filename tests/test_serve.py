"""`wattbit serve`: its config file (every error names the field), and the whole service as a
user runs it — a process with a kubeconfig pointing at the Kubernetes API emulator, serving
the extender, /readyz, the DR API and /metrics, stopping cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from inputs.errors import InputError
from scheduler.cluster.config import load_serve_config
from tests.kube_emulator import emulated_cluster
from tests.loopback import free_port
from tests.test_extender import MATSUE, SHIROI, load

SITES = f"""sites:
  - {{id: {MATSUE}, region: chugoku, gpus: 16, power_cap_kw: 40, pue: 1.33}}
  - {{id: {SHIROI}, region: tokyo, gpus: 16, power_cap_kw: 40, pue: 1.36, home: true}}
"""


def write_config(tmp_path: Path, body: str) -> Path:
    (tmp_path / "sites.yaml").write_text(SITES, encoding="utf-8")
    path = tmp_path / "config.yaml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """sites: sites.yaml
forecast:
  providers:
    chugoku: {provider: synthetic}
    tokyo: {provider: synthetic, region: tokyo, seed: 3}
planner: {replan_seconds: 60}
"""


def test_config_defaults_and_resolution(tmp_path: Path) -> None:
    cfg = load_serve_config(write_config(tmp_path, GOOD))
    assert [s.id for s in cfg.sites] == [MATSUE, SHIROI]
    assert cfg.planner.replan_seconds == 60 and cfg.planner.debounce_seconds == 5
    assert cfg.server.port == 8888 and cfg.server.metrics_port == 9090
    assert cfg.providers["tokyo"] == {"provider": "synthetic", "region": "tokyo", "seed": 3}
    assert cfg.kubernetes.managed_label == "wattbit.io/managed"
    assert cfg.leader_election.enabled


@pytest.mark.parametrize(("body", "field", "value"), [
    (GOOD + "planner: {replan_seconds: -5}\n", "planner.replan_seconds", "-5"),
    (GOOD.replace("planner: {replan_seconds: 60}", "planner: {replan_secs: 60}"),
     "planner.replan_secs", "60"),
    (GOOD + "server: {port: 70000}\n", "server.port", "70000"),
    (GOOD + "server: {port: 9090}\n", "server.metrics_port", "9090"),
    (GOOD.replace("provider: synthetic}", "provider: sunny}", 1),
     "forecast.providers.chugoku.provider", "sunny"),
    (GOOD.replace("    tokyo: {provider: synthetic, region: tokyo, seed: 3}\n", ""),
     "forecast.providers", "chugoku"),
    (GOOD + "leader_election: {enabled: yes-please}\n", "leader_election.enabled",
     "yes-please"),
    (GOOD + "leader_election: {renew_seconds: 20}\n", "leader_election.renew_seconds", "20"),
    (GOOD.replace("sites: sites.yaml", "sites: nowhere.yaml"), "", "nowhere.yaml"),
    ("sites: sites.yaml\n", "forecast", "None"),
])
def test_config_errors_name_the_field_and_value(tmp_path: Path, body: str, field: str,
                                                value: str) -> None:
    with pytest.raises(InputError) as err:
        load_serve_config(write_config(tmp_path, body))
    assert field in str(err.value) and value in str(err.value)


def kubeconfig(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: emulator, cluster: {{server: "{url}"}}}}]
users: [{{name: tester, user: {{token: not-a-secret}}}}]
contexts: [{{name: emulator, context: {{cluster: emulator, user: tester}}}}]
current-context: emulator
""", encoding="utf-8")
    return path


def test_wattbit_serve_runs_against_the_api(tmp_path: Path, k8s_fixtures: Path) -> None:
    port, metrics_port = free_port(), free_port()
    cfg = write_config(tmp_path, GOOD + f"""server: {{host: 127.0.0.1, port: {port},
         metrics_port: {metrics_port}}}
leader_election: {{lease_duration_seconds: 4, renew_seconds: 1}}
""")
    args = load(k8s_fixtures, "filter-args-node-names.json")
    with emulated_cluster() as (emu, api):
        for node in load(k8s_fixtures, "filter-args-full-nodes.json")["Nodes"]["items"]:
            api.core.create_node(node, _preload_content=False)
        env = {**os.environ, "POD_NAME": "wattbit-0", "POD_NAMESPACE": "wattbit-system"}
        kc = kubeconfig(tmp_path, str(api.core.api_client.configuration.host))
        proc = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "serve", "--config", str(cfg),
             "--kubeconfig", str(kc)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            base, ready = f"http://127.0.0.1:{port}", None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    ready = requests.get(f"{base}/readyz", timeout=2)
                    if ready.status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                time.sleep(0.3)
            assert ready is not None and ready.status_code == 200, (
                proc.poll(), ready and ready.text)
            assert ready.json()["plan_made_at"]
            answer = requests.post(f"{base}/filter", json=args, timeout=5).json()
            assert answer["Error"] == "" and answer["NodeNames"]
            text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
            assert "wattbit_planned_facility_power_watts" in text
            leases = [o.raw for (r, _n, _m), o in emu.objects.items() if r.plural == "leases"]
            assert leases[0]["spec"]["holderIdentity"] == "wattbit-0"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                out, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
    assert proc.returncode == 0, out[-3000:]
