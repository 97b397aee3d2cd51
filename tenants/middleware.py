"""Resolve the tenant once per request from the bearer credential and switch the DB schema to it."""

from django.db import connection

from minirag.errors import AuthenticationError
from tenants.credentials import resolve_bearer


class TenantFromCredentialMiddleware:
    """Sets `request.auth_context` (or `request.auth_error`) and the connection's schema.

    Requests without a bearer credential (admin, health, login, bootstrap) stay on the public schema.
    The schema is reset when the response is done, so a pooled connection never leaks a tenant.
    Streaming responses must re-enter the tenant themselves (see `minirag.tenancy.tenant_context`).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.auth_context = None
        request.auth_error = None
        request.tenant = None
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header:
            scheme, _, credential = header.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                request.auth_error = "Not authenticated"
            else:
                try:
                    context = resolve_bearer(credential.strip())
                except AuthenticationError as error:
                    request.auth_error = error.detail
                else:
                    request.auth_context = context
                    request.tenant = context.tenant
                    connection.set_tenant(context.tenant)
        try:
            return self.get_response(request)
        finally:
            connection.set_schema_to_public()
