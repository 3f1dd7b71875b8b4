"""`wattbit plan` end to end: the README command, plan.json, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scheduler.cli import app
from scheduler.plan_cli import EXAMPLES

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    res = runner.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_plan_on_the_built_in_example_beats_the_baseline_and_writes_plan_json(
        tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    code, stdout, _ = run("plan", "--time-limit", "60", "--out", str(out))
    assert code == 0, stdout
    doc = json.loads(out.read_text())
    assert set(doc) == {"jobs", "sites", "summary"}
    s = doc["summary"]
    assert s["kg_co2"] < s["baseline_kg_co2"]
    assert s["curtailment_absorbed_kwh"] > 0
    assert s["bound"] <= s["objective"] + 1e-6
    assert {"id", "site", "segments", "late", "kwh", "kg_co2"} <= set(doc["jobs"][0])
    assert {"start", "it_kw", "facility_kw", "zero_carbon_kwh", "kg_co2"} <= set(
        doc["sites"][0]["slots"][0])
    for jp in doc["jobs"]:
        for seg in jp["segments"]:
            assert seg["start"].endswith("+00:00")
    assert "saving" in stdout and "curtailment absorbed" in stdout


@pytest.mark.parametrize("method", ["greedy", "asap"])
def test_plan_runs_the_baselines_on_request(method: str) -> None:
    code, stdout, _ = run("plan", "--method", method)
    assert code == 0 and method in stdout


def test_a_job_with_an_impossible_deadline_is_planned_as_early_as_possible_and_flagged(
        tmp_path: Path) -> None:
    jobs = (EXAMPLES / "jobs.csv").read_text().splitlines()
    jobs.append("rush,8,0.9,6,2026-05-03T00:00:00+00:00,2026-05-03T02:00:00+00:00,tolerant,,"
                "shiroi,false")
    (tmp_path / "jobs.csv").write_text("\n".join(jobs) + "\n")
    out = tmp_path / "plan.json"
    code, stdout, _ = run("plan", "--jobs", str(tmp_path / "jobs.csv"), "--out", str(out))
    assert code == 0, stdout
    rush = next(j for j in json.loads(out.read_text())["jobs"] if j["id"] == "rush")
    assert rush["late"] and rush["impossible"]
    assert rush["segments"] == [{"start": "2026-05-03T00:00:00+00:00",
                                 "end": "2026-05-03T06:00:00+00:00"}]
    assert "after their deadline" in stdout


def _copy_examples(tmp_path: Path) -> dict[str, Path]:
    files = {}
    for name in ("sites.yaml", "jobs.csv", "forecast.csv"):
        files[name] = tmp_path / name
        files[name].write_text((EXAMPLES / name).read_text())
    return files


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


BAD_INPUTS = [
    # (file, old, new, words the one-line error must contain)
    ("jobs.csv", "train-01,8,", "train-01,eight,", ["gpus", "'eight'", "train-01"]),
    ("jobs.csv", "train-01,8,", "train-01,-8,", ["gpus", "'-8'"]),
    ("jobs.csv", "2026-05-04T01:30:00+00:00,tolerant", "2026-05-02T01:30:00+00:00,tolerant",
     ["deadline", "2026-05-02T01:30:00+00:00", "not after release"]),
    ("jobs.csv", "tolerant,,shiroi,false", "tolerant,osaka,shiroi,false",
     ["allowed_sites", "'osaka'", "matches no site"]),
    ("jobs.csv", "2026-05-02T15:00:00+00:00,2026-05-04T01:30",
     "yesterday,2026-05-04T01:30", ["release", "'yesterday'"]),
    ("jobs.csv", "id,gpus", "id,gpu_count", ["columns", "missing gpus"]),
    ("jobs.csv", "tolerant,,shiroi,false", "tolerant,,shiroi,maybe",
     ["checkpointable", "'maybe'"]),
    ("sites.yaml", "gpus: 256", "gpus: [256", ["yaml", "line"]),
    ("sites.yaml", "gpus: 256", "gpus: -256", ["gpus", "-256"]),
    ("sites.yaml", "pue: 1.33", "pue: 0.9", ["pue", "0.9", "≥ 1"]),
    ("sites.yaml", "curtailment_share: 0.0003", "curtailment_share: 3",
     ["curtailment_share", "3"]),
    ("sites.yaml", "region: chugoku", "region: shimane", ["region", "'shimane'", "no forecast"]),
    ("forecast.csv", "chugoku,2026-05-02T16:00:00+00:00,", "chugoku,2026-05-02T16:10:00+00:00,",
     ["not uniform"]),
    ("forecast.csv", "tokyo,2026-05-02T15:00:00+00:00,", "tokyo,2026-05-02T15:00:00,",
     ["time", "no UTC offset"]),
    ("forecast.csv", "chugoku,2026-05-02T15:00:00+00:00,620,", "chugoku,2026-05-02T15:00:00+00:00,"
     "lots,", ["carbon_gco2_per_kwh", "'lots'"]),
]


@pytest.mark.parametrize(("name", "old", "new", "words"), BAD_INPUTS,
                         ids=[f"{b[0]}:{b[3][0]}" for b in BAD_INPUTS])
def test_bad_input_gets_a_one_line_error_naming_field_and_value_and_exit_code_2(
        tmp_path: Path, name: str, old: str, new: str, words: list[str]) -> None:
    files = _copy_examples(tmp_path)
    _edit(files[name], old, new)
    code, stdout, stderr = run("plan", "--sites", str(files["sites.yaml"]),
                               "--jobs", str(files["jobs.csv"]),
                               "--forecast", str(files["forecast.csv"]))
    assert code == 2, stdout
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert "Traceback" not in stdout + stderr


def test_jobs_due_after_the_forecast_end_are_planned_inside_it_or_deferred_not_late(
        tmp_path: Path) -> None:
    files = _copy_examples(tmp_path)
    rows = files["forecast.csv"].read_text().splitlines()
    files["forecast.csv"].write_text("\n".join(r for r in rows if "2026-05-04T1" not in r))
    out = tmp_path / "plan.json"
    code, _, stderr = run("plan", "--sites", str(files["sites.yaml"]), "--forecast",
                               str(files["forecast.csv"]), "--out", str(out))
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    end = max(s["start"] for s in doc["sites"][0]["slots"])
    assert end < "2026-05-04T10:00:00+00:00"
    jobs = {j["id"]: j for j in doc["jobs"]}
    assert len(jobs) == 32  # nobody is lost
    for j in jobs.values():
        assert j["site"] is not None or j["deferred"], j
        assert not (j["deferred"] and j["late"]), j
        for seg in j["segments"]:
            assert seg["end"] <= "2026-05-04T10:00:00+00:00"


def test_invalid_policy_yaml_names_file_field_and_value(tmp_path: Path) -> None:
    pol = tmp_path / "mine.yaml"
    pol.write_text("carbon_weight_per_kg: heavy\n")
    code, _, stderr = run("plan", "--policy", str(pol))
    assert code == 2 and "mine.yaml" in stderr and "carbon_weight_per_kg" in stderr \
        and "'heavy'" in stderr
    pol.write_text("carbon_wieght_per_kg: 1\n")
    code, _, stderr = run("plan", "--policy", str(pol))
    assert code == 2 and "carbon_wieght_per_kg" in stderr and "unknown field" in stderr
    code, _, stderr = run("plan", "--policy", "greenest")
    assert code == 2 and "'greenest'" in stderr and "min-carbon" in stderr


def test_a_custom_policy_file_is_used(tmp_path: Path) -> None:
    """A policy that only weighs the energy bill must plan differently from the default
    (emissions go up); a CLI that ignored --policy would give the default's figures."""
    pol = tmp_path / "bill-only.yaml"
    pol.write_text("carbon_weight_per_kg: 0.0\ncost_weight_per_jpy: 1.0\n")
    kg = {}
    for name, policy in (("default", "min-carbon"), ("custom", str(pol))):
        out = tmp_path / f"{name}.json"
        code, _, stderr = run("plan", "--policy", policy, "--out", str(out), "--mip-gap", "0.02")
        assert code == 0, stderr
        kg[name] = json.loads(out.read_text())["summary"]["kg_co2"]
    assert kg["custom"] > 1.2 * kg["default"]


def test_the_console_script_runs_as_the_readme_says() -> None:
    res = subprocess.run([sys.executable, "-m", "scheduler", "plan", "--time-limit", "30"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert "summary" in res.stdout


def test_a_replan_from_now_with_a_running_job_a_dr_limit_and_the_previous_plan(
        tmp_path: Path) -> None:
    """The README's worked example: train-01 runs at Shiroi, Matsue is held under 100 kW
    from 14:00 to 17:00 JST, and the first plan is the previous one."""
    first = tmp_path / "first.json"
    assert run("plan", "--out", str(first), "--mip-gap", "0.02")[0] == 0
    files = _copy_examples(tmp_path)
    _edit(files["jobs.csv"], "checkpointable\n", "checkpointable,site,done_h\n")
    _edit(files["jobs.csv"], "tolerant,,shiroi,false\n", "tolerant,,shiroi,false,shiroi,2\n")
    limits = tmp_path / "limits.csv"
    limits.write_text("site,start,end,max_facility_kw\n"
                      "matsue,2026-05-03T14:00:00+09:00,2026-05-03T17:00:00+09:00,100\n")
    out = tmp_path / "second.json"
    code, stdout, stderr = run("plan", "--jobs", str(files["jobs.csv"]), "--now",
                               "2026-05-03T06:10:00+09:00", "--limits", str(limits),
                               "--previous", str(first), "--out", str(out),
                               "--mip-gap", "0.02")
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    s = doc["summary"]
    assert s["now"] == "2026-05-02T21:10:00+00:00"
    assert isinstance(s["changed_jobs"], int) and "changed jobs" in stdout
    assert doc["sites"][0]["slots"][0]["start"] == "2026-05-02T21:00:00+00:00"
    running = next(j for j in doc["jobs"] if j["id"] == "train-01")
    assert running["site"] == "shiroi"
    assert running["segments"][0]["start"] == "2026-05-02T21:00:00+00:00"
    matsue = next(x for x in doc["sites"] if x["id"] == "matsue")
    for slot in matsue["slots"]:
        if "2026-05-03T05:00" <= slot["start"] < "2026-05-03T08:00":
            assert slot["facility_kw"] <= 100 + 1e-6
    assert s["limit_shortfalls"] == []


def test_the_method_option_is_obeyed(tmp_path: Path) -> None:
    sums = {}
    for method in ("asap", "milp"):
        out = tmp_path / f"{method}.json"
        assert run("plan", "--method", method, "--out", str(out), "--mip-gap", "0.02")[0] == 0
        sums[method] = json.loads(out.read_text())["summary"]
    # asap is the baseline itself; the MILP saves most of it
    assert sums["asap"]["kg_co2"] == pytest.approx(sums["asap"]["baseline_kg_co2"])
    assert sums["milp"]["kg_co2"] < 0.5 * sums["asap"]["kg_co2"]


NEW_BAD_INPUTS = [
    # (extra args or file edits, words the one-line error must contain)
    (["--mip-gap", "-1"], ["mip_gap", "-1.0"]),
    (["--tz", "Mars/Base"], ["tz", "'Mars/Base'", "unknown time zone"]),
    (["--out", "/nonexistent-folder/plan.json"], ["out", "does not exist"]),
    (["--jobs", "."], ["is a folder"]),
    (["--sites", "."], ["is a folder"]),
    (["--previous", "."], ["is a folder"]),
    (["--now", "2026-05-03T06:00:00"], ["now", "no UTC offset"]),
    (["--now", "2026-04-01T00:00:00+00:00"], ["start", "after --now"]),
]


@pytest.mark.parametrize(("args", "words"), NEW_BAD_INPUTS, ids=[a[0][0] for a in NEW_BAD_INPUTS])
def test_bad_options_are_refused_before_any_solving(args: list[str], words: list[str]) -> None:
    code, stdout, stderr = run("plan", *args)
    assert code == 2, stdout
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


BAD_LIVE_FILES = [
    ("checkpointable,site,done_h", "false,osaka,0", ["job train-01", "site", "'osaka'"]),
    ("checkpointable,site,done_h", "false,shiroi,7", ["done_h", "'7'", "duration_h"]),
    ("checkpointable,site,done_h", "false,shiroi,-1", ["done_h", "'-1'"]),
    ("checkpointable", "false,extra,cells,here", ["content", "not a readable CSV"]),
]


@pytest.mark.parametrize(("header", "cells", "words"), BAD_LIVE_FILES,
                         ids=[b[2][1] for b in BAD_LIVE_FILES])
def test_bad_live_state_columns_name_job_field_and_value(
        tmp_path: Path, header: str, cells: str, words: list[str]) -> None:
    files = _copy_examples(tmp_path)
    _edit(files["jobs.csv"], "checkpointable\n", header + "\n")
    _edit(files["jobs.csv"], "train-01,8,0.9,6.5,2026-05-02T15:00:00+00:00,"
          "2026-05-04T01:30:00+00:00,tolerant,,shiroi,false",
          "train-01,8,0.9,6.5,2026-05-02T15:00:00+00:00,2026-05-04T01:30:00+00:00,tolerant,,"
          "shiroi," + cells)
    code, _, stderr = run("plan", "--jobs", str(files["jobs.csv"]))
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.parametrize(("row", "words"), [
    ("matsue,2026-05-03T14:00:00+09:00,2026-05-03T13:00:00+09:00,100", ["end", "not after"]),
    ("matsue,2026-05-03T14:00:00+09:00,2026-05-03T17:00:00+09:00,lots", ["max_facility_kw",
                                                                         "'lots'"]),
    ("osaka,2026-05-03T14:00:00+09:00,2026-05-03T17:00:00+09:00,100", ["site", "'osaka'"]),
])
def test_bad_limits_name_the_field_and_value(tmp_path: Path, row: str, words: list[str]) -> None:
    limits = tmp_path / "limits.csv"
    limits.write_text("site,start,end,max_facility_kw\n" + row + "\n")
    code, _, stderr = run("plan", "--limits", str(limits))
    assert code == 2
    for w in words:
        assert w in stderr, (w, stderr)


def test_a_hole_in_a_forecast_is_named_not_called_non_uniform(tmp_path: Path) -> None:
    files = _copy_examples(tmp_path)
    rows = files["forecast.csv"].read_text().splitlines()
    files["forecast.csv"].write_text("\n".join(
        r for r in rows if not r.startswith("tokyo,2026-05-03T03:")) + "\n")
    code, _, stderr = run("plan", "--forecast", str(files["forecast.csv"]))
    assert code == 2
    assert "missing slot" in stderr and "2026-05-03T03:00:00+00:00" in stderr
    assert "region tokyo" in stderr
