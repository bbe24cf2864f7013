# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Class bodies, decorators, properties, super(), classmethods, __init_subclass__."""

import functools


def trace(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        print("call", fn.__name__)
        return fn(*args, **kwargs)

    return wrapper


class Base:
    registry = []

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        Base.registry.append(cls.__name__)

    def __init__(self, v):
        self._v = v

    @property
    def v(self):
        return self._v

    @v.setter
    def v(self, new):
        if new < 0:
            raise ValueError("negative")
        self._v = new

    @trace
    def describe(self):
        return f"Base({self._v})"

    @classmethod
    def make(cls, v):
        return cls(v)

    @staticmethod
    def helper(x):
        return x + 1


class Child(Base):
    extra = [i * 2 for i in range(3)]
    if extra:
        flag = True
    else:
        flag = False

    def describe(self):
        return "Child:" + super().describe()


def main():
    c = Child.make(3)
    c.v = 4
    try:
        c.v = -1
    except ValueError as e:
        print("setter", e)
    return c.describe(), c.v, Base.helper(1), Base.registry, Child.extra, Child.flag
