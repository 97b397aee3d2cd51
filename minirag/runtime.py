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

The servers themselves (EmbeddedPostgres, EmbeddedRedis) live in minirag.embedded; their names are
re-exported here. Nothing here imports Django: settings and manage.py use this module before Django is set up.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from minirag.embedded import (  # noqa: F401  (re-exported: the launcher, tests and benchmarks use them from here)
    BASE_DIR,
    DATABASE_NAME,
    PG_MAX_CONNECTIONS,
    PG_SHARED_BUFFERS_MB,
    EmbeddedPostgres,
    EmbeddedRedis,
    free_port,
    libpq_url,
    log,
    pid_alive,
    redis_server_binary,
    spawn,
)

VAR_DIR = BASE_DIR / "var"
# The embedded PostgreSQL's data directory (MINIRAG_PGDATA: another one, e.g. a benchmark's).
PGDATA = Path(os.environ.get("MINIRAG_PGDATA") or VAR_DIR / "pgdata")
REDIS_DIR = VAR_DIR / "redis"
PUBLISHED_KEYS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
# Set by manage.py when it started (or joined) the embedded PostgreSQL for its own command.
ATTACHED_MARKER = "MINIRAG_EMBEDDED_FOR_COMMAND"


# --- The runtime file ------------------------------------------------------------------------------------


def runtime_file() -> Path | None:
    """var/runtime.env, or MINIRAG_RUNTIME_FILE; an empty MINIRAG_RUNTIME_FILE disables it (the test suite)."""
    override = os.environ.get("MINIRAG_RUNTIME_FILE")
    if override is None:
        return VAR_DIR / "runtime.env"
    return Path(override) if override else None


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


# --- URLs ----------------------------------------------------------------------------------------------


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
        with psycopg.connect(libpq_url(url), connect_timeout=max(1, round(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return None


def ensure_database(url: str, *, wait_seconds: float = 30) -> None:
    """Create the database named in `url` when it does not exist yet (waits for the server to answer)."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with psycopg.connect(libpq_url(with_database(url, "postgres")), autocommit=True, connect_timeout=5) as conn:
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

    with psycopg.connect(libpq_url(with_database(url, "postgres")), connect_timeout=5) as conn:
        available = bool(conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone())
    installed = None
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
            row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            installed = row[0] if row else None
    except psycopg.OperationalError:
        pass
    return available, installed


def attach_embedded_postgres(*, quiet: bool = False) -> EmbeddedPostgres | None:
    """For a command run while `make run` is stopped: a handle on the embedded PostgreSQL (started if needed,
    stopped at exit if this process was its last user), or None when it was never set up."""
    database = EmbeddedPostgres(PGDATA)
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
