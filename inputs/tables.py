"""Generic readers of tabular text: a CSV of strings, ISO 8601 times, the first bad cell."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from inputs.errors import InputError


def read_string_csv(path: str | Path) -> pd.DataFrame:
    """Every cell of a CSV file as a string, headers stripped; unreadable → `InputError`."""
    src = str(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise InputError(src, "path", src, "file not found") from None
    except IsADirectoryError:
        raise InputError(src, "path", src, "is a folder, not a file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        why = " ".join(str(exc).split())  # the parser's message spans lines
        raise InputError(src, "content", "", f"not a readable CSV ({why})") from None
    df.columns = [c.strip() for c in df.columns]
    return df


def parse_iso_utc(values: pd.Series) -> tuple[pd.Series, int | None, str]:
    """ISO 8601 strings with an offset → tz-aware UTC timestamps, plus the position of the
    first bad one and why (None, "" when all are good)."""
    text = values.astype("string").str.strip()
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False)
    bad = parsed.isna() | ~has_offset
    if not bad.any():
        return parsed, None, ""
    i = int(np.flatnonzero(bad.to_numpy())[0])
    return parsed, i, "not an ISO 8601 time" if pd.isna(parsed.iloc[i]) else "has no UTC offset"


def parse_time(src: str, field: str, value: object) -> datetime:
    """One ISO 8601 time with an offset → tz-aware UTC datetime; errors name the value."""
    parsed, i, why = parse_iso_utc(pd.Series([value]))
    if i is not None:
        raise InputError(src, field, value, why)
    return parsed.iloc[0].to_pydatetime()


def parse_times(src: str, field: str, values: pd.Series, row_offset: int = 2) -> pd.Series:
    """ISO 8601 strings with an offset → tz-aware UTC timestamps; names the first bad row."""
    parsed, i, why = parse_iso_utc(values)
    if i is not None:
        raise InputError(f"{src} row {i + row_offset}", field, values.iloc[i], why)
    return parsed


def fail_first(bad: pd.Series, cells: pd.Series, src: str, field: str, problem: str,
               lines: pd.Series | None = None) -> None:
    """Raise `InputError` naming the first line where `bad` holds, and its cell.

    `bad`, `cells` and `lines` are aligned row by row; `lines` holds each row's line number
    in the file (default: the index of `bad` is the line number).
    """
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        line = int(bad.index[i] if lines is None else lines.iloc[i])
        raise InputError(f"{src} line {line}", field, cells.iloc[i], problem)
