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
    passed = results.fail_under(res, 50)
    assert passed == results.Verdict(
        False, "Required bytecode instruction coverage of 50.00% reached. Total coverage: 50.00%"
    )
    verdict = results.fail_under(res, 50.5)
    assert verdict.failed
    assert "50.50%" in verdict.line and "Total coverage: 50.00%" in verdict.line


def _with_branches(taken: tuple[int, int], *more: tuple[int, int]) -> results.Results:
    rows = [(2 * i, "POP_JUMP_IF_FALSE", 1, (10, 20), t) for i, t in enumerate((taken, *more))]
    return results.compute(dataset(code("f", [1, 1], branches=rows)))


def test_fail_under_branches_verdict() -> None:
    res = _with_branches((1, 0), (3, 2))  # 3 of 4 outcomes taken
    assert res.totals.percent_covered == 100.0
    assert res.totals.percent_branches_covered == 75.0
    verdict = results.fail_under(res, 80, branches=True)
    assert verdict == results.Verdict(
        True,
        "FAIL Required bytecode branch coverage of 80.00% not reached. "
        "Total branch coverage: 75.00%",
    )
    assert not results.fail_under(res, 75, branches=True).failed
    assert [v.failed for v in results.fail_under_verdicts(res, 100, 80)] == [False, True]
    assert results.fail_under_verdicts(res, None, None) == []


def test_fail_under_branches_without_jumps_or_instructions() -> None:
    """Code without a conditional jump has every branch outcome (none) taken,
    as coverage.py counts a file without branches; nothing measured fails."""
    straight = results.compute(make({"f": [1, 0]}))
    verdict = results.fail_under(straight, 100, branches=True)
    assert verdict == results.Verdict(
        False,
        "Required bytecode branch coverage of 100.00% reached. Total branch coverage: "
        "100.00% (no conditional jumps were measured)",
    )
    nothing = results.compute(CovData())
    assert results.fail_under(nothing, 0, branches=True) == results.Verdict(
        True,
        "FAIL Required bytecode branch coverage of 0.00% not reached: no instructions were "
        "measured (no-data-collected)",
    )


@pytest.mark.parametrize(
    ("value", "against", "precision", "shown"),
    [
        (99.999, 100, 2, "99.99"),  # never rounds to 100 unless it is
        (99.999, None, 2, "99.99"),
        (0.001, None, 2, "0.01"),  # never to 0 unless it is
        (100.0, None, 0, "100"),
        (0.0, None, 3, "0.000"),
        (66.666, None, 0, "67"),
        (66.666, None, 1, "66.7"),
        (79.6, 80, 0, "79.6"),  # precision 0 would show the threshold: more decimals
        (79.996, 80, 2, "79.996"),
        (80.004, 80, 2, "80.00"),  # above the threshold: nothing hidden
        (0.004, 0.01, 2, "0.004"),  # the clamp to 0.01 would hide it
    ],
)
def test_format_percent_never_hides_a_failure(
    value: float, against: float | None, precision: int, shown: str
) -> None:
    assert results.format_percent(value, against, precision) == shown


@pytest.mark.parametrize(
    ("minimum", "precision", "shown"),
    [(80, 0, "80"), (80, 2, "80.00"), (99.5, 0, "99.5"), (99.5, 2, "99.50"), (1e-05, 2, "0.00001")],
)
def test_threshold_keeps_its_decimals(minimum: float, precision: int, shown: str) -> None:
    assert results.threshold_text(minimum, precision) == shown


def test_fail_under_compares_the_exact_total() -> None:
    """Unlike coverage.py's rounding to ``precision``: 79.6 % is not 80 %,
    and the line shows as much."""
    res = results.compute(make({"f": [1] * 796 + [0] * 204}))
    verdict = results.fail_under(res, 80, precision=0)
    assert verdict == results.Verdict(
        True,
        "FAIL Required bytecode instruction coverage of 80% not reached. Total coverage: 79.6%",
    )


def test_select_adds_up_what_is_left() -> None:
    data = make({"f": [1, 0]})
    data.files["other.py"] = make({"g": [1, 1, 1]}).files["m.py"]
    res = results.compute(data)
    assert res.totals.instructions == 5
    kept = results.select(res, lambda path: path != "other.py")
    assert list(kept.files) == ["m.py"] and kept.left_out == 1
    assert (kept.totals.instructions, kept.totals.covered_instructions) == (2, 1)
    assert results.select(res, lambda path: True) is res
    none = results.select(res, lambda path: False)
    verdict = results.fail_under(none, 10)
    assert verdict.failed
    assert "no instructions are left to report (2 measured files left out by [report]" in (
        verdict.line
    )


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
