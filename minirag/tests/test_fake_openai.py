"""The fake OpenAI server speaks the wire format LiteLLM expects (so the other tests can trust it)."""

import json
import math
import time

import httpx
import pytest


def _post(fake, path: str, body: dict, timeout: float = 5.0) -> httpx.Response:
    return httpx.post(
        f"{fake.base_url}{path}", json=body, headers={"Authorization": "Bearer test-key"}, timeout=timeout
    )


def test_chat_completion_echoes_context_and_reports_usage(fake_openai):
    response = _post(
        fake_openai,
        "/chat/completions",
        {
            "model": "fake-chat",
            "messages": [
                {"role": "system", "content": "[1] Paris is in France"},
                {"role": "user", "content": "where is Paris"},
            ],
        },
    )

    assert response.status_code == 200
    payload = response.json()
    answer = payload["choices"][0]["message"]["content"]
    assert "where is Paris" in answer and "[1] Paris is in France" in answer
    assert payload["usage"] == {
        "prompt_tokens": 8,
        "completion_tokens": len(answer.split()),
        "total_tokens": 8 + len(answer.split()),
    }
    assert fake_openai.chat_calls[-1].headers["authorization"] == "Bearer test-key"


def test_stream_ends_with_usage_chunk_then_done(fake_openai):
    body = {
        "model": "fake-chat",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "one two three"}],
    }
    with httpx.stream("POST", f"{fake_openai.base_url}/chat/completions", json=body, timeout=5) as response:
        lines = [line for line in response.iter_lines() if line]

    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 3
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "You asked: one two three\nContext: "


def test_stream_without_include_usage_has_no_usage(fake_openai):
    body = {"model": "fake-chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream("POST", f"{fake_openai.base_url}/chat/completions", json=body, timeout=5) as response:
        lines = [line for line in response.iter_lines() if line]
    assert all("usage" not in json.loads(line[6:]) for line in lines[:-1])


def test_embeddings_are_deterministic_normalised_and_sized_by_model(fake_openai):
    first = _post(fake_openai, "/embeddings", {"model": "fake-embed-32", "input": ["alpha beta", "gamma"]}).json()
    second = _post(fake_openai, "/embeddings", {"model": "fake-embed-32", "input": "alpha beta"}).json()
    default = _post(fake_openai, "/embeddings", {"model": "fake-embed", "input": "alpha"}).json()

    vector = first["data"][0]["embedding"]
    assert len(vector) == 32 and len(default["data"][0]["embedding"]) == 64
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-9)
    assert second["data"][0]["embedding"] == vector
    assert first["usage"]["prompt_tokens"] == 3


def test_injected_failures_apply_to_next_calls_only(fake_openai):
    fake_openai.fail_next(2, status=429, retry_after=3)

    statuses = [_post(fake_openai, "/embeddings", {"model": "m", "input": "x"}) for _ in range(3)]

    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "3"


def test_hanging_failure_times_out_the_client(fake_openai):
    fake_openai.fail_next(1, sleep=1.0)
    with pytest.raises(httpx.ReadTimeout):
        _post(fake_openai, "/chat/completions", {"model": "m", "messages": []}, timeout=0.2)


def test_delay_slows_every_call(fake_openai):
    fake_openai.delay = 0.2
    started = time.monotonic()
    _post(fake_openai, "/embeddings", {"model": "m", "input": "x"})
    assert time.monotonic() - started >= 0.2


def test_state_is_reset_between_tests(fake_openai):
    # The previous test set a delay and logged calls; the autouse reset cleared them.
    assert fake_openai.delay == 0 and fake_openai.requests == []


def test_accepted_sockets_use_tcp_nodelay(fake_openai):
    _post(fake_openai, "/embeddings", {"model": "m", "input": "x"})
    assert fake_openai.requests[-1].nodelay is True
