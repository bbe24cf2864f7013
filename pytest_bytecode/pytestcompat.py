"""The one place that reaches into pytest's assertion rewriting.

A measured module that pytest would rewrite (a plugin module, a package
given to ``pytest.register_assert_rewrite``) must get pytest's rewriting and
then the probes.  This module finds pytest's meta-path hook on
``sys.meta_path`` and asks it through the public finder protocol
(``find_spec``: a spec whose loader is the hook means "pytest rewrites this
one"), and rewrites a parsed module with ``rewrite_asserts``, the function
pytest's own loader calls, on the bytes the caller already read.  Nothing
else of pytest's internals is used.

``leave_unrewritten`` takes this distribution's own package off the names
pytest marks for rewriting: pytest marks every package of a distribution
that has a ``pytest11`` entry point, and where it cannot write its rewritten
``.pyc`` (``PYTHONDONTWRITEBYTECODE``, a read-only site-packages) it parses
and compiles each marked module from source at every start.  The plugin's own
modules hold no test assertions; rewriting them bought nothing and cost a
coverage run about 0.2-0.3 s.

``rewrite_settings`` names what the rewritten code depends on besides the
source (the pytest version and ``enable_assertion_pass_hook``), for the
instrumentation cache key.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

#: Where pytest's hook and ``rewrite_asserts`` live (pytest 7.4 to 9).
_REWRITE_MODULE = "_pytest.assertion.rewrite"


def rewriting_hook() -> Any:
    """pytest's assertion-rewriting finder on ``sys.meta_path``, or None."""
    for finder in sys.meta_path:
        kind = type(finder)
        if kind.__name__ == "AssertionRewritingHook" and kind.__module__ == _REWRITE_MODULE:
            return finder
    return None


def note_rewritten(hook: Any, name: str, filename: str) -> None:
    """Record module ``name`` (file ``filename``) as rewritten by ``hook``,
    as pytest's own loader does when it loads one: a later
    ``pytest.register_assert_rewrite`` of an already imported module warns
    ("Module already imported so cannot be rewritten") unless the name is
    recorded there or the module's loader is pytest's hook, and a measured
    module's loader is the plugin's.  pytest keeps the names in
    ``_rewritten_names``, a dict of paths (pytest 8 and 9) or a set (7.4);
    with another layout nothing is recorded."""
    names = getattr(hook, "_rewritten_names", None)
    if isinstance(names, dict):
        from pathlib import Path

        names[name] = Path(filename)
    elif isinstance(names, set):
        names.add(name)


def leave_unrewritten(package: str) -> None:
    """Take ``package`` (and its modules) off pytest's rewrite marks.

    pytest's hook keeps the marks in ``_must_rewrite`` and the answers it gave
    in ``_marked_for_rewrite_cache`` (pytest 7.4 to 9); with another layout
    nothing changes and the modules are rewritten as before.
    """
    hook = rewriting_hook()
    marks = getattr(hook, "_must_rewrite", None)
    answers = getattr(hook, "_marked_for_rewrite_cache", None)
    if not isinstance(marks, set) or not isinstance(answers, dict):
        return
    marks.discard(package)
    prefix = package + "."
    for name in [n for n in answers if n == package or n.startswith(prefix)]:
        del answers[name]


def rewriter(
    config: pytest.Config, warn: Callable[[str], None]
) -> tuple[Callable[[Any, bytes, str], types.CodeType] | None, str]:
    """(rewrite, settings): compile a parsed module as pytest's rewriting
    would, and the settings that result depends on.

    ``rewrite`` is None when pytest's ``rewrite_asserts`` cannot be found
    (said through ``warn``: modules pytest would rewrite are then measured
    without it).
    """
    try:
        module = __import__(_REWRITE_MODULE, fromlist=["rewrite_asserts"])
        rewrite_asserts = module.rewrite_asserts
    except (ImportError, AttributeError) as exc:
        warn(
            "bytecode-cov-no-rewrite: pytest's assertion rewriting not found "
            f"({exc}); measured modules pytest would rewrite run without it"
        )
        return None, ""
    try:
        pass_hook = bool(config.getini("enable_assertion_pass_hook"))
    except (ValueError, KeyError):
        pass_hook = False
    settings = f"pytest {pytest.__version__} pass-hook {pass_hook}"

    def rewrite(tree: Any, source: bytes, filename: str) -> types.CodeType:
        rewrite_asserts(tree, source, filename, config)
        code: types.CodeType = compile(tree, filename, "exec", dont_inherit=True)
        return code

    return rewrite, settings
