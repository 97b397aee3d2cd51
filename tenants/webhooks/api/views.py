from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from minirag.api.base import TenantViewSet
from minirag.api.lookups import UUID_LOOKUP
from minirag.api.pagination import BoundedListPagination
from minirag.api.permissions import ManagerForWrites
from tenants.webhooks import selectors, services
from tenants.webhooks.api import docs
from tenants.webhooks.api import serializers as s


class WebhookWritePermission(ManagerForWrites):
    """Any member reads; owners and admins create, change, test and delete (a webhook ships tenant data out)."""

    message = "Only owners and admins can manage webhooks"


class DeliveryPagination(BoundedListPagination):
    default_limit = 50


@docs.webhook_docs
class WebhookViewSet(TenantViewSet):
    permission_classes = [WebhookWritePermission]
    lookup_value_regex = UUID_LOOKUP
    pagination_class = BoundedListPagination

    @extend_schema(responses=s.WebhookReadSerializer(many=True), tags=["webhooks"])
    def list(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.webhook_list(), request, self)
        return paginator.get_paginated_response(s.WebhookReadSerializer(page, many=True).data)

    @extend_schema(request=s.WebhookCreateSerializer, responses={201: s.WebhookCreatedSerializer}, tags=["webhooks"])
    def create(self, request):
        body = s.WebhookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        created = services.webhook_create(
            url=data["url"], events=data["events"], description=data["description"], secret=data.get("secret")
        )
        payload = s.WebhookReadSerializer(created.webhook).data | {"secret": created.raw_secret}
        return Response(payload, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.WebhookReadSerializer, tags=["webhooks"])
    def retrieve(self, request, pk=None):
        webhook = selectors.webhook_get(webhook_id=pk)
        return Response(s.WebhookReadSerializer(webhook).data)

    @extend_schema(request=s.WebhookUpdateSerializer, responses=s.WebhookReadSerializer, tags=["webhooks"])
    def partial_update(self, request, pk=None):
        body = s.WebhookUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        webhook = selectors.webhook_get(webhook_id=pk)
        webhook = services.webhook_update(webhook=webhook, changes=dict(body.validated_data))
        return Response(s.WebhookReadSerializer(webhook).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deleted")}, tags=["webhooks"])
    def destroy(self, request, pk=None):
        services.webhook_delete(webhook=selectors.webhook_get(webhook_id=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=s.WebhookTestResultSerializer, tags=["webhooks"])
    @action(detail=True, methods=["post"], url_path="test")
    def test(self, request, pk=None):
        result = services.webhook_test(webhook=selectors.webhook_get(webhook_id=pk))
        return Response({"success": result.success, "status_code": result.status_code, "message": result.message})

    @extend_schema(responses=s.WebhookDeliverySerializer(many=True), tags=["webhooks"])
    @action(detail=True, methods=["get"], url_path="deliveries")
    def deliveries(self, request, pk=None):
        webhook = selectors.webhook_get(webhook_id=pk)
        paginator = DeliveryPagination()
        page = paginator.paginate_queryset(selectors.webhook_delivery_list(webhook=webhook), request, self)
        return paginator.get_paginated_response(s.WebhookDeliverySerializer(page, many=True).data)
