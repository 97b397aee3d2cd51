"""Drive headless Chromium (Debian's `chromium` package) over the DevTools protocol to look at the console.

Test tooling, like fake_openai: used by the browser test (tenants/tests/test_console_browser.py) and by
`docs/console_screenshots.py` (the README's screenshots). The admin needs a session: the caller creates one
(Django test client `force_login`) and passes its cookie here.
"""

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@dataclass
class PageResult:
    url: str
    title: str
    text: str  # document.body.textContent
    png: bytes


class Browser:
    """One headless Chromium with one tab; `with Browser() as browser: browser.capture(url)`."""

    def __init__(self, *, width: int = 1440, height: int = 900, timeout: float = 30.0):
        path = chromium_path()
        if path is None:
            raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
        self.width, self.height, self.timeout = width, height, timeout
        self._profile = tempfile.TemporaryDirectory(prefix="minirag-chromium-", ignore_cleanup_errors=True)
        self._process = subprocess.Popen(
            [path, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._ws = None
        self._next_id = 0

    # --- lifecycle -----------------------------------------------------------------------------------------

    def __enter__(self) -> "Browser":
        port = self._devtools_port()
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                    targets = [t for t in json.load(response) if t.get("type") == "page"]
                if targets:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not open a page")
            time.sleep(0.2)
        from websockets.sync.client import connect

        self._ws = connect(targets[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, open_timeout=self.timeout)
        self._call("Page.enable")
        self._call("Network.enable")
        self._call(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        return self

    def __exit__(self, *exc) -> None:
        if self._ws is not None:
            self._ws.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._profile.cleanup()

    def _devtools_port(self) -> int:
        marker = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not marker.exists() or not marker.read_text().strip():
            if self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        return int(marker.read_text().split()[0])

    # --- protocol ------------------------------------------------------------------------------------------

    def _call(self, method: str, params: dict | None = None, *, wait_event: str | None = None) -> dict:
        self._next_id += 1
        call_id = self._next_id
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params or {}}))
        result, event_seen = None, wait_event is None
        deadline = time.monotonic() + self.timeout
        while result is None or not event_seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{method}: no answer from chromium")
            message = json.loads(self._ws.recv(timeout=remaining))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result = message.get("result", {})
            elif wait_event and message.get("method") == wait_event:
                event_seen = True
        return result

    def set_cookie(self, *, name: str, value: str, url: str) -> None:
        self._call("Network.setCookie", {"name": name, "value": value, "url": url, "httpOnly": True})

    def evaluate(self, expression: str):
        """The JSON-serialisable value of a JavaScript expression in the current page (e.g. element boxes)."""
        evaluated = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in evaluated:
            raise RuntimeError(f"javascript failed: {evaluated['exceptionDetails'].get('text', '')}")
        return evaluated["result"].get("value")

    def capture(self, url: str, *, full_page: bool = False) -> PageResult:
        self._call("Page.navigate", {"url": url}, wait_event="Page.loadEventFired")
        evaluated = self._call(
            "Runtime.evaluate",
            {
                "expression": "JSON.stringify([location.href, document.title, document.body.textContent])",
                "returnByValue": True,
            },
        )
        href, title, text = json.loads(evaluated["result"]["value"])
        params = {"format": "png"}
        if full_page:
            metrics = self._call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": min(size["height"], 4000), "scale": 1}
            params["captureBeyondViewport"] = True
        shot = self._call("Page.captureScreenshot", params)
        return PageResult(url=href, title=title, text=text, png=base64.b64decode(shot["data"]))
