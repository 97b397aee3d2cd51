"""What `make run` does before it serves, in one process: apply the migrations that are not applied yet,
ensure the demo tenant, collect static files.

    python -m minirag.startup [--token-file var/demo-token.txt] [--migrate-only]

A warm restart must stay fast with thousands of tenants, so migrations are never run blindly over every schema:
the tenant-app migrations on disk are compared, in one SQL query per 500 schemas, with what each tenant schema
has recorded, and only the schemas that miss some are migrated (`migrate_pending`).
"""

import argparse
import os
import sys
import time

import django
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

# Schemas compared per query: each holds a lock on its django_migrations until the transaction ends, and
# max_locks_per_transaction (64 x max_connections lock slots) is shared by the whole server.
SCHEMAS_PER_QUERY = 500


def tenant_migration_keys() -> set[tuple[str, str]]:
    """(app, name) of every migration of the tenant apps, read from disk (no database)."""
    # django-tenants reads the settings when imported; `python -m minirag.startup --help` must work without them
    from minirag.tenancy import tenant_app_labels

    labels = set(tenant_app_labels())
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {key for key in loader.graph.nodes if key[0] in labels}


def schemas_missing_migrations(expected: set[tuple[str, str]] | None = None) -> list[str]:
    """Tenant schemas that lack at least one of the `expected` migrations (default: every tenant-app migration
    on disk), or their django_migrations table. One catalog query plus one query per 500 schemas."""
    from django_tenants.utils import get_public_schema_name, get_tenant_model  # see tenant_migration_keys

    Tenant = get_tenant_model()
    expected = tenant_migration_keys() if expected is None else expected
    quote = connection.ops.quote_name
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT schema_name, to_regclass(quote_ident(schema_name) || '.django_migrations') IS NOT NULL "
            f"FROM {quote(Tenant._meta.db_table)} WHERE schema_name <> %s ORDER BY schema_name",
            [get_public_schema_name()],
        )
        rows = cursor.fetchall()
        missing = [schema for schema, has_table in rows if not has_table]
        with_table = [schema for schema, has_table in rows if has_table]
        if not expected:
            return missing
        apps, names = zip(*sorted(expected), strict=True)
        for start in range(0, len(with_table), SCHEMAS_PER_QUERY):
            batch = with_table[start : start + SCHEMAS_PER_QUERY]
            counts = " UNION ALL ".join(
                f"SELECT %s AS schema_name, count(DISTINCT (m.app, m.name)) AS applied "
                f"FROM {quote(schema)}.django_migrations m JOIN expected e ON m.app = e.app AND m.name = e.name"
                for schema in batch
            )
            cursor.execute(
                f"WITH expected(app, name) AS (SELECT * FROM unnest(%s::text[], %s::text[])) "
                f"SELECT schema_name FROM ({counts}) AS counts WHERE applied < %s",
                [list(apps), list(names), *batch, len(expected)],
            )
            missing.extend(schema for (schema,) in cursor.fetchall())
    return sorted(missing)


def public_schema_pending() -> list[str]:
    """Migrations not applied to the public schema, as app.name."""
    from django.db.migrations.executor import MigrationExecutor

    connection.set_schema_to_public()
    executor = MigrationExecutor(connection)
    return [f"{m.app_label}.{m.name}" for m, _ in executor.migration_plan(executor.loader.graph.leaf_nodes())]


def migrate_pending(*, verbosity: int = 0, log=print) -> dict:
    """Migrate the public schema if it has unapplied migrations, then only the tenant schemas that miss some.
    Returns what was done and how long each step took."""
    from django.core.management import call_command

    timings: dict = {}
    started = time.perf_counter()
    shared = public_schema_pending()
    if shared:
        log(f"applying {len(shared)} migration(s) to the public schema")
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
    timings["public_seconds"] = time.perf_counter() - started

    started = time.perf_counter()
    stale = schemas_missing_migrations()
    timings["check_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    for index, schema in enumerate(stale, 1):
        log(f"migrating tenant schema {schema} ({index}/{len(stale)})")
        call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=verbosity)
    timings["tenant_seconds"] = time.perf_counter() - started
    return {"public_migrations": shared, "tenant_schemas_migrated": stale, **timings}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minirag.startup")
    parser.add_argument("--token-file", help="where ensure_demo saves the demo token")
    parser.add_argument("--migrate-only", action="store_true")
    options = parser.parse_args(argv)

    django.setup()

    def log(message: str) -> None:
        print(f"[minirag] {message}", flush=True)

    started = time.perf_counter()
    result = migrate_pending(log=log)
    log(
        f"migrations checked in {time.perf_counter() - started:.1f}s "
        f"({len(result['public_migrations'])} public, {len(result['tenant_schemas_migrated'])} tenant schema(s) "
        "migrated)"
    )
    if options.migrate_only:
        return 0
    demo = ["ensure_demo"] + (["--token-file", options.token_file] if options.token_file else [])
    call_command(*demo)
    call_command("collectstatic", interactive=False, verbosity=0)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minirag.settings")
    sys.exit(main())
