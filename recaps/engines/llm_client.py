"""A small client for OpenAI-compatible chat-completions servers (Ollama, llama.cpp, vLLM, OpenAI).

One call, ``complete_json``: send the messages, get back a JSON object that matches a schema. It asks
for structured output (``response_format`` ``json_schema``, strict) and falls back to plain JSON mode
(``json_object``, the schema put into the system prompt) when the server refuses that. A malformed
reply (not JSON, or not matching the schema) gets exactly one retry.

Privacy: the messages hold transcript text. Requests carry nothing that identifies the account or the
session (no ``user`` field), go only to the configured URL (environment proxies are not used), and
nothing of a prompt or a reply is ever logged or put into an exception: ``LlmUnavailable`` carries a
short fixed reason ("timeout", "http 500", "malformed reply"), and the logs carry counts.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LlmSettings:
    url: str  # the API base, e.g. http://127.0.0.1:11434/v1; requests go to {url}/chat/completions
    model: str
    api_key: str = ""
    timeout_s: float = 60.0


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class LlmUnavailable(Exception):
    """The model could not be used; the caller falls back to the local engine.

    The message is one of a few fixed reasons, never anything from the prompt or the reply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- JSON Schema, the subset the engine uses ----------------------------------------------------------

_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_errors(value: Any, schema: Mapping[str, Any], path: str = "$", limit: int = 5) -> list[str]:
    """Where ``value`` breaks ``schema``: type (one or a list), enum, required, properties, items,
    minItems and maxItems. Extra object keys are allowed (the engine ignores them). Messages name the
    path and the rule, never the value, so they can go back to the model or into a log."""
    errors: list[str] = []

    def walk(v: Any, s: Mapping[str, Any], p: str) -> None:
        if len(errors) >= limit:
            return
        types = s.get("type")
        if types is not None:
            names = [types] if isinstance(types, str) else list(types)
            if not any(_TYPES[t](v) for t in names):
                errors.append(f"{p}: expected {' or '.join(names)}")
                return
        if "enum" in s and v not in s["enum"]:
            errors.append(f"{p}: not one of the allowed values")
            return
        if isinstance(v, dict):
            for key in s.get("required", ()):
                if key not in v:
                    errors.append(f"{p}: missing {key!s}")
            for key, sub in s.get("properties", {}).items():
                if key in v:
                    walk(v[key], sub, f"{p}.{key}")
        elif isinstance(v, list):
            if "maxItems" in s and len(v) > s["maxItems"]:
                errors.append(f"{p}: more than {s['maxItems']} items")
            if "minItems" in s and len(v) < s["minItems"]:
                errors.append(f"{p}: fewer than {s['minItems']} items")
            if "items" in s:
                for i, item in enumerate(v):
                    walk(item, s["items"], f"{p}[{i}]")

    walk(value, schema, path)
    return errors


# --- the call -----------------------------------------------------------------------------------------

_REFUSAL_HINT = re.compile(r"response_format|json_schema", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?```\s*$", re.DOTALL | re.IGNORECASE)
_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL | re.IGNORECASE)


class _Malformed(Exception):
    """A reply that cannot be used as it is; carries a content-free reason."""


def _response_format(mode: str, schema: Mapping[str, Any], name: str) -> dict[str, Any]:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
    return {"type": "json_object"}


def _with_schema_in_prompt(messages: Sequence[Mapping[str, Any]], schema: Mapping[str, Any]) -> list[dict]:
    note = "Reply with one JSON object only, matching this JSON Schema:\n" + json.dumps(
        schema, separators=(",", ":")
    )
    out = [dict(m) for m in messages]
    for m in out:
        if m.get("role") == "system":
            m["content"] = f"{m.get('content') or ''}\n\n{note}"
            return out
    return [{"role": "system", "content": note}, *out]


def _refuses_schema(status: int, text: str, body: Any) -> bool:
    """The server does not do ``json_schema`` structured output (the caller then uses ``json_object``)."""
    if status in (400, 422):
        return True
    if status >= 400:
        return bool(_REFUSAL_HINT.search(text))
    # A few servers answer 200 with an error object instead of choices.
    return (
        isinstance(body, dict)
        and "error" in body
        and "choices" not in body
        and bool(_REFUSAL_HINT.search(json.dumps(body["error"])))
    )


def _usage(body: Mapping[str, Any]) -> Usage:
    raw = body.get("usage")
    if not isinstance(raw, Mapping):
        return Usage()

    def count(key: str) -> int:
        v = raw.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0

    return Usage(prompt_tokens=count("prompt_tokens"), completion_tokens=count("completion_tokens"))


def _content(body: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise _Malformed("no message content") from None
    if not isinstance(content, str):
        raise _Malformed("no message content")
    content = _THINK.sub("", content)
    fenced = _FENCE.match(content)
    if fenced:
        content = fenced.group(1)
    try:
        data = json.loads(content)
    except ValueError:
        raise _Malformed("not JSON") from None
    errors = schema_errors(data, schema)
    if errors:
        raise _Malformed("does not match the schema: " + "; ".join(errors))
    return data


def complete_json(
    settings: LlmSettings,
    messages: Sequence[Mapping[str, Any]],
    schema: dict[str, Any],
    name: str,
    *,
    memo: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Usage]:
    """The model's reply as a JSON object matching ``schema``, and the tokens spent on it (summed
    over every attempt). Raises ``LlmUnavailable`` on a timeout, a connection error, HTTP 5xx (or
    any other refusal), a body that is not JSON, or a reply still malformed after one retry.

    ``memo``, when given, remembers across calls that the server refuses ``json_schema``, so later
    calls in the same build go straight to ``json_object``."""
    mode = "json_object" if memo is not None and memo.get("json_object") else "json_schema"
    usage = Usage()
    malformed = 0
    nudge: list[dict[str, str]] = []
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    endpoint = settings.url.rstrip("/") + "/chat/completions"

    with httpx.Client(timeout=httpx.Timeout(settings.timeout_s), trust_env=False) as client:
        while True:
            sent = list(messages) if mode == "json_schema" else _with_schema_in_prompt(messages, schema)
            payload = {
                "model": settings.model,
                "messages": [*sent, *nudge],
                "temperature": 0,
                "stream": False,
                "response_format": _response_format(mode, schema, name),
            }
            log.debug("llm request: schema=%s mode=%s attempt=%d", name, mode, malformed + 1)
            try:
                response = client.post(endpoint, json=payload, headers=headers)
            except httpx.TimeoutException:
                log.warning("llm unavailable: timeout after %.1fs", settings.timeout_s)
                raise LlmUnavailable("timeout") from None
            except httpx.HTTPError as exc:
                log.warning("llm unavailable: connection error (%s)", type(exc).__name__)
                raise LlmUnavailable("connection error") from None

            status, text = response.status_code, response.text
            try:
                body: Any = json.loads(text)
            except ValueError:
                body = None
            if mode == "json_schema" and _refuses_schema(status, text, body):
                log.info("llm: server refused json_schema output (http %d); using json_object", status)
                mode = "json_object"
                if memo is not None:
                    memo["json_object"] = True
                continue
            if status >= 300:
                log.warning("llm unavailable: http %d", status)
                raise LlmUnavailable(f"http {status}")
            if not isinstance(body, dict):
                log.warning("llm unavailable: non-JSON body")
                raise LlmUnavailable("non-JSON body")

            usage = usage + _usage(body)
            try:
                data = _content(body, schema)
            except _Malformed as exc:
                malformed += 1
                reason = str(exc)
                log.warning("llm reply malformed (%s); attempt %d of 2", reason.split(":")[0], malformed)
                if malformed >= 2:
                    raise LlmUnavailable("malformed reply") from None
                nudge = [
                    {
                        "role": "user",
                        "content": f"Your last reply was not usable ({reason}). "
                        "Reply again with only the JSON object, following the schema exactly.",
                    }
                ]
                continue
            log.debug(
                "llm reply: schema=%s prompt_tokens=%d completion_tokens=%d",
                name,
                usage.prompt_tokens,
                usage.completion_tokens,
            )
            return data, usage
