"""The `synthetic` provider: offline signals for the simulator's embedded default."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from forecasts.providers import make_provider, provider_names
from inputs.errors import InputError

START = datetime(2026, 5, 3, 3, 0, tzinfo=UTC)  # 12:00 JST
END = datetime(2026, 5, 4, 3, 0, tzinfo=UTC)


def test_synthetic_is_registered_and_covers_exactly_the_window() -> None:
    assert "synthetic" in provider_names()
    fc = make_provider("synthetic", seed=3).fetch("kyushu", START, END)
    assert fc.region == "kyushu" and fc.source == "synthetic" and fc.slot_minutes == 30
    assert fc.slot_starts[0] == START and fc.slot_starts[-1] == END.replace(hour=2, minute=30)
    assert len(fc.slot_starts) == 48
    assert np.all(fc.curtailment_mw >= 0)
    assert np.all((fc.carbon_gco2_per_kwh > 0) & (fc.carbon_gco2_per_kwh < 1000))


def test_synthetic_is_deterministic_per_seed() -> None:
    a = make_provider("synthetic", seed=1).fetch("chugoku", START, END)
    b = make_provider("synthetic", seed=1).fetch("chugoku", START, END)
    c = make_provider("synthetic", seed=2).fetch("chugoku", START, END)
    assert np.array_equal(a.carbon_gco2_per_kwh, b.carbon_gco2_per_kwh)
    assert not np.array_equal(a.carbon_gco2_per_kwh, c.carbon_gco2_per_kwh)


def test_synthetic_without_end_returns_the_configured_days() -> None:
    fc = make_provider("synthetic", slot_minutes=60, days=3).fetch("tokyo", START)
    assert len(fc.slot_starts) == 3 * 24 - 12  # from 12:00 JST on day one


def test_unknown_area_and_naive_times_are_clear_errors() -> None:
    with pytest.raises(InputError, match="atlantis"):
        make_provider("synthetic").fetch("atlantis", START, END)
    with pytest.raises(InputError, match="tz-aware"):
        make_provider("synthetic").fetch("kyushu", START.replace(tzinfo=None))
