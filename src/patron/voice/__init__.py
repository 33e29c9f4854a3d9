"""The member's voice: product reviews (verified purchases) and after-sales cases (ADR 1500)."""
