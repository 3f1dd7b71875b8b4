"""`wattbit extender`: the scheduler extender answering from files, with no cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from forecasts.csv_file import read_forecast_csv
from inputs.cli_errors import exit_with_error
from inputs.clock import utc_now
from inputs.errors import InputError
from inputs.files import read_text
from inputs.tables import parse_time
from policies.policy import load_policy
from policies.sites_file import read_sites_yaml
from scheduler.extender.service import Extender
from scheduler.plan_file import read_plan_json


def read_node_list(path: Path) -> dict[str, dict]:
    """A NodeList JSON (e.g. `kubectl get nodes -o json`) → name → Node."""
    try:
        doc = json.loads(read_text(path))
    except ValueError as err:
        raise InputError(str(path), "json", "", f"not valid JSON ({err})") from None
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise InputError(str(path), "items", None, "a NodeList needs an items list")
    return {str((n.get("metadata") or {}).get("name")): n for n in items if isinstance(n, dict)}


def extender_command(
    sites: Annotated[Path, typer.Option(help="sites.yaml")],
    forecast: Annotated[Path, typer.Option(help="forecast.csv")],
    plan: Annotated[Path | None, typer.Option(help="plan.json: jobs in it follow it")] = None,
    nodes: Annotated[Path | None, typer.Option(
        help="NodeList JSON: the node cache for the names-only mode")] = None,
    now: Annotated[str | None, typer.Option(
        help="the time of fast decisions (ISO 8601 with offset; default the clock)")] = None,
    policy: Annotated[str, typer.Option(help="built-in policy name or a policy YAML file")]
    = "min-carbon",
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8888,
) -> None:
    """Serve the kube-scheduler extender verbs (/filter, /prioritize) from files."""
    import uvicorn

    from scheduler.extender.http import create_app

    try:
        fixed = None if now is None else parse_time("--now", "now", now)
        ext = Extender(read_sites_yaml(sites), read_forecast_csv(forecast), load_policy(policy),
                       clock=(lambda: fixed) if fixed is not None else utc_now,
                       plan=read_plan_json(plan) if plan else None,
                       nodes=read_node_list(nodes) if nodes else {})
    except InputError as err:
        exit_with_error(err)
    uvicorn.run(create_app(ext), host=host, port=port, log_level="warning")
