"""Tenant-schema models (filled in by later issues)."""
