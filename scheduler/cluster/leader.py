"""Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does.

A replica leads while the Lease names it (`holderIdentity`) and it renews `renewTime` more
often than `leaseDurationSeconds`. A Lease not renewed for that long may be taken by another
replica, which bumps `leaseTransitions`. Writes are conditional on the Lease's
resourceVersion, so two replicas racing for it cannot both win (the loser gets 409).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd

from scheduler.cluster.kube import ApiException, KubeApi

log = logging.getLogger("wattbit.cluster")


def _micro(t: datetime) -> str:
    """MicroTime, RFC 3339 with microseconds, UTC."""
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElector:
    """One replica's view of the Lease `namespace/name`; call `try_acquire_or_renew()`
    every `renew_s` seconds (the planner loop does)."""

    def __init__(self, api: KubeApi, namespace: str, name: str, identity: str,
                 duration_s: float, clock: Callable[[], datetime], renew_s: float = 0.0) -> None:
        self.api, self.namespace, self.name = api, namespace, name
        self.identity, self.duration_s, self.clock = identity, duration_s, clock
        self.renew_s = renew_s
        self.leading = False
        self._tried_at: datetime | None = None

    def try_acquire_or_renew(self) -> bool:
        """Take or renew the Lease if we may (at most every `renew_s`, by the clock);
        returns whether we lead now. API errors count as not leading (planning stops
        rather than two replicas planning)."""
        now = self.clock()
        if self._tried_at is not None and (now - self._tried_at).total_seconds() < self.renew_s:
            return self.leading
        self._tried_at = now
        try:
            lease = self.api.get_lease(self.namespace, self.name)
            if lease is None:
                self.api.create_lease(self.namespace, self._body(None, now, 0, now))
                return self._set(True)
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity")
            transitions = int(spec.get("leaseTransitions") or 0)
            if holder == self.identity:
                acquired = spec.get("acquireTime") or _micro(now)
                self.api.update_lease(self.namespace, self.name,
                                      self._body(lease, now, transitions, acquired))
                return self._set(True)
            if holder and not self._expired(spec, now):
                return self._set(False)
            self.api.update_lease(self.namespace, self.name,
                                  self._body(lease, now, transitions + 1, now))
            return self._set(True)
        except ApiException as err:
            if err.status != 409:
                log.warning("lease %s/%s: %s %s", self.namespace, self.name, err.status,
                            err.reason)
            return self._set(False)

    def release(self) -> None:
        """Give the Lease up (on shutdown), so another replica takes it at once instead of
        after the Lease duration — as client-go's ReleaseOnCancel does."""
        if not self.leading:
            return
        try:
            lease = self.api.get_lease(self.namespace, self.name)
            spec = (lease or {}).get("spec") or {}
            if lease is not None and spec.get("holderIdentity") == self.identity:
                body = self._body(lease, self.clock(), int(spec.get("leaseTransitions") or 0),
                                  spec.get("acquireTime") or _micro(self.clock()))
                body["spec"].update(holderIdentity=None, leaseDurationSeconds=1)
                self.api.update_lease(self.namespace, self.name, body)
        except ApiException as err:
            log.warning("releasing lease %s/%s: %s %s", self.namespace, self.name,
                        err.status, err.reason)
        self._set(False)

    def _expired(self, spec: dict[str, Any], now: datetime) -> bool:
        renewed = spec.get("renewTime") or spec.get("acquireTime")
        if not renewed:
            return True
        duration = float(spec.get("leaseDurationSeconds") or self.duration_s)
        return (pd.Timestamp(now) - pd.Timestamp(renewed)).total_seconds() > duration

    def _body(self, lease: dict[str, Any] | None, now: datetime, transitions: int,
              acquired: datetime | str) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        rv = ((lease or {}).get("metadata") or {}).get("resourceVersion")
        if rv:
            meta["resourceVersion"] = rv
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": {"holderIdentity": self.identity,
                         "leaseDurationSeconds": round(self.duration_s),
                         "acquireTime": acquired if isinstance(acquired, str)
                         else _micro(acquired),
                         "renewTime": _micro(now), "leaseTransitions": transitions}}

    def _set(self, leading: bool) -> bool:
        if leading != self.leading:
            log.info("%s %s the lease %s/%s", self.identity,
                     "acquired" if leading else "lost", self.namespace, self.name)
        self.leading = leading
        return leading
