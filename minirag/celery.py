"""The Celery app. Tasks are tenant-aware (tenant-schemas-celery): they run in the schema that queued them.

Every app's `tasks` module is imported when the app is finalized (the first time a task is used or looked
up), in web processes and commands as in workers and beat, so a task is always found by its name. Beat runs
`HeartbeatScheduler`, which leaves a heartbeat in Redis that `manage.py doctor` reads.
"""

import json
import os
import socket
import time

from celery.beat import PersistentScheduler
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minirag.settings")

app = CeleryApp("minirag")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # workers and beat import the task modules at start (import_default_modules)

BEAT_HEARTBEAT_KEY = "minirag:beat:heartbeat"
BEAT_HEARTBEAT_SECONDS = 10.0  # at most one write per this many seconds
BEAT_HEARTBEAT_TTL = 120  # the key expires when beat is gone


@app.on_after_finalize.connect
def _import_task_modules(sender, **kwargs) -> None:
    # Web processes and management commands never run import_default_modules; without this a task defined
    # in a module nobody imported yet (e.g. sources.tasks.sweep_stuck_sources) is NotRegistered by name.
    from django.apps import apps

    if apps.ready:
        sender.autodiscover_tasks(force=True)


def beat_heartbeat_client():
    """A Redis client on the broker, or None when the broker is not Redis."""
    url = app.conf.broker_url or ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


class HeartbeatScheduler(PersistentScheduler):
    """Celery's default scheduler, plus a heartbeat: each tick (beat wakes at least every
    CELERY_BEAT_MAX_LOOP_INTERVAL seconds) records when, where and which entries beat schedules."""

    _last_heartbeat = 0.0
    _client = None

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        now = time.time()
        if now - self._last_heartbeat >= BEAT_HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            self._write_heartbeat(now)
        return interval

    def _write_heartbeat(self, now: float) -> None:
        try:
            if self._client is None:
                self._client = beat_heartbeat_client()
            if self._client is not None:
                beat = {"at": now, "pid": os.getpid(), "host": socket.gethostname(), "entries": sorted(self.schedule)}
                self._client.set(BEAT_HEARTBEAT_KEY, json.dumps(beat), ex=BEAT_HEARTBEAT_TTL)
        except Exception:  # noqa: BLE001 - a heartbeat must never stop beat
            self._client = None


def read_beat_heartbeat() -> dict | None:
    """Beat's last heartbeat ({"at", "age", "pid", "host", "entries"}), or None when there is none."""
    client = beat_heartbeat_client()
    if client is None:
        return None
    try:
        raw = client.get(BEAT_HEARTBEAT_KEY)
    finally:
        client.close()
    if not raw:
        return None
    beat = json.loads(raw)
    beat["age"] = max(0.0, time.time() - beat["at"])
    return beat
