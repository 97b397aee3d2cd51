"""Shared bench setup: a dedicated database, secrets for a production-mode settings import, Django ready.

`configure()` uses BENCH_DATABASE_URL (recreated); the issue-8 benchmarks start their own embedded PostgreSQL
(bench/_pg.py) and call `configure(database_url=..., fresh=False)` with it.
"""

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


def bench_environment(database_url: str, **overrides: str) -> dict[str, str]:
    """Production-mode settings (DEBUG=false) for this process and the servers/workers it starts.

    No broker unless `overrides` names one (tasks then run eagerly), the PostgreSQL knowledge index, no
    `.env` file of the checkout (MINIRAG_ENV_FILE points nowhere), and nothing published by a running
    `make run` (var/runtime.env) is read, because every URL is given explicitly. Rate limits are off."""
    env = {
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
        "JWT_SIGNING_KEY": os.environ.get("JWT_SIGNING_KEY") or secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": os.environ.get("ENCRYPTION_KEYS") or "YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktYiE=",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "QDRANT_URL": "",
        "KNOWLEDGE_INDEX": "postgres",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "STATIC_ROOT": str(ROOT / "var" / "bench-static"),
        "MINIRAG_ENV_FILE": "/dev/null",
        "DJANGO_SETTINGS_MODULE": "minirag.settings",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "MINIRAG_ALLOW_PRIVATE_NETWORK": "true",  # the fake OpenAI server listens on 127.0.0.1
        # Benchmarks measure latency and throughput, not the per-credential rate limits (300 writes/min per
        # token, 120 chats/min per bot by default), which they would hit within seconds.
        "RATE_LIMITS_ENABLED": "false",
    }
    env.update(overrides)
    return env


def configure(*, fresh: bool = True, database_url: str | None = None, **overrides: str) -> None:
    """Point Django at the bench database (recreated when `fresh`), migrate, and set up Django."""
    url = database_url or BENCH_DATABASE_URL
    for key, value in bench_environment(url, **overrides).items():
        if key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "MINIRAG_ENV_FILE") or key in overrides:
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)
    os.makedirs(os.environ["STATIC_ROOT"], exist_ok=True)
    if fresh:
        recreate_database(url)
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


def start_gunicorn(port: int, *, workers: int, threads: int, env: dict | None = None, cwd: Path | None = None):
    """Start the production server command (threaded gunicorn) on 127.0.0.1:`port`; return once it accepts."""
    import socket
    import subprocess
    import time

    command = [
        sys.executable, "-m", "gunicorn", "minirag.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
        "--timeout", "0", "--graceful-timeout", "5", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=cwd or ROOT, env=env if env is not None else dict(os.environ))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


class CpuMeter:
    """CPU seconds (user + system) spent by groups of processes, and the load average, over a window.

    Per process: CPU at the end minus CPU at the start (0 for processes born in the window). A process that
    exits inside the window is not counted (e.g. a PostgreSQL backend whose connection was closed)."""

    def __init__(self, pids_by_group: dict):
        self.groups = pids_by_group
        self.start: dict[str, dict[int, float]] = {}

    @staticmethod
    def _cpu(pids) -> dict[int, float]:
        import psutil

        result = {}
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
                result[pid] = times.user + times.system
            except psutil.Error:
                pass
        return result

    def __enter__(self) -> "CpuMeter":
        import time

        self.load_before = os.getloadavg()
        self.start = {name: self._cpu(pids()) for name, pids in self.groups.items()}
        self.wall_start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        import time

        self.wall = time.perf_counter() - self.wall_start
        self.cpu = {}
        for name, pids in self.groups.items():
            before = self.start[name]
            self.cpu[name] = sum(value - before.get(pid, 0.0) for pid, value in self._cpu(pids()).items())
        self.load_after = os.getloadavg()

    def summary(self) -> str:
        parts = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.cpu.items())
        return f"wall {self.wall:.1f}s; CPU {parts}; load average {self.load_before[0]:.2f} → {self.load_after[0]:.2f}"


def process_tree(pid: int) -> list[int]:
    import psutil

    try:
        parent = psutil.Process(pid)
        return [parent.pid, *(child.pid for child in parent.children(recursive=True))]
    except psutil.Error:
        return []
