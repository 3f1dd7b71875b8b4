"""Electricity Maps v3 provider against a loopback server speaking the published schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from forecasts.providers.electricitymaps import (
    ElectricityMapsConfig,
    ElectricityMapsProvider,
)
from forecasts.providers.http import HttpClient, HttpConfig, ProviderAuthError, ProviderDataError

SAMPLES = Path("grid/api_samples/electricity_maps")


def provider(httpserver: HTTPServer, slot_minutes: int = 30) -> ElectricityMapsProvider:
    cfg = ElectricityMapsConfig(token="secret-token", base_url=httpserver.url_for(""),
                                slot_minutes=slot_minutes)
    client = HttpClient("electricitymaps", HttpConfig(max_attempts=1), sleep=lambda s: None)
    return ElectricityMapsProvider(cfg, client)


def hourly_forecast(zone: str, first: str, values: list[float]) -> dict[str, Any]:
    times = pd.date_range(first, periods=len(values), freq="h", tz="UTC")
    return {
        "zone": zone,
        "forecast": [{"datetime": t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "carbonIntensity": v}
                     for t, v in zip(times, values, strict=True)],
        "updatedAt": "2026-04-01T02:53:20.794Z",
    }


def test_hourly_forecast_lands_on_half_hour_slots_in_utc(httpserver: HTTPServer) -> None:
    values = [512.0, 498.0, 470.0, 455.0]
    httpserver.expect_request("/v3/carbon-intensity/forecast", query_string={"zone": "JP-TK"},
                              headers={"auth-token": "secret-token"}).respond_with_json(
        hourly_forecast("JP-TK", "2026-04-01T03:00:00Z", values))
    fc = provider(httpserver).fetch("JP-TK")
    assert fc.region == "JP-TK" and fc.slot_minutes == 30 and not fc.stale
    assert fc.slot_starts[0] == pd.Timestamp("2026-04-01T03:00Z")
    assert fc.end == pd.Timestamp("2026-04-01T07:00Z")
    np.testing.assert_array_equal(fc.carbon_gco2_per_kwh, np.repeat(values, 2))
    np.testing.assert_array_equal(fc.curtailment_mw, np.zeros(8))
    assert fc.issued_at == datetime(2026, 4, 1, 2, 53, 20, 794000, tzinfo=UTC)


def test_fetch_clips_to_the_requested_window(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v3/carbon-intensity/forecast").respond_with_json(
        hourly_forecast("JP-TK", "2026-04-01T03:00:00Z", [512.0, 498.0, 470.0, 455.0]))
    fc = provider(httpserver, slot_minutes=60).fetch(
        "JP-TK", datetime(2026, 4, 1, 4, tzinfo=UTC), datetime(2026, 4, 1, 6, tzinfo=UTC))
    assert list(fc.carbon_gco2_per_kwh) == [498.0, 470.0]


def test_history_built_from_the_v3_latest_sample_parses_with_its_own_fields(
        httpserver: HTTPServer, shared_data: Path) -> None:
    latest = json.loads((shared_data / SAMPLES / "v3_carbon-intensity_latest_FR_20230123.json")
                        .read_text(encoding="utf-8"))
    # /history returns a list of records shaped like /latest, one per hour
    history = []
    for h, value in enumerate([95, 99, latest["carbonIntensity"]]):
        rec = {k: v for k, v in latest.items() if k != "zone"}
        rec["datetime"] = f"2023-01-23T{15 + h}:00:00.000Z"
        rec["carbonIntensity"] = value
        history.append(rec)
    httpserver.expect_request("/v3/carbon-intensity/history", query_string={"zone": "FR"}
                              ).respond_with_json({"zone": "FR", "history": history})
    fc = provider(httpserver, slot_minutes=60).fetch_history("FR")
    assert list(fc.slot_starts) == list(pd.date_range("2023-01-23T15:00Z", periods=3, freq="h"))
    assert list(fc.carbon_gco2_per_kwh) == [95.0, 99.0, 103.0]
    assert fc.source == "electricitymaps:history"


def test_a_point_without_carbon_intensity_is_a_data_error_naming_the_field(
        httpserver: HTTPServer) -> None:
    body = hourly_forecast("JP-TK", "2026-04-01T03:00:00Z", [512.0, 498.0])
    del body["forecast"][1]["carbonIntensity"]
    httpserver.expect_request("/v3/carbon-intensity/forecast").respond_with_json(body)
    with pytest.raises(ProviderDataError) as err:
        provider(httpserver).fetch("JP-TK")
    assert err.value.field == "forecast[1].carbonIntensity"


def test_a_null_hour_in_history_is_reported_not_filled_in(httpserver: HTTPServer) -> None:
    body = {"zone": "JP-TK", "history": [
        {"datetime": "2026-04-01T00:00:00.000Z", "carbonIntensity": 480},
        {"datetime": "2026-04-01T01:00:00.000Z", "carbonIntensity": None},
        {"datetime": "2026-04-01T02:00:00.000Z", "carbonIntensity": 470},
    ]}
    httpserver.expect_request("/v3/carbon-intensity/history").respond_with_json(body)
    with pytest.raises(ProviderDataError, match="2026-04-01T01:00:00"):
        provider(httpserver, slot_minutes=60).fetch_history("JP-TK")


def test_a_time_without_offset_is_rejected(httpserver: HTTPServer) -> None:
    body = hourly_forecast("JP-TK", "2026-04-01T03:00:00Z", [512.0, 498.0])
    body["forecast"][0]["datetime"] = "2026-04-01T03:00:00"
    httpserver.expect_request("/v3/carbon-intensity/forecast").respond_with_json(body)
    with pytest.raises(ProviderDataError) as err:
        provider(httpserver).fetch("JP-TK")
    assert err.value.field == "forecast[0].datetime"


def test_a_rejected_token_is_an_auth_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v3/carbon-intensity/forecast").respond_with_data(
        '{"error": "Invalid auth-token"}', status=401)
    with pytest.raises(ProviderAuthError):
        provider(httpserver).fetch("JP-TK")
