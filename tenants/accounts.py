"""Writes for a tenant's accounts: login (JWT pairs), API tokens and users (split from tenants.services, which
re-exports every public name here so callers keep importing from there)."""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from minirag.errors import AuthenticationError, Conflict, InvalidInput, PermissionDenied
from tenants.models import ApiToken, Role, Tenant, User, hash_token
from tenants.passwords import check_password_policy

# Verifying against this keeps a login for an unknown email as slow as a wrong password (no user oracle).
_DUMMY_PASSWORD_HASH_CACHE: dict[str, str] = {}


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw_token: str


@dataclass(frozen=True)
class LoginResult:
    user: User
    tenant: Tenant
    access_token: str
    refresh_token: str


# --- Authentication ------------------------------------------------------------------------------------


def _issue_jwt_pair(user: User) -> tuple[str, str]:
    refresh = RefreshToken.for_user(user)
    refresh["tid"] = str(user.tenant_id)
    refresh["role"] = user.role
    access = refresh.access_token
    access["tid"] = str(user.tenant_id)
    access["role"] = user.role
    return str(access), str(refresh)


def _burn_password_check(password: str) -> None:
    dummy = _DUMMY_PASSWORD_HASH_CACHE.setdefault("hash", make_password("not-a-real-password"))
    check_password(password, dummy)


def auth_login(*, email: str, password: str, tenant_slug: str | None = None) -> LoginResult:
    """Check email + password and issue an access/refresh JWT pair.

    The same email may belong to several tenants; then `tenant_slug` picks one, and without it the login
    answers 400 (InvalidInput with status 400) instead of guessing.
    """
    users = User.objects.select_related("tenant").filter(email__iexact=email.strip(), tenant__isnull=False)
    if tenant_slug:
        users = users.filter(tenant__slug=tenant_slug)
    candidates = list(users[:10])
    if len(candidates) > 1:
        error = InvalidInput('This email belongs to several tenants; add "tenant_slug" to the login body to choose one')
        error.status_code = 400
        raise error
    user = candidates[0] if candidates else None
    if user is None:
        _burn_password_check(password)
        raise AuthenticationError("Invalid email or password")
    if not user.check_password(password):
        raise AuthenticationError("Invalid email or password")
    if not user.is_active:
        raise PermissionDenied("Account is disabled")
    if not user.tenant.is_active:
        raise PermissionDenied("Tenant is disabled")
    access, refresh = _issue_jwt_pair(user)
    return LoginResult(user=user, tenant=user.tenant, access_token=access, refresh_token=refresh)


def auth_refresh(*, refresh_token: str) -> LoginResult:
    """Exchange a refresh token for a new pair, re-checking that user and tenant are still active."""
    try:
        refresh = RefreshToken(refresh_token)
        user_id = refresh["sub"]
    except (TokenError, KeyError):
        raise AuthenticationError("Invalid or expired refresh token") from None
    user = User.objects.select_related("tenant").filter(pk=user_id, tenant__isnull=False).first()
    if user is None or str(user.tenant_id) != str(refresh.get("tid")):
        raise AuthenticationError("Invalid or expired refresh token")
    if not user.is_active:
        raise AuthenticationError("Token owner account is disabled")
    if not user.tenant.is_active:
        raise AuthenticationError("Tenant is disabled")
    access, new_refresh = _issue_jwt_pair(user)
    return LoginResult(user=user, tenant=user.tenant, access_token=access, refresh_token=new_refresh)


# --- API tokens ----------------------------------------------------------------------------------------


def _generate_raw_token() -> str:
    # 32 random bytes (256 bits) after a recognisable prefix, so leaked tokens are easy to scan for.
    return settings.API_TOKEN_PREFIX + secrets.token_urlsafe(32)


# A token an operator chooses must be as hard to guess as a generated one is: the prefix and at least 32
# URL-safe characters (e.g. 48 hex digits from `openssl rand -hex 24`).
CHOSEN_TOKEN_MIN_RANDOM_CHARS = 32


def check_chosen_token(raw_token: str) -> None:
    """Raise InvalidInput unless `raw_token` looks like a token: the prefix, then 32+ URL-safe characters."""
    prefix = settings.API_TOKEN_PREFIX
    body = raw_token.removeprefix(prefix)
    if (
        not raw_token.startswith(prefix)
        or len(body) < CHOSEN_TOKEN_MIN_RANDOM_CHARS
        or not all(char.isascii() and (char.isalnum() or char in "-_") for char in body)
    ):
        raise InvalidInput(
            f"An API token must be '{prefix}' followed by at least {CHOSEN_TOKEN_MIN_RANDOM_CHARS} letters, "
            f"digits, '-' or '_', e.g. {prefix}$(openssl rand -hex 24)"
        )


def api_token_create(*, user: User, name: str, raw_token: str | None = None) -> IssuedToken:
    """Create a token for `user` (it carries the user's role). The raw value exists only in the result.

    `raw_token` registers a value the operator chose instead of a generated one (an installation's first token,
    from its environment): InvalidInput unless it passes `check_chosen_token`, Conflict when it exists already.
    """
    if user.tenant_id is None:
        raise InvalidInput("Platform operators cannot hold tenant API tokens")
    if raw_token is None:
        raw = _generate_raw_token()
    else:
        check_chosen_token(raw_token)
        if ApiToken.objects.filter(token_hash=hash_token(raw_token)).exists():
            raise Conflict("This API token is registered already")
        raw = raw_token
    token = ApiToken.objects.create(
        tenant_id=user.tenant_id,
        user=user,
        name=name,
        token_hash=hash_token(raw),
        token_prefix=raw[:12],
    )
    return IssuedToken(token=token, raw_token=raw)


def _ensure_can_manage_token(*, actor: User, token: ApiToken) -> None:
    # The same rules as tenants.selectors.api_tokens_manageable_by, for callers that fetched the token otherwise.
    if actor.tenant_id != token.tenant_id:
        raise PermissionDenied("You cannot manage this token")
    if token.user_id == actor.pk or actor.role == Role.OWNER:
        return
    if actor.role == Role.ADMIN and token.user.role != Role.OWNER:
        return
    raise PermissionDenied("You cannot manage this token")


def api_token_revoke(*, token: ApiToken, actor: User | None = None) -> ApiToken:
    """Soft-revoke (idempotent). The next request with the token gets 401.

    `actor` is the tenant user asking (owners: any token; admins: their own and non-owners'; members: their
    own — PermissionDenied otherwise); None is a platform operator (console), who may revoke any token.
    """
    if actor is not None:
        _ensure_can_manage_token(actor=actor, token=token)
    if token.is_active:
        token.is_active = False
        token.save(update_fields=["is_active", "updated_at"])
    return token


# --- Users ---------------------------------------------------------------------------------------------


def _ensure_manager(actor: User) -> None:
    if not actor.is_manager:
        raise PermissionDenied("Only owners and admins can manage users")


def _ensure_can_grant(*, actor: User, role: str) -> None:
    _ensure_manager(actor)
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied("Only owners can create or promote owners")


def user_create(
    *, tenant: Tenant, actor: User, email: str, password: str, display_name: str = "", role: str = Role.MEMBER
) -> User:
    """Create a user of `tenant`. `actor` (the caller) must be an owner or admin; only an owner creates an owner."""
    _ensure_can_grant(actor=actor, role=role)
    check_password_policy(password)
    email = email.strip()
    if User.objects.filter(tenant=tenant, email__iexact=email).exists():
        raise Conflict("A user with this email already exists in this tenant")
    user = User(tenant=tenant, email=email, display_name=display_name, role=role)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise Conflict("A user with this email already exists in this tenant") from None
    return user


def _active_owner_count(tenant: Tenant, *, lock: bool) -> int:
    owners = User.objects.filter(tenant=tenant, role=Role.OWNER, is_active=True)
    if lock:
        # Lock the owner rows so two concurrent demotions cannot both pass the "last owner" check.
        return len(list(owners.select_for_update().values_list("pk", flat=True)))
    return owners.count()


@transaction.atomic
def user_update(*, tenant: Tenant, actor: User, user: User, changes: dict) -> User:
    """Apply a partial update. Role rules: owners/admins only; only an owner grants or changes an owner."""
    _ensure_manager(actor)
    new_role = changes.get("role", user.role)
    if Role.OWNER in (new_role, user.role) and new_role != user.role:
        _ensure_can_grant(actor=actor, role=Role.OWNER)
    if user.role == Role.OWNER and actor.role != Role.OWNER and changes:
        raise PermissionDenied("Only owners can change an owner")
    demotes_owner = (
        user.role == Role.OWNER and user.is_active and (new_role != Role.OWNER or changes.get("is_active") is False)
    )
    if demotes_owner and _active_owner_count(tenant, lock=True) <= 1:
        raise Conflict("The last active owner cannot be demoted or deactivated")
    if "email" in changes:
        email = changes["email"].strip()
        if User.objects.filter(tenant=tenant, email__iexact=email).exclude(pk=user.pk).exists():
            raise Conflict("A user with this email already exists in this tenant")
        user.email = email
    if "password" in changes:
        check_password_policy(changes["password"])
        user.set_password(changes["password"])
    for field in ("display_name", "role", "is_active"):
        if field in changes:
            setattr(user, field, changes[field])
    user.save()
    return user


@transaction.atomic
def user_deactivate(*, tenant: Tenant, actor: User, user: User) -> User:
    """Soft-deactivate (owners and admins; only an owner deactivates an owner). The user's API tokens and JWTs
    stop working on their next request."""
    _ensure_manager(actor)
    if user.role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied("Only owners can change an owner")
    if not user.is_active:
        return user
    if user.role == Role.OWNER and _active_owner_count(tenant, lock=True) <= 1:
        raise Conflict("The last active owner cannot be deactivated")
    user.is_active = False
    user.save(update_fields=["is_active", "updated_at"])
    return user
