"""plan.json: write a `Plan` and read one back (the previous plan of a re-plan)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inputs.errors import InputError
from inputs.files import read_text
from inputs.tables import parse_time
from scheduler.core.plan import JobPlan, LimitShortfall, Plan, SitePlan


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _iso(t: datetime | None) -> str | None:
    return None if t is None else pd.Timestamp(t).isoformat()


BATTERY_FIELDS = ("battery_charge_kw", "battery_discharge_kw", "battery_soc_kwh")
"""Per-slot fields of a site with a battery (absent for the others)."""


def _site_slots(plan: Plan, sp: SitePlan) -> list[dict[str, Any]]:
    """The per-slot objects of one site (with the battery fields where it has one)."""
    slots = [{"start": t.isoformat(), "it_kw": round(float(it), 6),
              "facility_kw": round(float(fac), 6),
              "zero_carbon_kwh": round(float(z), 6), "kg_co2": round(float(kg), 6)}
             for t, it, fac, z, kg in zip(plan.slot_starts, sp.it_kw, sp.facility_kw,
                                          sp.zero_carbon_kwh, sp.kg_co2, strict=True)]
    arrays = [getattr(sp, name) for name in BATTERY_FIELDS]
    if all(a is not None for a in arrays):
        for i, slot in enumerate(slots):
            for name, arr in zip(BATTERY_FIELDS, arrays, strict=True):
                slot[name] = round(float(arr[i]), 6)
    return slots


def _battery_arrays(slots: list[dict[str, Any]]
                    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(charge kW, discharge kW, state of charge kWh) of a site's slots read back (None
    where the site has no battery)."""
    if not slots or any(name not in slots[0] for name in BATTERY_FIELDS):
        return None, None, None
    charge, discharge, soc = (np.array([x[name] for x in slots], dtype=float)
                              for name in BATTERY_FIELDS)
    return charge, discharge, soc


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan.json document (times ISO 8601 with offset; null where no bound exists)."""
    return {
        "jobs": [{
            "id": jp.id, "site": jp.site,
            "segments": [{"start": _iso(a), "end": _iso(b)} for a, b in jp.segments],
            "late": jp.late, "impossible": jp.impossible, "deferred": jp.deferred,
            "note": jp.note, "kwh": round(jp.kwh, 6), "kg_co2": round(jp.kg_co2, 6),
            "site_costs": {s: None if c is None else round(c, 6) for s, c in jp.site_costs},
            "baseline_kg_co2": round(jp.baseline_kg_co2, 6)
            if math.isfinite(jp.baseline_kg_co2) else None,
        } for jp in plan.jobs],
        "sites": [{"id": sp.id, "slots": _site_slots(plan, sp)} for sp in plan.sites],
        "summary": {
            "kwh": round(plan.kwh, 6), "kg_co2": round(plan.kg_co2, 6),
            "baseline_kwh": round(plan.baseline_kwh, 6),
            "baseline_kg_co2": round(plan.baseline_kg_co2, 6),
            "curtailment_absorbed_kwh": round(plan.curtailment_absorbed_kwh, 6),
            "objective": plan.objective, "bound": _finite(plan.bound),
            "gap": _finite(plan.gap), "method": plan.method, "status": plan.status,
            "build_seconds": round(plan.build_seconds, 4),
            "solve_seconds": round(plan.solve_seconds, 4),
            "slot_minutes": round(plan.slot_h * 60),
            "made_at": _iso(plan.made_at), "now": _iso(plan.now),
            "forecast_issued_at": _iso(plan.forecast_issued_at),
            "forecast_stale": plan.forecast_stale, "changed_jobs": plan.changed_jobs,
            "limit_shortfalls": [{"site": x.site, "start": _iso(x.start), "kind": x.kind,
                                  "kw": x.kw} for x in plan.limit_shortfalls],
        },
    }


def write_plan_json(plan: Plan, path: str | Path) -> None:
    """Write plan.json."""
    Path(path).write_text(json.dumps(plan_to_json(plan), indent=1))


def _opt_time(src: str, field: str, value: Any) -> datetime | None:
    return None if value is None else parse_time(src, field, value)


def plan_from_json(doc: Any, src: str = "plan.json") -> Plan:
    """A plan.json document → `Plan` (errors name the field and value)."""
    try:
        summary, jobs, sites = doc["summary"], doc["jobs"], doc["sites"]
        job_plans = tuple(JobPlan(
            id=str(j["id"]), site=j["site"],
            segments=tuple((parse_time(src, f"jobs[{j['id']}].segments", g["start"]),
                            parse_time(src, f"jobs[{j['id']}].segments", g["end"]))
                           for g in j["segments"]),
            late=bool(j["late"]), impossible=bool(j["impossible"]),
            kwh=float(j["kwh"]), kg_co2=float(j["kg_co2"]),
            deferred=bool(j.get("deferred", False)), note=str(j.get("note", "")),
            site_costs=tuple((str(s), None if c is None else float(c))
                             for s, c in (j.get("site_costs") or {}).items()),
            baseline_kg_co2=float("nan") if j.get("baseline_kg_co2") is None
            else float(j["baseline_kg_co2"]),
        ) for j in jobs)
        starts = pd.DatetimeIndex([parse_time(src, "sites[].slots[].start", s["start"])
                                   for s in sites[0]["slots"]]) if sites else \
            pd.DatetimeIndex([], tz="UTC")
        site_plans = tuple(SitePlan(
            str(s["id"]),
            np.array([x["it_kw"] for x in s["slots"]], dtype=float),
            np.array([x["facility_kw"] for x in s["slots"]], dtype=float),
            np.array([x["zero_carbon_kwh"] for x in s["slots"]], dtype=float),
            np.array([x["kg_co2"] for x in s["slots"]], dtype=float),
            *_battery_arrays(s["slots"]),
        ) for s in sites)
        slot_minutes = summary.get("slot_minutes") or (
            (starts[1] - starts[0]).total_seconds() / 60 if len(starts) > 1 else 60)
        bound, gap = summary["bound"], summary["gap"]
        return Plan(
            slot_starts=starts, slot_h=float(slot_minutes) / 60.0, jobs=job_plans,
            sites=site_plans, kwh=float(summary["kwh"]), kg_co2=float(summary["kg_co2"]),
            baseline_kwh=float(summary["baseline_kwh"]),
            baseline_kg_co2=float(summary["baseline_kg_co2"]),
            curtailment_absorbed_kwh=float(summary["curtailment_absorbed_kwh"]),
            objective=float(summary["objective"]),
            bound=-math.inf if bound is None else float(bound),
            gap=math.inf if gap is None else float(gap), method=str(summary["method"]),
            status=str(summary["status"]), build_seconds=float(summary["build_seconds"]),
            solve_seconds=float(summary["solve_seconds"]),
            made_at=_opt_time(src, "summary.made_at", summary.get("made_at"))
            or starts[0].to_pydatetime(),
            now=_opt_time(src, "summary.now", summary.get("now")),
            forecast_issued_at=_opt_time(src, "summary.forecast_issued_at",
                                         summary.get("forecast_issued_at")),
            forecast_stale=bool(summary.get("forecast_stale", False)),
            changed_jobs=summary.get("changed_jobs"),
            limit_shortfalls=tuple(LimitShortfall(
                str(x["site"]), parse_time(src, "summary.limit_shortfalls[].start", x["start"]),
                str(x["kind"]), float(x["kw"])) for x in summary.get("limit_shortfalls", [])),
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise InputError(src, "content", str(exc), "not a plan.json document (missing or "
                         "mistyped field)") from None


def read_plan_json(path: str | Path) -> Plan:
    """Read plan.json written by `write_plan_json` (`wattbit plan --out`)."""
    src = str(path)
    try:
        doc = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(src, "content", "", f"not valid JSON ({exc})") from None
    return plan_from_json(doc, src)
