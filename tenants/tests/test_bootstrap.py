"""POST /v1/tenants and `manage.py bootstrap_tenant`: a tenant gets its own schema with its tables."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from minirag.tenancy import tenant_app_labels, tenant_context
from tenants.models import ApiToken, Tenant, User, schema_name_for_slug

pytestmark = pytest.mark.django_db


def _bootstrap_body(**overrides):
    body = {
        "tenant_name": "Acme",
        "tenant_slug": "acme",
        "owner_email": "owner@acme.example",
        "owner_password": "correct-horse-battery-staple",
        "owner_display_name": "Ada",
    }
    return body | overrides


def _tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def _tenant_tables() -> set[str]:
    from django.apps import apps

    return {model._meta.db_table for label in tenant_app_labels() for model in apps.get_app_config(label).get_models()}


def test_bootstrap_creates_schema_owner_and_token(api_client):
    response = api_client.post("/v1/tenants", _bootstrap_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["tenant"]["slug"] == "acme" and body["tenant"]["plan"] == "free" and body["tenant"]["is_active"]
    assert set(body["tenant"]) == {"id", "name", "slug", "is_active", "plan"}
    raw = body["api_token"]
    assert raw.startswith("mrag_") and len(raw) >= 40
    assert body["token_prefix"] == raw[:12]

    tenant = Tenant.objects.get(slug="acme")
    assert tenant.schema_name == "t_acme"
    owner = User.objects.get(tenant=tenant)
    assert owner.role == "owner" and owner.password.startswith("argon2")
    token = ApiToken.objects.get(tenant=tenant)
    assert token.name == "default" and raw not in token.token_hash and len(token.token_hash) == 64

    tenant_tables = _tenant_tables()
    assert tenant_tables, "tenant apps define tables"
    assert tenant_tables <= _tables_in("t_acme")
    assert not tenant_tables & _tables_in("public"), "tenant tables must exist only in tenant schemas"

    # The raw token works at once.
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/v1/tenants/me").json()["slug"] == "acme"


def test_bootstrapped_schema_matches_migrations(api_client):
    api_client.post("/v1/tenants", _bootstrap_body(tenant_slug="migrated"), format="json")
    tenant = Tenant.objects.get(slug="migrated")

    with tenant_context(tenant):
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        assert plan == [], "every migration is recorded as applied"
        # Every model column exists with the model's column name.
        from django.apps import apps

        with connection.cursor() as cursor:
            for label in tenant_app_labels():
                for model in apps.get_app_config(label).get_models():
                    columns = {
                        col.name for col in connection.introspection.get_table_description(cursor, model._meta.db_table)
                    }
                    expected = {field.column for field in model._meta.local_concrete_fields}
                    assert expected == columns, model._meta.db_table


def test_bootstrap_with_a_tenant_credential_still_creates_in_public(tenant_a):
    # A client that sends its token everywhere must not make the new tenant land in its own schema.
    response = tenant_a.client().post("/v1/tenants", _bootstrap_body(tenant_slug="second"), format="json")

    assert response.status_code == 201, response.content
    assert Tenant.objects.get(slug="second").schema_name == "t_second"
    assert _tenant_tables() <= _tables_in("t_second")


def test_duplicate_slug_is_409(api_client):
    assert api_client.post("/v1/tenants", _bootstrap_body(), format="json").status_code == 201

    response = api_client.post("/v1/tenants", _bootstrap_body(owner_email="other@x.example"), format="json")

    assert response.status_code == 409
    assert "slug" in response.json()["detail"].lower()
    assert Tenant.objects.filter(slug="acme").count() == 1


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"tenant_slug": "Not A Slug"}, "tenant_slug"),
        ({"tenant_slug": "under_score"}, "tenant_slug"),
        ({"owner_email": "not-an-email"}, "owner_email"),
        ({"owner_password": "short"}, "owner_password"),
        ({"owner_password": "12345678901"}, "owner_password"),
    ],
)
def test_bad_input_is_422_with_field_location(api_client, overrides, field):
    response = api_client.post("/v1/tenants", _bootstrap_body(**overrides), format="json")

    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert isinstance(detail, list) and any(field in item["loc"] for item in detail)
    assert not Tenant.objects.filter(slug=_bootstrap_body(**overrides)["tenant_slug"]).exists()


def test_malformed_json_is_422(api_client):
    response = api_client.post("/v1/tenants", data="{not json", content_type="application/json")
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def test_long_slug_gets_a_valid_unique_schema_name():
    slug_a = "a" * 90 + "-one"
    slug_b = "a" * 90 + "-two"
    name_a, name_b = schema_name_for_slug(slug_a), schema_name_for_slug(slug_b)
    assert len(name_a) <= 63 and len(name_b) <= 63 and name_a != name_b


def test_bootstrap_command_prints_token_once(capsys):
    call_command(
        "bootstrap_tenant",
        "--name=Cli Co",
        "--slug=cli-co",
        "--owner-email=owner@cli.example",
        "--owner-password=correct-horse-battery-staple",
    )
    out = capsys.readouterr().out
    token_line = [line for line in out.splitlines() if line.startswith("mrag_")]
    assert len(token_line) == 1
    assert Tenant.objects.get(slug="cli-co").schema_name == "t_cli_co"
    assert ApiToken.objects.get(tenant__slug="cli-co").token_prefix == token_line[0][:12]


def test_bootstrap_command_refuses_weak_password_and_taken_slug(tenant_a):
    with pytest.raises(CommandError, match=r"too common|too short|entirely numeric"):
        call_command(
            "bootstrap_tenant", "--name=W", "--slug=weak", "--owner-email=o@w.example", "--owner-password=password"
        )
    with pytest.raises(CommandError, match="already taken"):
        call_command(
            "bootstrap_tenant",
            "--name=A",
            f"--slug={tenant_a.tenant.slug}",
            "--owner-email=o@a.example",
            "--owner-password=correct-horse-battery-staple",
        )
    assert not Tenant.objects.filter(slug="weak").exists()
