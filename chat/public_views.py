"""Pages and files for end users, without a tenant credential: widget.js and the hosted chat page `/c/<key id>`.

The hosted page carries no secret: the publishable key travels in the URL fragment (`/c/<key id>#pk_…`), which
browsers never send to a server; the widget reads it from `location.hash`.
"""

import re

from django.http import HttpResponse, HttpResponseNotModified
from django.shortcuts import render
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_safe

from chat.widget.assets import widget_asset
from chat.widget.hosted import HostedChat, hosted_chat_get

SHORT_CACHE = "public, max-age=300"  # /widget.js: pages pick up a new release within minutes
PINNED_CACHE = "public, max-age=31536000, immutable"  # /widget.<version>.js and /widget.js?v=<version>
# Origins go into the hosted page's `frame-ancestors`; they are normalised when a key is saved, and checked again
# here so nothing else can ever reach the header.
_CSP_ORIGIN = re.compile(r"^https?://[a-z0-9.\-]+(:\d{1,5})?$|^https?://\[[0-9a-f:.]+\](:\d{1,5})?$")


@require_safe
@gzip_page  # ~25 KB → ~8 KB on the wire; the ETag becomes weak (W/"…"), which If-None-Match still matches
def widget_script(request, version: str | None = None) -> HttpResponse:
    """widget.js. Asked for by its current version (path or `?v=`), it is cacheable for a year; any other URL
    (plain, or an old version after an upgrade) gets the current file with a short cache and an ETag."""
    asset = widget_asset()
    pinned = (version or request.GET.get("v")) == asset.version
    headers = {
        "ETag": asset.etag,
        "Cache-Control": PINNED_CACHE if pinned else SHORT_CACHE,
        # Any site may load it: with CORS and CORP it also works under `crossorigin` + SRI and behind COEP.
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Widget-Version": asset.version,
    }
    if asset.etag in _etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(asset.body, content_type="text/javascript; charset=utf-8")
    for name, value in headers.items():
        response[name] = value
    return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


@require_safe
def hosted_chat(request, key_id: str) -> HttpResponse:
    """The full-page chat for one publishable key; 404 for an unknown, malformed or revoked key id."""
    chat = hosted_chat_get(key_id=key_id)
    if chat is None:
        response = render(request, "chat/hosted_missing.html", status=404)
    else:
        response = render(request, "chat/hosted.html", {"chat": chat, "widget_version": widget_asset().version})
    return _hosted_headers(response, chat)


def _hosted_headers(response: HttpResponse, chat: HostedChat | None) -> HttpResponse:
    """A strict CSP (only our own script, styles and API; no inline code) and no referrer.

    Framing: a key's own sites (its allowed origins) may put the page in an iframe — they may use the key anyway;
    any other site may not, or it could run the bot from its own pages through our origin, which the key's origin
    rule exists to prevent. X-Frame-Options cannot list origins, so it is DENY only when no origin may frame the
    page (browsers that know `frame-ancestors` ignore X-Frame-Options).
    """
    ancestors = [origin for origin in (chat.allowed_origins if chat else ()) if _CSP_ORIGIN.match(origin)]
    response["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors " + (" ".join(ancestors) or "'none'"),
        ]
    )
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"  # a revoked key's page disappears at once
    if ancestors:
        response.xframe_options_exempt = True
    else:
        response["X-Frame-Options"] = "DENY"
    return response
