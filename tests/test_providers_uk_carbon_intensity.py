"""GB Carbon Intensity provider: national and regional fw48h served from the docs' samples."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from forecasts.providers.http import HttpClient, HttpConfig, ProviderDataError, ProviderHTTPError
from forecasts.providers.uk_carbon_intensity import (
    UkCarbonIntensityConfig,
    UkCarbonIntensityProvider,
)
from inputs.errors import InputError

SAMPLES = Path("grid/api_samples/uk_carbon_intensity")
FROM = datetime(2018, 1, 20, 12, 0, tzinfo=UTC)


def provider(httpserver: HTTPServer) -> UkCarbonIntensityProvider:
    cfg = UkCarbonIntensityConfig(base_url=httpserver.url_for(""))
    client = HttpClient("uk-carbon-intensity", HttpConfig(max_attempts=1), sleep=lambda s: None)
    return UkCarbonIntensityProvider(cfg, client, clock=lambda: FROM)


def regional_sample(shared_data: Path) -> dict[str, Any]:
    """The docs' regionid example, made valid JSON (the docs miss a comma after `intensity`)."""
    text = (shared_data / SAMPLES / "regional_intensity_from_fw48h_regionid.example.txt"
            ).read_text(encoding="utf-8")
    fixed = re.sub(r"(\"index\": \"[a-z ]+\"\s*\n\s*\})(\s*\n\s*\"generationmix\")", r"\1,\2",
                   text)
    doc: dict[str, Any] = json.loads(fixed)
    return doc


def test_national_sample_parses_to_one_utc_half_hour(httpserver: HTTPServer,
                                                    shared_data: Path) -> None:
    body = json.loads((shared_data / SAMPLES / "intensity_from_fw48h.json").read_text("utf-8"))
    httpserver.expect_request("/intensity/2018-01-20T12:00Z/fw48h").respond_with_json(body)
    fc = provider(httpserver).fetch("GB")
    assert list(fc.slot_starts) == [pd.Timestamp("2018-01-20T12:00Z")]
    assert fc.slot_minutes == 30
    assert list(fc.carbon_gco2_per_kwh) == [266.0]  # the forecast, not the actual (263)
    assert fc.source == "uk-carbon-intensity:national"


def test_regional_sample_in_the_live_shape_parses_every_period(
        httpserver: HTTPServer, shared_data: Path) -> None:
    doc = regional_sample(shared_data)
    region = doc["data"][0]
    period = region["data"][0]
    periods = []
    for i, value in enumerate([266, 250, 231, 240]):
        p = copy.deepcopy(period)
        start = pd.Timestamp("2018-01-20T12:00Z") + pd.Timedelta(minutes=30 * i)
        p["from"] = start.strftime("%Y-%m-%dT%H:%MZ")
        p["to"] = (start + pd.Timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ")
        p["intensity"]["forecast"] = value
        periods.append(p)
    live = {"data": {**{k: v for k, v in region.items() if k != "data"}, "data": periods}}
    httpserver.expect_request("/regional/intensity/2018-01-20T12:00Z/fw48h/regionid/3"
                              ).respond_with_json(live)
    fc = provider(httpserver).fetch("GB-3")
    assert fc.region == "GB-3"
    assert fc.slot_starts[0] == pd.Timestamp("2018-01-20T12:00Z")
    assert fc.end == pd.Timestamp("2018-01-20T14:00Z")
    np.testing.assert_array_equal(fc.carbon_gco2_per_kwh, [266, 250, 231, 240])


def test_regional_docs_shape_with_a_list_is_accepted_too(httpserver: HTTPServer,
                                                        shared_data: Path) -> None:
    httpserver.expect_request("/regional/intensity/2018-01-20T12:00Z/fw48h/regionid/3"
                              ).respond_with_json(regional_sample(shared_data))
    fc = provider(httpserver).fetch("GB-3")
    assert list(fc.carbon_gco2_per_kwh) == [266.0]


def test_start_sets_the_from_path_and_end_clips(httpserver: HTTPServer) -> None:
    data = [{"from": t.strftime("%Y-%m-%dT%H:%MZ"), "to": "", "intensity": {
        "forecast": 100 + i, "actual": None, "index": "low"}}
        for i, t in enumerate(pd.date_range("2026-04-01T00:00Z", periods=6, freq="30min"))]
    httpserver.expect_request("/intensity/2026-04-01T00:00Z/fw48h").respond_with_json(
        {"data": data})
    fc = provider(httpserver).fetch("GB", datetime(2026, 4, 1, tzinfo=UTC),
                                    datetime(2026, 4, 1, 2, tzinfo=UTC))
    assert list(fc.carbon_gco2_per_kwh) == [100, 101, 102, 103]


def test_a_missing_forecast_value_names_the_field(httpserver: HTTPServer,
                                                  shared_data: Path) -> None:
    body = json.loads((shared_data / SAMPLES / "intensity_from_fw48h.json").read_text("utf-8"))
    del body["data"][0]["intensity"]["forecast"]
    httpserver.expect_request("/intensity/2018-01-20T12:00Z/fw48h").respond_with_json(body)
    with pytest.raises(ProviderDataError) as err:
        provider(httpserver).fetch("GB")
    assert err.value.field == "data[0].intensity.forecast"


def test_the_documented_400_error_body_becomes_an_http_error(httpserver: HTTPServer,
                                                            shared_data: Path) -> None:
    body = (shared_data / SAMPLES / "error_400.json").read_text("utf-8")
    httpserver.expect_request("/intensity/2018-01-20T12:00Z/fw48h").respond_with_data(
        body, status=400, content_type="application/json")
    with pytest.raises(ProviderHTTPError) as err:
        provider(httpserver).fetch("GB")
    assert err.value.status == 400 and "Bad Request" in str(err.value)


def test_an_unknown_region_is_an_input_error_before_any_request(httpserver: HTTPServer) -> None:
    with pytest.raises(InputError, match="GB-18"):
        provider(httpserver).fetch("GB-18")
    with pytest.raises(InputError, match="'UK'"):
        provider(httpserver).fetch("UK")
    assert httpserver.log == []
