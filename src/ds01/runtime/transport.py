"""HTTP/1.1 over a unix stream socket: exactly what the Engine API needs, stdlib only.

``http.client`` would do, but importing it (with ``email``, ``ssl`` and friends) costs more
than a whole container decision, and the launcher starts a process per command. This module
speaks the small part of HTTP/1.1 the engine uses: one request at a time on a kept
connection, bodies by ``Content-Length``, ``Transfer-Encoding: chunked``, or until the peer
closes.

Failures are ``OSError`` subclasses: ``Disconnected`` when the peer closed the connection
before answering (a kept connection that went stale), ``ProtocolError`` for an answer that is
not HTTP, and whatever the socket raises (``FileNotFoundError``, ``ConnectionRefusedError``,
``TimeoutError``, ...).

The socket comes from ``_socket``, the C module behind ``socket``: importing ``socket`` itself
turns every constant into an enum (and imports ``selectors``), which costs the launcher a few
milliseconds per command; nothing here needs more than the C socket object.
"""

from __future__ import annotations

try:
    from _socket import AF_UNIX, SOCK_STREAM
    from _socket import socket as _socket_type
except ImportError:  # pragma: no cover  (another Python implementation)
    from socket import AF_UNIX, SOCK_STREAM
    from socket import socket as _socket_type

_MAX_LINE = 65536
_MAX_HEADERS = 200
_NO_BODY = (204, 304)
_RECV = 65536


class Disconnected(ConnectionError):
    """The peer closed the connection before a whole answer arrived."""


class ProtocolError(OSError):
    """The peer's answer is not HTTP/1.x as expected."""


class Response:
    """One answer: status, lower-cased headers, body, and whether the connection is done."""

    __slots__ = ("status", "headers", "body", "will_close")

    def __init__(self, status: int, headers: dict[str, str], body: bytes, will_close: bool):
        self.status, self.headers, self.body, self.will_close = status, headers, body, will_close

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


class _Reader:
    """Buffered reading from a socket: lines, exact sizes, or everything until the peer closes."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0

    def _fill(self) -> bool:
        if self.pos > _RECV:
            del self.buf[:self.pos]
            self.pos = 0
        chunk = self.sock.recv(_RECV)
        self.buf += chunk
        return bool(chunk)

    def _take(self, end: int) -> bytes:
        out = bytes(self.buf[self.pos:end])
        self.pos = end
        return out

    def readline(self, limit: int) -> bytes:
        """One line with its newline; shorter at EOF; at most ``limit`` bytes."""
        scanned = 0  # bytes after pos known to hold no newline (_fill may move pos)
        while True:
            nl = self.buf.find(b"\n", self.pos + scanned)
            if nl >= 0:
                return self._take(min(nl + 1, self.pos + limit))
            if len(self.buf) - self.pos >= limit:
                return self._take(self.pos + limit)
            scanned = len(self.buf) - self.pos
            if not self._fill():
                return self._take(len(self.buf))

    def read(self, size: int) -> bytes:
        """``size`` bytes, or fewer when the peer closes first."""
        while len(self.buf) - self.pos < size:
            if not self._fill():
                break
        return self._take(min(len(self.buf), self.pos + size))

    def read_all(self) -> bytes:
        while self._fill():
            pass
        return self._take(len(self.buf))


class UnixHTTPConnection:
    """One HTTP/1.1 connection to a unix socket, opened on the first request."""

    def __init__(self, path: str, timeout: float | None):
        self.path = path
        self.timeout = timeout
        self.sock = None
        self._reader: _Reader | None = None

    def connect(self) -> None:
        sock = _socket_type(AF_UNIX, SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self._reader = _Reader(sock)

    def close(self) -> None:
        self._reader = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def set_timeout(self, timeout: float | None) -> None:
        self.timeout = timeout
        if self.sock is not None:
            self.sock.settimeout(timeout)

    def request(self, method: str, url: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        """Send one request and read its whole answer."""
        if self.sock is None:
            self.connect()
        self.sock.sendall(_request_bytes(method, url, body, headers or {}))
        return self._read_response(method)

    # -- reading ---------------------------------------------------------------------------

    def _line(self) -> bytes:
        line = self._reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise ProtocolError("an answer line is longer than 64 KiB")
        return line

    def _read_response(self, method: str) -> Response:
        first = self._line()
        if not first:
            raise Disconnected("the engine closed the connection without answering")
        version, status = _status_line(first)
        headers = self._headers()
        conn = headers.get("connection", "").lower()
        will_close = conn == "close" or (version == "HTTP/1.0" and conn != "keep-alive")
        if method == "HEAD" or status in _NO_BODY or 100 <= status < 200:
            return Response(status, headers, b"", will_close)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return Response(status, headers, self._chunked(), will_close)
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise ProtocolError(f"bad Content-Length {length!r}")
            return Response(status, headers, self._exactly(int(length)), will_close)
        return Response(status, headers, self._reader.read_all(), True)  # until it closes

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            line = self._line()
            if not line:
                raise Disconnected("the engine closed the connection in the middle of an answer")
            if line in (b"\r\n", b"\n"):
                return headers
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise ProtocolError(f"bad header line {line[:80]!r}")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        raise ProtocolError(f"more than {_MAX_HEADERS} header lines")

    def _exactly(self, size: int) -> bytes:
        data = self._reader.read(size)
        if len(data) != size:
            raise Disconnected(f"the engine closed the connection after {len(data)} of "
                               f"{size} bytes")
        return data

    def _chunked(self) -> bytes:
        parts = []
        while True:
            line = self._line()
            if not line:
                raise Disconnected("the engine closed the connection in a chunked answer")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_text[:40]!r}") from None
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers, ignored
                return b"".join(parts)
            parts.append(self._exactly(size))
            self._line()  # the CRLF after each chunk


def _status_line(line: bytes) -> tuple[str, int]:
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"not an HTTP answer: {line[:80]!r}")
    return parts[0], int(parts[1])


def _request_bytes(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {url} HTTP/1.1", "Host: localhost", "Accept-Encoding: identity"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head
