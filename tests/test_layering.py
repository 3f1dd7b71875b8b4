"""Machine check of the house rules in pyproject.toml's import-linter contracts: the layers
(CLIs > simulations > scheduler.core > forecasts > policies > inputs, and forecasts/ by
concern), no import cycle inside a package, and a core free of Kubernetes/HTTP/metrics."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_import_contract_in_pyproject_is_kept() -> None:
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["importlinter"]["contracts"]
    assert {c["type"] for c in contracts} >= {"forbidden", "layers", "acyclic_siblings"}
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a test dependency"
    res = subprocess.run([exe, "--no-logo"], cwd=REPO, capture_output=True, text=True,
                         timeout=300, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    summary = re.search(r"Contracts: (\d+) kept, (\d+) broken\.", res.stdout)
    assert summary, res.stdout
    assert (int(summary[1]), int(summary[2])) == (len(contracts), 0), res.stdout
