from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from bots import selectors, services
from bots.api import docs
from bots.api import serializers as s
from minirag.api.base import TenantViewSet
from minirag.api.lookups import UUID_LOOKUP
from minirag.api.origins import public_base_url
from minirag.api.pagination import BoundedListPagination
from minirag.api.permissions import ManagerForWrites
from tenants import publishable_keys


@docs.bot_profile_docs
class BotProfileViewSet(TenantViewSet):
    lookup_value_regex = UUID_LOOKUP
    pagination_class = BoundedListPagination

    @extend_schema(responses=s.BotProfileReadSerializer(many=True), tags=["bot-profiles"])
    def list(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.bot_list(), request, self)
        return paginator.get_paginated_response(s.BotProfileReadSerializer(page, many=True).data)

    @extend_schema(
        request=s.BotProfileCreateSerializer, responses={201: s.BotProfileReadSerializer}, tags=["bot-profiles"]
    )
    def create(self, request):
        body = s.BotProfileCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        bot = services.bot_create(**body.validated_data)
        return Response(s.BotProfileReadSerializer(bot).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.BotProfileReadSerializer, tags=["bot-profiles"])
    def retrieve(self, request, pk=None):
        return Response(s.BotProfileReadSerializer(selectors.bot_get(bot_id=pk)).data)

    @extend_schema(request=s.BotProfileUpdateSerializer, responses=s.BotProfileReadSerializer, tags=["bot-profiles"])
    def partial_update(self, request, pk=None):
        bot = selectors.bot_get(bot_id=pk)
        body = s.BotProfileUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changes = {key: value for key, value in body.validated_data.items() if key in request.data}
        bot = services.bot_update(bot=bot, changes=changes)
        return Response(s.BotProfileReadSerializer(bot).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deactivated")}, tags=["bot-profiles"])
    def destroy(self, request, pk=None):
        services.bot_delete(bot=selectors.bot_get(bot_id=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PublishableKeyWritePermission(ManagerForWrites):
    """Any member lists and reads keys; owners and admins issue, change and delete them."""

    message = "Only owners and admins can manage publishable keys"


@docs.publishable_key_docs
class PublishableKeyViewSet(TenantViewSet):
    """/v1/publishable-keys. Keys live in the public schema (tenants.publishable_keys); this API sits with bots
    because a key names one of the tenant's bots, which only this layer (and those above) can check."""

    permission_classes = [PublishableKeyWritePermission]
    lookup_value_regex = UUID_LOOKUP
    pagination_class = BoundedListPagination

    @extend_schema(
        parameters=[OpenApiParameter("bot_profile_id", OpenApiTypes.UUID, description="only this bot's keys")],
        responses=s.PublishableKeyReadSerializer(many=True),
        tags=["publishable-keys"],
    )
    def list(self, request):
        query = s.PublishableKeyListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        keys = publishable_keys.publishable_key_list(
            tenant=request.auth.tenant, bot_profile_id=query.validated_data.get("bot_profile_id")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(keys, request, self)
        return paginator.get_paginated_response(s.PublishableKeyReadSerializer(page, many=True).data)

    @extend_schema(
        request=s.PublishableKeyCreateSerializer,
        responses={201: s.PublishableKeyCreatedSerializer},
        tags=["publishable-keys"],
    )
    def create(self, request):
        body = s.PublishableKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = publishable_keys.publishable_key_create(
            tenant=request.auth.tenant, created_by=request.auth.user, **body.validated_data
        )
        share_url = f"{public_base_url(request)}/c/{issued.key.id}#{issued.raw_key}"
        data = s.PublishableKeyReadSerializer(issued.key).data | {"key": issued.raw_key, "share_url": share_url}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.PublishableKeyReadSerializer, tags=["publishable-keys"])
    def retrieve(self, request, pk=None):
        key = publishable_keys.publishable_key_get(tenant=request.auth.tenant, key_id=pk)
        return Response(s.PublishableKeyReadSerializer(key).data)

    @extend_schema(
        request=s.PublishableKeyUpdateSerializer,
        responses=s.PublishableKeyReadSerializer,
        tags=["publishable-keys"],
    )
    def partial_update(self, request, pk=None):
        key = publishable_keys.publishable_key_get(tenant=request.auth.tenant, key_id=pk)
        body = s.PublishableKeyUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        key = publishable_keys.publishable_key_update(key=key, changes=dict(body.validated_data))
        return Response(s.PublishableKeyReadSerializer(key).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted")}, tags=["publishable-keys"])
    def destroy(self, request, pk=None):
        key = publishable_keys.publishable_key_get(tenant=request.auth.tenant, key_id=pk)
        publishable_keys.publishable_key_delete(key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)
