"""The one default clock: inject `clock=utc_now` and tests pass their own."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time, tz-aware UTC."""
    return datetime.now(UTC)
