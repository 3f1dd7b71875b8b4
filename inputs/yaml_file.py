"""Read a YAML file and check its number fields; errors name the file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inputs.errors import InputError
from inputs.files import read_text


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file; errors name the file and the line."""
    src = str(path)
    text = read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{src} line {mark.line + 1}" if mark else src
        raise InputError(where, "yaml", "", f"not valid YAML ({getattr(exc, 'problem', exc)})"
                         ) from None


def number(src: str, field: str, value: Any, *, lo: float | None = None, hi: float | None = None,
           integer: bool = False, lo_open: bool = False) -> float:
    """Validate a number field; bool and strings are rejected, bounds inclusive unless open."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(src, field, value, "must be a number")
    if integer and int(value) != value:
        raise InputError(src, field, value, "must be a whole number")
    if value != value:  # NaN
        raise InputError(src, field, value, "must be a number")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise InputError(src, field, value, f"must be {'>' if lo_open else '≥'} {lo:g}")
    if hi is not None and value > hi:
        raise InputError(src, field, value, f"must be ≤ {hi:g}")
    return float(value)
