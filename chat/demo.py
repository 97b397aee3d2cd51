"""The demo bot `make run` creates, so a newcomer can chat at once — with no provider key at all.

Without a provider key (and no DEFAULT_LLM_MODEL override) the bot's model is `extractive`: it answers with
the best sentences of its knowledge, cited, without any LLM. With OPENAI_API_KEY (or DEFAULT_LLM_MODEL set)
it uses that model through LiteLLM. Its knowledge is three short texts about MiniRAG, ingested here (sparse
retrieval unless DEFAULT_EMBEDDING_MODEL is set); a demo tenant made with older texts gets the new ones.
"""

import os
from dataclasses import dataclass

from django.conf import settings

from bots.models import BotProfile
from bots.services import bot_create
from minirag.integrations.llm import EXTRACTIVE_MODEL
from minirag.tenancy import tenant_context
from sources.models import Source, SourceStatus
from sources.services import source_create, source_run_ingestion, source_update

BOT_DEFAULT_MODEL = "gpt-4o-mini"  # what .env.example ships; without a key it cannot answer
DEMO_BOT_NAME = "MiniRAG guide"
DEMO_SYSTEM_PROMPT = "You are the MiniRAG guide. Answer questions about MiniRAG briefly and cite your sources."
# Three short Markdown sources (headings become the citations' section labels). They answer the README's
# questions, and chat/tests/test_demo.py asks them.
DEMO_SOURCES = {
    "About MiniRAG": """\
# About MiniRAG

MiniRAG is a multi-tenant retrieval-augmented generation platform. Each tenant gets its own PostgreSQL schema, \
so one tenant's data (bots, sources, chats and usage) is invisible to every other tenant.

## Bots

A bot profile holds a model, a system prompt, sampling settings and optional provider credentials, which are \
encrypted at rest. The model can be any LiteLLM model, or `extractive` to answer without any language model.

## Sources and ingestion

Sources are the bot's knowledge. You can upload files (txt, md, csv, pdf, docx and html), paste text or add \
web pages by URL. Ingestion runs in the background: it extracts the text, keeps tables and headings, splits the \
text into chunks of about 512 tokens and indexes them for lexical search, plus dense vectors when an embedding \
model is configured.
""",
    "Chatting with a bot": """\
# Chatting with a bot

## Asking a question

To chat, send POST /v1/chat with a bot_profile_id and a message. The answer cites the sentences or passages \
it used as [1], [2] and so on, and the response lists those sources with their names and the cited text.

## Continuing a conversation

To continue a conversation, pass the chat_id from the previous answer with the next message. Follow-up \
questions are understood in the context of the recent turns.

## Streaming answers

To stream answers, add "stream": true to the request. The answer then arrives as server-sent events: a sources \
event first, then delta events carrying the text as it is generated, then a done event with the usage.

## Answers without a provider key

Without any provider key, the demo bot runs in extractive mode: it answers with the most relevant sentences of \
its knowledge base instead of calling a language model. Set OPENAI_API_KEY (or another provider key together \
with DEFAULT_LLM_MODEL) to let the bot write answers with a model through LiteLLM.

## When the bot cannot find an answer

When the bot cannot find an answer in its knowledge base, it does not guess: it replies with its \
no_answer_message, which is "I couldn't find this in the knowledge base." unless you set another one.
""",
    "Usage, stats and exports": """\
# Usage, stats and exports

## Usage recording

Every model call is recorded as a usage event with its tokens and its cost in US dollars, taken from LiteLLM's \
price list. Extractive answers are recorded too, at no cost.

## Stats

The stats endpoints under /v1/stats show usage per day, per bot and per model, a monthly cost estimate and \
feedback rates.

## Feedback and exports

Users can rate answers with positive or negative feedback. Chats can be exported one by one or in bulk, as JSON \
or as CSV.
""",
}
PROVIDER_KEY_VARIABLES = ("OPENAI_API_KEY",)
OTHER_PROVIDER_KEY_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "COHERE_API_KEY",
    "MISTRAL_API_KEY",
    "GROQ_API_KEY",
    "AZURE_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
)


def demo_model() -> str:
    """DEFAULT_LLM_MODEL when set to a non-default model (e.g. a local `ollama/…` that needs no key); the default
    model with an OpenAI key; `extractive` otherwise."""
    if os.environ.get("DEFAULT_LLM_MODEL") and settings.DEFAULT_LLM_MODEL != BOT_DEFAULT_MODEL:
        return settings.DEFAULT_LLM_MODEL
    if any(os.environ.get(name) for name in PROVIDER_KEY_VARIABLES):
        return settings.DEFAULT_LLM_MODEL
    return EXTRACTIVE_MODEL


@dataclass
class DemoBot:
    bot: object
    sources: list
    created: bool
    hint: str = ""


def demo_bot_ensure(*, tenant) -> DemoBot:
    """Create the demo bot and its ingested sources in `tenant` if missing (idempotent); ingest synchronously."""

    with tenant_context(tenant):
        bot = BotProfile.objects.filter(name=DEMO_BOT_NAME).first()
        created = bot is None
        hint = ""
        if bot is None:
            model = demo_model()
            if model == EXTRACTIVE_MODEL and any(os.environ.get(name) for name in OTHER_PROVIDER_KEY_VARIABLES):
                hint = "A provider key is set but DEFAULT_LLM_MODEL is not: the demo bot stays extractive."
            bot = bot_create(
                name=DEMO_BOT_NAME,
                description="Answers questions about MiniRAG from short built-in texts.",
                model=model,
                system_prompt=DEMO_SYSTEM_PROMPT,
            )
        sources = []
        for name, text in DEMO_SOURCES.items():
            source = Source.objects.filter(bot_profile=bot, name=name, is_active=True).first()
            if source is None:
                source = source_create(bot_profile_id=bot.id, name=name, source_type="text", content=text)
            elif source.content != text:  # the demo's texts were improved since this tenant was made
                source = source_update(source=source, changes={"content": text})
            if source.status != SourceStatus.READY:
                source_run_ingestion(source_id=str(source.id))
                source.refresh_from_db()
            sources.append(source)
        return DemoBot(bot=bot, sources=sources, created=created, hint=hint)
