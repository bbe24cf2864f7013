"""An order log with a simple text format, parsed line by line."""

from __future__ import annotations


def parse_line(line: str) -> tuple[str, int] | None:
    """Parse ``"name: quantity"``; comments and blank lines give None."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    name, sep, quantity = line.partition(":")
    if not sep:
        raise ValueError(f"missing ':' in {line!r}")
    try:
        return name.strip(), int(quantity)
    except ValueError:
        raise ValueError(f"bad quantity in {line!r}") from None


def parse(text: str) -> dict[str, int]:
    """Sum the quantities per name over every line of ``text``."""
    totals: dict[str, int] = {}
    for raw in text.splitlines():
        match parse_line(raw):
            case None:
                continue
            case (name, quantity) if quantity > 0:
                totals[name] = totals.get(name, 0) + quantity
            case (name, _):
                totals.setdefault(name, 0)
    return totals
