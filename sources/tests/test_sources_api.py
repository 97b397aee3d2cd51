"""Sources over the API (§1.6): validation, listing with aggregation, lifecycle, upload, batch, isolation."""

import io
import uuid
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from bots.models import BotProfile
from minirag.tenancy import tenant_context
from sources.models import Source, SourceStatus
from sources.pipeline.extract import UPLOAD_KINDS

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(tenant_a):
    with tenant_context(tenant_a.tenant):
        return BotProfile.objects.create(name="Docs bot")


@pytest.fixture
def client(tenant_a):
    return tenant_a.client()


def _text(client, bot, **extra):
    body = {"bot_profile_id": str(bot.pk), "name": "Notes", "source_type": "text", "content": "Hello world."}
    return client.post("/v1/sources", {**body, **extra}, format="json")


def test_create_text_source_is_pending_and_not_ingested(client, bot, tenant_a):
    with mock.patch("sources.tasks.ingest_source.apply_async") as queued:
        response = _text(client, bot, refresh_schedule="daily", description="d")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["stage"] is None and body["progress"] == 0
    assert body["tenant_id"] == str(tenant_a.tenant.id) and body["bot_profile_id"] == str(bot.pk)
    assert body["refresh_schedule"] == "daily" and body["children_count"] == 0 and body["is_active"] is True
    assert set(body) >= {"document_count", "chunk_count", "error_message", "last_refreshed_at", "config"}
    queued.assert_not_called()


@pytest.mark.parametrize(
    "extra",
    [
        {"content": ""},
        {"content": None},
        {"source_type": "url", "content": None, "config": {}},
        {"source_type": "url", "config": {"url": "ftp://example.com/file"}},
        {"source_type": "url", "config": {"url": "not a url"}},
        {"source_type": "url", "config": {"url": "http://169.254.169.254/latest/meta-data"}},
        {"source_type": "url", "config": {"url": "http://127.0.0.1:8000/admin"}},
        {"source_type": "nyxcore"},
        {"source_type": "upload"},
        {"refresh_schedule": "every minute"},
    ],
)
def test_type_specific_validation_is_422(client, bot, extra):
    response = _text(client, bot, **extra)
    assert response.status_code == 422, response.content
    assert "detail" in response.json()


def test_foreign_or_unknown_bot_is_422(client, tenant_b):
    with tenant_context(tenant_b.tenant):
        foreign = BotProfile.objects.create(name="B's bot")
    for bot_id in (foreign.pk, uuid.UUID(int=0)):
        response = client.post(
            "/v1/sources",
            {"bot_profile_id": str(bot_id), "name": "x", "source_type": "text", "content": "hi"},
            format="json",
        )
        assert response.status_code == 422
        assert response.json() == {"detail": "Bot profile not found or belongs to a different tenant"}


def test_parent_validation(client, bot, tenant_a):
    parent = _text(client, bot).json()
    child = _text(client, bot, parent_id=parent["id"]).json()
    assert _text(client, bot, parent_id=str(uuid.uuid4())).json() == {"detail": "Source not found"}
    assert _text(client, bot, parent_id=child["id"]).json() == {"detail": "Nesting beyond one level is not allowed"}
    with tenant_context(tenant_a.tenant):
        other_bot = BotProfile.objects.create(name="other")
    response = _text(client, other_bot, parent_id=parent["id"])
    assert response.status_code == 422
    assert response.json() == {"detail": "Parent source belongs to a different bot profile"}


def test_ingest_queues_and_runs_in_the_worker(client, bot, django_capture_on_commit_callbacks):
    source = _text(client, bot, content="Sunflowers follow the sun across the sky.").json()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/v1/sources/{source['id']}/ingest")
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "message": f"Ingestion queued for source {source['id']}"}
    body = client.get(f"/v1/sources/{source['id']}").json()
    assert (body["status"], body["stage"], body["progress"]) == ("ready", "done", 100)
    assert body["document_count"] == 1 and body["chunk_count"] == 1


def test_ingest_while_processing_is_409(client, bot, tenant_a):
    source = _text(client, bot).json()
    with tenant_context(tenant_a.tenant):
        from django.utils import timezone

        Source.objects.filter(pk=source["id"]).update(status="processing", processing_started_at=timezone.now())
    response = client.post(f"/v1/sources/{source['id']}/ingest")
    assert response.status_code == 409
    assert response.json() == {"detail": "Source is already being processed"}


def test_patch_content_resets_to_pending_and_delete_is_soft(client, bot, django_capture_on_commit_callbacks):
    source = _text(client, bot).json()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/v1/sources/{source['id']}/ingest")
    assert client.get(f"/v1/sources/{source['id']}").json()["status"] == "ready"

    response = client.patch(f"/v1/sources/{source['id']}", {"content": "New text."}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "pending"
    assert client.patch(f"/v1/sources/{source['id']}", {"content": ""}, format="json").status_code == 422
    renamed = client.patch(f"/v1/sources/{source['id']}", {"name": "Renamed"}, format="json").json()
    assert renamed["name"] == "Renamed" and renamed["status"] == "pending"

    assert client.delete(f"/v1/sources/{source['id']}").status_code == 204
    gone = client.get(f"/v1/sources/{source['id']}")
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    assert source["id"] not in [s["id"] for s in client.get("/v1/sources").json()]
    assert client.post(f"/v1/sources/{source['id']}/ingest").status_code == 409


def test_batch_children_listing_and_aggregation(client, bot, tenant_a, django_assert_max_num_queries):
    children = [{"name": f"Child {n}", "source_type": "text", "content": f"Child number {n} text."} for n in range(3)]
    response = client.post(
        "/v1/sources/batch",
        {"bot_profile_id": str(bot.pk), "name": "Batch", "children": children},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    parent_id = body["parent"]["id"]
    assert body["parent"]["children_count"] == 3 and body["parent"]["source_type"] == "url"
    assert [c["name"] for c in body["children"]] == ["Child 0", "Child 1", "Child 2"]

    listed = client.get(f"/v1/sources/{parent_id}/children").json()
    assert [c["name"] for c in listed] == ["Child 0", "Child 1", "Child 2"]  # oldest first

    with tenant_context(tenant_a.tenant):
        ids = [c["id"] for c in listed]
        Source.objects.filter(pk=ids[0]).update(status=SourceStatus.READY, chunk_count=4)
        Source.objects.filter(pk=ids[1]).update(status=SourceStatus.READY, chunk_count=6)
        Source.objects.filter(pk=ids[2]).update(status=SourceStatus.ERROR)
    parent = client.get(f"/v1/sources/{parent_id}").json()
    assert (parent["status"], parent["chunk_count"], parent["children_count"]) == ("error", 10, 3)

    top = client.get("/v1/sources", {"bot_profile_id": str(bot.pk)}).json()
    assert [s["id"] for s in top] == [parent_id]  # children hidden from the default list
    assert top[0]["status"] == "error" and top[0]["chunk_count"] == 10
    flat = client.get("/v1/sources", {"include_children": "true"}).json()
    assert {parent_id, *ids} <= {s["id"] for s in flat}
    assert len(client.get("/v1/sources", {"parent_id": parent_id}).json()) == 3

    # More parents with children: the list still costs a fixed number of queries (no N+1).
    for n in range(5):
        client.post(
            "/v1/sources/batch",
            {"bot_profile_id": str(bot.pk), "name": f"B{n}", "children": children[:2]},
            format="json",
        )
    with django_assert_max_num_queries(8):
        assert len(client.get("/v1/sources").json()) >= 6


def test_batch_validation(client, bot, tenant_b):
    assert client.post(
        "/v1/sources/batch", {"bot_profile_id": str(bot.pk), "name": "B", "children": []}, format="json"
    ).json() == {"detail": "At least one child source is required"}
    with tenant_context(tenant_b.tenant):
        foreign = BotProfile.objects.create(name="B's")
    response = client.post(
        "/v1/sources/batch", {"bot_profile_id": str(foreign.pk), "name": "B", "children": []}, format="json"
    )
    assert response.json() == {"detail": "Bot profile not found or belongs to a different tenant"}
    bad_child = [{"name": "c", "source_type": "url", "config": {}}]
    response = client.post(
        "/v1/sources/batch", {"bot_profile_id": str(bot.pk), "name": "B", "children": bad_child}, format="json"
    )
    assert response.status_code == 422


def test_ingest_children_counts_enqueued(client, bot, django_capture_on_commit_callbacks):
    children = [{"name": f"C{n}", "source_type": "text", "content": f"Fact number {n}."} for n in range(2)]
    parent = client.post(
        "/v1/sources/batch", {"bot_profile_id": str(bot.pk), "name": "P", "children": children}, format="json"
    ).json()["parent"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/v1/sources/{parent['id']}/ingest-children")
    assert response.status_code == 202
    assert response.json() == {
        "status": "accepted", "message": "Ingestion queued for 2 child sources", "enqueued": 2,
    }  # fmt: skip
    assert client.get(f"/v1/sources/{parent['id']}").json()["status"] == "ready"
    lonely = _text(client, bot).json()
    assert client.post(f"/v1/sources/{lonely['id']}/ingest-children").json()["enqueued"] == 0


def _upload(client, bot, name, data, **fields):
    return client.post(
        "/v1/sources/upload",
        {"file": SimpleUploadedFile(name, data), "bot_profile_id": str(bot.pk), **fields},
        format="multipart",
    )


def test_upload_stores_file_and_ingests_in_worker(client, bot, tenant_a, django_capture_on_commit_callbacks):
    import docx

    document = docx.Document()
    document.add_paragraph("Hummingbirds can fly backwards.")
    buffer = io.BytesIO()
    document.save(buffer)
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, bot, "Birds.DOCX", buffer.getvalue())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Birds.DOCX" and body["source_type"] == "upload"
    assert body["config"] == {"original_filename": "Birds.DOCX", "file_size": len(buffer.getvalue())}
    refreshed = client.get(f"/v1/sources/{body['id']}").json()
    assert refreshed["status"] == "ready", refreshed["error_message"]
    with tenant_context(tenant_a.tenant):
        source = Source.objects.get(pk=body["id"])
        assert source.file.name.startswith(f"sources/{connection.schema_name}/{source.pk}/")
        from sources.retrieval import retrieve

        assert "Hummingbirds" in retrieve(bot=source.bot_profile, query="hummingbirds fly backwards")[0].content


def test_upload_limits_and_types(client, bot, settings):
    response = _upload(client, bot, "virus.exe", b"MZ")
    assert response.status_code == 422
    allowed = ", ".join(sorted(UPLOAD_KINDS))  # which types: sources/tests/test_formats_ingest.py
    assert ".pdf, " in allowed and ".pptx, " in allowed and ".txt, " in allowed
    assert response.json() == {"detail": f"Unsupported file type: .exe. Allowed: {allowed}"}
    settings.MAX_UPLOAD_BYTES = 1024
    response = _upload(client, bot, "big.txt", b"x" * 1025)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("File too large. Maximum size is")
    missing_bot = client.post("/v1/sources/upload", {"file": SimpleUploadedFile("a.txt", b"hi")}, format="multipart")
    assert missing_bot.status_code == 422


def test_tenant_b_cannot_read_change_or_ingest_tenant_a_sources(client, bot, tenant_b):
    source = _text(client, bot).json()
    other = tenant_b.client()
    for method, path in (
        ("get", f"/v1/sources/{source['id']}"),
        ("patch", f"/v1/sources/{source['id']}"),
        ("delete", f"/v1/sources/{source['id']}"),
        ("post", f"/v1/sources/{source['id']}/ingest"),
        ("post", f"/v1/sources/{source['id']}/ingest-children"),
        ("get", f"/v1/sources/{source['id']}/children"),
    ):
        response = getattr(other, method)(path, {"name": "x"} if method == "patch" else None, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "Source not found"}
    assert source["id"] not in [s["id"] for s in other.get("/v1/sources", {"include_children": "true"}).json()]
    assert client.get(f"/v1/sources/{source['id']}").json()["is_active"] is True


def test_bad_query_parameters_are_422(client):
    assert client.get("/v1/sources", {"bot_profile_id": "nope"}).status_code == 422
    assert client.get("/v1/sources", {"include_children": "maybe"}).status_code == 422


def test_batch_children_limit(client, bot, settings):
    settings.MAX_BATCH_CHILDREN = 2
    children = [{"name": f"C{n}", "source_type": "text", "content": "x"} for n in range(3)]
    response = client.post(
        "/v1/sources/batch", {"bot_profile_id": str(bot.pk), "name": "B", "children": children}, format="json"
    )
    assert response.status_code == 422
    assert response.json() == {"detail": "Too many child sources: at most 2 per batch"}
