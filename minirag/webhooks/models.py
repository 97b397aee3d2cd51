"""Webhooks live in the tenant schema (see issue 5)."""
