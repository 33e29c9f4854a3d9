"""Outbound webhooks: endpoints, signed deliveries, retries, replay."""
