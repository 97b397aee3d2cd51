"""Making error text safe to store for operators: anything that looks like a credential is masked, and the text is
capped. Used for the operator-only `Source.error_detail` (provider messages can quote the key they were sent, a
connection error can carry a URL with a password).

The masks err on the side of hiding too much: a long mixed token of letters and digits may be a harmless id, but
it is far more often a key, and the operator still sees the error's type and where it happened.
"""

import re

REDACTED = "[redacted]"
DEFAULT_LIMIT = 2000

# Well-known key shapes: OpenAI/Anthropic-style `sk-…` (also `sk-proj-****abcd` as OpenAI quotes a wrong key), `pk-`,
# `rk-`, GitHub, Slack, AWS access keys, Google.
_KEY_SHAPES = re.compile(
    r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*]{6,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{10,}"
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|\b(?:AKIA|ASIA)[A-Z0-9]{12,}"
    r"|\bAIza[A-Za-z0-9_\-]{20,}"
)
# `Bearer abc`: the scheme stays, the credential goes (the scheme as HTTP spells it, so prose "basic …" stays).
_AUTH_SCHEME = re.compile(r"\b(Bearer|bearer|BEARER|Basic)(\s+)[A-Za-z0-9._~+/\-]+=*")
# `api_key=abc`, `"password": "abc"`, `Authorization: abc`: the name stays, the value goes (a separator is needed,
# so prose such as "token limit" is left alone).
_NAMED_SECRETS = re.compile(
    r"(?i)\b(api[_\-]?key|access[_\-]?token|refresh[_\-]?token|token|secret|client[_\-]?secret|password|passwd"
    r"|authorization|x-api-key)([\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)"
)
# user:password@ in a URL.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@]+:[^/\s@]+@")
# Long runs that look like base64 or hex tokens (at least one letter and one digit), but not UUIDs.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/_\-]{32,}={0,2}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _mask_long_token(match: re.Match) -> str:
    token = match.group(0)
    if _UUID.fullmatch(token) or not re.search(r"[0-9]", token) or not re.search(r"[A-Za-z]", token):
        return token
    return REDACTED


def redact(text: str, *, limit: int = DEFAULT_LIMIT) -> str:
    """`text` with credentials masked, at most `limit` characters (an ellipsis marks a cut)."""
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text or "")
    text = _KEY_SHAPES.sub(REDACTED, text)
    text = _AUTH_SCHEME.sub(rf"\1\2{REDACTED}", text)
    text = _NAMED_SECRETS.sub(rf"\1\2{REDACTED}", text)
    text = _LONG_TOKEN.sub(_mask_long_token, text)
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text
