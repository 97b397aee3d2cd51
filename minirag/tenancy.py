"""The tenancy toolkit: the one way to enter a tenant, visit every tenant, queue a tenant-aware task after
commit, and register a periodic task. Requests enter their tenant in one place (tenants.middleware, from the
credential); everything outside a request — streams, tasks, commands, the admin — uses these.

- `tenant_context(tenant)`: run a block in the tenant's schema, restoring the previous one after.
- `tenants_all(active_only=False)`: every tenant (never the public schema's row), ordered by slug.
- `for_each_tenant(callback, active_only=False)`: call `callback(tenant)` inside each tenant's schema.
- `enqueue_on_commit(task, **kwargs)`: queue `task` after the current transaction commits, in the schema that
  is current NOW (tenant-schemas-celery runs it there); a broker outage is logged, never raised.
- `periodic(name, task=..., seconds=..., queue=...)`: a beat entry, registered from an app's `ready()`; beat,
  workers and web processes see the same schedule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import get_tenant_model

logger = logging.getLogger("minirag.tenancy")

PUBLIC_SCHEMA = "public"


@contextmanager
def tenant_context(tenant):
    """Switch the connection to `tenant`'s schema for the block, restoring the previous schema after."""
    previous = connection.tenant if hasattr(connection, "tenant") else None
    connection.set_tenant(tenant)
    try:
        yield tenant
    finally:
        if previous is not None and previous.schema_name != PUBLIC_SCHEMA:
            connection.set_tenant(previous)
        else:
            connection.set_schema_to_public()


def tenants_all(*, active_only: bool = False):
    """Every tenant (the public schema's row excluded), ordered by slug: a QuerySet."""
    queryset = get_tenant_model().objects.exclude(schema_name=PUBLIC_SCHEMA).order_by("slug")
    return queryset.filter(is_active=True) if active_only else queryset


def for_each_tenant(callback: Callable[[Any], Any], *, active_only: bool = False) -> Iterator[tuple[Any, Any]]:
    """Yield (tenant, callback(tenant)) with the callback run inside each tenant's schema."""
    for tenant in tenants_all(active_only=active_only).iterator():
        with tenant_context(tenant):
            yield tenant, callback(tenant)


def tenant_app_labels() -> list[str]:
    """The labels of the apps whose tables live in every tenant's schema (TENANT_APPS not also shared)."""
    shared = {app.rsplit(".", 1)[-1] for app in settings.SHARED_APPS}
    return [app.rsplit(".", 1)[-1] for app in settings.TENANT_APPS if app.rsplit(".", 1)[-1] not in shared]


def current_schema() -> str:
    return getattr(connection, "schema_name", PUBLIC_SCHEMA)


def enqueue_on_commit(task, *, queue: str | None = None, on_error: Callable[[], Any] | None = None, **kwargs) -> None:
    """Queue `task(**kwargs)` once the current transaction commits, in the schema current now (the callback
    may run after a request left it). Without a transaction it is queued at once. If the broker refuses it,
    `on_error()` runs in that schema (e.g. to mark the work failed instead of leaving it "queued")."""
    schema_name = current_schema()
    tenant = getattr(connection, "tenant", None)
    options: dict[str, Any] = {"kwargs": kwargs, "headers": {"_schema_name": schema_name}}
    if queue:
        options["queue"] = queue

    def send() -> None:
        try:
            task.apply_async(**options)
        except Exception:  # a broker outage must not fail the caller's request; sweepers catch up
            logger.exception("could not queue %s in %s", getattr(task, "name", task), schema_name)
            if on_error is not None and tenant is not None:
                try:
                    with tenant_context(tenant):
                        on_error()
                except Exception:  # the caller committed already; nothing to undo
                    logger.exception("the broker-outage handler of %s failed", getattr(task, "name", task))

    transaction.on_commit(send)


def periodic(name: str, *, task: str, seconds: float, queue: str | None = None, expires: float | None = None) -> None:
    """Register the beat entry `name` (idempotent): run `task` every `seconds`."""
    entry: dict[str, Any] = {"task": task, "schedule": float(seconds)}
    options: dict[str, Any] = {}
    if queue:
        options["queue"] = queue
    if expires:
        options["expires"] = float(expires)
    if options:
        entry["options"] = options
    settings.CELERY_BEAT_SCHEDULE[name] = entry
