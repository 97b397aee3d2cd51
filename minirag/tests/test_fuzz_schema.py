"""Property-based fuzzing of the whole API against its own OpenAPI schema (schemathesis, in-process WSGI).

Every operation gets generated requests, authenticated as tenant A's owner; each response must not be a
server error and must conform to the schema (status code documented, content type, body shape). A bounded
number of examples per operation keeps `make test` fast; a long run:

    FUZZ_EXAMPLES=120 .venv/bin/python -m minirag.launcher test minirag/tests/test_fuzz_schema.py -q
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from minirag.wsgi import application

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/v1/schema", application)
calls: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_calls():
    yield
    by_status: dict[str, int] = {}
    for key, count in calls.items():
        by_status[key.split()[0]] = by_status.get(key.split()[0], 0) + count
    operations = len({key.split(" ", 1)[1] for key in calls})
    statuses = dict(sorted(by_status.items()))
    print(f"\nschemathesis: {sum(calls.values())} requests, {operations} operations, by status {statuses}")


@pytest.fixture
def credentials(tenant_a, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False  # generated URLs must never be fetched
    # The WSGI handler closes the connection after each request (request_finished); the test's transaction
    # lives on it, so keep it open the way Django's test client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Bearer {tenant_a.raw_token}"}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, credentials):
    response = case.call_and_validate(headers=credentials, checks=CHECKS)
    key = f"{response.status_code} {case.operation.label}"
    calls[key] = calls.get(key, 0) + 1
