"""`wattbit simulate` (run a scenario's policies, print the summary, write the results) and
`wattbit sweep` (every combination of some of its values)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from inputs.cli_errors import exit_with_error
from inputs.errors import InputError
from simulations.engine import simulate
from simulations.report import frame_table, summary_table, write_results
from simulations.scenario import DEFAULT_SCENARIO, load_scenario
from simulations.sweep import combinations, parse_params, sweep


def simulate_command(
    scenario: Annotated[str, typer.Argument(
        help="A scenario file, or a built-in scenario's name")] = DEFAULT_SCENARIO,
    out: Annotated[Path | None, typer.Option(
        help="Folder for the results (default: a new folder named after the scenario and "
             "the time)")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar")] = False,
    workers: Annotated[int, typer.Option(
        min=1, help="Processes for the rolling policies (default: one per core)")] = (
            os.cpu_count() or 1),
) -> None:
    """Simulate the scenario's policies on its grids and workload; compare them."""
    console = Console()
    try:
        sc = load_scenario(scenario)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, disable=quiet,
                      transient=True) as bar:
            tasks: dict[str, int] = {}

            def progress(policy: str, step: int, steps: int) -> None:
                if policy not in tasks:
                    tasks[policy] = bar.add_task(f"{policy:>6} re-plans", total=steps)
                bar.update(tasks[policy], completed=step)

            result = simulate(sc, progress, workers)
        folder = out or Path(f"{sc.name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
        written = write_results(result, folder)
    except InputError as err:
        exit_with_error(err)
    except OSError as err:
        exit_with_error(f"--out: {out}: {err.strerror or err}")
    console.print(summary_table(result))
    for note in result.scenario.get("notes", []):
        console.print(f"[yellow]note:[/] {note}")
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings_s.items())
    console.print(f"[dim]{result.scenario['jobs_simulated']} jobs; {timing}[/dim]")
    console.print(f"results: {folder} ({len(written)} files; open {written['report.html']})")


def sweep_command(
    scenario: Annotated[str, typer.Argument(help="A scenario file, or a built-in's name")],
    param: Annotated[list[str], typer.Option(
        help="key.path=v1,v2,… (repeatable; a site by id: sites.matsue.gpus=256,512)")],
    workers: Annotated[int, typer.Option(min=1, help="Local worker processes")] = 2,
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (e.g. ray://head:10001): run the combinations there")] = None,
    out: Annotated[Path, typer.Option(help="CSV of all combinations' summaries")] = Path(
        "sweep.csv"),
) -> None:
    """Run every combination of the parameters' values; one table, one CSV."""
    console = Console()
    try:
        params = parse_params(param)
        with Progress(TextColumn("combinations"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task("sweep", total=len(combinations(params)))
            table = sweep(scenario, params, workers, address,
                          lambda k, n: bar.update(task, completed=k))
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    except InputError as err:
        exit_with_error(err)
    except OSError as err:
        exit_with_error(f"--out: {out}: {err.strerror or err}")
    console.print(frame_table(table, f"sweep of {scenario}"))
    console.print(f"results: {out}")
