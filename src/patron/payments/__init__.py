"""Members top up stored value through a payment provider (issue 13, docs/payments.md)."""
