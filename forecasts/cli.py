"""`wattbit forecast …`: import grid data, derive planner signals, show them."""

from __future__ import annotations

import typer

app = typer.Typer(help="Grid signals: import TSO data, derive forecasts, plot them.",
                  no_args_is_help=True)
