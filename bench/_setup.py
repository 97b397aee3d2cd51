"""Shared bench setup: a dedicated database, secrets for a production-mode settings import, Django ready."""

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/minirag_bench")


def recreate_database(url: str = BENCH_DATABASE_URL) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def configure(*, fresh: bool = True) -> None:
    """Point Django at the bench database (recreated when `fresh`), migrate, and set up Django."""
    os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("JWT_SIGNING_KEY", secrets.token_urlsafe(48))
    os.environ.setdefault("ENCRYPTION_KEYS", "YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktYiE=")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    os.environ.setdefault("QDRANT_PATH", ":memory:")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    os.environ.setdefault("STATIC_ROOT", str(ROOT / "var" / "bench-static"))
    os.makedirs(os.environ["STATIC_ROOT"], exist_ok=True)
    os.environ["DJANGO_SETTINGS_MODULE"] = "minirag.settings"
    if fresh:
        recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate_schemas", "--shared", verbosity=0)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, *, workers: int, threads: int, env: dict | None = None):
    """Start the production server command (threaded gunicorn) on 127.0.0.1:`port`; return once it accepts."""
    import socket
    import subprocess
    import time

    command = [
        sys.executable, "-m", "gunicorn", "minirag.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
        "--timeout", "0", "--graceful-timeout", "5", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env if env is not None else dict(os.environ))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")
