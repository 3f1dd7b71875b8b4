"""jp-tso provider: the TSOs' current area files served from the shared samples on loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from forecasts.providers.http import HttpClient, HttpConfig, ProviderDataError, ProviderHTTPError
from forecasts.providers.jp_tso import TSO_SOURCES, JpTsoConfig, JpTsoProvider
from inputs.errors import InputError

SAMPLES = Path("grid/jp_area_supply_demand/format_samples_2026")


def provider(httpserver: HTTPServer, now: datetime) -> JpTsoProvider:
    client = HttpClient("jp-tso", HttpConfig(max_attempts=1), sleep=lambda s: None)
    return JpTsoProvider(JpTsoConfig(base_url=httpserver.url_for("/files")), client,
                         clock=lambda: now)


def serve(httpserver: HTTPServer, shared_data: Path, name: str, as_name: str | None = None) -> None:
    body = (shared_data / SAMPLES / name).read_bytes()
    httpserver.expect_request(f"/files/{as_name or name}").respond_with_data(
        body, content_type="text/csv")


def test_the_month_is_taken_in_jst_and_tokyo_follows_tepcos_published_pattern() -> None:
    p = JpTsoProvider(clock=lambda: datetime(2026, 3, 31, 16, 0, tzinfo=UTC))  # 01:00 JST 1 Apr
    assert p.candidate_urls("tokyo") == [
        "https://www.tepco.co.jp/forecast/html/images/eria_jukyu_202604_03.csv",
        "https://www.tepco.co.jp/forecast/html/images/eria_jukyu_202603_03.csv",
    ]
    assert [s.code for s in TSO_SOURCES.values()] == [f"{i:02d}" for i in range(1, 11)]
    assert all(s.monthly_url.endswith(f"eria_jukyu_{{yyyymm}}_{s.code}.csv")
               for s in TSO_SOURCES.values())


def test_current_chugoku_file_is_downloaded_and_parsed_to_utc(
        httpserver: HTTPServer, shared_data: Path) -> None:
    serve(httpserver, shared_data, "eria_jukyu_202604_07.csv")
    tidy = provider(httpserver, datetime(2026, 4, 2, 3, 0, tzinfo=UTC)).fetch_tidy("chugoku")
    assert len(tidy) == 100
    assert set(tidy["area"]) == {"chugoku"}
    assert tidy["time_utc"].iloc[0] == pd.Timestamp("2026-03-31T15:00Z")  # 1 Apr 00:00 JST
    assert tidy["demand_mw"].iloc[0] == 5201.0
    assert tidy["coal_mw"].iloc[0] == 3750.0


def test_at_the_start_of_a_month_a_404_falls_back_to_last_month(
        httpserver: HTTPServer, shared_data: Path) -> None:
    httpserver.expect_request("/files/eria_jukyu_202605_07.csv").respond_with_data(
        "Not Found", status=404)
    serve(httpserver, shared_data, "eria_jukyu_202604_07.csv")
    now = datetime(2026, 4, 30, 15, 30, tzinfo=UTC)  # 1 May 00:30 JST
    tidy = provider(httpserver, now).fetch_tidy("chugoku")
    assert len(tidy) == 100
    assert [r.path for r, _ in httpserver.log] == ["/files/eria_jukyu_202605_07.csv",
                                                  "/files/eria_jukyu_202604_07.csv"]


def test_tohoku_uses_todays_realtime_file_while_the_monthly_one_lags(
        httpserver: HTTPServer, shared_data: Path) -> None:
    httpserver.expect_request("/files/eria_jukyu_202604_02.csv").respond_with_data(
        "Not Found", status=404)
    serve(httpserver, shared_data, "realtime_jukyu_20260415_02.csv")
    now = datetime(2026, 4, 15, 13, 0, tzinfo=UTC)  # 22:00 JST
    tidy = provider(httpserver, now).fetch_tidy("tohoku")
    assert tidy["time_utc"].iloc[0] == pd.Timestamp("2026-04-14T15:00Z")
    assert tidy["time_utc"].iloc[-1] == pd.Timestamp("2026-04-15T12:00Z")  # empty rest dropped


def test_kyushu_fetch_gives_a_forecast_with_midday_curtailment(
        httpserver: HTTPServer, shared_data: Path) -> None:
    serve(httpserver, shared_data, "eria_jukyu_202604_09.csv")
    p = provider(httpserver, datetime(2026, 4, 3, 0, 0, tzinfo=UTC))
    fc = p.fetch("kyushu", datetime(2026, 4, 2, 0, tzinfo=UTC), datetime(2026, 4, 2, 9, tzinfo=UTC))
    assert fc.region == "kyushu" and fc.slot_minutes == 30 and len(fc.slot_starts) == 18
    peak = fc.slot_starts[int(np.argmax(fc.curtailment_mw))]
    assert peak == pd.Timestamp("2026-04-02T03:30Z")  # 12:30 JST (the file labels slot ends)
    assert fc.curtailment_mw.max() == 3138.0
    assert 100 < fc.carbon_gco2_per_kwh.min() < fc.carbon_gco2_per_kwh.max() < 700


def test_a_file_the_parser_does_not_recognise_is_a_provider_data_error(
        httpserver: HTTPServer) -> None:
    httpserver.expect_request("/files/eria_jukyu_202604_07.csv").respond_with_data(
        "<html><body>メンテナンス中</body></html>", content_type="text/html")
    with pytest.raises(ProviderDataError) as err:
        provider(httpserver, datetime(2026, 4, 2, tzinfo=UTC)).fetch_tidy("chugoku")
    assert "eria_jukyu_202604_07.csv" in str(err.value)


def test_a_server_error_is_not_mistaken_for_a_missing_month(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/files/eria_jukyu_202604_07.csv").respond_with_data(
        "oops", status=503)
    with pytest.raises(ProviderHTTPError) as err:
        provider(httpserver, datetime(2026, 4, 2, tzinfo=UTC)).fetch_tidy("chugoku")
    assert err.value.status == 503
    assert len(httpserver.log) == 1


def test_an_unknown_area_is_an_input_error() -> None:
    with pytest.raises(InputError, match="'kanto'"):
        JpTsoProvider().candidate_urls("kanto")
