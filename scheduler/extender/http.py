"""The extender over HTTP: `POST /filter` and `POST /prioritize` (the verbs of the
scheduler config in ../shared/k8s-extender/fixtures), `GET /healthz`, `GET /readyz`.

Bodies are read as raw JSON (PascalCase envelopes with nulls, as kube-scheduler sends them):
a malformed body still gets HTTP 200 with a protocol-valid answer, never a 4xx/5xx.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from scheduler.extender.service import Extender


def create_app(extender: Extender, ready: Callable[[], bool] | None = None) -> FastAPI:
    """The HTTP service over `extender`. `/readyz` answers 503 while `ready()` is false
    (in a cluster: until this replica leads and has planned or armed fail-open)."""
    app = FastAPI(title="wattbit scheduler extender", version="1")

    async def body(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return None

    @app.post("/filter")
    async def filter_verb(request: Request) -> JSONResponse:
        return JSONResponse(extender.filter(await body(request)))

    @app.post("/prioritize")
    async def prioritize_verb(request: Request) -> JSONResponse:
        return JSONResponse(extender.prioritize(await body(request)))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        plan = extender.plan
        made = "" if plan is None else plan.made_at.isoformat()
        if ready is not None and not ready():
            return JSONResponse({"status": "not ready", "plan_made_at": made}, 503)
        return JSONResponse({"status": "ready", "plan_made_at": made})

    return app
