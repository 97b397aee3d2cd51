"""DRF authentication that reads what the tenant middleware resolved (it never resolves on its own)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
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


class TenantCredentialScheme(OpenApiAuthenticationExtension):
    """Describes the credential in the OpenAPI schema: an API token, a JWT or a publishable key, as a bearer token."""

    target_class = TenantCredentialAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token (mrag_…) or a JWT access token from /v1/auth/login; on the chat "
            "endpoints also a publishable key (pk_…) for web pages.",
        }
