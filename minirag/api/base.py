"""The base of every tenant API view: `TenantAPIView` (plain views) and `TenantViewSet` (router resources).

The tenant is resolved in one place, the tenant middleware (from the bearer credential), which also switches the
connection to the tenant's schema. These bases make every tenant endpoint check that, and fail closed:

- authentication is always the tenant credential and `IsTenantMember` always applies; a view's own
  `permission_classes` are added on top of it, never instead of it (PostHog's `TeamAndOrgViewSetMixin` idea), so
  `permission_classes = [AllowAny]` cannot open a tenant endpoint;
- after authentication and permissions, the connection must be in the credential's schema (not the public one):
  otherwise the request answers 500 "Internal server error" (logged) before the view's code runs;
- a publishable key (`pk_…`, a public credential for web pages) is refused with 403 by every view unless the view
  class sets `publishable_key_access = True` (or a frozenset of the methods it opens) — and then only from an
  `Origin` the key allows (`minirag.api.permissions.PublishableKeyGate`); its own rate limits (per key, per key
  and end-user IP) always apply on top of the view's throttles;
- a subclass cannot override the methods that do this (TypeError when the class is defined).

A test enumerates every URL under /v1/ (minirag/tests/test_api_base.py): each one is public by name or its view
inherits `TenantAPIMixin`.
"""

from __future__ import annotations

import logging

from django.db import connection
from rest_framework import viewsets
from rest_framework.exceptions import APIException, NotAuthenticated
from rest_framework.views import APIView

from minirag.api.authentication import TenantCredentialAuthentication
from minirag.api.permissions import IsTenantMember, PublishableKeyGate, tenant_credential
from minirag.api.throttling import PUBLISHABLE_KEY_THROTTLES
from minirag.tenancy import PUBLIC_SCHEMA

logger = logging.getLogger("minirag.api")

# What a tenant view may not redefine: these run the credential, permission and schema checks.
SEALED = (
    "dispatch",
    "initialize_request",
    "initial",
    "perform_authentication",
    "get_authenticators",
    "authentication_classes",
    "get_permissions",
    "check_permissions",
    "check_object_permissions",
    "permission_denied",
    "get_throttles",
    "check_throttles",
)


class TenantNotEntered(APIException):
    """A tenant request whose connection is not in the tenant's schema: a wiring fault, never the caller's."""

    status_code = 500
    default_detail = "Internal server error"
    default_code = "tenant_not_entered"


class TenantAPIMixin:
    """The tenant checks; use it through `TenantAPIView` or `TenantViewSet`.

    `permission_classes` lists the permissions a view adds to `IsTenantMember` (e.g. `[ManagerForWrites]`).
    `publishable_key_access = True` (every method) or e.g. `frozenset({"POST"})` lets publishable keys in (chat
    views); the view then scopes what it reads and writes to the key's bot and chats
    (`minirag.api.permissions.publishable_bot_id` / `publishable_key_id`).
    """

    permission_classes: list = []
    publishable_key_access = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__
        base = mro.index(TenantAPIMixin)
        # Whatever defines a sealed name first (the class itself or a mixin listed before the base) must not
        # come before TenantAPIMixin in the method resolution order.
        sealed = [name for name in SEALED if any(name in klass.__dict__ for klass in mro[:base])]
        if sealed:
            raise TypeError(f"{cls.__qualname__} redefines {', '.join(sealed)}: tenant API views keep the base checks")

    def get_authenticators(self):
        return [TenantCredentialAuthentication()]

    def get_permissions(self):
        # The key gate runs before the view's own permissions: a key never reaches a role check.
        return [IsTenantMember(), PublishableKeyGate(), *(permission() for permission in self.permission_classes)]

    def get_throttles(self):
        return [*(throttle() for throttle in PUBLISHABLE_KEY_THROTTLES), *super().get_throttles()]

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # authentication (401), permissions (401/403), throttles (429)
        require_tenant_schema(request)


def require_tenant_schema(request) -> None:
    """Refuse unless the request carries a tenant credential and the connection is in that tenant's schema."""
    credential = tenant_credential(request)
    if credential is None:
        raise NotAuthenticated()
    schema = getattr(connection, "schema_name", PUBLIC_SCHEMA)
    if schema == PUBLIC_SCHEMA or schema != credential.tenant.schema_name:
        logger.error("tenant request %s %s ran in schema %r, not its tenant's", request.method, request.path, schema)
        raise TenantNotEntered()


class TenantAPIView(TenantAPIMixin, APIView):
    """A tenant endpoint that is not a resource (GET/POST handlers)."""


class TenantViewSet(TenantAPIMixin, viewsets.ViewSet):
    """A tenant resource registered on a router (list/create/retrieve/partial_update/destroy and actions)."""
