"""Helpers for running code in a tenant's schema outside the request cycle (streams, admin, commands)."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def tenant_context(tenant):
    """Switch the connection to `tenant`'s schema for the block, restoring the previous schema after."""
    previous = connection.tenant if hasattr(connection, "tenant") else None
    connection.set_tenant(tenant)
    try:
        yield tenant
    finally:
        if previous is not None and previous.schema_name != "public":
            connection.set_tenant(previous)
        else:
            connection.set_schema_to_public()
