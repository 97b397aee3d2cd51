"""Every path fires its event to subscribed webhooks: JSON and streamed chat replies, ingestion success and
early ingestion failures (which the reference skipped)."""

import pytest

from minirag.tenancy import tenant_context
from tenants.webhooks import services
from tenants.webhooks.tests.receiver import Receiver

pytestmark = pytest.mark.django_db

SECRET = "e2e-receiver-secret-0123456789"


@pytest.fixture
def receiver(settings):
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    settings.DEFAULT_EMBEDDING_MODEL = ""  # lexical index only
    with Receiver(secret=SECRET) as running:
        yield running


def _subscribe(tenant, url: str, events: list[str]) -> None:
    with tenant_context(tenant):
        services.webhook_create(url=url, events=events, secret=SECRET)


def _bot(tenant):
    from bots.services import bot_create

    with tenant_context(tenant):
        return bot_create(name="Extractive", model="extractive")


def _ingest(tenant, bot, capture, **fields):
    from sources.models import Source
    from sources.services import source_create, source_ingest

    with tenant_context(tenant):
        with capture(execute=True):
            source = source_create(bot_profile_id=bot.id, name=fields.pop("name", "doc"), **fields)
            source_ingest(source=source)
        return Source.objects.get(pk=source.pk)


def test_json_chat_reply_fires_chat_message(tenant_a, receiver, django_capture_on_commit_callbacks):
    _subscribe(tenant_a.tenant, receiver.url, ["chat.message"])
    bot = _bot(tenant_a.tenant)

    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client().post(
            "/v1/chat", {"bot_profile_id": str(bot.id), "message": "hello"}, format="json"
        )

    assert response.status_code == 200, response.content
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.signature_valid and got.headers["X-MiniRAG-Event"] == "chat.message"
    assert got.json["chat_id"] == response.json()["chat_id"]
    assert got.json["message_id"] == response.json()["message"]["id"]
    assert got.json["bot_profile_id"] == str(bot.id)


def test_streamed_chat_reply_fires_chat_message(tenant_a, receiver, django_capture_on_commit_callbacks):
    _subscribe(tenant_a.tenant, receiver.url, ["chat.message"])
    bot = _bot(tenant_a.tenant)

    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.client().post(
            "/v1/chat", {"bot_profile_id": str(bot.id), "message": "hello", "stream": True}, format="json"
        )
        body = b"".join(response.streaming_content)

    assert response.status_code == 200 and b"event: done" in body
    assert len(receiver.received) == 1
    assert receiver.received[0].signature_valid and receiver.received[0].json["event"] == "chat.message"
    assert receiver.received[0].json["chat_id"] in body.decode()


def test_successful_ingestion_fires_source_ingested(tenant_a, receiver, django_capture_on_commit_callbacks):
    _subscribe(tenant_a.tenant, receiver.url, ["source.ingested", "source.failed"])
    bot = _bot(tenant_a.tenant)

    source = _ingest(
        tenant_a.tenant, bot, django_capture_on_commit_callbacks, source_type="text", content="Blipton is a city."
    )

    assert [r.json["event"] for r in receiver.received] == ["source.ingested"]
    body = receiver.received[0].json
    assert body["source_id"] == str(source.id) and body["chunk_count"] == source.chunk_count >= 1


@pytest.mark.parametrize(
    "fields",
    [
        {"source_type": "text", "content": "   "},  # no content after extraction
        {"source_type": "url", "config": {}},  # a URL source without a URL
        {"source_type": "url", "config": {"url": "http://169.254.169.254/latest/meta-data"}},  # refused by the guard
        {"source_type": "upload"},  # the uploaded file is missing
    ],
    ids=["empty-text", "url-missing", "url-refused", "upload-missing"],
)
def test_early_ingestion_failures_fire_source_failed(tenant_a, receiver, django_capture_on_commit_callbacks, fields):
    from sources.models import Source
    from sources.services import source_ingest

    _subscribe(tenant_a.tenant, receiver.url, ["source.failed"])
    bot = _bot(tenant_a.tenant)
    with tenant_context(tenant_a.tenant):
        # Stored directly: the API would refuse some of these up front, but data can still end up like this
        # (a file lost from storage, a page emptied, a URL that resolves somewhere else later).
        source = Source.objects.create(bot_profile=bot, name="broken", **fields)
        with django_capture_on_commit_callbacks(execute=True):
            source_ingest(source=source)
        source.refresh_from_db()

    assert source.status == "error"
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.signature_valid and got.json["event"] == "source.failed"
    assert got.json["source_id"] == str(source.id) and got.json["error"]
