"""Tests for the shop example.  Some paths are deliberately left untested."""

from __future__ import annotations

import pytest
from shop.cart import Cart, OutOfStock
from shop.orders import parse, parse_line
from shop.pricing import discount, price_with_tax


def make_cart() -> Cart:
    return Cart(stock={"apple": 5, "pear": 2}, prices={"apple": 0.5, "pear": 0.75})


def test_member_discount() -> None:
    # Only the "member and total > 100" path: the coupon == "VIP" jump never runs.
    assert discount(150, True, None) == 0.15


def test_plain_discount() -> None:
    assert discount(10, False, None) == 0.0


def test_tax() -> None:
    assert price_with_tax(100, "DE") == 119.0


def test_cart_total() -> None:
    cart = make_cart()
    cart.add("apple", 2)
    cart.add("pear")
    assert cart.total() == pytest.approx(1.75)


def test_out_of_stock() -> None:
    cart = make_cart()
    with pytest.raises(OutOfStock):
        cart.add("pear", 3)
    assert cart.try_add("apple") is True


def test_parse() -> None:
    assert parse("apple: 2\n# comment\n\npear: 1\napple: 1\n") == {"apple": 3, "pear": 1}
    assert parse_line("  ") is None
