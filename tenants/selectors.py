"""Reads for the public-schema models. Users and tokens live in the public schema, so these take the
caller's tenant (from the AuthContext the middleware resolved) and scope by it here, in one place."""

from django.db.models import Count, Q, QuerySet

from minirag.errors import NotFound
from tenants.models import ApiToken, Tenant, User


def user_list(*, tenant: Tenant) -> QuerySet[User]:
    return User.objects.filter(tenant=tenant).order_by("email", "id")


def user_get(*, tenant: Tenant, user_id) -> User:
    user = User.objects.filter(tenant=tenant, pk=user_id).first()
    if user is None:
        raise NotFound("User not found")
    return user


def api_token_list(*, tenant: Tenant) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(tenant=tenant).order_by("-created_at", "id")


def api_token_get(*, tenant: Tenant, token_id) -> ApiToken:
    token = ApiToken.objects.filter(tenant=tenant, pk=token_id).first()
    if token is None:
        raise NotFound("Token not found")
    return token


def tenant_list_with_counts() -> QuerySet[Tenant]:
    """Tenants annotated with user and active-token counts in one query (operator console)."""
    return Tenant.objects.exclude(schema_name="public").annotate(
        user_count=Count("users", distinct=True),
        active_token_count=Count("api_tokens", filter=Q(api_tokens__is_active=True), distinct=True),
    )
