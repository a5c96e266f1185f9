"""A scripted HTTP peer on a real unix socket, for the engine client's transport tests."""

from __future__ import annotations

import socket
import threading
import time

import pytest

JSON = ("Content-Type: application/json",)


class Peer:
    """Accepts connections; answers the n-th request with ``answers[n]`` (bytes, sent in
    pieces), then closes the connection when the answer says so (``None`` entry: close
    without answering)."""

    def __init__(self, path: str, answers: list, piece: int = 7):
        self.answers = list(answers)
        self.piece = piece
        self.requests: list[bytes] = []
        self.connections = 0
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                self._converse(conn)

    def _converse(self, conn) -> None:
        while self.answers:
            request = _read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            answer = self.answers.pop(0)
            if answer is None:
                return  # close without answering
            raw, close = answer
            for i in range(0, len(raw), self.piece):
                conn.sendall(raw[i:i + self.piece])
                time.sleep(0.0005)
            if close:
                return

    def close(self) -> None:
        self.server.close()


def _read_request(conn) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += conn.recv(4096)
    return head + b"\r\n\r\n" + rest


def http(status: str, body: bytes = b"", headers: tuple = (), length: bool = True,
         version: str = "HTTP/1.1") -> bytes:
    lines = [f"{version} {status}", *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(status: str, parts: list[bytes], ctype: str = "application/json") -> bytes:
    out = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
           "Transfer-Encoding: chunked\r\n\r\n").encode()
    for i, part in enumerate(parts):
        ext = ";name=value" if i == 0 else ""
        out += f"{len(part):x}{ext}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\nX-Trailer: yes\r\n\r\n"


@pytest.fixture
def peer(tmp_path):
    made = []

    def start(answers, piece: int = 7) -> tuple[str, Peer]:
        path = str(tmp_path / f"peer{len(made)}.sock")
        made.append(Peer(path, answers, piece))
        return path, made[-1]

    yield start
    for p in made:
        p.close()
