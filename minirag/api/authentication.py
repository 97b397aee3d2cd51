"""DRF authentication that reads what the tenant middleware resolved (it never resolves on its own)."""

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed


class TenantCredentialAuthentication(BaseAuthentication):
    def authenticate(self, request):
        django_request = request._request
        error = getattr(django_request, "auth_error", None)
        if error:
            raise AuthenticationFailed(error)
        context = getattr(django_request, "auth_context", None)
        if context is None:
            return None
        return (context.user, context)

    def authenticate_header(self, request):
        return "Bearer"
