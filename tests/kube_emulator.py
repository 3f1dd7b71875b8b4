"""A stateful Kubernetes API emulator on loopback for the cluster adapter's tests: kmock's
`KubernetesEmulator` served by `kmock.Server` on its own event loop (a thread), reached
through the official `kubernetes` client exactly as a real API server is.

The emulator keeps objects as plain JSON (no resourceVersion, JSON-merge semantics); tests
script what the real API does beyond that (a watch expiring with 410 Gone) with kmock's
reactions. `rbac_calls` turns the requests it saw into (API group, resource, verb).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import kmock
from kubernetes import client

from scheduler.cluster.kube import KubeApi

SERVED = (("v1/pods", "Pod", True), ("v1/nodes", "Node", False), ("v1/events", "Event", True),
          ("coordination.k8s.io/v1/leases", "Lease", True))

GONE = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                    "code": 410, "reason": "Expired",
                                    "message": "too old resource version"}}


@contextmanager
def emulated_cluster() -> Iterator[tuple[object, KubeApi]]:
    """(the emulator, a `KubeApi` connected to it over HTTP on loopback)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[object, object]:
        emu = kmock.KubernetesEmulator()
        for key, kind, namespaced in SERVED:  # a real API server serves them, empty or not
            emu.resources[key] = kmock.ResourceInfo(kind=kind, namespaced=namespaced)
        await emu.__aenter__()
        srv = kmock.Server(emu)
        await srv.__aenter__()
        return emu, srv

    async def stop(emu: object, srv: object) -> None:
        await srv.__aexit__(None, None, None)
        await emu.__aexit__(None, None, None)

    emu, srv = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    cfg = client.Configuration()
    cfg.host = str(srv.url).rstrip("/")
    api_client = client.ApiClient(cfg)
    try:
        yield emu, KubeApi(api_client, request_timeout_s=5.0)
    finally:
        api_client.close()
        asyncio.run_coroutine_threadsafe(stop(emu, srv), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def expire_next_watch(emu: object, plural: str) -> None:
    """The next watch of `plural` (core/v1) answers 410 Gone, as an expired version does."""
    emu[kmock.action.WATCH, kmock.resource("", "v1", plural)][:1] << (GONE,)


def objects(emu: object, plural: str) -> list[dict]:
    """The live objects of a resource kept by the emulator."""
    return [obj.raw for (res, _ns, _name), obj in emu.objects.items()
            if res.plural == plural and not obj.deleted]


def rbac_calls(emu: object) -> set[tuple[str, str, str]]:
    """(API group, resource, verb) of every request the emulator received."""
    out = set()
    for req in emu._requests:
        parts = urlsplit(str(req.url))
        segs = [s for s in parts.path.split("/") if s]
        group = "" if segs[0] == "api" else segs[1]
        rest = segs[2:] if segs[0] == "api" else segs[3:]
        if rest[:1] == ["namespaces"]:
            rest = rest[2:]
        resource, named = rest[0], len(rest) > 1
        method = str(req.method.value if hasattr(req.method, "value") else req.method)
        watching = parse_qs(parts.query).get("watch") == ["true"]
        verb = {"GET": "get" if named else ("watch" if watching else "list"),
                "POST": "create", "PATCH": "patch", "PUT": "update",
                "DELETE": "delete"}[method]
        out.add((group, resource, verb))
    return out
