"""Engagement: segments, campaigns, journeys, and the message pipeline (outbox, guards,
channels, templates, tracking).

Segments, campaigns and journeys build on :func:`patron.engagement.messages.enqueue_message`.
"""
