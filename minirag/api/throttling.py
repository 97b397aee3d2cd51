"""Rate limits shared by all processes (DRF throttles over minirag.counters, i.e. Redis when configured).

Scopes and their settings (settings.RATE_LIMITS, each "N/period" such as "10/hour", "30/min", "10/15min";
empty or "off" disables one):

- `signup_ip`    POST /v1/tenants, per client IP
- `login_ip`     POST /v1/auth/login and /v1/auth/refresh, per client IP
- `login_email`  POST /v1/auth/login, per email address (every attempt counts)
- `chat_tenant`  POST /v1/chat, per tenant
- `chat_bot`     POST /v1/chat, per bot
- `writes_token` every other POST/PUT/PATCH/DELETE, per credential (API token, or the user behind a JWT)
- `publishable_key` every request made with a publishable key, per key
- `publishable_ip`  every request made with a publishable key, per key and end-user IP (one visitor cannot use
                    up a site's whole allowance)

The publishable-key scopes are applied by the API base (minirag.api.base) to every tenant view, whatever its own
throttles; a key's chat also counts toward `chat_tenant` and `chat_bot` (its bot).

Counting uses fixed windows aligned on the epoch (one atomic INCR per scope and request); a client can
therefore reach up to twice a limit across a window boundary. Over a limit the API answers 429 with
`Retry-After` (seconds until the window ends) and `{"detail": ...}` naming the limit. Each refusal is counted
per scope (and tenant) for the operator console, and logged at WARNING once per client and window. When the
cache is unreachable, requests are let through (minirag.counters fails open).

The client IP is REMOTE_ADDR unless TRUSTED_PROXY_HOPS says how many proxies in front of the app append to
X-Forwarded-For; IPv6 clients are counted per /64, the block one subscriber usually holds.
"""

import datetime as dt
import hashlib
import ipaddress
import logging
import math
import re
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.checks import Error
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from minirag import counters

logger = logging.getLogger("minirag.throttling")

SCOPES = {
    "signup_ip": "sign-ups per IP address",
    "login_ip": "logins per IP address",
    "login_email": "logins per email address",
    "chat_tenant": "chat requests per tenant",
    "chat_bot": "chat requests per bot",
    "writes_token": "write requests per credential",
    "publishable_key": "requests per publishable key",
    "publishable_ip": "requests per publishable key and IP address",
}
CHAT_URL_NAMES = frozenset({"chat"})  # POST /v1/chat (chat.api.urls); its own scopes, not `writes_token`
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DENIALS_KEPT_DAYS = 8

_UNITS = {
    **dict.fromkeys(("s", "sec", "second"), 1),
    **dict.fromkeys(("m", "min", "minute"), 60),
    **dict.fromkeys(("h", "hour"), 3600),
    **dict.fromkeys(("d", "day"), 86400),
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds
    text: str


def parse_rate(text: str | None) -> Rate | None:
    """ "10/hour", "30/min", "10/15min", "5/2h" → Rate; None for "", "off", "none". Raises ValueError otherwise."""
    if text is None or text.strip().lower() in ("", "off", "none"):
        return None
    match = _RATE.match(text.strip().lower())
    if not match or match.group(3) not in _UNITS:
        raise ValueError(f"Not a rate: {text!r} (expected N/period, e.g. 10/hour, 30/min, 10/15min)")
    multiplier = int(match.group(2) or 1)
    if multiplier < 1:
        raise ValueError(f"Not a rate: {text!r}")
    return Rate(limit=int(match.group(1)), period=multiplier * _UNITS[match.group(3)], text=text.strip())


def client_ip(request) -> str:
    """The address limits count against: REMOTE_ADDR, or with TRUSTED_PROXY_HOPS = n the n-th address from the
    right of X-Forwarded-For (the one our outermost trusted proxy saw). IPv6 addresses become their /64."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    address = remote
    hops = settings.TRUSTED_PROXY_HOPS
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        # Fewer entries than trusted hops: the request bypassed a proxy; count it against the peer we see.
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return remote
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class RateLimited(exceptions.Throttled):
    """429 with Retry-After (DRF's exception handler sets the header from `wait`)."""

    extra_detail_singular = "Retry in {wait} second."
    extra_detail_plural = "Retry in {wait} seconds."


def _day(now: dt.datetime) -> str:
    return now.strftime("%Y%m%d")


def _denial_key(scope: str, tenant_id, day: str) -> str:
    return f"rl-denied:{scope}:{tenant_id or '-'}:{day}"


def record_denial(*, scope: str, tenant_id=None, ident: str, first_in_window: bool, rate: Rate, path: str) -> None:
    """Count a refusal for the console; log the first refusal of a client in each window at WARNING."""
    try:
        counters.incr(_denial_key(scope, tenant_id, _day(timezone.now())), timeout=DENIALS_KEPT_DAYS * 86400)
    except counters.CacheUnavailable:
        pass
    if first_in_window:
        logger.warning(
            "rate limit reached: scope=%s limit=%s tenant=%s client=%s path=%s",
            scope,
            rate.text,
            tenant_id or "-",
            ident,
            path,
        )


def denied_counts(*, tenant_id=None, days: int = 7, scopes=None) -> dict[str, int]:
    """Refusals per scope over the last `days` UTC days: a tenant's (tenant_id) or the anonymous scopes' (None)."""
    scopes = list(scopes or SCOPES)
    today = timezone.now()
    keys = {
        _denial_key(scope, tenant_id, _day(today - dt.timedelta(days=offset))): scope
        for scope in scopes
        for offset in range(days)
    }
    totals = dict.fromkeys(scopes, 0)
    for key, value in counters.get_many(list(keys)).items():
        totals[keys[key]] += value
    return totals


class ScopedRateThrottle(BaseThrottle):
    """One scope of settings.RATE_LIMITS. Subclasses say when they apply and whom they count."""

    scope = ""

    def applies(self, request, view) -> bool:
        return True

    def ident(self, request, view) -> str | None:
        raise NotImplementedError

    def tenant_id(self, request):
        tenant = getattr(getattr(request, "auth", None), "tenant", None)
        return getattr(tenant, "id", None)

    def allow_request(self, request, view) -> bool:
        if not settings.RATE_LIMITS_ENABLED or not self.applies(request, view):
            return True
        try:
            rate = parse_rate(settings.RATE_LIMITS.get(self.scope))
        except ValueError as error:  # reported by `manage.py check` (check_rate_settings); never a 500
            logger.error("rate limit %s ignored: %s", self.scope, error)
            return True
        if rate is None:
            return True
        ident = self.ident(request, view)
        if ident is None:
            return True
        try:
            count, remaining = counters.window_hit(f"{self.scope}:{ident}", period=rate.period)
        except counters.CacheUnavailable:
            return True
        if count <= rate.limit:
            return True
        record_denial(
            scope=self.scope,
            tenant_id=self.tenant_id(request),
            ident=ident,
            first_in_window=count == rate.limit + 1,
            rate=rate,
            path=request.path,
        )
        # Raised here (not returned) so the detail can name the limit, and later scopes are not charged.
        raise RateLimited(
            wait=max(1, math.ceil(remaining)),
            detail=f"Rate limit exceeded: at most {rate.limit} {SCOPES[self.scope]} per {_period_text(rate)}.",
        )

    def wait(self):  # allow_request raises instead of returning False
        return None


def check_rate_settings(app_configs=None, **kwargs) -> list:
    """System check: every RATE_LIMITS entry parses and names a known scope."""
    errors = []
    for scope, text in settings.RATE_LIMITS.items():
        if scope not in SCOPES:
            errors.append(Error(f"RATE_LIMITS has an unknown scope {scope!r}", id="minirag.E101"))
            continue
        try:
            parse_rate(text)
        except ValueError as error:
            errors.append(Error(f"RATE_LIMITS[{scope!r}]: {error}", id="minirag.E102"))
    return errors


def _period_text(rate: Rate) -> str:
    for seconds, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if rate.period % seconds == 0:
            amount = rate.period // seconds
            return unit if amount == 1 else f"{amount} {unit}s"
    return f"{rate.period} seconds"


def _is_chat(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return request.method == "POST" and match is not None and match.url_name in CHAT_URL_NAMES


def _body_value(request, name: str):
    data = request.data
    return data.get(name) if hasattr(data, "get") else None


class SignupRateThrottle(ScopedRateThrottle):
    scope = "signup_ip"

    def ident(self, request, view):
        return client_ip(request)


class LoginIPRateThrottle(ScopedRateThrottle):
    scope = "login_ip"

    def ident(self, request, view):
        return client_ip(request)


class LoginEmailRateThrottle(ScopedRateThrottle):
    scope = "login_email"

    def ident(self, request, view):
        email = _body_value(request, "email")
        if not isinstance(email, str) or not email.strip():
            return None
        # Hashed: neither the cache nor the log holds the address.
        return hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]


class ChatTenantRateThrottle(ScopedRateThrottle):
    scope = "chat_tenant"

    def applies(self, request, view):
        return _is_chat(request)

    def ident(self, request, view):
        tenant_id = self.tenant_id(request)
        return str(tenant_id) if tenant_id else None


class ChatBotRateThrottle(ScopedRateThrottle):
    scope = "chat_bot"

    def applies(self, request, view):
        return _is_chat(request)

    def ident(self, request, view):
        tenant_id = self.tenant_id(request)
        key = _publishable_key(request)
        try:
            # A publishable key chats with its own bot (the body may leave the bot out).
            bot_id = key.bot_profile_id if key is not None else uuid.UUID(str(_body_value(request, "bot_profile_id")))
        except ValueError:
            return None  # the view answers 422
        return f"{tenant_id}:{bot_id}" if tenant_id else None


class WriteRateThrottle(ScopedRateThrottle):
    scope = "writes_token"

    def applies(self, request, view):
        return request.method not in SAFE_METHODS and not _is_chat(request)

    def ident(self, request, view):
        context = getattr(request, "auth", None)
        key = _publishable_key(request)
        if key is not None:
            return f"pk:{key.id}"
        if getattr(context, "token_id", None):
            return f"token:{context.token_id}"
        user = getattr(context, "user", None)
        if getattr(user, "id", None):
            return f"user:{user.id}"
        return None


def _publishable_key(request):
    context = getattr(request, "auth", None)
    if getattr(context, "method", None) != "publishable_key":
        return None
    return getattr(context, "publishable_key", None)


class PublishableKeyRateThrottle(ScopedRateThrottle):
    scope = "publishable_key"

    def applies(self, request, view):
        return _publishable_key(request) is not None

    def ident(self, request, view):
        return str(_publishable_key(request).id)


class PublishableIPRateThrottle(ScopedRateThrottle):
    scope = "publishable_ip"

    def applies(self, request, view):
        return _publishable_key(request) is not None

    def ident(self, request, view):
        return f"{_publishable_key(request).id}:{client_ip(request)}"


# Applied by minirag.api.base to every tenant view (a view's own throttle_classes cannot drop them).
PUBLISHABLE_KEY_THROTTLES = (PublishableKeyRateThrottle, PublishableIPRateThrottle)
