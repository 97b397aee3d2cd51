"""Role checks. The tenant is already fixed by the middleware; these only look at the caller's role."""

from rest_framework.permissions import BasePermission

from tenants.credentials import AuthContext
from tenants.models import Role


class IsTenantMember(BasePermission):
    """Any authenticated user of an active tenant."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, AuthContext)


class IsTenantManager(BasePermission):
    """Owners and admins."""

    message = "Only owners and admins can manage users"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, AuthContext) and request.auth.role in (Role.OWNER, Role.ADMIN)


class ManagerForWrites(IsTenantMember):
    """Members may read; owners and admins may write."""

    message = "Only owners and admins can manage users"

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return request.auth.role in (Role.OWNER, Role.ADMIN)
