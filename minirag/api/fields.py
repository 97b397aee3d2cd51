"""Serializer fields shared by the apps' APIs."""

from django.db import connection
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from minirag.tenancy import PUBLIC_SCHEMA


@extend_schema_field(OpenApiTypes.STR)
class TenantIdField(serializers.Field):
    """`tenant_id` of a row stored in a tenant's schema (such rows have no tenant column): the id of the tenant the
    connection is in, which for an API request is the caller's (the tenant middleware entered it). Outside a tenant
    schema it refuses to answer rather than guess."""

    def __init__(self, **kwargs) -> None:
        kwargs["source"] = "*"
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value) -> str:
        tenant = getattr(connection, "tenant", None)
        if tenant is None or getattr(tenant, "schema_name", PUBLIC_SCHEMA) == PUBLIC_SCHEMA:
            raise RuntimeError("tenant_id asked outside a tenant schema")
        return str(tenant.id)
