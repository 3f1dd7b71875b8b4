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
    pol = tmp_path / "reward.yaml"
    pol.write_text("carbon_weight_per_kg: 1.0\ncurtailment_reward_per_kwh: 0.5\n")
    out = tmp_path / "plan.json"
    code, _, _ = run("plan", "--policy", str(pol), "--out", str(out))
    assert code == 0
    assert json.loads(out.read_text())["summary"]["curtailment_absorbed_kwh"] > 0


def test_the_console_script_runs_as_the_readme_says() -> None:
    res = subprocess.run([sys.executable, "-m", "scheduler", "plan", "--time-limit", "30"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert "summary" in res.stdout
