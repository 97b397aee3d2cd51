"""URL lookups shared by every viewset."""

# Router lookups accept only UUIDs, so a malformed id is a 404 from routing, never a 500 from the database.
UUID_LOOKUP = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
