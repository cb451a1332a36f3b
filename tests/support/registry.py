"""Real registries on loopback for the tests: Debian's `docker-registry` (CNCF distribution 2.8) with our own
config — plain, htpasswd Basic auth, or token auth backed by a small local token service issuing RS256 JWTs —
and a fault-injecting HTTP proxy (429 + Retry-After, canned responses) that forwards everything else."""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.postgres import free_port

SERVICE = "crscan-test-registry"
ISSUER = "crscan-test-token-issuer"


@dataclass
class RunningRegistry:
    """A `docker-registry serve` process; `storage` is its filesystem root (blobs can be tampered with)."""

    directory: Path
    port: int
    process: subprocess.Popen
    username: str = ""
    password: str = ""
    token_server: "TokenServer | None" = None
    tls: bool = False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def storage(self) -> Path:
        return self.directory / "data"

    def blob_file(self, digest: str) -> Path:
        hex_ = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.token_server:
            self.token_server.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_registry(auth: str = "", username: str = "crscan", password: str = "s3cret-pass",
                   schema1: bool = False, tls: bool = False, notify: tuple[str, str] | None = None,
                   delete: bool = True) -> RunningRegistry:
    """Start a registry on a free loopback port; `auth` is "", "htpasswd" or "token"; `schema1` lets it
    accept (deprecated) Docker schema 1 manifest pushes; `tls` serves HTTPS with a certificate from a fresh
    CA whose PEM is `directory / "ca.pem"`; `notify` = (url, bearer secret) sends its event notifications
    to that endpoint; `delete=False` refuses manifest deletes (405 UNSUPPORTED), distribution's default."""
    directory = Path(tempfile.mkdtemp(prefix="crscan-registry-"))
    port = free_port()
    tls_config = ""
    if tls:
        _write_tls_files(directory)
        tls_config = f", tls: {{certificate: {directory / 'server.pem'}, key: {directory / 'server-key.pem'}}}"
    config = [
        "version: 0.1",
        "log: {level: error, accesslog: {disabled: true}}",
        f"storage: {{filesystem: {{rootdirectory: {directory / 'data'}}}, delete: {{enabled: {str(delete).lower()}}}}}",
        f"http: {{addr: '127.0.0.1:{port}', secret: {uuid.uuid4().hex}{tls_config}}}",
    ]
    if schema1:
        config.append("compatibility: {schema1: {enabled: true}}")
    if notify:
        config.append(
            f"notifications: {{endpoints: [{{name: crscan, url: '{notify[0]}', "
            f"headers: {{Authorization: ['Bearer {notify[1]}']}}, timeout: 5s, threshold: 3, backoff: 1s}}]}}"
        )
    token_server = None
    if auth == "htpasswd":
        entry = subprocess.run(["htpasswd", "-Bbn", username, password], check=True, capture_output=True,
                               text=True).stdout.strip()
        (directory / "htpasswd").write_text(entry + "\n")
        config.append(f"auth: {{htpasswd: {{realm: crscan-test, path: {directory / 'htpasswd'}}}}}")
    elif auth == "token":
        token_server = TokenServer({username: password}).start()
        cert = directory / "token-cert.pem"
        cert.write_bytes(token_server.certificate_pem)
        config.append(
            f"auth: {{token: {{realm: '{token_server.url}/token', service: {SERVICE}, issuer: {ISSUER}, "
            f"rootcertbundle: {cert}}}}}"
        )
    elif auth:
        raise ValueError(f"unknown registry auth {auth!r}")
    (directory / "config.yml").write_text("\n".join(config) + "\n")
    process = subprocess.Popen(
        ["docker-registry", "serve", str(directory / "config.yml")],
        stdout=subprocess.DEVNULL, stderr=open(directory / "registry.log", "wb"),
    )
    registry = RunningRegistry(directory, port, process, username if auth else "", password if auth else "",
                               token_server, tls)
    deadline = time.monotonic() + 15
    verify = ssl.create_default_context(cafile=str(directory / "ca.pem")) if tls else True
    while True:
        try:
            if httpx.get(f"{registry.url}/v2/", timeout=1, verify=verify).status_code in (200, 401):
                return registry
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log = (directory / "registry.log").read_text(errors="replace")
            registry.stop()
            raise RuntimeError(f"docker-registry did not come up on port {port}:\n{log}")
        time.sleep(0.05)


def _write_tls_files(directory: Path) -> None:
    """A CA (ca.pem) and a server certificate for 127.0.0.1 signed by it (server.pem, server-key.pem)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject: str, key, issuer: str, signing_key, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("crscan test CA", ca_key, "crscan test CA", ca_key, True)
    server = build("127.0.0.1", server_key, "crscan test CA", ca_key, False)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (directory / "server-key.pem").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def skopeo_copy(source: str, destination: str, *, format: str = "", all_images: bool = False,
                creds: str = "") -> str:
    """`skopeo copy` to a loopback registry; returns the digest of the manifest as pushed."""
    with tempfile.NamedTemporaryFile(prefix="crscan-digest-") as digest_file:
        cmd = ["skopeo", "copy", "-q", "--dest-tls-verify=false", "--digestfile", digest_file.name]
        if format:
            cmd += ["--format", format]
        if all_images:
            cmd.append("--all")
        if creds:
            cmd += ["--dest-creds", creds]
        proc = subprocess.run([*cmd, source, destination], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"skopeo copy {source} {destination} failed:\n{proc.stderr}")
        return Path(digest_file.name).read_text().strip()


class TokenServer:
    """The Docker token protocol's auth side: Basic-authenticated GET /token?service=…&scope=… → RS256 JWT.

    The signing key is a fresh RSA key with a self-signed certificate, which the registry trusts via
    `rootcertbundle`; tokens carry it in the `x5c` header. `requests` records every query, `lifetime` is the
    `expires_in` it hands out; with `anonymous` set, requests without credentials get a token too (as public
    registries do).
    """

    def __init__(self, users: dict[str, str], lifetime: int = 300) -> None:
        self.anonymous = False
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.users = users
        self.lifetime = lifetime
        self.requests: list[dict[str, list[str]]] = []
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.certificate_pem = self._certificate.public_bytes(serialization.Encoding.PEM)
        self._x5c = base64.b64encode(self._certificate.public_bytes(serialization.Encoding.DER)).decode()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "TokenServer":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def issue(self, subject: str, scopes: list[str]) -> str:
        import jwt

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": subject, "aud": SERVICE, "iat": now, "nbf": now - 10,
                  "exp": now + self.lifetime, "jti": uuid.uuid4().hex, "access": access}
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"x5c": [self._x5c]})

    def _handler(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                server.requests.append(query)
                header = self.headers.get("Authorization", "")
                user = _basic_user(header, server.users)
                if not header and server.anonymous:
                    user = "anonymous"
                if url.path != "/token" or query.get("service") != [SERVICE] or user is None:
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"details": "invalid credentials or service"}')
                    return
                body = json.dumps({"token": server.issue(user, query.get("scope", [])),
                                   "expires_in": server.lifetime}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def _basic_user(header: str, users: dict[str, str]) -> str | None:
    if not header.startswith("Basic "):
        return None
    try:
        username, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return username if users.get(username) == password else None


@dataclass
class CannedResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Fault:
    """Answer requests whose path `matches` with `response` instead of forwarding, `times` times (0: always)."""

    matches: Callable[[str, str], bool]  # (method, path) → bool
    response: CannedResponse
    times: int = 1
    hits: int = 0


class FaultProxy:
    """A forwarding HTTP proxy in front of a registry that can answer chosen requests itself.

    `log` records (monotonic time, method, path, status) for every request, for timing assertions.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: list[Fault] = []
        self.log: list[tuple[float, str, str, int]] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=30)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FaultProxy":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, method: str, path: str) -> CannedResponse | None:
        with self._lock:
            for fault in self.faults:
                if (fault.times == 0 or fault.hits < fault.times) and fault.matches(method, path):
                    fault.hits += 1
                    return fault.response
        return None

    def _handler(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _serve(self) -> None:
                canned = proxy._take_fault(self.command, self.path)
                if canned is not None:
                    self._answer(canned.status, canned.headers, [canned.body])
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                request = proxy._http.build_request(self.command, proxy.upstream + self.path, headers=headers,
                                                    content=body)
                response = proxy._http.send(request, stream=True)
                try:
                    passed = {k: v for k, v in response.headers.items()
                              if k.lower() not in ("connection", "transfer-encoding", "content-length",
                                                   "content-encoding")}
                    self._answer(response.status_code, passed, response.iter_raw(), response.headers)
                finally:
                    response.close()

            def _answer(self, status, headers, chunks, upstream_headers=None) -> None:
                proxy.log.append((time.monotonic(), self.command, self.path, status))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if upstream_headers is not None and "content-length" in upstream_headers:
                    self.send_header("Content-Length", upstream_headers["content-length"])
                    self.end_headers()
                    for chunk in chunks:
                        self.wfile.write(chunk)
                    return
                data = b"".join(chunks) if upstream_headers is None else None
                if data is not None:
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                    return
                # upstream streamed without a length: relay chunked
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in chunks:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _serve

        return Handler
