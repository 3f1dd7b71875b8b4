"""Where `wattbit serve` gets its forecasts at each re-plan: a forecast.csv read again, or
one provider per grid region (behind the on-disk cache, so an outage serves the last good
forecast marked stale, and only a long one fails the re-plan)."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from forecasts.csv_file import read_forecast_csv
from forecasts.forecast import Forecast
from forecasts.providers import make_provider
from forecasts.providers.cache import CachedProvider, FailureCounter
from scheduler.cluster.config import ServeConfig

HORIZON = timedelta(hours=48)

ForecastSource = Callable[[datetime], dict[str, Forecast]]


def forecast_source(cfg: ServeConfig, clock: Callable[[], datetime],
                    counter: FailureCounter | None = None,
                    cache_dir: Path | None = None) -> ForecastSource:
    """A function `now → region → Forecast` over [now, now + 48 h). A provider's failure
    raises `ProviderError` once no cached forecast covers the window. A provider setting
    `region` is the provider's name for the region (default: the key, the sites' region)."""
    if cfg.forecast_file is not None:
        path = cfg.forecast_file
        return lambda now: read_forecast_csv(path)
    cache = cache_dir or Path(tempfile.gettempdir()) / "wattbit-forecasts"
    counter = counter or FailureCounter()
    sources: dict[str, tuple[CachedProvider, str]] = {}
    for region, settings in cfg.providers.items():
        settings = dict(settings)
        name = settings.pop("provider")
        theirs = str(settings.pop("region", region))
        provider = make_provider(name, **settings)
        sources[region] = (CachedProvider(provider, cache / region, clock=clock,
                                          counter=counter), theirs)

    def fetch(now: datetime) -> dict[str, Forecast]:
        out = {}
        for region, (provider, theirs) in sources.items():
            fc = provider.fetch(theirs, now, now + HORIZON)
            out[region] = dataclasses.replace(fc, region=region)
        return out

    return fetch
