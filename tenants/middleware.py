"""Resolve the tenant once per request from the bearer credential and switch the DB schema to it."""

import logging

from django.db import connection
from django.http import JsonResponse

from minirag.api.exceptions import OUTAGE_ERRORS, unavailable_detail
from minirag.errors import AuthenticationError
from tenants.credentials import resolve_bearer

logger = logging.getLogger("minirag.api")


class TenantFromCredentialMiddleware:
    """Sets `request.auth_context` (or `request.auth_error`) and the connection's schema.

    Requests without a bearer credential (admin, health, login, bootstrap) stay on the public schema.
    The schema is reset when the response is done, so a pooled connection never leaks a tenant.
    Streaming responses must re-enter the tenant themselves (see `minirag.tenancy.tenant_context`).
    While the database is unreachable a credential cannot be checked: 503 JSON (outside DRF's exception
    handler, which only sees errors raised in views).
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
                except OUTAGE_ERRORS as error:
                    logger.warning("%s while resolving a credential: %s", type(error).__name__, error)
                    return JsonResponse({"detail": unavailable_detail(error)}, status=503)
                else:
                    request.auth_context = context
                    request.tenant = context.tenant
                    connection.set_tenant(context.tenant)
        try:
            return self.get_response(request)
        finally:
            connection.set_schema_to_public()
