import pytest

from minirag import events
from minirag.integrations import vectorstore


@pytest.fixture(autouse=True)
def fresh_vectorstore():
    """Each test gets an empty embedded (:memory:) Qdrant; database rollbacks do not reach it."""
    vectorstore.reset_client()
    yield
    vectorstore.reset_client()


@pytest.fixture
def captured_events():
    """Events emitted (after commit) during the test, as (event, payload) pairs."""
    seen: list[tuple[str, dict]] = []

    def subscriber(schema_name, event, payload):
        seen.append((event, payload))

    events.subscribe(subscriber)
    yield seen
    events._subscribers.remove(subscriber)


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run on_commit callbacks (task enqueueing, events) inside the test transaction, like a real commit."""

    def runner(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return runner


@pytest.fixture(scope="session")
def tenant_rows_restored_at_session_end(_session_tenants, django_db_blocker):
    """This test's flush empties the public tables. tenant_a.restore() repairs that for later tests, but if
    this test runs last, the next --reuse-db session would find the schemas without their tenant rows."""
    yield
    with django_db_blocker.unblock():
        for handle in _session_tenants.values():
            handle.restore()
