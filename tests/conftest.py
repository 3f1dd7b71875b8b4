"""Shared fixtures: the shared data folder (one setting) and small builders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """`WATTBIT_SHARED_DATA`, default `../shared/data` beside the checkout."""
    return Path(os.environ.get("WATTBIT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder; tests using it skip with a reason where it is absent.

    `.ci/run` sets WATTBIT_REQUIRE_SHARED_DATA=1 so that a missing folder fails instead.
    """
    root = shared_data_root()
    if not (root / "grid").is_dir():
        if os.environ.get("WATTBIT_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(f"shared data required but absent at {root}")
        pytest.skip(f"shared data folder {root} is absent (set WATTBIT_SHARED_DATA)")
    return root


@pytest.fixture(scope="session")
def k8s_fixtures() -> Path:
    """The kube-scheduler extender wire fixtures (../shared/k8s-extender/fixtures, beside
    the data folder); skip where absent, fail in CI (WATTBIT_REQUIRE_SHARED_DATA=1)."""
    root = shared_data_root().parent / "k8s-extender" / "fixtures"
    if not root.is_dir():
        if os.environ.get("WATTBIT_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(f"extender fixtures required but absent at {root}")
        pytest.skip(f"extender fixtures {root} are absent (set WATTBIT_SHARED_DATA)")
    return root
