"""A scripted OpenAI-compatible chat-completions server for tests, over real HTTP on 127.0.0.1.

Each POST to /v1/chat/completions takes the next behaviour from the script:

    with ScriptedLlm(RejectSchema(), Reply({"summary": []})) as llm:
        settings = LlmSettings(url=llm.url, model="test")
        ...
    llm.requests[1]["json"]["response_format"]  # what the client sent

Standard library only; each request is recorded (path, lower-cased headers, parsed body) so tests can
check what the client sends. A request with no behaviour left gets a 500 and counts in ``unscripted``.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """200 with ``content`` as the message content: a dict is sent as JSON text, a str as it is."""

    content: dict[str, Any] | str
    prompt_tokens: int | None = 120
    completion_tokens: int | None = 80


# What a Compute behaviour reads from the request the engine sent (recaps/engines/llm.py): the prompt,
# which schema it asks for, its transcript lines and, in a write-up from notes, the notes.
_LINE = re.compile(r"^\[(\d+)\] (CLIENT|THERAPIST)(?: \(([^)]*)\))?: (.+)$", re.MULTILINE)


def prompt_of(body: dict) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", ()))


def schema_name(body: dict) -> str | None:
    return ((body.get("response_format") or {}).get("json_schema") or {}).get("name")


def prompt_lines(prompt: str) -> list[tuple[int, str, set[str], str]]:
    """(id, "CLIENT" or "THERAPIST", dialogue acts, text) for every transcript line of the prompt."""
    return [(int(m[1]), m[2], set((m[3] or "").split("; ")), m[4]) for m in _LINE.finditer(prompt)]


def prompt_notes(prompt: str) -> list[dict[str, Any]]:
    """The parts' notes a write-up from notes shows the model; [] for a prompt without notes."""
    if "\nNotes:\n" not in prompt:
        return []
    return json.loads(prompt.split("\nNotes:\n", 1)[1].split("\n\n", 1)[0])


@dataclass
class Compute:
    """200 with the message content ``fn(request body)`` returns (a dict, sent as JSON): a server that
    answers from what it was sent, for a whole session (bench/privacy_audit.py --llm-scripted)."""

    fn: Any
    prompt_tokens: int | None = 120
    completion_tokens: int | None = 80
    # Report usage as characters / 4 (the usual rough size of an English BPE token) instead of the
    # fixed counts: bench/llm_recap.py --scripted, where prompt sizes are what is measured.
    estimate_tokens: bool = False


@dataclass
class Malformed:
    """200 whose message content is not JSON (or not the schema's shape, when ``content`` is a dict)."""

    content: str | dict[str, Any] = '{"summary": [ this is not json'
    prompt_tokens: int = 120
    completion_tokens: int = 80


@dataclass
class RejectSchema:
    """400 with an OpenAI-style error naming ``response_format`` when the request asks for
    ``json_schema``; a request in another mode gets a 500 (the client should not have sent it)."""

    status: int = 400


@dataclass
class Slow:
    """Wait ``seconds`` (or until the server stops), then behave as ``then``."""

    seconds: float
    then: Any = field(default_factory=lambda: Reply({}))


@dataclass
class Status:
    """A bare HTTP status with a body, e.g. Status(500), Status(200, "<html>not json</html>")."""

    code: int
    body: str = '{"error": {"message": "internal error", "type": "server_error"}}'
    content_type: str = "application/json"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ScriptedLlm


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test output is not the place for request lines

    def _send(self, code: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout test): nothing to answer

    def do_POST(self) -> None:
        owner = self.server.owner
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with owner.lock:
            owner.requests.append(
                {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "json": body}
            )
            behaviour = owner.script.popleft() if owner.script else None
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, '{"error": {"message": "not found"}}')
            return
        if behaviour is None:
            owner.unscripted += 1
            self._send(500, '{"error": {"message": "script exhausted"}}')
            return
        self._behave(behaviour, body if isinstance(body, dict) else {})

    def _behave(self, behaviour: Any, body: dict[str, Any]) -> None:
        owner = self.server.owner
        if isinstance(behaviour, Slow):
            owner.stopping.wait(behaviour.seconds)
            if owner.stopping.is_set():
                return
            behaviour = behaviour.then
        if isinstance(behaviour, RejectSchema):
            mode = (body.get("response_format") or {}).get("type")
            if mode == "json_schema":
                error = {
                    "message": "response_format type json_schema is not supported by this server",
                    "type": "invalid_request_error",
                    "param": "response_format",
                }
                self._send(behaviour.status, json.dumps({"error": error}))
            else:
                self._send(500, '{"error": {"message": "RejectSchema got a request without json_schema"}}')
            return
        if isinstance(behaviour, Status):
            self._send(behaviour.code, behaviour.body, behaviour.content_type)
            return
        if isinstance(behaviour, Compute):
            content = behaviour.fn(body)
            prompt, completion = behaviour.prompt_tokens, behaviour.completion_tokens
            if behaviour.estimate_tokens:
                sent = "".join(str(m.get("content", "")) for m in body.get("messages", ()))
                prompt, completion = len(sent) // 4, len(json.dumps(content)) // 4
            behaviour = Reply(content, prompt, completion)
        if isinstance(behaviour, Reply | Malformed):
            content = behaviour.content
            text = content if isinstance(content, str) else json.dumps(content)
            reply: dict[str, Any] = {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": body.get("model", "test"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
            }
            if behaviour.prompt_tokens is not None:
                reply["usage"] = {
                    "prompt_tokens": behaviour.prompt_tokens,
                    "completion_tokens": behaviour.completion_tokens or 0,
                    "total_tokens": behaviour.prompt_tokens + (behaviour.completion_tokens or 0),
                }
            self._send(200, json.dumps(reply))
            return
        raise TypeError(f"unknown behaviour {behaviour!r}")


class ScriptedLlm:
    """The server, as a context manager. ``url`` is the API base the client is configured with."""

    def __init__(self, *script: Any) -> None:
        self.script: deque[Any] = deque(script)
        self.requests: list[dict[str, Any]] = []
        self.unscripted = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def push(self, *behaviours: Any) -> None:
        with self.lock:
            self.script.extend(behaviours)

    @property
    def url(self) -> str:
        assert self._server is not None, "the server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests]

    def __enter__(self) -> ScriptedLlm:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
