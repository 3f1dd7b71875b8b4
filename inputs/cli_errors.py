"""How a command line reports bad input: one `error:` line on stderr, exit code 2."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console


def exit_with_error(err: object) -> NoReturn:
    """Print `error: <err>` as one line on stderr and raise `typer.Exit(2)`.

    `err` is usually an `InputError`; any object prints through `str`. The text is printed
    as it stands: no markup, highlighting, emoji codes or wrapping.
    """
    Console(stderr=True).print(f"error: {err}", markup=False, highlight=False, emoji=False,
                               soft_wrap=True)
    raise typer.Exit(2) from None
