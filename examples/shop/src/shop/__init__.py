"""A tiny shop: prices, discounts, a cart and an order log."""
