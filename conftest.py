"""Shared fixtures. Tenant schemas are created once per test session, then reused by every test."""

from dataclasses import dataclass

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tenants.models import ApiToken, Tenant, User


@dataclass
class TenantHandle:
    """A bootstrapped tenant with its owner and the owner's raw API token."""

    tenant: Tenant
    owner: User
    token: ApiToken
    raw_token: str
    password: str

    def client(self, raw_token: str | None = None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token or self.raw_token}")
        return client

    def restore(self) -> None:
        # A transactional test flushes the public tables; put this tenant's rows back (its schema survives).
        if not Tenant.objects.filter(pk=self.tenant.pk).exists():
            self.tenant.save(force_insert=True)
            self.owner.save(force_insert=True)
            self.token.save(force_insert=True)


def _bootstrap(slug: str) -> TenantHandle:
    from tenants.services import tenant_bootstrap

    password = "correct-horse-battery-staple"
    result = tenant_bootstrap(
        name=slug.title(), slug=slug, owner_email=f"owner@{slug}.example", owner_password=password
    )
    return TenantHandle(result.tenant, result.owner, result.api_token.token, result.api_token.raw_token, password)


@pytest.fixture(scope="session")
def _session_tenants(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        handles = {}
        from tenants.models import schema_name_for_slug
        from tenants.schema import drop_tenant_schema

        for slug in ("tenant-a", "tenant-b"):
            # --reuse-db may keep last run's tenant, or only its schema (a transactional test flushed the
            # public tables): drop both and start clean.
            Tenant.objects.filter(slug=slug).delete()
            drop_tenant_schema(schema_name_for_slug(slug))
            handles[slug] = _bootstrap(slug)
    return handles


@pytest.fixture
def tenant_a(_session_tenants, db) -> TenantHandle:
    handle = _session_tenants["tenant-a"]
    handle.restore()
    return handle


@pytest.fixture
def tenant_b(_session_tenants, db) -> TenantHandle:
    handle = _session_tenants["tenant-b"]
    handle.restore()
    return handle


@pytest.fixture
def operator(db) -> Client:
    """A platform operator (superuser) logged in to the console."""
    user = User.objects.create_superuser(email="ops@minirag.example", password="correct-horse-battery-staple")
    client = Client()
    client.force_login(user, backend="tenants.backends.OperatorBackend")
    return client


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def in_tenant(tenant_a):
    """Run the test body in tenant A's schema (for service/selector tests)."""
    from minirag.tenancy import tenant_context

    with tenant_context(tenant_a.tenant):
        yield tenant_a


# --- Fake OpenAI-compatible server (minirag/tests/fake_openai.py) ---------------------------------------------


@pytest.fixture(scope="session")
def fake_openai():
    """A real HTTP server on 127.0.0.1 speaking the OpenAI API, started once per session.

    Use models like "openai/fake-chat" with api_base=fake_openai.base_url and api_key="test-key" (and
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True where the SSRF guard checks api_base). State (failures,
    delays, request log) is reset before every test that uses it.
    """
    from minirag.tests.fake_openai import FakeOpenAI

    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _fake_openai_reset(request):
    if "fake_openai" in request.fixturenames:
        request.getfixturevalue("fake_openai").reset()


@pytest.fixture
def fresh_counters():
    """Empty shared counters (rate limits, quotas) before and after the test, and the cache marked reachable."""
    from django.core.cache import cache

    from minirag import counters

    cache.clear()
    counters._unavailable_until = 0.0
    yield
    cache.clear()
