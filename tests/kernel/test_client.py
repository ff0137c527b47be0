"""The kernel's HTTP client against a real tornado server on loopback: kept-alive
connections, a connection the server closed, timeouts, an unreachable gateway."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field

import pytest
from tornado import httpserver, web
from tornado.netutil import bind_sockets

from nbwarden.kernel.client import GatewayClient, GatewayError


@dataclass
class Seen:
    """What the server saw: each request's method, path and body, and the client ports of
    the connections they came on."""

    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    connections: set[int] = field(default_factory=set)


class Echo(web.RequestHandler):
    def initialize(self, seen: Seen) -> None:
        self.seen = seen

    def _note(self) -> None:
        self.seen.requests.append((self.request.method or "", self.request.path, self.request.body))
        stream = self.request.connection.stream  # type: ignore[union-attr]
        self.seen.connections.add(stream.socket.getpeername()[1])

    def get(self, name: str) -> None:
        self._note()
        self.finish({"user": "alice", "route": name})

    def post(self, name: str) -> None:
        self._note()
        self.set_status(202)
        self.finish({"status": "pending", "body": json.loads(self.request.body)})


class Slow(web.RequestHandler):
    async def get(self, name: str) -> None:
        await asyncio.sleep(1.0)
        self.finish({})

    async def post(self, name: str) -> None:
        await asyncio.sleep(1.2)
        self.finish({"status": "ok"})


@pytest.fixture
def gateway() -> Iterator[tuple[str, Seen]]:
    """A tornado server that closes a kept-alive connection after 0.2 s idle."""
    seen = Seen()
    ready = threading.Event()
    holder: dict[str, object] = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application([(r"/api/slow/(.*)", Slow), (r"/api/(.*)", Echo, {"seen": seen})])
        server = httpserver.HTTPServer(app, idle_connection_timeout=0.2)
        sockets = bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        holder.update(loop=loop, port=sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        server.stop()
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{holder['port']}/api", seen
    loop = holder["loop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_calls_reuse_one_connection_and_carry_the_assertion(gateway: tuple[str, Seen]) -> None:
    url, seen = gateway
    with closing(GatewayClient(url)) as client:
        assert client.whoami("token-1") == {"user": "alice", "route": "whoami"}
        status, body = client.execute({"kind": "sql", "code": "SELECT 1"}, "token-1")
    assert status == 202
    assert body["body"] == {"kind": "sql", "code": "SELECT 1"}
    assert [(method, path) for method, path, _ in seen.requests] == [
        ("GET", "/api/whoami"),
        ("POST", "/api/execute"),
    ]
    assert len(seen.connections) == 1


def test_a_connection_the_server_closed_is_replaced_and_the_request_sent_once(
    gateway: tuple[str, Seen],
) -> None:
    url, seen = gateway
    with closing(GatewayClient(url)) as client:
        client.whoami("token-1")
        time.sleep(0.6)  # past the server's idle timeout: it closes the kept-alive socket
        status, _ = client.execute({"kind": "sql", "code": "SELECT 2"}, "token-1")
    assert status == 202
    posts = [body for method, _, body in seen.requests if method == "POST"]
    assert len(posts) == 1
    assert len(seen.connections) == 2


def test_threads_share_the_client(gateway: tuple[str, Seen]) -> None:
    url, seen = gateway
    answers: list[dict[str, object]] = []
    with closing(GatewayClient(url)) as client:

        def call() -> None:
            for _ in range(10):
                answers.append(client.whoami("token-1"))

        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert answers == [{"user": "alice", "route": "whoami"}] * 40
    assert len(seen.requests) == 40


def test_a_slow_answer_times_out_with_a_clear_error(gateway: tuple[str, Seen]) -> None:
    url, _ = gateway
    with closing(GatewayClient(url, timeout_s=0.2)) as client:
        with pytest.raises(GatewayError, match="did not answer GET slow/x in time"):
            client._call("GET", "slow/x", "token-1")
        assert client.whoami("token-1")["user"] == "alice"


def test_the_caller_is_called_back_while_it_waits_for_the_answer(
    gateway: tuple[str, Seen],
) -> None:
    """The cell shows progress this way: the call waits on the kernel's main thread."""
    url, _ = gateway
    waited: list[float] = []
    with closing(GatewayClient(url + "/slow")) as client:
        status, body = client.execute({}, "token-1", lambda: waited.append(time.monotonic()))
    assert (status, body) == (200, {"status": "ok"})
    assert len(waited) >= 2  # the answer takes 1.2 s: called at 0.5 and 1.0 s at least


def test_an_unreachable_gateway_is_a_gateway_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = GatewayClient(f"http://127.0.0.1:{port}/api")
    with pytest.raises(GatewayError, match=r"cannot reach the nbwarden gateway \(\w+\)"):
        client.whoami("token-1")


def test_a_parameter_json_cannot_carry_is_refused_before_sending(
    gateway: tuple[str, Seen],
) -> None:
    url, seen = gateway
    with (
        closing(GatewayClient(url)) as client,
        pytest.raises(GatewayError, match="NaN and infinity"),
    ):
        client.execute({"kind": "sql", "params": {"x": float("nan")}}, "token-1")
    assert seen.requests == []


def test_the_gateway_url_must_be_http() -> None:
    with pytest.raises(GatewayError, match="http:// or https://"):
        GatewayClient("ftp://127.0.0.1/api")
