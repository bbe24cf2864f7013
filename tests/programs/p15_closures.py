# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Deeply nested closures and nonlocal."""


def make():
    a = 1

    def l1():
        b = 2

        def l2():
            nonlocal a
            c = 3

            def l3():
                nonlocal b, c
                b += 10
                c += 100
                return a + b + c

            a += 1
            return l3() + l3()

        return l2

    return l1


def counter():
    count = 0

    def inc(step=1):
        nonlocal count
        count += step
        return count

    return inc


def main():
    f = make()()
    r = [f(), f()]
    c = counter()
    r.extend([c(), c(5), c()])
    adders = [lambda x, i=i: x + i for i in range(3)]
    r.extend(a(10) for a in adders)
    return r
