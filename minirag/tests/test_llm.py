"""LiteLLM integration against the fake OpenAI server over real HTTP: answers, streams, retries, errors."""

import socket

import pytest

from minirag.errors import UpstreamError, UpstreamTimeout
from minirag.integrations import llm

MESSAGES = [{"role": "system", "content": "[1] The sky is green on Zorg."}, {"role": "user", "content": "sky colour"}]


@pytest.fixture
def config(fake_openai, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    return llm.LLMConfig(
        model="openai/fake-chat", api_key="test-key", api_base=fake_openai.base_url, timeout=2, max_retries=2
    )


@pytest.fixture
def no_sleep(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(llm, "_sleep", waits.append)
    return waits


def test_complete_returns_answer_and_provider_usage(fake_openai, config):
    completion = llm.complete(config=config, messages=MESSAGES)

    assert "The sky is green on Zorg." in completion.content and "sky colour" in completion.content
    assert completion.usage_reported is True
    assert completion.prompt_tokens == 9  # the fake counts words
    assert completion.completion_tokens == len(completion.content.split())
    request = fake_openai.chat_calls[-1]
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body["model"] == "fake-chat"


def test_stream_yields_pieces_and_requests_usage(fake_openai, config):
    stream = llm.CompletionStream(config=config, messages=MESSAGES).open()
    pieces = list(stream)

    assert len(pieces) > 3 and "".join(pieces) == stream.content
    assert fake_openai.chat_calls[-1].body["stream_options"] == {"include_usage": True}
    assert stream.usage_reported and stream.prompt_tokens == 9
    assert stream.time_to_first_token_ms is not None and stream.duration_ms >= stream.time_to_first_token_ms


def test_stream_without_provider_usage_is_counted_locally(fake_openai, config):
    fake_openai.stream_usage = False
    stream = llm.CompletionStream(config=config, messages=MESSAGES).open()
    list(stream)

    # Not the fake's word count (9): a tokenizer's count of the same messages.
    assert stream.prompt_tokens > 9
    assert stream.completion_tokens > 0


def test_rate_limit_is_retried_honouring_retry_after(fake_openai, config, no_sleep):
    fake_openai.fail_next(2, status=429, retry_after=1.5)

    completion = llm.complete(config=config, messages=MESSAGES)

    assert completion.content
    assert len(fake_openai.chat_calls) == 3
    assert no_sleep == [1.5, 1.5]


def test_server_errors_are_retried_with_growing_backoff(fake_openai, config, no_sleep):
    fake_openai.fail_next(2, status=500)

    llm.complete(config=config, messages=MESSAGES)

    # 0.5 s × 2^n, jittered into [50%, 100%].
    assert len(no_sleep) == 2
    assert 0.25 <= no_sleep[0] <= 0.5 and 0.5 <= no_sleep[1] <= 1.0


@pytest.mark.parametrize(
    ("status", "error_type", "detail"),
    [
        (401, UpstreamError, "LLM authentication failed"),
        (429, UpstreamError, "LLM rate limit exceeded"),
        (500, UpstreamError, "LLM provider error"),
    ],
)
def test_errors_are_sanitized(fake_openai, config, no_sleep, status, error_type, detail):
    fake_openai.fail_next(5, status=status)

    with pytest.raises(error_type) as caught:
        llm.complete(config=config, messages=MESSAGES)

    assert caught.value.detail == detail
    assert caught.value.status_code == 502
    assert "sk-fake-leak" not in str(caught.value)
    # 401 is final; 429/5xx are retried max_retries times.
    assert len(fake_openai.chat_calls) == (1 if status == 401 else 3)


def test_timeout_maps_to_504_without_retry(fake_openai, config, no_sleep):
    fake_openai.fail_next(1, sleep=1.5)
    slow = llm.LLMConfig(**{**config.__dict__, "timeout": 0.3})

    with pytest.raises(UpstreamTimeout) as caught:
        llm.complete(config=slow, messages=MESSAGES)

    assert caught.value.status_code == 504 and caught.value.detail == "LLM request timed out"
    assert len(fake_openai.chat_calls) == 1


def test_stream_dropped_mid_answer_raises_sanitized_error(fake_openai, config):
    fake_openai.break_stream_after = 2
    stream = llm.CompletionStream(config=config, messages=MESSAGES).open()
    received = []
    with pytest.raises(UpstreamError) as caught:
        for piece in stream:
            received.append(piece)

    assert caught.value.detail == "LLM provider error"
    assert received and stream.content == "".join(received)


def test_private_api_base_is_refused_by_the_ssrf_guard(fake_openai, config, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False

    with pytest.raises(UpstreamError) as caught:
        llm.complete(config=config, messages=MESSAGES)

    assert caught.value.detail == "LLM endpoint is not allowed"
    assert fake_openai.chat_calls == []


def test_config_repr_never_shows_the_key(config):
    assert "test-key" not in repr(config)


def test_context_window_from_litellm_or_setting(settings):
    settings.CHAT_DEFAULT_CONTEXT_TOKENS = 4321
    assert llm.context_window("gpt-4o-mini") == 128000
    assert llm.context_window("openai/not-a-real-model-xyz") == 4321


def _rebinding_resolver(monkeypatch, name: str) -> list[str]:
    """`name` resolves to a public address the first time and to loopback afterwards (DNS rebinding)."""
    real = socket.getaddrinfo
    seen: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        seen.append(host)
        address = "93.184.216.34" if len(seen) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


@pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
def test_api_base_rebound_to_loopback_after_the_check_is_never_contacted(
    fake_openai, config, settings, monkeypatch, streamed
):
    # Given an api_base whose name passes the check (public) and then answers loopback, where the fake listens
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False
    seen = _rebinding_resolver(monkeypatch, "llm.rebind.test")
    rebound = llm.LLMConfig(**{**config.__dict__, "api_base": f"http://llm.rebind.test:{fake_openai.port}/v1"})

    # When the model is called
    with pytest.raises(UpstreamError) as caught:
        if streamed:
            list(llm.CompletionStream(config=rebound, messages=MESSAGES).open())
        else:
            llm.complete(config=rebound, messages=MESSAGES)

    # Then the connection's own resolution is checked too: refused, not retried, and nothing reached the fake
    assert caught.value.detail == "LLM endpoint is not allowed"
    assert seen == ["llm.rebind.test", "llm.rebind.test"]
    assert fake_openai.chat_calls == []


def test_every_litellm_http_client_uses_the_guarded_transport():
    from minirag.netguard import _GuardedBackend

    litellm = llm._litellm()

    assert isinstance(litellm.client_session._transport._pool._network_backend, _GuardedBackend)
    assert isinstance(litellm.sync_transport._pool._network_backend, _GuardedBackend)
    assert litellm.module_level_client.client._transport is litellm.sync_transport
