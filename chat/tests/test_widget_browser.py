"""The widget in a real browser: headless Chromium (Debian's `chromium`) on pages served from other origins.

A live MiniRAG server, plus tiny HTTP servers on other 127.0.0.1 ports serving a shop page that embeds the widget
with one `<script>` tag and a publishable key. The key allows the shop's origin only; a third port plays a foreign
site using the same key. The bot talks to the suite's fake OpenAI server, which streams a Markdown answer that cites
its source and tries to inject markup; the source's name tries too.

With MINIRAG_WIDGET_SCREENSHOT=<path> set, the last test saves the README's picture of the widget there
(docs/widget_screenshot.py); it is skipped otherwise.
"""

import base64
import importlib.util
import json
import os
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chat.models import Chat, Message, MessageRole
from chat.tests.conftest import PARIS_TEXT, ingest_text, make_llm_bot
from minirag.tenancy import tenant_context
from minirag.tests.browser import Browser, chromium_path

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (apt-get install -y chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("websockets") is None, reason="the websockets package is missing"),
]

SOURCE_NAME = "Quaxland <img src=x onerror=\"window.__pwned='source name'\"> facts"
SOURCE_TEXT = PARIS_TEXT + "\n\nA note for testers: <img src=x onerror=\"window.__pwned='source text'\"> stays text."
REPLY = (
    "The capital of Quaxland is **Blipton** [1], a harbour city.\n\n"
    "- Founded in *1642* by fishermen [1]\n"
    "- Markup stays text: <img src=x onerror=\"window.__pwned='answer'\"> and `<b>code</b>`\n\n"
    "[Unsafe link](javascript:window.__pwned='link') and [the map](https://example.com/map)."
)
QUESTION = "What is the capital of Quaxland?"
ROOT = "document.querySelector('minirag-chat').shadowRoot"
UNREACHABLE = "Could not reach the chat service"


@pytest.fixture(scope="module", autouse=True)
def _put_session_tenants_back(_session_tenants, django_db_blocker):
    """The live server needs committed data, so these tests are transactional and end with a flush of the public
    tables. Put the session's tenants back afterwards (their schemas survive the flush) for later tests."""
    yield
    with django_db_blocker.unblock():
        for handle in _session_tenants.values():
            handle.restore()


# --- the pieces: other origins, a browser that keeps the network log, the bot -----------------------------------


@contextmanager
def website():
    """An HTTP server on a free 127.0.0.1 port serving `pages` (path → HTML), filled in once the origin is known."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path.split("?")[0], "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()


def shop_page(script_src: str, raw_key: str) -> str:
    # The embed snippet from the README, plus a theme colour set the documented way.
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Quaxland Tours</title>
<style>body{{font-family:sans-serif;margin:40px}} minirag-chat{{--minirag-primary:#0a7d45}}</style></head>
<body><h1>Quaxland Tours</h1><p>Boat trips to the purple lighthouses of Blipton, twice a day, all year.</p>
<p>Tickets at the harbour office or on board. Children under six travel free.</p>
<script src="{script_src}" data-bot-key="{raw_key}" data-title="Quaxland guide" async></script>
</body></html>"""


class Page:
    """One Chromium tab driven over the DevTools protocol, keeping the network events it sees."""

    def __init__(self, browser: Browser):
        self.browser = browser
        self.events: list[dict] = []
        ws = browser._ws
        receive = ws.recv

        def recording_recv(*args, **kwargs):
            message = receive(*args, **kwargs)
            parsed = json.loads(message)
            if parsed.get("method", "").startswith(("Network.", "Runtime.exceptionThrown", "Log.entryAdded")):
                self.events.append(parsed)
            return message

        ws.recv = recording_recv
        browser._call("Runtime.enable")  # page errors and console messages, for the failure messages below
        browser._call("Log.enable")

    def goto(self, url: str) -> None:
        self.browser._call("Page.navigate", {"url": url}, wait_event="Page.loadEventFired")

    def js(self, expression: str):
        return self.browser.evaluate(expression)

    def wait(self, expression: str, *, timeout: float = 20.0, what: str = ""):
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or expression}; the page said: {self.problems()}")
            time.sleep(0.1)

    def problems(self) -> list[str]:
        """Uncaught errors and console/network-level messages (CSP, CORS, failed loads) seen so far."""
        found = []
        for event in self.events:
            if event["method"] == "Runtime.exceptionThrown":
                details = event["params"]["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif event["method"] == "Log.entryAdded":
                found.append(event["params"]["entry"]["text"])
        return found

    def widget_ready(self, part: str) -> None:
        self.wait(f"!!document.querySelector('minirag-chat')?.shadowRoot?.querySelector('{part}')", what=part)

    def press(self, key: str, code: int) -> None:
        for kind in ("rawKeyDown", "keyUp"):
            params = {"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code}
            self.browser._call("Input.dispatchKeyEvent", params)

    def type(self, text: str) -> None:
        self.browser._call("Input.insertText", {"text": text})

    def ask(self, question: str) -> None:
        """Type into the focused message box and press Enter, as a user does — right after the previous answer
        finished (the widget takes the next question at once, while the old connection may still be closing)."""
        self.wait(f"{ROOT}.activeElement && {ROOT}.activeElement.id === 'input'", what="the message box focused")
        self.type(question)
        self.press("Enter", 13)

    def answers_done(self, count: int) -> None:
        self.wait(f"{ROOT}.querySelectorAll('.fb').length >= {count}", what=f"{count} finished answer(s)")

    def body(self, url_suffix: str, number: int) -> str:
        """The body of the `number`th finished request to url…suffix (1 = the first), e.g. an SSE stream."""
        deadline = time.monotonic() + 10
        while True:
            urls = {
                e["params"]["requestId"]: e["params"]["request"]["url"] for e in self.events if "request" in e["params"]
            }
            finished = [
                e["params"]["requestId"]
                for e in self.events
                if e["method"] == "Network.loadingFinished"
                and urls.get(e["params"]["requestId"], "").endswith(url_suffix)
            ]
            if len(finished) >= number or time.monotonic() > deadline:
                break
            self.js("0")  # let the pending DevTools events in
            time.sleep(0.1)
        return self.browser._call("Network.getResponseBody", {"requestId": finished[number - 1]})["body"]

    def screenshot(self) -> bytes:
        return base64.b64decode(self.browser._call("Page.captureScreenshot", {"format": "png"})["data"])

    def statuses(self, url_suffix: str, method: str) -> list[int]:
        """HTTP statuses the browser received for `method url…suffix`, in order — CORS-blocked answers included
        (the page cannot see those; DevTools reports them as `responseReceivedExtraInfo`)."""
        requests = {
            event["params"]["requestId"]: event["params"]["request"]
            for event in self.events
            if event["method"] == "Network.requestWillBeSent"
        }
        statuses: dict[str, int] = {}
        for event in self.events:
            params = event["params"]
            if event["method"] == "Network.responseReceived":
                statuses[params["requestId"]] = params["response"]["status"]
            elif event["method"] == "Network.responseReceivedExtraInfo":
                statuses.setdefault(params["requestId"], params["statusCode"])
        return [
            status
            for request_id, status in statuses.items()
            if request_id in requests
            and requests[request_id]["url"].endswith(url_suffix)
            and requests[request_id]["method"] == method
        ]


@pytest.fixture
def quaxland_bot(tenant_a, fake_llm, fresh_counters, django_capture_on_commit_callbacks):
    fake_llm.reply = REPLY
    fake_llm.chunk_delay = 0.03  # a word at a time, slowly enough to watch the answer grow
    bot = make_llm_bot(tenant_a.tenant, fake_llm, name="Quaxland guide")
    ingest_text(tenant_a.tenant, bot, name=SOURCE_NAME, content=SOURCE_TEXT, capture=django_capture_on_commit_callbacks)
    return bot


def _key(tenant_a, bot, origins) -> dict:
    """A publishable key issued the documented way (POST /v1/publishable-keys, by the owner's API token)."""
    response = tenant_a.client().post(
        "/v1/publishable-keys",
        {"bot_profile_id": str(bot.id), "name": "Shop", "allowed_origins": origins},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def _answer(page: Page, index: int = -1) -> dict:
    return page.js(
        f"""(() => {{
        const r = {ROOT};
        const bot = [...r.querySelectorAll('.msg.bot:not(.note)')].at({index});
        const md = bot.querySelector('.md');
        return {{
          text: md.textContent,
          strong: [...md.querySelectorAll('strong')].map((e) => e.textContent),
          em: [...md.querySelectorAll('em')].map((e) => e.textContent),
          code: [...md.querySelectorAll('code')].map((e) => e.textContent),
          items: md.querySelectorAll('li').length,
          links: [...md.querySelectorAll('a')].map((a) => [a.textContent, a.href, a.rel, a.target]),
          cites: [...md.querySelectorAll('button.cite')].map((b) => [b.textContent, b.getAttribute('aria-label')]),
          sources: [...bot.querySelectorAll('.src li')].map((li) => li.textContent),
          feedback: [...bot.querySelectorAll('.fb button')].map((b) => [b.getAttribute('aria-label'),
            b.getAttribute('aria-pressed')]),
          images: r.querySelectorAll('img').length + document.querySelectorAll('img').length,
          pwned: window.__pwned === undefined ? null : String(window.__pwned),
        }};
      }})()"""
    )


WATCH_ANSWER = f"""(() => {{
  window.__partial = [];
  const r = {ROOT};
  new MutationObserver(() => {{
    const md = [...r.querySelectorAll('.msg.bot:not(.note) .md')].at(-1);
    if (md && !md.parentNode.querySelector('.fb')) window.__partial.push(md.textContent.length);
  }}).observe(r.querySelector('.log'), {{subtree: true, childList: true, characterData: true}});
  return true;
}})()"""


# --- the tests ---------------------------------------------------------------------------------------------------


def test_a_page_on_an_allowed_origin_chats_through_the_widget(live_server, tenant_a, quaxland_bot):
    with website() as (shop, pages), Browser(width=1280, height=820) as browser:
        key = _key(tenant_a, quaxland_bot, [shop])
        pages["/"] = shop_page(f"{live_server.url}/widget.js", key["key"])
        page = Page(browser)
        page.goto(shop + "/")

        # Given the bubble the script tag added, themed by the page
        page.widget_ready(".bubble")
        bubble = page.js(
            f"""(() => {{ const b = {ROOT}.querySelector('.bubble');
            return [b.getAttribute('aria-label'), b.getAttribute('aria-expanded'), getComputedStyle(b).backgroundColor];
            }})()"""
        )
        assert bubble == ["Open chat: Quaxland guide", "false", "rgb(10, 125, 69)"]
        # When the visitor opens it and asks (keyboard: the box has focus, Enter sends)
        page.js(f"{ROOT}.querySelector('.bubble').click()")
        assert page.js(f"{ROOT}.querySelector('.panel').getAttribute('role')") == "dialog"
        page.js(WATCH_ANSWER)
        page.ask(QUESTION)
        page.answers_done(1)

        # Then the answer streamed in (it was shown while still growing) ...
        answer = _answer(page)
        partial = page.js("window.__partial")
        assert any(0 < length < len(answer["text"]) for length in partial), partial
        # ... rendered from Markdown, with the model's and the source's markup left as text
        assert answer["text"].startswith("The capital of Quaxland is Blipton 1, a harbour city.")
        assert answer["strong"] == ["Blipton"] and answer["em"] == ["1642"] and answer["code"] == ["<b>code</b>"]
        assert answer["items"] == 2
        assert "<img src=x onerror=\"window.__pwned='answer'\">" in answer["text"]
        assert answer["images"] == 0 and answer["pwned"] is None
        assert "Unsafe link" in answer["text"]
        assert answer["links"] == [["the map", "https://example.com/map", "noopener noreferrer", "_blank"]]
        # ... citing its source by name
        assert answer["cites"] == [["1", f"Source 1: {SOURCE_NAME}"]] * 2
        assert answer["sources"] == [SOURCE_NAME]

        # When the visitor gives a thumbs up, it is stored
        page.js(f"{ROOT}.querySelector('.fb button[aria-label=Helpful]').click()")
        page.wait(f"{ROOT}.querySelector('[role=status]').textContent === 'Thanks for the feedback.'")
        with tenant_context(tenant_a.tenant):
            chat = Chat.objects.get(publishable_key_id=key["id"])
            assert chat.messages.get(role=MessageRole.ASSISTANT).feedback == "positive"

        # When the page is reloaded, the conversation (and the thumbs up) is still there, and continues
        page.goto(shop + "/")
        page.widget_ready(".bubble")
        page.js(f"{ROOT}.querySelector('.bubble').click()")
        page.answers_done(1)
        restored = _answer(page)
        assert page.js(f"[...{ROOT}.querySelectorAll('.msg.user')].map((m) => m.textContent)") == [f"You: {QUESTION}"]
        assert restored["text"] == answer["text"] and restored["strong"] == ["Blipton"]
        assert restored["feedback"] == [["Helpful", "true"], ["Not helpful", "false"]]
        page.ask("When was Blipton founded?")
        page.answers_done(2)
        with tenant_context(tenant_a.tenant):
            assert Chat.objects.filter(publishable_key_id=key["id"]).count() == 1
            assert Message.objects.filter(chat=chat).count() == 4

        # Esc closes the chat and gives the focus back to the bubble
        page.press("Escape", 27)
        assert page.js(
            f"{ROOT}.querySelector('.panel').hidden && {ROOT}.activeElement === {ROOT}.querySelector('.bubble')"
        )
        assert page.statuses("/v1/chat", "POST") == [200, 200]


def test_a_page_on_a_foreign_origin_is_refused(live_server, tenant_a, quaxland_bot):
    with website() as (shop, _), website() as (foreign, pages), Browser(width=1024, height=760) as browser:
        key = _key(tenant_a, quaxland_bot, [shop])  # the key is for the shop, not for this site
        pages["/"] = shop_page(f"{live_server.url}/widget.js", key["key"])
        page = Page(browser)
        page.goto(foreign + "/")
        page.widget_ready(".bubble")
        page.js(f"{ROOT}.querySelector('.bubble').click()")

        page.ask(QUESTION)

        error = page.wait(f"{ROOT}.querySelector('.msg.err')?.textContent", what="the error message")
        assert error.startswith(UNREACHABLE)
        assert page.js(f"{ROOT}.querySelector('.msg.err').getAttribute('role')") == "alert"
        assert page.statuses("/v1/chat", "POST") == [403]
        assert page.js(f"{ROOT}.querySelectorAll('.msg.bot:not(.note)').length") == 0
        with tenant_context(tenant_a.tenant):
            assert not Chat.objects.filter(publishable_key_id=key["id"]).exists()


def test_the_hosted_page_chats_and_shows_streamed_errors(live_server, tenant_a, quaxland_bot, fake_llm):
    key = _key(tenant_a, quaxland_bot, [])
    share = urlsplit(key["share_url"])  # <base>/c/<key id>#<key>, here on the test client's host
    assert (share.path, share.fragment) == (f"/c/{key['id']}", key["key"])
    with Browser(width=1100, height=800) as browser:
        page = Page(browser)
        page.goto(f"{live_server.url}{share.path}#{share.fragment}")
        page.widget_ready(".panel")

        # Given the full-page chat (no bubble), styled although the page's CSP forbids inline styles
        assert page.js("document.title") == "Quaxland guide · Chat"
        assert page.js(f"{ROOT}.querySelector('.bubble')") is None
        assert page.js(f"getComputedStyle({ROOT}.querySelector('header')).backgroundColor") == "rgb(47, 91, 234)"
        # When a question is asked, a cited answer arrives
        page.ask(QUESTION)
        page.answers_done(1)
        answer = _answer(page)
        assert answer["strong"] == ["Blipton"] and answer["sources"] == [SOURCE_NAME]
        assert answer["images"] == 0 and answer["pwned"] is None

        # When the model's stream breaks midway, the error event is shown, and the partial answer kept
        fake_llm.break_stream_after = 4
        page.ask("And its national dish?")
        error = page.wait(f"{ROOT}.querySelector('.msg.err')?.textContent", what="the streamed error")
        assert f"event: error\ndata: {json.dumps({'detail': error})}\n\n" in page.body("/v1/chat", 2)
        assert _answer(page)["text"].startswith("The capital of Quaxland")
        assert page.js(f"{ROOT}.querySelectorAll('.msg.bot:not(.note)').length") == 2


SCREENSHOT = os.environ.get("MINIRAG_WIDGET_SCREENSHOT")
TOURS = {
    "Boat tours": "# Boat tours\n\nBoat tours to the purple lighthouses leave Blipton harbour every day at 10:00 and "
    "14:00. Tickets cost 25 euros for adults and 12 euros for children.",
    "Harbour office": "# Harbour office\n\nThe harbour office in Blipton is open from 8:00 to 18:00. It sells tour "
    "tickets and lends umbrellas.",
}
TOURS_REPLY = (
    "Boat tours to the **purple lighthouses** leave Blipton harbour every day at *10:00 and 14:00* [1].\n\n"
    "- Tickets: 25 euros for adults, 12 euros for children [1]\n"
    "- The harbour office sells tickets and is open 8:00–18:00 [2]\n\n"
    "Bring a jacket: it is windy on the water."
)


@pytest.mark.skipif(not SCREENSHOT, reason="set MINIRAG_WIDGET_SCREENSHOT=<path> to save the README's screenshot")
def test_screenshot_for_the_readme(live_server, tenant_a, fake_llm, fresh_counters, django_capture_on_commit_callbacks):
    fake_llm.reply = TOURS_REPLY
    bot = make_llm_bot(tenant_a.tenant, fake_llm, name="Quaxland Tours")
    for name, content in TOURS.items():
        ingest_text(tenant_a.tenant, bot, name=name, content=content, capture=django_capture_on_commit_callbacks)
    with website() as (shop, pages), Browser(width=1200, height=780) as browser:
        key = _key(tenant_a, bot, [shop])
        pages["/"] = shop_page(f"{live_server.url}/widget.js", key["key"])
        page = Page(browser)
        page.goto(shop + "/")
        page.widget_ready(".bubble")
        page.js(f"{ROOT}.querySelector('.bubble').click()")
        page.ask("When do boat tours to the purple lighthouses leave? When is the harbour office open?")
        page.answers_done(1)
        page.js(f"{ROOT}.querySelector('.fb button[aria-label=Helpful]').click()")
        page.wait(f"{ROOT}.querySelector('[role=status]').textContent === 'Thanks for the feedback.'")
        page.js(f"{ROOT}.activeElement?.blur()")

        assert _answer(page)["sources"] == ["Boat tours", "Harbour office"]
        Path(SCREENSHOT).write_bytes(page.screenshot())
