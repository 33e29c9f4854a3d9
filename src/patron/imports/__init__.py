"""CSV import and export of members and orders (Shopify exports and Patron's generic format)."""
