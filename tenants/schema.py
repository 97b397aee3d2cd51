"""Fast tenant schema creation.

Running every tenant migration for each new tenant costs seconds. Instead, the current models of the
tenant apps are created directly with the schema editor (the same DDL `migrate` would end with), and every
known migration is recorded as applied, so later `migrate_schemas` runs apply only newer migrations.
`tenants/tests/test_bootstrap.py` proves the result equals a migrated schema.
"""

from functools import lru_cache

from django.apps import apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django_tenants.utils import get_public_schema_name

from minirag.tenancy import tenant_app_labels
from tenants.signals import tenant_schema_created


@lru_cache(maxsize=1)
def _all_migration_keys() -> tuple[tuple[str, str], ...]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return tuple(sorted(loader.graph.nodes.keys()))


@lru_cache(maxsize=1)
def tenant_schema_sql() -> str:
    """The DDL of every tenant table plus the applied-migrations records, as one script.

    Names are unqualified, so the script lands in whichever schema is first on the search path. Built once
    per process; creating a schema is then a single round trip.
    """
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        for label in tenant_app_labels():
            for model in apps.get_app_config(label).get_models():
                if model._meta.managed and not model._meta.proxy:
                    editor.create_model(model)
        editor.create_model(MigrationRecorder.Migration)
    statements = list(editor.collected_sql)
    quote = connection.ops.quote_name
    table = quote(MigrationRecorder.Migration._meta.db_table)
    rows = ", ".join(
        f"({editor.quote_value(app)}, {editor.quote_value(name)}, now())" for app, name in _all_migration_keys()
    )
    if rows:
        statements.append(f"INSERT INTO {table} ({quote('app')}, {quote('name')}, {quote('applied')}) VALUES {rows};")
    return "\n".join(statements)


def create_tenant_schema(schema_name: str) -> None:
    """Create `schema_name` with every tenant table. Runs in the caller's transaction (DDL is transactional)."""
    script = tenant_schema_sql()
    previous_schema = connection.schema_name
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
        # search_path is set explicitly: the script's unqualified names must land in the new schema.
        cursor.execute(f'SET search_path TO "{schema_name}", public')
        cursor.execute(script)
        tenant_schema_created.send(sender=create_tenant_schema, schema_name=schema_name, cursor=cursor)
    # Forget the cached search_path so the next query sets it again.
    if previous_schema == get_public_schema_name():
        connection.set_schema_to_public()
    else:
        connection.set_schema(previous_schema)


def drop_tenant_schema(schema_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
