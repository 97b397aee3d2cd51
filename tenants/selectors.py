"""Reads for the public-schema models. Users and tokens live in the public schema, so these take the
caller's tenant (from the AuthContext the middleware resolved) and scope by it here, in one place."""

from django.db.models import Count, Q, QuerySet

from minirag.errors import NotFound
from minirag.tenancy import tenants_all
from tenants.models import ApiToken, Role, Tenant, User


def user_list(*, tenant: Tenant) -> QuerySet[User]:
    return User.objects.filter(tenant=tenant).order_by("email", "id")


def user_get(*, tenant: Tenant, user_id) -> User:
    user = User.objects.filter(tenant=tenant, pk=user_id).first()
    if user is None:
        raise NotFound("User not found")
    return user


def api_tokens_manageable_by(*, tenant: Tenant, actor: User) -> QuerySet[ApiToken]:
    """The tokens `actor` may list and revoke, by the same rules as users: owners manage every token of the
    tenant, admins their own and every non-owner's, members only their own."""
    tokens = ApiToken.objects.filter(tenant=tenant)
    if actor.role == Role.OWNER:
        return tokens
    if actor.role == Role.ADMIN:
        return tokens.exclude(user__role=Role.OWNER)
    return tokens.filter(user=actor)


def api_token_list(*, tenant: Tenant, actor: User) -> QuerySet[ApiToken]:
    return api_tokens_manageable_by(tenant=tenant, actor=actor).order_by("-created_at", "id")


def api_token_get(*, tenant: Tenant, actor: User, token_id) -> ApiToken:
    """A token `actor` may manage; any other (another tenant's, or one above the actor's role) is "not found"."""
    token = api_tokens_manageable_by(tenant=tenant, actor=actor).filter(pk=token_id).first()
    if token is None:
        raise NotFound("Token not found")
    return token


def tenant_list_with_counts() -> QuerySet[Tenant]:
    """Tenants annotated with user and active-token counts in one query (operator console)."""
    return tenants_all().annotate(
        user_count=Count("users", distinct=True),
        active_token_count=Count("api_tokens", filter=Q(api_tokens__is_active=True), distinct=True),
    )
