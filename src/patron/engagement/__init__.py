"""Engagement: segments, campaigns, journeys, messages and channels."""
