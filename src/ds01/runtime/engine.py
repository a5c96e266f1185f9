"""A small Docker Engine API client: stdlib HTTP over the engine's unix socket.

Every request goes through ``Engine._call``, the one place that talks to the engine and turns
failures into ``EngineError``. The semantics follow what a launcher needs:

- inspecting something missing gives ``None``;
- stopping, killing or removing something already gone (404) or already going (409) is done;
- starting a running container or stopping a stopped one (304) is fine;
- an engine that cannot be reached raises ``EngineUnreachable`` with a hint to start it;
- any other engine answer raises ``EngineResponseError`` with the engine's message and status.

One connection is kept per ``Engine`` and reused (HTTP keep-alive, ``ds01.runtime.transport``);
a lock serialises calls, so an ``Engine`` may be shared between threads, one request at a time.
"""

from __future__ import annotations

import json
import math
import os
from _thread import allocate_lock
from ds01.records import record, field
from collections.abc import Iterable

from ds01.errors import EngineError

from ds01.runtime.spec import ContainerSpec, to_create_body
from ds01.runtime.transport import Disconnected, UnixHTTPConnection

DEFAULT_SOCKET = "/var/run/docker.sock"
#: Engine API version every path is pinned to: Debian 12's docker.io 20.10 speaks 1.41,
#: and newer engines still accept it.
API_VERSION = "1.41"
DEFAULT_TIMEOUT_S = 60.0
#: Pass as ``timeout_s`` to wait without limit (``wait`` does by default).
NO_TIMEOUT = math.inf
_START_HINT = (
    "start the engine (e.g. `dockerd &` or `service docker start`) and check that the socket "
    "exists and that you may open it (root or the docker group)"
)
# Texts of 409 answers that mean "already stopped or already being removed".
_GONE_CONFLICTS = ("is not running", "already in progress", "marked for removal", "is dead")


class EngineUnreachable(EngineError):
    """Nothing answers at the engine's socket (missing, refused, forbidden, or timed out)."""


class EngineResponseError(EngineError):
    """The engine answered with an error status."""

    def __init__(self, message: str, *, status: int, engine_message: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status
        self.engine_message = engine_message


@record
class EngineInfo:
    """The facts about the engine ds01 cares about, from ``GET /info``."""

    server_version: str
    cgroup_driver: str  # "cgroupfs" | "systemd"
    cgroup_version: str  # "1" | "2"
    ncpu: int
    mem_total: int
    runtimes: tuple[str, ...]
    default_runtime: str
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def has_nvidia_runtime(self) -> bool:
        return "nvidia" in self.runtimes


def socket_from_env(env: dict | None = None) -> str:
    """The socket path named by DOCKER_HOST (``unix://...``), or the default one."""
    env = os.environ if env is None else env
    host = (env.get("DOCKER_HOST") or "").strip()
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host[len("unix://"):] or DEFAULT_SOCKET
    raise EngineError(
        f"DOCKER_HOST={host!r} is not supported: ds01 talks to the engine over a unix socket only",
        hint="set DOCKER_HOST=unix:///path/to/docker.sock or unset it",
    )


class Engine:
    """Client for one Docker engine. Methods raise ``EngineError`` subclasses on failure."""

    def __init__(
        self,
        socket_path: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        api_version: str = API_VERSION,
    ):
        self.socket_path = socket_path or socket_from_env()
        self.timeout_s = timeout_s
        self.api_version = api_version
        self._conn = None  # a UnixHTTPConnection, once opened
        self._lock = allocate_lock()  # threading.Lock, without importing threading

    # -- plumbing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the kept connection (a later call opens a new one)."""
        with self._lock:
            self._drop()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _call(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        query: dict | None = None,
        expect: Iterable[int] = (200,),
        timeout_s: float | None = None,
    ) -> tuple[int, object]:
        """Send one request; return ``(status, payload)`` when status is in ``expect``.

        The payload is decoded JSON for JSON answers, otherwise bytes. Other statuses raise
        ``EngineResponseError``; transport failures raise ``EngineUnreachable``.
        """
        url = f"/v{self.api_version}{path}"
        if query:
            url += "?" + _query({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        with self._lock:
            status, ctype, raw = self._exchange(method, url, data, headers, timeout_s)
        payload: object = raw
        if "json" in ctype and raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = raw
        if status in tuple(expect):
            return status, payload
        raise self._response_error(method, path, status, payload)

    def _exchange(self, method, url, data, headers, timeout_s) -> tuple[int, str, bytes]:
        """One HTTP round trip; retries once when a kept connection turns out stale."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        if math.isinf(timeout):
            timeout = None  # block until the engine answers
        retried = False
        while True:
            reused = self._conn is not None
            if self._conn is None:
                self._conn = UnixHTTPConnection(self.socket_path, timeout)
            conn = self._conn
            try:
                conn.set_timeout(timeout)
                resp = conn.request(method, url, body=data, headers=headers)
                if resp.will_close:
                    self._drop()
                return resp.status, resp.header("Content-Type"), resp.body
            except OSError as exc:
                self._drop()
                stale = isinstance(exc, (Disconnected, BrokenPipeError, ConnectionResetError))
                if stale and reused and not retried:
                    retried = True  # the engine closed an idle kept connection: open a new one
                    continue
                raise self._unreachable(exc) from None

    def _unreachable(self, exc: BaseException) -> EngineUnreachable:
        if isinstance(exc, FileNotFoundError):
            why = "the socket does not exist"
        elif isinstance(exc, ConnectionRefusedError):
            why = "nothing listens on the socket (connection refused)"
        elif isinstance(exc, PermissionError):
            why = "permission denied on the socket"
        elif isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
            return EngineUnreachable(
                f"the Docker engine at {self.socket_path} did not answer in time",
                hint="the engine may be overloaded or hung: check `docker info` and its log",
            )
        else:
            why = f"{type(exc).__name__}: {exc}"
        return EngineUnreachable(
            f"the Docker engine is not reachable at {self.socket_path}: {why}", hint=_START_HINT
        )

    @staticmethod
    def _response_error(method: str, path: str, status: int, payload: object) -> EngineResponseError:
        text = _engine_message(payload)
        hint = None
        if status == 404 and "image" in text.lower():
            hint = "build or load the image first (`docker images` lists what the engine has)"
        elif status == 404 and "container" in text.lower():
            hint = "check the name: `docker ps -a` lists the containers the engine has"
        elif status == 409 and "already in use" in text:
            hint = "choose another name, or remove the old container first"
        return EngineResponseError(
            f"the Docker engine refused {method} {path}: {status} {text}",
            status=status,
            engine_message=text,
            hint=hint,
        )

    # -- engine -------------------------------------------------------------------------------

    def ping(self) -> bool:
        """True when the engine answers; raises ``EngineUnreachable`` otherwise."""
        self._call("GET", "/_ping")
        return True

    def info(self) -> EngineInfo:
        """Cgroup driver and version, CPUs, memory and runtimes of the engine's host."""
        _, data = self._call("GET", "/info")
        if not isinstance(data, dict):
            raise _malformed("GET /info", data)
        return EngineInfo(
            server_version=str(data.get("ServerVersion", "")),
            cgroup_driver=str(data.get("CgroupDriver", "")),
            cgroup_version=str(data.get("CgroupVersion", "") or "1"),
            ncpu=int(data.get("NCPU", 0)),
            mem_total=int(data.get("MemTotal", 0)),
            runtimes=tuple(sorted((data.get("Runtimes") or {}).keys())),
            default_runtime=str(data.get("DefaultRuntime", "")),
            raw=data,
        )

    def image_exists(self, ref: str) -> bool:
        """Whether the engine has the image ``ref`` locally (no pulling)."""
        status, _ = self._call("GET", f"/images/{_seg(ref, safe='/:@')}/json", expect=(200, 404))
        return status == 200

    # -- containers ---------------------------------------------------------------------------

    def create(self, spec: ContainerSpec) -> str:
        """Create the container described by ``spec``; return its id."""
        _, out = self._call(
            "POST", "/containers/create", body=to_create_body(spec), query={"name": spec.name},
            expect=(201,),
        )
        if not isinstance(out, dict) or not out.get("Id"):
            raise _malformed("POST /containers/create", out)
        return str(out["Id"])

    def start(self, ident: str) -> bool:
        """Start a container. False when it was already running."""
        status, _ = self._call("POST", f"/containers/{_seg(ident)}/start", expect=(204, 304))
        return status == 204

    def stop(self, ident: str, timeout_s: int = 10) -> bool:
        """Stop (SIGTERM, then SIGKILL after ``timeout_s``). False when already stopped or gone."""
        status, _ = self._call_gone(
            "POST", f"/containers/{_seg(ident)}/stop", query={"t": int(timeout_s)},
            expect=(204, 304), timeout_s=self.timeout_s + timeout_s,
        )
        return status == 204

    def kill(self, ident: str, signal: str = "SIGKILL") -> bool:
        """Send ``signal``. False when the container is not running or gone."""
        status, _ = self._call_gone(
            "POST", f"/containers/{_seg(ident)}/kill", query={"signal": signal}, expect=(204,)
        )
        return status == 204

    def remove(self, ident: str, force: bool = True) -> bool:
        """Remove a container (and its anonymous volumes). False when already gone or going."""
        status, _ = self._call_gone(
            "DELETE", f"/containers/{_seg(ident)}",
            query={"force": _flag(force), "v": "1"}, expect=(204,),
        )
        return status == 204

    def _call_gone(self, method: str, path: str, **kwargs) -> tuple[int, object]:
        """``_call`` where 404, and 409 meaning "already stopped or going", count as done."""
        try:
            return self._call(method, path, **kwargs)
        except EngineResponseError as err:
            if err.status == 404:
                return 404, None
            if err.status == 409 and any(t in err.engine_message for t in _GONE_CONFLICTS):
                return 409, None
            raise

    def inspect(self, ident: str) -> dict | None:
        """The engine's full description of a container, or None when there is no such one."""
        status, out = self._call("GET", f"/containers/{_seg(ident)}/json", expect=(200, 404))
        return out if status == 200 and isinstance(out, dict) else None

    def list(self, labels: dict[str, str | None] | None = None, all: bool = True) -> list[dict]:
        """Containers carrying every label given (value None: the label with any value)."""
        terms = [k if v is None else f"{k}={v}" for k, v in (labels or {}).items()]
        query = {"all": _flag(all)}
        if terms:
            query["filters"] = json.dumps({"label": terms})
        _, out = self._call("GET", "/containers/json", query=query)
        if not isinstance(out, list):
            raise _malformed("GET /containers/json", out)
        return out

    def logs(
        self, ident: str, tail: int | None = None, *, stdout: bool = True, stderr: bool = True
    ) -> bytes:
        """The container's output so far (stdout and stderr interleaved as written)."""
        info = self.inspect(ident)
        if info is None:
            raise EngineResponseError(
                f"no such container: {ident}", status=404, engine_message="no such container"
            )
        query = {"stdout": _flag(stdout), "stderr": _flag(stderr)}
        query["tail"] = "all" if tail is None else str(int(tail))
        _, out = self._call("GET", f"/containers/{_seg(ident)}/logs", query=query)
        raw = out if isinstance(out, bytes) else json.dumps(out).encode()
        if (info.get("Config") or {}).get("Tty"):
            return raw
        return demux(raw)

    def wait(self, ident: str, timeout_s: float = NO_TIMEOUT) -> int | None:
        """Block until the container stops; its exit code, or None when it does not exist.

        The call holds this ``Engine`` for its whole length: wait on a separate ``Engine`` when
        other threads share this one.
        """
        status, out = self._call(
            "POST", f"/containers/{_seg(ident)}/wait", query={"condition": "not-running"},
            expect=(200, 404), timeout_s=timeout_s,
        )
        if status == 404:
            return None
        if not isinstance(out, dict) or "StatusCode" not in out:
            raise _malformed("POST /containers/wait", out)
        return int(out["StatusCode"])


def demux(raw: bytes) -> bytes:
    """Join the payloads of the engine's multiplexed stream (8-byte header per frame).

    Header: stream type (1 byte), 3 zero bytes, big-endian payload length (4 bytes).
    Bytes that do not parse as a frame are kept as they are.
    """
    out = bytearray()
    pos = 0
    while pos + 8 <= len(raw):
        kind = raw[pos]
        size = int.from_bytes(raw[pos + 4:pos + 8], "big")
        if kind not in (0, 1, 2) or raw[pos + 1:pos + 4] != b"\0\0\0":
            break
        out += raw[pos + 8:pos + 8 + size]
        pos += 8 + size
    out += raw[pos:]
    return bytes(out)


def _malformed(what: str, payload: object) -> EngineError:
    return EngineError(
        f"the Docker engine gave an answer ds01 cannot read for {what}: {str(payload)[:200]}",
        hint=f"check that the engine speaks API v{API_VERSION} (`docker version`)",
    )


def _engine_message(payload: object) -> str:
    if isinstance(payload, dict) and "message" in payload:
        return str(payload["message"]).strip()
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "replace").strip() or "(empty answer)"
    return str(payload)


def _seg(text: str, safe: str = "") -> str:
    """Quote one path segment (a container id or name, an image reference)."""
    return _quote(text, safe)


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def _quote(text: str, safe: str = "") -> str:
    """Percent-encode ``text`` as UTF-8, keeping unreserved characters and ``safe`` (what
    ``urllib.parse.quote`` does; ``urllib.parse`` is not imported on the start-up path)."""
    keep = _UNRESERVED | frozenset(safe.encode("ascii"))
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in str(text).encode("utf-8"))


def _query(params: dict) -> str:
    """A query string, like ``urllib.parse.urlencode`` (spaces as ``+``)."""
    return "&".join(f"{_quote(k, ' ')}={_quote(v, ' ')}".replace(" ", "+")
                    for k, v in params.items())


def _flag(value: bool) -> str:
    return "1" if value else "0"
