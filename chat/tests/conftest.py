"""Chat test fixtures: bots talking to the fake OpenAI server, and ingested knowledge."""

import json

import pytest

from minirag.tenancy import tenant_context

PARIS_TEXT = (
    "Quaxland is a small island nation in the northern sea. The capital of Quaxland is Blipton, a harbour city "
    "famous for its purple lighthouses. Blipton was founded in 1642 by fishermen.\n\n"
    "The national dish of Quaxland is smoked eel with rye bread."
)


@pytest.fixture
def fake_llm(fake_openai, settings):
    """The fake server, reachable through the SSRF guard, with quick failures."""
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_TIMEOUT_SECONDS = 5
    return fake_openai


def make_llm_bot(tenant, fake, **fields):
    from bots.services import bot_create

    with tenant_context(tenant):
        return bot_create(
            name=fields.pop("name", "LLM bot"),
            model=fields.pop("model", "openai/fake-chat"),
            system_prompt=fields.pop("system_prompt", "You are the Quaxland guide."),
            credentials={"api_key": "test-key", "api_base": fake.base_url},
            **fields,
        )


def make_extractive_bot(tenant, **fields):
    from bots.services import bot_create

    with tenant_context(tenant):
        return bot_create(name=fields.pop("name", "Extractive bot"), model="extractive", **fields)


def ingest_text(tenant, bot, *, name: str, content: str, capture):
    """Create a text source and run its ingestion (the Celery task runs eagerly on commit)."""
    from sources.models import Source, SourceStatus
    from sources.services import source_create, source_ingest

    with tenant_context(tenant):
        with capture(execute=True):
            source = source_create(bot_profile_id=bot.id, name=name, source_type="text", content=content)
            source_ingest(source=source)
        source = Source.objects.get(pk=source.pk)
        assert source.status == SourceStatus.READY, source.error_message
        return source


@pytest.fixture
def llm_bot(tenant_a, fake_llm):
    return make_llm_bot(tenant_a.tenant, fake_llm)


@pytest.fixture
def quaxland(tenant_a, llm_bot, django_capture_on_commit_callbacks):
    return ingest_text(
        tenant_a.tenant, llm_bot, name="Quaxland facts", content=PARIS_TEXT, capture=django_capture_on_commit_callbacks
    )


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    """Events of an SSE body as (name, data); comment lines are skipped."""
    events = []
    for block in raw.decode().split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        assert lines[0].startswith("event: ") and lines[1].startswith("data: ") and len(lines) == 2, block
        events.append((lines[0][7:], json.loads(lines[1][6:])))
    return events
