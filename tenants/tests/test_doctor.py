"""`manage.py doctor` says what is wrong and how to fix it."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

pytestmark = pytest.mark.django_db


def _doctor() -> tuple[str, int]:
    out = StringIO()
    try:
        call_command("doctor", stdout=out, no_color=True)
    except SystemExit as exit_:
        return out.getvalue(), int(exit_.code)
    return out.getvalue(), 0


@override_settings(CELERY_BROKER_URL="", DEFAULT_LLM_MODEL="gpt-4o-mini")
def test_doctor_passes_on_a_working_setup_and_warns_about_missing_pieces(tenant_a, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    output, code = _doctor()

    assert code == 0
    assert "[OK  ] database  PostgreSQL" in output
    assert "tenant schema(s) up to date" in output
    assert "no broker" in output and "fix: Set CELERY_BROKER_URL" in output
    assert "needs OPENAI_API_KEY" in output


@override_settings(CELERY_BROKER_URL="redis://:hunter2-secret@127.0.0.1:1/0", HEALTH_CHECK_TIMEOUT_SECONDS=0.5)
def test_doctor_fails_on_an_unreachable_broker_without_printing_its_password():
    output, code = _doctor()

    assert code == 1
    assert "[FAIL] broker    cannot reach the broker at redis://127.0.0.1:1" in output
    assert "fix: Start Redis" in output
    assert "hunter2" not in output


@override_settings(ENCRYPTION_KEYS=["not-a-fernet-key"])
def test_doctor_reports_an_invalid_encryption_key(monkeypatch):
    from minirag import encryption

    encryption.clear_cache()
    try:
        output, code = _doctor()
    finally:
        encryption.clear_cache()

    assert code == 1 and "ENCRYPTION_KEYS is invalid" in output and "Fernet.generate_key" in output


def test_doctor_finds_a_tenant_schema_missing_a_migration(tenant_a):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{tenant_a.tenant.schema_name}".django_migrations WHERE app = %s', ["webhooks"])

    output, code = _doctor()

    assert code == 1 and "miss migrations" in output and "migrate_schemas --tenant" in output
