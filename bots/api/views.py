from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from bots import selectors, services
from bots.api import docs
from bots.api import serializers as s
from minirag.api.base import TenantViewSet
from minirag.api.lookups import UUID_LOOKUP
from minirag.api.pagination import BoundedListPagination


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
