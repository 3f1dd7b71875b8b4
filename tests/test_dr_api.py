"""The DR API over real HTTP on loopback: ΔkW curve, DR event round trip, persistence,
authentication, validation and idempotency."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests

from forecasts.csv_file import read_forecast_csv
from policies.jobs_file import read_jobs_csv
from policies.policy import load_policy
from policies.sites_file import read_sites_yaml
from scheduler.dr.api import MAX_BODY_BYTES, create_app
from scheduler.dr.capacity import delta_kw
from scheduler.dr.events import EventStore
from scheduler.dr.exporter import DrMetrics, publisher
from scheduler.dr.service import DrService
from tests.loopback import Served
from tests.prometheus_server import prometheus_scraping

EXAMPLES = Path(__file__).resolve().parents[1] / "simulations" / "examples"
TOKEN = "s3cret-token"
# Matsue can shed load from 12:00 to 15:00 JST on the example's first day
WINDOW = {"start": "2026-05-03T12:00:00+09:00", "end": "2026-05-03T15:00:00+09:00"}


def make_service(db: Path) -> DrService:
    return DrService(read_sites_yaml(EXAMPLES / "sites.yaml"),
                     read_jobs_csv(EXAMPLES / "jobs.csv"),
                     read_forecast_csv(EXAMPLES / "forecast.csv"), load_policy("min-carbon"),
                     EventStore(db))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, DrService, Path]]:
    db = tmp_path_factory.mktemp("dr") / "events.sqlite"
    service = make_service(db)
    srv = Served(create_app(service, TOKEN))
    yield srv.url, service, db
    srv.stop()


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_capacity_curve_and_blocks_match_the_model(served) -> None:
    url, service, _ = served
    r = requests.get(f"{url}/v1/dr/capacity", params={"site": "matsue", "window": 180,
                                                      "hours": 6, "every": 180}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["curve"]) == 2 and len(body["blocks"]) == 2
    cur = service.current
    s = service.site_index("matsue")
    for k, point in zip((0, 6), body["curve"], strict=True):
        assert point["down_kw"] == pytest.approx(delta_kw(cur.problem, cur.schedule, s, k, 6,
                                                          "down"))
        assert point["up_kw"] == pytest.approx(delta_kw(cur.problem, cur.schedule, s, k, 6,
                                                        "up"))


def test_region_capacity_and_its_errors(served) -> None:
    url, _, _ = served
    r = requests.get(f"{url}/v1/dr/capacity", params={"region": "chugoku", "window": 60,
                                                      "hours": 1, "every": 60}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == "region" and body["id"] == "chugoku" and len(body["curve"]) == 1
    for params, text in (({"window": 60}, "exactly one"),
                         ({"site": "matsue", "region": "chugoku"}, "exactly one"),
                         ({"region": "mars"}, "mars"), ({"site": "matsue", "window": 45}, "45")):
        r = requests.get(f"{url}/v1/dr/capacity", params=params, timeout=30)
        assert r.status_code == 422 and text in r.text, (params, r.text)


def test_event_round_trip_idempotent_and_persistent(served) -> None:
    url, service, db = served
    late_before = sum(jp.late for jp in service.current.plan.jobs)
    body = {"site": "matsue", "direction": "down", "kw": 40.0, "idempotency_key": "evt-1",
            **WINDOW}
    r = requests.post(f"{url}/v1/dr/events", json=body, headers=auth(), timeout=120)
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["kw_accepted"] == pytest.approx(40.0) and ev["reason"] == ""
    report = requests.get(f"{url}/v1/dr/events/{ev['id']}", timeout=30).json()
    assert len(report["slots"]) == 6
    for slot in report["slots"]:
        assert slot["planned_kw"] <= slot["baseline_kw"] - 40.0 + 1e-6
        assert slot["delivered_kw"] >= 40.0 - 1e-6
    assert sum(jp.late for jp in service.current.plan.jobs) <= late_before
    again = requests.post(f"{url}/v1/dr/events", json=body, headers=auth(), timeout=120)
    assert again.status_code == 200 and again.json()["id"] == ev["id"]
    assert len(service.store.all()) == 1
    # a restart keeps the event, and the next plan still honours it
    restarted = make_service(db)
    assert [e.id for e in restarted.store.all()] == [ev["id"]]
    _, slots = restarted.report(ev["id"])
    assert all(s["delivered_kw"] >= 40.0 - 1e-6 for s in slots)


def test_more_than_the_fleet_can_give_is_cut_with_a_reason(served) -> None:
    url, _, _ = served
    body = {"site": "shiroi", "direction": "down", "kw": 50_000.0,
            "idempotency_key": "evt-big", **WINDOW}
    r = requests.post(f"{url}/v1/dr/events", json=body, headers=auth(), timeout=120)
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["kw_accepted"] < 50_000.0 and "at most" in ev["reason"]


@pytest.mark.parametrize(("headers", "body", "status", "text"), [
    ({}, {"kw": 10.0}, 401, "bearer"),
    ({"Authorization": "Bearer wrong"}, {"kw": 10.0}, 401, "bearer"),
    (None, {"kw": -5.0}, 422, "kw"),
    (None, {"kw": 10.0, "colour": "red"}, 422, "colour"),
    (None, {"kw": 10.0, "start": "2026-05-03T12:00:00"}, 422, "start"),
    (None, {"kw": 10.0, "site": "atlantis"}, 422, "atlantis"),
    (None, {"kw": 10.0, "start": "2026-05-03T15:00:00+09:00"}, 422, "end"),
    (None, {"kw": 10.0, "start": "2030-01-01T00:00:00+09:00",
            "end": "2030-01-01T03:00:00+09:00"}, 422, "horizon"),
])
def test_bad_requests_change_nothing(served, headers, body, status, text) -> None:
    url, service, _ = served
    before = len(service.store.all())
    full = {"site": "matsue", "direction": "down", "idempotency_key": f"bad-{status}-{text}",
            **WINDOW, **body}
    r = requests.post(f"{url}/v1/dr/events", json=full,
                      headers=auth() if headers is None else headers, timeout=60)
    assert r.status_code == status, r.text
    assert text in r.text.lower()
    assert len(service.store.all()) == before


def test_oversized_body_is_refused(served) -> None:
    url, _, _ = served
    r = requests.post(f"{url}/v1/dr/events", data="x" * (MAX_BODY_BYTES + 1), headers={
        **auth(), "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413


def test_openapi_is_published(served) -> None:
    url, _, _ = served
    paths = requests.get(f"{url}/openapi.json", timeout=30).json()["paths"]
    assert {"/v1/dr/capacity", "/v1/dr/events", "/v1/dr/events/{event_id}"} <= set(paths)
    assert requests.get(f"{url}/v1/dr/events/nope", timeout=30).status_code == 404


def test_a_real_prometheus_scrapes_the_computed_capacity(tmp_path: Path) -> None:
    """`wattbit dr serve`'s app, as served: Prometheus scrapes /metrics, and its ΔkW and
    planned power equal what the service computes from the plan."""
    service = make_service(tmp_path / "events.sqlite")
    metrics = DrMetrics()
    service.on_replan = publisher(metrics, service)
    service.replan()
    want = {(r.scope, r.id, r.direction, str(r.window_minutes)): r.kw * 1000.0
            for r in service.capacity_now((30, 60, 180))}
    assert {k[0] for k in want} == {"site", "region"}
    for _ in range(600):  # the publisher computes ΔkW in its own thread
        if metrics.snapshot is not None and metrics.snapshot.capacity:
            break
        time.sleep(0.1)
    assert metrics.snapshot.capacity, "ΔkW never published"
    srv = Served(create_app(service, TOKEN, metrics=metrics))
    try:
        target = f"127.0.0.1:{srv.port}"
        with prometheus_scraping(target, tmp_path) as prom:
            got = {(m["metric"]["scope"], m["metric"]["id"], m["metric"]["direction"],
                    m["metric"]["window_minutes"]): float(m["value"][1])
                   for m in prom.query("wattbit_dr_capacity_watts")}
            assert got == pytest.approx(want), prom.log_text()
            assert any(v > 0 for v in got.values())
            power = {m["metric"]["site"]: float(m["value"][1])
                     for m in prom.query("wattbit_planned_facility_power_watts")}
            plan = service.current.plan
            assert power == pytest.approx({s.id: float(s.facility_kw[0]) * 1000.0
                                           for s in plan.sites})
    finally:
        srv.stop()


def test_delivery_against_a_meter_and_the_high_4_of_5_baseline(tmp_path: Path) -> None:
    """A metered Matsue: 100 kW on every earlier day, 20 kW measured during the event.
    Delivered = counterfactual baseline − measured; High 4 of 5 = 100 kW (the example's
    event day, Sun 3 May, is a holiday: compared with earlier weekends and holidays)."""
    idx = pd.date_range("2026-04-01T00:00:00+09:00", "2026-05-03T23:30:00+09:00",
                        freq="30min").tz_convert("UTC")
    kw = pd.Series(100.0, index=idx)
    start, end = (pd.Timestamp(WINDOW[k]).tz_convert("UTC") for k in ("start", "end"))
    kw[(idx >= start) & (idx < end)] = 20.0
    service = make_service(tmp_path / "events.sqlite")
    service.meter = {"matsue": kw}
    ev, created = service.post_event("matsue", "down", 30.0, start, end, "metered")
    assert created and ev.kw_accepted == pytest.approx(30.0)
    _, slots = service.report(ev.id)
    for s in slots:
        assert s["measured_kw"] == 20.0
        assert s["delivered_kw"] == pytest.approx(s["baseline_kw"] - 20.0)
        assert s["high4of5_baseline_kw"] == pytest.approx(100.0)
        assert s["delivered_vs_high4of5_kw"] == pytest.approx(80.0)


def test_an_unmetered_report_shows_unknowns_as_null(served) -> None:
    url, _, _ = served
    body = {"site": "kitakyushu", "direction": "down", "kw": 1.0, "idempotency_key": "nm",
            **WINDOW}
    r = requests.post(f"{url}/v1/dr/events", json=body, headers=auth(), timeout=120)
    assert r.status_code == 201, r.text
    slot = requests.get(f"{url}/v1/dr/events/{r.json()['id']}", timeout=30).json()["slots"][0]
    assert slot["measured_kw"] is None and slot["high4of5_baseline_kw"] is None
    assert slot["delivered_kw"] is not None
