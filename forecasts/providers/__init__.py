"""Forecast providers: one module each, all exposing `fetch(region, start, end) -> Forecast`.

`PROVIDERS` maps a provider's CLI/config name to `(module, class, config class)`; modules
are imported on first use, so a provider's dependencies load only when it is asked for.
Beside the providers: `http` (the one HTTP helper and the typed `ProviderError`s), `cache`
(the last good forecast on disk, marked stale) and `_common` (their shared checks).

| name | module | region means | needs |
|------|--------|--------------|-------|
| `electricitymaps` | electricitymaps | zone, e.g. `JP-TK` | `token` |
| `watttime` | watttime | WattTime region, e.g. `CAISO_NORTH` | `username`, `password` |
| `uk-carbon-intensity` | uk_carbon_intensity | `GB` or `GB-<1..17>` | — |
| `carbon-aware-sdk` | carbon_aware_sdk | SDK location, e.g. `eastus` | `base_url` |
| `file` | file | region column of the file | `path` |
| `jp-tso` | jp_tso | area, e.g. `chugoku` | — |
| `synthetic` | synthetic | area, e.g. `kyushu` | — (`seed`, `slot_minutes`, `days`) |
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from forecasts.forecast import Forecast
from inputs.errors import InputError


@runtime_checkable
class Provider(Protocol):
    """Anything that can fetch a `Forecast` for a region and a UTC window."""

    name: str

    def fetch(self, region: str, start: datetime | None = None,
              end: datetime | None = None) -> Forecast:
        """Signals for `region` over `[start, end)` (tz-aware; None = what the source has)."""
        ...


PROVIDERS: Mapping[str, tuple[str, str, str]] = MappingProxyType({
    "electricitymaps": ("electricitymaps", "ElectricityMapsProvider", "ElectricityMapsConfig"),
    "watttime": ("watttime", "WattTimeProvider", "WattTimeConfig"),
    "uk-carbon-intensity": ("uk_carbon_intensity", "UkCarbonIntensityProvider",
                            "UkCarbonIntensityConfig"),
    "carbon-aware-sdk": ("carbon_aware_sdk", "CarbonAwareSdkProvider", "CarbonAwareSdkConfig"),
    "file": ("file", "FileProvider", "FileConfig"),
    "jp-tso": ("jp_tso", "JpTsoProvider", "JpTsoConfig"),
    "synthetic": ("synthetic", "SyntheticProvider", "SyntheticConfig"),
})


def provider_names() -> list[str]:
    """Registered provider names, sorted."""
    return sorted(PROVIDERS)


def make_provider(name: str, **config: Any) -> Provider:
    """Build provider `name` from its config fields, e.g. `make_provider("file", path=p)`."""
    if name not in PROVIDERS:
        raise InputError("provider", "name", name, f"known: {', '.join(provider_names())}")
    module_name, cls_name, cfg_name = PROVIDERS[name]
    module = importlib.import_module(f"{__name__}.{module_name}")
    cfg = getattr(module, cfg_name)(**config)
    provider: Provider = getattr(module, cls_name)(cfg)
    return provider
