"""Member profiles, identities, consent, tags, notes, funnel stage, merge."""
