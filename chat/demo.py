"""The demo bot `make run` creates, so a newcomer can chat at once — with no provider key at all.

Without a provider key (and no DEFAULT_LLM_MODEL override) the bot's model is `extractive`: it answers with
the best passages of its knowledge, cited, without any LLM. With OPENAI_API_KEY (or DEFAULT_LLM_MODEL set)
it uses that model through LiteLLM. Its knowledge is a short text about MiniRAG, ingested here (sparse
retrieval unless DEFAULT_EMBEDDING_MODEL is set).
"""

import os
from dataclasses import dataclass

from django.conf import settings

from minirag.integrations.llm import EXTRACTIVE_MODEL
from minirag.tenancy import tenant_context

BOT_DEFAULT_MODEL = "gpt-4o-mini"  # what .env.example ships; without a key it cannot answer
DEMO_BOT_NAME = "MiniRAG guide"
DEMO_SOURCE_NAME = "About MiniRAG"
DEMO_SYSTEM_PROMPT = "You are the MiniRAG guide. Answer questions about MiniRAG briefly and cite your sources."
DEMO_TEXT = """\
MiniRAG is a multi-tenant retrieval-augmented generation platform. Each tenant gets its own PostgreSQL schema, \
so one tenant's bots, sources, chats and usage are invisible to every other tenant.

A bot profile holds a model, a system prompt, sampling settings and optional provider credentials, which are \
encrypted at rest. Sources are the bot's knowledge: pasted text, uploaded files (txt, md, csv, pdf, docx) or web \
pages. Ingestion extracts the text, splits it into chunks of about 512 tokens and indexes them for lexical \
search, plus dense vectors when an embedding model is configured.

To chat, send POST /v1/chat with a bot_profile_id and a message. The answer cites the passages it used as [1], \
[2] and so on, and the response lists those sources with their names. Add "stream": true to receive the answer \
as server-sent events: a sources event first, then delta events with the text, then a done event with the usage.

Without any provider key, the demo bot runs in extractive mode: it answers with the most relevant passages of \
its knowledge base instead of calling a language model. Set OPENAI_API_KEY (or another provider key together \
with DEFAULT_LLM_MODEL) to let the bot write answers with a model through LiteLLM.

Every model call is recorded as a usage event with its tokens and its cost in US dollars. The stats endpoints \
under /v1/stats show usage per day, per bot and per model, a monthly cost estimate and feedback rates. Users can \
rate answers with positive or negative feedback, and chats can be exported as JSON or CSV.
"""
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
    source: object
    created: bool
    hint: str = ""


def demo_bot_ensure(*, tenant) -> DemoBot:
    """Create the demo bot and its ingested source in `tenant` if missing (idempotent); ingest synchronously."""
    from bots.models import BotProfile
    from bots.services import bot_create
    from sources.models import Source, SourceStatus
    from sources.services import source_create, source_run_ingestion

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
                description="Answers questions about MiniRAG from a short built-in text.",
                model=model,
                system_prompt=DEMO_SYSTEM_PROMPT,
            )
        source = Source.objects.filter(bot_profile=bot, name=DEMO_SOURCE_NAME, is_active=True).first()
        if source is None:
            source = source_create(bot_profile_id=bot.id, name=DEMO_SOURCE_NAME, source_type="text", content=DEMO_TEXT)
        if source.status != SourceStatus.READY:
            source_run_ingestion(source_id=str(source.id))
            source.refresh_from_db()
        return DemoBot(bot=bot, source=source, created=created, hint=hint)
