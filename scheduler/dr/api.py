"""The DR JSON API (FastAPI; OpenAPI at /openapi.json, docs at /docs).

* `GET /v1/dr/capacity?site=|region=&window=&hours=&every=` — the ΔkW curve (down and up) of
  a site or of a region's sites together, for one window length, and its 3-hour blocks (JST);
* `POST /v1/dr/events` — `{site, direction, kw, start, end, idempotency_key}` → the kW
  accepted (maybe less than asked, with the reason) and the event id; the same key again
  returns the same event (200 instead of 201);
* `GET /v1/dr/events/{id}` — baseline, planned and delivered kW per slot;
* `GET /healthz`, `GET /readyz`; `GET /metrics` when given the exporter.

Writes need `Authorization: Bearer <token>` (compared in constant time); reads too unless
`open_reads`. Bodies above `MAX_BODY_BYTES` get 413; invalid fields 422 naming them.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from inputs.errors import InputError
from scheduler.dr.capacity import BLOCK_MINUTES, WINDOW_MINUTES, block_starts
from scheduler.dr.exporter import DrMetrics
from scheduler.dr.service import DrService, NoPlanYet

MAX_BODY_BYTES = 16_384


class EventRequest(BaseModel):
    """A DR request on one site."""

    model_config = ConfigDict(extra="forbid")
    site: str = Field(min_length=1, max_length=128)
    direction: Literal["down", "up"]
    kw: float = Field(gt=0, le=1_000_000, description="facility kW to shed (down) or add (up)")
    start: AwareDatetime
    end: AwareDatetime
    idempotency_key: str = Field(min_length=1, max_length=128)


class EventAnswer(BaseModel):
    id: str
    site: str
    direction: str
    kw_requested: float
    kw_accepted: float
    reason: str
    start: datetime
    end: datetime


class CapacityPoint(BaseModel):
    start: datetime
    down_kw: float
    up_kw: float


class CapacityAnswer(BaseModel):
    scope: Literal["site", "region"]
    id: str
    window_minutes: int
    plan_made_at: datetime
    curve: list[CapacityPoint]
    blocks: list[CapacityPoint]
    """Values of the 180-minute window at each 3-hour JST block start (window=180 only)."""


class SlotDelivery(BaseModel):
    """Per slot; null where unknown (no meter reading, not enough history)."""

    start: datetime
    baseline_kw: float
    planned_kw: float | None
    measured_kw: float | None
    delivered_kw: float | None
    high4of5_baseline_kw: float | None
    delivered_vs_high4of5_kw: float | None


class EventReport(EventAnswer):
    slots: list[SlotDelivery]


def _known(value: Any) -> Any:
    """NaN → None (JSON null): unknown, never 0."""
    return None if isinstance(value, float) and value != value else value


def create_app(service: DrService, token: str | None, *, open_reads: bool = True,
               metrics: DrMetrics | None = None) -> FastAPI:
    """The API over `service`; `token` None refuses every write (no token configured);
    `metrics` is served at /metrics (Prometheus text format)."""
    app = FastAPI(title="wattbit DR API", version="1")

    def bearer(request: Request) -> None:
        given = request.headers.get("authorization", "")
        ok = token is not None and given.startswith("Bearer ") and hmac.compare_digest(
            given.removeprefix("Bearer ").encode(), token.encode())
        if not ok:
            raise HTTPException(401, "a valid bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    def reader(request: Request) -> None:
        if not open_reads:
            bearer(request)

    @app.middleware("http")
    async def body_limit(request: Request, call_next: Any) -> Response:
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY_BYTES):
            return JSONResponse({"detail": f"body larger than {MAX_BODY_BYTES} bytes"}, 413)
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        # the default answer echoes the input, which may not be JSON (a NaN or Infinity
        # in the body): name the fields and the problems only
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in err.errors()]
        return JSONResponse({"detail": detail}, 422)

    @app.exception_handler(InputError)
    async def input_error(_: Request, err: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(err), "field": err.field}, 422)

    @app.exception_handler(NoPlanYet)
    async def no_plan(_: Request, err: NoPlanYet) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, 503, headers={"Retry-After": "30"})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ready",
                "plan_made_at": service.current_plan().plan.made_at.isoformat()}

    @app.get("/v1/dr/capacity", response_model=CapacityAnswer, dependencies=[Depends(reader)])
    def capacity(site: Annotated[str | None, Query(max_length=128)] = None,
                 region: Annotated[str | None, Query(max_length=128)] = None,
                 window: Annotated[int, Query(description="30, 60 or 180 minutes")] = 60,
                 hours: Annotated[float, Query(gt=0, le=48)] = 24.0,
                 every: Annotated[int, Query(ge=15, le=1440)] = 30) -> CapacityAnswer:
        if window not in WINDOW_MINUTES:
            raise InputError("query", "window", window, "must be 30, 60 or 180 minutes")
        rows = service.capacity(site, window, hours, every, region=region)
        by_start: dict[pd.Timestamp, dict[str, float]] = {}
        for r in rows:
            by_start.setdefault(r.start, {})[r.direction] = r.kw
        curve = [CapacityPoint(start=t, down_kw=v.get("down", 0.0), up_kw=v.get("up", 0.0))
                 for t, v in sorted(by_start.items())]
        on_block = block_starts(pd.DatetimeIndex([pt.start for pt in curve]))
        blocks = [pt for pt, b in zip(curve, on_block, strict=True)
                  if b and window == BLOCK_MINUTES]
        return CapacityAnswer(scope="site" if site else "region", id=site or region or "",
                              window_minutes=window,
                              plan_made_at=service.current_plan().plan.made_at, curve=curve,
                              blocks=blocks)

    @app.post("/v1/dr/events", response_model=EventAnswer, status_code=201,
              dependencies=[Depends(bearer)])
    def post_event(req: EventRequest, response: Response) -> EventAnswer:
        event, created = service.post_event(req.site, req.direction, req.kw, req.start,
                                            req.end, req.idempotency_key)
        if not created:
            response.status_code = 200
        return EventAnswer(id=event.id, site=event.site, direction=event.direction,
                           kw_requested=event.kw_requested, kw_accepted=event.kw_accepted,
                           reason=event.reason, start=event.start, end=event.end)

    @app.get("/v1/dr/events/{event_id}", response_model=EventReport,
             dependencies=[Depends(reader)])
    def get_event(event_id: str) -> EventReport:
        found = service.report(event_id)
        if found is None:
            raise HTTPException(404, f"no event {event_id}")
        ev, slots = found
        return EventReport(id=ev.id, site=ev.site, direction=ev.direction,
                           kw_requested=ev.kw_requested, kw_accepted=ev.kw_accepted,
                           reason=ev.reason, start=ev.start, end=ev.end,
                           slots=[SlotDelivery(**{k: _known(v) for k, v in s.items()})
                                  for s in slots])

    if metrics is not None:
        @app.get("/metrics", include_in_schema=False)
        def metrics_text() -> Response:
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
