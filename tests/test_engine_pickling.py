"""Copying and pickling instrumented functions, classes and code objects
behaves as it does for plain ones: same results, and no warnings.

Instrumented code holds its probes' counters and raise tables among its
constants.  ``copy`` treats functions, classes and code objects as atomic and
``pickle`` names functions and classes, so neither ever sees them; cloudpickle
sends code by value, constants included, and before the counters had pickling
of their own that used itertools' (a DeprecationWarning on 3.12-3.13, gone in
3.14).  A counter pickled or copied now comes back as a fresh one at zero: a
copy is new code, whose counts nobody reads, and the original's counts are
its own.  ``marshal`` cannot write the counters at all: a known difference.
"""

from __future__ import annotations

import copy
import itertools
import marshal
import pickle
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import cloudpickle
import pytest

from pytest_bytecode import versions
from pytest_bytecode.engine import (
    Instrumented,
    instrument,
    iter_code_tree,
    loads,
    original_code,
)
from pytest_bytecode.engine.counts import (
    CountDown,
    CountUp,
    RaiseHolder,
    RaiseTable,
    count_values,
    new_counter,
)

# A warning anywhere in these tests is a failure (itertools' pickling warns).
pytestmark = pytest.mark.filterwarnings("error")

SOURCE = """
def area(w, h):
    if w < 0 or h < 0:
        raise ValueError("negative")
    return w * h

def total(items):
    t = 0
    for w, h in items:
        try:
            t += area(w, h)
        except ValueError:
            t -= 1
    return t

def scaler(k):
    def scale(x):
        return [x * k for _ in range(2)] if x > 0 else -x
    return scale

double = lambda x: x * 2

class Shape:
    sides = 4

    def __init__(self, w):
        self.w = w

    def perimeter(self):
        return sum(self.w for _ in range(self.sides))

    @property
    def big(self):
        return self.w > 10
"""

ITEMS = [(2, 3), (-1, 1), (1, 1)]


def _results(ns: Any) -> tuple[object, ...]:
    """What the module's code computes, through ``ns`` (a module or a
    namespace of the same names)."""
    get = ns.__getitem__ if isinstance(ns, dict) else ns.__getattribute__
    shape = get("Shape")(3)
    return (
        get("total")(ITEMS),
        get("scaler")(3)(2),
        get("scaler")(3)(-2),
        get("double")(4),
        shape.perimeter(),
        shape.big,
    )


EXPECTED = (6, [6, 6], 2, 8, 12, False)


@pytest.fixture
def modules() -> Iterator[tuple[types.ModuleType, types.ModuleType, Instrumented]]:
    """The source as a plain module and as an instrumented one, both
    importable by name (pickling by reference looks them up)."""
    made = []
    inst = None
    for kind in ("plain", "instrumented"):
        name = f"_pickling_{kind}_{id(made)}"
        module = types.ModuleType(name)
        code = compile(SOURCE, f"{name}.py", "exec")
        if kind == "instrumented":
            inst = instrument(code)
            code = inst.code
        sys.modules[name] = module
        exec(code, module.__dict__)
        made.append(module)
    assert inst is not None
    try:
        yield made[0], made[1], inst
    finally:
        for module in made:
            del sys.modules[module.__name__]


def _objects(module: types.ModuleType) -> dict[str, object]:
    return {
        "function": module.total,
        "lambda": module.double,
        "closure": module.scaler(3),
        "class": module.Shape,
        "instance": module.Shape(3),
        "method": module.Shape(3).perimeter,
        "code": module.total.__code__,
    }


@pytest.mark.parametrize(
    "operation",
    [
        copy.copy,
        copy.deepcopy,
        lambda obj: pickle.loads(pickle.dumps(obj)),
        lambda obj: cloudpickle.loads(cloudpickle.dumps(obj)),
    ],
    ids=["copy", "deepcopy", "pickle", "cloudpickle-by-reference"],
)
def test_copies_and_pickles_by_reference_as_plain(
    modules: tuple[types.ModuleType, types.ModuleType, Instrumented],
    operation: Callable[[object], object],
) -> None:
    """copy, deepcopy and pickling by name: the same outcome for plain and
    instrumented objects (the same object back, an equal copy, or the same
    error: plain pickle cannot write code objects)."""
    plain, instrumented, _ = modules

    def outcome(obj: object, module: types.ModuleType) -> object:
        try:
            result = operation(obj)
        except Exception as exc:
            return type(exc)
        if result is obj:
            return "same"
        if isinstance(result, types.CodeType):
            return "code"
        if isinstance(result, module.Shape):
            return ("instance", result.perimeter(), result.big)
        if isinstance(result, types.MethodType):
            return ("method", result())
        if isinstance(result, types.FunctionType):  # a closure, sent by value
            return ("function", result(2))
        return type(result)

    for (name, p), (_, i) in zip(
        _objects(plain).items(), _objects(instrumented).items(), strict=True
    ):
        assert outcome(i, instrumented) == outcome(p, plain), name
    assert _results(instrumented) == _results(plain) == EXPECTED


def test_cloudpickle_by_value_as_plain(
    modules: tuple[types.ModuleType, types.ModuleType, Instrumented],
) -> None:
    """Functions, lambdas, closures and classes of a module registered to be
    pickled by value load as working copies, instrumented as plain."""
    plain, instrumented, _ = modules
    loaded = []
    for module in (plain, instrumented):
        cloudpickle.register_pickle_by_value(module)
        try:
            data = cloudpickle.dumps(
                {name: getattr(module, name) for name in ("total", "scaler", "double", "Shape")}
            )
        finally:
            cloudpickle.unregister_pickle_by_value(module)
        names = cloudpickle.loads(data)
        assert names["total"] is not module.total  # by value indeed
        loaded.append(_results(names))
    assert loaded[1] == loaded[0] == EXPECTED


def test_cloudpickle_of_main_module_code_as_plain() -> None:
    """Code run as ``__main__`` (scripts, notebooks): cloudpickle always
    sends it by value, and so do ``multiprocessing``/loky pools that use it."""
    loaded = []
    for instrumented in (False, True):
        code = compile(SOURCE, "<main>", "exec")
        if instrumented:
            code = instrument(code).code
        namespace: dict[str, Any] = {"__name__": "__main__"}
        exec(code, namespace)
        data = cloudpickle.dumps({k: namespace[k] for k in ("total", "scaler", "double", "Shape")})
        loaded.append(_results(cloudpickle.loads(data)))
    assert loaded[1] == loaded[0] == EXPECTED


def _counters_of(code: types.CodeType) -> list[Any]:
    return [
        const
        for _, c in iter_code_tree(code)
        for const in c.co_consts
        if isinstance(const, (CountDown, CountUp))
    ]


def test_unpickled_copy_counts_apart(
    modules: tuple[types.ModuleType, types.ModuleType, Instrumented],
) -> None:
    """The copy starts from zero, and what it runs is not counted in the
    original's counts, which stay exactly as they were."""
    _, instrumented, inst = modules
    instrumented.total(ITEMS)
    before = inst.state()
    assert any(before[0])
    cloudpickle.register_pickle_by_value(instrumented)
    try:
        copied = cloudpickle.loads(cloudpickle.dumps(instrumented.total))
    finally:
        cloudpickle.unregister_pickle_by_value(instrumented)
    counters = _counters_of(copied.__code__)
    assert counters and count_values(counters) == [0] * len(counters)
    originals = {id(c) for c in _counters_of(inst.code)}
    assert not originals & {id(c) for c in counters}
    assert copied(ITEMS) == 6
    assert copied(ITEMS) == 6
    assert inst.state() == before
    assert any(count_values(counters))
    instrumented.total(ITEMS)
    assert inst.state() != before


@pytest.mark.subprocess
def test_cloudpickled_function_runs_in_another_process(
    modules: tuple[types.ModuleType, types.ModuleType, Instrumented],
) -> None:
    """What a process pool does: the bytes load and run in a fresh
    interpreter, warnings being errors there too."""
    _, instrumented, _ = modules
    cloudpickle.register_pickle_by_value(instrumented)
    try:
        data = cloudpickle.dumps((instrumented.total, instrumented.scaler(3), instrumented.Shape))
    finally:
        cloudpickle.unregister_pickle_by_value(instrumented)
    child = (
        "import sys, cloudpickle\n"
        "total, scale, Shape = cloudpickle.loads(sys.stdin.buffer.read())\n"
        f"print(total({ITEMS!r}), scale(2), Shape(3).perimeter())\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", child],
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().split() == ["6", "[6,", "6]", "12"]


def test_deepcopy_of_constants_gives_fresh_counters_and_tables() -> None:
    inst = instrument(compile(SOURCE, "shapes.py", "exec"))
    namespace: dict[str, Any] = {}
    exec(inst.code, namespace)
    namespace["total"](ITEMS)
    code = namespace["total"].__code__
    consts = copy.deepcopy(code.co_consts)
    for old, new in zip(code.co_consts, consts, strict=True):
        if isinstance(old, (CountDown, CountUp, RaiseTable, RaiseHolder)):
            assert type(new) is type(old) and new is not old
            if isinstance(new, (RaiseTable, RaiseHolder)):
                assert new.sites == {}
            else:
                assert count_values([new]) == [0]
    tables = [t.sites for t in code.co_consts if isinstance(t, (RaiseTable, RaiseHolder))]
    assert any(tables)  # one raise recorded
    copied = code.replace(co_consts=consts)
    hash(copied)  # still hashable, like plain code
    assert types.FunctionType(copied, namespace)(ITEMS) == 6


COUNTERS = [CountDown(None, sys.maxsize), CountUp()]


@pytest.mark.parametrize("counter", COUNTERS, ids=lambda c: type(c).__name__)
@pytest.mark.parametrize(
    "operation",
    [
        copy.copy,
        copy.deepcopy,
        *(
            (lambda c, p=p: pickle.loads(pickle.dumps(c, protocol=p)))
            for p in range(pickle.HIGHEST_PROTOCOL + 1)
        ),
    ],
    ids=["copy", "deepcopy", *(f"pickle{p}" for p in range(pickle.HIGHEST_PROTOCOL + 1))],
)
def test_a_counter_copies_to_a_fresh_one(counter: Any, operation: Callable[[Any], Any]) -> None:
    """Both counter forms, whichever this platform uses: a copy is of the same
    type, at zero, and independent; the counter itself keeps its value."""
    start = count_values([counter])[0]
    for _ in range(5):
        next(counter)
    twin = operation(counter)
    assert type(twin) is type(counter)
    assert count_values([counter, twin]) == [start + 5, 0]
    next(twin)
    assert count_values([counter, twin]) == [start + 5, 1]


def test_count_values_reads_every_form() -> None:
    """The probes' counters of both forms, and plain itertools ones (same repr
    layout), in one read; a fresh counter reads 0."""
    down, up = CountDown(None, sys.maxsize), CountUp()
    plain_down, plain_up = itertools.repeat(None, sys.maxsize), itertools.count()
    for counter, steps in ((down, 300), (up, 7), (plain_down, 2), (plain_up, 400)):
        for _ in range(steps):
            next(counter)
    fresh = new_counter()
    assert type(fresh) is (CountDown if versions.COUNT_DOWN else CountUp)
    assert count_values([down, up, fresh, plain_down, plain_up]) == [300, 7, 0, 2, 400]


def test_function_copies_share_the_code_and_its_counters(
    modules: tuple[types.ModuleType, types.ModuleType, Instrumented],
) -> None:
    """``FunctionType(code, globals)`` and ``code.replace()`` keep the same
    constants: they run like plain copies, and count as the code they are."""
    plain, instrumented, inst = modules
    inst.reset()
    for module in (plain, instrumented):
        code = module.total.__code__
        clone = types.FunctionType(code, module.__dict__)
        renamed = types.FunctionType(code.replace(co_name="renamed"), module.__dict__)
        assert clone(ITEMS) == renamed(ITEMS) == 6
    by_copies = inst.counts()
    inst.reset()
    instrumented.total(ITEMS)
    instrumented.total(ITEMS)
    assert inst.counts() == by_copies


def test_marshal_cannot_write_instrumented_code() -> None:
    """The known difference: ``marshal`` writes only plain values, and the
    probes' counters and raise tables are live objects.  The original code
    marshals, and the engine's own form round-trips the instrumented tree."""
    inst = instrument(compile(SOURCE, "shapes.py", "exec"))
    with pytest.raises(ValueError, match="unmarshallable object"):
        marshal.dumps(inst.code)
    assert marshal.loads(marshal.dumps(original_code(inst.code))) == inst.original
    again = loads(inst.dumps())
    namespace: dict[str, Any] = {}
    exec(again.code, namespace)
    assert _results(namespace) == EXPECTED
