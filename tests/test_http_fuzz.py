"""Fuzzing the HTTP services over real loopback HTTP: no body, however odd, makes the
extender or the DR API answer 5xx (hypothesis draws JSON documents, including ones shaped
like the real requests with wrong types inside)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.dr.api import create_app as dr_app
from scheduler.extender.http import create_app as extender_app
from tests.loopback import Served
from tests.test_dr_api import TOKEN, make_service
from tests.test_extender import extender

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=20)
ARGS_LIKE = st.fixed_dictionaries({"Pod": JSON, "Nodes": JSON, "NodeNames": JSON})
EVENT_LIKE = st.fixed_dictionaries({
    "site": JSON, "direction": JSON, "kw": JSON, "start": JSON, "end": JSON,
    "idempotency_key": JSON})
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def urls(tmp_path_factory: pytest.TempPathFactory, k8s_fixtures: Path):
    ext = Served(extender_app(extender(k8s_fixtures, planned=False)))
    dr = Served(dr_app(make_service(tmp_path_factory.mktemp("fz") / "e.sqlite"), TOKEN))
    yield ext.url, dr.url
    ext.stop()
    dr.stop()




@FUZZ
@given(body=JSON | ARGS_LIKE)
def test_extender_never_answers_5xx(urls, body) -> None:
    url, _ = urls
    for verb in ("filter", "prioritize"):
        r = requests.post(f"{url}/{verb}", data=json.dumps(body),
                          headers={"Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 200, (verb, body, r.text)


@FUZZ
@given(body=JSON | EVENT_LIKE)
def test_dr_api_never_answers_5xx(urls, body) -> None:
    _, url = urls
    r = requests.post(f"{url}/v1/dr/events", data=json.dumps(body), timeout=60,
                      headers={"Content-Type": "application/json",
                               "Authorization": f"Bearer {TOKEN}"})
    assert r.status_code < 500, (body, r.text)
