"""Every Kubernetes API call the service makes, through the official `kubernetes` client.

One thin class, so that the calls are few and known: `API_CALLS` lists them as RBAC rules
(API group, resource, verb) and the chart's ClusterRole/Role are tested against it. Objects
travel as plain JSON dicts (the wire form, as in the extender fixtures), not client models.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

API_CALLS: frozenset[tuple[str, str, str]] = frozenset({
    ("", "pods", "list"), ("", "pods", "watch"), ("", "pods", "patch"),
    ("", "nodes", "list"), ("", "nodes", "watch"),
    ("", "events", "create"),
    ("coordination.k8s.io", "leases", "get"), ("coordination.k8s.io", "leases", "create"),
    ("coordination.k8s.io", "leases", "patch"),
})
"""(API group, resource, verb) of every call below: what RBAC must grant, and no more."""

MERGE_PATCH = "application/merge-patch+json"

__all__ = ["API_CALLS", "ApiException", "KubeApi", "connect"]


def connect(kubeconfig: str | None = None) -> client.ApiClient:
    """An API client: in-cluster when running in a pod, else the kubeconfig (or `$KUBECONFIG`)."""
    if kubeconfig is None:
        try:
            config.load_incluster_config()
            return client.ApiClient()
        except config.ConfigException:
            pass
    return config.new_client_from_config(config_file=kubeconfig)


class KubeApi:
    """The service's calls. Raises `ApiException` as the client does."""

    def __init__(self, api_client: client.ApiClient, request_timeout_s: float = 10.0) -> None:
        self.core = client.CoreV1Api(api_client)
        self.coordination = client.CoordinationV1Api(api_client)
        self.timeout_s = request_timeout_s

    def list(self, kind: str) -> tuple[list[dict[str, Any]], str | None]:
        """(items, resourceVersion) of all `pods` (every namespace) or `nodes`."""
        fn = self._list_fn(kind)
        resp = fn(_preload_content=False, _request_timeout=self.timeout_s)
        doc = json.loads(resp.data)
        items = [_with_kind(o, kind) for o in doc.get("items") or []]
        return items, (doc.get("metadata") or {}).get("resourceVersion")

    def watch(self, kind: str, resource_version: str | None, timeout_s: float
              ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(type, object) events of `pods` or `nodes` from `resource_version`, for about
        `timeout_s` (server-side timeout, and a client read timeout as a backstop). A 410
        Gone (expired version) raises `ApiException` with status 410: re-list."""
        w = watch.Watch()
        kwargs: dict[str, Any] = {"timeout_seconds": max(1, int(timeout_s)),
                                  "_request_timeout": (self.timeout_s, timeout_s * 1.1 + 1),
                                  "allow_watch_bookmarks": True}
        if resource_version:
            kwargs["resource_version"] = resource_version
        for event in w.stream(self._list_fn(kind), **kwargs):
            obj = event.get("raw_object")  # the wire JSON (the client's 410 check needs it)
            yield str(event.get("type")), _with_kind(obj if isinstance(obj, dict) else {}, kind)

    def patch_pod(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch (RFC 7386) of a pod: lists given are replaced whole, and a
        `metadata.resourceVersion` in the body makes it conditional (409 when stale)."""
        resp = self.core.patch_namespaced_pod(name, namespace, body, _content_type=MERGE_PATCH,
                                              _preload_content=False,
                                              _request_timeout=self.timeout_s)
        return json.loads(resp.data)

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        """Create a core/v1 Event."""
        self.core.create_namespaced_event(namespace, body, _preload_content=False,
                                          _request_timeout=self.timeout_s)

    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Lease, or None when there is none."""
        try:
            resp = self.coordination.read_namespaced_lease(
                name, namespace, _preload_content=False, _request_timeout=self.timeout_s)
        except ApiException as err:
            if err.status == 404:
                return None
            raise
        return json.loads(resp.data)

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create the Lease (409 when another replica created it first)."""
        resp = self.coordination.create_namespaced_lease(
            namespace, body, _preload_content=False, _request_timeout=self.timeout_s)
        return json.loads(resp.data)

    def update_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Merge-patch the Lease with `body` (its whole spec); the body's
        `metadata.resourceVersion` makes the write conditional (409 when another replica
        wrote first)."""
        resp = self.coordination.patch_namespaced_lease(
            name, namespace, body, _content_type=MERGE_PATCH, _preload_content=False,
            _request_timeout=self.timeout_s)
        return json.loads(resp.data)

    def _list_fn(self, kind: str) -> Any:
        if kind == "pods":
            return self.core.list_pod_for_all_namespaces
        if kind == "nodes":
            return self.core.list_node
        raise ValueError(f"kind must be pods or nodes, not {kind!r}")


def _with_kind(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """List items carry no `kind`: add it (Pod/Node), as single objects have it."""
    if obj and "kind" not in obj:
        obj = {**obj, "kind": "Pod" if kind == "pods" else "Node"}
    return obj
