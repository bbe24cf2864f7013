# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""return/break/continue from except and else blocks inside loops."""


def first_int(values):
    for v in values:
        try:
            n = int(v)
        except ValueError:
            continue
        except TypeError:
            return "type error"
        else:
            if n < 0:
                break
            return n
    return None


def main():
    return [
        first_int(["a", "3"]),
        first_int(["x", None, "4"]),
        first_int(["-1", "5"]),
        first_int([]),
    ]
