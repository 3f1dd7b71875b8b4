"""Read a user's text file; a missing file, a folder or undecodable bytes → `InputError`."""

from __future__ import annotations

from pathlib import Path

from inputs.errors import InputError


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The whole file as text; errors name the path and what is wrong with it."""
    src = str(path)
    try:
        return Path(path).read_text(encoding=encoding)
    except FileNotFoundError:
        raise InputError(src, "path", src, "file not found") from None
    except IsADirectoryError:
        raise InputError(src, "path", src, "is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        raise InputError(src, "content", "", f"not {encoding} text ({exc.reason} at byte "
                         f"{exc.start})") from None
