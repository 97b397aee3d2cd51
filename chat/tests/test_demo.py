"""The zero-key demo: `ensure_demo` creates a bot that answers from an ingested text without any provider."""

import io

import pytest
from django.core.management import call_command

from chat.demo import DEMO_BOT_NAME, demo_bot_ensure, demo_model
from chat.models import Chat
from chat.tests.conftest import parse_sse
from minirag.tenancy import tenant_context


@pytest.fixture
def no_provider_keys(monkeypatch):
    for name in ("OPENAI_API_KEY", "DEFAULT_LLM_MODEL", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_demo_model_is_extractive_without_keys(no_provider_keys, monkeypatch, settings):
    assert demo_model() == "extractive"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert demo_model() == settings.DEFAULT_LLM_MODEL
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("DEFAULT_LLM_MODEL", "anthropic/claude-x")
    settings.DEFAULT_LLM_MODEL = "anthropic/claude-x"
    assert demo_model() == "anthropic/claude-x"
    # The shipped default alone (as in .env.example) is no reason to leave extractive mode.
    monkeypatch.setenv("DEFAULT_LLM_MODEL", "gpt-4o-mini")
    settings.DEFAULT_LLM_MODEL = "gpt-4o-mini"
    assert demo_model() == "extractive"


def test_demo_bot_answers_a_cited_question_as_json_and_stream(tenant_a, no_provider_keys):
    demo = demo_bot_ensure(tenant=tenant_a.tenant)
    again = demo_bot_ensure(tenant=tenant_a.tenant)
    client = tenant_a.client()

    body = client.post(
        "/v1/chat", {"bot_profile_id": str(demo.bot.id), "message": "How do I stream answers?"}, format="json"
    ).json()
    stream = client.post(
        "/v1/chat",
        {"bot_profile_id": str(demo.bot.id), "message": "How is usage recorded?", "stream": True},
        format="json",
    )
    events = parse_sse(b"".join(stream.streaming_content))
    streamed = "".join(data["content"] for name, data in events if name == "delta")

    assert demo.created and not again.created and again.bot.id == demo.bot.id
    assert demo.bot.model == "extractive" and len(demo.sources) == 3
    assert all(source.status == "ready" and source.chunk_count >= 1 for source in demo.sources)
    assert "[1]" in body["message"]["content"] and "stream" in body["message"]["content"]
    assert body["sources"][0]["source_name"] == "Chatting with a bot"
    assert events[0][0] == "sources" and events[-1][0] == "done" and "usage event" in streamed


def test_ensure_demo_command_adds_the_bot_to_the_demo_tenant(tenant_a, no_provider_keys, monkeypatch):
    from tenants.management.commands import ensure_demo

    monkeypatch.setattr(ensure_demo, "DEMO_SLUG", tenant_a.tenant.slug)  # an existing tenant: no new schema
    out = io.StringIO()

    call_command("ensure_demo", stdout=out)
    call_command("ensure_demo", stdout=out)

    with tenant_context(tenant_a.tenant):
        from bots.models import BotProfile

        assert BotProfile.objects.get(name=DEMO_BOT_NAME).model == "extractive"
        assert not Chat.objects.exists()
    text = out.getvalue()
    assert "Demo bot 'MiniRAG guide' created" in text and "Demo bot 'MiniRAG guide' exists" in text
    assert "'Usage, stats and exports' ready" in text and "manage.py chat --tenant tenant-a" in text
