"""The README's parameter table lists exactly the fields of Site, Job and Policy."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from policies.job import Job
from policies.policy import Policy
from policies.site import Site

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_parameter_table_matches_the_types() -> None:
    rows = re.findall(r"^\| (site|job|policy) \| `([a-z_]+)` \|", README.read_text(), re.M)
    documented = {(e, n) for e, n in rows}
    actual = {("site", f.name) for f in fields(Site)} | {("job", f.name) for f in fields(Job)} \
        | {("policy", f.name) for f in fields(Policy)}
    assert documented == actual
