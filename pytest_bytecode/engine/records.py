"""Record classes made cheaply: what ``dataclasses.dataclass`` makes, one compile a class.

Every coverage run defines some two dozen record classes (settings, the
count model, the data file's, the results').  ``dataclasses.dataclass``
compiles each generated method on its own, six ``exec`` calls for a frozen
class, about a millisecond a class, and together they were a fifth of what
importing the run's own modules cost (about 20 ms of every run's start,
``docs/benchmarks.md``).  :func:`record` compiles only ``__init__``, which
runs for every object made; the other methods are closures over the field
names, made without compiling, except that the slotted value types (the
count model, made and compared by the ten thousand) get a compiled
``__eq__`` and ``__hash__`` in the same compile.

It makes what the package uses, with ``dataclasses``' meaning:

* ``__init__`` with the annotated fields in order, defaults and
  ``field(default_factory=...)``; ``__repr__``; ``__eq__`` (same class, equal
  fields; ``field(compare=False)`` left out, ``field(repr=False)`` not shown);
* ``__hash__`` over the compared fields when ``frozen`` (or ``unsafe_hash``)
  and ``eq``; unhashable when ``eq`` and neither, as ``dataclasses`` does;
* ``frozen``: assigning or deleting an attribute raises
  :class:`FrozenInstanceError` (``dataclasses``' own class), and ``__init__``
  sets fields through ``object.__setattr__``;
* ``slots``: the class is made again with ``__slots__`` of its fields;
* ``__match_args__``; :func:`replace` for a copy with some fields changed,
  and :func:`field_names`.

``__post_init__`` is called at the end of ``__init__``.  Not made, because
nothing here uses them: inheritance between records, ``order``,
``kw_only``, ``InitVar``, ``fields()`` and ``asdict()``.  :func:`record`
refuses a base class that is a record, a ``ClassVar`` annotation, a
non-default field after a default one, and (as ``dataclasses`` does) a
mutable default and ``unsafe_hash`` over a ``__hash__`` of the class's own,
naming the class, rather than make something else.

Type checkers see ``dataclasses.dataclass``, ``field`` and ``replace``
themselves (the ``TYPE_CHECKING`` branch), so they check every use as the
dataclass it behaves as.  ``typing`` and ``dataclasses`` are not imported at
run time (the engine loads neither, see :mod:`pytest_bytecode.engine`).
"""

from __future__ import annotations

__all__ = ["FrozenInstanceError", "field", "field_names", "record", "replace"]

TYPE_CHECKING = False  # typing is not imported at run time: start-up matters
if TYPE_CHECKING:
    from dataclasses import FrozenInstanceError, field, replace
    from dataclasses import dataclass as record

    def field_names(cls: type) -> tuple[str, ...]:
        """The names of a record class's fields, in order."""

else:

    class FrozenInstanceError(AttributeError):
        """Assignment to a field of a frozen record (``dataclasses``' own class
        when that module is loaded: ``except dataclasses.FrozenInstanceError``
        catches it)."""

    def _frozen_error_class():
        import sys

        loaded = sys.modules.get("dataclasses")
        return loaded.FrozenInstanceError if loaded is not None else FrozenInstanceError

    _MISSING = object()

    class _Field:
        """What :func:`field` returns: a field's default and options."""

        __slots__ = ("compare", "default", "default_factory", "repr")

        def __init__(self, default, default_factory, repr, compare):
            self.default = default
            self.default_factory = default_factory
            self.repr = repr
            self.compare = compare

    def field(*, default=_MISSING, default_factory=_MISSING, repr=True, compare=True):
        """A field's default (a value, or a factory called per instance) and
        whether ``__repr__`` shows it and ``__eq__`` and ``__hash__`` use it."""
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("cannot specify both default and default_factory")
        return _Field(default, default_factory, repr, compare)

    def record(cls=None, /, *, frozen=False, eq=True, slots=False, unsafe_hash=False):
        """The class with the methods ``dataclasses.dataclass`` would give it
        with the same arguments (see the module's docstring for which)."""

        def wrap(cls):
            return _make(cls, frozen, eq, slots, unsafe_hash)

        return wrap if cls is None else wrap(cls)

    def field_names(cls):
        """The names of a record class's fields, in order."""
        return cls.__record_fields__

    def replace(obj, /, **changes):
        """A new record like ``obj`` with ``changes`` to some of its fields."""
        names = type(obj).__record_fields__
        for name in changes:
            if name not in names:
                raise TypeError(f"{type(obj).__qualname__} has no field {name!r}")
        values = {name: getattr(obj, name) for name in names}
        values.update(changes)
        return type(obj)(**values)

    def _fields(cls):
        """``(name, _Field)`` for every annotated field of ``cls``, in order."""
        for base in cls.__mro__[1:]:
            if "__record_fields__" in base.__dict__:
                raise TypeError(f"record {cls.__qualname__}: a base class is a record")
        # Not inspect.get_annotations: importing inspect costs start-up.
        annotations = cls.__dict__.get("__annotations__")  # noqa: RUF063
        if annotations is None:  # 3.14+ without stored annotations: evaluate them
            annotations = getattr(cls, "__annotations__", {})
        out = []
        seen_default = None
        for name, annotation in annotations.items():
            text = annotation if isinstance(annotation, str) else repr(annotation)
            if text.startswith(("ClassVar", "typing.ClassVar", "InitVar", "dataclasses.")):
                raise TypeError(f"record {cls.__qualname__}.{name}: {text} is not supported")
            value = cls.__dict__.get(name, _MISSING)
            spec = value if isinstance(value, _Field) else _Field(value, _MISSING, True, True)
            if spec.default is not _MISSING and type(spec.default).__hash__ is None:
                raise ValueError(
                    f"record {cls.__qualname__}.{name}: mutable default "
                    f"{type(spec.default)} is not allowed: use default_factory"
                )
            has_default = spec.default is not _MISSING or spec.default_factory is not _MISSING
            if has_default:
                seen_default = name
            elif seen_default is not None:
                raise TypeError(
                    f"record {cls.__qualname__}: non-default field {name!r} "
                    f"follows default field {seen_default!r}"
                )
            out.append((name, spec))
        return out

    def _methods(fields, compared, eq, hashed, frozen):
        """``__repr__``, and as asked ``__eq__``, ``__hash__`` and the frozen
        ``__setattr__`` and ``__delattr__``: closures over the field names,
        not compiled (see the module's docstring)."""
        from operator import attrgetter

        shown = tuple(name for name, spec in fields if spec.repr)
        key = (
            attrgetter(*compared)
            if len(compared) > 1
            else lambda self: tuple(getattr(self, name) for name in compared)
        )

        def __repr__(self):
            inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
            return f"{self.__class__.__qualname__}({inner})"

        def __eq__(self, other):
            if other.__class__ is self.__class__:
                return key(self) == key(other)
            return NotImplemented

        def __hash__(self):
            return hash(key(self))

        def __setattr__(self, name, value):
            raise _frozen_error_class()(f"cannot assign to field {name!r}")

        def __delattr__(self, name):
            raise _frozen_error_class()(f"cannot delete field {name!r}")

        methods = {"__repr__": __repr__}
        if eq:
            methods["__eq__"] = __eq__
        if hashed:
            methods["__hash__"] = __hash__
        if frozen:
            methods["__setattr__"] = __setattr__
            methods["__delattr__"] = __delattr__
        return methods

    def _compiled_eq_and_hash(compared, methods):
        """Source of the ``__eq__`` and ``__hash__`` that ``methods`` has, as
        ``dataclasses`` writes them (twice as fast as the closures)."""
        mine = "(" + "".join(f"self.{name}," for name in compared) + ")"
        theirs = "(" + "".join(f"other.{name}," for name in compared) + ")"
        lines = []
        if "__eq__" in methods:
            lines += [
                "def __eq__(self, other):",
                "  if other.__class__ is self.__class__:",
                f"    return {mine} == {theirs}",
                "  return NotImplemented",
            ]
        if "__hash__" in methods:
            lines += ["def __hash__(self):", f"  return hash({mine})"]
        return lines

    def _make(cls, frozen, eq, slots, unsafe_hash):
        fields = _fields(cls)
        names = tuple(name for name, _ in fields)
        own = cls.__dict__
        space = {"_MISSING": _MISSING, "_setattr": object.__setattr__}
        params, body = [], []
        for i, (name, spec) in enumerate(fields):
            if spec.default_factory is not _MISSING:
                space[f"_factory{i}"] = spec.default_factory
                params.append(f"{name}=_MISSING")
                value = f"_factory{i}() if {name} is _MISSING else {name}"
            elif spec.default is not _MISSING:
                space[f"_default{i}"] = spec.default
                params.append(f"{name}=_default{i}")
                value = name
            else:
                params.append(name)
                value = name
            if frozen:
                body.append(f"  _setattr(self, {name!r}, {value})")
            else:
                body.append(f"  self.{name} = {value}")
        if "__post_init__" in own:
            body.append("  self.__post_init__()")
        lines = [f"def __init__(self, {', '.join(params)}):", *(body or ["  pass"])]
        # dataclasses' rule: a __hash__ the class defines counts, not the None
        # Python puts there for a class that defines __eq__.
        own_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
        if unsafe_hash and own_hash:
            raise TypeError(f"record {cls.__qualname__}: unsafe_hash, yet defines __hash__")
        hashed = unsafe_hash or (eq and frozen and not own_hash)
        compared = tuple(name for name, spec in fields if spec.compare)
        methods = _methods(fields, compared, eq, hashed, frozen)
        if slots:  # the hot value types: compared and hashed at compiled speed too
            lines += _compiled_eq_and_hash(compared, methods)
        exec(compile("\n".join(lines) + "\n", f"<record {cls.__qualname__}>", "exec"), space)
        space.update({k: v for k, v in methods.items() if k not in space})
        made = {}
        for method in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__delattr__"):
            function = space.get(method)
            if function is None:
                continue
            if method == "__hash__" and hashed:
                pass  # replaces the None that the class's own __eq__ left
            elif method in own:  # the class's own method stays, as dataclasses keeps it
                if frozen and method in ("__setattr__", "__delattr__"):
                    raise TypeError(f"record {cls.__qualname__}: frozen, yet defines {method}")
                continue
            function.__qualname__ = f"{cls.__qualname__}.{method}"
            function.__module__ = cls.__module__
            made[method] = function
        if eq and not frozen and not unsafe_hash and not own_hash:
            made["__hash__"] = None  # mutable and compared by value: unhashable
        made["__match_args__"] = names
        made["__record_fields__"] = names
        if slots:
            namespace = {k: v for k, v in own.items() if k not in names}
            namespace.pop("__dict__", None)
            namespace.pop("__weakref__", None)
            namespace.update(made, __slots__=names, __qualname__=cls.__qualname__)
            return type(cls)(cls.__name__, cls.__bases__, namespace)
        for name, spec in fields:
            if isinstance(own.get(name), _Field):
                if spec.default is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, spec.default)  # as dataclasses leaves it
        for key, value in made.items():
            setattr(cls, key, value)
        return cls
