"""The official `openai` Python client against a live MiniRAG server: models, completions (JSON and streamed) from an
LLM bot (backed by the fake OpenAI server) and an extractive bot, and errors raised as the client's exceptions."""

import datetime as dt

import openai
import pytest
from django.utils import timezone

from bots.models import BotProfile
from chat.models import Chat, Message
from chat.tests.conftest import PARIS_TEXT, ingest_text, make_extractive_bot, make_llm_bot
from minirag.tenancy import tenant_context
from tenants.publishable_keys import publishable_key_create
from usage.models import UsageEvent, UsageKind

# The live server reads committed rows from its own thread: these tests commit, and clean up after themselves.
pytestmark = pytest.mark.django_db(transaction=True)

SITE = "https://shop.example"
QUESTION = "Which harbour city is the capital of the Quaxland island nation?"


@pytest.fixture(scope="module", autouse=True)
def _put_session_tenants_back(_session_tenants, django_db_blocker):
    """A transactional test ends with a flush of the public tables: put the session's tenants back afterwards (their
    schemas survive the flush, and a later run with --reuse-db must find the rows that go with them)."""
    yield
    with django_db_blocker.unblock():
        for handle in _session_tenants.values():
            handle.restore()


@pytest.fixture
def tenant(tenant_a):
    """Tenant A; what a test commits in its schema (bots, sources, chats, usage) is deleted afterwards."""
    started = timezone.now() - dt.timedelta(seconds=1)
    yield tenant_a
    with tenant_context(tenant_a.tenant):
        BotProfile.objects.filter(created_at__gte=started).delete()
        Chat.objects.filter(created_at__gte=started).delete()
        UsageEvent.objects.filter(created_at__gte=started).delete()


@pytest.fixture
def client(live_server, tenant) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server.url}/v1/openai", api_key=tenant.raw_token, max_retries=0, timeout=30)


@pytest.fixture
def llm_bot(tenant, fake_llm, django_capture_on_commit_callbacks):
    bot = make_llm_bot(tenant.tenant, fake_llm, name="Guide")
    ingest_text(
        tenant.tenant, bot, name="Quaxland facts", content=PARIS_TEXT, capture=django_capture_on_commit_callbacks
    )
    return bot


@pytest.fixture
def extractive_bot(tenant, django_capture_on_commit_callbacks):
    bot = make_extractive_bot(tenant.tenant, name="Quoter")
    ingest_text(
        tenant.tenant, bot, name="Quaxland facts", content=PARIS_TEXT, capture=django_capture_on_commit_callbacks
    )
    return bot


def _ask(client, bot, **extra):
    return client.chat.completions.create(model=str(bot.id), messages=[{"role": "user", "content": QUESTION}], **extra)


def test_the_client_lists_and_retrieves_bots_as_models(client, tenant, llm_bot, extractive_bot):
    models = {model.id: model for model in client.models.list()}

    assert {str(llm_bot.id), str(extractive_bot.id)} <= set(models)
    listed = models[str(llm_bot.id)]
    assert (listed.object, listed.owned_by, listed.name) == ("model", tenant.tenant.slug, "Guide")
    assert client.models.retrieve("Quoter").id == str(extractive_bot.id)


def test_an_llm_bot_answers_the_client_with_its_knowledge(client, tenant, llm_bot, fake_llm):
    completion = _ask(client, llm_bot)

    answer = completion.choices[0].message
    assert answer.role == "assistant" and answer.content.startswith(f"You asked: {QUESTION}")
    assert "The capital of Quaxland is Blipton" in answer.content  # the fake echoes the bot's prompt and passages
    assert completion.choices[0].finish_reason == "stop" and completion.model == str(llm_bot.id)
    assert completion.usage.completion_tokens == len(answer.content.split())  # the fake counts words
    extension = completion.model_extra["minirag"]
    assert extension["sources"][0]["source_name"] == "Quaxland facts"
    with tenant_context(tenant.tenant):
        event = UsageEvent.objects.get(message_id=extension["message_id"], kind=UsageKind.CHAT)
        chat = Chat.objects.get(pk=extension["chat_id"])
    assert event.model == "openai/fake-chat" and event.total_tokens == completion.usage.total_tokens
    assert chat.total_prompt_tokens == completion.usage.prompt_tokens and chat.message_count == 2


def test_an_llm_bot_streams_to_the_client(client, tenant, llm_bot, fake_llm):
    stream = _ask(client, llm_bot, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.startswith(f"You asked: {QUESTION}") and len([c for c in chunks if c.choices]) > 5
    finish = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert [chunk.choices[0].finish_reason for chunk in finish] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(text.split())
    extension = finish[0].model_extra["minirag"]
    with tenant_context(tenant.tenant):
        answer = Message.objects.get(pk=extension["message_id"])
        event = UsageEvent.objects.get(message_id=answer.id, kind=UsageKind.CHAT)
    assert answer.content == text and answer.is_complete
    assert event.is_stream and event.prompt_tokens == chunks[-1].usage.prompt_tokens


def test_an_extractive_bot_answers_and_streams_to_the_client(client, extractive_bot):
    completion = _ask(client, extractive_bot)
    streamed = "".join(
        chunk.choices[0].delta.content or "" for chunk in _ask(client, extractive_bot, stream=True) if chunk.choices
    )

    content = completion.choices[0].message.content
    assert "The capital of Quaxland is Blipton" in content and streamed == content
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.model_extra["minirag"]["sources"][0]["source_name"] == "Quaxland facts"


def test_an_unknown_model_raises_not_found(client, tenant):
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])

    assert raised.value.code == "model_not_found" and raised.value.status_code == 404
    assert "The model 'gpt-4o' does not exist" in raised.value.message


def test_a_bad_key_raises_authentication_error(live_server, tenant):
    client = openai.OpenAI(base_url=f"{live_server.url}/v1/openai", api_key="mrag_wrong", max_retries=0)

    with pytest.raises(openai.AuthenticationError) as raised:
        client.models.list()

    assert raised.value.code == "invalid_api_key"


def test_a_bad_request_raises_bad_request_error(client, llm_bot):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=str(llm_bot.id), messages=[{"role": "assistant", "content": "hi"}])

    assert raised.value.param == "messages" and raised.value.type == "invalid_request_error"


def test_a_provider_failure_mid_stream_raises_in_the_client(client, llm_bot, fake_llm):
    fake_llm.reply = "one two three four five six"
    fake_llm.break_stream_after = 2
    received = []

    with pytest.raises(openai.APIError) as raised:
        for chunk in _ask(client, llm_bot, stream=True):
            received.extend(chunk.choices[0].delta.content or "" for _ in chunk.choices)

    assert "".join(received) == "one two " and raised.value.message == "LLM provider error"


def test_a_publishable_key_streams_from_its_bot_and_sees_no_other(live_server, tenant, llm_bot, extractive_bot):
    issued = publishable_key_create(
        tenant=tenant.tenant,
        created_by=tenant.owner,
        bot_profile_id=llm_bot.id,
        name="shop",
        allowed_origins=[SITE],
    )
    base_url = f"{live_server.url}/v1/openai"
    client = openai.OpenAI(base_url=base_url, api_key=issued.raw_key, max_retries=0, default_headers={"Origin": SITE})

    models = [model.id for model in client.models.list()]
    streamed = "".join(
        chunk.choices[0].delta.content or "" for chunk in _ask(client, llm_bot, stream=True) if chunk.choices
    )
    with pytest.raises(openai.NotFoundError):
        _ask(client, extractive_bot)
    without_origin = openai.OpenAI(base_url=base_url, api_key=issued.raw_key, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        without_origin.models.list()

    assert models == [str(llm_bot.id)]
    assert streamed.startswith(f"You asked: {QUESTION}")
