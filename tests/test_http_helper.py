"""The shared HTTP helper against a real loopback server: retries, Retry-After, typed errors."""

from __future__ import annotations

import random
import socket
import threading
import time
from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from forecasts.providers.http import (
    HttpClient,
    HttpConfig,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderDataError,
    ProviderHTTPError,
    ProviderTimeout,
    parse_retry_after,
)

NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)


def make_client(sleeps: list[float], **cfg: float) -> HttpClient:
    config = HttpConfig(**{"jitter": 0.0, "backoff_base_s": 0.5, "max_attempts": 4,
                           "connect_timeout_s": 2.0, "read_timeout_s": 5.0, **cfg})
    return HttpClient("test", config, sleep=sleeps.append, clock=lambda: NOW)


def test_503_is_retried_with_exponential_backoff_then_succeeds(httpserver: HTTPServer) -> None:
    for _ in range(2):
        httpserver.expect_ordered_request("/data").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/data").respond_with_json({"ok": 1})
    sleeps: list[float] = []
    body = make_client(sleeps).get_json(httpserver.url_for("/data"))
    assert body == {"ok": 1}
    assert sleeps == [0.5, 1.0]
    assert len(httpserver.log) == 3


def test_retry_after_seconds_from_the_server_is_what_the_client_sleeps(
        httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/data").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "2"})
    httpserver.expect_ordered_request("/data").respond_with_json([1, 2])
    sleeps: list[float] = []
    assert make_client(sleeps).get_json(httpserver.url_for("/data")) == [1, 2]
    assert sleeps == [2.0]


def test_retry_after_as_http_date_counts_from_the_injected_clock_and_is_capped() -> None:
    in_30_s = "Wed, 01 Apr 2026 03:00:30 GMT"
    assert parse_retry_after(in_30_s, NOW, cap_s=120) == 30.0
    assert parse_retry_after(in_30_s, NOW, cap_s=10) == 10.0
    assert parse_retry_after("Wed, 01 Apr 2026 02:00:00 GMT", NOW, cap_s=120) == 0.0
    assert parse_retry_after("3600", NOW, cap_s=120) == 120.0
    assert parse_retry_after("soon", NOW, cap_s=120) is None
    assert parse_retry_after(None, NOW, cap_s=120) is None


def test_backoff_jitter_stays_between_half_and_full_delay() -> None:
    client = HttpClient("test", HttpConfig(jitter=0.5, backoff_base_s=1.0, backoff_max_s=8.0),
                        rng=random.Random(7))
    delays = [client.backoff_s(i) for i in range(6)]
    full = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert all(f / 2 <= d <= f for d, f in zip(delays, full, strict=True))
    assert len(set(delays)) == 6  # jittered, not constant


def test_exhausted_retries_on_503_raise_http_error_with_the_status(
        httpserver: HTTPServer) -> None:
    httpserver.expect_request("/data").respond_with_data("down", status=503)
    sleeps: list[float] = []
    with pytest.raises(ProviderHTTPError) as err:
        make_client(sleeps, max_attempts=3).get_json(httpserver.url_for("/data"))
    assert err.value.status == 503
    assert err.value.reason == "http_5xx"
    assert sleeps == [0.5, 1.0]
    assert len(httpserver.log) == 3


def test_a_read_slower_than_the_timeout_raises_provider_timeout(httpserver: HTTPServer) -> None:
    release = threading.Event()

    def slow(_request: Request) -> Response:
        release.wait(timeout=2.0)  # bounded: the test releases it right after the assertion
        return Response("late", status=200)

    httpserver.expect_request("/slow").respond_with_handler(slow)
    sleeps: list[float] = []
    client = make_client(sleeps, max_attempts=1, read_timeout_s=0.05)
    try:
        with pytest.raises(ProviderTimeout) as err:
            client.get_bytes(httpserver.url_for("/slow"))
    finally:
        release.set()
        # let the server finish (and log) the abandoned request before the next test
        # clears the shared server, so it cannot leak into that test's request log
        deadline = time.monotonic() + 2.0
        while not httpserver.log and time.monotonic() < deadline:
            time.sleep(0.01)
    assert err.value.reason == "timeout"
    assert "/slow" in str(err.value)


def test_401_raises_auth_error_at_once_without_retrying(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/data").respond_with_data("bad token", status=401)
    sleeps: list[float] = []
    with pytest.raises(ProviderAuthError) as err:
        make_client(sleeps).get_json(httpserver.url_for("/data"))
    assert err.value.status == 401
    assert err.value.reason == "auth"
    assert sleeps == []
    assert len(httpserver.log) == 1


def test_404_is_an_http_error_that_is_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/missing").respond_with_data("nope", status=404)
    sleeps: list[float] = []
    with pytest.raises(ProviderHTTPError) as err:
        make_client(sleeps).get_bytes(httpserver.url_for("/missing"))
    assert (err.value.status, err.value.reason, sleeps) == (404, "http_4xx", [])


def test_a_body_that_is_not_json_raises_data_error_naming_the_body(
        httpserver: HTTPServer) -> None:
    httpserver.expect_request("/data").respond_with_data('{"data": [1, 2,', status=200,
                                                         content_type="application/json")
    with pytest.raises(ProviderDataError) as err:
        make_client([]).get_json(httpserver.url_for("/data"))
    assert err.value.field == "<body>"
    assert "not valid JSON" in str(err.value)


def test_a_refused_connection_is_retried_then_raises_connection_error() -> None:
    with socket.socket() as sock:  # find a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(ProviderConnectionError) as err:
        make_client(sleeps, max_attempts=3).get_json(f"http://127.0.0.1:{port}/x")
    assert err.value.reason == "connection"
    assert sleeps == [0.5, 1.0]


def test_headers_params_and_the_user_agent_reach_the_server(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/q", query_string={"zone": "JP-TK"},
                              headers={"auth-token": "t0k"}).respond_with_json({"z": 1})
    client = make_client([])
    assert client.get_json(httpserver.url_for("/q"), params={"zone": "JP-TK"},
                           headers={"auth-token": "t0k"}) == {"z": 1}
    assert httpserver.log[0][0].headers["User-Agent"].startswith("wattbit/")
