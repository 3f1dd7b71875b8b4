"""Carbon Aware SDK Web API provider: current and batch forecasts from the docs' samples."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from forecasts.providers.carbon_aware_sdk import CarbonAwareSdkConfig, CarbonAwareSdkProvider
from forecasts.providers.http import HttpClient, HttpConfig, ProviderDataError

SAMPLE = Path("grid/api_samples/carbon_aware_sdk/emissions_forecasts_current_response.example.txt")


def provider(httpserver: HTTPServer, slot_minutes: int = 30) -> CarbonAwareSdkProvider:
    cfg = CarbonAwareSdkConfig(base_url=httpserver.url_for(""), slot_minutes=slot_minutes)
    client = HttpClient("carbon-aware-sdk", HttpConfig(max_attempts=1), sleep=lambda s: None)
    return CarbonAwareSdkProvider(cfg, client)


def current_sample(shared_data: Path) -> list[dict[str, Any]]:
    """The docs' example with its `...` elision line removed (then it is valid JSON)."""
    text = (shared_data / SAMPLE).read_text(encoding="utf-8")
    doc: list[dict[str, Any]] = json.loads(re.sub(r"\n\s*\.\.\.\s*\n", "\n", text))
    return doc


def with_points(item: dict[str, Any], start: str, values: list[float],
                minutes: int) -> dict[str, Any]:
    times = pd.date_range(start, periods=len(values), freq=f"{minutes}min")
    return {**item, "forecastData": [
        {"location": "IE", "timestamp": t.isoformat(), "duration": minutes, "value": v}
        for t, v in zip(times, values, strict=True)]}


def test_sample_header_with_ten_minute_points_parses_to_utc_slots(
        httpserver: HTTPServer, shared_data: Path) -> None:
    item = current_sample(shared_data)[0]
    first = item["forecastData"][0]
    assert (first["timestamp"], first["duration"]) == ("2022-07-19T14:00:00+00:00", 10)
    values = [first["value"], 520.0, 510.0, 500.0, 490.0, 480.0]
    body = [with_points(item, first["timestamp"], values, 10)]
    httpserver.expect_request("/emissions/forecasts/current",
                              query_string={"location": "northeurope"}).respond_with_json(body)
    fc = provider(httpserver).fetch("northeurope")
    assert fc.region == "northeurope"
    assert list(fc.slot_starts) == [pd.Timestamp("2022-07-19T14:00Z"),
                                    pd.Timestamp("2022-07-19T14:30Z")]
    np.testing.assert_allclose(fc.carbon_gco2_per_kwh,
                               [np.mean(values[:3]), np.mean(values[3:])])
    assert fc.issued_at == datetime(2022, 7, 19, 13, 35, tzinfo=UTC)  # generatedAt


def test_the_sample_as_printed_has_a_14_hour_hole_which_is_reported_not_filled(
        httpserver: HTTPServer, shared_data: Path) -> None:
    httpserver.expect_request("/emissions/forecasts/current").respond_with_json(
        current_sample(shared_data))
    with pytest.raises(ProviderDataError, match="2022-07-19T14:30:00"):
        provider(httpserver).fetch("northeurope")


def test_window_is_sent_as_data_start_and_end(httpserver: HTTPServer,
                                              shared_data: Path) -> None:
    item = current_sample(shared_data)[0]
    body = [with_points(item, "2022-07-19T14:00:00+00:00", [500.0] * 12, 10)]
    start, end = datetime(2022, 7, 19, 14, tzinfo=UTC), datetime(2022, 7, 19, 15, tzinfo=UTC)
    httpserver.expect_request("/emissions/forecasts/current", query_string={
        "location": "northeurope", "dataStartAt": start.isoformat(),
        "dataEndAt": end.isoformat()}).respond_with_json(body)
    fc = provider(httpserver).fetch("northeurope", start, end)
    assert len(fc.slot_starts) == 2


def test_batch_request_body_follows_the_sample_request(httpserver: HTTPServer,
                                                       shared_data: Path) -> None:
    sample_req = json.loads((shared_data / "grid/api_samples/carbon_aware_sdk/"
                             "emissions_forecasts_batch_request.json").read_text("utf-8"))
    assert set(sample_req[0]) >= {"location", "dataStartAt", "dataEndAt", "requestedAt"}
    requested = datetime(2022, 6, 1, 12, 1, tzinfo=UTC)
    start, end = datetime(2022, 6, 1, 14, tzinfo=UTC), datetime(2022, 6, 1, 18, tzinfo=UTC)
    expected_body = [{"location": "eastus", "requestedAt": requested.isoformat(),
                      "dataStartAt": start.isoformat(), "dataEndAt": end.isoformat()}]
    answer = [with_points({"generatedAt": "2022-06-01T12:00:00+00:00", "location": "eastus",
                           "requestedAt": "2022-06-01T12:01:00"},
                          "2022-06-01T14:00:00+00:00", [448.0] * 48, 5)]
    httpserver.expect_request("/emissions/forecasts/batch", method="POST",
                              json=expected_body).respond_with_json(answer)
    fc = provider(httpserver, slot_minutes=60).fetch_issued_at("eastus", requested, start, end)
    assert list(fc.carbon_gco2_per_kwh) == [448.0] * 4
    assert fc.slot_starts[0] == pd.Timestamp("2022-06-01T14:00Z")


def test_an_empty_answer_is_a_data_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/emissions/forecasts/current").respond_with_json([])
    with pytest.raises(ProviderDataError) as err:
        provider(httpserver).fetch("eastus")
    assert err.value.field == "<body>"


def test_a_point_without_duration_names_the_field(httpserver: HTTPServer,
                                                  shared_data: Path) -> None:
    item = with_points(current_sample(shared_data)[0], "2022-07-19T14:00:00+00:00",
                       [500.0, 501.0], 10)
    del item["forecastData"][0]["duration"]
    httpserver.expect_request("/emissions/forecasts/current").respond_with_json([item])
    with pytest.raises(ProviderDataError) as err:
        provider(httpserver).fetch("northeurope")
    assert err.value.field == "[0].forecastData[0].duration"
