"""The engine client's own HTTP/1.1 (``ds01.runtime.transport``) against a scripted peer.

A real unix socket in this process; the peer answers each request with bytes written by the
test, sent in small pieces with pauses, so that every way an answer can be framed (length,
chunks, until the peer closes) is read across several ``recv`` calls.
"""

from __future__ import annotations

import json
import socket
from decimal import Decimal

import pytest

from ds01.runtime import Engine, EngineResponseError, EngineUnreachable, nano_cpus
from ds01.runtime.transport import Disconnected, ProtocolError, UnixHTTPConnection

from .peer import JSON, chunked, http, peer  # noqa: F401  (peer: the fixture)


def test_lengths_chunks_and_keep_alive_on_one_connection(peer):
    listing = json.dumps([{"Id": "a" * 64, "Names": ["/x"]}]).encode()
    path, p = peer([
        (http("200 OK", listing, JSON), False),
        (chunked("200 OK", [b'{"Id": "', b"b" * 64, b'"}']), False),
        (http("204 No Content", length=False), False),
        (http("304 Not Modified", length=False), False),
    ])
    engine = Engine(path)
    assert engine.list({"ds01.managed": "true"}) == [{"Id": "a" * 64, "Names": ["/x"]}]
    assert engine.inspect("b") == {"Id": "b" * 64}
    assert engine.start("b") is True
    assert engine.start("b") is False
    assert p.connections == 1, "one kept connection for all four"
    first = p.requests[0].decode()
    assert first.startswith("GET /v1.41/containers/json?all=1&filters=%7B%22label%22%3A+")
    assert "Host: localhost\r\n" in first
    posted = p.requests[2].decode()
    assert posted.startswith("POST /v1.41/containers/b/start HTTP/1.1\r\n")
    assert "Content-Length: 0\r\n" in posted


def test_many_large_answers_on_one_kept_connection(peer):
    """Past 64 KiB the reader drops what it has consumed; answers keep parsing across that."""
    bodies = [json.dumps({"Id": f"{i:064x}", "Labels": {f"l{j}": "x" * 90 for j in range(90)}})
              .encode() for i in range(24)]
    answers = []
    for i, body in enumerate(bodies):
        framed = (chunked("200 OK", [body[:5000], body[5000:]]) if i % 2
                  else http("200 OK", body, JSON))
        answers.append((framed, False))
    path, p = peer(answers, piece=3001)
    engine = Engine(path, timeout_s=5)
    for i in range(len(bodies)):
        assert engine.inspect(f"c{i}")["Id"] == f"{i:064x}"
    assert p.connections == 1 and sum(map(len, bodies)) > 3 * 65536


def test_body_until_close_and_http_1_0_end_the_connection(peer):
    path, p = peer([
        (http("200 OK", b"OK", ("Content-Type: text/plain",), length=False), True),
        (http("200 OK", b"{}", JSON, version="HTTP/1.0"), True),
        (http("200 OK", b"OK"), False),
    ])
    engine = Engine(path)
    assert engine.ping() is True
    assert engine.inspect("x") == {}
    assert engine.ping() is True
    assert p.connections == 3


def test_created_body_is_sent_whole(peer):
    from ds01.runtime import ContainerSpec

    path, p = peer([(http("201 Created", b'{"Id": "c0ffee"}', JSON), False)])
    spec = ContainerSpec(name="ds01.alice.x", image="busybox", labels={"ds01.user": "älice"})
    assert Engine(path).create(spec) == "c0ffee"
    head, _, body = p.requests[0].partition(b"\r\n\r\n")
    assert b"POST /v1.41/containers/create?name=ds01.alice.x HTTP/1.1" in head
    assert json.loads(body)["Labels"] == {"ds01.user": "älice"}


def test_error_answers_carry_status_and_message(peer):
    path, _ = peer([(chunked("500 Internal Server Error", [b'{"message": ', b'"disk full"}']),
                     False)])
    with pytest.raises(EngineResponseError) as info:
        Engine(path).start("abc")
    assert info.value.status == 500 and info.value.engine_message == "disk full"


def test_image_absent_is_false_not_an_error(peer):
    path, _ = peer([(http("404 Not Found", b'{"message": "No such image: x"}', JSON), False)])
    assert Engine(path).image_exists("x:1") is False


def test_not_http_is_unreachable_with_the_reason(peer):
    path, _ = peer([(b"SSH-2.0-OpenSSH\r\n\r\n", True)])
    with pytest.raises(EngineUnreachable) as info:
        Engine(path).ping()
    assert "ProtocolError" in info.value.message and "not an HTTP answer" in info.value.message


def test_peer_closing_mid_body_is_unreachable(peer):
    cut = http("200 OK", b'{"Id": "abc"}', JSON)[:-4]
    path, _ = peer([(cut, True)])
    with pytest.raises(EngineUnreachable) as info:
        Engine(path).inspect("abc")
    assert "Disconnected" in info.value.message


def test_a_stale_kept_connection_is_reopened_once(peer):
    path, p = peer([(http("200 OK", b"OK"), False), None, (http("200 OK", b"OK"), False)])
    engine = Engine(path)
    assert engine.ping() and engine.ping()
    assert p.connections == 2


def test_connection_level_parsing():
    a, b = socket.socketpair()
    conn = UnixHTTPConnection("unused", 2.0)
    conn.sock = a
    from ds01.runtime.transport import _Reader

    conn._reader = _Reader(a)
    b.sendall(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 3\r\n\r\nabc")
    resp = conn.request("GET", "/x")
    assert (resp.status, resp.body, resp.header("X-A"), resp.will_close) == (200, b"abc",
                                                                             "1, 2", False)
    assert b.recv(4096).startswith(b"GET /x HTTP/1.1\r\n")
    b.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
    with pytest.raises(ProtocolError):
        conn.request("GET", "/y")
    b.close()
    with pytest.raises((Disconnected, BrokenPipeError, ConnectionResetError)):
        conn.request("GET", "/z")
    conn.close()


@pytest.mark.parametrize("cpus", [1e-05, 2.5e-09, 3.5e-09, 1.0000000005, 1e16, 0.1 + 0.2,
                                  123.456789012345, 7, 1.5e-10])
def test_nano_cpus_matches_exact_decimal_rounding(cpus):
    want = int((Decimal(repr(cpus)) * 1_000_000_000).to_integral_value())
    assert nano_cpus(cpus) == want
