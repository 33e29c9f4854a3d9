"""Patron: customer loyalty and retention for retail merchants."""

__version__ = "0.1.0"
