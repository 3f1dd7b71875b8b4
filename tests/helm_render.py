"""Render the chart helm/wattbit with the real Helm engine, offline: helm-python-sdk binds
Helm's Go SDK (libhelm_c, loaded with ctypes), so no helm binary and no cluster are needed.

`render_objects(values)` returns the Kubernetes objects of one `helm install` dry render
(values are validated against values.schema.json on the way, as at install time).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CHART_DIR = REPO / "helm" / "wattbit"
RELEASE = "wattbit"
NAMESPACE = "wattbit-system"

try:
    import helm_python as helm
    from helm_python import _native

    HELM_UNAVAILABLE: str | None = None
except Exception as exc:  # the native library may not load on an unsupported platform
    HELM_UNAVAILABLE = f"helm-python-sdk cannot load Helm's Go SDK here: {exc}"


@cache
def chart() -> helm.Chart:
    """The chart, loaded once per test session."""
    return helm.Chart.load(CHART_DIR)


def render_templates(values: dict[str, Any] | None = None, *,
                     api_versions: tuple[str, ...] = (), kube_version: str | None = None,
                     name: str = RELEASE, namespace: str = NAMESPACE) -> dict[str, str]:
    """Template path → rendered text, as `helm install --dry-run` would render them.

    `Chart.render` of helm-python-sdk 0.2 does not forward the render options
    `api_versions` (the `.Capabilities.APIVersions` of `helm template --api-versions`) and
    `kube_version`, which the library's C ABI (`helm_render`) accepts; so the call is made
    one level down, with the SDK's own ctypes wrapper.
    """
    opts: dict[str, Any] = {"name": name, "namespace": namespace, "is_install": True}
    if api_versions:
        opts["api_versions"] = list(api_versions)
    if kube_version:
        opts["kube_version"] = kube_version
    raw = _native.call_string("helm_render", chart()._raw(),
                              None if values is None else json.dumps(values), json.dumps(opts))
    rendered: dict[str, str] = json.loads(raw)
    return rendered


def render_objects(values: dict[str, Any] | None = None, **opts: Any) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders (NOTES.txt left out)."""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(render_templates(values, **opts).items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def notes(values: dict[str, Any] | None = None, **opts: Any) -> str:
    """The rendered NOTES.txt."""
    return next(text for path, text in render_templates(values, **opts).items()
                if path.endswith("NOTES.txt"))


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The one object of `kind` (and `name`); fails naming what exists."""
    hits = [o for o in objects if o["kind"] == kind
            and (name is None or o["metadata"]["name"] == name)]
    assert len(hits) == 1, (f"expected one {kind} {name or ''}, found "
                            f"{[(o['kind'], o['metadata']['name']) for o in objects]}")
    return hits[0]
