"""A shopping cart with validation, iteration and an error path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from shop.pricing import clamp, discount


class OutOfStock(Exception):
    """Raised when a cart asks for more than the stock holds."""


@dataclass
class Cart:
    """Items and quantities, checked against a stock table."""

    stock: dict[str, int]
    prices: dict[str, float]
    items: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, quantity: int = 1) -> None:
        """Add ``quantity`` of ``name``; raise OutOfStock if there is not enough."""
        if quantity <= 0:
            raise ValueError(f"quantity must be positive, got {quantity}")
        have = self.items.get(name, 0)
        if have + quantity > self.stock.get(name, 0):
            raise OutOfStock(name)
        self.items[name] = have + quantity

    def lines(self) -> Iterator[tuple[str, int, float]]:
        """Yield (name, quantity, line total), skipping empty lines."""
        for name, quantity in sorted(self.items.items()):
            if not quantity:
                continue
            yield name, quantity, quantity * self.prices[name]

    def total(self, member: bool = False, coupon: str | None = None) -> float:
        """Total after discount, never negative."""
        subtotal = sum(line for _, _, line in self.lines())
        rate = discount(subtotal, member, coupon)
        return clamp(subtotal * (1 - rate), 0.0, float("inf"))

    def try_add(self, name: str, quantity: int = 1) -> bool:
        """Like ``add`` but report failure instead of raising."""
        try:
            self.add(name, quantity)
        except OutOfStock:
            return False
        else:
            return True
        finally:
            self.items = {k: v for k, v in self.items.items() if v}
