"""No forecast issued at τ may use data observed after τ: spoil everything after τ and
check that the features, quantiles and event probabilities for τ's delivery day stay the same."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from forecasts.models import (
    DAY_AHEAD,
    INTRADAY,
    IssueRule,
    ModelConfig,
    fit_quantile_model,
    predict,
)
from forecasts.models.backtest import rolling_forecast
from forecasts.models.features import TARGETS, add_targets, build_features, regular_frame
from forecasts.models.quantile_model import predict_event_probability
from forecasts.synthetic.grid import synthetic_area

JST = timezone(timedelta(hours=9))
FAST = ModelConfig(max_iter=30, learning_rate=0.2)
ISSUES = [(DAY_AHEAD, datetime(2022, 4, 20, 10, tzinfo=JST)),
          (INTRADAY, datetime(2022, 4, 21, 6, tzinfo=JST))]


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    """Synthetic Kyushu with targets, hourly, 2022-01-01 … 2022-05-31 JST."""
    return add_targets(synthetic_area("kyushu", datetime(2022, 1, 1, tzinfo=JST), days=151,
                                      slot_minutes=60, seed=3))


def spoil_after(history: pd.DataFrame, tau: datetime) -> pd.DataFrame:
    """Every numeric value observed at or after `tau` replaced by a wild one."""
    spoiled = history.copy()
    numeric = [c for c in spoiled.select_dtypes("number").columns if c != "slot_minutes"]
    spoiled[numeric] = spoiled[numeric].astype(float)
    late = pd.DatetimeIndex(spoiled["time_utc"]) >= pd.Timestamp(tau)
    rng = np.random.default_rng(0)
    spoiled.loc[late, numeric] = rng.uniform(0, 5e4, size=(int(late.sum()), len(numeric)))
    return spoiled


def delivery_day(rule: IssueRule, tau: datetime) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(tau).normalize() + pd.Timedelta(days=rule.day_offset)
    return start, start + pd.Timedelta(days=1)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("rule", "tau"), ISSUES)
def test_features_for_a_day_do_not_change_when_everything_after_the_issue_is_spoiled(
        history, rule, tau, target):
    clean = build_features(regular_frame(history), target, rule)
    dirty = build_features(regular_frame(spoil_after(history, tau)), target, rule)
    d0, d1 = delivery_day(rule, tau)
    day = (clean.index >= d0) & (clean.index < d1) & (clean.index >= pd.Timestamp(tau))
    assert day.sum() == (24 if rule is DAY_AHEAD else 18)
    pd.testing.assert_frame_equal(clean[day], dirty[day])
    # the spoiling does reach the features of later days (the check can fail)
    later = clean.index >= d1 + pd.Timedelta(days=1)
    assert not clean[later].equals(dirty[later])


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("rule", "tau"), ISSUES)
def test_forecasts_issued_at_tau_ignore_everything_after_it(history, rule, tau, target):
    train = history[pd.DatetimeIndex(history["time_utc"]) < pd.Timestamp(2022, 4, 1, tzinfo=JST)]
    model = fit_quantile_model(train, target, rule, config=FAST, event_config=FAST)
    spoiled = spoil_after(history, tau)
    single = predict(model, history, issued_at=tau)
    pd.testing.assert_frame_equal(single, predict(model, spoiled, issued_at=tau))
    rolling = predict(model, spoiled).reindex(single.index)  # rolling mode, spoiled future
    np.testing.assert_allclose(rolling.to_numpy(), single.to_numpy())
    if target == "curtailment_mw":
        p = predict_event_probability(model, history, issued_at=tau)
        pd.testing.assert_series_equal(p, predict_event_probability(model, spoiled,
                                                                    issued_at=tau))


def test_rolling_backtest_fits_each_block_only_on_history_before_its_first_issue(history):
    seen: list[pd.Timestamp] = []

    def fit(train: pd.DataFrame) -> pd.Timestamp:
        seen.append(pd.DatetimeIndex(train["time_utc"]).max())
        return seen[-1]

    def forecast(last: pd.Timestamp, full: pd.DataFrame) -> pd.DataFrame:
        idx = pd.DatetimeIndex(full["time_utc"]).as_unit("ns")
        return pd.DataFrame({"last_seen": last}, index=idx)

    start, end = pd.Timestamp(2022, 3, 1, tzinfo=JST), pd.Timestamp(2022, 5, 1, tzinfo=JST)
    bt = rolling_forecast(history, start, end, fit, forecast, DAY_AHEAD, "MS")
    assert len(seen) == 2 and len(bt.forecasts) == (31 + 30) * 24
    # trained on everything before 10:00 JST the day before each block, nothing after
    assert seen[0] == pd.Timestamp(2022, 2, 28, 9, tzinfo=JST)
    assert seen[1] == pd.Timestamp(2022, 3, 31, 9, tzinfo=JST)
    idx = bt.forecasts.index
    for b0, b1 in ((start, pd.Timestamp(2022, 4, 1, tzinfo=JST)),
                   (pd.Timestamp(2022, 4, 1, tzinfo=JST), end)):
        issued = b0 - pd.Timedelta(hours=14)
        assert (bt.forecasts.loc[(idx >= b0) & (idx < b1), "last_seen"] < issued).all()
