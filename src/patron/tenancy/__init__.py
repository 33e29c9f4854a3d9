"""Merchants, stores, staff users, roles, API keys and authentication."""
