"""The README's walk-through runs as written: its marked shell blocks, pasted into bash one after the other, against a
live server, with MINIRAG and MINIRAG_TOKEN set the way `make run`'s banner sets them.

The blocks marked `<!-- walkthrough -->` run in one bash in a scratch folder laid out like the project's (a `.venv`
and `manage.py` linking to the real ones, a copy of `docs/`), so `.venv/bin/python manage.py ingest … ./docs` runs as
written, against the test database. Every curl must get a 2xx (`--fail-with-body`), every command must succeed
(`set -euo pipefail`). Nothing leaves the machine: the walk-through's bots are extractive and no block fetches a URL.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from minirag.runtime import BASE_DIR
from minirag.tenancy import tenant_context
from sources.models import Source
from tenants.models import Tenant, schema_name_for_slug
from tenants.schema import drop_tenant_schema

README = BASE_DIR / "README.md"
MARKER = "<!-- walkthrough -->"
WALKTHROUGH_TENANT = "acme"
BASH, JQ, CURL = shutil.which("bash"), shutil.which("jq"), shutil.which("curl")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not (BASH and JQ and CURL), reason="the walk-through needs bash, curl and jq"),
]

# Every curl of the walk-through must succeed (and show the server's answer when it does not).
PREAMBLE = """set -euo pipefail
curl() { command curl --fail-with-body --show-error "$@"; }
trap 'echo "walk-through failed at: $BASH_COMMAND" >&2' ERR
"""


def walkthrough_blocks(text: str) -> list[str]:
    """The ```bash blocks that follow a walk-through marker, in order."""
    return re.findall(re.escape(MARKER) + r"\s*```bash\n(.*?)```", text, flags=re.DOTALL)


def test_the_walkthrough_blocks_are_marked_and_paste_as_they_are():
    blocks = walkthrough_blocks(README.read_text())

    script = "\n".join(blocks)
    assert len(blocks) >= 4
    for step in ("/v1/tenants", "/v1/auth/login", "/v1/bot-profiles", "/v1/sources", "manage.py ingest", "/v1/chat"):
        assert step in script, step
    # A placeholder such as <source-id> is a redirection in bash; B and T were the old names of the variables.
    assert not re.search(r"<[a-z-]+>", script)
    assert not re.search(r"\$(B|T|TOKEN)\b", script)
    assert "MINIRAG=" not in script.replace("export MINIRAG=", "")  # the banner's export line sets the URL


def test_every_shell_example_of_the_readme_uses_the_same_two_variables():
    examples = "\n".join(re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL))

    assert "$MINIRAG/" in examples and "$MINIRAG_TOKEN" in examples
    assert not re.search(r"\$(B|T|TOKEN)\b|^\s*(B|T|TOKEN)=", examples, flags=re.MULTILINE)


def _test_database_url() -> str:
    """DATABASE_URL with the test database's name, for the `manage.py` the walk-through runs."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def _scratch_project(root: Path) -> Path:
    (root / ".venv").symlink_to(BASE_DIR / ".venv")
    (root / "manage.py").symlink_to(BASE_DIR / "manage.py")
    shutil.copytree(BASE_DIR / "docs", root / "docs", ignore=shutil.ignore_patterns("*.png"))
    return root


def _drop_walkthrough_tenant() -> None:
    Tenant.objects.filter(slug=WALKTHROUGH_TENANT).delete()
    drop_tenant_schema(schema_name_for_slug(WALKTHROUGH_TENANT))


@pytest.fixture
def clean_walkthrough_tenant(_session_tenants, django_db_blocker):
    """The walk-through bootstraps its own tenant; a previous run's (or its schema) must not be in the way.
    Afterwards the transactional test's flush has emptied the public tables: put the session's tenants back."""
    _drop_walkthrough_tenant()
    yield
    with django_db_blocker.unblock():
        _drop_walkthrough_tenant()
        for handle in _session_tenants.values():
            handle.restore()


def test_the_readme_walkthrough_runs_top_to_bottom_against_a_live_server(
    live_server, tenant_a, tmp_path, clean_walkthrough_tenant
):
    script = PREAMBLE + "\n".join(walkthrough_blocks(README.read_text()))
    environment = {
        **os.environ,
        "MINIRAG": live_server.url,  # what the banner's export line sets
        "MINIRAG_TOKEN": tenant_a.raw_token,  # the banner's (demo) token; the walk-through bootstraps its own
        "DATABASE_URL": _test_database_url(),
        "MINIRAG_RUNTIME_FILE": "",  # never a running `make run`'s services
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "CELERY_BROKER_URL": "",
        "DEFAULT_EMBEDDING_MODEL": "",
    }

    done = subprocess.run(
        [BASH, "-c", script], cwd=_scratch_project(tmp_path), env=environment, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip

    assert done.returncode == 0, f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    out = done.stdout
    assert '"slug":"acme"' in out.replace(" ", "")  # /v1/tenants/me with the walk-through's own token
    assert "Refunds take 5 days" in out  # the extractive bot quotes its FAQ
    assert "event: sources" in out and "event: done" in out and "4400" in out  # the stream, from the upload
    assert "Dry run, nothing changed" in out
    tenant = Tenant.objects.get(slug=WALKTHROUGH_TENANT)
    with tenant_context(tenant):
        ingested = Source.objects.filter(is_active=True, status="ready", external_id__startswith="docs/").count()
    assert ingested >= len(list((BASE_DIR / "docs").glob("*.md")))
