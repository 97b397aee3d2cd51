"""POST /v1/chat (JSON): grounding, history, bot/chat checks, provider errors, extractive mode, accounting."""

import uuid
from decimal import Decimal

import pytest

from chat.models import Chat, Message, MessageRole
from chat.tests.conftest import PARIS_TEXT, ingest_text, make_extractive_bot, make_llm_bot
from minirag import events
from minirag.tenancy import tenant_context
from usage.models import UsageEvent, UsageKind


def _chat(client, bot, message, **extra):
    return client.post("/v1/chat", {"bot_profile_id": str(bot.id), "message": message, **extra}, format="json")


@pytest.fixture
def recorded_events(monkeypatch):
    received: list[tuple[str, dict]] = []
    monkeypatch.setattr(events, "_subscribers", [lambda schema, event, payload: received.append((event, payload))])
    return received


def test_answer_is_grounded_in_retrieved_passages(tenant_a, llm_bot, quaxland, fake_llm):
    response = _chat(tenant_a.client(), llm_bot, "What is the capital of Quaxland?")

    assert response.status_code == 200, response.content
    body = response.json()
    # The fake echoes its system prompt: the passage, numbered and labelled with its source, reached the model.
    answer = body["message"]["content"]
    assert "[1] (source: Quaxland facts)" in answer and "The capital of Quaxland is Blipton" in answer
    assert "You asked: What is the capital of Quaxland?" in answer
    system = fake_llm.chat_calls[-1].body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are the Quaxland guide.")
    assert "Cite every passage you use with its number in square brackets" in system["content"]
    # Sources: reference fields plus source_name and page.
    source = body["sources"][0]
    assert set(source) == {"chunk_id", "content", "score", "source_id", "source_name", "page", "section"}
    assert source["source_id"] == str(quaxland.id) and source["source_name"] == "Quaxland facts"
    assert (
        source["content"].startswith("The capital of Quaxland is Blipton")
        and round(source["score"], 4) == source["score"]
    )
    assert body["message"]["role"] == "assistant" and body["chat_id"] == body["message"]["chat_id"]


def test_no_knowledge_yet_still_answers_and_says_so_in_prompt(tenant_a, llm_bot, fake_llm):
    response = _chat(tenant_a.client(), llm_bot, "Anything?")

    assert response.status_code == 200
    assert response.json()["sources"] == []
    assert "No passage of the knowledge base matched" in fake_llm.chat_calls[-1].body["messages"][0]["content"]


def test_history_is_sent_in_order_without_duplicating_the_new_message(tenant_a, llm_bot, fake_llm):
    client = tenant_a.client()
    fake_llm.reply = "first answer"
    chat_id = _chat(client, llm_bot, "first question").json()["chat_id"]
    fake_llm.reply = "second answer"
    _chat(client, llm_bot, "second question", chat_id=chat_id)
    _chat(client, llm_bot, "third question", chat_id=chat_id)

    sent = [(m["role"], m["content"]) for m in fake_llm.chat_calls[-1].body["messages"][1:]]
    assert sent == [
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", "second question"),
        ("assistant", "second answer"),
        ("user", "third question"),
    ]


def test_history_window_keeps_the_newest_turns_within_the_token_budget(tenant_a, fake_llm, settings):
    # The fake model is unknown to LiteLLM: the window is CHAT_DEFAULT_CONTEXT_TOKENS.
    settings.CHAT_DEFAULT_CONTEXT_TOKENS = 800
    bot = make_llm_bot(tenant_a.tenant, fake_llm, max_tokens=100)
    with tenant_context(tenant_a.tenant):
        chat = Chat.objects.create(bot_profile_id=bot.id)
        for index in range(40):
            Message.objects.create(chat=chat, role=MessageRole.USER, content=f"old message number {index} " * 5)

    _chat(tenant_a.client(), bot, "newest", chat_id=str(chat.id))

    sent = [m["content"] for m in fake_llm.chat_calls[-1].body["messages"][1:]]
    assert sent[-1] == "newest"
    assert 3 < len(sent) < 41  # trimmed, but not emptied
    assert sent[-2].startswith("old message number 39 ")  # newest history kept, in order
    assert not any(content.startswith("old message number 0 ") for content in sent)


def test_chat_of_another_bot_is_refused(tenant_a, llm_bot, fake_llm):
    other = make_llm_bot(tenant_a.tenant, fake_llm, name="Other")
    client = tenant_a.client()
    chat_id = _chat(client, llm_bot, "hello").json()["chat_id"]

    response = _chat(client, other, "continue with another bot", chat_id=chat_id)

    assert response.status_code == 404 and response.json() == {"detail": "Chat session not found"}
    with tenant_context(tenant_a.tenant):
        assert not Message.objects.filter(content="continue with another bot").exists()


@pytest.mark.parametrize("case", ["inactive", "unknown"])
def test_inactive_or_unknown_bot_is_404(tenant_a, llm_bot, case):
    bot_id = llm_bot.id
    if case == "inactive":
        with tenant_context(tenant_a.tenant):
            type(llm_bot).objects.filter(pk=llm_bot.pk).update(is_active=False)
    else:
        bot_id = uuid.uuid4()

    response = tenant_a.client().post("/v1/chat", {"bot_profile_id": str(bot_id), "message": "hi"}, format="json")

    assert response.status_code == 404 and response.json() == {"detail": "Bot profile not found or inactive"}


def test_unknown_chat_id_is_404(tenant_a, llm_bot):
    response = _chat(tenant_a.client(), llm_bot, "hi", chat_id=str(uuid.uuid4()))
    assert response.status_code == 404 and response.json() == {"detail": "Chat session not found"}


@pytest.mark.parametrize("message", ["", "x" * 32001])
def test_message_length_is_validated(tenant_a, llm_bot, message):
    response = _chat(tenant_a.client(), llm_bot, message)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "message"]


@pytest.mark.parametrize(
    ("failure", "status", "detail"),
    [
        ({"status": 401}, 502, "LLM authentication failed"),
        ({"status": 429, "retry_after": 0}, 502, "LLM rate limit exceeded"),
        ({"status": 500}, 502, "LLM provider error"),
        ({"status": 500, "sleep": 1.5}, 504, "LLM request timed out"),
    ],
)
def test_provider_errors_are_sanitized_and_keep_the_user_message(
    tenant_a, llm_bot, fake_llm, settings, failure, status, detail
):
    settings.LLM_TIMEOUT_SECONDS = 0.5
    fake_llm.fail_next(1, **failure)

    response = _chat(tenant_a.client(), llm_bot, "will this fail?")

    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert "sk-fake" not in response.content.decode()
    with tenant_context(tenant_a.tenant):
        stored = Message.objects.get(content="will this fail?")
        assert stored.role == MessageRole.USER
        assert not Message.objects.filter(chat=stored.chat, role=MessageRole.ASSISTANT).exists()
        assert Chat.objects.get(pk=stored.chat_id).message_count == 1


def test_rate_limits_are_retried_before_failing(tenant_a, llm_bot, fake_llm, settings, monkeypatch):
    from minirag.integrations import llm

    monkeypatch.setattr(llm, "_sleep", lambda seconds: None)
    settings.LLM_MAX_RETRIES = 2
    fake_llm.fail_next(2, status=429)

    response = _chat(tenant_a.client(), llm_bot, "patience")

    assert response.status_code == 200 and len(fake_llm.chat_calls) == 3


def test_usage_cost_and_counters_are_recorded(
    tenant_a, llm_bot, fake_llm, recorded_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        body = _chat(tenant_a.client(), llm_bot, "count my tokens").json()

    usage = body["usage"]
    assert usage["model"] == "openai/fake-chat"
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    with tenant_context(tenant_a.tenant):
        event = UsageEvent.objects.get(message_id=body["message"]["id"])
        chat = Chat.objects.get(pk=body["chat_id"])
    assert (event.kind, event.model, event.is_stream) == (UsageKind.CHAT, "openai/fake-chat", False)
    assert (event.prompt_tokens, event.completion_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
    assert event.bot_profile_id == llm_bot.id and str(event.chat_id) == body["chat_id"]
    assert event.latency_ms is not None
    # Unknown to the cost map: the default row (1 USD / 3 USD per 1M tokens).
    expected = (Decimal(usage["prompt_tokens"]) * 1 + Decimal(usage["completion_tokens"]) * 3) / 1_000_000
    assert event.cost_usd == expected
    assert chat.message_count == 2
    assert (chat.total_prompt_tokens, chat.total_completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert (
        "chat.message",
        {"chat_id": body["chat_id"], "message_id": body["message"]["id"], "bot_profile_id": str(llm_bot.id)},
    ) in recorded_events


def test_title_is_generated_by_the_model_after_the_first_exchange(
    tenant_a, llm_bot, fake_llm, django_capture_on_commit_callbacks
):
    fake_llm.reply = "Capital of Quaxland"
    client = tenant_a.client()
    with django_capture_on_commit_callbacks(execute=True):
        chat_id = _chat(client, llm_bot, "What is the capital of Quaxland, and why is it called that?").json()[
            "chat_id"
        ]

    with tenant_context(tenant_a.tenant):
        assert Chat.objects.get(pk=chat_id).title == "Capital of Quaxland"
        title_events = UsageEvent.objects.filter(kind=UsageKind.TITLE, chat_id=chat_id)
        assert title_events.count() == 1
    calls = len(fake_llm.chat_calls)
    with django_capture_on_commit_callbacks(execute=True):
        _chat(client, llm_bot, "and a second question", chat_id=chat_id)
    # A follow-up is first condensed into a standalone question, then answered: no second title call.
    assert len(fake_llm.chat_calls) == calls + 2
    with tenant_context(tenant_a.tenant):
        assert UsageEvent.objects.filter(kind=UsageKind.TITLE, chat_id=chat_id).count() == 1
        assert UsageEvent.objects.filter(kind=UsageKind.CONDENSE, bot_profile_id=llm_bot.id).count() == 1


def test_title_is_the_first_100_characters_until_the_task_ran(tenant_a, llm_bot):
    # on_commit callbacks are not executed here, so the title task never runs.
    body = _chat(tenant_a.client(), llm_bot, "A" * 150).json()

    with tenant_context(tenant_a.tenant):
        assert Chat.objects.get(pk=body["chat_id"]).title == "A" * 100


def test_extractive_mode_answers_with_cited_passages_without_any_llm(
    tenant_a, fake_llm, django_capture_on_commit_callbacks
):
    bot = make_extractive_bot(tenant_a.tenant)
    source = ingest_text(
        tenant_a.tenant, bot, name="Quaxland facts", content=PARIS_TEXT, capture=django_capture_on_commit_callbacks
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = _chat(tenant_a.client(), bot, "What is the capital of Quaxland?")

    assert response.status_code == 200
    body = response.json()
    answer = body["message"]["content"]
    assert "The capital of Quaxland is Blipton" in answer and "[1]" in answer
    assert body["sources"][0]["source_id"] == str(source.id)
    assert body["usage"]["model"] == "extractive"
    assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["completion_tokens"] > 0
    assert fake_llm.requests == []  # no LLM, no title call
    with tenant_context(tenant_a.tenant):
        event = UsageEvent.objects.get(message_id=body["message"]["id"])
        assert event.model == "extractive" and event.cost_usd == 0
        assert Chat.objects.get(pk=body["chat_id"]).title == "What is the capital of Quaxland?"


def test_extractive_mode_without_knowledge_says_so(tenant_a):
    bot = make_extractive_bot(tenant_a.tenant)

    body = _chat(tenant_a.client(), bot, "What is the capital of Quaxland?").json()

    assert body["sources"] == [] and body["message"]["content"] == bot.no_answer_message


def test_retrieval_of_tenant_a_is_unreachable_from_tenant_b(
    tenant_a, tenant_b, fake_llm, django_capture_on_commit_callbacks
):
    bot_a = make_extractive_bot(tenant_a.tenant)
    ingest_text(tenant_a.tenant, bot_a, name="secret", content=PARIS_TEXT, capture=django_capture_on_commit_callbacks)
    bot_b = make_extractive_bot(tenant_b.tenant)

    body = _chat(tenant_b.client(), bot_b, "What is the capital of Quaxland?").json()
    assert body["sources"] == [] and "Blipton" not in body["message"]["content"]
    # Tenant B cannot use tenant A's bot either.
    assert _chat(tenant_b.client(), bot_a, "hi").status_code == 404


def test_tenant_b_cannot_continue_a_chat_of_tenant_a(tenant_a, tenant_b):
    bot_a = make_extractive_bot(tenant_a.tenant)
    bot_b = make_extractive_bot(tenant_b.tenant)
    chat_id = _chat(tenant_a.client(), bot_a, "hello").json()["chat_id"]

    response = _chat(tenant_b.client(), bot_b, "hijack", chat_id=chat_id)

    assert response.status_code == 404 and response.json() == {"detail": "Chat session not found"}


def test_retrieval_failure_is_503_without_raw_text_and_keeps_the_message(tenant_a, llm_bot, monkeypatch):
    import chat.answering

    def broken(**kwargs):
        raise RuntimeError("qdrant exploded at /var/secret/path")

    monkeypatch.setattr(chat.answering, "retrieve", broken)
    client = tenant_a.client()

    response = _chat(client, llm_bot, "retrieve please")
    stream = client.post(
        "/v1/chat", {"bot_profile_id": str(llm_bot.id), "message": "stream please", "stream": True}, format="json"
    )

    assert response.status_code == 503
    assert response.json() == {"detail": "Knowledge retrieval is temporarily unavailable; please retry"}
    assert b"".join(stream.streaming_content) == (
        b'event: error\ndata: {"detail": "Knowledge retrieval is temporarily unavailable; please retry"}\n\n'
    )
    with tenant_context(tenant_a.tenant):
        assert Message.objects.filter(content__in=["retrieve please", "stream please"]).count() == 2


def test_private_api_base_is_refused_before_any_request(tenant_a, llm_bot, fake_llm, settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = False

    response = _chat(tenant_a.client(), llm_bot, "reach the intranet")

    assert response.status_code == 502 and response.json() == {"detail": "LLM endpoint is not allowed"}
    assert fake_llm.chat_calls == []
