"""A local cache of one kind of object (pods or nodes), kept by list + watch.

The Kubernetes informer pattern: list (remember the resourceVersion), watch from it, apply
each event; on 410 Gone (the version expired) or any error, list again; and list again
every `resync_s` in any case. `on_change` is called after every change (the planner loop
debounces). Objects are keyed `<namespace>/<name>` (nodes: `<name>`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from scheduler.cluster.kube import ApiException, KubeApi

log = logging.getLogger("wattbit.cluster")


def object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class Informer:
    """The cache of `pods` or `nodes`; run `start()` (a daemon thread) or `sync()` once."""

    def __init__(self, api: KubeApi, kind: str, *, resync_s: float = 300.0,
                 watch_s: float = 60.0, on_change: Callable[[], None] | None = None,
                 retry_s: float = 1.0,
                 fingerprint: Callable[[dict[str, Any]], Hashable] | None = None) -> None:
        self.api, self.kind = api, kind
        self.resync_s, self.watch_s, self.retry_s = resync_s, watch_s, retry_s
        self.on_change = on_change
        self.fingerprint = fingerprint
        """What of an object matters to the caller: a MODIFIED event that leaves it equal
        (e.g. a status heartbeat) updates the cache without calling `on_change`."""
        self._objects: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.synced = threading.Event()
        self.resource_version: str | None = None
        self.generation = 0
        """Bumped on every change of the cache (any event, each list): readers copy the
        cache again only when it moved."""
        self.relists = 0
        """Lists done so far (the first, resyncs, and recoveries from 410 or errors)."""
        self._thread: threading.Thread | None = None

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A copy of the cache (key → object)."""
        with self._lock:
            return dict(self._objects)

    def sync(self) -> None:
        """List everything and replace the cache."""
        items, rv = self.api.list(self.kind)
        with self._lock:
            self._objects = {object_key(o): o for o in items}
            self.generation += 1
        self.resource_version = rv
        self.relists += 1
        self.synced.set()
        self._changed()

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        """One watch event: ADDED/MODIFIED upsert, DELETED removes, BOOKMARK moves on."""
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            self.resource_version = rv or self.resource_version
            return
        key = object_key(obj)
        with self._lock:
            old = self._objects.get(key)
            if kind == "DELETED":
                self._objects.pop(key, None)
            elif kind in ("ADDED", "MODIFIED"):
                self._objects[key] = obj
            else:
                return
            self.generation += 1
        if rv:
            self.resource_version = rv
        if (kind == "MODIFIED" and old is not None and self.fingerprint is not None
                and self.fingerprint(old) == self.fingerprint(obj)):
            return
        self._changed()

    def run(self) -> None:
        """List, then watch until stopped; re-list on 410, on errors and every resync."""
        listed_at = -float("inf")
        while not self._stop.is_set():
            try:
                if time.monotonic() - listed_at >= self.resync_s or not self.synced.is_set():
                    self.sync()
                    listed_at = time.monotonic()
                left = max(1.0, min(self.watch_s, self.resync_s - (time.monotonic() - listed_at)))
                for kind, obj in self.api.watch(self.kind, self.resource_version, left):
                    if self._stop.is_set():
                        return
                    self.apply(kind, obj)
            except ApiException as err:
                if err.status == 410:
                    log.info("%s watch expired (410 Gone): listing again", self.kind)
                else:
                    log.warning("%s watch failed (%s): listing again", self.kind, err.status)
                    self._stop.wait(self.retry_s)
                listed_at = -float("inf")
            except Exception as err:  # a dropped stream (read timeout, reset) must not end it
                log.warning("%s watch ended (%s): listing again", self.kind, err)
                self._stop.wait(self.retry_s)
                listed_at = -float("inf")

    def start(self) -> Informer:
        self._thread = threading.Thread(target=self.run, name=f"informer-{self.kind}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end (it does at the next event or when the watch ends)."""
        self._stop.set()

    def join(self, timeout_s: float) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            return not self._thread.is_alive()
        return True

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
