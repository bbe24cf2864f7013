"""The import hook: modules under SOURCE run as instrumented code.

Every ordinary import of a ``.py`` file ends in
``importlib.machinery.SourceFileLoader``: the meta-path import, pytest's
``--import-mode=importlib``, ``importlib.util.spec_from_file_location`` with
``exec_module``, ``runpy``, ``importlib.reload``.  So for the length of a run
:func:`install` gives that class two methods of its own, ``get_code`` and
``exec_module``; for a module under SOURCE they serve instrumented code
(:meth:`Measurement.cached`, :meth:`Measurement.instrumented`), for every
other module they are the ones Python has.  A measured module's loader stays the genuine
``SourceFileLoader`` (``get_source``, ``get_resource_reader``, ``is_package``
and the rest are Python's own), and ``loader.get_code(name)`` returns the
instrumented code, as ``runpy`` expects.

A measured import first runs Python's own ``SourceLoader.get_code`` for
what the plain import does besides making the code: it reads the ``.pyc``
or compiles (the compile's warnings; its ``SyntaxError``, raised from
importlib's own frames) and writes the ``.pyc``.  The code instrumented
is that compile's when the plain import compiled (no valid ``.pyc``) the
very bytes the cache key hashes; otherwise (a ``.pyc`` was read, or the
file changed between the two reads) they are compiled with
``SourceLoader.source_to_code`` itself (``dont_inherit=True``, the
interpreter's optimisation level) and warnings ignored, since the plain
compile gave them.  Code read from a ``.pyc`` is never instrumented: a stale
one (same modification time and size) would be stored under the key of
source it was not made from.  A loader class with a ``source_to_code`` of its own (a
source transformer such as beartype.claw's, another optimisation level)
compiles by rules the bytes do not tell: its module's code is the one the
plain ``get_code`` made, instrumented, neither taken from the cache nor
stored.  The methods are marked as importlib's own frames (their
code carries importlib's file name), so Python's import machinery cuts them
from tracebacks like its own: a ``SyntaxError`` in a measured module, or an
exception raised by its body, reads exactly as without the plugin.  Everything else the hook does
runs in ordinary frames below them and never lets an error out: a module the
engine cannot instrument runs uninstrumented, with a warning.

Modules pytest rewrites (plugins, ``register_assert_rewrite``) never reach
``SourceFileLoader``: :class:`RewriteFinder`, ahead of pytest's hook on
``sys.meta_path``, asks that hook through its public finder protocol whether
it would rewrite a module under SOURCE, and if so loads it with a
:class:`RewritingLoader`, which applies pytest's rewriting and then the
probes.

Modules imported before the hook was installed are handled by
:func:`instrument_loaded`: every live function whose code comes from their
files gets instrumented code; their module-level code has already run and
cannot be measured.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.machinery
import importlib.util
import os
import sys
import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from pytest_bytecode import engine, versions
from pytest_bytecode.cache import InstrumentationCache
from pytest_bytecode.collector import Collector
from pytest_bytecode.sources import Selector, report_path

# Loaded now, with the hook, not at the first cache store or load: that may
# be in the middle of a measured module's import, a fresh import of a module
# the engine's own modules import from (``functools``) included.
from pytest_bytecode.engine import persist as _persist  # noqa: F401  # isort: skip

Trace = Callable[[str], None]

#: Compiles a parsed module the way pytest's assertion rewriting does:
#: (tree, source, filename) -> code.
RewriteFn = Callable[[Any, bytes, str], types.CodeType]

_Loader = importlib.machinery.SourceFileLoader
#: The file name of importlib's own frames, which the import machinery cuts
#: from tracebacks (``remove_importlib_frames`` in CPython's import.c).
_IMPORTLIB_FILE = _Loader.get_code.__code__.co_filename

try:  # importlib's marker for "cut the frames up to here"; private since 3.3
    from importlib._bootstrap import (  # type: ignore[attr-defined]
        _call_with_frames_removed as _frames_removed,
    )
except ImportError:  # pragma: no cover - every CPython 3.10-3.15 has it

    def _frames_removed(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return f(*args, **kwargs)


#: ``SourceLoader.get_code``, what a plain import of a source file runs (the
#: install replaces ``SourceFileLoader``'s, not this one).
_PLAIN_GET_CODE = next(
    k.__dict__["get_code"] for k in _Loader.__mro__[1:] if "get_code" in k.__dict__
)

#: ``SourceLoader.source_to_code``: a loader with another one (its class's or
#: its own) compiles in a way of its own (see ``measured_code`` in
#: :func:`_methods`).
_PLAIN_SOURCE_TO_CODE = _Loader.source_to_code

#: The cache part of a module's read plans, beside its code's entry.
PLANS = "-plans"

#: ``compile`` flag for the parse before pytest's rewriting.
_AST_ONLY = 0x400  # ast.PyCF_ONLY_AST, without importing ast at start-up


class Measurement:
    """What the hook needs to measure modules: which, where counts go, the cache."""

    def __init__(
        self,
        selector: Selector,
        collector: Collector,
        cache: InstrumentationCache,
        trace: Trace,
        warn: Callable[[str], None],
        rewrite: RewriteFn | None = None,
        rewrite_settings: str = "",
    ) -> None:
        self.selector = selector
        self.collector = collector
        self.cache = cache
        self.trace = trace
        self.warn = warn
        self.rewrite = rewrite
        self.rewrite_settings = rewrite_settings
        #: Files measured so far (instrument_loaded skips them).
        self.loaded: set[str] = set()
        #: id of a handle -> (key, file name, handle) of the cache entries
        #: whose read plans were missing and are worked out this run (see
        #: store_worked_out_plans); shared with an adopted measurement.
        self._unstored_plans: dict[int, list[tuple[str, str, Any]]] = {}
        #: Where files are never under SOURCE unless their module name says
        #: so: the interpreter's own library (third-party packages included).
        self.library_dirs = _library_dirs(selector)

    def wants(self, fullname: str, filename: str) -> bool:
        """Whether module ``fullname`` loaded from ``filename`` is measured (traced).

        Decided by the file, as coverage.py does: a file under SOURCE is
        measured under whatever name it is loaded.  Files of the standard
        library and of installed packages are let go after one prefix check.
        """
        selector = self.selector
        if not selector.may_match_name(fullname) and filename.startswith(self.library_dirs):
            return False
        reason = selector.reason_to_skip(fullname, filename)
        if reason is not None:
            self.trace(f"skip {fullname} ({filename}): {reason}")
            return False
        return True

    def key(self, filename: str, source: bytes, rewritten: bool) -> str:
        """The cache key of ``source`` compiled plain or through pytest's rewriting."""
        mode = "rewrite" if rewritten else "plain"
        rules = f"exclude {self.selector.exclude_regex!r} partial {self.selector.partial_regex!r}"
        if rewritten:
            rules = f"{self.rewrite_settings} {rules}"
        return self.cache.key(source, filename, mode, rules, engine.ENGINE_VERSION)

    def cached(self, fullname: str, filename: str, source: bytes, key: str) -> Any:
        """The instrumented code of ``source`` from the cache, registered; else None."""
        directory = self.cache.directory
        reason = self.cache.untrusted()  # said once, at the first measured module
        if reason is not None:
            self.warn(
                f"bytecode-cov-cache-untrusted: instrumentation cache {directory} not used: "
                f"{reason}"
            )
        entry = self.cache.get(key)
        if entry is None:
            return None
        payload, excluded, no_branch = entry
        try:
            inst = engine.loads(payload)
        except Exception as exc:  # ValueError by contract; any cache problem is traced
            self.trace(f"cache entry for {filename} unusable ({exc}); instrumenting afresh")
            self.cache.discard(key)
            return None
        inst.supply_plans(lambda: self._plans_from_cache(key, filename, inst))
        self.trace(f"cache hit for {fullname} ({filename})")
        self._register(filename, source, inst, frozenset(excluded), frozenset(no_branch))
        return inst.code

    def _plans_from_cache(self, key: str, filename: str, inst: Any) -> bytes | None:
        """The read plans stored apart for the entry ``key`` (None: gone,
        damaged or another version's, and the plans are worked out anew, to
        be stored by :meth:`store_worked_out_plans`)."""
        entry = self.cache.get(key, PLANS)
        if entry is None:
            self.trace(f"no stored read plans for {filename}; working them out")
            self._unstored_plans.setdefault(id(inst), []).append((key, filename, inst))
            return None
        return entry[0]

    def read_for_the_last_time(self, handle: Any) -> None:
        """What follows the last read of ``handle``'s counts in this process
        (the run's end): its worked-out read plans stored, if it has some
        (:meth:`store_worked_out_plans`), then what reading needs released."""
        self.store_worked_out_plans(handle)
        handle.release()

    def store_worked_out_plans(self, only: Any = None) -> None:
        """Store the read plans this run worked out for want of stored ones
        (after counts were read: they are made by then), so that the next
        run reads them: an entry whose plans went missing or were left from
        another version of the file is mended, not read slowly for ever.
        ``only``: those of this handle alone.

        Only while the entry's code is still the handle's version (the file
        may have been loaded again since, or stored by another run), and
        not when another process (an xdist worker) has stored them already.
        """
        # Taken out in place: an adopted measurement shares the dict.
        if only is None:
            unstored = [entry for entries in self._unstored_plans.values() for entry in entries]
            self._unstored_plans.clear()
        else:
            unstored = self._unstored_plans.pop(id(only), [])
        for key, filename, inst in unstored:
            if not self.cache.holds(key) or self.cache.holds(key, PLANS):
                continue
            try:
                self.cache.put(key, inst.dumps_plans(), part=PLANS)
            except Exception as exc:  # the engine's serialiser must never fail a run
                self.trace(f"cache store of the read plans for {filename} failed: {exc}")
            else:
                self.trace(f"read plans for {filename} stored again")

    def adopt(self, other: Measurement) -> None:
        """Take over what ``other`` (a measurement this process started
        before its run did) measured: its counts, its files, and the read
        plans it is to store (its handles still ask it for them)."""
        self.collector.adopt(other.collector)
        self.loaded.update(other.loaded)
        for ident, entries in other._unstored_plans.items():
            self._unstored_plans.setdefault(ident, []).extend(entries)
        other._unstored_plans = self._unstored_plans

    def instrumented(
        self, fullname: str, filename: str, source: bytes, code: types.CodeType, key: str | None
    ) -> types.CodeType:
        """Instrument the freshly compiled ``code``, store (under ``key``;
        None: not stored) and register it.

        A module the engine fails on runs as compiled, with a warning: a
        fault of the measuring tool must never change what the code does.
        """
        try:
            inst = engine.instrument(code, prepare=True)
        except Exception as exc:
            self.warn(
                f"bytecode-cov-not-instrumented: {fullname} ({filename}) runs unmeasured: "
                f"the engine failed on it: {type(exc).__name__}: {exc}"
            )
            return code
        self.trace(f"instrument {fullname} ({filename})")
        excluded = self.selector.excluded_lines_of(source, filename)
        no_branch = self.selector.no_branch_lines_of(source)
        if key is None:
            self.trace(f"not cached: {fullname} ({filename}), compiled by its loader's own rules")
        else:
            try:
                # The read plans go in an entry of their own, read only when
                # counts are: an import from the cache reads the code alone.
                self.cache.put(key, inst.dumps(plans=False), excluded, no_branch)
                self.cache.put(key, inst.dumps_plans(), part=PLANS)
            except Exception as exc:  # the engine's serialiser must never fail a run
                self.trace(f"cache store for {filename} failed: {exc}")
        self._register(filename, source, inst, excluded, no_branch)
        return inst.code

    def rewritten(self, tree: Any, source: bytes, filename: str) -> types.CodeType:
        """pytest's rewriting of a parsed module, compiled."""
        assert self.rewrite is not None
        return self.rewrite(tree, source, filename)

    def _register(
        self,
        filename: str,
        source: bytes,
        inst: Any,
        excluded: frozenset[int],
        no_branch: frozenset[int],
    ) -> None:
        self.collector.register(
            filename, [inst], source=source, excluded=excluded, no_branch=no_branch
        )
        self.loaded.add(filename)


def _library_dirs(selector: Selector) -> tuple[str, ...]:
    """The interpreter's library directories that hold no directory SOURCE."""
    import sysconfig

    found = []
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            path = os.path.join(os.path.abspath(sysconfig.get_paths()[key]), "")
        except KeyError:
            continue
        inside = [os.path.join(d, "") for d in selector.dirs]
        if not any(d.startswith(path) or path.startswith(d) for d in inside):
            found.append(path)
    return tuple(dict.fromkeys(found))


class RewritingLoader(importlib.machinery.SourceFileLoader):
    """Loads a module under SOURCE that pytest's assertion rewriting claims:
    rewritten as pytest would, then instrumented (by the installed methods)."""

    measurement: Measurement | None = None


class RewriteFinder:
    """Meta-path finder, ahead of pytest's: modules pytest would rewrite and
    that are under SOURCE are loaded by a :class:`RewritingLoader`."""

    def __init__(self, measurement: Measurement, pytest_hook: Any) -> None:
        self.measurement = measurement
        self.pytest_hook = pytest_hook

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec with a :class:`RewritingLoader`, or None to let the others import it."""
        measurement = self.measurement
        if not measurement.selector.may_match_name(fullname):
            return None
        spec = self.pytest_hook.find_spec(fullname, path, target)
        if spec is None or spec.loader is not self.pytest_hook or not isinstance(spec.origin, str):
            return None
        if not measurement.wants(fullname, spec.origin):
            return None
        measurement.trace(f"{fullname} is rewritten by pytest, then instrumented")
        # Only a run under pytest has this finder: a child process's
        # measurement (children.py) never imports pytest.
        from pytest_bytecode import pytestcompat

        pytestcompat.note_rewritten(self.pytest_hook, fullname, spec.origin)
        loader = RewritingLoader(fullname, spec.origin)
        loader.measurement = measurement
        return importlib.util.spec_from_file_location(
            fullname,
            spec.origin,
            loader=loader,
            submodule_search_locations=spec.submodule_search_locations,
        )

    def invalidate_caches(self) -> None:
        """Nothing cached here (the meta-path protocol asks every finder)."""


def _methods(
    measurement: Measurement, previous_get_code: Any, previous_exec_module: Any
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``get_code`` and ``exec_module`` for ``SourceFileLoader`` (see module docstring).

    They and ``measured_code``, which both call, run in frames that carry
    importlib's file name, and do nothing in them that can fail for reasons
    of their own: the plain ``get_code`` (the user's ``SyntaxError``), the
    compile and the module's execution are importlib's, or go through its
    ``_call_with_frames_removed``, exactly as in ``SourceLoader``.
    """

    def measures(loader: Any, fullname: str, path: str) -> bool:
        if isinstance(loader, RewritingLoader) and loader.measurement is not measurement:
            return False  # another (nested) run's
        return measurement.wants(fullname, path)

    def get_code(self: Any, fullname: str) -> Any:
        path = self.get_filename(fullname)
        if not measures(self, fullname, path):
            return previous_get_code(self, fullname)
        if isinstance(self, RewritingLoader):
            return measured_code(self, fullname, path, None, [])
        # What the plain import does besides making the code, it does
        # here too: read the .pyc or compile (the compile's warnings, its
        # SyntaxError under -W error) and write the .pyc.
        with _PlainCompile(self) as compiled:
            plain = _PLAIN_GET_CODE(self, fullname)
        return measured_code(self, fullname, path, plain, compiled)

    def source_to_code(
        self: Any, compiled: list[Any], data: Any, path: Any, *args: Any, _optimize: int = -1
    ) -> Any:
        # SourceLoader.source_to_code's compile, in one frame as there
        # (a SyntaxError's traceback shows the same frames), kept in
        # ``compiled`` with the bytes it was made from.
        extra = {"module": args[0] if args else None} if versions.COMPILE_TAKES_MODULE else {}
        code = _frames_removed(
            compile, data, path, "exec", dont_inherit=True, optimize=_optimize, **extra
        )
        compiled.append((data, path, code))
        return code

    class _PlainCompile:
        """While Python's own ``get_code`` runs: if it compiles (no valid
        ``.pyc``) with Python's own ``source_to_code``, :func:`source_to_code`
        stands in for it on the loader instance and keeps the code and its
        bytes, so that a cold import need not compile the same bytes again.
        Entered and left around the call, it adds no frame to the call's
        tracebacks."""

        def __init__(self, loader: Any) -> None:
            self.loader = loader
            self.compiled: list[Any] = []
            self.standing_in = (
                getattr(loader.source_to_code, "__func__", None) is _PLAIN_SOURCE_TO_CODE
            )

        def __enter__(self) -> list[Any]:
            if self.standing_in:
                try:
                    self.loader.source_to_code = functools.partial(
                        source_to_code, self.loader, self.compiled
                    )
                except Exception:  # a loader that takes no attributes: compile twice
                    self.standing_in = False
            return self.compiled

        def __exit__(self, *exc: object) -> None:
            if self.standing_in:
                with contextlib.suppress(Exception):
                    del self.loader.source_to_code

    def measured_code(self: Any, fullname: str, path: str, plain: Any, compiled: list[Any]) -> Any:
        source = self.get_data(path)
        own = getattr(self.source_to_code, "__func__", None)  # None: set on the instance
        if plain is not None and own is not _PLAIN_SOURCE_TO_CODE:
            # A loader that compiles in a way of its own (its class's or its
            # own source_to_code: a source transformer, beartype.claw's, a
            # user's): its code depends on more than the bytes (the
            # transformer, its settings), so it is neither taken from the
            # cache nor stored, and the code measured is the plain import's
            # own, .pyc or compile as the loader did.
            return measurement.instrumented(fullname, path, source, plain, None)
        rewritten = isinstance(self, RewritingLoader)
        key = measurement.key(path, source, rewritten)
        code = measurement.cached(fullname, path, source, key)
        if code is None:
            if rewritten:
                tree = _frames_removed(compile, source, path, "exec", _AST_ONLY, True, -1)
                code = measurement.rewritten(tree, source, path)
            elif compiled and compiled[-1][:2] == (source, path):
                code = compiled[-1][2]  # the plain import compiled the bytes hashed
            else:  # compiled from the bytes hashed; the plain import warned
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    code = self.source_to_code(source, path)
            code = measurement.instrumented(fullname, path, source, code, key)
        return code

    def exec_module(self: Any, module: types.ModuleType) -> None:
        name = module.__name__
        path = self.get_filename(name)
        if not measures(self, name, path):
            return previous_exec_module(self, module)  # type: ignore[no-any-return]
        if type(self).get_code is get_code and not isinstance(self, RewritingLoader):
            # The plain import's get_code runs right under this frame, as
            # under importlib's exec_module: a SyntaxError shows its frames.
            with _PlainCompile(self) as compiled:
                plain = _PLAIN_GET_CODE(self, name)
            code = measured_code(self, name, path, plain, compiled)
        else:  # a subclass's get_code (a user's loader), or pytest's rewriting
            code = self.get_code(name)
        with measurement.collector.importing():
            _frames_removed(exec, code, module.__dict__)
        return None

    for method in (get_code, source_to_code, measured_code, exec_module):
        method.__code__ = method.__code__.replace(co_filename=_IMPORTLIB_FILE)
        method.__module__ = _Loader.__module__
        method.__qualname__ = f"SourceFileLoader.{method.__name__}"
    return get_code, exec_module


def install(measurement: Measurement, pytest_hook: Any = None) -> Callable[[], None]:
    """Measure modules under SOURCE from now on; returns the function that stops it.

    ``pytest_hook``: pytest's assertion-rewriting finder, if any (the
    :class:`RewriteFinder` goes ahead of it).  Stopping restores exactly what
    was there, so runs may nest (pytester).
    """
    saved = {name: _Loader.__dict__.get(name) for name in ("get_code", "exec_module")}
    get_code, exec_module = _methods(measurement, _Loader.get_code, _Loader.exec_module)
    _Loader.get_code = get_code  # type: ignore[method-assign]
    _Loader.exec_module = exec_module  # type: ignore[method-assign]
    finder = None
    if pytest_hook is not None and measurement.rewrite is not None:
        finder = RewriteFinder(measurement, pytest_hook)
        sys.meta_path.insert(0, finder)

    def uninstall() -> None:
        if finder is not None and finder in sys.meta_path:
            sys.meta_path.remove(finder)
        for name, method in saved.items():
            if method is None:
                if name in _Loader.__dict__:
                    delattr(_Loader, name)
            else:
                setattr(_Loader, name, method)

    return uninstall


def _functions_by_file(files: dict[str, str]) -> dict[str, list[list[types.FunctionType]]]:
    """Every live function whose code comes from one of ``files`` (a code
    object's ``co_filename`` -> the file it stands for), not instrumented
    yet: per file, the functions grouped by code object (the closures one
    ``def`` made share theirs), in source order.

    Found among the objects the garbage collector tracks (every function is
    one), not by walking namespaces: a function reachable only from a
    decorator's closure (``functools.wraps``), an ``lru_cache`` or
    ``singledispatch`` wrapper, a registry, a closure made at import, is
    found too, and no object is asked anything but its type (a lazy proxy
    asked for ``__class__`` evaluates itself).  A frozen module's code
    (3.11+: ``<frozen posixpath>``) stands for its file.
    """
    import gc

    by_code: dict[int, list[types.FunctionType]] = {}
    function = types.FunctionType
    for obj in gc.get_objects():
        if type(obj) is function and obj.__code__.co_filename in files:
            by_code.setdefault(id(obj.__code__), []).append(obj)
    found: dict[str, list[list[types.FunctionType]]] = {}
    # In source order, so that handles come in the same order every run.
    codes = sorted(by_code.values(), key=lambda g: (g[0].__code__.co_firstlineno, g[0].__name__))
    for group in codes:
        code = group[0].__code__
        if engine.original_code(code) is code:  # not instrumented already
            found.setdefault(files[code.co_filename], []).append(group)
    return found


#: The module type's own ``__dict__`` getter: what ``vars(module)`` reads,
#: without a module subclass's ``__getattribute__`` or ``__dict__`` property.
_NAMESPACE_OF = vars(types.ModuleType)["__dict__"].__get__

#: The type of a module ``importlib.util.LazyLoader`` has not loaded yet.
_LAZY_MODULE: type | None = getattr(importlib.util, "_LazyModule", None)


def _module_dict(module: object) -> dict[str, Any] | None:
    """A module's namespace, read without running any code of its own
    (a module subclass's attribute hooks, a module-level ``__getattr__``,
    PEP 562), or None: for what is not a module, and for a module
    ``importlib.util.LazyLoader`` has not loaded yet (reading loads it; if
    it ever loads, it is measured then, through the patched loader)."""
    if _LAZY_MODULE is not None and issubclass(type(module), _LAZY_MODULE):
        return None
    try:
        namespace = _NAMESPACE_OF(module)
    except TypeError:  # not a module (an object a package put in sys.modules)
        return None
    return namespace if isinstance(namespace, dict) else None


def _file_in(namespace: dict[str, Any]) -> str | None:
    """A module's ``__file__``, from its namespace (:func:`_module_dict`), or None."""
    filename = namespace.get("__file__")
    return filename if isinstance(filename, str) else None


def instrument_loaded(measurement: Measurement, modules: dict[str, types.ModuleType]) -> list[str]:
    """Instrument the functions of already-imported modules under SOURCE:
    every live function whose code comes from such a module's file (see
    :func:`_functions_by_file`) gets instrumented code, the functions of one
    code object the same.

    Returns the names of the modules so treated, for the warning that says
    their module-level code was not measured.
    """
    selector = measurement.selector
    early: list[tuple[str, str, bytes]] = []  # (name, file, source)
    files: dict[str, str] = {}  # co_filename -> file
    for name, module in sorted(modules.items()):
        namespace = _module_dict(module) or {}
        filename = _file_in(namespace)
        if filename is None or filename in measurement.loaded or filename in files:
            continue  # not a module of a file, or measured, or met under another name
        if not selector.may_match_name(name) or not selector.wants(name, filename):
            continue
        try:
            with open(filename, "rb") as fh:
                source = fh.read()
        except OSError:
            continue
        early.append((name, filename, source))
        files[filename] = filename
        files[f"<frozen {namespace.get('__name__')}>"] = filename
    functions = _functions_by_file(files) if early else {}
    for name, filename, source in early:
        handles = []
        groups = functions.get(filename, [])
        # A function whose code is a constant of another one's (a closure
        # made before the hook, a decorator's wrapper) gets that constant's
        # instrumented version from the other's tree, not one of its own: so
        # the closures made before and after share their code object, as in
        # plain code.  Outermost first, whatever the source order says.
        nested = {
            id(c)
            for g in groups
            for _, c in engine.iter_code_tree(g[0].__code__)
            if c is not g[0].__code__
        }
        made: dict[int, types.CodeType] = {}  # id of an original -> its instrumented code
        for group in sorted(groups, key=lambda g: id(g[0].__code__) in nested):
            code = group[0].__code__
            new_code = made.get(id(code))
            if new_code is None:
                try:
                    inst = engine.instrument(code)
                except Exception as exc:  # a fault of the engine must not change what runs
                    measurement.warn(
                        f"bytecode-cov-not-instrumented: {group[0].__qualname__} of {name} "
                        f"({filename}) runs unmeasured: the engine failed on it: "
                        f"{type(exc).__name__}: {exc}"
                    )
                    continue
                # Both trees have the same shape (probes only append
                # constants); were they ever not to, nothing is shared.
                olds = [c for _, c in engine.iter_code_tree(code)]
                news = [c for _, c in engine.iter_code_tree(inst.code)]
                if len(olds) == len(news):
                    for old, new in zip(olds, news, strict=True):
                        made.setdefault(id(old), new)
                handles.append(inst)
                new_code = inst.code
            for function in group:
                function.__code__ = new_code
        measurement.collector.register(
            filename,
            handles,
            source=source,
            excluded=selector.excluded_lines_of(source, filename),
            no_branch=selector.no_branch_lines_of(source),
            partial=True,
        )
        measurement.loaded.add(filename)
        measurement.trace(
            f"{name} was imported before the hook: {len(handles)} functions instrumented"
        )
    return [name for name, _, _ in early]


def unmeasured(
    measurement: Measurement, modules: dict[str, types.ModuleType]
) -> list[tuple[str, str, str]]:
    """Modules whose file is under SOURCE but that no probe measured:
    (name, file, loader type) of each, for the run's closing lines.

    Such a module came through a loader that is not ``SourceFileLoader``
    (a custom or zip loader, a module object built by hand): its code was
    never compiled from source here, so it cannot be measured.
    """
    selector = measurement.selector
    rootdir = measurement.collector.rootdir
    measured = {report_path(f, rootdir) for f in measurement.loaded}
    found = []
    for name, module in sorted(modules.items()):
        namespace = _module_dict(module) or {}
        filename = _file_in(namespace)
        if filename is None or not filename.endswith(".py"):
            continue
        if not selector.may_match_name(name) and filename.startswith(measurement.library_dirs):
            continue
        if selector.reason_to_skip(name, filename) is not None:
            continue
        if report_path(filename, rootdir) in measured:
            continue
        loader = type(namespace.get("__loader__")).__name__
        found.append((name, filename, loader))
    return found
