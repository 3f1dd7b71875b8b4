"""`wattbit serve --config config.yaml`: the in-cluster service.

Three parts in one process: the extender verbs (`server.port`: /filter, /prioritize,
/healthz, /readyz), the DR API and Prometheus metrics (`server.metrics_port`: /v1/dr/…,
/metrics) — plus, when configured, the admission webhook (`webhook.port`, TLS: /mutate) —
and the planner loop with the gate controller (the main thread; it plans in the
same process, never forking the HTTP servers). In-cluster credentials when run in a pod,
else the kubeconfig. SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from forecasts.providers.cache import FailureCounter
from inputs.cli_errors import exit_with_error
from inputs.clock import utc_now
from inputs.errors import InputError
from inputs.files import read_text
from scheduler.cluster.config import ServeConfig, load_serve_config
from scheduler.cluster.controller import Controller
from scheduler.cluster.fleet import node_fingerprint, pod_fingerprint
from scheduler.cluster.forecast_source import forecast_source
from scheduler.cluster.informer import Informer
from scheduler.cluster.kube import KubeApi, connect
from scheduler.cluster.leader import LeaseElector
from scheduler.core.planner import PlanConfig
from scheduler.dr.events import EventStore
from scheduler.dr.exporter import DrMetrics, publisher
from scheduler.dr.service import DrService
from scheduler.extender.service import Extender

log = logging.getLogger("wattbit")


def build(cfg: ServeConfig, api: KubeApi, *, dry_run: bool = False,
          identity: str | None = None, namespace: str | None = None,
          events_db: Path | None = None) -> tuple[Controller, DrMetrics]:
    """The controller (with its informers, not started) and the metrics, from the config."""
    identity = identity or os.environ.get("POD_NAME") or socket.gethostname()
    namespace = namespace or os.environ.get("POD_NAMESPACE") or "default"
    pcfg = cfg.planner
    extender = Extender(cfg.sites, {}, cfg.policy, clock=utc_now,
                        site_label=cfg.kubernetes.site_label,
                        managed_label=cfg.kubernetes.managed_label)
    store = EventStore(events_db or Path(tempfile.gettempdir()) / "wattbit-dr-events.sqlite")
    dr = DrService(cfg.sites, [], {}, cfg.policy, store, plan_now=False,
                   config=PlanConfig(time_limit_s=pcfg.time_limit_seconds))
    metrics = DrMetrics()
    dr.on_replan = publisher(metrics, dr)
    le = cfg.leader_election
    elector = None if not le.enabled else LeaseElector(
        api, namespace, le.lease_name, identity, le.lease_duration_seconds, utc_now,
        renew_s=le.renew_seconds)
    resync = cfg.kubernetes.resync_seconds
    pods = Informer(api, "pods", resync_s=resync, fingerprint=pod_fingerprint)
    nodes = Informer(api, "nodes", resync_s=resync, fingerprint=node_fingerprint)
    failures = FailureCounter()
    controller = Controller(api, extender, dr, pods, nodes,
                            forecast_source(cfg, utc_now, failures), utc_now, elector=elector,
                            identity=identity, replan_s=pcfg.replan_seconds,
                            debounce_s=pcfg.debounce_seconds,
                            max_plan_age=timedelta(minutes=pcfg.max_plan_age_minutes),
                            dry_run=dry_run, metrics=metrics, failures=failures)
    pods.on_change = nodes.on_change = controller.changed
    return controller, metrics


def serve_command(
    config: Annotated[Path, typer.Option(help="config.yaml (see the README)")],
    dry_run: Annotated[bool, typer.Option(
        help="plan, decide and write Events, but never patch pods")] = False,
    kubeconfig: Annotated[str | None, typer.Option(
        help="kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config)")]
    = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Run the scheduler extender, the planner loop and the gate controller in a cluster."""
    import uvicorn

    from scheduler.dr.api import create_app as dr_app
    from scheduler.extender.http import create_app as extender_app

    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_serve_config(config)
        token_file = cfg.server.dr_token_file
        token = read_text(token_file).strip() if token_file else None
    except InputError as err:
        exit_with_error(err)
    try:
        api = KubeApi(connect(kubeconfig))
    except Exception as err:  # no in-cluster credentials and no kubeconfig
        exit_with_error(f"kubernetes: cannot load credentials ({err})")
    controller, metrics = build(cfg, api, dry_run=dry_run)
    stop = threading.Event()
    servers = [
        uvicorn.Server(uvicorn.Config(extender_app(controller.extender, controller.ready),
                                      host=cfg.server.host, port=cfg.server.port,
                                      log_level="warning")),
        uvicorn.Server(uvicorn.Config(dr_app(controller.dr, token, metrics=metrics),
                                      host=cfg.server.host, port=cfg.server.metrics_port,
                                      log_level="warning")),
    ]
    if cfg.webhook is not None:
        from scheduler.extender.webhook import create_webhook_app

        servers.append(uvicorn.Server(uvicorn.Config(
            create_webhook_app(utc_now, cfg.kubernetes.managed_label), host=cfg.server.host,
            port=cfg.webhook.port, ssl_certfile=str(cfg.webhook.cert_file),
            ssl_keyfile=str(cfg.webhook.key_file), log_level="warning")))
    for server in servers:
        threading.Thread(target=server.run, daemon=True).start()
    controller.pods.start()
    controller.nodes.start()

    def shutdown(*_: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    log.info("serving: extender on :%d, metrics and DR API on :%d%s", cfg.server.port,
             cfg.server.metrics_port, " (dry run)" if dry_run else "")
    while not stop.is_set() and not (controller.pods.synced.is_set()
                                     and controller.nodes.synced.is_set()):
        stop.wait(0.5)  # the informers retry until the API answers
    controller.run(stop)
    if controller.elector is not None:
        controller.elector.release()
    for server in servers:
        server.should_exit = True
    controller.pods.stop()
    controller.nodes.stop()
