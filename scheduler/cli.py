"""The `wattbit` command."""

from __future__ import annotations

import typer

from forecasts.cli import app as forecast_app
from scheduler.dr.cli import app as dr_app
from scheduler.extender_cli import extender_command
from scheduler.plan_cli import plan_command
from scheduler.serve_cli import serve_command
from simulations.cli import simulate_command, sweep_command

app = typer.Typer(help="wattbit: carbon- and curtailment-aware scheduling of AI jobs.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(forecast_app, name="forecast")
app.add_typer(dr_app, name="dr")
app.command("plan")(plan_command)
app.command("simulate")(simulate_command)
app.command("sweep")(sweep_command)
app.command("extender")(extender_command)
app.command("serve")(serve_command)


def main() -> None:
    """Entry point of the `wattbit` console script."""
    app()
