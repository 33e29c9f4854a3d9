"""Product catalogue, orders, order lines and refunds."""
