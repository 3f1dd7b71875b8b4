"""Invariants of every plan, checked on random instances (hypothesis)."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies.policy import load_policy
from scheduler.core.plan import make_plan
from scheduler.core.problem import build_problem
from scheduler.core.solve import Method, solve
from scheduler.plan_file import plan_to_json
from simulations.instances import Instance, random_instance


def recomputed_kg_co2(inst: Instance, doc: dict) -> tuple[float, dict[str, float]]:
    """The accounting of the issue, recomputed from plan.json and the raw inputs only."""
    sites = {s.id: s for s in inst.sites}
    jobs = {j.id: j for j in inst.jobs}
    it_kw: dict[tuple[str, pd.Timestamp], float] = {}
    any_fc = next(iter(inst.forecasts.values()))
    slot = pd.Timedelta(minutes=any_fc.slot_minutes)
    for jp in doc["jobs"]:
        for seg in jp["segments"]:
            t, end = pd.Timestamp(seg["start"]), pd.Timestamp(seg["end"])
            while t < end:
                key = (jp["site"], t)
                it_kw[key] = it_kw.get(key, 0.0) + jobs[jp["id"]].it_kw
                t += slot
    per_site: dict[str, float] = {}
    slot_h = any_fc.slot_minutes / 60
    for (sid, t), kw in it_kw.items():
        fc = inst.forecasts[sites[sid].region]
        i = fc.slot_starts.get_loc(t)
        facility_kwh = kw * sites[sid].pue.base * slot_h
        zero = min(facility_kwh, sites[sid].curtailment_share * fc.curtailment_mw[i] * 1000
                   * slot_h)
        kg = (facility_kwh - zero) * fc.carbon_gco2_per_kwh[i] / 1000
        per_site[sid] = per_site.get(sid, 0.0) + kg
    return sum(per_site.values()), per_site


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_jobs=st.integers(1, 14), n_sites=st.integers(1, 4), n_slots=st.integers(6, 24),
       seed=st.integers(0, 10_000), load=st.floats(0.3, 1.5),
       method=st.sampled_from(list(Method)),
       policy=st.sampled_from(["min-carbon", "follow-the-sun-wind", "balanced"]))
def test_every_plan_respects_the_rules_and_its_accounting(
        n_jobs: int, n_sites: int, n_slots: int, seed: int, load: float, method: Method,
        policy: str) -> None:
    inst = random_instance(n_jobs, n_sites=n_sites, n_slots=n_slots, slot_minutes=60,
                           seed=seed, checkpointable_share=0.3, load_factor=load)
    p = build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy(policy))
    out = solve(p, method, time_limit_s=10)
    plan = make_plan(p, out, solve(p, Method.ASAP))
    doc = plan_to_json(plan)
    sites = {s.id: s for s in inst.sites}
    slot = pd.Timedelta(hours=1)
    used_gpus: dict[tuple[str, pd.Timestamp], int] = {}
    for jp, job in zip(doc["jobs"], inst.jobs, strict=True):
        assert jp["id"] == job.id
        if jp["site"] is None:
            assert jp["late"] and not jp["segments"]
            continue
        segs = [(pd.Timestamp(s["start"]), pd.Timestamp(s["end"])) for s in jp["segments"]]
        assert segs[0][0] >= pd.Timestamp(job.release).floor("h")
        assert jp["late"] == (segs[-1][1] > pd.Timestamp(job.deadline))
        if job.latency.value == "critical":
            assert jp["site"] == (job.home_site or next(s.id for s in inst.sites if s.home))
        if not job.checkpointable:
            assert len(segs) == 1
        if job.allowed_sites:
            s = sites[jp["site"]]
            assert any(a == s.id or a in s.residency for a in job.allowed_sites)
        for a, b in segs:
            t = a
            while t < b:
                key = (jp["site"], t)
                used_gpus[key] = used_gpus.get(key, 0) + job.gpus
                t += slot
    for (sid, _), g in used_gpus.items():
        assert g <= sites[sid].gpus
    for sp in doc["sites"]:
        for sl in sp["slots"]:
            assert sl["facility_kw"] <= sites[sp["id"]].power_cap_kw + 1e-6
    total, per_site = recomputed_kg_co2(inst, doc)
    assert abs(doc["summary"]["kg_co2"] - total) <= 1e-6 * max(1.0, total)
    for sp in doc["sites"]:
        site_kg = sum(sl["kg_co2"] for sl in sp["slots"])
        assert abs(site_kg - per_site.get(sp["id"], 0.0)) <= 1e-4 * max(1.0, site_kg)
    jobs_kg = sum(jp["kg_co2"] for jp in doc["jobs"])
    assert abs(jobs_kg - total) <= 1e-4 * max(1.0, total)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_jobs=st.integers(2, 12))
def test_the_milp_is_never_worse_than_greedy_or_asap(seed: int, n_jobs: int) -> None:
    inst = random_instance(n_jobs, n_sites=3, n_slots=12, slot_minutes=60, seed=seed,
                           checkpointable_share=0.3, load_factor=1.0)
    p = build_problem(inst.sites, inst.jobs, inst.forecasts, load_policy("min-carbon"))
    milp = solve(p, time_limit_s=20, mip_gap=1e-9)
    for method in (Method.GREEDY, Method.ASAP):
        assert milp.objective <= solve(p, method).objective + 1e-6 * max(1, abs(milp.objective))
    assert milp.bound <= milp.objective + 1e-6 * max(1.0, abs(milp.objective))
