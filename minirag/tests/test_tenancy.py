"""The tenancy toolkit: entering tenants, visiting every tenant, queueing after commit, periodic entries."""

from unittest import mock

from django.conf import settings
from django.db import connection

from minirag.tenancy import enqueue_on_commit, for_each_tenant, periodic, tenant_context, tenants_all


def test_tenants_all_never_lists_the_public_schema(tenant_a, tenant_b):
    schemas = [tenant.schema_name for tenant in tenants_all()]

    assert "public" not in schemas and {tenant_a.tenant.schema_name, tenant_b.tenant.schema_name} <= set(schemas)
    assert schemas == sorted(schemas, key=lambda name: next(t.slug for t in tenants_all() if t.schema_name == name))


def test_for_each_tenant_runs_inside_each_schema_and_restores_public(tenant_a, tenant_b):
    seen = dict(for_each_tenant(lambda tenant: connection.schema_name))

    assert seen[tenant_a.tenant] == tenant_a.tenant.schema_name and seen[tenant_b.tenant] == tenant_b.tenant.schema_name
    assert connection.schema_name == "public"


def test_enqueue_on_commit_queues_in_the_schema_current_at_call_time(tenant_a, django_capture_on_commit_callbacks):
    task = mock.Mock(name="task")
    with django_capture_on_commit_callbacks(execute=False) as callbacks, tenant_context(tenant_a.tenant):
        enqueue_on_commit(task, queue="default", source_id="s1")
    task.apply_async.assert_not_called()  # not before commit

    callbacks[0]()  # committed, outside the tenant now

    task.apply_async.assert_called_once_with(
        kwargs={"source_id": "s1"}, headers={"_schema_name": tenant_a.tenant.schema_name}, queue="default"
    )


def test_enqueue_on_commit_survives_a_broker_outage(tenant_a, django_capture_on_commit_callbacks):
    task = mock.Mock(name="task")
    task.apply_async.side_effect = ConnectionError("broker down")
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a.tenant):
        enqueue_on_commit(task)  # logged, not raised


def test_periodic_entries_land_in_the_shared_beat_schedule():
    periodic("test-entry", task="minirag.tests.noop", seconds=5, queue="default", expires=5)
    try:
        assert settings.CELERY_BEAT_SCHEDULE["test-entry"] == {
            "task": "minirag.tests.noop",
            "schedule": 5.0,
            "options": {"queue": "default", "expires": 5.0},
        }
    finally:
        del settings.CELERY_BEAT_SCHEDULE["test-entry"]
