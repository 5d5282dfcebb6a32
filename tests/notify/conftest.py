"""A real HTTP receiver on 127.0.0.1 for channel tests: each test sets how it answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


Answer = tuple[int, dict[str, str], bytes]


def json_answer(body: object, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


@dataclass
class Receiver:
    url: str
    handle: Callable[[Received], Answer] = lambda _: json_answer({})
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            split = urlsplit(self.path)
            request = Received(
                self.command,
                split.path,
                {
                    k: v[0] for k, v in parse_qs(split.query).items()
                },  # URL-decoded, as a framework would
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            state.received.append(request)
            status, headers, body = state.handle(request)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test); nothing to report

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    # trust_env=False: a proxy configured in the environment must not intercept loopback.
    with httpx.Client(timeout=2.0, trust_env=False) as http:
        yield http
