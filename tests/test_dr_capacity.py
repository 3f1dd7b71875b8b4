"""ΔkW on tiny instances worked out by hand, and the `wattbit dr capacity` command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from policies.policy import load_policy
from scheduler.cli import app
from scheduler.core.problem import build_problem
from scheduler.core.solve import solve
from scheduler.dr.capacity import capacity_table, delta_kw
from tests.helpers import forecast, job, site

runner = CliRunner()

# Site A is clean in slot 1 only; site B is dirty throughout; 4 one-hour slots, PUE 1.25.
FCS = {"ra": forecast("ra", [500, 100, 500, 500]), "rb": forecast("rb", [900] * 4)}


def sites(cap_kw: float = 100.0):
    return [site("A", "ra", gpus=10, cap_kw=cap_kw, pue=1.25, home=True),
            site("B", "rb", gpus=10, cap_kw=100.0, pue=1.25)]


def plan_of(jobs, cap_kw: float = 100.0):
    p = build_problem(sites(cap_kw), jobs, FCS, load_policy("min-carbon"))
    out = solve(p, deterministic=True)
    return p, out.schedule


def test_a_movable_job_can_leave_its_slot() -> None:
    """j1 (4 kW IT = 5 kW facility) is planned at A in the clean slot 1; it may run any
    time on either site, so A can shed all 5 kW in slot 1, and take 5 kW more in slot 0."""
    p, base = plan_of([job("j1", 4, 1, 0, 4)])
    assert base.site[0] == 0 and base.run[0, 1]
    assert delta_kw(p, base, 0, 1, 1, "down") == pytest.approx(5.0)
    assert delta_kw(p, base, 0, 0, 1, "up") == pytest.approx(5.0)
    assert delta_kw(p, base, 0, 1, 1, "up") == pytest.approx(0.0)  # nothing else to add
    # a window of two slots holds only what every slot of it can give: slot 0 has nothing
    assert delta_kw(p, base, 0, 0, 2, "down") == pytest.approx(0.0)


def test_critical_and_deadline_bound_work_never_moves() -> None:
    """A critical job (2 kW IT) stays; j1 due at the end of slot 1 and allowed only at A
    cannot move either: A sheds nothing in slot 1. With a later deadline it sheds j1's 5 kW
    but never the critical job's 2.5 kW."""
    crit = job("c", 2, 1, 1, 2, critical=True, home="A")
    p, base = plan_of([job("j1", 4, 1, 1, 2, allowed=("A",)), crit])
    assert delta_kw(p, base, 0, 1, 1, "down") == pytest.approx(0.0)
    p, base = plan_of([job("j1", 4, 1, 0, 4, allowed=("A",)), crit])
    assert base.run[0, 1] and base.run[1, 1]
    assert delta_kw(p, base, 0, 1, 1, "down") == pytest.approx(5.0)


def test_up_is_capped_by_gpus_and_power() -> None:
    """Three 4-GPU jobs (5 kW facility each), all cheaper at A than at B: A's 10 GPUs hold
    two at a time, so slot 0 can take 5 kW more for each of the two places the plan leaves
    free there. A power cap of 6 kW facility holds one job per slot."""
    jobs = [job(f"j{i}", 4, 1, 0, 4) for i in range(3)]
    ups = []
    for cap_kw, per_slot in ((100.0, 2), (12.0, 2), (6.0, 1)):
        p, base = plan_of(jobs, cap_kw)
        at_a_slot0 = int((base.site == 0)[base.run[:, 0]].sum())
        ups.append(delta_kw(p, base, 0, 0, 1, "up"))
        assert ups[-1] == pytest.approx(5.0 * (per_slot - at_a_slot0))
        assert delta_kw(p, base, 0, 1, 1, "up") == pytest.approx(0.0)  # slot 1 is full
    assert ups[0] == pytest.approx(5.0)  # two fit in slot 0, the plan puts one there


def test_table_covers_every_site_direction_window_and_start() -> None:
    p, base = plan_of([job("j1", 4, 1, 0, 4)])
    rows = capacity_table(p, base, windows=(60, 120), hours=4, every_minutes=60)
    assert len(rows) == 2 * 2 * 2 * 4
    assert all(r.kw >= 0 for r in rows)
    a_down = {(r.window_minutes, r.start.hour): r.kw for r in rows
              if r.id == "A" and r.direction == "down"}
    assert a_down[(60, 1)] == pytest.approx(5.0) and a_down[(120, 0)] == pytest.approx(0.0)


def test_cli_json_contract() -> None:
    res = runner.invoke(app, ["dr", "capacity", "--site", "matsue", "--window", "180",
                              "--every", "180", "--hours", "6", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 2 * 2 * 2  # site and its region × 2 directions × 2 starts
    assert set(rows[0]) == {"scope", "id", "direction", "window_minutes", "start", "kw"}
    assert {r["direction"] for r in rows} == {"down", "up"}
    assert {(r["scope"], r["id"]) for r in rows} == {("site", "matsue"), ("region", "chugoku")}
    assert all(r["kw"] >= 0 and r["window_minutes"] == 180 for r in rows)
    assert rows[0]["start"].endswith("+00:00")


@pytest.mark.parametrize(("args", "field"), [
    (["--site", "atlantis"], "site='atlantis'"),
    (["--window", "0"], "window="),
    (["--hours", "-1"], "hours"),
])
def test_cli_bad_options(args: list[str], field: str) -> None:
    res = runner.invoke(app, ["dr", "capacity", *args])
    assert res.exit_code == 2 and res.output.startswith("error: ") and field in res.output


def test_a_region_is_not_the_sum_of_its_sites() -> None:
    """j1 must run in slot 1, at A or A2 (both in region ra): A can shed its 5 kW (j1 moves
    to A2), A2 has nothing to shed, and the region can shed nothing — 0, not 5 + 0."""
    fleet = [site("A", "ra", gpus=10, pue=1.25, home=True), site("A2", "ra", gpus=10, pue=1.25),
             site("B", "rb", gpus=10, pue=1.25)]
    p = build_problem(fleet, [job("j1", 4, 1, 1, 2, allowed=("A", "A2"))], FCS,
                      load_policy("min-carbon"))
    base = solve(p, deterministic=True).schedule
    on = int(base.site[0])
    assert on in (0, 1) and base.run[0, 1]
    assert delta_kw(p, base, on, 1, 1, "down") == pytest.approx(5.0)
    assert delta_kw(p, base, 1 - on, 1, 1, "down") == pytest.approx(0.0)
    assert delta_kw(p, base, [0, 1], 1, 1, "down") == pytest.approx(0.0)
    rows = capacity_table(p, base, windows=(60,), directions=("down",), hours=2,
                          every_minutes=60, regions=True)
    by = {(r.scope, r.id, r.start.hour): r.kw for r in rows}
    assert by[("region", "ra", 1)] == pytest.approx(0.0)
    assert by[("site", fleet[on].id, 1)] == pytest.approx(5.0)
    assert ("region", "rb", 1) in by


def test_a_window_outside_the_plan_is_refused() -> None:
    from inputs.errors import InputError

    p, base = plan_of([job("j1", 4, 1, 0, 4)])
    with pytest.raises(InputError, match="window"):
        delta_kw(p, base, 0, 4, 1, "down")
