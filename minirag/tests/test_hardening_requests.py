"""Request-level failures an outside probe found (issue 9): dependencies down, hostile JSON, NUL and lone
surrogates, chunked bodies, gunicorn's own errors, and 422 bodies against the OpenAPI schema."""

import http.client
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from unittest import mock

import jsonschema
import pytest
from django.db import OperationalError, connections
from django.test import Client, override_settings
from django.test.client import ClientHandler
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.test import APIClient

from bots.models import BotProfile
from chat.tests.factories import MessageFactory
from minirag.tenancy import tenant_context
from tenants.models import User

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]


def _lenient(client):
    """The test client re-raises a view's exception even when a handler answered; look at the answer."""
    client.raise_request_exception = False
    return client


@pytest.fixture
def bot(tenant_a):
    with tenant_context(tenant_a.tenant):
        return BotProfile.objects.create(name="Docs bot")


@pytest.fixture
def database_down():
    """Every new query fails as it does when PostgreSQL is unreachable; undone when the block ends."""
    return mock.patch.object(
        connections["default"], "ensure_connection", side_effect=OperationalError("connection refused")
    )


def _detail_locs(response) -> list[list]:
    return [item["loc"] for item in response.json()["detail"]]


# --- 1. A dependency that cannot be reached is a 503 JSON on every route, and the service recovers -----------


def test_database_down_is_503_json_with_a_valid_token_and_recovers(tenant_a, database_down):
    client = _lenient(tenant_a.client())
    with database_down:
        response = client.get("/v1/bot-profiles")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Database unavailable; please retry"}
    # PostgreSQL is back: the same credential works again, nothing to restart.
    assert client.get("/v1/bot-profiles").status_code == 200


def test_database_down_is_503_json_without_a_credential(database_down):
    with database_down:
        response = _lenient(APIClient()).post(
            "/v1/auth/login", {"email": "a@b.example", "password": "long-enough-pass"}, format="json"
        )

    assert response.status_code == 503
    assert response.json() == {"detail": "Database unavailable; please retry"}


def test_database_down_is_503_json_in_the_operator_console(database_down):
    operator = User.objects.create_superuser(email="ops@minirag.example", password="correct-horse-battery-staple")
    client = _lenient(Client())
    client.force_login(operator, backend="tenants.backends.OperatorBackend")
    with database_down:
        response = client.get("/admin/tenants/user/")

    assert response.status_code == 503
    assert response.json() == {"detail": "Database unavailable; please retry"}


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (BrokerError("Error 111 connecting to 127.0.0.1:6379"), "Task queue unavailable; please retry"),
        (RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"), "Cache unavailable; please retry"),
    ],
)
def test_broker_or_redis_down_in_a_view_is_503_json(tenant_a, error, detail):
    with mock.patch("bots.api.views.selectors.bot_list", side_effect=error):
        response = _lenient(tenant_a.client()).get("/v1/bot-profiles")

    assert response.status_code == 503
    assert response.json() == {"detail": detail}
    assert "6379" not in response.content.decode()


# --- 2. Deeply nested JSON is a 422 with a clear detail, never a 500 or a traceback --------------------------


@pytest.mark.parametrize("levels", [2000, 100])
def test_deeply_nested_json_is_422_without_a_traceback(levels, caplog):
    body = '{"email": ' + "[" * levels + "]" * levels + ', "password": "x"}'
    with caplog.at_level(logging.WARNING):
        response = _lenient(APIClient()).post("/v1/auth/login", body, content_type="application/json")

    assert response.status_code == 422, response.content
    [item] = response.json()["detail"]
    assert item["msg"] == "JSON nested too deeply (at most 64 levels)" and item["type"] == "value_error.json.depth"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR and record.exc_info]


def test_deeply_nested_json_is_422_on_authenticated_endpoints_too(tenant_a):
    body = '{"name": "n", "config": ' + '{"a": ' * 3000 + "1" + "}" * 3000 + "}"

    response = _lenient(tenant_a.client()).post("/v1/sources", body, content_type="application/json")

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "value_error.json.depth"


def test_ordinary_nesting_is_accepted(tenant_a, bot):
    config = {"a": {"b": {"c": [1, 2, {"d": "ok"}]}}}
    body = {"bot_profile_id": str(bot.pk), "name": "n", "source_type": "text", "content": "x", "config": config}

    response = tenant_a.client().post("/v1/sources", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["config"] == config


# --- 3. NUL characters and lone surrogates are a 422 naming the field, anywhere in the body -----------------


CHAT_FEEDBACK = f"/v1/chat/{uuid.uuid4()}/messages/{uuid.uuid4()}/feedback"


@pytest.mark.parametrize(
    ("method", "path", "raw_body", "field", "code"),
    [
        (
            "post",
            "/v1/users",
            '{"email": "m@a.example", "password": "long-enough-pass", "role": "\\ud800"}',
            "role",
            "D800",
        ),
        ("post", "/v1/sources", '{"name": "n", "source_type": "\\udfff"}', "source_type", "DFFF"),
        ("post", "/v1/sources", '{"name": "n", "refresh_schedule": "daily\\ud83d"}', "refresh_schedule", "D83D"),
        ("patch", CHAT_FEEDBACK, '{"feedback": "\\ud800"}', "feedback", "D800"),
    ],
)
def test_lone_surrogate_in_a_choice_field_is_422_naming_it(tenant_a, method, path, raw_body, field, code):
    response = getattr(_lenient(tenant_a.client()), method)(path, raw_body, content_type="application/json")

    assert response.status_code == 422, response.content
    assert response.json()["detail"] == [
        {
            "loc": ["body", field],
            "msg": f"Surrogate characters are not allowed: U+{code}.",
            "type": "value_error.surrogate_characters_not_allowed",
        }
    ]


@pytest.mark.parametrize(
    ("config", "loc"),
    [
        ('{"selector": "a\\u0000b"}', ["body", "config", "selector"]),
        ('{"a\\u0000": 1}', ["body", "config", "a\\x00"]),
        ('{"tags": ["ok", "\\ud800"]}', ["body", "config", "tags", 1]),
        ('{"\\udc00key": 1}', ["body", "config", "\\udc00key"]),
    ],
)
def test_nul_or_lone_surrogate_inside_config_is_422_naming_the_place(tenant_a, bot, config, loc):
    body = f'{{"bot_profile_id": "{bot.pk}", "name": "n", "source_type": "text", "content": "x", "config": {config}}}'

    response = _lenient(tenant_a.client()).post("/v1/sources", body, content_type="application/json")

    assert response.status_code == 422, response.content
    assert _detail_locs(response) == [loc]


def test_nul_in_a_batch_child_is_422_with_its_index(tenant_a, bot):
    body = {
        "bot_profile_id": str(bot.pk),
        "name": "batch",
        "source_type": "text",
        "children": [
            {"name": "one", "source_type": "text", "content": "fine"},
            {"name": "two", "source_type": "text", "content": "fine", "config": {"headers": ["x", "bad\x00"]}},
        ],
    }
    response = _lenient(tenant_a.client()).post("/v1/sources/batch", body, format="json")

    assert response.status_code == 422, response.content
    assert _detail_locs(response) == [["body", "children", 1, "config", "headers", 1]]


def test_nul_in_a_form_field_that_feeds_a_json_column_is_422(tenant_a, bot):
    # DRF's DictField reads `config[key]` from form data: the form path reaches jsonb as well.
    form = {
        "bot_profile_id": str(bot.pk),
        "name": "n",
        "source_type": "text",
        "content": "x",
        "config[selector]": "a\x00b",
    }
    response = _lenient(tenant_a.client()).post("/v1/sources", form)  # multipart/form-data

    assert response.status_code == 422, response.content
    assert _detail_locs(response) == [["body", "config[selector]"]]


# --- 4. Chunked request bodies are read (within the body limit) ----------------------------------------------


def _chunked_request(path: str, body: bytes, **extra) -> object:
    """What gunicorn hands Django for `Transfer-Encoding: chunked`: the de-chunked body and no Content-Length."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        **extra,
    }
    return ClientHandler(enforce_csrf_checks=False)(environ)


def test_chunked_json_body_is_read():
    body = json.dumps({"email": "nobody@nowhere.example", "password": "long-enough-pass"}).encode()

    response = _chunked_request("/v1/auth/login", body)

    # The credentials were read and checked (401), not reported missing (422 "field required").
    assert response.status_code == 401, response.content
    assert json.loads(response.content)["detail"] == "Invalid email or password"


@override_settings(MAX_REQUEST_BODY_BYTES=1000)
def test_chunked_body_over_the_limit_is_413():
    body = json.dumps({"email": "a@b.example", "password": "x" * 5000}).encode()

    response = _chunked_request("/v1/auth/login", body)

    assert response.status_code == 413
    assert json.loads(response.content) == {"detail": "Request body too large (limit 1000 bytes)"}


# --- 6. 422 bodies match the OpenAPI schema, string detail included -----------------------------------------


def _validation_error_schema(client) -> dict:
    return client.get("/v1/schema", HTTP_ACCEPT="application/json").json()["components"]["schemas"]["ValidationError"]


def test_422_with_a_string_detail_conforms_to_the_schema(tenant_a, bot):
    client = tenant_a.client()
    schema = _validation_error_schema(client)
    parent = client.post(
        "/v1/sources", {"bot_profile_id": str(bot.pk), "name": "p", "source_type": "text", "content": "x"}
    ).json()
    child = client.post(
        "/v1/sources",
        {"bot_profile_id": str(bot.pk), "name": "c", "source_type": "text", "content": "x", "parent_id": parent["id"]},
        format="json",
    ).json()
    string_422s = [
        client.post(
            "/v1/sources",
            {"bot_profile_id": str(uuid.uuid4()), "name": "n", "source_type": "text", "content": "x"},
            format="json",
        ),
        client.post(
            "/v1/sources",
            {
                "bot_profile_id": str(bot.pk),
                "name": "g",
                "source_type": "text",
                "content": "x",
                "parent_id": child["id"],
            },
            format="json",
        ),
        client.post(
            "/v1/sources/batch",
            {"bot_profile_id": str(bot.pk), "name": "b", "source_type": "text", "children": []},
            format="json",
        ),
    ]
    list_422 = client.post("/v1/sources", {}, format="json")

    for response in [*string_422s, list_422]:
        assert response.status_code == 422, response.content
        jsonschema.validate(response.json(), schema)
    assert all(isinstance(response.json()["detail"], str) for response in string_422s)


def test_feedback_on_a_user_message_is_a_documented_422(tenant_a):
    with tenant_context(tenant_a.tenant):
        message = MessageFactory()
    client = tenant_a.client()
    schema = _validation_error_schema(client)

    response = client.patch(
        f"/v1/chat/{message.chat_id}/messages/{message.id}/feedback", {"feedback": "positive"}, format="json"
    )

    assert response.status_code == 422, response.content
    jsonschema.validate(response.json(), schema)


# --- 1, 4 and 5 behind a real gunicorn (make run's configuration) --------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn_without_database():
    """gunicorn with minirag.gunicorn_conf, its database pointed at a closed port (PostgreSQL down)."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "minirag.settings_test",
        "MINIRAG_ENV_FILE": os.devnull,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/minirag",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
    }
    command = [sys.executable, "-m", "gunicorn", "minirag.wsgi:application", "--config", "python:minirag.gunicorn_conf"]
    command += ["--bind", f"127.0.0.1:{port}", "--access-logfile", os.devnull]
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _request(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def _request(port: int, method: str, path: str, body=None, headers=None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {}, encode_chunked=True)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_gunicorn_reads_a_chunked_body(gunicorn_without_database):
    chunks = iter([b'{"email": "not-an-', b'email", "password": "long-enough-pass"}'])  # no length: chunked

    status, _, content = _request(
        gunicorn_without_database, "POST", "/v1/auth/login", chunks, {"Content-Type": "application/json"}
    )

    # The body was read: only the malformed email is reported, not "field required" for both fields.
    assert status == 422, content
    assert [item["loc"] for item in json.loads(content)["detail"]] == [["body", "email"]]


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/v1/bot-profiles", {"Authorization": "Bearer mrag_not-checked-while-the-database-is-down"}),
        ("POST", "/v1/auth/login", {"Content-Type": "application/json"}),
    ],
)
def test_gunicorn_with_the_database_down_answers_503_json(gunicorn_without_database, method, path, headers):
    body = json.dumps({"email": "a@b.example", "password": "long-enough-pass"}) if method == "POST" else None

    status, response_headers, content = _request(gunicorn_without_database, method, path, body, headers)

    assert status == 503, content
    assert response_headers["Content-Type"] == "application/json"
    assert json.loads(content) == {"detail": "Database unavailable; please retry"}


@pytest.mark.parametrize(
    ("path", "headers", "expected_status"),
    [
        ("/health", {"X-Padding": "a" * 10_000}, 431),  # one header over limit_request_field_size
        ("/health?q=" + "a" * 5_000, {}, 400),  # request line over limit_request_line
    ],
    ids=["header-too-large", "request-line-too-long"],
)
def test_gunicorn_refusals_are_json(gunicorn_without_database, path, headers, expected_status):
    status, response_headers, content = _request(gunicorn_without_database, "GET", path, headers=headers)

    assert status == expected_status
    assert response_headers["Content-Type"] == "application/json"
    assert json.loads(content)["detail"]
