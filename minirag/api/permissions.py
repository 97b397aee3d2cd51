"""Role checks. The tenant is already fixed by the middleware; these only look at the caller's credential and role.

`request.auth` is the credential the tenant middleware resolved (tenants.credentials.AuthContext: `tenant`, `user`,
…), handed over by TenantCredentialAuthentication; the role check is the user model's `is_manager`.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from minirag.api.authentication import TenantCredentialAuthentication


def tenant_credential(request):
    """The tenant credential the request authenticated with, or None (anonymous, or another authenticator)."""
    if not isinstance(request.successful_authenticator, TenantCredentialAuthentication):
        return None
    credential = request.auth
    if getattr(credential, "tenant", None) is None or getattr(credential, "user", None) is None:
        return None
    return credential


class IsTenantMember(BasePermission):
    """Any authenticated user of an active tenant."""

    def has_permission(self, request, view) -> bool:
        return tenant_credential(request) is not None


class ManagerForWrites(IsTenantMember):
    """Members may read; owners and admins (`User.is_manager`) may write."""

    message = "Only owners and admins can manage users"

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in SAFE_METHODS or request.auth.user.is_manager
