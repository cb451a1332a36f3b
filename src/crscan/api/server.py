"""One API server: the same servicers over gRPC (TLS) and REST (uvicorn, in a thread), sharing the auth hook;
with endpoint discovery and IAM token exchange (the SDK's `token=`/`service_account_key=`) added here, where the
server's own address is known."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping, Sequence

import grpc
import uvicorn
from starlette.routing import Mount, Router
from starlette.types import ASGIApp

from crscan.api.endpoint import EndpointServicer
from crscan.api.grpc_server import bind_services, create_grpc_server
from crscan.api.iam import IamTokenServicer, audiences
from crscan.api.rest import PageHandler, build_rest_app
from crscan.api.tls import ServerTls, ensure_self_signed, load_pair
from crscan.auth import TokenAuthenticator
from crscan.auth.interface import Authenticator
from crscan.config import Settings

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 30.0
_LOOPBACK_OR_ANY = {"", "0.0.0.0", "::", "127.0.0.1", "::1", "localhost"}


class ServerStartError(RuntimeError):
    """A transport could not start (port in use, bad TLS material)."""


def server_tls(settings: Settings) -> ServerTls:
    if settings.tls_cert is not None and settings.tls_key is not None:
        return load_pair(settings.tls_cert, settings.tls_key)
    return ensure_self_signed(settings.data_dir / "tls")


class ApiServer:
    """Start with `start()` (or `with`); ports of 0 are resolved to the ports actually bound."""

    def __init__(
        self,
        settings: Settings,
        servicers: Sequence[object],
        authenticator: Authenticator,
        *,
        log_level: str = "warning",
        extra_pages: Mapping[str, PageHandler] | None = None,
        hooks: Mapping[str, PageHandler] | None = None,
        mounts: Mapping[str, ASGIApp] | None = None,
        reuse_port: bool = False,
    ):
        self.settings = settings
        self._servicers = list(servicers)
        self._authenticator = authenticator
        self._log_level = log_level
        self._extra_pages = dict(extra_pages or {})
        self._hooks = dict(hooks or {})  # POST endpoints with their own auth, e.g. the push webhook
        self._mounts = dict(mounts or {})  # whole apps under a path prefix, e.g. the console at /ui
        self._reuse_port = reuse_port  # several processes serve the same ports (`crscan serve --workers`)
        self.tls: ServerTls | None = None
        self.grpc_port = 0
        self.http_port = 0
        self.public_address = ""
        self._grpc: grpc.Server | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._http_thread: threading.Thread | None = None

    @property
    def http_url(self) -> str:
        scheme = "https" if self.settings.http_tls else "http"
        host = self.settings.host if self.settings.host not in _LOOPBACK_OR_ANY else "localhost"
        return f"{scheme}://{_host_port(host, self.http_port)}"

    def start(self) -> ApiServer:
        self.tls = server_tls(self.settings)
        self._grpc, self.grpc_port = create_grpc_server(
            self._authenticator, self.tls, self.settings.host, self.settings.grpc_port, reuse_port=self._reuse_port
        )
        try:
            self.public_address = self.settings.public_address or self._default_public_address()
            tokens = self._authenticator.tokens if isinstance(self._authenticator, TokenAuthenticator) else None
            # CreateForServiceAccount is abstract in the stubs only: the runtime base answers UNIMPLEMENTED.
            iam = IamTokenServicer(tokens, lambda: audiences(self.public_address, self.http_url))  # type: ignore[abstract]
            bindings = bind_services([*self._servicers, EndpointServicer(self.public_address), iam])
            for binding in bindings:
                binding.add_to_server(binding.servicer, self._grpc)
            self._grpc.start()
            app = build_rest_app(bindings, self._authenticator, self._extra_pages, self._hooks)
            if self._mounts:
                app = Router(routes=[Mount(prefix, app=sub) for prefix, sub in self._mounts.items()], default=app)
            self._start_http(app)
        except BaseException:
            self._grpc.stop(None)
            raise
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Stop accepting requests, let in-flight ones finish for up to `grace` seconds."""
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._grpc is not None:
            self._grpc.stop(grace).wait(grace + 1)
        if self._http_thread is not None:
            self._http_thread.join(grace + 1)
            if self._http_thread.is_alive() and self._uvicorn is not None:  # started together
                self._uvicorn.force_exit = True
                self._http_thread.join(5)

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _default_public_address(self) -> str:
        host = self.settings.host
        return _host_port("localhost" if host in _LOOPBACK_OR_ANY else host, self.grpc_port)

    def _start_http(self, app: ASGIApp) -> None:
        host, port = self.settings.host, self.settings.http_port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self._reuse_port:  # the kernel spreads new connections over the processes
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        # Accepted sockets inherit this. asyncio sets it only for sockets made with proto=IPPROTO_TCP; without it
        # Nagle holds the response body until the client's delayed ACK: +40 ms on every keep-alive request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((host, port))
        except OSError as e:
            sock.close()
            raise ServerStartError(f"cannot listen for HTTP on {_host_port(host, port)}: {e.strerror}") from None
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level=self._log_level,
            access_log=self._log_level in ("info", "debug"),
            ssl_certfile=self.settings.http_tls_cert,
            ssl_keyfile=self.settings.http_tls_key,
            timeout_graceful_shutdown=5,
        )
        self._uvicorn = uvicorn.Server(config)
        self._http_thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [sock]}, name="crscan-http", daemon=True
        )
        self._http_thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._uvicorn.started:
            if not self._http_thread.is_alive() or time.monotonic() > deadline:
                raise ServerStartError("the HTTP server did not start; see the log above")
            time.sleep(0.02)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
