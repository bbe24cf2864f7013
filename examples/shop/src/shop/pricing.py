"""Prices and discounts.

``discount`` packs several decisions into single lines.  Line coverage calls
each of those lines covered as soon as one path through it ran; bytecode
coverage shows which conditional jumps inside the line never went both ways.
"""

from __future__ import annotations


def discount(total: float, member: bool, coupon: str | None) -> float:
    """Return the discount rate for an order."""
    if (member and total > 100) or coupon == "VIP":
        return 0.15
    rate = 0.05 if member else 0.0
    if coupon is not None and coupon.startswith("SAVE"):
        rate += 0.05
    return rate


def price_with_tax(net: float, country: str) -> float:
    """Gross price for a net price; unknown countries raise KeyError."""
    rates = {"DE": 0.19, "FR": 0.20, "NL": 0.21}
    return round(net * (1 + rates[country]), 2)


def clamp(value: float, low: float, high: float) -> float:
    """Clamp ``value`` into ``[low, high]``."""
    return low if value < low else high if value > high else value
