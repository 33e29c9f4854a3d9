"""Points, tiers, stored value, member day, refund policy. Importing the package registers the
programs' settlement of members' orders with orders (ADR 0901)."""

import patron.programs.settlement  # noqa: F401
