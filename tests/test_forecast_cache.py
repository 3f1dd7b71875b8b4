"""CachedProvider: last good forecast on disk, stale marking, widening bands, counted failures."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from forecasts.forecast import Forecast
from forecasts.providers import Provider
from forecasts.providers.cache import (
    CachedProvider,
    FailureCounter,
    forecast_from_json,
    forecast_to_json,
    widen_bands,
)
from forecasts.providers.http import HttpClient, HttpConfig, ProviderError, ProviderTimeout
from forecasts.providers.uk_carbon_intensity import (
    UkCarbonIntensityConfig,
    UkCarbonIntensityProvider,
)

T0 = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Scripted:
    """A provider that returns or raises the next scripted outcome."""

    name = "scripted"

    def __init__(self, outcomes: list[Forecast | ProviderError]) -> None:
        self._outcomes: Iterator[Forecast | ProviderError] = iter(outcomes)

    def fetch(self, region: str, start: datetime | None = None,
              end: datetime | None = None) -> Forecast:
        out = next(self._outcomes)
        if isinstance(out, ProviderError):
            raise out
        return out


def kyushu(issued_at: datetime | None = T0) -> Forecast:
    slots = pd.date_range("2026-04-01T00:00Z", periods=6, freq="30min")
    return Forecast("kyushu", slots, 30, np.array([420.0, 380, 300, 250, 260, 310]),
                    np.array([0.0, 0, 450, 1200, 900, 100]),
                    price_jpy_per_kwh=np.array([8.0, 7.5, 0.01, 0.01, 3.0, 9.0]),
                    issued_at=issued_at, source="test")


def test_the_scripted_fake_is_a_provider() -> None:
    assert isinstance(Scripted([]), Provider)


def test_a_fresh_forecast_is_returned_as_is_and_stored(tmp_path: Path) -> None:
    cp = CachedProvider(Scripted([kyushu()]), tmp_path, clock=Clock(T0 + timedelta(minutes=5)))
    fc = cp.fetch("kyushu")
    assert not fc.stale and fc.quantiles == {}
    stored = cp.last_good("kyushu")
    assert stored is not None
    np.testing.assert_array_equal(stored[0].carbon_gco2_per_kwh, fc.carbon_gco2_per_kwh)
    assert stored[1] == T0 + timedelta(minutes=5)


def test_provider_down_serves_last_good_marked_stale_counts_and_logs_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    down = ProviderTimeout("scripted", "timed out", "http://x")
    clock = Clock(T0)
    counter = FailureCounter()
    cp = CachedProvider(Scripted([kyushu(), down, down, down]), tmp_path, clock=clock,
                        counter=counter, band_per_h=0.05)
    cp.fetch("kyushu")
    with caplog.at_level(logging.INFO, logger="forecasts.providers.cache"):
        results = []
        for hours in (2, 3, 4):
            clock.now = T0 + timedelta(hours=hours)
            results.append(cp.fetch("kyushu"))
    assert all(fc.stale for fc in results)
    np.testing.assert_array_equal(results[0].carbon_gco2_per_kwh, kyushu().carbon_gco2_per_kwh)
    assert counter.counts == {("scripted", "timeout"): 3}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "timeout" in warnings[0].getMessage()
    # the band widens with age: ±10 % at 2 h, ±20 % at 4 h (0.05/h)
    v = kyushu().carbon_gco2_per_kwh
    np.testing.assert_allclose(results[0].quantiles["carbon_gco2_per_kwh_p10"], v * 0.9)
    np.testing.assert_allclose(results[2].quantiles["carbon_gco2_per_kwh_p10"], v * 0.8)
    np.testing.assert_allclose(results[2].quantiles["carbon_gco2_per_kwh_p90"], v * 1.2)
    np.testing.assert_allclose(results[2].quantiles["curtailment_mw_p90"],
                               kyushu().curtailment_mw * 1.2)
    assert "price_jpy_per_kwh_p10" in results[2].quantiles


def test_recovery_is_logged_once_and_the_next_forecast_is_fresh(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    down = ProviderTimeout("scripted", "timed out")
    cp = CachedProvider(Scripted([kyushu(), down, kyushu(), kyushu()]), tmp_path,
                        clock=Clock(T0))
    with caplog.at_level(logging.INFO, logger="forecasts.providers.cache"):
        assert [cp.fetch("kyushu").stale for _ in range(4)] == [False, True, False, False]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("recovered from timeout" in m for m in messages) == 1
    assert len(messages) == 2


def test_without_a_last_good_forecast_the_typed_error_reaches_the_caller(tmp_path: Path) -> None:
    counter = FailureCounter()
    cp = CachedProvider(Scripted([ProviderTimeout("scripted", "timed out")]), tmp_path,
                        clock=Clock(T0), counter=counter)
    with pytest.raises(ProviderTimeout):
        cp.fetch("kyushu")
    assert counter.counts == {("scripted", "timeout"): 1}


def test_data_older_than_max_age_is_marked_stale_and_counted(tmp_path: Path) -> None:
    counter = FailureCounter()
    old = kyushu(issued_at=T0 - timedelta(hours=10))
    cp = CachedProvider(Scripted([old]), tmp_path, clock=Clock(T0),
                        max_age=timedelta(hours=6), counter=counter, band_per_h=0.05)
    fc = cp.fetch("kyushu")
    assert fc.stale
    np.testing.assert_allclose(fc.quantiles["carbon_gco2_per_kwh_p90"], old.carbon_gco2_per_kwh
                               * 1.5)
    assert counter.counts == {("scripted", "stale_data"): 1}


def test_bands_never_narrow_and_p10_stops_at_zero() -> None:
    fc = kyushu()
    wide = {"carbon_gco2_per_kwh_p10": fc.carbon_gco2_per_kwh * 0.5,
            "carbon_gco2_per_kwh_p90": fc.carbon_gco2_per_kwh * 1.5}
    fc = Forecast(fc.region, fc.slot_starts, 30, fc.carbon_gco2_per_kwh, fc.curtailment_mw,
                  quantiles=wide)
    out = widen_bands(fc, age_h=1.0, band_per_h=0.05)
    np.testing.assert_allclose(out.quantiles["carbon_gco2_per_kwh_p10"], wide[
        "carbon_gco2_per_kwh_p10"])
    very_old = widen_bands(fc, age_h=100.0, band_per_h=0.05)
    np.testing.assert_array_equal(very_old.quantiles["carbon_gco2_per_kwh_p10"], np.zeros(6))
    np.testing.assert_allclose(very_old.quantiles["carbon_gco2_per_kwh_p90"],
                               fc.carbon_gco2_per_kwh * 2)


def test_the_cache_file_round_trips_nan_quantiles_and_times() -> None:
    fc = kyushu()
    fc = Forecast(fc.region, fc.slot_starts, 30, fc.carbon_gco2_per_kwh, fc.curtailment_mw,
                  marginal_gco2_per_kwh=np.array([np.nan, 700, 690, 680, 690, 700]),
                  quantiles={"curtailment_mw_p90": fc.curtailment_mw * 2},
                  issued_at=T0, source="jp-tso")
    back, fetched = forecast_from_json(json.loads(json.dumps(forecast_to_json(fc, T0))))
    assert fetched == T0 and back.issued_at == T0 and back.source == "jp-tso"
    assert (back.slot_starts == fc.slot_starts).all()
    np.testing.assert_array_equal(back.marginal_gco2_per_kwh, fc.marginal_gco2_per_kwh)
    np.testing.assert_array_equal(back.quantiles["curtailment_mw_p90"], fc.curtailment_mw * 2)
    assert back.price_jpy_per_kwh is None


def test_a_corrupt_cache_file_counts_and_the_error_propagates(tmp_path: Path) -> None:
    counter = FailureCounter()
    cp = CachedProvider(Scripted([ProviderTimeout("scripted", "t")]), tmp_path,
                        clock=Clock(T0), counter=counter)
    cp.path("kyushu").write_text("{not json", encoding="utf-8")
    with pytest.raises(ProviderTimeout):
        cp.fetch("kyushu")
    assert counter.counts == {("scripted", "timeout"): 1, ("scripted", "cache_corrupt"): 1}


def test_a_real_provider_going_down_is_served_from_cache(
        httpserver: HTTPServer, tmp_path: Path, shared_data: Path) -> None:
    sample = (shared_data / "grid/api_samples/uk_carbon_intensity/intensity_from_fw48h.json"
              ).read_text(encoding="utf-8")
    httpserver.expect_ordered_request("/intensity/2018-01-20T12:00Z/fw48h").respond_with_data(
        sample, content_type="application/json")
    httpserver.expect_request("/intensity/2018-01-20T12:00Z/fw48h").respond_with_data(
        "maintenance", status=503)
    sleeps: list[float] = []
    when = datetime(2018, 1, 20, 12, 0, tzinfo=UTC)
    clock = Clock(when)
    uk = UkCarbonIntensityProvider(
        UkCarbonIntensityConfig(base_url=httpserver.url_for("")),
        HttpClient("uk-carbon-intensity", HttpConfig(max_attempts=2, jitter=0.0),
                   sleep=sleeps.append), clock=clock)
    counter = FailureCounter()
    cp = CachedProvider(uk, tmp_path, clock=clock, counter=counter)
    assert not cp.fetch("GB").stale
    clock.now = when + timedelta(hours=1)
    stale = cp.fetch("GB", start=when)
    assert stale.stale and list(stale.carbon_gco2_per_kwh) == [266.0]
    assert counter.counts == {("uk-carbon-intensity", "http_5xx"): 1}
    assert sleeps == [0.5]  # one retry inside the HTTP helper before giving up
