"""Rate limits: 429 with Retry-After and a detail naming the limit, per scope; counted in the shared cache, so
every process (and every cache client on one Redis) counts toward the same limit."""

import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.cache.backends.redis import RedisCache
from django.test import RequestFactory, override_settings

from minirag import counters
from minirag.api import throttling
from tenants.services import api_token_create

BASE_DIR = Path(__file__).resolve().parents[2]
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct-horse-battery-staple"


def _limits(**rates) -> dict:
    from django.conf import settings

    return {**dict.fromkeys(settings.RATE_LIMITS, "off"), **rates}


@pytest.fixture(autouse=True)
def _fresh_counters(fresh_counters):
    """Every test here starts with empty rate-limit counters (root conftest)."""


@pytest.fixture
def redis_url():
    import redis

    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is unreachable at {TEST_REDIS_URL} ({type(error).__name__}); set TEST_REDIS_URL")
    return TEST_REDIS_URL


def _redis_cache(url: str, prefix: str) -> RedisCache:
    """A cache client of its own (own connection pool), as another process would have."""
    return RedisCache(url, {"KEY_PREFIX": prefix})


# --- parsing and client address -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "period"),
    [("10/hour", 10, 3600), ("30/min", 30, 60), ("10/15min", 10, 900), ("5/2h", 5, 7200), ("1/second", 1, 1)],
)
def test_rates_parse(text, limit, period):
    rate = throttling.parse_rate(text)
    assert (rate.limit, rate.period) == (limit, period)


@pytest.mark.parametrize("text", ["", "off", None])
def test_empty_or_off_disables_a_scope(text):
    assert throttling.parse_rate(text) is None


@pytest.mark.parametrize("text", ["10", "ten/min", "10/fortnight", "10/0min"])
def test_bad_rates_are_refused(text):
    with pytest.raises(ValueError):
        throttling.parse_rate(text)


def test_bad_rate_setting_is_a_system_check_error():
    with override_settings(RATE_LIMITS=_limits(chat_bot="lots")):
        errors = throttling.check_rate_settings()
    assert [error.id for error in errors] == ["minirag.E102"]


def _request(remote="203.0.113.9", forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_client_ip_is_remote_addr_and_ignores_forwarded_for_by_default():
    assert throttling.client_ip(_request(forwarded="198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client cannot choose: the proxy appended the last one
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (2, "198.51.100.1", "203.0.113.9"),  # fewer entries than trusted hops: the peer we see
        (1, "not-an-ip", "203.0.113.9"),
    ],
)
def test_client_ip_behind_trusted_proxies(hops, forwarded, expected):
    with override_settings(TRUSTED_PROXY_HOPS=hops):
        assert throttling.client_ip(_request(forwarded=forwarded)) == expected


def test_ipv6_clients_are_counted_per_64():
    first = throttling.client_ip(_request(remote="2001:db8:1:2::1"))
    second = throttling.client_ip(_request(remote="2001:db8:1:2:ffff::9"))
    assert first == second == "2001:db8:1:2::/64"


# --- the API answers 429 with Retry-After ------------------------------------------------------------------


def _login(api_client, email, remote="198.51.100.7"):
    return api_client.post(
        "/v1/auth/login", {"email": email, "password": "wrong-password"}, format="json", REMOTE_ADDR=remote
    )


@pytest.mark.django_db
def test_login_per_ip_answers_429_with_retry_after(api_client, tenant_a):
    with override_settings(RATE_LIMITS=_limits(login_ip="3/min")):
        statuses = [_login(api_client, f"nobody{i}@example.com").status_code for i in range(3)]
        refused = _login(api_client, "nobody9@example.com")
        other_ip = _login(api_client, "nobody9@example.com", remote="198.51.100.8")

    assert statuses == [401, 401, 401]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    detail = refused.json()["detail"]
    assert detail.startswith("Rate limit exceeded: at most 3 logins per IP address per minute.")
    assert f"Retry in {refused['Retry-After']} second" in detail
    assert other_ip.status_code == 401


@pytest.mark.django_db
def test_login_per_email_counts_across_addresses(api_client, tenant_a):
    with override_settings(RATE_LIMITS=_limits(login_email="2/15min")):
        first = _login(api_client, tenant_a.owner.email, remote="198.51.100.1")
        second = _login(api_client, tenant_a.owner.email.upper(), remote="198.51.100.2")
        third = _login(api_client, tenant_a.owner.email, remote="198.51.100.3")
        someone_else = _login(api_client, "other@example.com", remote="198.51.100.3")

    assert [first.status_code, second.status_code, third.status_code] == [401, 401, 429]
    assert "logins per email address per 15 minutes" in third.json()["detail"]
    assert 1 <= int(third["Retry-After"]) <= 900
    assert someone_else.status_code == 401


@pytest.mark.django_db
def test_signup_per_ip_behind_a_trusted_proxy(api_client):
    # Bodies are invalid (422): the limit counts attempts before anything is created.
    def signup(forwarded):
        return api_client.post("/v1/tenants", {}, format="json", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    with override_settings(RATE_LIMITS=_limits(signup_ip="2/hour"), TRUSTED_PROXY_HOPS=1):
        statuses = [signup("198.51.100.1").status_code for _ in range(3)]
        spoofed = signup("1.2.3.4, 198.51.100.1")  # a client-chosen first entry changes nothing
        other_client = signup("198.51.100.2")

    assert statuses == [422, 422, 429]
    assert spoofed.status_code == 429
    assert other_client.status_code == 422


@pytest.mark.django_db
def test_chat_is_limited_per_bot_and_per_tenant(tenant_a, tenant_b):
    client = tenant_a.client()
    bot_1, bot_2, bot_3 = (str(uuid.uuid4()) for _ in range(3))

    def chat(bot, handle=tenant_a):
        return handle.client().post("/v1/chat", {"bot_profile_id": bot, "message": "hi"}, format="json")

    with override_settings(RATE_LIMITS=_limits(chat_bot="2/min", chat_tenant="4/min")):
        per_bot = [chat(bot_1).status_code for _ in range(3)]  # every attempt counts for the tenant
        other_bot = chat(bot_2).status_code  # the tenant's 4th
        tenant_full = chat(bot_3)
        other_tenant = chat(bot_1, tenant_b).status_code
        listing = client.get("/v1/chat").status_code

    assert per_bot == [404, 404, 429]  # unknown bots: the view answers 404 after the limit is checked
    assert other_bot == 404
    assert tenant_full.status_code == 429 and "chat requests per tenant" in tenant_full.json()["detail"]
    assert other_tenant == 404
    assert listing == 200


@pytest.mark.django_db
def test_writes_are_limited_per_token(tenant_a):
    second = tenant_a.client(api_token_create(user=tenant_a.owner, name="second").raw_token)
    with override_settings(RATE_LIMITS=_limits(writes_token="2/min")):
        created = [tenant_a.client().post("/v1/api-tokens", {"name": f"t{i}"}).status_code for i in range(3)]
        reads = tenant_a.client().get("/v1/api-tokens").status_code
        other_token = second.post("/v1/api-tokens", {"name": "x"}).status_code

    assert created == [201, 201, 429]
    assert reads == 200
    assert other_token == 201


@pytest.mark.django_db
def test_refusals_are_logged_once_per_window_and_counted_for_the_console(tenant_a, caplog):
    bot = str(uuid.uuid4())
    caplog.set_level(logging.WARNING, logger="minirag.throttling")
    with override_settings(RATE_LIMITS=_limits(chat_bot="1/min")):
        for _ in range(4):
            tenant_a.client().post("/v1/chat", {"bot_profile_id": bot, "message": "hi"}, format="json")

    warnings = [record for record in caplog.records if record.name == "minirag.throttling"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING and "scope=chat_bot" in warnings[0].getMessage()
    assert throttling.denied_counts(tenant_id=tenant_a.tenant.id)["chat_bot"] == 3
    assert throttling.denied_counts(tenant_id=None)["chat_bot"] == 0


@pytest.mark.django_db
def test_an_unreachable_cache_lets_requests_through(api_client, tenant_a):
    dead = RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})
    with override_settings(RATE_LIMITS=_limits(login_ip="1/min")):
        original = counters._cache
        counters._cache = lambda: dead
        try:
            statuses = [_login(api_client, "x@example.com").status_code for _ in range(3)]
        finally:
            counters._cache = original
    assert statuses == [401, 401, 401]


# --- one counter for every process --------------------------------------------------------------------------


def test_two_cache_clients_on_one_redis_share_a_window(redis_url, monkeypatch):
    prefix = f"test-{uuid.uuid4().hex}"
    clients = [_redis_cache(redis_url, prefix), _redis_cache(redis_url, prefix)]
    assert clients[0]._cache is not clients[1]._cache
    turn = iter(range(1000))
    monkeypatch.setattr(counters, "_cache", lambda: clients[next(turn) % 2])

    now = time.time()
    counts = [counters.window_hit("shared:1.2.3.4", period=60, now=now)[0] for _ in range(6)]

    assert counts == [1, 2, 3, 4, 5, 6]


@pytest.mark.django_db
def test_api_limit_counts_requests_served_by_two_cache_clients(redis_url, monkeypatch, api_client):
    prefix = f"test-{uuid.uuid4().hex}"
    clients = [_redis_cache(redis_url, prefix), _redis_cache(redis_url, prefix)]
    turn = iter(range(1000))
    monkeypatch.setattr(counters, "_cache", lambda: clients[next(turn) % 2])
    with override_settings(RATE_LIMITS=_limits(signup_ip="3/hour")):
        statuses = [api_client.post("/v1/tenants", {}, format="json").status_code for _ in range(5)]
    assert statuses == [422, 422, 422, 429, 429]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(redis_url: str, prefix: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "minirag.settings",
        "DEBUG": "true",
        "MINIRAG_ENV_FILE": os.devnull,
        "MINIRAG_RUNTIME_FILE": "",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CACHE_KEY_PREFIX": prefix,
        "RATE_LIMIT_SIGNUP_PER_IP": "4/hour",
        "SIGNUP_MODE": "open",
    }


def _wait_listening(port: int, process, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}: {process.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def test_two_gunicorn_processes_share_one_limit(redis_url):
    """Two web servers (separate processes, like two replicas) on one Redis: sign-ups from one address are
    counted together. The bodies are invalid, so nothing touches the database."""
    import httpx

    prefix = f"test-{uuid.uuid4().hex}"
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "minirag.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "-k", "sync"],
            cwd=BASE_DIR,
            env=_server_env(redis_url, prefix),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 60
        for port, server in zip(ports, servers, strict=True):
            _wait_listening(port, server, deadline)
        responses = [httpx.post(f"http://127.0.0.1:{ports[i % 2]}/v1/tenants", json={}, timeout=10) for i in range(6)]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    assert [response.status_code for response in responses] == [422, 422, 422, 422, 429, 429]
    refused = responses[4]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["detail"].startswith("Rate limit exceeded: at most 4 sign-ups per IP address per hour.")
