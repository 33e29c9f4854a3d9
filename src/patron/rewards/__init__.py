"""Rewards for attention, not only purchases: the daily check-in and earning for named actions
(ADR 1320, ADR 1321)."""
