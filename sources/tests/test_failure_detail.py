"""A failed source has two texts: `error_message`, safe for the tenant (the API), and `error_detail`, the real cause
for operators (the console's source page), with anything key-like masked. No API response ever carries the detail."""

from datetime import timedelta

import lxml.html
import pytest
from django.utils import timezone
from rest_framework import serializers

from bots.services import bot_create
from minirag.integrations import embeddings
from minirag.tenancy import tenant_context
from sources import services
from sources.models import Source, SourceStatus
from sources.pipeline import ingest as pipeline
from sources.tasks import sweep_stuck_sources

pytestmark = pytest.mark.django_db

LEAKED_KEY = "sk-live-9f8e7d6c5b4a39281706"
INTERNAL_ERROR = "Ingestion failed because of an internal error; try again later"


def _ingest(run_on_commit, source: Source) -> Source:
    run_on_commit(services.source_ingest, source=source, trigger="test")
    source.refresh_from_db()
    return source


def _console_failure(operator, source) -> tuple[str, str]:
    """(the safe message, the operator-only cause) as the console's source page shows them."""
    answer = operator.get(f"/admin/sources/source/{source.pk}/change/?tenant=tenant-a")
    page = lxml.html.fromstring(answer.content.decode())
    message = page.xpath('//*[@id="source-failure-message"]')[0].text_content()
    detail = page.xpath('//*[@id="source-failure-detail"]')
    return message, detail[0].text_content() if detail else ""


def _api_texts(tenant_a, source) -> list[str]:
    """Every API answer that shows the source: its page, the list, its bot's list, a partial update."""
    client = tenant_a.client()
    answers = [
        client.get(f"/v1/sources/{source.pk}"),
        client.get("/v1/sources"),
        client.get(f"/v1/sources?bot_profile_id={source.bot_profile_id}"),
        client.patch(f"/v1/sources/{source.pk}", {"description": "still failing"}, format="json"),
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 200]
    return [answer.content.decode() for answer in answers]


def _raise_internal(*args, **kwargs):
    raise RuntimeError(f"pdf object 12 0 has no /Kids (decoder called with key {LEAKED_KEY})")


def test_an_internal_error_shows_the_safe_message_to_the_tenant_and_the_real_cause_to_operators(
    operator, tenant_a, run_on_commit, monkeypatch
):
    # Given an extractor that crashes with a message quoting a key
    monkeypatch.setattr(pipeline, "extract_by_kind", _raise_internal)
    with tenant_context(tenant_a.tenant):
        bot = bot_create(name="Detail bot")
        source = _ingest(run_on_commit, Source.objects.create(bot_profile=bot, name="Broken", source_type="text",
                                                               content="Some text"))  # fmt: skip

    # Then the tenant reads the safe message and nothing of the cause
    assert source.status == SourceStatus.ERROR and source.error_message == INTERNAL_ERROR
    tenant_view = tenant_a.client().get(f"/v1/sources/{source.pk}").json()
    assert tenant_view["error_message"] == INTERNAL_ERROR
    for text in _api_texts(tenant_a, source):
        assert "error_detail" not in text and "RuntimeError" not in text and "/Kids" not in text
    # And the operator reads both: the safe message and the exception, where it was raised, the key masked
    message, detail = _console_failure(operator, source)
    assert message == INTERNAL_ERROR
    assert detail.startswith("RuntimeError: pdf object 12 0 has no /Kids (decoder called with key [redacted])")
    assert "(at sources/tests/test_failure_detail.py:" in detail
    assert LEAKED_KEY not in detail and "live-9f8e" not in source.error_detail


def test_an_embedding_provider_error_keeps_the_providers_words_redacted_for_operators(
    operator, tenant_a, fake_openai, run_on_commit, settings, monkeypatch
):
    # Given a dense bot whose provider refuses the request with a message quoting a key and a long token
    settings.MINIRAG_ALLOW_PRIVATE_NETWORK = True
    monkeypatch.setattr(embeddings, "_sleep", lambda seconds: None)
    token = "a3f9c2e87b1d4f6a9c0e2b4d6f8a1c3e5b7d9f0a"
    said = f"Invalid model 'text-embedding-4' for key {LEAKED_KEY}; request id {token}"
    fake_openai.fail_next(1, status=400, message=said)
    with tenant_context(tenant_a.tenant):
        bot = bot_create(name="Dense detail", embedding_model="openai/fake-embed-16",
                         credentials={"api_key": "test-key", "api_base": fake_openai.base_url})  # fmt: skip
        source = _ingest(run_on_commit, Source.objects.create(bot_profile=bot, name="Owls", source_type="text",
                                                               content="Owls hunt at night."))  # fmt: skip

    # Then the tenant reads the fixed message, the operator the provider's own words without the secrets
    safe = "The embedding provider refused the request (check the embedding model name)"
    assert source.status == SourceStatus.ERROR and source.error_message == safe
    for text in _api_texts(tenant_a, source):
        assert "text-embedding-4" not in text and "BadRequestError" not in text
    message, detail = _console_failure(operator, source)
    assert message == safe
    assert detail.startswith(f"EmbeddingError: {safe} — provider: BadRequestError (HTTP 400): ")
    assert "Invalid model 'text-embedding-4' for key [redacted]; request id [redacted]" in detail
    assert LEAKED_KEY not in detail and token not in detail and "test-key" not in detail


def test_a_successful_run_clears_the_detail(tenant_a, run_on_commit, monkeypatch):
    with tenant_context(tenant_a.tenant):
        bot = bot_create(name="Recovering bot")
        source = Source.objects.create(bot_profile=bot, name="Flaky", source_type="text", content="Quokkas smile.")
        with monkeypatch.context() as patched:
            patched.setattr(pipeline, "extract_by_kind", _raise_internal)
            source = _ingest(run_on_commit, source)
        assert source.status == SourceStatus.ERROR and source.error_detail.startswith("RuntimeError")

        source = _ingest(run_on_commit, source)

    assert source.status == SourceStatus.READY
    assert source.error_message is None and source.error_detail == ""


def test_a_dead_run_says_when_its_lease_lapsed(tenant_a, settings):
    with tenant_context(tenant_a.tenant):
        bot = bot_create(name="Dead worker bot")
        lapsed = timezone.now() - timedelta(seconds=settings.INGEST_LEASE_SECONDS + 60)
        source = Source.objects.create(bot_profile=bot, name="Stuck", source_type="text", content="x",
                                       status=SourceStatus.PROCESSING, processing_started_at=lapsed,
                                       heartbeat_at=lapsed)  # fmt: skip

        sweep_stuck_sources()
        source.refresh_from_db()

    assert source.status == SourceStatus.ERROR
    assert source.error_detail.startswith("The run's lease lapsed: started ")
    assert lapsed.strftime("%Y-%m-%d %H:%M") in source.error_detail


def _model_serializers(cls=serializers.ModelSerializer):
    for sub in cls.__subclasses__():
        yield sub
        yield from _model_serializers(sub)


def test_no_api_serializer_of_a_source_has_the_detail(tenant_a):
    # Every API module is imported by the URL conf; none serializes the operator-only field.
    tenant_a.client().get("/v1/sources")
    source_serializers = [s for s in _model_serializers() if getattr(getattr(s, "Meta", None), "model", None) is Source]
    assert source_serializers, "the sources API serializes sources with a ModelSerializer"
    for serializer in source_serializers:
        assert "error_detail" not in serializer().fields, serializer
