"""Read `sites.yaml`: `sites:` list of `{id, region, gpus, power_cap_kw, pue,
curtailment_share, certificate_share, residency, home, node_selector, battery}`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inputs.errors import InputError
from inputs.yaml_file import load_yaml, number
from policies.battery import Battery
from policies.site import PueModel, Site

SITE_KEYS = {"id", "region", "gpus", "power_cap_kw", "pue", "curtailment_share",
             "certificate_share", "residency", "home", "node_selector", "battery"}
BATTERY_KEYS = ("kwh", "kw", "efficiency", "min_soc", "initial_soc")


def _pue(src: str, value: Any) -> PueModel:
    if isinstance(value, dict):
        unknown = set(value) - {"base", "per_degc", "above_degc"}
        if unknown:
            raise InputError(src, "pue", sorted(unknown)[0], "unknown key (base, per_degc, "
                             "above_degc)")
        if "base" not in value:
            raise InputError(src, "pue.base", None, "required")
        return PueModel(
            base=number(src, "pue.base", value["base"], lo=1.0),
            per_degc=number(src, "pue.per_degc", value.get("per_degc", 0.0), lo=0.0),
            above_degc=number(src, "pue.above_degc", value.get("above_degc", 0.0)),
        )
    return PueModel(base=number(src, "pue", value, lo=1.0))


def _battery(src: str, value: Any) -> Battery | None:
    """`battery: {kwh, kw, efficiency, min_soc, initial_soc}` → `Battery` (null: none)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(src, "battery", value, "must be a mapping {kwh, kw, efficiency, "
                         "min_soc, initial_soc}")
    unknown = set(value) - set(BATTERY_KEYS)
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise InputError(src, f"battery.{key}", value.get(key), "unknown key (kwh, kw, "
                         "efficiency, min_soc, initial_soc)")
    for key in ("kwh", "kw"):
        if key not in value:
            raise InputError(src, f"battery.{key}", None, "required")
    kwh = number(src, "battery.kwh", value["kwh"], lo=0.0, lo_open=True)
    kw = number(src, "battery.kw", value["kw"], lo=0.0)
    efficiency = number(src, "battery.efficiency", value.get("efficiency", 0.9), lo=0.0,
                        hi=1.0, lo_open=True)
    min_soc = number(src, "battery.min_soc", value.get("min_soc", 0.0), lo=0.0, hi=1.0)
    initial = number(src, "battery.initial_soc", value.get("initial_soc", max(0.5, min_soc)),
                     lo=0.0, hi=1.0)
    if initial < min_soc:
        raise InputError(src, "battery.initial_soc", value.get("initial_soc"),
                         f"must be ≥ battery.min_soc {min_soc:g}")
    return Battery(kwh=kwh, kw=kw, efficiency=efficiency, min_soc=min_soc, initial_soc=initial)


def parse_site(src: str, raw: Any) -> Site:
    """One `sites:` entry → `Site`."""
    if not isinstance(raw, dict):
        raise InputError(src, "sites[]", raw, "each site must be a mapping")
    unknown = set(raw) - SITE_KEYS
    if unknown:
        raise InputError(src, sorted(unknown)[0], raw[sorted(unknown)[0]], "unknown site key")
    for key in ("id", "region", "gpus", "power_cap_kw", "pue"):
        if key not in raw:
            raise InputError(src, key, None, "required")
    sid = str(raw["id"]).strip()
    if not sid:
        raise InputError(src, "id", raw["id"], "must not be empty")
    where = f"{src} site {sid}"
    residency = raw.get("residency") or []
    if isinstance(residency, str) or not isinstance(residency, list):
        raise InputError(where, "residency", residency, "must be a list of tags")
    selector = raw.get("node_selector") or {}
    if not isinstance(selector, dict):
        raise InputError(where, "node_selector", selector, "must be a map of label: value")
    home = raw.get("home", False)
    if not isinstance(home, bool):
        raise InputError(where, "home", home, "must be true or false")
    return Site(
        id=sid,
        region=str(raw["region"]).strip(),
        gpus=int(number(where, "gpus", raw["gpus"], lo=0, integer=True)),
        power_cap_kw=number(where, "power_cap_kw", raw["power_cap_kw"], lo=0, lo_open=True),
        pue=_pue(where, raw["pue"]),
        curtailment_share=number(where, "curtailment_share", raw.get("curtailment_share", 0.0),
                                 lo=0.0, hi=1.0),
        certificate_share=number(where, "certificate_share", raw.get("certificate_share", 0.0),
                                 lo=0.0, hi=1.0),
        residency=tuple(str(t) for t in residency),
        home=home,
        node_selector={str(k): str(v) for k, v in selector.items()},
        battery=_battery(where, raw.get("battery")),
    )


def read_sites_yaml(path: str | Path) -> list[Site]:
    """Read sites.yaml into `Site`s (ids unique, at most one `home: true`)."""
    src = str(path)
    doc = load_yaml(path)
    if not isinstance(doc, dict) or "sites" not in doc:
        raise InputError(src, "sites", None, "top-level key 'sites:' is required")
    return parse_sites(src, doc["sites"])


def parse_sites(src: str, raw_sites: Any) -> list[Site]:
    """A `sites:` list → `Site`s (ids unique, at most one `home: true`)."""
    if not isinstance(raw_sites, list) or not raw_sites:
        raise InputError(src, "sites", raw_sites, "must be a non-empty list")
    sites = [parse_site(src, raw) for raw in raw_sites]
    seen: set[str] = set()
    for s in sites:
        if s.id in seen:
            raise InputError(src, "id", s.id, "duplicate site id")
        seen.add(s.id)
    homes = [s.id for s in sites if s.home]
    if len(homes) > 1:
        raise InputError(src, "home", homes, "at most one site may be home: true")
    return sites
