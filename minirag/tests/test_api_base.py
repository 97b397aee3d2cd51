"""The tenant API base (minirag.api.base): every /v1/ endpoint is public by name or a tenant view, and a tenant
view cannot be opened, bypassed or run outside its tenant's schema."""

import logging
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from minirag.api.base import TenantAPIMixin, TenantAPIView, TenantViewSet

pytestmark = pytest.mark.django_db

# The /v1/ endpoints that answer without a tenant credential, by URL name.
PUBLIC = {"system-health", "schema", "docs", "redoc", "tenant-bootstrap", "auth-login", "auth-refresh"}


def _patterns(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def v1_endpoints() -> list[tuple[str, URLPattern]]:
    return [(route, entry) for route, entry in _patterns(get_resolver()) if route.startswith("v1/")]


def tenant_endpoints() -> list[tuple[str, URLPattern]]:
    return [(route, entry) for route, entry in v1_endpoints() if entry.name not in PUBLIC]


def _view_class(entry: URLPattern):
    return getattr(entry.callback, "cls", None) or getattr(entry.callback, "view_class", None)


def _methods(entry: URLPattern) -> list[str]:
    actions = getattr(entry.callback, "actions", None)
    if actions:  # a viewset route: {"get": "list", "post": "create"}; DRF adds "head" after the first GET
        return sorted(set(actions) - {"head"})
    view_class = _view_class(entry)
    return [method for method in ("get", "post", "put", "patch", "delete") if hasattr(view_class, method)]


def _url(entry: URLPattern) -> str:
    return reverse(entry.name, kwargs={name: uuid.uuid4() for name in entry.pattern.regex.groupindex})


def test_every_v1_endpoint_is_public_by_name_or_a_tenant_view():
    endpoints = v1_endpoints()
    outside = [route for route, entry in endpoints if entry.name not in PUBLIC and not _is_tenant(entry)]
    assert outside == []
    # The public list is not stale: each name exists and is not a tenant view.
    public = {entry.name for _, entry in endpoints if entry.name in PUBLIC}
    assert public == PUBLIC
    assert not any(_is_tenant(entry) for _, entry in endpoints if entry.name in PUBLIC)
    assert len(tenant_endpoints()) >= 25


def _is_tenant(entry: URLPattern) -> bool:
    view_class = _view_class(entry)
    return isinstance(view_class, type) and issubclass(view_class, TenantAPIMixin)


def test_every_tenant_endpoint_answers_401_without_a_valid_credential(api_client):
    checked = 0
    for _, entry in tenant_endpoints():
        url = _url(entry)
        for method in _methods(entry):
            for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer mrag_not-a-real-token"}):
                response = getattr(api_client, method)(url, **headers)
                assert response.status_code == 401, (method, url, headers, response.content)
                body = response.json()
                # The OpenAI-compatible routes answer in OpenAI's error shape, with the same message.
                detail = body["error"]["message"] if entry.name.startswith("openai-") else body["detail"]
                assert detail in ("Not authenticated", "Invalid or revoked API token")
                checked += 1
    assert checked >= 2 * 30


def test_permission_classes_add_to_the_tenant_check_never_replace_it():
    class Opened(TenantAPIView):
        permission_classes = [AllowAny]

        def get(self, request):
            return Response({"secret": "tenant data"})

    response = Opened.as_view()(APIRequestFactory().get("/v1/opened"))
    assert response.status_code == 401
    assert "secret" not in response.data


@pytest.mark.parametrize(
    "name", ["get_permissions", "get_authenticators", "initial", "dispatch", "permission_denied", "initialize_request"]
)
def test_a_tenant_view_cannot_redefine_the_checks(name):
    with pytest.raises(TypeError, match=name):
        type("Bypass", (TenantAPIView,), {name: lambda self, *args, **kwargs: None})
    with pytest.raises(TypeError, match=name):
        mixin = type("BypassMixin", (), {name: lambda self, *args, **kwargs: None})
        type("Bypass", (mixin, TenantViewSet), {})


def test_a_tenant_view_cannot_drop_authentication():
    with pytest.raises(TypeError, match="authentication_classes"):
        type("Anonymous", (TenantAPIView,), {"authentication_classes": []})


def test_a_plain_view_may_still_define_them():
    # Only tenant views are sealed: public views (login, health) keep DRF's ordinary hooks.
    type("Public", (APIView,), {"authentication_classes": [], "permission_classes": [AllowAny]})


class _SchemaSwitch:
    """Stands in for the middleware's `connection`: switches to `tenant` (or nowhere) instead of the credential's."""

    def __init__(self, tenant=None):
        self.tenant = tenant

    def set_tenant(self, tenant):
        if self.tenant is not None:
            connection.set_tenant(self.tenant)

    def set_schema_to_public(self):
        connection.set_schema_to_public()


@pytest.mark.parametrize("entered", ["public", "another tenant"])
def test_a_request_outside_its_tenants_schema_fails_closed(tenant_a, tenant_b, monkeypatch, caplog, entered):
    # Given a middleware that did not enter the credential's schema (a wiring fault)
    switch = _SchemaSwitch(tenant_b.tenant if entered == "another tenant" else None)
    monkeypatch.setattr("tenants.middleware.connection", switch)
    caplog.set_level(logging.ERROR, logger="minirag.api")
    # When tenant A's owner lists bots
    with CaptureQueriesContext(connection) as captured:
        response = tenant_a.client().get("/v1/bot-profiles")
    # Then the request is refused before the view reads anything, and the body leaks nothing
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert not any("bots_botprofile" in query["sql"] for query in captured.captured_queries)
    assert "not its tenant's" in caplog.text


def test_a_request_in_its_tenants_schema_passes(tenant_a):
    response = tenant_a.client().get("/v1/bot-profiles")
    assert response.status_code == 200


def test_members_read_and_managers_write_through_one_check(tenant_a):
    from tenants.models import Role
    from tenants.services import api_token_create
    from tenants.tests.factories import UserFactory

    member = UserFactory(tenant=tenant_a.tenant, role=Role.MEMBER)
    admin = UserFactory(tenant=tenant_a.tenant, role=Role.ADMIN)
    member_client = tenant_a.client(api_token_create(user=member, name="m").raw_token)
    admin_client = tenant_a.client(api_token_create(user=admin, name="a").raw_token)
    body = {"email": "new@a.example", "password": "correct-horse-battery-staple"}
    assert member_client.get("/v1/users").status_code == 200
    assert member_client.post("/v1/users", body, format="json").status_code == 403
    assert admin_client.post("/v1/users", body, format="json").status_code == 201
