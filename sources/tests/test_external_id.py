"""`external_id`: a client's stable key for a source. Creating or uploading with a key the bot already has
updates that source (200) instead of adding a copy (201); keys are unique per bot among active sources."""

import threading
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from bots.models import BotProfile
from minirag.tenancy import tenant_context
from sources import services
from sources.models import Source
from sources.retrieval import retrieve
from sources.services import upsert as upsert_service

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(tenant_a):
    with tenant_context(tenant_a.tenant):
        return BotProfile.objects.create(name="Keyed bot")


@pytest.fixture
def client(tenant_a):
    return tenant_a.client()


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def queued():
    with mock.patch("sources.tasks.ingest_source.apply_async") as delay:
        yield delay


def _text(client, bot, **extra):
    body = {"bot_profile_id": str(bot.pk), "name": "Refunds", "source_type": "text", "content": "Refunds take 5 days."}
    return client.post("/v1/sources", {**body, **extra}, format="json")


def _upload(client, bot, name, data, **fields):
    return client.post(
        "/v1/sources/upload",
        {"file": SimpleUploadedFile(name, data), "bot_profile_id": str(bot.pk), **fields},
        format="multipart",
    )


def _count(tenant, **filters):
    with tenant_context(tenant.tenant):
        return Source.objects.filter(**filters).count()


def test_create_then_upsert_answers_201_then_200_with_the_same_source(client, bot, tenant_a, capture):
    created = _text(client, bot, external_id="kb/refunds")
    assert created.status_code == 201, created.content
    source_id = created.json()["id"]
    assert created.json()["external_id"] == "kb/refunds"
    with capture(execute=True):
        client.post(f"/v1/sources/{source_id}/ingest")

    same = _text(client, bot, external_id="kb/refunds", name="Refund policy")

    assert same.status_code == 200, same.content
    assert same.json()["id"] == source_id and same.json()["name"] == "Refund policy"
    assert same.json()["status"] == "ready"  # same content: its knowledge is untouched, nothing to re-ingest

    changed = _text(client, bot, external_id="kb/refunds", content="Refunds take 3 days.")

    assert changed.status_code == 200 and changed.json()["id"] == source_id
    assert changed.json()["status"] == "pending"  # new content: back to pending, re-ingested on request
    assert _count(tenant_a, bot_profile=bot) == 1
    with tenant_context(tenant_a.tenant):  # the old version stays searchable until then
        assert "5 days" in retrieve(bot=bot, query="refunds days")[0].content
    with capture(execute=True):
        client.post(f"/v1/sources/{source_id}/ingest")
    with tenant_context(tenant_a.tenant):
        assert "3 days" in retrieve(bot=bot, query="refunds days")[0].content


def test_upload_upsert_same_bytes_change_nothing_new_bytes_replace_and_reingest(client, bot, tenant_a, capture):
    with capture(execute=True):
        first = _upload(client, bot, "otters.txt", b"Otters hold hands while sleeping.", external_id="zoo/otters")
    assert first.status_code == 201, first.content
    with tenant_context(tenant_a.tenant):
        stored = Source.objects.get(pk=first.json()["id"])
    old_file, old_document = stored.file.name, stored.current_document_id

    with mock.patch("sources.tasks.ingest_source.apply_async") as delay:
        same = _upload(client, bot, "otters.txt", b"Otters hold hands while sleeping.", external_id="zoo/otters")
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    assert same.json()["status"] == "ready"
    delay.assert_not_called()

    with capture(execute=True):
        changed = _upload(client, bot, "otters.txt", b"Otters use stones as tools.", external_id="zoo/otters")

    assert changed.status_code == 200 and changed.json()["id"] == first.json()["id"]
    assert changed.json()["stage"] == "queued"
    assert _count(tenant_a, bot_profile=bot) == 1
    with tenant_context(tenant_a.tenant):
        source = Source.objects.get(pk=first.json()["id"])
        assert source.status == "ready" and source.current_document_id != old_document
        assert "stones" in retrieve(bot=bot, query="otters stones tools")[0].content
        assert not default_storage.exists(old_file) and default_storage.exists(source.file.name)


def test_patch_to_a_key_another_source_has_is_409(client, bot, tenant_a):
    first = _text(client, bot, external_id="a").json()
    second = _text(client, bot, external_id="b").json()

    response = client.patch(f"/v1/sources/{second['id']}", {"external_id": "a"}, format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": "external_id 'a' is already used by another active source of this bot"}
    assert client.patch(f"/v1/sources/{first['id']}", {"external_id": "a"}, format="json").status_code == 200
    cleared = client.patch(f"/v1/sources/{second['id']}", {"external_id": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["external_id"] == ""
    assert client.patch(f"/v1/sources/{second['id']}", {"external_id": "c"}, format="json").json()["external_id"] == "c"


def test_a_retired_source_frees_its_key_and_cannot_come_back_while_it_is_taken(client, bot, tenant_a):
    old = _text(client, bot, external_id="k").json()
    assert client.delete(f"/v1/sources/{old['id']}").status_code == 204

    new = _text(client, bot, external_id="k")
    assert new.status_code == 201 and new.json()["id"] != old["id"]

    response = client.patch(f"/v1/sources/{old['id']}", {"is_active": True}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": "external_id 'k' is already used by another active source of this bot"}


def test_a_key_of_another_type_or_parent_is_409(client, bot):
    _text(client, bot, external_id="k")
    response = _text(client, bot, external_id="k", source_type="url", content=None, config={"url": "https://a.example"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "external_id 'k' belongs to a text source of this bot; it cannot be replaced by a url source"
    }
    response = _upload(client, bot, "k.txt", b"text", external_id="k")
    assert response.status_code == 409


@pytest.mark.parametrize("key", ["x" * 513, "line\nbreak", "bell\x07", "nul\x00"])
def test_a_key_too_long_or_with_control_characters_is_422(client, bot, key):
    assert _text(client, bot, external_id=key).status_code == 422
    source = _text(client, bot).json()
    response = client.patch(f"/v1/sources/{source['id']}", {"external_id": key}, format="json")
    assert response.status_code == 422 and "detail" in response.json()


def test_a_key_is_kept_exactly_and_512_characters_are_accepted(client, bot):
    assert _text(client, bot, external_id=" padded ").json()["external_id"] == " padded "
    assert _text(client, bot, external_id="é" * 512).status_code == 201


def test_two_bots_may_share_a_key(client, bot, tenant_a):
    with tenant_context(tenant_a.tenant):
        other = BotProfile.objects.create(name="Other bot")
    assert _text(client, bot, external_id="shared").status_code == 201
    assert _text(client, other, external_id="shared").status_code == 201
    assert _count(tenant_a, external_id="shared") == 2


def test_another_tenants_key_is_its_own(client, bot, tenant_a, tenant_b):
    mine = _text(client, bot, external_id="shared").json()
    with tenant_context(tenant_b.tenant):
        theirs_bot = BotProfile.objects.create(name="B bot")
    response = tenant_b.client().post(
        "/v1/sources",
        {"bot_profile_id": str(theirs_bot.pk), "name": "B", "source_type": "text", "content": "B's text.",
         "external_id": "shared"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201 and response.json()["id"] != mine["id"]
    # A's bot is not B's to upsert into: it does not exist there.
    response = tenant_b.client().post(
        "/v1/sources",
        {"bot_profile_id": str(bot.pk), "name": "B", "source_type": "text", "content": "x", "external_id": "shared"},
        format="json",
    )
    assert response.status_code == 422
    assert client.get(f"/v1/sources/{mine['id']}").json()["name"] == "Refunds"


@pytest.mark.django_db(transaction=True)
def test_concurrent_upserts_of_one_new_key_make_one_source(tenant_rows_restored_at_session_end, tenant_a):
    with tenant_context(tenant_a.tenant):
        bot = BotProfile.objects.create(name="Race bot")
    lookup = upsert_service._locked_by_external_id
    both_looked = threading.Barrier(2, timeout=10)
    first_lookup = threading.local()

    def racing_lookup(*args, **kwargs):
        found = lookup(*args, **kwargs)
        if not getattr(first_lookup, "done", False):  # both threads find nothing, then both insert
            first_lookup.done = True
            both_looked.wait()
        return found

    outcomes, errors = [], []

    def upsert(content):
        from django.db import connection

        try:
            with tenant_context(tenant_a.tenant):
                outcomes.append(
                    services.source_upsert(
                        bot_profile_id=bot.pk, name="Race", source_type="text", content=content, external_id="race"
                    ).outcome
                )
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    try:
        with mock.patch.object(upsert_service, "_locked_by_external_id", racing_lookup):
            threads = [threading.Thread(target=upsert, args=(text,)) for text in ("First.", "Second.")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
        assert errors == []
        assert sorted(outcomes) == ["created", "updated"]
        with tenant_context(tenant_a.tenant):
            assert Source.objects.filter(bot_profile=bot, external_id="race").count() == 1
    finally:
        with tenant_context(tenant_a.tenant):
            BotProfile.objects.filter(pk=bot.pk).delete()


def test_an_upload_made_before_digests_were_recorded_is_compared_by_its_stored_file(client, bot, tenant_a, queued):
    with tenant_context(tenant_a.tenant):
        source = Source(bot_profile=bot, name="old.txt", source_type="upload", external_id="old.txt", status="ready")
        source.file.save("old.txt", ContentFile(b"Legacy bytes."), save=False)
        source.save()

    response = _upload(client, bot, "old.txt", b"Legacy bytes.", external_id="old.txt")

    assert response.status_code == 200 and response.json()["status"] == "ready"
    queued.assert_not_called()
