"""The OpenAPI schema documents every operation for API users: it generates without warnings and validates, every
operation has a summary and a description saying who may call it, no developer note leaks into it, and the main
operations carry examples that match their own schemas."""

import inspect
import json
import re

import jsonschema
import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import EndpointEnumerator

from minirag.api.docs import TAGS

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
# Phrases that belong to the code, not to a description for API users.
DEVELOPER_PHRASES = re.compile(
    r"\bTODO\b|\bFIXME\b|\bXXX\b|\bhelper\b|\bDRF\b|\bdrf_|\bdocstring|\breference\b|\bour own\b|Mixin\b"
    r"|\w\.py\b|\bselectors?\b|\bservices\.\w|\bsettings\.\w|\b[a-z]+_[a-z_]+\(|\bAPI_MAX_PAGE_SIZE\b"
    r"|\bCHAT_EXPORT_MAX_CHATS\b|perform_content_negotiation|\bqueryset\b"
)
# (method, path, status of the success answer, whether the request has a JSON body worth an example)
MAIN_OPERATIONS = [
    ("post", "/v1/tenants", "201", True),
    ("get", "/v1/tenants/me", "200", False),
    ("post", "/v1/auth/login", "200", True),
    ("post", "/v1/auth/refresh", "200", True),
    ("get", "/v1/auth/me", "200", False),
    ("get", "/v1/api-tokens", "200", False),
    ("post", "/v1/api-tokens", "201", True),
    ("get", "/v1/users", "200", False),
    ("post", "/v1/users", "201", True),
    ("get", "/v1/users/{id}", "200", False),
    ("patch", "/v1/users/{id}", "200", True),
    ("get", "/v1/bot-profiles", "200", False),
    ("post", "/v1/bot-profiles", "201", True),
    ("get", "/v1/bot-profiles/{id}", "200", False),
    ("patch", "/v1/bot-profiles/{id}", "200", True),
    ("get", "/v1/sources", "200", False),
    ("post", "/v1/sources", "201", True),
    ("get", "/v1/sources/{id}", "200", False),
    ("post", "/v1/sources/upload", "201", False),
    ("post", "/v1/sources/batch", "201", True),
    ("post", "/v1/sources/{id}/ingest", "202", False),
    ("post", "/v1/chat", "200", True),
    ("get", "/v1/chat", "200", False),
    ("get", "/v1/chat/{chat_id}/messages", "200", False),
    ("patch", "/v1/chat/{chat_id}/messages/{message_id}/feedback", "200", True),
    ("get", "/v1/stats/overview", "200", False),
    ("get", "/v1/stats/usage", "200", False),
    ("get", "/v1/stats/cost-estimate", "200", False),
    ("get", "/v1/webhooks", "200", False),
    ("post", "/v1/webhooks", "201", True),
    ("get", "/v1/webhooks/{id}/deliveries", "200", False),
    ("post", "/v1/webhooks/{id}/test", "200", False),
]
SSE_EVENTS = {"sources", "delta", "done", "error"}


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    """The schema as `manage.py spectacular` writes it; any generator warning or error, or an invalid OpenAPI
    document, fails here."""
    path = tmp_path_factory.mktemp("openapi") / "schema.json"
    GENERATOR_STATS.reset()  # warnings of earlier generations in this process must not count, nor hide new ones
    call_command(
        "spectacular", "--file", str(path), "--format", "openapi-json", "--fail-on-warn", "--validate", verbosity=0
    )
    return json.loads(path.read_text())


def _operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def _texts(node, where=""):
    """Every summary and description in the schema, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("summary", "description") and isinstance(value, str):
                yield f"{where}/{key}", value
            else:
                yield from _texts(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _texts(value, f"{where}/{index}")


def test_schema_generates_without_warnings_and_validates(schema):
    assert schema["openapi"].startswith("3.")
    assert len(list(_operations(schema))) >= 50


def test_every_operation_has_a_summary_and_a_description_for_api_users(schema):
    problems = []
    for method, path, operation in _operations(schema):
        summary = (operation.get("summary") or "").strip()
        description = (operation.get("description") or "").strip()
        if not summary or len(summary) > 80 or summary.endswith("."):
            problems.append(f"{method.upper()} {path}: summary {summary!r} (short, no final period)")
        if len(description) < 60:
            problems.append(f"{method.upper()} {path}: description too short: {description!r}")
        if "**Who may call:**" not in description:
            problems.append(f"{method.upper()} {path}: the description does not say who may call it")
    assert not problems, "\n".join(problems)


def test_summaries_are_unique(schema):
    summaries = [operation["summary"] for _, _, operation in _operations(schema)]
    assert len(summaries) == len(set(summaries)), sorted(s for s in summaries if summaries.count(s) > 1)


def test_no_developer_note_leaks_into_the_schema(schema):
    leaks = [f"{where}: {text[:120]!r}" for where, text in _texts(schema) if DEVELOPER_PHRASES.search(text)]
    assert not leaks, "\n".join(leaks)


def test_no_view_docstring_becomes_an_operation_description(schema):
    """A view's (or a base class's) docstring is written for developers; descriptions come from the docs modules."""
    descriptions = "\n".join(operation.get("description", "") for _, _, operation in _operations(schema))
    docstrings = set()
    for _path, _regex, method, callback in EndpointEnumerator().get_api_endpoints():
        view = callback.cls
        for klass in inspect.getmro(view):
            if klass.__module__.split(".")[0] in ("tenants", "bots", "sources", "chat", "usage", "minirag"):
                docstrings.add(inspect.getdoc(klass))
        action = (getattr(callback, "actions", None) or {}).get(method.lower(), method.lower())
        docstrings.add(inspect.getdoc(getattr(view, action, None)))
    leaked = [doc for doc in docstrings if doc and doc.splitlines()[0] in descriptions]
    assert not leaked, leaked


def test_operations_are_grouped_by_documented_tags(schema):
    documented = [tag["name"] for tag in schema["tags"]]
    assert documented == [tag["name"] for tag in TAGS]
    for method, path, operation in _operations(schema):
        assert len(operation.get("tags", [])) == 1, f"{method.upper()} {path}: {operation.get('tags')}"
        assert operation["tags"][0] in documented, f"{method.upper()} {path}: undocumented tag {operation['tags']}"
    assert "Authorization: Bearer" in schema["info"]["description"]  # the overview tells how to authenticate


def _json_examples(content: dict) -> list:
    media = content.get("application/json", {})
    return list(media.get("examples", {}).values())


@pytest.mark.parametrize(("method", "path", "status", "has_body"), MAIN_OPERATIONS)
def test_main_operations_have_request_and_response_examples(schema, method, path, status, has_body):
    operation = schema["paths"][path][method]
    response_examples = _json_examples(operation["responses"][status].get("content", {}))
    assert response_examples, f"{method.upper()} {path}: no example of the {status} answer"
    if has_body:
        assert _json_examples(operation["requestBody"]["content"]), f"{method.upper()} {path}: no request example"


def _strict(node):
    """OpenAPI 3.0 schema → JSON Schema: `nullable` becomes a null alternative, and objects with declared
    properties refuse unknown keys (an example with a misspelt or invented field fails)."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _strict(value) for key, value in node.items() if key not in ("nullable", "readOnly", "writeOnly")}
    if "properties" in converted and "additionalProperties" not in converted:
        converted["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _check(schema: dict, media_schema: dict, value, where: str) -> None:
    document = {**_strict(media_schema), "components": _strict(schema["components"])}
    errors = list(jsonschema.Draft202012Validator(document).iter_errors(value))
    assert not errors, f"{where}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_every_json_example_matches_its_schema(schema):
    checked = 0
    for method, path, operation in _operations(schema):
        bodies = [("request", operation.get("requestBody", {}).get("content", {}))]
        bodies += [(f"{code} answer", answer.get("content", {})) for code, answer in operation["responses"].items()]
        for label, content in bodies:
            media = content.get("application/json")
            for name, example in (media or {}).get("examples", {}).items():
                _check(schema, media["schema"], example["value"], f"{method.upper()} {path} {label} {name}")
                checked += 1
    assert checked >= 60


def _sse_events(stream: str) -> list[tuple[str, dict]]:
    events = []
    for block in stream.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        assert lines[0].startswith("event: ") and lines[1].startswith("data: ") and len(lines) == 2, block
        events.append((lines[0].removeprefix("event: "), json.loads(lines[1].removeprefix("data: "))))
    return events


def test_chat_documents_the_event_stream_and_its_framing(schema):
    answer = schema["paths"]["/v1/chat"]["post"]["responses"]["200"]["content"]
    assert set(answer) == {"application/json", "text/event-stream"}
    for event_name in SSE_EVENTS:
        assert f"`{event_name}`" in schema["paths"]["/v1/chat"]["post"]["description"]
    examples = answer["text/event-stream"]["examples"].values()
    assert examples
    for example in examples:
        events = _sse_events(example["value"])
        names = [name for name, _ in events]
        assert set(names) <= SSE_EVENTS and names[0] in ("sources", "error") and names[-1] in ("done", "error")
        assert names.count("done") + names.count("error") == 1
        for name, data in events:
            if name == "sources":
                for source in data["sources"]:
                    _check(schema, {"$ref": "#/components/schemas/Source"}, source, "sse sources")
            elif name == "delta":
                assert set(data) == {"content"}
            elif name == "done":
                assert set(data) == {"chat_id", "message_id", "usage"}
                _check(schema, {"$ref": "#/components/schemas/Usage"}, data["usage"], "sse done usage")
            else:
                _check(schema, {"$ref": "#/components/schemas/Error"}, data, "sse error")
