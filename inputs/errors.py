"""The one error type for bad input: it names where, which field and which value."""

from __future__ import annotations

from datetime import date
from typing import Any


class InputError(ValueError):
    """Bad user input. `str(err)` is a one-line message naming source, field and value."""

    def __init__(self, source: str, field: str, value: Any, problem: str) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.problem = problem
        shown = value.isoformat() if isinstance(value, date) else repr(value)
        super().__init__(f"{source}: {field}={shown}: {problem}")
