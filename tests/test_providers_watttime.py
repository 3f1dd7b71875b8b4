"""WattTime v3 provider: login, bearer token, re-login on 401, lbs/MWh → gCO2/kWh, 5-min → slots."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from forecasts.providers.http import HttpClient, HttpConfig, ProviderAuthError, ProviderDataError
from forecasts.providers.watttime import (
    G_PER_KWH_PER_LBS_PER_MWH,
    WattTimeConfig,
    WattTimeProvider,
    lbs_per_mwh_to_g_per_kwh,
)

LEGACY_SAMPLE = Path("grid/api_samples/watttime/v2_data_CAISO_NORTH_MOER_20190221_legacy.json")
BASIC = "Basic " + base64.b64encode(b"alice:pw").decode()


def provider(httpserver: HTTPServer, slot_minutes: int = 15,
             signals: tuple[str, ...] = ("co2_moer",)) -> WattTimeProvider:
    cfg = WattTimeConfig(username="alice", password="pw", base_url=httpserver.url_for(""),
                         signal_types=signals, slot_minutes=slot_minutes)
    client = HttpClient("watttime", HttpConfig(max_attempts=1), sleep=lambda s: None)
    return WattTimeProvider(cfg, client)


def v3_body(points: list[tuple[str, float]], signal: str = "co2_moer") -> dict[str, Any]:
    return {
        "data": [{"point_time": t, "value": v, "version": "3.2-1.0.0"} for t, v in points],
        "meta": {"region": "CAISO_NORTH", "signal_type": signal, "units": "lbs_co2_per_mwh",
                 "generated_at": "2019-02-21T00:00:00+00:00", "data_point_period_seconds": 300,
                 "generated_at_period_seconds": 300, "model": {"date": "2023-03-01"},
                 "warnings": []},
    }


def legacy_points(shared_data: Path) -> list[tuple[str, float]]:
    """The v2 sample's (point_time, lbs/MWh) pairs, oldest first, re-used as v3 points."""
    rows = json.loads((shared_data / LEGACY_SAMPLE).read_text(encoding="utf-8"))
    return sorted((r["point_time"], float(r["value"])) for r in rows)


def test_lbs_per_mwh_conversion_uses_the_exact_pound() -> None:
    assert abs(G_PER_KWH_PER_LBS_PER_MWH - 0.45359237) < 1e-12
    assert lbs_per_mwh_to_g_per_kwh(np.array([1000.0]))[0] == pytest.approx(453.59237)


def test_moer_points_from_the_sample_are_averaged_onto_15_minute_slots(
        httpserver: HTTPServer, shared_data: Path) -> None:
    points = legacy_points(shared_data)  # 00:00 927, 00:05 1019, 00:10 1050, 00:15 1062
    assert [v for _, v in points] == [927.0, 1019.0, 1050.0, 1062.0]
    httpserver.expect_request("/login", headers={"Authorization": BASIC}).respond_with_json(
        {"token": "tok-1"})
    httpserver.expect_request(
        "/v3/forecast", query_string={"region": "CAISO_NORTH", "signal_type": "co2_moer"},
        headers={"Authorization": "Bearer tok-1"}).respond_with_json(v3_body(points))
    fc = provider(httpserver).fetch("CAISO_NORTH")
    assert list(fc.slot_starts) == [pd.Timestamp("2019-02-21T00:00Z"),
                                    pd.Timestamp("2019-02-21T00:15Z")]
    expected = np.array([(927 + 1019 + 1050) / 3, 1062.0]) * 0.45359237
    np.testing.assert_allclose(fc.marginal_gco2_per_kwh, expected)
    np.testing.assert_allclose(fc.carbon_gco2_per_kwh, expected)  # no AOER asked: carbon = MOER
    assert "carbon = MOER" in fc.source
    assert fc.issued_at is not None and fc.issued_at.isoformat() == "2019-02-21T00:00:00+00:00"


def test_moer_and_aoer_fill_marginal_and_average_carbon(httpserver: HTTPServer) -> None:
    times = pd.date_range("2026-04-01T00:00Z", periods=12, freq="5min")
    moer = [(t.isoformat(), 900.0 + i) for i, t in enumerate(times)]
    aoer = [(t.isoformat(), 600.0) for t in times]
    httpserver.expect_request("/login").respond_with_json({"token": "tok"})
    httpserver.expect_request("/v3/forecast", query_string={
        "region": "CAISO_NORTH", "signal_type": "co2_moer"}).respond_with_json(v3_body(moer))
    httpserver.expect_request("/v3/forecast", query_string={
        "region": "CAISO_NORTH", "signal_type": "co2_aoer"}).respond_with_json(
        v3_body(aoer, "co2_aoer"))
    fc = provider(httpserver, slot_minutes=30, signals=("co2_moer", "co2_aoer")).fetch(
        "CAISO_NORTH")
    np.testing.assert_allclose(fc.marginal_gco2_per_kwh, np.array([902.5, 908.5]) * 0.45359237)
    np.testing.assert_allclose(fc.carbon_gco2_per_kwh, [600 * 0.45359237] * 2)
    assert "carbon = MOER" not in fc.source


def test_an_expired_token_triggers_one_fresh_login(httpserver: HTTPServer) -> None:
    body = v3_body([("2026-04-01T00:00:00+00:00", 1000.0), ("2026-04-01T00:05:00+00:00", 800.0)])
    httpserver.expect_ordered_request("/login").respond_with_json({"token": "old"})
    httpserver.expect_ordered_request("/v3/forecast", headers={
        "Authorization": "Bearer old"}).respond_with_data("expired", status=401)
    httpserver.expect_ordered_request("/login").respond_with_json({"token": "new"})
    httpserver.expect_ordered_request("/v3/forecast", headers={
        "Authorization": "Bearer new"}).respond_with_json(body)
    fc = provider(httpserver).fetch("CAISO_NORTH")
    assert fc.marginal_gco2_per_kwh is not None
    assert fc.marginal_gco2_per_kwh[0] == pytest.approx(900 * 0.45359237)
    httpserver.check_assertions()


def test_a_second_401_after_relogin_is_an_auth_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/login").respond_with_json({"token": "tok"})
    httpserver.expect_request("/v3/forecast").respond_with_data("no access", status=403)
    with pytest.raises(ProviderAuthError):
        provider(httpserver).fetch("CAISO_NORTH")
    assert sum(r.path == "/login" for r, _ in httpserver.log) == 2


def test_unknown_units_are_a_data_error_naming_meta_units(httpserver: HTTPServer) -> None:
    body = v3_body([("2026-04-01T00:00:00+00:00", 1.0)])
    body["meta"]["units"] = "kg_co2_per_mwh"
    httpserver.expect_request("/login").respond_with_json({"token": "tok"})
    httpserver.expect_request("/v3/forecast").respond_with_json(body)
    with pytest.raises(ProviderDataError) as err:
        provider(httpserver).fetch("CAISO_NORTH")
    assert err.value.field == "meta.units"


def test_a_login_answer_without_token_is_a_data_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/login").respond_with_json({"access": "x"})
    with pytest.raises(ProviderDataError) as err:
        provider(httpserver).fetch("CAISO_NORTH")
    assert err.value.field == "token"


def test_health_damage_is_not_accepted_as_a_carbon_signal() -> None:
    with pytest.raises(ValueError, match="health_damage"):
        WattTimeConfig(username="a", password="b", signal_types=("health_damage",))
