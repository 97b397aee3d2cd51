"""A restart migrates only the schemas that miss migrations, found in one query over all tenant schemas."""

import pytest
from django.db import connection

from minirag import startup

pytestmark = pytest.mark.django_db


def _forget_migration(schema: str, app: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{schema}".django_migrations WHERE id = '
            f'(SELECT max(id) FROM "{schema}".django_migrations WHERE app = %s)',
            [app],
        )


def test_tenant_migrations_on_disk_are_the_tenant_apps_only():
    keys = startup.tenant_migration_keys()

    assert {app for app, _ in keys} == {"bots", "sources", "chat", "usage", "webhooks"}
    assert ("sources", "0001_initial") in keys


def test_up_to_date_schemas_need_nothing(tenant_a, tenant_b):
    stale = startup.schemas_missing_migrations()

    assert tenant_a.tenant.schema_name not in stale and tenant_b.tenant.schema_name not in stale


def test_a_schema_missing_a_migration_record_is_found(tenant_a, tenant_b):
    _forget_migration(tenant_a.tenant.schema_name, "chat")

    stale = startup.schemas_missing_migrations()

    assert tenant_a.tenant.schema_name in stale and tenant_b.tenant.schema_name not in stale


def test_a_new_migration_on_disk_makes_every_schema_stale(tenant_a, tenant_b):
    expected = startup.tenant_migration_keys() | {("chat", "9999_not_yet_applied")}

    stale = startup.schemas_missing_migrations(expected)

    assert {tenant_a.tenant.schema_name, tenant_b.tenant.schema_name} <= set(stale)


def test_all_schemas_are_compared_in_one_query(tenant_a, tenant_b, django_assert_num_queries):
    with django_assert_num_queries(2):  # the tenant list (with a catalog lookup), then one UNION ALL
        startup.schemas_missing_migrations()


def test_many_schemas_are_compared_in_batches(tenant_a, tenant_b, monkeypatch):
    monkeypatch.setattr(startup, "SCHEMAS_PER_QUERY", 1)
    _forget_migration(tenant_b.tenant.schema_name, "usage")

    stale = startup.schemas_missing_migrations()

    assert tenant_b.tenant.schema_name in stale and tenant_a.tenant.schema_name not in stale


def test_migrate_pending_migrates_only_the_stale_schemas(tenant_a, tenant_b, monkeypatch):
    calls = []
    monkeypatch.setattr("django.core.management.call_command", lambda *args, **kwargs: calls.append(kwargs))
    _forget_migration(tenant_a.tenant.schema_name, "bots")

    result = startup.migrate_pending(log=lambda message: None)

    assert result["public_migrations"] == []
    migrated = [call["schema_name"] for call in calls]
    assert tenant_a.tenant.schema_name in migrated and tenant_b.tenant.schema_name not in migrated
    assert all(call["tenant"] for call in calls)
