"""The local runtime: the file `make run` publishes, how other processes use it, the embedded Redis."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minirag import runtime
from minirag.tests.celery_worker import REDIS_URL, database_url_for_subprocess, subprocess_env


def test_the_runtime_file_is_private_and_ignored_once_its_launcher_is_gone(tmp_path, monkeypatch):
    path = tmp_path / "runtime.env"
    monkeypatch.setenv("MINIRAG_RUNTIME_FILE", str(path))

    runtime.write_runtime({"MINIRAG_LAUNCHER_PID": str(os.getpid()), "DATABASE_URL": "postgres://db/x"})

    assert path.stat().st_mode & 0o777 == 0o600
    assert runtime.published()["DATABASE_URL"] == "postgres://db/x"

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    runtime.write_runtime({"MINIRAG_LAUNCHER_PID": dead.stdout.strip(), "DATABASE_URL": "postgres://db/x"})
    assert runtime.published() == {}


def test_a_launcher_removes_only_its_own_runtime_file(tmp_path, monkeypatch):
    path = tmp_path / "runtime.env"
    monkeypatch.setenv("MINIRAG_RUNTIME_FILE", str(path))
    runtime.write_runtime({"MINIRAG_LAUNCHER_PID": "12345"})

    runtime.remove_runtime(os.getpid())
    assert path.exists()

    runtime.remove_runtime(12345)
    assert not path.exists()


def test_without_configuration_the_database_is_the_embedded_socket_never_localhost_5432(tmp_path):
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()

    assert runtime.embedded_database_url(pgdata=pgdata) == f"postgres://postgres@/minirag?host={pgdata}"

    (pgdata / "postmaster.pid").write_text(f"42\n{pgdata}\n1700000000\n5432\n/run/sock\n\n  1  2\nready\n")
    assert runtime.embedded_database_url(pgdata=pgdata) == "postgres://postgres@/minirag?host=/run/sock"


def test_a_command_without_any_database_says_in_one_line_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "PGDATA", tmp_path / "never-initialised")
    monkeypatch.setenv("MINIRAG_RUNTIME_FILE", "")
    monkeypatch.setenv("MINIRAG_ENV_FILE", os.devnull)
    monkeypatch.delenv("DATABASE_URL", raising=False)

    with pytest.raises(SystemExit) as exit_:
        runtime.prepare_manage_command(["manage.py", "ingest"])

    assert "run `make run` once" in str(exit_.value) and "\n" not in str(exit_.value)
    runtime.prepare_manage_command(["manage.py", "collectstatic"])  # needs no database: no complaint


@pytest.mark.django_db
def test_manage_py_in_a_second_terminal_uses_what_make_run_published(tmp_path):
    """Given a runtime file naming the test database and a broker (as `make run` writes it), a manage.py command
    started with none of DATABASE_URL/CELERY_BROKER_URL in its environment or .env connects there."""
    from django.db import connection

    path = tmp_path / "runtime.env"
    broker = "redis://:published-secret@127.0.0.1:6390/3"
    published = {"MINIRAG_LAUNCHER_PID": str(os.getpid()), "DATABASE_URL": database_url_for_subprocess()}
    runtime.write_runtime({**published, "CELERY_BROKER_URL": broker}, path)
    environment = subprocess_env(MINIRAG_RUNTIME_FILE=str(path), DJANGO_SETTINGS_MODULE="minirag.settings")
    environment.pop("DATABASE_URL")
    probe = (
        "from django.conf import settings; from django.db import connection; c = connection.cursor(); "
        "c.execute('SELECT current_database(), inet_server_port()'); print(*c.fetchone(), settings.CELERY_BROKER_URL)"
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=Path(runtime.BASE_DIR),
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    name, port, used_broker = result.stdout.strip().splitlines()[-1].split()
    assert name == connection.settings_dict["NAME"]
    assert port == str(connection.settings_dict.get("PORT") or "None")  # never a silent 127.0.0.1:5432
    assert used_broker == broker


def test_the_embedded_redis_starts_private_and_stops(tmp_path):
    import redis

    server = runtime.EmbeddedRedis(tmp_path / "redis", persist=False).start()
    try:
        assert redis.Redis.from_url(server.url()).ping()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=server.port).ping()
        process = server.process
    finally:
        server.stop()
    assert process.poll() is not None


def test_task_modules_are_loaded_wherever_the_app_is_used():
    """A fresh process (web, command) finds every scheduled task by name before anything imported its module."""
    probe = (
        "import django; django.setup(); from minirag.celery import app; "
        "names = {entry['task'] for entry in app.conf.beat_schedule.values()}; "
        "print(sorted(names)); assert names and all(name in app.tasks for name in names), names"
    )
    environment = subprocess_env(DATABASE_URL=database_url_for_subprocess())

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=runtime.BASE_DIR, env=environment, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert "sources.tasks.sweep_stuck_sources" in result.stdout
    assert "sources.refresh.refresh_due_sources" in result.stdout
    assert "minirag.webhooks.tasks.prune_deliveries" in result.stdout


@pytest.mark.worker
def test_beat_leaves_a_heartbeat_that_doctor_reads(tmp_path):
    import redis

    from minirag import celery

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"Redis is unreachable at {REDIS_URL}")
    saved = celery.app.conf.get("CELERY_BROKER_URL")
    celery.app.conf.update(CELERY_BROKER_URL=REDIS_URL)
    try:
        redis.Redis.from_url(REDIS_URL).delete(celery.BEAT_HEARTBEAT_KEY)
        assert celery.read_beat_heartbeat() is None
        scheduler = celery.HeartbeatScheduler(app=celery.app, schedule_filename=str(tmp_path / "schedule"))

        scheduler.tick()

        beat = celery.read_beat_heartbeat()
        assert beat["pid"] == os.getpid() and beat["age"] < 5
        assert "sources-sweep-stuck" in beat["entries"]
    finally:
        redis.Redis.from_url(REDIS_URL).delete(celery.BEAT_HEARTBEAT_KEY)
        celery.app.conf.update(CELERY_BROKER_URL=saved)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_doctor_sees_a_running_worker_and_says_which_queues_nobody_consumes():
    from minirag.tests.celery_worker import running_worker
    from tenants.management.commands.doctor import FAIL, OK, check_worker

    with running_worker("probe.*", queue_prefix="doctor") as app:
        findings = check_worker(app)

    assert findings[0].level == OK and "1 worker(s) answering" in findings[0].message
    assert findings[1].level == FAIL and "default, ingest, webhooks" in findings[1].message


@pytest.mark.worker
def test_doctor_fails_when_the_broker_answers_but_no_worker_or_beat_does():
    import redis

    from minirag import celery
    from minirag.tests.celery_worker import require_redis, reset_pools
    from tenants.management.commands.doctor import FAIL, check_beat, check_worker

    broker = require_redis()
    redis.Redis.from_url(broker).delete(celery.BEAT_HEARTBEAT_KEY)
    saved = celery.app.conf.get("CELERY_BROKER_URL")
    celery.app.conf.update(CELERY_BROKER_URL=broker)
    reset_pools(celery.app)
    try:
        worker, beat = check_worker(celery.app), check_beat()
    finally:
        celery.app.conf.update(CELERY_BROKER_URL=saved)
        reset_pools(celery.app)

    assert worker[0].level == FAIL and "no Celery worker answered" in worker[0].message
    assert beat[0].level == FAIL and "no heartbeat from celery beat" in beat[0].message


@pytest.mark.django_db
def test_doctor_reports_the_vector_extension_and_the_index_backend():
    from tenants.management.commands.doctor import OK, check_database, check_index

    database = {finding.message for finding in check_database() if finding.level == OK}
    index = check_index()

    assert any("pgvector" in message and "installed" in message for message in database), database
    assert index[0].level == OK and "PostgreSQL" in index[0].message
