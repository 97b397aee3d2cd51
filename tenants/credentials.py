"""Turn a bearer credential (API token, JWT or publishable key) into an AuthContext, checking everything is still
active.

Used only by the tenant middleware; it is the single place where a request's tenant is decided.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from minirag.errors import AuthenticationError
from tenants.models import PUBLISHABLE_KEY_PREFIX, ApiToken, PublishableKey, Tenant, User, hash_token

PUBLISHABLE_KEY = "publishable_key"


@dataclass(frozen=True)
class AuthContext:
    """A resolved credential: `request.auth` in API views. The role is `user.role`, as loaded for this request.

    For a publishable key (`method == "publishable_key"`), `publishable_key` is its row and `user` the key's
    creator — for attribution only: the API base refuses a key on every view that does not opt in, and
    `ManagerForWrites` refuses it everywhere, so the creator's role never opens anything.
    """

    tenant: Tenant
    user: User
    token_id: uuid.UUID | None
    method: str  # "api_token", "jwt" or "publishable_key"
    publishable_key: PublishableKey | None = None

    @property
    def is_publishable_key(self) -> bool:
        return self.method == PUBLISHABLE_KEY


def _check_active(user: User | None, tenant: Tenant | None) -> None:
    if user is None or not user.is_active:
        raise AuthenticationError("Token owner account is disabled")
    if tenant is None or not tenant.is_active:
        raise AuthenticationError("Tenant is disabled")


def resolve_api_token(raw_token: str) -> AuthContext:
    token = (
        ApiToken.objects.select_related("user", "tenant")
        .filter(token_hash=hash_token(raw_token), is_active=True)
        .first()
    )
    if token is None:
        raise AuthenticationError("Invalid or revoked API token")
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise AuthenticationError("API token has expired")
    if token.user.tenant_id != token.tenant_id:
        raise AuthenticationError("Invalid or revoked API token")
    _check_active(token.user, token.tenant)
    touch_every = timedelta(seconds=settings.API_TOKEN_TOUCH_INTERVAL_SECONDS)
    if token.last_used_at is None or now - token.last_used_at >= touch_every:
        # At most one write per token per interval, never a commit per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return AuthContext(tenant=token.tenant, user=token.user, token_id=token.id, method="api_token")


def resolve_publishable_key(raw_key: str) -> AuthContext:
    """An active publishable key of an active tenant whose creator is still active (else 401)."""
    key = (
        PublishableKey.objects.select_related("created_by", "tenant")
        .filter(key_hash=hash_token(raw_key), is_active=True)
        .first()
    )
    if key is None or key.created_by.tenant_id != key.tenant_id:
        raise AuthenticationError("Invalid or revoked publishable key")
    _check_active(key.created_by, key.tenant)
    now = timezone.now()
    touch_every = timedelta(seconds=settings.API_TOKEN_TOUCH_INTERVAL_SECONDS)
    if key.last_used_at is None or now - key.last_used_at >= touch_every:
        PublishableKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return AuthContext(
        tenant=key.tenant, user=key.created_by, token_id=None, method=PUBLISHABLE_KEY, publishable_key=key
    )


def resolve_jwt(raw_token: str) -> AuthContext:
    try:
        access = AccessToken(raw_token)
    except TokenError:
        raise AuthenticationError("Invalid or expired JWT") from None
    try:
        user_id = uuid.UUID(str(access["sub"]))
        tenant_id = uuid.UUID(str(access["tid"]))
    except (KeyError, ValueError):
        raise AuthenticationError("Malformed JWT payload") from None
    user = User.objects.select_related("tenant").filter(pk=user_id).first()
    if user is None or user.tenant_id != tenant_id:
        raise AuthenticationError("Invalid or expired JWT")
    _check_active(user, user.tenant)
    # The role is the user's current role (user.role), never a claim: a demotion takes effect at once.
    return AuthContext(tenant=user.tenant, user=user, token_id=None, method="jwt")


def resolve_bearer(raw_token: str) -> AuthContext:
    """`pk_…` is a publishable key; a credential with a dot is a JWT; anything else is an opaque API token (the
    reference's rule)."""
    if not raw_token:
        raise AuthenticationError("Not authenticated")
    if raw_token.startswith(PUBLISHABLE_KEY_PREFIX):
        return resolve_publishable_key(raw_token)
    if "." in raw_token:
        return resolve_jwt(raw_token)
    return resolve_api_token(raw_token)
