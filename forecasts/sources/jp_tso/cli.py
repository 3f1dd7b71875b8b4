"""`wattbit forecast import jp-tso FILE... --out tidy.csv`: TSO area files → tidy CSV."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from forecasts.sources.jp_tso.layouts import AREAS
from forecasts.sources.jp_tso.parse import TIDY_COLUMNS, parse_area_files, write_tidy_csv
from inputs.cli_errors import exit_with_error
from inputs.errors import InputError

import_app = typer.Typer(help="Import grid data files into tidy tables.", no_args_is_help=True)


@import_app.command("jp-tso")
def import_jp_tso(
    files: Annotated[list[Path], typer.Argument(
        help="Area supply–demand CSV files (エリア需給実績) of one area, any order.")],
    out: Annotated[Path, typer.Option("--out", help="Tidy CSV to write.")],
    area: Annotated[str | None, typer.Option(
        "--area", help=f"Area when the file names do not say it: {', '.join(AREAS)}.")] = None,
) -> None:
    """Parse Japanese TSO area supply–demand files into one tidy CSV (MW slot averages).

    Files are concatenated in time order; a slot present in several files keeps the value
    of the later file. Exit code 2 with a one-line `error:` message on bad input.
    """
    write_import(lambda: parse_area_files(files, area=area), out, TIDY_COLUMNS)


def write_import(parse: Callable[[], pd.DataFrame], out: Path, columns: Sequence[str]) -> None:
    """An import command's body: parse, write the tidy CSV, say what was written — or exit 2
    with one `error:` line (bad input, or the CSV cannot be written)."""
    try:
        df = parse()
        write_tidy_csv(df, out, columns)
    except InputError as exc:
        exit_with_error(exc)
    except OSError as exc:
        exit_with_error(f"{out}: cannot write ({exc.strerror})")
    first, last = df["time_jst"].iloc[0], df["time_jst"].iloc[-1]
    typer.echo(f"{out}: {len(df)} slots, {df['area'].iloc[0]}, {first:%Y-%m-%d %H:%M} … "
               f"{last:%Y-%m-%d %H:%M} JST")
