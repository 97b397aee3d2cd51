"""`manage.py initialize` (docker compose's init service): the first operator and an optional first tenant with a
chosen API token come from the environment, and running it again changes nothing that exists."""

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from tenants.models import ApiToken, Tenant, User

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"
CHOSEN_TOKEN = "mrag_" + "0123456789abcdef" * 3


@pytest.fixture
def first_start(monkeypatch):
    """The variables the README's Docker section puts in .env."""
    for name, value in {
        "MINIRAG_ADMIN_EMAIL": "admin@example.com",
        "MINIRAG_ADMIN_PASSWORD": PASSWORD,
        "MINIRAG_FIRST_TENANT_SLUG": "main",
        "MINIRAG_FIRST_TENANT_TOKEN": CHOSEN_TOKEN,
    }.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def _initialize(*options: str) -> str:
    out = io.StringIO()
    call_command("initialize", *options, stdout=out)
    return out.getvalue()


def test_first_start_creates_an_operator_who_can_sign_in_and_a_tenant_whose_chosen_token_works(first_start):
    output = _initialize()  # with the migration step, which finds nothing to do in the test database

    assert "Operator admin@example.com created" in output and "Tenant 'main' created" in output
    assert CHOSEN_TOKEN not in output, "a chosen token is never printed"
    operator = authenticate(username="admin@example.com", password=PASSWORD)
    assert operator is not None and operator.is_superuser and operator.tenant_id is None
    owner = User.objects.get(tenant__slug="main")
    assert owner.email == "admin@example.com" and owner.role == "owner" and owner.check_password(PASSWORD)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {CHOSEN_TOKEN}")
    response = client.get("/v1/tenants/me")
    assert response.status_code == 200, response.content
    assert response.json()["slug"] == "main"


def test_running_it_again_changes_nothing_and_keeps_a_changed_operator_password(first_start):
    _initialize("--skip-migrations")
    operator = User.objects.get(tenant__isnull=True, email="admin@example.com")
    operator.set_password("a-password-changed-in-the-console")
    operator.save()
    counts = (User.objects.count(), Tenant.objects.count(), ApiToken.objects.count())

    output = _initialize("--skip-migrations")

    assert "Operator admin@example.com exists" in output and "Tenant 'main' exists" in output
    assert (User.objects.count(), Tenant.objects.count(), ApiToken.objects.count()) == counts
    assert authenticate(username="admin@example.com", password="a-password-changed-in-the-console") is not None


def test_a_token_set_after_the_tenant_exists_is_registered_for_its_owner(first_start, tenant_a):
    first_start.setenv("MINIRAG_FIRST_TENANT_SLUG", tenant_a.tenant.slug)

    _initialize("--skip-migrations")

    token = ApiToken.objects.get(token_prefix=CHOSEN_TOKEN[:12])
    assert token.tenant_id == tenant_a.tenant.pk and token.user_id == tenant_a.owner.pk
    assert tenant_a.client(CHOSEN_TOKEN).get("/v1/tenants/me").status_code == 200


def test_another_tenants_token_is_refused(first_start, tenant_a, tenant_b):
    first_start.setenv("MINIRAG_FIRST_TENANT_SLUG", tenant_a.tenant.slug)
    first_start.setenv("MINIRAG_FIRST_TENANT_TOKEN", tenant_b.raw_token)

    with pytest.raises(CommandError, match="belongs to another tenant"):
        _initialize("--skip-migrations")


def test_without_a_chosen_token_one_is_generated_and_printed_once(first_start):
    first_start.delenv("MINIRAG_FIRST_TENANT_TOKEN")

    output = _initialize("--skip-migrations")

    printed = [line for line in output.splitlines() if line.startswith("mrag_")]
    assert len(printed) == 1
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {printed[0]}").get("/v1/tenants/me").status_code == 200
    assert not [line for line in _initialize("--skip-migrations").splitlines() if line.startswith("mrag_")]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"MINIRAG_ADMIN_PASSWORD": "password"}, "too common"),
        ({"MINIRAG_ADMIN_PASSWORD": ""}, "both MINIRAG_ADMIN_EMAIL and MINIRAG_ADMIN_PASSWORD"),
        ({"MINIRAG_ADMIN_EMAIL": "not-an-email"}, "not a valid email"),
        ({"MINIRAG_FIRST_TENANT_TOKEN": "mrag_short"}, "at least 32"),
        ({"MINIRAG_FIRST_TENANT_TOKEN": "0123456789abcdef" * 3}, "must be 'mrag_'"),
        ({"MINIRAG_FIRST_TENANT_SLUG": "admin"}, "reserved"),
    ],
)
def test_bad_values_stop_it_with_the_reason_and_create_nothing(first_start, variables, message):
    for name, value in variables.items():
        first_start.setenv(name, value)

    with pytest.raises(CommandError, match=message):
        _initialize("--skip-migrations")

    assert not Tenant.objects.filter(slug__in=["main", "admin"]).exists()


def test_nothing_is_created_without_the_variables(monkeypatch):
    for name in ("MINIRAG_ADMIN_EMAIL", "MINIRAG_ADMIN_PASSWORD", "MINIRAG_FIRST_TENANT_SLUG"):
        monkeypatch.delenv(name, raising=False)
    users = User.objects.count()

    output = _initialize("--skip-migrations")

    assert "no operator created" in output and User.objects.count() == users
