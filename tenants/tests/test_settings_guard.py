"""Outside DEBUG, the process refuses to start without real secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from tenants.models import User

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "SECRET_KEY": "s" * 48,
    "JWT_SIGNING_KEY": "j" * 48,
    "ENCRYPTION_KEYS": "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdCE=",
}


def _start(**overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "JWT_SIGNING_KEY", "ENCRYPTION_KEYS"}}
    env.update(DEBUG="false", DJANGO_SETTINGS_MODULE="minirag.settings", MINIRAG_ENV_FILE="/nonexistent/.env", **GOOD)
    env.update(overrides)
    env = {k: v for k, v in env.items() if v is not None}
    code = "import django; django.setup(); print('started')"
    # MINIRAG_ENV_FILE points at nothing: only the environment given here counts, not a local .env.
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is missing"),
        ({"JWT_SIGNING_KEY": "changeme"}, "JWT_SIGNING_KEY is missing"),
        ({"JWT_SIGNING_KEY": "short-key"}, "JWT_SIGNING_KEY is missing"),
        ({"ENCRYPTION_KEYS": None}, "ENCRYPTION_KEYS is not set"),
    ],
)
def test_missing_or_default_secret_stops_startup(overrides, message):
    result = _start(**overrides)
    assert result.returncode != 0
    assert message in result.stderr


def test_real_secrets_start():
    result = _start()
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.django_db
def test_createsuperuser_makes_an_operator(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "operator-password-123")
    call_command("createsuperuser", "--noinput", "--email", "ops@minirag.example")

    operator = User.objects.get(email="ops@minirag.example")
    assert operator.tenant_id is None and operator.is_superuser and operator.is_staff
    assert operator.check_password("operator-password-123")


@pytest.mark.django_db
def test_admin_login_is_for_operators_only(client, tenant_a, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "operator-password-123")
    call_command("createsuperuser", "--noinput", "--email", "ops@minirag.example")

    assert client.login(username="ops@minirag.example", password="operator-password-123")
    client.logout()
    # A tenant owner's correct password does not open the operator console.
    assert not client.login(username=tenant_a.owner.email, password=tenant_a.password)
