"""A real Prometheus server (the Debian package's binary) on loopback, scraping one target
every second — for the exporter and DR API tests.

Skips where no `prometheus` binary is on PATH, unless WATTBIT_REQUIRE_PROMETHEUS=1 (CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.loopback import free_port

READY_TIMEOUT_S = 30.0
"""Longest wait for Prometheus to be ready and see its target up."""


@dataclass
class PromServer:
    url: str
    log: Path
    session: requests.Session

    def query(self, promql: str) -> list[dict]:
        """An instant query's result vector."""
        r = self.session.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _wait(what: str, proc: subprocess.Popen, log: Path, deadline: float,
          ok: Callable[[], bool]) -> None:
    """Poll `ok()` until true; fail (with Prometheus' log) at `deadline` or if it exits."""
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited ({proc.returncode}) before {what}:\n"
                        + log.read_text(errors="replace"))
        try:
            if ok():
                return
        except (requests.RequestException, ValueError, KeyError) as exc:
            last = exc
        time.sleep(0.2)
    pytest.fail(f"timed out after {READY_TIMEOUT_S:.0f} s waiting for {what} (last: {last!r})"
                f":\n" + log.read_text(errors="replace"))


@contextmanager
def prometheus_scraping(target: str, tmp_path: Path, metrics_path: str = "/metrics"
                        ) -> Iterator[PromServer]:
    """Prometheus scraping `target` (host:port) every second, returned once the target is
    up; stopped (and its log printed, which pytest shows on failure) at exit."""
    exe = shutil.which("prometheus")
    if exe is None:
        if os.environ.get("WATTBIT_REQUIRE_PROMETHEUS") == "1":
            pytest.fail("WATTBIT_REQUIRE_PROMETHEUS=1 but no `prometheus` binary on PATH")
        pytest.skip("no `prometheus` binary on PATH (apt-get install prometheus; set "
                    "WATTBIT_REQUIRE_PROMETHEUS=1 to fail instead)")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: wattbit\n"
        f"    metrics_path: {metrics_path}\n    static_configs:\n"
        f"      - targets: ['{target}']\n", encoding="utf-8")
    log = tmp_path / "prometheus.log"
    session = requests.Session()
    session.trust_env = False  # loopback: never through an HTTP(S)_PROXY of the environment
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [exe, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=info"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    prom = PromServer(url, log, session)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        _wait("/-/ready", proc, log, deadline,
              lambda: session.get(f"{url}/-/ready", timeout=2).status_code == 200)
        _wait(f"target {target} up", proc, log, deadline, lambda: any(
            r["metric"].get("instance") == target and r["value"][1] == "1"
            for r in prom.query('up{job="wattbit"}')))
        yield prom
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        session.close()
        print(f"--- prometheus log ({log}) ---\n{log.read_text(errors='replace')}")
