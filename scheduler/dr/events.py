"""DR events: what a grid operator asked for, what was accepted, and the baseline it is
measured against — persisted in SQLite so they survive a restart."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class DrEvent:
    """An accepted DR event on one site: hold facility kW `kw_accepted` below (down) or
    above (up) `baseline_kw` in every slot of [start, end)."""

    id: str
    idempotency_key: str
    site: str
    direction: str
    kw_requested: float
    kw_accepted: float
    reason: str
    """Why less than asked was accepted (empty when all of it was)."""
    start: str
    """ISO 8601 UTC."""
    end: str
    slot_starts: tuple[str, ...]
    """The event's slots (ISO 8601 UTC)."""
    baseline_kw: tuple[float, ...]
    """Facility kW of the site in those slots in the plan before the event (the
    counterfactual baseline)."""
    created_at: str

    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        return pd.Timestamp(self.start), pd.Timestamp(self.end)


class EventStore:
    """Accepted events in one SQLite file; `add` is idempotent on the key."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._lock, self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, "
                             "idempotency_key TEXT UNIQUE NOT NULL, body TEXT NOT NULL)")

    def add(self, event: DrEvent) -> tuple[DrEvent, bool]:
        """Store `event` unless its key is known: (the stored event, created?)."""
        with self._lock, self._db:
            row = self._db.execute("SELECT body FROM events WHERE idempotency_key = ?",
                                   (event.idempotency_key,)).fetchone()
            if row is not None:
                return _event(row[0]), False
            self._db.execute("INSERT INTO events VALUES (?, ?, ?)",
                             (event.id, event.idempotency_key, json.dumps(asdict(event))))
        return event, True

    def by_key(self, key: str) -> DrEvent | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM events WHERE idempotency_key = ?",
                                   (key,)).fetchone()
        return None if row is None else _event(row[0])

    def get(self, event_id: str) -> DrEvent | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM events WHERE id = ?",
                                   (event_id,)).fetchone()
        return None if row is None else _event(row[0])

    def all(self) -> list[DrEvent]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM events ORDER BY rowid").fetchall()
        return [_event(r[0]) for r in rows]

    def close(self) -> None:
        self._db.close()


def _event(body: str) -> DrEvent:
    raw = json.loads(body)
    raw["slot_starts"] = tuple(raw["slot_starts"])
    raw["baseline_kw"] = tuple(raw["baseline_kw"])
    return DrEvent(**raw)
