"""Campaigns: a one-off message to a segment, with a recorded holdout and paced sending."""
