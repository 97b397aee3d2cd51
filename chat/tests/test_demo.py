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
    assert body["message"]["content"].startswith('To stream answers, add "stream": true to the request. [1]')
    assert body["sources"][0]["source_name"] == "Chatting with a bot"
    assert body["sources"][0]["section"] == "Chatting with a bot › Streaming answers"
    assert events[0][0] == "sources" and events[-1][0] == "done"
    assert streamed.startswith("Every model call is recorded as a usage event")


# The README's questions, and what a person accepts as their answer (None: the bot must say it does not know).
DEMO_QUESTIONS = [
    ("How do I stream answers?", '"stream": true'),
    ("How is usage recorded?", "usage event"),
    ("Which file types can I upload?", "pdf, docx"),
    ("How do I continue a conversation?", "chat_id"),
    ("What happens when the bot cannot find an answer?", "no_answer_message"),
    ("Can other tenants see my data?", "invisible to every other tenant"),
    ("Can I export chats as CSV?", "CSV"),
    ("What is the capital of France?", None),
    ("How many moons does Jupiter have?", None),
]


@pytest.mark.parametrize(("question", "expected"), DEMO_QUESTIONS)
def test_demo_bot_answers_the_readme_questions_or_says_it_does_not_know(tenant_a, no_provider_keys, question, expected):
    demo = demo_bot_ensure(tenant=tenant_a.tenant)

    body = (
        tenant_a.client()
        .post("/v1/chat", {"bot_profile_id": str(demo.bot.id), "message": question}, format="json")
        .json()
    )

    content = body["message"]["content"]
    if expected is None:
        assert content == "I couldn't find this in the knowledge base." and body["sources"] == []
    else:
        assert expected in content and "[1]" in content
        assert all(source["content"] in content for source in body["sources"])  # snippets are the quotes


def test_demo_follow_up_uses_the_conversation(tenant_a, no_provider_keys):
    demo = demo_bot_ensure(tenant=tenant_a.tenant)
    client = tenant_a.client()
    first = client.post(
        "/v1/chat", {"bot_profile_id": str(demo.bot.id), "message": "How do I stream answers?"}, format="json"
    ).json()

    follow_up = client.post(
        "/v1/chat",
        {"bot_profile_id": str(demo.bot.id), "message": "And which event comes first?", "chat_id": first["chat_id"]},
        format="json",
    ).json()

    assert "a sources event first" in follow_up["message"]["content"]


def test_ensure_demo_command_adds_the_bot_to_the_demo_tenant(tenant_a, no_provider_keys, monkeypatch):
    from chat.management.commands import ensure_demo

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
