"""The Docker image and the compose stack, checked without a Docker engine: the build context as Docker computes
it from .dockerignore (no secret, no local state, everything the image runs), docker-compose.yml against the code
and against `docker compose config`, the README's .env recipe, and the healthchecks with a real ALLOWED_HOSTS."""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.test import override_settings

from minirag.tests.docker_context import DockerIgnore, build_context, docker_cli_context, read_dockerignore

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("init", "web", "worker", "beat")

# Paths that must never be in the image: secrets, local state, the virtualenv, git, caches, tests.
FORBIDDEN = re.compile(
    r"(^|/)\.env($|\.)|^var/|(^|/)var/|^\.venv/|^\.git/|(^|/)__pycache__/|\.py[cod]$|(^|/)tests/"
    r"|(^|/)\.(pytest|ruff)_cache/|(^|/)\.hypothesis/|^docs/|^bench/"
)


# --- The build context -----------------------------------------------------------------------------------


def _tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


WANTED = [
    "manage.py",
    "requirements.txt",
    "minirag/settings.py",
    "minirag/templates/admin/base_site.html",
    "tenants/migrations/0001_initial.py",
    "sources/pipeline/extract.py",
]
UNWANTED = [
    ".env",
    ".env.production",
    "minirag/.env",
    "var/demo-token.txt",
    "var/pgdata/base/1/112",
    "var/runtime.env",
    ".venv/bin/python",
    ".venv/lib/python3.11/site-packages/django/__init__.py",
    ".git/config",
    "minirag/__pycache__/settings.cpython-311.pyc",
    "minirag/tests/test_docker.py",
    "sources/tests/files/sample.pdf",
    ".pytest_cache/v/cache/nodeids",
    "docs/console.png",
    "bench/chat.py",
    "dump.sql",
    "id_rsa",
    "Dockerfile",
    ".dockerignore",
]


def test_a_checkout_with_secrets_and_local_state_sends_only_what_the_image_runs(tmp_path):
    _tree(tmp_path, WANTED + UNWANTED)
    shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")

    assert build_context(tmp_path) == sorted(WANTED)


def test_this_checkouts_context_has_every_package_and_nothing_secret():
    context = build_context(ROOT)

    leaked = [name for name in context if FORBIDDEN.search(name)]
    assert not leaked, f"in the build context: {leaked[:10]}"
    # Every top-level Python package the server may import, with its migrations and templates.
    packages = sorted(path.parent.name for path in ROOT.glob("*/__init__.py"))
    assert packages and all(f"{package}/__init__.py" in context for package in packages), packages
    git = shutil.which("git")
    if git is None:
        pytest.skip("no git to list the tracked files")
    tracked = subprocess.run([git, "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False).stdout
    runtime_files = [
        name
        for name in tracked.split()
        if name.split("/")[0] in packages and not FORBIDDEN.search(name) and (ROOT / name).exists()
    ]
    missing = [name for name in runtime_files if name not in context]
    assert not missing, f"left out of the image: {missing[:10]}"


def test_every_file_the_dockerfile_copies_from_the_context_is_in_it():
    context = set(build_context(ROOT))
    copies = re.findall(r"^COPY\s+(?!--from)(?:--\S+\s+)*(.+?)\s+\S+\s*$", (ROOT / "Dockerfile").read_text(), re.M)

    sources = [source for line in copies for source in line.split()]
    assert sources == ["requirements.txt", "."], sources
    assert "requirements.txt" in context and "manage.py" in context


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["var"], "var/pgdata/base/1", True),  # a directory pattern excludes what it holds
        (["/var"], "var/x", True),  # a leading slash is the context root
        (["var"], "minirag/var/x", False),  # patterns are anchored at the root...
        (["**/var"], "minirag/var/x", True),  # ...unless they start with **
        (["*.pyc"], "minirag/x.pyc", False),  # * never crosses a /
        (["**/*.pyc"], "x.pyc", True),  # **/ matches zero directories too
        (["temp?"], "tempa", True),
        (["temp?"], "temp/x", False),
        (["*", "!minirag"], "minirag/views.py", False),  # an exception lets a directory back in
        (["*", "!minirag", "**/tests"], "minirag/tests/x.py", True),  # the last matching pattern wins
        (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),  # Docker's own example
        (["*.md", "!README*.md", "README-secret.md"], "README.md", False),
    ],
)
def test_patterns_follow_dockers_rules(patterns, path, excluded):
    assert DockerIgnore(read_dockerignore("\n".join(patterns))).excludes(path) is excluded


def test_the_docker_cli_sends_the_same_context(tmp_path):
    """Docker's own matcher (the CLI's classic builder) agrees with this module, here and on a planted tree."""
    _tree(tmp_path, WANTED + UNWANTED)
    shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    planted = docker_cli_context(tmp_path)
    if planted is None:
        pytest.skip("no Docker CLI")

    # The classic builder always sends the Dockerfile and .dockerignore; BuildKit's COPY leaves them out.
    assert sorted(set(planted) - {"Dockerfile", ".dockerignore"}) == build_context(tmp_path)
    assert sorted(set(docker_cli_context(ROOT)) - {"Dockerfile", ".dockerignore"}) == build_context(ROOT)


def test_the_context_alone_passes_djangos_checks_and_collects_static_files(tmp_path):
    """What the Dockerfile runs, on a copy of the context only: nothing the server imports was left out."""
    app = tmp_path / "app"
    for name in build_context(ROOT):
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, app / name)
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO", "DATABASE", "REDIS"))},
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "minirag.settings",
        "DATABASE_URL": "postgres://minirag@127.0.0.1:9/minirag",  # never connected to
        "STATIC_ROOT": str(tmp_path / "static"),
        "MINIRAG_ENV_FILE": os.devnull,
        "MINIRAG_RUNTIME_FILE": "",
        "PYTHONPATH": "",
    }

    for command in (["check"], ["collectstatic", "--noinput", "-v", "0"], ["initialize", "--help"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=app, env=environment, capture_output=True, text=True
        )
        assert result.returncode == 0, f"manage.py {' '.join(command)}: {result.stderr[-2000:]}"
    assert (tmp_path / "static" / "admin" / "css" / "base.css").exists()


# --- docker-compose.yml ------------------------------------------------------------------------------------


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _code_reads(name: str) -> bool:
    code = "\n".join((ROOT / path).read_text() for path in ("minirag/settings.py", "minirag/gunicorn_conf.py"))
    return f'"{name}"' in code or f"'{name}'" in code


def test_compose_services_match_the_code():
    from django.core.management import get_commands

    from tenants.management.commands.doctor import WORKER_QUEUES

    compose = _compose()
    services = compose["services"]
    for name in APP_SERVICES:
        service = services[name]
        environment = service["environment"]
        # Every setting the file passes is one the code reads (a misspelt name would be silently ignored).
        unread = [key for key in environment if not key.startswith("MINIRAG_") and not _code_reads(key)]
        assert not unread, f"{name}: the code reads no {unread}"
        assert environment["QDRANT_URL"] == "http://qdrant:6333" and "qdrant" in services
        assert "@postgres:5432/" in environment["DATABASE_URL"] and "postgres" in services
        assert environment["REDIS_URL"].startswith("redis://redis:6379/") and "redis" in services
        command = service.get("command") or []
        if command[:2] == ["python", "manage.py"]:
            assert command[2] in get_commands(), command
        probe = (service.get("healthcheck") or {}).get("test") or []
        if probe[1:3] == ["python", "manage.py"]:
            assert probe[3] in get_commands(), probe
    # Uploads written by web are read by the worker: both mount the media volume where MEDIA_ROOT points.
    for name in ("web", "worker"):
        service = services[name]
        assert f"media:{service['environment']['MEDIA_ROOT']}" in service["volumes"]
    worker = services["worker"]["command"]
    assert set(worker[worker.index("-Q") + 1].split(",")) == WORKER_QUEUES
    # Each app container probes its own job; the one-shot init has none; the web one is the image's GET /health.
    assert services["init"]["healthcheck"] == {"disable": True}
    assert services["worker"]["healthcheck"]["test"][-2:] == ["healthcheck", "worker"]
    assert services["beat"]["healthcheck"]["test"][-2:] == ["healthcheck", "beat"]
    assert "test" not in services["web"]["healthcheck"] and "/health" in _dockerfile_healthcheck()
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["init"] == {"condition": "service_completed_successfully"}
    assert services["web"]["ports"] == ["${PORT:-8000}:8000"]


def _compose_command() -> list[str] | None:
    """Docker Compose v2: the docker CLI plugin, or a standalone docker-compose v2 (.ci/run provides one)."""
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for command in candidates:
        result = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, check=False)
        if result.returncode == 0 and result.stdout.strip().lstrip("v").startswith("2."):
            return command
    return None


def _readme_docker_block(number: int) -> str:
    section = (ROOT / "README.md").read_text().split("\n## Docker\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)[number]


def _readme_env(directory: Path) -> Path:
    """A .env made by the README's recipe (its first bash block), in `directory` next to a copy of .env.example."""
    bash = shutil.which("bash")
    if not (shutil.which("openssl") and bash):
        pytest.skip("the README's recipe needs bash and openssl")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / ".env.example", directory / ".env.example")
    subprocess.run([bash, "-euc", _readme_docker_block(0)], cwd=directory, check=True, capture_output=True)
    return directory / ".env"


def _dotenv(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def test_the_readmes_env_recipe_makes_settings_that_start_and_a_first_start_that_passes(tmp_path):
    from cryptography.fernet import Fernet

    from tenants.services import check_chosen_token

    values = _dotenv(_readme_env(tmp_path))

    assert len(values["SECRET_KEY"]) >= 32 and len(values["JWT_SIGNING_KEY"]) >= 32
    Fernet(values["ENCRYPTION_KEYS"].encode())  # raises unless it is a Fernet key
    check_chosen_token(values["MINIRAG_FIRST_TENANT_TOKEN"])
    assert values["MINIRAG_ADMIN_EMAIL"] and len(values["MINIRAG_ADMIN_PASSWORD"]) >= 12
    # Production settings (DEBUG off) accept the file: startup refuses missing or weak secrets.
    result = subprocess.run(
        [sys.executable, "-c", "import minirag.settings"],
        cwd=ROOT,
        env={
            **{key: value for key, value in os.environ.items() if key not in ("DEBUG", "DJANGO_SETTINGS_MODULE")},
            "MINIRAG_ENV_FILE": str(tmp_path / ".env"),
            "DATABASE_URL": "postgres://minirag@127.0.0.1:9/minirag",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Running the recipe again keeps the .env it made (its secrets encrypt stored credentials).
    before = (tmp_path / ".env").read_text()
    _readme_env(tmp_path)
    assert (tmp_path / ".env").read_text() == before


def test_docker_compose_config_accepts_the_stack_with_the_readmes_env(tmp_path):
    compose = _compose_command()
    if compose is None:
        pytest.skip("no Docker Compose v2 (the docker compose plugin or docker-compose v2); .ci/run provides one")
    project = tmp_path / "project"
    values = _dotenv(_readme_env(project))
    command = [*compose, "--project-directory", str(project), "-f", str(ROOT / "docker-compose.yml"), "config"]

    quiet = subprocess.run([*command, "-q"], capture_output=True, text=True, check=False)
    assert quiet.returncode == 0 and not quiet.stderr.strip(), quiet.stderr  # no error, no unset-variable warning
    resolved = json.loads(
        subprocess.run([*command, "--format", "json"], capture_output=True, text=True, check=True).stdout
    )

    services = resolved["services"]
    assert set(APP_SERVICES) | {"postgres", "redis", "qdrant"} == set(services)
    init = services["init"]["environment"]
    assert init["MINIRAG_ADMIN_PASSWORD"] == values["MINIRAG_ADMIN_PASSWORD"]
    assert init["MINIRAG_FIRST_TENANT_TOKEN"] == values["MINIRAG_FIRST_TENANT_TOKEN"]
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        assert environment["SECRET_KEY"] == values["SECRET_KEY"], "the .env reaches every app container"
        assert environment["MINIRAG_ADMIN_PASSWORD"] == "" and environment["MINIRAG_FIRST_TENANT_TOKEN"] == ""
    assert services["web"]["ports"][0]["published"] == "8000" and services["web"]["ports"][0]["target"] == 8000


# --- Healthchecks with a real host name --------------------------------------------------------------------


def _dockerfile_healthcheck() -> str:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", "")
    return re.search(r"^HEALTHCHECK .*? CMD (.+)$", text, re.M).group(1)


@override_settings(ALLOWED_HOSTS=["minirag.example.com"])
def test_liveness_answers_probes_by_address_while_other_paths_keep_the_host_check(client):
    probe = client.get("/health", HTTP_HOST="127.0.0.1:8000")
    other = client.get("/v1/system/health", HTTP_HOST="127.0.0.1:8000")
    named = client.get("/v1/redoc", HTTP_HOST="minirag.example.com")

    assert probe.status_code == 200 and probe.json() == {"status": "ok"}
    assert probe["X-Content-Type-Options"] == "nosniff"
    assert other.status_code == 400
    assert named.status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_images_healthcheck_passes_against_gunicorn_when_allowed_hosts_is_a_real_name():
    """gunicorn as the image runs it (its config, DEBUG off, ALLOWED_HOSTS a real name), probed by the
    Dockerfile's own HEALTHCHECK command."""
    import httpx

    port = _free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "minirag.settings",
        "DEBUG": "false",
        "SECRET_KEY": "s" * 50,
        "JWT_SIGNING_KEY": "j" * 50,
        "ENCRYPTION_KEYS": "ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZHVjdGk=",
        "ALLOWED_HOSTS": "minirag.example.com",
        "DATABASE_URL": "postgres://minirag@127.0.0.1:9/minirag",  # /health touches no database
        "MINIRAG_ENV_FILE": os.devnull,
        "MINIRAG_RUNTIME_FILE": "",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "minirag.wsgi:application", "--config", "python:minirag.gunicorn_conf"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-2000:]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        probe = subprocess.run(
            ["/bin/sh", "-c", _dockerfile_healthcheck().replace("python ", f"{shlex.quote(sys.executable)} ", 1)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
        )
        by_address = httpx.get(f"http://127.0.0.1:{port}/v1/system/health", timeout=10)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    assert probe.returncode == 0, probe.stderr[-2000:]
    assert by_address.status_code == 400, "other paths keep Django's host check"
