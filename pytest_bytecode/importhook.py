"""The import hook: instruments modules under SOURCE as they are imported.

:class:`BytecodeImportHook` is both meta-path finder and loader, like pytest's
``AssertionRewritingHook``.  ``find_spec`` first makes a cheap decision on the
module name alone, then asks the other finders where the module lives and
decides on the file; every decision is traced (``pytest --debug``, channel
``bytecode-cov``).  ``exec_module`` compiles the source (through pytest's
assertion rewriting when pytest would rewrite that module, so both coexist),
instruments it — or takes it from the :class:`InstrumentationCache` — and
executes the instrumented code.

Modules imported before the hook was installed are handled by
:func:`instrument_loaded`: their functions' and methods' code objects are
replaced; their module-level code has already run and cannot be measured.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pytest_bytecode import engine
from pytest_bytecode.cache import InstrumentationCache
from pytest_bytecode.collector import Collector, Handle
from pytest_bytecode.sources import Selector

Trace = Callable[[str], None]
#: Compiles a module's source the way pytest would (assertion rewriting), or
#: returns None to use plain ``compile``.
RewriteFn = Callable[[str, str], "types.CodeType | None"]


class BytecodeImportHook(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Meta-path finder and loader for modules under SOURCE."""

    def __init__(
        self,
        selector: Selector,
        collector: Collector,
        cache: InstrumentationCache,
        trace: Trace,
        rewrite: RewriteFn | None = None,
    ) -> None:
        self.selector = selector
        self.collector = collector
        self.cache = cache
        self.trace = trace
        self.rewrite = rewrite
        self.loaded: set[str] = set()
        self._finding: set[str] = set()
        self._loaders: dict[str, Any] = {}

    # --- finder ---------------------------------------------------------------

    def _other_finders(self) -> Iterator[Any]:
        for finder in sys.meta_path:
            if finder is self or type(finder).__name__ == "AssertionRewritingHook":
                continue
            yield finder

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """Claim ``fullname`` when its file is under SOURCE; else let others import it."""
        if fullname in self._finding or not self.selector.may_match_name(fullname):
            return None
        self._finding.add(fullname)
        try:
            spec = None
            for finder in self._other_finders():
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._finding.discard(fullname)
        if spec is None or not spec.has_location or not isinstance(spec.origin, str):
            self.trace(f"skip {fullname}: no source file found")
            return None
        loader = spec.loader
        if not isinstance(loader, importlib.machinery.SourceFileLoader):
            self.trace(f"skip {fullname}: loaded by {type(loader).__name__}, not from source")
            return None
        reason = self.selector.reason_to_skip(fullname, spec.origin)
        if reason is not None:
            self.trace(f"skip {fullname} ({spec.origin}): {reason}")
            return None
        self.trace(f"instrument {fullname} ({spec.origin})")
        self._loaders[fullname] = loader
        return importlib.util.spec_from_file_location(
            fullname,
            spec.origin,
            loader=self,
            submodule_search_locations=spec.submodule_search_locations,
        )

    # --- loader ---------------------------------------------------------------

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        """Default module creation."""
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        """Execute the instrumented code of ``module`` in its namespace."""
        spec = module.__spec__
        assert spec is not None and isinstance(spec.origin, str)
        filename = spec.origin
        with open(filename, "rb") as fh:
            source = fh.read()
        handle, code = self._instrumented(spec.name, filename, source)
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError:
            text = importlib.util.decode_source(source)
        self.collector.register(
            filename,
            [handle],
            source=source,
            excluded=self.selector.excluded_lines(text, filename),
        )
        self.loaded.add(filename)
        with self.collector.importing():
            exec(code, module.__dict__)

    def _instrumented(
        self, name: str, filename: str, source: bytes
    ) -> tuple[Handle, types.CodeType]:
        rewritten = self.rewrite(name, filename) if self.rewrite is not None else None
        settings = "assert-rewrite" if rewritten is not None else "plain"
        key = self.cache.key(source, filename, settings, str(engine.ENGINE_VERSION))
        cached = self.cache.get(key)
        if cached is not None:
            try:
                inst = engine.loads(cached)
            except Exception as exc:  # ValueError by contract; any cache problem is traced
                self.trace(f"cache entry for {filename} unusable ({exc}); instrumenting afresh")
                self.cache.discard(key)
            else:
                self.trace(f"cache hit for {filename}")
                return inst, inst.code
        code = rewritten if rewritten is not None else compile(source, filename, "exec")
        inst = engine.instrument(code)
        try:
            self.cache.put(key, inst.dumps())
        except Exception as exc:  # the engine's serialiser must never fail a run
            self.trace(f"cache store for {filename} failed: {exc}")
        return inst, inst.code

    # --- loader protocol extras that tools rely on ------------------------------

    def get_filename(self, fullname: str) -> str:
        """The file the module is loaded from."""
        return str(self._loaders[fullname].get_filename(fullname))

    def get_source(self, fullname: str) -> str | None:
        """The module's source (for ``inspect`` and ``linecache``)."""
        return self._loaders[fullname].get_source(fullname)  # type: ignore[no-any-return]

    def is_package(self, fullname: str) -> bool:
        """Whether the module is a package."""
        return bool(self._loaders[fullname].is_package(fullname))

    def get_data(self, path: str) -> bytes:
        """Read a data file next to the module, like SourceFileLoader does."""
        with open(path, "rb") as fh:
            return fh.read()

    def get_resource_reader(self, fullname: str) -> Any:
        """``importlib.resources`` support, delegated to the original loader."""
        return self._loaders[fullname].get_resource_reader(fullname)


def _functions_of(module: types.ModuleType, filename: str) -> Iterator[types.FunctionType]:
    """Functions and methods defined in ``module``'s own file, each once."""
    seen: set[int] = set()

    def visit(obj: Any, depth: int) -> Iterator[types.FunctionType]:
        if depth > 5:
            return
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        elif isinstance(obj, property):
            for f in (obj.fget, obj.fset, obj.fdel):
                yield from visit(f, depth)
            return
        if isinstance(obj, types.FunctionType):
            code = obj.__code__
            if code.co_filename == filename and id(code) not in seen:
                seen.add(id(code))
                yield obj
        elif isinstance(obj, type) and getattr(obj, "__module__", None) == module.__name__:
            if id(obj) in seen:
                return
            seen.add(id(obj))
            for value in list(vars(obj).values()):
                yield from visit(value, depth + 1)

    for value in list(vars(module).values()):
        yield from visit(value, 0)


def instrument_loaded(hook: BytecodeImportHook, modules: dict[str, types.ModuleType]) -> list[str]:
    """Instrument the functions of already-imported modules under SOURCE.

    Returns the names of the modules so treated, for the warning that says
    their module-level code was not measured.
    """
    treated = []
    for name, module in sorted(modules.items()):
        filename = getattr(module, "__file__", None)
        if not isinstance(filename, str) or filename in hook.loaded:
            continue
        if not hook.selector.may_match_name(name) or not hook.selector.wants(name, filename):
            continue
        try:
            with open(filename, "rb") as fh:
                source = fh.read()
        except OSError:
            continue
        handles = [engine.instrument_function(f) for f in _functions_of(module, filename)]
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError:
            text = importlib.util.decode_source(source)
        hook.collector.register(
            filename,
            handles,
            source=source,
            excluded=hook.selector.excluded_lines(text, filename),
            partial=True,
        )
        hook.loaded.add(filename)
        hook.trace(f"{name} was imported before the hook: {len(handles)} functions instrumented")
        treated.append(name)
    return treated
