"""`wattbit serve --config config.yaml`: the settings of the in-cluster service, validated.

```yaml
sites: sites.yaml                 # path (relative to this file); sites.yaml format
policy: min-carbon                # built-in policy name or a policy YAML path
forecast:                         # exactly one of:
  file: forecast.csv              #   a forecast.csv, re-read at every re-plan
  providers:                      #   per grid region: a provider and its settings; a
    jp-chugoku: {provider: synthetic, area: chugoku}   # secret as <key>_file: /path
server: {host: 0.0.0.0, port: 8888, metrics_port: 9090, dr_token_file: null}
kubernetes: {managed_selector: wattbit.io/managed=true,
             site_label: topology.kubernetes.io/region, resync_seconds: 300}
leader_election: {enabled: true, lease_name: wattbit-planner, lease_duration_seconds: 15,
                  renew_seconds: 5}
planner: {replan_seconds: 300, debounce_seconds: 5, time_limit_seconds: 20,
          max_plan_age_minutes: 30}
webhook: {port: 8443, cert_file: tls.crt, key_file: tls.key}   # optional; absent = off
```
Everything but `sites` and `forecast` has the default shown. Every error names the field,
dotted (`planner.replan_seconds`), and the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inputs.errors import InputError
from inputs.files import read_text
from inputs.yaml_file import load_yaml, number
from policies.policy import Policy, load_policy
from policies.site import Site
from policies.sites_file import read_sites_yaml


@dataclass(frozen=True)
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = 8888
    """Extender verbs, /healthz, /readyz."""
    metrics_port: int = 9090
    """/metrics and the DR JSON API."""
    dr_token_file: Path | None = None


@dataclass(frozen=True)
class KubernetesConfig:
    managed_selector: str = "wattbit.io/managed=true"
    site_label: str = "topology.kubernetes.io/region"
    resync_seconds: float = 300.0

    @property
    def managed_label(self) -> str:
        """The label key of `managed_selector` (`key=true`)."""
        return self.managed_selector.split("=", 1)[0]


@dataclass(frozen=True)
class LeaderElectionConfig:
    enabled: bool = True
    lease_name: str = "wattbit-planner"
    lease_duration_seconds: float = 15.0
    renew_seconds: float = 5.0


@dataclass(frozen=True)
class PlannerConfig:
    replan_seconds: float = 300.0
    debounce_seconds: float = 5.0
    time_limit_seconds: float = 20.0
    max_plan_age_minutes: float = 30.0


@dataclass(frozen=True)
class WebhookConfig:
    """The optional admission webhook (`POST /mutate` over TLS); absent = off."""

    port: int = 8443
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class ServeConfig:
    """The whole service configuration (paths resolved)."""

    sites: tuple[Site, ...]
    policy: Policy
    forecast_file: Path | None
    providers: dict[str, dict[str, Any]]
    """Region → provider settings (`provider` plus its config; `<key>_file` already read)."""
    server: ServerConfig = field(default_factory=ServerConfig)
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    leader_election: LeaderElectionConfig = field(default_factory=LeaderElectionConfig)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    webhook: WebhookConfig | None = None


_SECTIONS: dict[str, type] = {"server": ServerConfig, "kubernetes": KubernetesConfig,
                              "leader_election": LeaderElectionConfig,
                              "planner": PlannerConfig}


def load_serve_config(path: str | Path) -> ServeConfig:
    """Read and validate config.yaml; raises `InputError` naming the field and value."""
    src, base = str(path), Path(path).resolve().parent
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise InputError(src, "config", doc, "must be a mapping")
    known = {"sites", "policy", "forecast", "webhook", *_SECTIONS}
    for key in doc:
        if key not in known:
            raise InputError(src, str(key), doc[key], f"unknown key (known: {sorted(known)})")
    if "sites" not in doc or not isinstance(doc["sites"], str):
        raise InputError(src, "sites", doc.get("sites"), "a path to sites.yaml is required")
    sites = tuple(read_sites_yaml(_path(base, doc["sites"])))
    policy_name = str(doc.get("policy", "min-carbon"))
    policy_path = _path(base, policy_name)
    policy = load_policy(str(policy_path) if policy_path.is_file() else policy_name)
    forecast_file, providers = _forecast(src, base, doc.get("forecast"), sites)
    sections = {name: _section(src, base, name, doc.get(name), cls)
                for name, cls in _SECTIONS.items()}
    webhook = None
    if doc.get("webhook") is not None:
        webhook = _section(src, base, "webhook", doc["webhook"], WebhookConfig)
        for key in ("cert_file", "key_file"):
            if getattr(webhook, key) is None:
                raise InputError(src, f"webhook.{key}", None, "required (the TLS pair)")
    cfg = ServeConfig(sites, policy, forecast_file, providers, **sections, webhook=webhook)
    _check(src, cfg)
    return cfg


def _path(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p


def _forecast(src: str, base: Path, raw: Any, sites: tuple[Site, ...]
              ) -> tuple[Path | None, dict[str, dict[str, Any]]]:
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("file",
                                                                               "providers"):
        raise InputError(src, "forecast", raw, "needs exactly one of file: or providers:")
    if "file" in raw:
        return _path(base, str(raw["file"])), {}
    from forecasts.providers import provider_names

    providers: dict[str, dict[str, Any]] = {}
    entries = raw["providers"]
    if not isinstance(entries, dict):
        raise InputError(src, "forecast.providers", entries, "must map regions to providers")
    for region, settings in entries.items():
        where = f"forecast.providers.{region}"
        if not isinstance(settings, dict) or settings.get("provider") not in provider_names():
            raise InputError(src, f"{where}.provider", (settings or {}).get("provider")
                             if isinstance(settings, dict) else settings,
                             f"must be one of {provider_names()}")
        out = {}
        for key, value in settings.items():
            if key.endswith("_file") and key != "path_file":
                out[key.removesuffix("_file")] = read_text(_path(base, str(value))).strip()
            else:
                out[key] = value
        providers[str(region)] = out
    missing = sorted({s.region for s in sites} - set(providers))
    if missing:
        raise InputError(src, "forecast.providers", sorted(providers),
                         f"no provider for the sites' regions {missing}")
    return None, providers


def _section(src: str, base: Path, name: str, raw: Any, cls: type) -> Any:
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise InputError(src, name, raw, "must be a mapping")
    defaults = cls()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if not hasattr(defaults, key):
            raise InputError(src, f"{name}.{key}", value, "unknown key")
        default = getattr(defaults, key)
        where = f"{name}.{key}"
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise InputError(src, where, value, "must be true or false")
        elif isinstance(default, int):
            value = int(number(src, where, value, lo=1, hi=65535, integer=True))
        elif isinstance(default, float):
            value = number(src, where, value, lo=0, lo_open=True)
        elif key.endswith("_file"):
            value = None if value is None else _path(base, str(value))
        elif not isinstance(value, str) or not value:
            raise InputError(src, where, value, "must be a non-empty string")
        values[key] = value
    return cls(**values)


def _check(src: str, cfg: ServeConfig) -> None:
    sel = cfg.kubernetes.managed_selector
    if "=" not in sel or not sel.split("=", 1)[0]:
        raise InputError(src, "kubernetes.managed_selector", sel, "must be key=value")
    le = cfg.leader_election
    if le.renew_seconds >= le.lease_duration_seconds:
        raise InputError(src, "leader_election.renew_seconds", le.renew_seconds,
                         f"must be < lease_duration_seconds ({le.lease_duration_seconds:g})")
    ports = [cfg.server.port, cfg.server.metrics_port] + (
        [cfg.webhook.port] if cfg.webhook else [])
    if len(set(ports)) != len(ports):
        raise InputError(src, "server.metrics_port/webhook.port", ports,
                         "the ports must all differ")
