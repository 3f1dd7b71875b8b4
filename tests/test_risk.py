"""Planning under uncertainty: by default the planner reads forecasts at their expected
value; a policy's `risk_quantile` makes it read carbon at that quantile and curtailment at
the opposite one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from forecasts.forecast import Forecast, at_quantile, expected_value
from inputs.errors import InputError
from policies.policy import parse_policy

IDX = pd.date_range("2026-05-01T00:00:00Z", periods=4, freq="30min")


def forecast(**quantiles: np.ndarray) -> Forecast:
    return Forecast("chugoku", IDX, 30, np.array([300.0, 300.0, 300.0, 300.0]),
                    np.array([50.0, 50.0, 0.0, np.nan]), quantiles=quantiles)


def test_carbon_at_q_and_curtailment_at_one_minus_q() -> None:
    fc = forecast(carbon_gco2_per_kwh_p90=np.array([400.0, 410.0, np.nan, 420.0]),
                  carbon_gco2_per_kwh_p10=np.array([200.0, 210.0, 220.0, 230.0]),
                  curtailment_mw_p10=np.array([10.0, 20.0, 0.0, 5.0]),
                  curtailment_mw_p90=np.array([90.0, 80.0, 1.0, 7.0]))
    averse = at_quantile(fc, 0.9)
    np.testing.assert_array_equal(averse.carbon_gco2_per_kwh, [400.0, 410.0, 300.0, 420.0])
    np.testing.assert_array_equal(averse.curtailment_mw, [10.0, 20.0, 0.0, 5.0])
    hopeful = at_quantile(fc, 0.1)
    np.testing.assert_array_equal(hopeful.carbon_gco2_per_kwh, [200.0, 210.0, 220.0, 230.0])
    np.testing.assert_array_equal(hopeful.curtailment_mw, [90.0, 80.0, 1.0, 7.0])
    # a quantile is read as certain, whatever chance the forecast gave its amount
    assert at_quantile(replace(fc, curtailment_probability=np.full(4, 0.3)),
                       0.1).curtailment_probability is None
    # no quantiles: the point values stand (NaN curtailment stays unknown)
    plain = at_quantile(forecast(), 0.9)
    np.testing.assert_array_equal(plain.carbon_gco2_per_kwh, fc.carbon_gco2_per_kwh)
    np.testing.assert_array_equal(plain.curtailment_mw, fc.curtailment_mw)


def test_the_expected_value_weighs_p10_p50_p90_by_swansons_rule() -> None:
    """0.3 · p10 + 0.4 · p50 + 0.3 · p90; a curtailment median of 0 with a p90 of 90 MW is
    27 MW expected, not nothing. Without both quantiles (or where one is NaN) the point
    value stands."""
    fc = forecast(carbon_gco2_per_kwh_p90=np.array([400.0, 410.0, np.nan, 420.0]),
                  carbon_gco2_per_kwh_p10=np.array([200.0, 210.0, 220.0, 230.0]),
                  curtailment_mw_p10=np.array([0.0, 20.0, 0.0, 5.0]),
                  curtailment_mw_p90=np.array([90.0, 80.0, 1.0, 7.0]))
    mean = expected_value(replace(fc, curtailment_mw=np.array([0.0, 50.0, 0.0, np.nan])))
    np.testing.assert_allclose(mean.carbon_gco2_per_kwh, [300.0, 306.0, 0.3 * 220 + 0.7 * 300,
                                                          315.0])
    # curtailment: the chance it curtails at all, and the mean amount when it does
    np.testing.assert_allclose(mean.curtailment_probability, [0.3, 1.0, 0.3, np.nan])
    np.testing.assert_allclose(mean.curtailment_mw, [90.0, 50.0, 1.0, np.nan])
    np.testing.assert_allclose(mean.curtailment_probability * mean.curtailment_mw,
                               [27.0, 50.0, 0.3, np.nan])
    quiet = expected_value(forecast(curtailment_mw_p10=np.zeros(4),
                                    curtailment_mw_p90=np.zeros(4)))
    np.testing.assert_allclose(quiet.curtailment_probability[:3], [0.4, 0.4, 0.0])
    np.testing.assert_allclose(quiet.curtailment_mw[:3], [50.0, 50.0, 0.0])
    plain = expected_value(forecast(curtailment_mw_p90=np.ones(4)))
    np.testing.assert_array_equal(plain.curtailment_mw, forecast().curtailment_mw)
    np.testing.assert_array_equal(plain.carbon_gco2_per_kwh, forecast().carbon_gco2_per_kwh)


def test_selecting_slots_keeps_the_chance_with_its_amount() -> None:
    """`Forecast.select` (the simulator's windows, the providers' clipping) cuts every
    series, the chance of curtailing among them, and the quantiles alike."""
    fc = expected_value(forecast(curtailment_mw_p10=np.zeros(4),
                                 curtailment_mw_p90=np.array([90.0, 80.0, 1.0, 7.0])))
    part = fc.select(np.array([False, True, True, False]))
    assert list(part.slot_starts) == list(IDX[1:3])
    np.testing.assert_allclose(part.curtailment_probability, fc.curtailment_probability[1:3])
    np.testing.assert_allclose(part.curtailment_mw, fc.curtailment_mw[1:3])
    np.testing.assert_allclose(part.quantiles["curtailment_mw_p90"], [80.0, 1.0])


@pytest.mark.parametrize(("value", "ok"), [(0.5, True), (0.9, True), (0.1, True),
                                           ("mean", True), (0.75, False), (1.5, False),
                                           ("high", False)])
def test_policy_risk_quantile(value: object, ok: bool) -> None:
    doc = {"name": "p", "risk_quantile": value}
    if ok:
        expected = None if value == "mean" else value
        assert parse_policy("p.yaml", doc).risk_quantile == expected
    else:
        with pytest.raises(InputError,
                           match=r"risk_quantile.*must be mean or one of 0\.1, 0\.5, 0\.9"):
            parse_policy("p.yaml", doc)


def test_the_planner_plans_on_the_quantile() -> None:
    """Matsue is cleaner on the median but may be much dirtier (wide p90: expected 405
    against 400 gCO2/kWh); Shiroi is certain. A median planner picks Matsue; a risk-averse
    one (0.9) and the default, risk-neutral one (expected value) pick Shiroi."""
    from datetime import UTC, datetime

    from policies.job import Job
    from policies.policy import Policy
    from policies.site import PueModel, Site
    from scheduler.core.planner import PlanConfig, Planner

    idx = pd.date_range("2026-05-01T00:00:00Z", periods=8, freq="30min")
    n = len(idx)
    fcs = {"chugoku": Forecast("chugoku", idx, 30, np.full(n, 300.0), np.zeros(n),
                               quantiles={"carbon_gco2_per_kwh_p90": np.full(n, 700.0),
                                          "carbon_gco2_per_kwh_p10": np.full(n, 250.0)}),
           "tokyo": Forecast("tokyo", idx, 30, np.full(n, 400.0), np.zeros(n))}
    sites = [Site("matsue", "chugoku", gpus=8, power_cap_kw=50, pue=PueModel(1.3)),
             Site("shiroi", "tokyo", gpus=8, power_cap_kw=50, pue=PueModel(1.3), home=True)]
    start = datetime(2026, 5, 1, tzinfo=UTC)
    job = Job("j", 4, 0.7, 1.0, start, datetime(2026, 5, 1, 4, tzinfo=UTC))
    chosen = {}
    for q in (0.5, 0.9, None):
        planner = Planner(sites, Policy(risk_quantile=q), PlanConfig(deterministic=True))
        chosen[q] = planner.replan(start, [job], fcs).job("j").site
    assert chosen == {0.5: "matsue", 0.9: "shiroi", None: "shiroi"}


def test_a_site_that_may_curtail_counts_the_zero_carbon_energy_to_expect() -> None:
    """Matsue's grid is dirtier (600 against 400 gCO2/kWh) unless Chugoku curtails, and
    its share of the curtailment if it does (100 kW) would cover the job 27 times over.
    Curtailing with chance 0.3 (only the p90 is above 0), the job's energy there is
    zero-carbon with chance 0.3 — 420 gCO2/kWh to expect, so the job stays at Shiroi.
    Reading the expected curtailment (30 MW: 30 kW for Matsue) as certain made all of its
    energy zero-carbon and sent it to Matsue. With chance 0.7 (the median curtails too) it
    expects 180 gCO2/kWh at Matsue and goes."""
    from datetime import UTC, datetime

    from policies.job import Job
    from policies.policy import Policy
    from policies.site import PueModel, Site
    from scheduler.core.planner import PlanConfig, Planner

    idx = pd.date_range("2026-05-01T00:00:00Z", periods=8, freq="30min")
    n = len(idx)
    sites = [Site("matsue", "chugoku", gpus=8, power_cap_kw=50, pue=PueModel(1.3),
                  curtailment_share=0.001),
             Site("shiroi", "tokyo", gpus=8, power_cap_kw=50, pue=PueModel(1.3), home=True)]
    start = datetime(2026, 5, 1, tzinfo=UTC)
    job = Job("j", 4, 0.7, 1.0, start, datetime(2026, 5, 1, 4, tzinfo=UTC))
    chosen = {}
    for median in (0.0, 100.0):
        chugoku = Forecast("chugoku", idx, 30, np.full(n, 600.0), np.full(n, median),
                           quantiles={"curtailment_mw_p10": np.zeros(n),
                                      "curtailment_mw_p90": np.full(n, 100.0)})
        fcs = {"chugoku": chugoku, "tokyo": Forecast("tokyo", idx, 30, np.full(n, 400.0),
                                                     np.zeros(n))}
        planner = Planner(sites, Policy(), PlanConfig(deterministic=True))
        chosen[median] = planner.replan(start, [job], fcs).job("j").site
    assert chosen == {0.0: "shiroi", 100.0: "matsue"}
