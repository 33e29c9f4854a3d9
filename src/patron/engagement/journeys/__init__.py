"""Journeys: automated, durable, step-by-step care of each member after a trigger."""
