"""A hostile registry as real HTTP(S) servers on loopback addresses (127.0.0.1 is "the registry's host",
127.0.0.2 "another host"): a tiny single-layer image served over the Distribution API behind a Bearer challenge
whose realm, redirects and answers each test chooses, plus servers that record every request they get
(and whether it carried an Authorization header)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import ssl
import tarfile
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.support.registry import _write_tls_files

OTHER_HOST = "127.0.0.2"  # loopback, but not the registry's host (127.0.0.1)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class Seen:
    """One request a server received."""

    path: str
    query: dict[str, list[str]]
    authorization: str | None


Answer = tuple[int, dict[str, str], bytes]
Route = Callable[[Seen], Answer]


class RecordingServer:
    """A threaded HTTP server on `host`, HTTPS when `tls` (certificate for 127.0.0.1 from a fresh CA at
    `ca_file`). `routes` maps a path (exact, or a prefix ending in '/') to a function answering it; every
    request is appended to `seen`."""

    def __init__(self, host: str = "127.0.0.1", *, tls: bool = False) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.tls_dir = Path(tempfile.mkdtemp(prefix="crscan-hostile-")) if tls else None
        self._server = http.server.ThreadingHTTPServer((host, 0), self._handler())
        if self.tls_dir is not None:
            _write_tls_files(self.tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls_dir / "server.pem", self.tls_dir / "server-key.pem")
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def netloc(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_dir else 'http'}://{self.netloc}"

    @property
    def ca_file(self) -> str:
        assert self.tls_dir is not None
        return str(self.tls_dir / "ca.pem")

    def start(self) -> RecordingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                seen = Seen(parts.path, parse_qs(parts.query), self.headers.get("Authorization"))
                server.seen.append(seen)
                route = server.routes.get(parts.path) or next(
                    (r for prefix, r in server.routes.items() if prefix.endswith("/") and
                     parts.path.startswith(prefix)), None)
                status, headers, body = route(seen) if route else (404, {}, b'{"errors":[{"code":"NOT_FOUND"}]}')
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class TinyImage:
    """One linux/amd64 image with one gzip layer holding etc/hello.txt, as an OCI manifest."""

    layer: bytes = b""
    config: bytes = b""
    manifest: bytes = b""
    blobs: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo("etc/hello.txt")
            info.size = 6
            tar.addfile(info, io.BytesIO(b"hello\n"))
        self.layer = gzip.compress(raw.getvalue(), mtime=0)
        self.config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [digest(raw.getvalue())]},
        }).encode()
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(self.config),
                       "size": len(self.config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(self.layer),
                        "size": len(self.layer)}],
        }).encode()
        self.blobs = {digest(self.config): self.config, digest(self.layer): self.layer}


TOKEN = "hostile-registry-token"


class HostileRegistry(RecordingServer):
    """Serves `image` as repository `app`, tag `1`. With `realm` set, every /v2/ request without the Bearer
    token is answered 401 `Bearer realm="<realm>"`. Tests add or replace `routes` to turn hostile."""

    def __init__(self, *, realm: str = "", tls: bool = False) -> None:
        super().__init__("127.0.0.1", tls=tls)
        self.image = TinyImage()
        self.realm = realm
        self.routes["/v2/"] = self._v2

    def _v2(self, seen: Seen) -> Answer:
        if self.realm and seen.authorization != f"Bearer {TOKEN}":
            return 401, {"WWW-Authenticate": f'Bearer realm="{self.realm}",service="hostile"'}, b""
        path = seen.path
        if path in ("/v2/app/manifests/1", f"/v2/app/manifests/{digest(self.image.manifest)}"):
            return 200, {"Content-Type": OCI_MANIFEST}, self.image.manifest
        if path.startswith("/v2/app/blobs/") and path.rsplit("/", 1)[1] in self.image.blobs:
            return 200, {"Content-Type": "application/octet-stream"}, self.image.blobs[path.rsplit("/", 1)[1]]
        return 404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'


def token_service(server: RecordingServer, users: dict[str, str], *, anonymous: bool) -> RecordingServer:
    """Make `server` answer /token: a token for Basic credentials of `users`, or for none when `anonymous`."""

    def answer(seen: Seen) -> Answer:
        good = {"Basic " + base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in users.items()}
        if seen.authorization in good or (anonymous and seen.authorization is None):
            return 200, {"Content-Type": "application/json"}, json.dumps({"token": TOKEN}).encode()
        return 401, {}, b""

    server.routes["/token"] = answer
    return server


def redirect_to(url: str, status: int = 302) -> Route:
    return lambda seen: (status, {"Location": url}, b"")


def serve_bytes(content: bytes) -> Route:
    return lambda seen: (200, {"Content-Type": "application/octet-stream"}, content)
