"""The container engine seam: a small Docker Engine API client and the container spec.

``Engine`` talks to the engine over its unix socket (stdlib only); ``ContainerSpec`` says what
one launcher container looks like and renders as an API body or a ``docker run`` command line.
"""

from ds01.runtime.engine import (
    API_VERSION,
    DEFAULT_SOCKET,
    Engine,
    EngineInfo,
    EngineResponseError,
    EngineUnreachable,
    NO_TIMEOUT,
    demux,
    socket_from_env,
)
from ds01.runtime.spec import (
    IDLE_COMMAND,
    ContainerSpec,
    format_argv,
    nano_cpus,
    to_create_body,
    to_docker_argv,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_SOCKET",
    "IDLE_COMMAND",
    "ContainerSpec",
    "Engine",
    "EngineInfo",
    "EngineResponseError",
    "EngineUnreachable",
    "NO_TIMEOUT",
    "demux",
    "format_argv",
    "nano_cpus",
    "socket_from_env",
    "to_create_body",
    "to_docker_argv",
]
