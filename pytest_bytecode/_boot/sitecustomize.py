"""Boots the measurement of a child process started by a pytest-bytecode run.

A run with ``--bytecode-cov-subprocess`` puts this file's folder first on
``PYTHONPATH`` and names its children folder in ``PYTEST_BYTECODE_CHILDREN``
(see ``pytest_bytecode/children.py``); Python's ``site`` imports this module
at start-up.  It takes its folder off ``sys.path`` again, runs the
``sitecustomize`` it hid, if there is one, and starts the measurement.  It
never raises: a child that cannot be measured runs as it would have.
"""

import os
import sys


def _run() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    try:  # the sitecustomize this one stands in front of, in its place
        import importlib.machinery
        import importlib.util

        spec = importlib.machinery.PathFinder.find_spec(__name__, sys.path)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            sys.modules[__name__] = module
            spec.loader.exec_module(module)
    except Exception as exc:  # what site.py prints for a failing sitecustomize
        if sys.flags.verbose:
            sys.excepthook(*sys.exc_info())
        else:
            print(
                "Error in sitecustomize; set PYTHONVERBOSE for traceback:\n"
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
    if os.environ.get("PYTEST_BYTECODE_CHILDREN"):
        try:
            from pytest_bytecode import children

            children.boot()
        except Exception:
            pass


_run()
