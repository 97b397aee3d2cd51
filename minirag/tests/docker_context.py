"""Which files `docker build .` sends as its build context (and `COPY . .` puts in the image), computed from
`.dockerignore` with Docker's own rules, so tests can read the context without a Docker engine.

Docker's rules (github.com/moby/patternmatcher and its ignorefile reader, used by BuildKit and the classic
builder alike), re-implemented here:

- A line starting with `#` is a comment; other lines are stripped of surrounding whitespace; blank lines are
  skipped. A leading `!` makes the line an exception. The pattern is cleaned like Go's `filepath.Clean`, and a
  leading `/` is dropped (`/var` and `var` are the same).
- `*` matches any run of characters but `/`, `?` one character but `/`, `[...]` a class; `**` matches any number
  of directories, including none (`**/x` matches `x` at any depth); `\\` escapes the next character.
- A path is excluded when the last pattern that matches it, or one of its parent directories, is not an
  exception. So `var` excludes everything under `var/`, and `*` followed by `!minirag` lets `minirag/` back in.

`docker_cli_context` asks the real Docker CLI instead (its classic builder packs the context itself before it
talks to a daemon): tests compare both where the CLI is installed.
"""

from __future__ import annotations

import http.server
import io
import os
import re
import shutil
import socketserver
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

# Characters that mean something to a regular expression but nothing to a Docker pattern.
_REGEX_ONLY = set(".+()|{}$")


def go_clean(path: str) -> str:
    """Go's filepath.Clean on a slash path: "" is ".", duplicate and trailing slashes go, "." and ".." fold."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_dockerignore(text: str) -> list[str]:
    """The patterns of a .dockerignore, normalised as Docker's ignorefile reader does."""
    patterns = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        exception = line.startswith("!")
        if exception:
            line = line[1:].strip()
        if line:
            line = go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append(("!" if exception else "") + line)
    return patterns


@dataclass
class Pattern:
    text: str
    exception: bool
    regex: re.Pattern[str]

    def matches(self, path: str) -> bool:
        return self.regex.match(path) is not None


def compile_pattern(raw: str) -> Pattern:
    """One pattern as the matcher sees it (cleaned again, `!` taken off) and its regular expression."""
    raw = go_clean(raw.strip())
    exception = raw.startswith("!")
    if exception:
        raw = raw[1:]
        if not raw:
            raise ValueError('illegal exclusion pattern: "!"')
    regex, index = "^", 0
    while index < len(raw):
        char = raw[index]
        index += 1
        if char == "*":
            if raw[index : index + 1] == "*":
                index += 1
                if raw[index : index + 1] == "/":
                    index += 1  # "**/" is "**"
                # "**" at the end matches everything below; elsewhere any number of whole directories.
                regex += ".*" if index == len(raw) else "(.*/)?"
            else:
                regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char in _REGEX_ONLY:
            regex += "\\" + char
        elif char == "\\":
            if index < len(raw):
                regex += "\\" + raw[index]
                index += 1
            else:
                regex += "\\\\"
        else:
            regex += char  # includes "[" and "]": a character class in both syntaxes
    return Pattern(text=raw, exception=exception, regex=re.compile(regex + "$", re.DOTALL))


class DockerIgnore:
    def __init__(self, patterns: list[str]):
        self.patterns = [compile_pattern(pattern) for pattern in patterns if pattern.strip()]

    @classmethod
    def from_file(cls, path: Path) -> DockerIgnore:
        return cls(read_dockerignore(path.read_text()) if path.exists() else [])

    def excludes(self, path: str) -> bool:
        """Whether `path` (relative, with slashes) is left out of the context."""
        parents = path.split("/")[:-1]
        excluded = False
        for pattern in self.patterns:
            # An exclusion can only change a path that is still in; an exception one that is out.
            if pattern.exception != excluded:
                continue
            hit = pattern.matches(path) or any(
                pattern.matches("/".join(parents[: depth + 1])) for depth in range(len(parents))
            )
            if hit:
                excluded = not pattern.exception
        return excluded

    def exception_may_reach_below(self, directory: str) -> bool:
        """Whether some `!` pattern could match a path inside `directory` (False only when it surely cannot).

        If none can, every file inside is left out like the directory itself: each pattern's verdict on the file
        can only add exclusions to its verdict on the directory.
        """
        parts = directory.split("/")
        for pattern in self.patterns:
            if not pattern.exception:
                continue
            components = pattern.text.split("/")
            if "**" in pattern.text:
                return True
            # Without "**" a pattern matches paths of exactly its number of components.
            if len(components) > len(parts) and all(
                compile_pattern(component).matches(part) for component, part in zip(components, parts, strict=False)
            ):
                return True
        return False


def build_context(root: Path, patterns: list[str] | None = None) -> list[str]:
    """The files (relative paths, sorted) Docker would send for `docker build root`, after its .dockerignore
    (or after `patterns`, when given).

    An excluded directory is still walked when a `!` pattern may let a file inside back in (Docker does the
    same). Symbolic links count as files and are not followed.
    """
    ignore = DockerIgnore.from_file(root / ".dockerignore") if patterns is None else DockerIgnore(patterns)
    files = []
    for directory, subdirectories, names in os.walk(root):
        relative_directory = os.path.relpath(directory, root)
        prefix = "" if relative_directory == "." else relative_directory.replace(os.sep, "/") + "/"
        for name in names + [name for name in subdirectories if (Path(directory) / name).is_symlink()]:
            relative = prefix + name
            if not ignore.excludes(relative):
                files.append(relative)
        # An excluded directory no exception pattern can reach inside holds nothing that is sent: skip it.
        subdirectories[:] = [
            name
            for name in subdirectories
            if not (ignore.excludes(prefix + name) and not ignore.exception_may_reach_below(prefix + name))
        ]
    return sorted(files)


def context_size(root: Path, files: list[str]) -> int:
    return sum((root / name).lstat().st_size for name in files)


# --- The real Docker CLI, talking to a stand-in daemon -----------------------------------------------------


class _CaptureDaemon(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    captured: bytes | None = None


class _CaptureHandler(http.server.BaseHTTPRequestHandler):
    """Just enough of the Engine API for `docker build`: the version ping, then POST /build, whose body is the
    context as a tar stream; it is kept and the build is answered with an error so the CLI stops there."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._answer(200)

    def do_GET(self) -> None:
        self._answer(200, b"OK")

    def do_POST(self) -> None:
        body = io.BytesIO()
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                body.write(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
        else:
            body.write(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if "/build" in self.path:
            self.server.captured = body.getvalue()
        self._answer(200, b'{"error": "context captured", "errorDetail": {"message": "context captured"}}\n')


def docker_cli_context(root: Path, *, timeout: float = 120) -> list[str] | None:
    """The files the Docker CLI itself puts in the build context of `root`, or None without a Docker CLI.

    The classic builder (DOCKER_BUILDKIT=0) tars the context in the CLI, applying .dockerignore with Docker's
    own matcher, and streams it to the daemon: a stand-in daemon on a private socket keeps that stream. The
    classic builder always sends the Dockerfile and .dockerignore themselves, even when ignored.
    """
    docker = shutil.which("docker")
    if docker is None:
        return None
    with tempfile.TemporaryDirectory(prefix="docker-cli-") as scratch:
        socket_path = Path(scratch) / "docker.sock"
        server = _CaptureDaemon(str(socket_path), _CaptureHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            environment = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": scratch,
                "DOCKER_CONFIG": scratch,  # no user configuration, no buildx plugin: the classic builder
                "DOCKER_HOST": f"unix://{socket_path}",
                "DOCKER_BUILDKIT": "0",
            }
            subprocess.run(
                [docker, "build", "-q", str(root)], env=environment, capture_output=True, timeout=timeout, check=False
            )
        finally:
            server.shutdown()
            server.server_close()
        if server.captured is None:
            return None
        with tarfile.open(fileobj=io.BytesIO(server.captured)) as archive:
            return sorted(member.name for member in archive.getmembers() if not member.isdir())
