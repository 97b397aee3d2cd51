"""Resolve the tenant once per request from the bearer credential and switch the DB schema to it; CORS for
publishable keys."""

import logging

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers

from minirag.api.exceptions import OUTAGE_ERRORS, unavailable_detail
from minirag.api.origins import origin_allowed, request_origin
from minirag.api.permissions import key_access_methods
from minirag.errors import AuthenticationError
from tenants.credentials import resolve_bearer
from tenants.models import PUBLISHABLE_KEY_PREFIX

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


class PublishableKeyCorsMiddleware:
    """CORS for publishable keys, decided per key and per view (django-cors-headers knows one global origin list).

    - A preflight (`OPTIONS` with `Access-Control-Request-Method`) to a view that lets keys in
      (`publishable_key_access = True`) answers 204 here, echoing the `Origin`: a preflight carries no credential,
      so it cannot be checked against a key — the real request is (minirag.api.permissions.PublishableKeyGate).
    - A response to a request made with a publishable key, to such a view, from an origin the key allows, carries
      `Access-Control-Allow-Origin: <origin>`, `Vary: Origin` and the headers a page may read. Nothing else
      gets CORS headers from here, and never `Access-Control-Allow-Credentials` (keys are bearer tokens).
    - A `pk_…` credential that does not resolve (revoked, paused, unknown: 401) on such a view gets the `Origin`
      echoed too, so the widget can tell its visitor the key no longer works; the body says only that.
    Sits before corsheaders' middleware (which would answer every preflight itself) and outside the tenant
    middleware (it reads the credential that one resolved).
    """

    PREFLIGHT_MAX_AGE = "600"
    ALLOW_HEADERS = "Authorization, Content-Type"
    EXPOSE_HEADERS = "Retry-After"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
            methods = _key_view_methods(request.path_info)
            origin = request_origin(request)
            if methods and origin is not None:
                return self._preflight(origin, methods)
        response = self.get_response(request)
        origin = self._allowed_origin(request)
        if origin is not None:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = self.EXPOSE_HEADERS
            patch_vary_headers(response, ("Origin",))
        return response

    def _allowed_origin(self, request) -> str | None:
        key = getattr(getattr(request, "auth_context", None), "publishable_key", None)
        refused_key = getattr(request, "auth_error", None) and _bearer(request).startswith(PUBLISHABLE_KEY_PREFIX)
        if key is None and not refused_key:
            return None
        if request.method not in _key_view_methods(request.path_info):
            return None
        if key is None:
            return request_origin(request)
        return origin_allowed(request, key.allowed_origins)

    def _preflight(self, origin: str, methods: list[str]) -> HttpResponse:
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = ", ".join(methods)
        response["Access-Control-Allow-Headers"] = self.ALLOW_HEADERS
        response["Access-Control-Max-Age"] = self.PREFLIGHT_MAX_AGE
        patch_vary_headers(response, ("Origin",))
        return response


def _bearer(request) -> str:
    scheme, _, credential = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


def _key_view_methods(path: str) -> list[str]:
    """The HTTP methods of the view at `path` that let publishable keys in; [] otherwise (or no view)."""
    try:
        match = resolve(path)
    except Resolver404:
        return []
    view_class = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    actions = getattr(match.func, "actions", None)  # a viewset route: {"get": "list", …}
    names = (
        list(actions)
        if actions
        else [name for name in ("get", "post", "put", "patch", "delete") if hasattr(view_class, name)]
    )
    return key_access_methods(view_class, [name.upper() for name in names if name != "head"])
