from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from minirag.api.base import TenantViewSet
from minirag.api.lookups import UUID_LOOKUP
from minirag.api.pagination import BoundedListPagination
from sources import selectors, services
from sources.api import docs
from sources.api import serializers as s


def _uuid_param(request, name: str):
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    field = s.serializers.UUIDField()
    try:
        return field.to_internal_value(value)
    except ValidationError:
        raise ValidationError({name: ["Must be a valid UUID."]}) from None


def _bool_param(request, name: str) -> bool:
    value = request.query_params.get(name, "false").strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off", ""):
        return False
    raise ValidationError({name: ["Must be a boolean."]})


def _upserted_response(result: services.Upserted) -> Response:
    """201 with the new source; 200 with the updated one (an `external_id` the bot already had)."""
    if result.created:
        return Response(s.SourceReadSerializer(result.source).data, status=status.HTTP_201_CREATED)
    return Response(s.SourceReadSerializer(selectors.source_get(source_id=result.source.pk)).data)


@docs.source_docs
class SourceViewSet(TenantViewSet):
    lookup_value_regex = UUID_LOOKUP
    pagination_class = BoundedListPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("bot_profile_id", OpenApiTypes.UUID, required=False),
            OpenApiParameter("parent_id", OpenApiTypes.UUID, required=False),
            OpenApiParameter("include_children", OpenApiTypes.BOOL, required=False),
        ],
        responses=s.SourceReadSerializer(many=True),
        tags=["sources"],
    )
    def list(self, request):
        queryset = selectors.source_list(
            bot_profile_id=_uuid_param(request, "bot_profile_id"),
            parent_id=_uuid_param(request, "parent_id"),
            include_children=_bool_param(request, "include_children"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, self)
        return paginator.get_paginated_response(s.SourceReadSerializer(page, many=True).data)

    @extend_schema(
        request=s.SourceCreateSerializer,
        responses={201: s.SourceReadSerializer, 200: s.SourceReadSerializer},
        tags=["sources"],
    )
    def create(self, request):
        body = s.SourceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return _upserted_response(services.source_upsert(**body.validated_data))

    @extend_schema(responses=s.SourceReadSerializer, tags=["sources"])
    def retrieve(self, request, pk=None):
        return Response(s.SourceReadSerializer(selectors.source_get(source_id=pk)).data)

    @extend_schema(request=s.SourceUpdateSerializer, responses=s.SourceReadSerializer, tags=["sources"])
    def partial_update(self, request, pk=None):
        source = selectors.source_get(source_id=pk, aggregate=False)
        body = s.SourceUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        services.source_update(source=source, changes=dict(body.validated_data))
        return Response(s.SourceReadSerializer(selectors.source_get(source_id=pk)).data)

    @extend_schema(responses={204: OpenApiResponse(description="Deactivated")}, tags=["sources"])
    def destroy(self, request, pk=None):
        services.source_delete(source=selectors.source_get(source_id=pk, aggregate=False))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=s.SourceReadSerializer(many=True), tags=["sources"])
    @action(detail=True, methods=["get"])
    def children(self, request, pk=None):
        parent = selectors.source_get(source_id=pk, aggregate=False)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.source_children(parent=parent), request, self)
        return paginator.get_paginated_response(s.SourceReadSerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: s.IngestAcceptedSerializer}, tags=["sources"])
    @action(detail=True, methods=["post"])
    def ingest(self, request, pk=None):
        source = selectors.source_get(source_id=pk, aggregate=False)
        services.source_ingest(source=source, trigger="manual")
        return Response(
            {"status": "accepted", "message": f"Ingestion queued for source {source.pk}"},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(request=None, responses={202: s.IngestChildrenAcceptedSerializer}, tags=["sources"])
    @action(detail=True, methods=["post"], url_path="ingest-children")
    def ingest_children(self, request, pk=None):
        parent = selectors.source_get(source_id=pk, aggregate=False)
        count = services.source_ingest_children(parent=parent, trigger="manual")
        return Response(
            {"status": "accepted", "message": f"Ingestion queued for {count} child sources", "enqueued": count},
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        request=s.SourceUploadSerializer,
        responses={201: s.SourceReadSerializer, 200: s.SourceReadSerializer},
        tags=["sources"],
    )
    @action(detail=False, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def upload(self, request):
        upload = request.FILES.get("file")
        if upload is not None:
            services.check_upload(upload.name, upload.size)  # type and size first (reference order)
        body = s.SourceUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = services.source_upsert_upload(
            bot_profile_id=data["bot_profile_id"],
            file=data["file"],
            external_id=data.get("external_id"),
            name=data.get("name") or None,
            description=data.get("description") or "",
            parent_id=data.get("parent_id"),
        )
        return _upserted_response(result)

    @extend_schema(request=s.SourceBatchSerializer, responses={201: s.BatchResultSerializer}, tags=["sources"])
    @action(detail=False, methods=["post"])
    def batch(self, request):
        body = s.SourceBatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.source_batch_create(**body.validated_data)
        parent = selectors.source_get(source_id=result.parent.pk)
        return Response(
            {
                "parent": s.SourceReadSerializer(parent).data,
                "children": s.SourceReadSerializer(result.children, many=True).data,
            },
            status=status.HTTP_201_CREATED,
        )
