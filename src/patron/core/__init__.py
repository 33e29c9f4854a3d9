"""Shared foundations: settings, database, clock, errors, events, logging."""
