"""The portable vocabulary's rules as data: the docs' table, the hints, the versions.

Each rule of ``pytest_bytecode.vocabulary.RULES`` is one construct that
versions compile differently.  The listings themselves are checked in
test_assertions_portable.py; here, that docs/reference.md's table and the hints for
version-specific opnames are made from the same rules, and that every rule
runs on the versions whose interpreter has the opnames it hides.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import pytest
from bc_helpers import ROOT, load_tool

import pytest_bytecode
from pytest_bytecode import normalize, versions, vocabulary
from pytest_bytecode.vocabulary import RULES


def test_docs_table_is_the_one_made_from_the_rules() -> None:
    tool = load_tool("vocabulary_table")
    shown = tool.readme_table((ROOT / "docs/reference.md").read_text(encoding="utf-8"))
    assert shown == vocabulary.markdown_table(), (
        "the table of the portable level in docs/reference.md differs from the rules: run "
        "`python tools/vocabulary_table.py` and paste its output over that table"
    )
    assert tool.main(["--check", str(ROOT / "docs/reference.md")]) == 0


def test_table_has_one_row_per_rule_in_registry_order() -> None:
    rows = vocabulary.markdown_table().splitlines()[2:]
    assert len(rows) == len(RULES)
    assert rows[0].startswith("| RESUME, NOP") and rows[-1].startswith("| jump arguments")


def test_hints_are_made_from_the_rules() -> None:
    hidden = [name for rule in RULES for name in rule.hides]
    assert len(hidden) == len(set(hidden))
    assert {n: t for rule in RULES for n, t in rule.hides.items()} == normalize.NOT_PORTABLE
    assert normalize.NOT_PORTABLE["BINARY_ADD"] == "BINARY_OP +"
    assert normalize.NOT_PORTABLE["INPLACE_XOR"] == "BINARY_OP ^="
    assert normalize.NOT_PORTABLE["ROT_THREE"] == "SWAP 3, SWAP 2"
    assert normalize.NOT_PORTABLE["LOAD_FAST_LOAD_FAST"] == "LOAD_FAST + LOAD_FAST"
    assert normalize.PORTABLE_OPNAMES.isdisjoint(normalize.NOT_PORTABLE)


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_rule_shape(rule: vocabulary.Rule) -> None:
    assert rule.hides.keys() <= rule.takes, "a rule takes every opname it hides"
    assert (rule.apply is not None) == bool(rule.takes)
    assert rule.rewrite is None or not rule.takes
    assert versions.SUPPORTED[0] <= rule.since <= versions.SUPPORTED[-1]
    assert rule.until is None or rule.since <= rule.until <= versions.SUPPORTED[-1]
    assert "|" not in rule.emits.replace("\\|", "") + rule.reads_as.replace("\\|", "")


@pytest.mark.parametrize("rule", RULES, ids=[rule.name for rule in RULES])
def test_rule_runs_wherever_its_hidden_opnames_exist(rule: vocabulary.Rule) -> None:
    """On this interpreter: an opname it has and a rule hides is taken by a running rule."""
    present = sorted(rule.hides.keys() & versions.ALL_OPNAMES)
    if present:
        assert rule.active, f"{rule.name} hides {present}, which CPython {versions.PY_TAG} has"


def test_registry_is_checked_at_import() -> None:
    bad = vocabulary.Rule("x", "", "", takes=frozenset({"LOAD_GLOBALS"}), apply=lambda r, i: True)
    with pytest.raises(ValueError, match="unknown opnames"):
        vocabulary._check((bad,))
    hides = vocabulary.Rule("y", "", "", hides={"BINARY_ADD": "BINARY_OP +"})
    with pytest.raises(ValueError, match="hides opnames it does not take"):
        vocabulary._check((hides,))


def test_version_numbers_come_from_the_interpreter() -> None:
    assert versions.BINARY_OP_SYMBOLS[versions.NB_SUBSCR] == "[]" and versions.NB_SUBSCR == 26
    assert versions.BINARY_OP_SYMBOLS[:3] == ("+", "&", "//")
    assert versions.BINARY_OP_SYMBOLS[13] == "+="
    assert (versions.INTRINSIC_UNARY_POSITIVE, versions.INTRINSIC_LIST_TO_TUPLE) == (5, 6)
    assert dict(versions.FUNCTION_ATTRIBUTES)[8] == "closure"


def test_missing_stdlib_table_fails_loudly() -> None:
    module = types.ModuleType("fake_opcode")
    with pytest.raises(ImportError, match=r"fake_opcode\._nb_ops is missing on CPython"):
        versions._stdlib_table(module, "_nb_ops", since=versions.SUPPORTED[0])
    assert versions._stdlib_table(module, "_nb_ops", since=(9, 9)) is None


# --- Names ----------------------------------------------------------------------------


def test_op_argrepr_and_the_deprecated_arg() -> None:
    def f(xs: object) -> object:
        return xs

    op = pytest_bytecode.assert_in_bytecode(f, "LOAD_FAST")
    assert op.argrepr == "xs"
    with pytest.warns(DeprecationWarning, match="Op.arg is deprecated.*Op.argrepr"):
        assert op.arg == "xs"


def test_package_exports() -> None:
    from pytest_bytecode.plugin import BytecodeCovWarning

    assert pytest_bytecode.Op is normalize.Op
    assert pytest_bytecode.Level is normalize.Level
    assert pytest_bytecode.BytecodeCovWarning is BytecodeCovWarning
    assert {"Op", "Level", "BytecodeCovWarning"} <= set(dir(pytest_bytecode))
    assert {"Op", "Level", "BytecodeCovWarning"} <= set(pytest_bytecode.__all__)


@pytest.mark.subprocess
def test_start_up_loads_no_helpers() -> None:
    """Importing the package, or loading the plugin, loads neither the helpers nor the rules."""
    code = textwrap.dedent(
        """
        import sys
        import pytest_bytecode
        print(sorted(m for m in sys.modules if m.startswith("pytest_bytecode")))
        import pytest_bytecode.plugin
        print(sorted(m for m in ("pytest_bytecode.assertions", "pytest_bytecode.normalize",
                                 "pytest_bytecode.vocabulary") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["['pytest_bytecode']", "[]"]
