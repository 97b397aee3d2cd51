"""Role checks. The tenant is already fixed by the middleware; these only look at the caller's credential and role.

`request.auth` is the credential the tenant middleware resolved (tenants.credentials.AuthContext: `tenant`, `user`,
`method`, `publishable_key`…), handed over by TenantCredentialAuthentication; the role check is the user model's
`is_manager`.

Publishable keys (`pk_…`, public by design: they sit in web pages) fail closed: `PublishableKeyGate` — which every
tenant view applies (minirag.api.base) — refuses them unless the view class sets `publishable_key_access = True`,
and even then only from an allowed `Origin`. Views that opt in scope what they read and write with
`publishable_bot_id` / `publishable_key_id` (the key's bot, the chats the key created).
"""

from uuid import UUID

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from minirag.api.authentication import TenantCredentialAuthentication
from minirag.api.origins import origin_allowed

PUBLISHABLE_KEY = "publishable_key"  # AuthContext.method of a publishable key
KEY_NOT_ALLOWED_HERE = "A publishable key can only chat with its bot; use an API token for this endpoint"
ORIGIN_NOT_ALLOWED = "This page's origin is not allowed for this publishable key"
KEY_OTHER_BOT = "This publishable key is for another bot"


def tenant_credential(request):
    """The tenant credential the request authenticated with, or None (anonymous, or another authenticator)."""
    if not isinstance(request.successful_authenticator, TenantCredentialAuthentication):
        return None
    credential = request.auth
    if getattr(credential, "tenant", None) is None or getattr(credential, "user", None) is None:
        return None
    return credential


def publishable_key(request):
    """The publishable key (tenants.models.PublishableKey) the request authenticated with, or None."""
    credential = tenant_credential(request)
    if credential is None or getattr(credential, "method", None) != PUBLISHABLE_KEY:
        return None
    return credential.publishable_key


def publishable_key_id(request) -> UUID | None:
    """The id of the request's publishable key; None for any other credential (API token, JWT)."""
    key = publishable_key(request)
    return key.id if key is not None else None


def publishable_bot_id(request) -> UUID | None:
    """The bot a publishable key is for; None for any other credential (which may use any bot)."""
    key = publishable_key(request)
    return key.bot_profile_id if key is not None else None


def require_publishable_bot(request, bot_id) -> None:
    """For a publishable key, refuse (403) any bot but its own; other credentials pass."""
    own = publishable_bot_id(request)
    if own is not None and str(own) != str(bot_id):
        raise PermissionDenied(KEY_OTHER_BOT)


def key_access_methods(view_class, methods) -> list[str]:
    """Which of `methods` (upper case) the view class opens to publishable keys: all for
    `publishable_key_access = True`, those listed for a frozenset such as `frozenset({"POST"})`, else none.

    Read on the class, and only True or a frozenset count: an instance attribute or another truthy value opens
    nothing."""
    flag = getattr(view_class, "publishable_key_access", False)
    if flag is True:
        return list(methods)
    if isinstance(flag, frozenset):
        return [method for method in methods if method in flag]
    return []


class PublishableKeyGate(BasePermission):
    """Other credentials pass. A publishable key passes only a view (method) that opts in (`key_access_methods`),
    and only when the request's `Origin` is one the key allows or MiniRAG's own (the hosted chat page); else 403."""

    def has_permission(self, request, view) -> bool:
        key = publishable_key(request)
        if key is None:
            return True
        if not key_access_methods(type(view), [request.method]):
            raise PermissionDenied(KEY_NOT_ALLOWED_HERE)
        if origin_allowed(request, key.allowed_origins) is None:
            raise PermissionDenied(ORIGIN_NOT_ALLOWED)
        return True


class IsTenantMember(BasePermission):
    """Any authenticated user of an active tenant."""

    def has_permission(self, request, view) -> bool:
        return tenant_credential(request) is not None


class ManagerForWrites(IsTenantMember):
    """Members may read; owners and admins (`User.is_manager`) may write. Never a publishable key: its `user` is
    its creator (attribution), whose role must not lend the key any right."""

    message = "Only owners and admins can manage users"

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view) or publishable_key(request) is not None:
            return False
        return request.method in SAFE_METHODS or request.auth.user.is_manager
