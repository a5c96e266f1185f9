"""Transport behaviour of the engine client that needs no Docker engine.

An unreachable engine (no socket, a dead socket), DOCKER_HOST handling, the stream demuxer, and
connection handling against a real HTTP server listening on a unix socket in this process.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from ds01.errors import EngineError
from ds01.runtime import Engine, EngineResponseError, EngineUnreachable, demux, socket_from_env


def test_missing_socket_is_unreachable_with_a_hint(tmp_path):
    path = tmp_path / "no-engine.sock"
    engine = Engine(str(path))
    with pytest.raises(EngineUnreachable) as info:
        engine.ping()
    err = info.value
    assert isinstance(err, EngineError) and err.exit_code == 3 and err.code == "ENGINE_ERROR"
    assert err.message.startswith(f"the Docker engine is not reachable at {path}")
    assert "does not exist" in err.message
    assert "start the engine" in err.hint and "socket" in err.hint
    # every method maps the failure the same way
    for call in (engine.info, lambda: engine.inspect("x"), lambda: engine.list({"a": "b"}),
                 lambda: engine.remove("x")):
        with pytest.raises(EngineUnreachable):
            call()


def test_dead_socket_is_connection_refused(tmp_path):
    path = tmp_path / "dead.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))  # bound, never listening: connecting is refused
    try:
        with pytest.raises(EngineUnreachable) as info:
            Engine(str(path)).ping()
        assert "refused" in info.value.message
    finally:
        server.close()


def test_docker_host_selects_the_socket(tmp_path, monkeypatch):
    assert socket_from_env({}) == "/var/run/docker.sock"
    assert socket_from_env({"DOCKER_HOST": "unix:///run/alt.sock"}) == "/run/alt.sock"
    with pytest.raises(EngineError) as info:
        socket_from_env({"DOCKER_HOST": "tcp://10.0.0.1:2375"})
    assert "unix socket" in info.value.message and info.value.hint
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/env.sock")
    assert Engine().socket_path == f"{tmp_path}/env.sock"


def frame(kind: int, payload: bytes) -> bytes:
    return bytes([kind, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_demux_joins_frames_in_order():
    raw = frame(1, b"out 1\n") + frame(2, b"err\n") + frame(1, b"out 2\n")
    assert demux(raw) == b"out 1\nerr\nout 2\n"
    assert demux(b"") == b""
    assert demux(frame(1, b"x" * 70000)) == b"x" * 70000  # length uses all four bytes
    assert demux(b"plain tty text\n") == b"plain tty text\n"  # not a frame: kept as is


class _Handler(BaseHTTPRequestHandler):
    """Answers like the engine; closes the connection after every answer (stale keep-alive)."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def do_GET(self):  # noqa: N802  (http.server naming)
        self.seen.append(self.path)
        if self.path.endswith("/_ping"):
            self._send(200, b"OK", "text/plain")
        elif self.path.endswith("/info"):
            self._send(500, json.dumps({"message": "storage driver broke"}).encode(), "application/json")
        else:
            self._send(502, b"gateway says no", "text/plain")
        self.close_connection = True  # no "Connection: close" header: the client finds out later

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("local", 0)


@pytest.fixture
def fake_engine(tmp_path):
    path = tmp_path / "engine.sock"
    _Handler.seen = []
    server = _UnixHTTPServer(str(path), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield str(path)
    server.shutdown()
    server.server_close()


def test_stale_kept_connection_is_reopened_once(fake_engine):
    engine = Engine(fake_engine)
    for _ in range(3):  # the peer closed after each answer; each call still succeeds
        assert engine.ping() is True
    assert _Handler.seen == ["/v1.41/_ping"] * 3


def test_engine_error_status_and_message_are_carried(fake_engine):
    engine = Engine(fake_engine)
    with pytest.raises(EngineResponseError) as info:
        engine.info()
    err = info.value
    assert isinstance(err, EngineError)
    assert err.status == 500 and err.engine_message == "storage driver broke"
    assert "500" in err.message and "storage driver broke" in err.message
    with pytest.raises(EngineResponseError) as info:
        engine.image_exists("x")
    assert info.value.status == 502 and info.value.engine_message == "gateway says no"


def test_silent_engine_times_out_with_its_own_hint(tmp_path):
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)  # connections are queued but never answered
    try:
        with pytest.raises(EngineUnreachable) as info:
            Engine(str(path), timeout_s=0.3).ping()
        assert "did not answer in time" in info.value.message
        assert "overloaded or hung" in info.value.hint
    finally:
        server.close()
