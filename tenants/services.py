"""Writes and workflows for tenants: bootstrap, sign-up, invite codes, activation.

Accounts (login, API tokens, users) live in tenants.accounts; their public names are re-exported here, so
`tenants.services` stays the one place callers import writes from."""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from minirag.errors import Conflict, InvalidInput, PermissionDenied
from tenants.accounts import (  # noqa: F401  (re-exported)
    CHOSEN_TOKEN_MIN_RANDOM_CHARS,
    IssuedToken,
    LoginResult,
    api_token_create,
    api_token_revoke,
    auth_login,
    auth_refresh,
    check_chosen_token,
    user_create,
    user_deactivate,
    user_update,
)
from tenants.models import (
    SLUG_PATTERN,
    InviteCode,
    Role,
    Tenant,
    User,
    hash_token,
    schema_name_for_slug,
)
from tenants.passwords import check_password_policy
from tenants.schema import create_tenant_schema

logger = logging.getLogger("minirag.tenants")

SIGNUP_CLOSED = "Sign-up is closed on this server; ask its operator for an account"
INVITE_REQUIRED = "Sign-up on this server needs an invite code (invite_code)"
INVITE_INVALID = "Invite code is invalid, expired or used up"
INVITE_PREFIX = "inv_"


@dataclass(frozen=True)
class BootstrapResult:
    tenant: Tenant
    owner: User
    api_token: IssuedToken


# --- Tenants -------------------------------------------------------------------------------------------


def tenant_bootstrap(
    *,
    name: str,
    slug: str,
    owner_email: str,
    owner_password: str,
    owner_display_name: str = "",
    api_token: str | None = None,
) -> BootstrapResult:
    """Create a tenant, its schema with every tenant table, an owner and a "default" API token (generated, or
    `api_token` when the operator chose it: see `api_token_create`).

    All of it happens in one transaction: a failure leaves no tenant, schema, user or token behind.
    Raises Conflict (409) when the slug is taken, InvalidInput (422) for a bad slug or weak password.
    """
    if not SLUG_PATTERN.match(slug or "") or len(slug) > 100:
        raise InvalidInput(
            [
                {
                    "loc": ["body", "tenant_slug"],
                    "msg": "Slug must match ^[a-z0-9-]+$ (max 100)",
                    "type": "value_error.slug",
                }
            ]
        )
    if slug in settings.RESERVED_SLUGS:
        raise InvalidInput(
            [
                {
                    "loc": ["body", "tenant_slug"],
                    "msg": f"The slug '{slug}' is reserved; choose another",
                    "type": "value_error.slug_reserved",
                }
            ]
        )
    check_password_policy(owner_password, field="owner_password")
    if api_token is not None:
        check_chosen_token(api_token)
    if Tenant.objects.filter(slug=slug).exists():
        raise Conflict(f"Slug '{slug}' is already taken")
    try:
        # Tenants live in the public schema, whatever schema the caller's credential selected.
        with schema_context(get_public_schema_name()), transaction.atomic():
            tenant = Tenant.objects.create(name=name, slug=slug, schema_name=schema_name_for_slug(slug))
            create_tenant_schema(tenant.schema_name)
            owner = User(
                tenant=tenant,
                email=owner_email.strip(),
                display_name=owner_display_name,
                role=Role.OWNER,
            )
            owner.set_password(owner_password)
            owner.save()
            issued = api_token_create(user=owner, name="default", raw_token=api_token)
    except IntegrityError:
        # Lost a race with a concurrent bootstrap of the same slug.
        raise Conflict(f"Slug '{slug}' is already taken") from None
    return BootstrapResult(tenant=tenant, owner=owner, api_token=issued)


def signup_gate(*, invite_code: str | None) -> None:
    """Refuse a public sign-up the server does not allow (PermissionDenied, 403), before anything else is looked at.

    SIGNUP_MODE "closed": always. "invite": without a code, or with one that is unknown, revoked, expired or used
    up (checked here without being used; `tenant_signup` uses it). "open": never.
    """
    mode = settings.SIGNUP_MODE
    if mode == "open":
        return
    if mode != "invite":
        raise PermissionDenied(SIGNUP_CLOSED)
    if not invite_code:
        raise PermissionDenied(INVITE_REQUIRED)
    invite = InviteCode.objects.filter(code_hash=hash_token(invite_code)).first()
    if invite is None or not invite.is_usable:
        raise PermissionDenied(INVITE_INVALID)


def tenant_signup(
    *,
    name: str,
    slug: str,
    owner_email: str,
    owner_password: str,
    owner_display_name: str = "",
    invite_code: str | None = None,
) -> BootstrapResult:
    """POST /v1/tenants: `tenant_bootstrap`, if SIGNUP_MODE allows it (see `signup_gate`).

    In "invite" mode one use of the code is taken in the same transaction as the tenant, so a sign-up that fails
    (taken slug, weak password) does not spend it, and concurrent sign-ups cannot use a code beyond `max_uses`.
    """
    signup_gate(invite_code=invite_code)
    with schema_context(get_public_schema_name()), transaction.atomic():
        if settings.SIGNUP_MODE == "invite":
            _invite_take(invite_code or "")
        result = tenant_bootstrap(
            name=name,
            slug=slug,
            owner_email=owner_email,
            owner_password=owner_password,
            owner_display_name=owner_display_name,
        )
    logger.info("tenant %s signed up (mode %s)", result.tenant.slug, settings.SIGNUP_MODE)
    return result


def _invite_take(raw_code: str) -> None:
    now = timezone.now()
    taken = (
        InviteCode.objects.filter(code_hash=hash_token(raw_code), is_active=True, use_count__lt=F("max_uses"))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .update(use_count=F("use_count") + 1, last_used_at=now, updated_at=now)
    )
    if not taken:
        raise PermissionDenied(INVITE_INVALID)


@dataclass(frozen=True)
class IssuedInvite:
    invite: InviteCode
    raw_code: str


def invite_code_issue(*, invite: InviteCode) -> str:
    """Give the unsaved `invite` (its uses, expiry and note set by the caller) a fresh code and save it.

    Returns the raw code, which exists only in this return value (the row keeps its SHA-256 and a prefix).
    """
    if invite.max_uses < 1:
        raise InvalidInput("An invite code allows at least one sign-up")
    raw = INVITE_PREFIX + secrets.token_urlsafe(18)
    invite.code_hash = hash_token(raw)
    invite.code_prefix = raw[:10]
    invite.save()
    return raw


def invite_code_create(*, max_uses: int = 1, expires_at: datetime | None = None, note: str = "") -> IssuedInvite:
    """A new invite code for `max_uses` sign-ups until `expires_at` (None: no expiry)."""
    invite = InviteCode(max_uses=max_uses, expires_at=expires_at, note=note)
    return IssuedInvite(invite=invite, raw_code=invite_code_issue(invite=invite))


def invite_code_revoke(*, invite: InviteCode) -> InviteCode:
    """The code stops working for sign-ups at once (idempotent)."""
    if invite.is_active:
        invite.is_active = False
        invite.save(update_fields=["is_active", "updated_at"])
    return invite


@transaction.atomic
def tenant_set_active(*, tenant: Tenant, is_active: bool) -> Tenant:
    """Activate or deactivate a tenant. Its API tokens and JWTs stop (or resume) working on the next request."""
    tenant.is_active = is_active
    tenant.save(update_fields=["is_active", "updated_at"])
    return tenant
