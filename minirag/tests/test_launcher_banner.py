"""`make run`'s banner: the real port, the venv's Python, and an export line that sets the walk-through's
variables (MINIRAG, MINIRAG_TOKEN) when pasted into bash."""

import shutil
import subprocess

from minirag.launcher import DEMO_TOKEN_FILE, banner_text
from minirag.runtime import BASE_DIR

BASH = shutil.which("bash") or "/bin/bash"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_the_banner_names_the_real_port_and_the_venvs_python():
    text = banner_text(
        port="8765", seconds=4.25, embedded=["PostgreSQL", "Redis"], token_file=DEMO_TOKEN_FILE,
        python=str(BASE_DIR / ".venv" / "bin" / "python"),
    )  # fmt: skip

    lines = _lines(text)
    assert lines[0] == "MiniRAG is up in 4.2s: web, worker and beat (embedded PostgreSQL and Redis)"
    assert "API   http://127.0.0.1:8765/v1/docs" in lines and "admin http://127.0.0.1:8765/admin/" in lines
    assert ".venv/bin/python manage.py doctor   (also ingest, chat, reindex, ...)" in lines
    assert "8000" not in text


def test_the_export_line_sets_minirag_and_the_demo_token_in_bash(tmp_path):
    token_file = tmp_path / "demo token.txt"  # a space: the path must be quoted
    token_file.write_text("MINIRAG_TOKEN=mrag_abc123\nDEMO_EMAIL=demo@minirag.local\nDEMO_PASSWORD=pw\n")

    text = banner_text(port="9001", seconds=1, embedded=[], token_file=token_file, python="/opt/py 3/bin/python")
    export = next(line for line in _lines(text) if line.startswith("export "))
    shown = subprocess.run(
        [BASH, "-c", f'{export}\nbash -c \'echo "$MINIRAG $MINIRAG_TOKEN"\''],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    assert shown.strip() == "http://127.0.0.1:9001 mrag_abc123"  # exported: a child process sees both
    assert "'/opt/py 3/bin/python' manage.py doctor" in text
    assert "web, worker and beat\n" in text  # nothing embedded, nothing claimed


def test_without_the_token_file_the_banner_still_sets_minirag_and_says_where_the_token_went(tmp_path):
    text = banner_text(port="8001", seconds=1, embedded=[], token_file=tmp_path / "gone.txt")

    export = next(line for line in _lines(text) if line.startswith("export "))
    shown = subprocess.run([BASH, "-c", f"{export}\necho $MINIRAG"], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "http://127.0.0.1:8001"
    assert "gone.txt is gone" in export
