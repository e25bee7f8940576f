"""Fuzz suite: ≥ 300 generated malformed documents, tables, task files and configs.

Every case must end in a clear error naming the input (file, line or field) or in a
result where every row, task or task slot is kept or counted with its reason: never a
traceback, a hang or a silent loss. Cases are built by `tests/fuzz/cases.py` (seeded).
"""

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from tests.fuzz.cases import build_cases
from tests.fuzz.harness import run_case

pytestmark = pytest.mark.slow


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_cases_are_deterministic(tmp_path):
    first = build_cases(tmp_path / "a", seed=5)
    second = build_cases(tmp_path / "b", seed=5)
    assert [c.name for c in first] == [c.name for c in second]
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    build_cases(tmp_path / "c", seed=6)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_every_malformed_input_is_an_error_naming_it_or_counted(tmp_path):
    cases = build_cases(tmp_path, seed=0)
    kinds = Counter(c.kind for c in cases)
    assert len(cases) >= 300 and min(kinds.values()) >= 50, kinds
    outcomes = [run_case(c) for c in cases]
    unhandled = [f"{o.case.name} ({o.case.path}): {o.detail}" for o in outcomes if o.status == "unhandled"]
    assert not unhandled, "\n".join(unhandled)
    statuses = Counter((o.case.kind, o.status) for o in outcomes)
    for kind in kinds:  # each kind really exercised both ends: refused inputs and loaded-with-counts inputs
        assert statuses[(kind, "error")] > 0 and statuses[(kind, "handled")] > 0, statuses
