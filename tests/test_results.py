"""Verdicts: totals with exclusions, fail-under, and the baseline ratchet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bc_helpers import code, dataset

from pytest_bytecode import baseline, results, versions
from pytest_bytecode.data import CovData


def make(counts: dict[str, list[int]], excluded: list[int] | None = None) -> CovData:
    """One file, one code object per qualname, one instruction per line."""
    codes = [code(name, c, lines=range(1, len(c) + 1)) for name, c in counts.items()]
    return dataset(*codes, sha="sha", excluded_lines=excluded or [])


def test_summary_and_exclusions() -> None:
    res = results.compute(make({"f": [1, 0, 0, 2]}, excluded=[2]))
    assert res.totals.instructions == 3
    assert res.totals.covered_instructions == 2
    assert res.totals.percent_covered == pytest.approx(66.666, rel=1e-3)
    assert results.Summary().percent_covered == 100.0


@pytest.mark.parametrize("value", ["-1", "100.5", "abc", "nan", ""])
def test_fail_under_rejects(value: str) -> None:
    with pytest.raises(results.ResultError, match="must be a number from 0 to 100"):
        results.parse_fail_under(value)


def test_fail_under_verdict() -> None:
    res = results.compute(make({"f": [1, 0]}))
    assert results.parse_fail_under("50") == 50.0
    assert results.fail_under_verdict(res, 50) is None
    verdict = results.fail_under_verdict(res, 50.5)
    assert verdict is not None
    assert "50.50%" in verdict and "Total coverage: 50.00%" in verdict


def test_format_percent_never_hides_a_failure() -> None:
    assert results.format_percent(99.999, 100) == "99.9990"


def test_baseline_drops_and_gains(tmp_path: Path) -> None:
    before = results.compute(make({"f": [1, 1, 0], "g": [0, 0]}))
    path = tmp_path / "baseline.json"
    baseline.write_baseline(before, path)
    base = baseline.load_baseline(path)
    after = results.compute(make({"f": [1, 0, 0], "g": [1, 1]}))
    comparison = baseline.compare_baseline(base, after)
    drops = [c.describe() for c in comparison.drops]
    assert drops == ["f (m.py): 2 → 1 covered instructions"]
    gains = [c.describe() for c in comparison.gains]
    assert (comparison.total_before, comparison.total_after) == (2, 3)
    assert gains == ["g (m.py): 0 → 2 covered instructions"]
    same = baseline.compare_baseline(base, before)
    assert same.drops == () and same.gains == ()


def test_baseline_from_other_python_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    baseline.write_baseline(results.compute(make({"f": [1]})), path)
    raw = json.loads(path.read_text())
    raw["python"] = "3.99"
    path.write_text(json.dumps(raw))
    with pytest.raises(results.ResultError, match=r"recorded with Python 3\.99") as exc:
        baseline.load_baseline(path)
    assert versions.PY_TAG in str(exc.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "corrupt baseline"),
        ("[]", "not a pytest-bytecode baseline"),
        (
            json.dumps({"kind": baseline.BASELINE_KIND, "format": 1, "python": versions.PY_TAG}),
            "corrupt baseline",
        ),
    ],
)
def test_bad_baseline(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(results.ResultError, match=message):
        baseline.load_baseline(path)
    with pytest.raises(results.ResultError, match="cannot read baseline"):
        baseline.load_baseline(tmp_path / "missing.json")
