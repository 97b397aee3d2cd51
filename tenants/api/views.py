from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from minirag.api.base import TenantAPIView, TenantViewSet
from minirag.api.lookups import UUID_LOOKUP
from minirag.api.pagination import BoundedListPagination
from minirag.api.permissions import ManagerForWrites
from minirag.api.throttling import LoginEmailRateThrottle, LoginIPRateThrottle, SignupRateThrottle
from tenants import selectors, services
from tenants.api import docs
from tenants.api import serializers as s


@docs.tenant_bootstrap_docs
class TenantBootstrapView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [SignupRateThrottle]

    @extend_schema(
        request=s.TenantBootstrapSerializer, responses={201: s.TenantBootstrapResponseSerializer}, tags=["tenants"]
    )
    def post(self, request):
        # A closed server (or a missing/invalid invite code) answers 403 whatever the body holds.
        services.signup_gate(invite_code=_invite_code(request.data))
        body = s.TenantBootstrapSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = services.tenant_signup(
            name=data["tenant_name"],
            slug=data["tenant_slug"],
            owner_email=data["owner_email"],
            owner_password=data["owner_password"],
            owner_display_name=data["owner_display_name"],
            invite_code=data["invite_code"],
        )
        payload = {
            "tenant": s.TenantReadSerializer(result.tenant).data,
            "api_token": result.api_token.raw_token,
            "token_prefix": result.api_token.token.token_prefix,
        }
        return Response(payload, status=status.HTTP_201_CREATED)


def _invite_code(data) -> str | None:
    code = data.get("invite_code") if hasattr(data, "get") else None
    return code if isinstance(code, str) and len(code) <= 200 else None


@docs.login_docs
class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIPRateThrottle, LoginEmailRateThrottle]

    @extend_schema(request=s.LoginSerializer, responses={200: s.LoginResponseSerializer}, tags=["auth"])
    def post(self, request):
        body = s.LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.auth_login(
            email=body.validated_data["email"],
            password=body.validated_data["password"],
            tenant_slug=body.validated_data.get("tenant_slug"),
        )
        return Response(_token_payload(result))


@docs.refresh_docs
class RefreshView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginIPRateThrottle]

    @extend_schema(request=s.RefreshSerializer, responses={200: s.LoginResponseSerializer}, tags=["auth"])
    def post(self, request):
        body = s.RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(_token_payload(services.auth_refresh(refresh_token=body.validated_data["refresh_token"])))


def _token_payload(result: services.LoginResult) -> dict:
    return {
        "access_token": result.access_token,
        "token_type": "bearer",
        "refresh_token": result.refresh_token,
        "user": s.UserReadSerializer(result.user).data,
        "tenant": s.TenantReadSerializer(result.tenant).data,
    }


@docs.me_docs
class MeView(TenantAPIView):
    @extend_schema(responses=s.MeSerializer, tags=["auth"])
    def get(self, request):
        return Response(
            {
                "user": s.UserReadSerializer(request.auth.user).data,
                "tenant": s.TenantReadSerializer(request.auth.tenant).data,
            }
        )


@docs.api_token_docs
class ApiTokenViewSet(TenantViewSet):
    lookup_value_regex = UUID_LOOKUP
    pagination_class = BoundedListPagination

    @extend_schema(responses=s.ApiTokenReadSerializer(many=True), tags=["api-tokens"])
    def list(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.api_token_list(tenant=request.auth.tenant, actor=request.auth.user), request, self
        )
        return paginator.get_paginated_response(s.ApiTokenReadSerializer(page, many=True).data)

    @extend_schema(
        request=s.ApiTokenCreateSerializer, responses={201: s.ApiTokenCreatedSerializer}, tags=["api-tokens"]
    )
    def create(self, request):
        body = s.ApiTokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = services.api_token_create(user=request.auth.user, name=body.validated_data["name"])
        data = s.ApiTokenReadSerializer(issued.token).data | {"raw_token": issued.raw_token}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: OpenApiResponse(description="Revoked")}, tags=["api-tokens"])
    def destroy(self, request, pk=None):
        token = selectors.api_token_get(tenant=request.auth.tenant, actor=request.auth.user, token_id=pk)
        services.api_token_revoke(token=token, actor=request.auth.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@docs.user_docs
class UserViewSet(TenantViewSet):
    permission_classes = [ManagerForWrites]
    lookup_value_regex = UUID_LOOKUP
    pagination_class = BoundedListPagination

    @extend_schema(responses=s.UserReadSerializer(many=True), tags=["users"])
    def list(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.user_list(tenant=request.auth.tenant), request, self)
        return paginator.get_paginated_response(s.UserReadSerializer(page, many=True).data)

    @extend_schema(responses=s.UserReadSerializer, tags=["users"])
    def retrieve(self, request, pk=None):
        return Response(s.UserReadSerializer(selectors.user_get(tenant=request.auth.tenant, user_id=pk)).data)

    @extend_schema(request=s.UserCreateSerializer, responses={201: s.UserReadSerializer}, tags=["users"])
    def create(self, request):
        body = s.UserCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.user_create(tenant=request.auth.tenant, actor=request.auth.user, **body.validated_data)
        return Response(s.UserReadSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.UserUpdateSerializer, responses=s.UserReadSerializer, tags=["users"])
    def partial_update(self, request, pk=None):
        body = s.UserUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        user = selectors.user_get(tenant=request.auth.tenant, user_id=pk)
        user = services.user_update(
            tenant=request.auth.tenant,
            actor=request.auth.user,
            user=user,
            changes=dict(body.validated_data),
        )
        return Response(s.UserReadSerializer(user).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deactivated")}, tags=["users"])
    def destroy(self, request, pk=None):
        user = selectors.user_get(tenant=request.auth.tenant, user_id=pk)
        services.user_deactivate(tenant=request.auth.tenant, actor=request.auth.user, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)
