"""Alembic migrations (run with ``patron migrate``)."""
