"""`manage.py healthcheck worker|beat`, the worker's and beat's container healthchecks, against a real Redis: a
worker process that answers and consumes its queues passes, one that is gone or misses a queue fails; beat's
heartbeat passes when it is recent and from this host."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from minirag.tests.celery_worker import require_redis, reset_pools, subprocess_env
from tenants.management.commands import healthcheck

pytestmark = pytest.mark.worker

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker():
    """The Celery app pointed at the test Redis (as the containers point it at theirs)."""
    from minirag.celery import BEAT_HEARTBEAT_KEY, app

    url = require_redis()
    saved = app.conf.get("CELERY_BROKER_URL")
    app.conf.update(CELERY_BROKER_URL=url)
    reset_pools(app)
    yield url
    app.conf.update(CELERY_BROKER_URL=saved)
    reset_pools(app)
    import redis

    redis.Redis.from_url(url).delete(BEAT_HEARTBEAT_KEY)


def _probe(*arguments: str) -> str:
    call_command("healthcheck", *arguments)
    return "ok"


def _start_worker(broker: str, node: str, queues: str) -> subprocess.Popen:
    environment = subprocess_env(CELERY_BROKER_URL=broker, CELERY_TASK_ALWAYS_EAGER="false")
    command = [sys.executable, "-m", "celery", "-A", "minirag", "worker", "-Q", queues, "-n", f"celery@{node}",
               "-c", "1", "--pool", "solo", "--without-gossip", "--without-mingle", "-l", "WARNING"]  # fmt: skip
    return subprocess.Popen(command, cwd=BASE_DIR, env=environment, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_healthy(node: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while healthcheck.worker_problem(f"celery@{node}", timeout=1) is not None:
        assert time.monotonic() < deadline, f"worker {node} never answered"


def test_a_worker_that_answers_and_consumes_its_queues_is_healthy_and_unhealthy_once_stopped(broker, monkeypatch):
    monkeypatch.setattr(healthcheck, "ANSWER_TIMEOUT_SECONDS", 1.0)
    suffix = uuid.uuid4().hex[:8]
    complete, partial = f"probe-all-{suffix}", f"probe-some-{suffix}"
    workers = [_start_worker(broker, complete, "default,ingest,webhooks"), _start_worker(broker, partial, "default")]
    try:
        _wait_healthy(complete)
        assert _probe("worker", "--host", complete) == "ok"
        with pytest.raises(CommandError, match=r"does not consume the queue\(s\) ingest, webhooks"):
            _probe("worker", "--host", partial)
        _stop(workers[0])
        with pytest.raises(CommandError, match=f"celery@{complete} did not answer within 1s"):
            _probe("worker", "--host", complete)
    finally:
        for worker in workers:
            _stop(worker)


def _heartbeat(directory: Path, at: float) -> None:
    """What beat's scheduler writes on a tick, written by the scheduler itself."""
    from minirag.celery import HeartbeatScheduler, app

    scheduler = HeartbeatScheduler(app=app, schedule_filename=str(directory / "celerybeat-schedule"))
    try:
        scheduler._write_heartbeat(at)
    finally:
        scheduler.close()


def test_beat_is_healthy_with_a_recent_heartbeat_from_this_host_only(broker, tmp_path):
    import socket

    with pytest.raises(CommandError, match="no heartbeat from beat"):
        _probe("beat")

    _heartbeat(tmp_path, time.time())
    assert _probe("beat") == "ok"
    with pytest.raises(CommandError, match=f"comes from beat on {socket.gethostname()}, not from this host"):
        _probe("beat", "--host", "another-container")

    _heartbeat(tmp_path, time.time() - 500)
    with pytest.raises(CommandError, match=r"500s old \(more than 80s\)"):
        _probe("beat")
