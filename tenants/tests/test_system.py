"""Liveness, dependency health, OpenAPI, JSON errors, body limits."""

import re

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_liveness(api_client):
    assert api_client.get("/health").json() == {"status": "ok"}


def test_system_health_reports_each_dependency(api_client):
    body = api_client.get("/v1/system/health").json()
    assert set(body) == {"status", "postgres", "qdrant", "redis"}
    assert body["postgres"]["status"] == "ok" and body["postgres"]["version"]


@override_settings(CELERY_BROKER_URL="redis://:hunter2-secret@127.0.0.1:1/0", HEALTH_CHECK_TIMEOUT_SECONDS=0.5)
def test_stopped_dependency_is_error_without_failing(api_client):
    response = api_client.get("/v1/system/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["redis"]["status"] == "error"
    assert "hunter2" not in response.content.decode() and "127.0.0.1" not in response.content.decode()


def test_openapi_schema_and_offline_docs(api_client):
    schema = api_client.get("/v1/schema", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/v1/tenants", "/v1/auth/login", "/v1/api-tokens", "/v1/users/{id}"} <= set(paths)
    login = paths["/v1/auth/login"]["post"]
    assert "LoginResponse" in str(login["responses"]["200"])
    assert {"401", "403", "422"} <= set(login["responses"])
    patch_user = paths["/v1/users/{id}"]["patch"]["responses"]
    assert {"401", "403", "404", "409", "422"} <= set(patch_user)
    assert patch_user["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ValidationError")

    docs = api_client.get("/v1/docs")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.content.decode())
    assert assets and all(url.startswith("/static/drf_spectacular_sidecar/") for url in assets), assets
    # The assets are served by the app itself (offline), not a CDN.
    assert api_client.get(next(url for url in assets if url.endswith(".js"))).status_code == 200


def test_unknown_route_is_json_404(api_client):
    response = api_client.get("/v1/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}


@override_settings(MAX_REQUEST_BODY_BYTES=1000)
def test_oversized_body_is_413(api_client):
    response = api_client.post("/v1/auth/login", {"email": "a@b.example", "password": "x" * 5000}, format="json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
