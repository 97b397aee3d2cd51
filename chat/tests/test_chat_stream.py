"""POST /v1/chat with stream=true: SSE framing, keep-alives, disconnects, errors, accounting."""

import json

import pytest

from chat.models import Chat, Message, MessageRole
from chat.tests.conftest import PARIS_TEXT, ingest_text, make_extractive_bot, parse_sse
from minirag import events
from minirag.tenancy import tenant_context
from usage.models import UsageEvent


def _stream(client, bot, message, **extra):
    return client.post(
        "/v1/chat",
        {"bot_profile_id": str(bot.id), "message": message, "stream": True, **extra},
        format="json",
        HTTP_ACCEPT="text/event-stream",
    )


def _client_disconnects(response) -> None:
    """What the WSGI server does when the client goes away: close the response, and so our generator.

    Closing the test client's wrapper does it with `close_old_connections` unhooked (the test database
    lives in one transaction that must stay open).
    """
    response._iterator.close()


def _words(request) -> int:
    return sum(len(m["content"].split()) for m in request.body["messages"])


def test_sse_framing_is_exactly_the_reference(tenant_a, llm_bot, fake_llm):
    fake_llm.reply = "Hello there friend"

    response = _stream(tenant_a.client(), llm_bot, "greet me")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    raw = b"".join(response.streaming_content)
    with tenant_context(tenant_a.tenant):
        answer = Message.objects.get(role=MessageRole.ASSISTANT, chat__messages__content="greet me")
    prompt_tokens = _words(fake_llm.chat_calls[-1])
    usage = (
        f'{{"model": "openai/fake-chat", "prompt_tokens": {prompt_tokens}, "completion_tokens": 3, '
        f'"total_tokens": {prompt_tokens + 3}}}'
    )
    assert raw == (
        b'event: sources\ndata: {"sources": []}\n\n'
        b'event: delta\ndata: {"content": "Hello "}\n\n'
        b'event: delta\ndata: {"content": "there "}\n\n'
        b'event: delta\ndata: {"content": "friend"}\n\n'
        + (
            f'event: done\ndata: {{"chat_id": "{answer.chat_id}", "message_id": "{answer.id}", "usage": {usage}}}\n\n'
        ).encode()
    )
    assert answer.content == "Hello there friend" and answer.is_complete


def test_stream_sends_sources_first_then_deltas_then_done(tenant_a, llm_bot, quaxland, fake_llm):
    response = _stream(tenant_a.client(), llm_bot, "What is the capital of Quaxland?")
    stream = parse_sse(b"".join(response.streaming_content))

    names = [name for name, _ in stream]
    assert names[0] == "sources" and names[-1] == "done" and set(names[1:-1]) == {"delta"}
    source = stream[0][1]["sources"][0]
    # The snippet is the passage's sentence closest to the question, not its opening.
    assert source["source_name"] == "Quaxland facts" and source["content"].startswith("The capital of Quaxland")
    text = "".join(data["content"] for name, data in stream if name == "delta")
    assert "The capital of Quaxland is Blipton" in text  # grounded: the fake echoes its context
    done = stream[-1][1]
    with tenant_context(tenant_a.tenant):
        message = Message.objects.get(pk=done["message_id"])
        event = UsageEvent.objects.get(message_id=message.id)
        chat = Chat.objects.get(pk=done["chat_id"])
    assert message.content == text and message.context_chunks == [source["chunk_id"]]
    assert event.is_stream and event.prompt_tokens == done["usage"]["prompt_tokens"] == _words(fake_llm.chat_calls[-1])
    assert event.time_to_first_token_ms is not None and event.stream_duration_ms >= event.time_to_first_token_ms
    assert chat.message_count == 2 and chat.total_completion_tokens == done["usage"]["completion_tokens"]
    assert fake_llm.chat_calls[-1].body["stream_options"] == {"include_usage": True}


def test_stream_without_provider_usage_is_counted_locally(tenant_a, llm_bot, fake_llm):
    fake_llm.stream_usage = False
    stream = parse_sse(b"".join(_stream(tenant_a.client(), llm_bot, "count").streaming_content))

    usage = stream[-1][1]["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["prompt_tokens"] != _words(fake_llm.chat_calls[-1])  # not the provider's count: none was sent


def test_keep_alive_comments_while_the_model_is_slow(tenant_a, llm_bot, fake_llm, settings):
    settings.CHAT_STREAM_KEEPALIVE_SECONDS = 0.05
    fake_llm.delay = 0.4

    raw = b"".join(_stream(tenant_a.client(), llm_bot, "take your time").streaming_content)

    sources_end = raw.index(b"\n\n") + 2
    first_delta = raw.index(b"event: delta")
    assert raw[sources_end:first_delta].count(b": keep-alive\n\n") >= 3
    assert [name for name, _ in parse_sse(raw)][-1] == "done"


def test_disconnect_mid_stream_saves_the_partial_answer_marked_incomplete(tenant_a, llm_bot, fake_llm):
    fake_llm.reply = " ".join(f"word{i}" for i in range(200))
    fake_llm.chunk_delay = 0.01
    response = _stream(tenant_a.client(), llm_bot, "tell me a long story")
    chunks = iter(response.streaming_content)
    received = [next(chunks) for _ in range(4)]  # sources + 3 deltas
    _client_disconnects(response)

    assert received[0].startswith(b"event: sources")
    with tenant_context(tenant_a.tenant):
        user = Message.objects.get(content="tell me a long story")
        answer = Message.objects.get(chat=user.chat, role=MessageRole.ASSISTANT)
        event = UsageEvent.objects.get(message_id=answer.id)
        chat = Chat.objects.get(pk=user.chat_id)
    assert answer.is_complete is False
    assert answer.content.startswith("word0 word1 word2") and len(answer.content.split()) < 200
    assert event.is_stream and event.completion_tokens > 0 and event.prompt_tokens > 0
    assert chat.message_count == 2


def test_disconnect_before_any_token_keeps_the_user_message(tenant_a, llm_bot, fake_llm, settings):
    settings.CHAT_STREAM_KEEPALIVE_SECONDS = 0.05
    fake_llm.delay = 0.5
    response = _stream(tenant_a.client(), llm_bot, "are you there?")
    chunks = iter(response.streaming_content)
    next(chunks)  # sources
    assert next(chunks) == b": keep-alive\n\n"
    _client_disconnects(response)

    with tenant_context(tenant_a.tenant):
        user = Message.objects.get(content="are you there?")
        assert not Message.objects.filter(chat=user.chat, role=MessageRole.ASSISTANT).exists()


@pytest.mark.parametrize(
    ("failure", "detail"),
    [({"status": 401}, "LLM authentication failed"), ({"status": 500, "sleep": 1.5}, "LLM request timed out")],
)
def test_provider_error_sends_an_error_event_and_keeps_the_user_message(
    tenant_a, llm_bot, fake_llm, settings, failure, detail
):
    settings.LLM_TIMEOUT_SECONDS = 0.5
    fake_llm.fail_next(1, **failure)

    raw = b"".join(_stream(tenant_a.client(), llm_bot, "fail please").streaming_content)

    assert parse_sse(raw) == [("sources", {"sources": []}), ("error", {"detail": detail})]
    assert b"sk-fake" not in raw
    with tenant_context(tenant_a.tenant):
        user = Message.objects.get(content="fail please")
        assert not Message.objects.filter(chat=user.chat, role=MessageRole.ASSISTANT).exists()


def test_stream_broken_by_the_provider_keeps_what_was_generated(tenant_a, llm_bot, fake_llm):
    fake_llm.reply = "one two three four five six"
    fake_llm.break_stream_after = 3

    stream = parse_sse(b"".join(_stream(tenant_a.client(), llm_bot, "break").streaming_content))

    assert stream[-1] == ("error", {"detail": "LLM provider error"})
    with tenant_context(tenant_a.tenant):
        answer = Message.objects.get(chat__messages__content="break", role=MessageRole.ASSISTANT)
    assert answer.content == "one two three " and answer.is_complete is False


def test_prechecks_answer_json_even_when_streaming(tenant_a, fake_llm):
    bot = make_extractive_bot(tenant_a.tenant)
    with tenant_context(tenant_a.tenant):
        type(bot).objects.filter(pk=bot.pk).update(is_active=False)

    response = _stream(tenant_a.client(), bot, "hello")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"detail": "Bot profile not found or inactive"}


def test_extractive_stream(tenant_a, fake_llm, django_capture_on_commit_callbacks):
    bot = make_extractive_bot(tenant_a.tenant)
    ingest_text(tenant_a.tenant, bot, name="facts", content=PARIS_TEXT, capture=django_capture_on_commit_callbacks)

    stream = parse_sse(b"".join(_stream(tenant_a.client(), bot, "capital of Quaxland?").streaming_content))

    assert stream[0][0] == "sources" and stream[0][1]["sources"]
    text = "".join(data["content"] for name, data in stream if name == "delta")
    assert "The capital of Quaxland is Blipton" in text and "[1]" in text
    assert stream[-1][0] == "done" and stream[-1][1]["usage"]["model"] == "extractive"
    assert fake_llm.requests == []


def test_chat_message_event_is_emitted_on_the_streaming_path(
    tenant_a, llm_bot, fake_llm, monkeypatch, django_capture_on_commit_callbacks
):
    received = []
    monkeypatch.setattr(events, "_subscribers", [lambda schema, event, payload: received.append((schema, event))])
    with django_capture_on_commit_callbacks(execute=True):
        b"".join(_stream(tenant_a.client(), llm_bot, "event please").streaming_content)

    assert (tenant_a.tenant.schema_name, "chat.message") in received


def test_title_is_generated_after_a_streamed_first_exchange(
    tenant_a, llm_bot, fake_llm, django_capture_on_commit_callbacks
):
    fake_llm.reply = "Streamed title"
    with django_capture_on_commit_callbacks(execute=True):
        stream = parse_sse(b"".join(_stream(tenant_a.client(), llm_bot, "name this chat").streaming_content))

    with tenant_context(tenant_a.tenant):
        assert Chat.objects.get(pk=stream[-1][1]["chat_id"]).title == "Streamed title"
    assert len(fake_llm.chat_calls) == 2  # the answer, then the title


def test_empty_model_output_still_ends_with_done_and_stores_an_empty_answer(tenant_a, llm_bot, fake_llm):
    fake_llm.reply = ""

    stream = parse_sse(b"".join(_stream(tenant_a.client(), llm_bot, "say nothing").streaming_content))

    assert [name for name, _ in stream] == ["sources", "done"]
    with tenant_context(tenant_a.tenant):
        answer = Message.objects.get(pk=stream[-1][1]["message_id"])
    assert answer.content == "" and answer.is_complete


@pytest.mark.parametrize(
    "garbage",
    [
        ("text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
        ("application/json", b'{"unexpected": "shape"}'),
        ("text/event-stream", b"data: this is not json\n\ndata: {broken\n\n"),
        ("text/event-stream", b""),
    ],
    ids=["html-page", "json-body", "non-json-data-lines", "empty-body"],
)
def test_provider_answering_garbage_ends_with_an_error_event_and_stores_no_answer(tenant_a, llm_bot, fake_llm, garbage):
    # Given a provider that answers the streamed request with 200 and a body that is not a chat stream
    fake_llm.stream_garbage = garbage

    # When a streamed chat asks it
    stream = parse_sse(b"".join(_stream(tenant_a.client(), llm_bot, "garbage please").streaming_content))

    # Then the stream ends with an error event (the JSON path answers 502), and no answer is stored
    assert stream == [("sources", {"sources": []}), ("error", {"detail": "LLM provider error"})]
    with tenant_context(tenant_a.tenant):
        user = Message.objects.get(content="garbage please")
        assert not Message.objects.filter(chat=user.chat, role=MessageRole.ASSISTANT).exists()
