"""Bounded lists that keep the reference's wire shape (a plain JSON array)."""

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

# PostgreSQL's OFFSET is a bigint; anything near it is garbage, not a page.
MAX_OFFSET = 1_000_000_000


def parse_limit_offset(request, *, default_limit: int | None = None, max_limit: int | None = None) -> tuple[int, int]:
    """Read `limit`/`offset` from the query string; out-of-range limits are clamped, garbage is a 422."""
    max_limit = max_limit or settings.API_MAX_PAGE_SIZE
    default_limit = default_limit or max_limit
    try:
        limit = int(request.query_params.get("limit", default_limit))
        offset = int(request.query_params.get("offset", 0))
    except (TypeError, ValueError):
        raise ValidationError({"limit": ["limit and offset must be integers"]}) from None
    if offset < 0 or offset > MAX_OFFSET:
        raise ValidationError({"offset": [f"offset must be between 0 and {MAX_OFFSET}"]})
    return max(1, min(limit, max_limit)), offset


class BoundedListPagination(BasePagination):
    """`?limit=&offset=` (limit clamped to API_MAX_PAGE_SIZE); the body stays a plain array.

    `X-Total-Count` carries the total so clients can page without an envelope.
    """

    default_limit: int | None = None

    def paginate_queryset(self, queryset, request, view=None):
        self.limit, self.offset = parse_limit_offset(request, default_limit=self.default_limit)
        self.count = queryset.count()
        return list(queryset[self.offset : self.offset + self.limit])

    def get_paginated_response(self, data):
        return Response(data, headers={"X-Total-Count": str(self.count)})

    def get_paginated_response_schema(self, schema):
        return schema

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
            {
                "name": "offset",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            },
        ]
