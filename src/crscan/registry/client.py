"""A synchronous client for one registry speaking the OCI Distribution API v2 (pull side only)."""

from __future__ import annotations

import base64
import copy
import email.utils
import functools
import io
import json
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urljoin

import httpx

from crscan.registry.auth import (
    CATALOG_SCOPE,
    Challenge,
    Credentials,
    RealmPolicy,
    TokenCache,
    fetch_token,
    parse_challenge,
    repository_scope,
    validate_realm_hosts,
)
from crscan.registry.digest import VerifyingReader, digest_of, validate_digest, verify_bytes
from crscan.registry.interface import (
    AuthError,
    BlobUnknown,
    DigestMismatch,
    InvalidManifest,
    ManifestUnknown,
    OperationRefused,
    RegistryError,
    RegistryUnavailable,
    UnsupportedMediaType,
)
from crscan.registry.manifest import ACCEPT, DOCKER_SCHEMA1, MAX_MANIFEST_BYTES
from crscan.registry.reference import (
    is_loopback,
    is_valid_registry,
    registry_endpoint,
    registry_host,
    validate_repository,
)

BLOB_CHUNK = 1 << 20
MAX_PAGES = 10_000
MAX_REDIRECTS = 10
log = logging.getLogger(__name__)
_RETRYABLE = frozenset({429, 500, 502, 503, 504})
_ERRNO_PREFIX = re.compile(r"^\[Errno -?\d+\] ")  # "[Errno 111] Connection refused" → "Connection refused"


class ByteCounter:
    """Bytes received from registries; shared by every client given the same counter. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = 0

    def add(self, n: int) -> None:
        with self._lock:
            self._total += n

    @property
    def total(self) -> int:
        return self._total


@dataclass(frozen=True)
class FetchedManifest:
    digest: str  # verified: the bytes hash to it
    media_type: str  # the Content-Type the registry served
    content: bytes


@dataclass(frozen=True)
class RetryNotice:
    """Told to `RegistryClient(on_retry=…)` before each wait: what failed, how long until attempt `attempt` of
    `attempts`, so a user sees a retry as it happens rather than seconds of silence."""

    wait: float
    reason: str  # "connection failed: [Errno 111] Connection refused to 127.0.0.1:1", "HTTP 503 from host"
    attempt: int  # the attempt about to be made, 2 for the first retry
    attempts: int  # the most there will be

    def __str__(self) -> str:
        return f"retrying in {self.wait:.1f}s: {self.reason} (attempt {self.attempt}/{self.attempts})"


class RegistryClient:
    """Pull-side client for `registry` (host[:port]).

    `insecure` allows plain HTTP; it defaults to True only for loopback hosts. Every response body counts into
    `counter` (a fresh one unless shared). Requests that get 429/5xx or fail to connect are retried up to
    `max_retries` times with exponential backoff, waiting what `Retry-After` asks for (capped at
    `max_retry_wait`).

    Credentials go only to the registry itself and to token realms `RealmPolicy` allows (`auth_realm_hosts`
    lists the operator's extra realm hosts). Redirects are followed by hand: within the registry's own origin
    for everything; to other hosts only for blobs, and then without credentials (object storage and CDNs sign
    the URL itself). A manifest, listing or token request redirected elsewhere is a RegistryError.
    """

    def __init__(
        self,
        registry: str,
        *,
        credentials: Credentials | None = None,
        insecure: bool | None = None,
        ca_file: str | None = None,
        auth_realm_hosts: Iterable[str] = (),
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_retry_wait: float = 60.0,
        counter: ByteCounter | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> None:
        if not is_valid_registry(registry):
            raise RegistryError(f"invalid registry host {registry!r}: expected host[:port]")
        self.registry = registry
        self.insecure = is_loopback(registry_host(registry)) if insecure is None else insecure
        self.base_url = f"{'http' if self.insecure else 'https'}://{registry_endpoint(registry)}"
        self._origin = httpx.URL(self.base_url)  # redirects are checked against it
        self.credentials = credentials
        self.realm_policy = RealmPolicy(registry, self.insecure, validate_realm_hosts(auth_realm_hosts))
        self.counter = counter or ByteCounter()
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._on_retry = on_retry
        verify = _default_tls_context()
        if ca_file:
            try:
                verify = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise RegistryError(f"cannot load CA bundle {ca_file}: {exc}") from exc
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            verify=verify,
            follow_redirects=False,  # _request decides per request kind and host
            transport=transport,
            headers={"User-Agent": "crscan"},
        )
        self._auth = _AuthState()

    @property
    def bytes_pulled(self) -> int:
        return self.counter.total

    def view(self, *, counter: ByteCounter, on_retry: Callable[[RetryNotice], None] | None = None) -> RegistryClient:
        """This client with its own byte counter and retry callback, on the same connections and auth state
        (a challenge or token either learns serves both): one long-lived client, each scan's bytes counted
        apart. Close only the original."""
        view = copy.copy(self)
        view.counter, view._on_retry = counter, on_retry
        return view

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- pull ----------------------------------------------------------------------------------------------

    def get_manifest(self, repository: str, reference: str, accept: str = ACCEPT) -> FetchedManifest:
        """Fetch a manifest or index by tag or digest; its bytes are verified against the digest."""
        validate_repository(repository)
        what = f"manifest {self.registry}/{repository}{'@' if ':' in reference else ':'}{reference}"
        response = self._request(
            "GET", f"/v2/{repository}/manifests/{reference}", repository_scope(repository), what,
            headers={"Accept": accept},
        )
        content = self._read_limited(response, MAX_MANIFEST_BYTES, what)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type in DOCKER_SCHEMA1:  # checked first: a signed schema 1 digest covers only part of the bytes
            raise UnsupportedMediaType(f"{what} is a Docker schema 1 manifest ({media_type}), which is deprecated "
                                       "and unsupported; re-push the image as Docker v2 schema 2 or OCI")
        if reference.startswith("sha") and ":" in reference:
            verify_bytes(content, validate_digest(reference), what)
            digest = reference
        else:
            digest = digest_of(content)
            served = response.headers.get("Docker-Content-Digest")
            if served and served.startswith("sha256:") and served != digest:
                raise DigestMismatch(served, digest, what)
        return FetchedManifest(digest, media_type, content)

    def delete_manifest(self, repository: str, reference: str) -> None:
        """DELETE a manifest by digest (or a tag, where the registry supports untagging); 404 is ManifestUnknown,
        a registry that allows no deletes raises OperationRefused."""
        validate_repository(repository)
        what = f"manifest {self.registry}/{repository}{'@' if ':' in reference else ':'}{reference}"
        self._request("DELETE", f"/v2/{repository}/manifests/{reference}", f"repository:{repository}:delete",
                      what).close()

    def read_blob(self, repository: str, digest: str, *, size: int | None, limit: int, what: str = "blob") -> bytes:
        """A small blob (a config) read whole, verified; refuses more than `limit` bytes."""
        if size is not None and size > limit:
            raise InvalidManifest(f"{what} {digest} is {size} bytes, more than the {limit} allowed")
        with self.open_blob(repository, digest, size=size, what=what) as stream:
            content = stream.read(limit + 1)
            if len(content) > limit:
                raise InvalidManifest(f"{what} {digest} is more than the {limit} bytes allowed")
            stream.read()  # reach EOF so the digest is checked
        return content

    def open_blob(self, repository: str, digest: str, *, size: int | None = None, what: str = "blob") -> BinaryIO:
        """Stream a blob; the digest (and `size`, when given) is verified as it is read, failing at EOF."""
        validate_repository(repository)
        validate_digest(digest)
        label = f"{what} {self.registry}/{repository}@{digest}"
        response = self._request(
            "GET", f"/v2/{repository}/blobs/{digest}", repository_scope(repository), label,
            headers={"Accept-Encoding": "identity"}, offsite_redirects=True,
        )
        return _buffered(VerifyingReader(
            _guarded_chunks(response, label), digest, size=size, what=what,
            on_bytes=self.counter.add, on_close=response.close,
        ))

    # --- listing -------------------------------------------------------------------------------------------

    def list_repositories(self, page_size: int = 100) -> Iterator[str]:
        """Every repository the catalog lists, following `Link: <…>; rel="next"` pages."""
        for page in self._pages(f"/v2/_catalog?n={page_size}", CATALOG_SCOPE, "catalog"):
            repositories = page.get("repositories")
            if not isinstance(repositories, list):
                raise InvalidManifest(f"catalog of {self.registry} has no 'repositories' list")
            yield from (r for r in repositories if isinstance(r, str))

    def list_tags(self, repository: str, page_size: int = 100) -> Iterator[str]:
        validate_repository(repository)
        what = f"tags of {self.registry}/{repository}"
        for page in self._pages(f"/v2/{repository}/tags/list?n={page_size}", repository_scope(repository), what):
            tags = page.get("tags")
            if tags is None:  # distribution answers null for a repository whose tags were all deleted
                continue
            if not isinstance(tags, list):
                raise InvalidManifest(f"{what}: response has no 'tags' list")
            yield from (t for t in tags if isinstance(t, str))

    def _pages(self, path: str, scope: str, what: str) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        url: str | None = path
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise RegistryError(f"{what}: pagination loops or never ends (at {url})")
            seen.add(url)
            response = self._request("GET", url, scope, what)
            body = self._read_limited(response, MAX_MANIFEST_BYTES, what)
            try:
                page = json.loads(body)
            except ValueError as exc:
                raise InvalidManifest(f"{what}: response is not JSON: {exc}") from exc
            if not isinstance(page, dict):
                raise InvalidManifest(f"{what}: response is not a JSON object")
            yield page
            following = response.links.get("next", {}).get("url")
            url = urljoin(self.base_url + path, following) if following else None
            if url and not url.startswith(self.base_url + "/"):
                raise RegistryError(f"{what}: next page {following!r} points outside {self.base_url}")

    # --- transport ---------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, scope: str, what: str, headers: dict[str, str] | None = None,
                 offsite_redirects: bool = False) -> httpx.Response:
        """Send with auth, retries and redirects (off the registry's origin only if `offsite_redirects`, and
        then without credentials); returns a streaming 2xx response or raises a RegistryError."""
        url = httpx.URL(path if path.startswith(("http://", "https://")) else self.base_url + path)
        offsite = False  # once redirected off the registry, nothing identifies us any more
        redirects = 0
        attempt = 0
        authenticated_after_challenge = False
        while True:
            auth = {} if offsite else self._auth_headers(scope)
            request = self._http.build_request(method, url, headers={**(headers or {}), **auth})
            try:
                response = self._http.send(request, stream=True)
            except httpx.TimeoutException as exc:
                failure: str = f"timed out ({type(exc).__name__})"
                retry_reason = f"timed out ({type(exc).__name__}) talking to {self.registry}"
                response = None
            except httpx.TransportError as exc:
                if _is_tls_failure(exc):  # a bad certificate will not get better on retry
                    raise RegistryUnavailable(f"{what}: TLS handshake with {self.registry} failed: {exc}") from exc
                failure = f"connection failed: {exc}"
                retry_reason = f"{_ERRNO_PREFIX.sub('', str(exc)).lower() or 'connection failed'} to {self.registry}"
                response = None
            if response is None:
                if attempt < self.max_retries:
                    attempt = self._wait_to_retry(attempt, self._backoff(attempt), retry_reason)
                    continue
                raise RegistryUnavailable(f"{what}: {self.base_url} {failure} after {attempt + 1} attempts")
            status = response.status_code
            if response.is_redirect:
                target = url.join(response.headers["Location"])
                response.close()
                if redirects >= MAX_REDIRECTS:
                    raise RegistryError(f"{what}: more than {MAX_REDIRECTS} redirects (last to {target.host})")
                if target.scheme not in ("http", "https"):
                    raise RegistryError(f"{what}: {self.registry} redirected to a {target.scheme!r} URL")
                if not _same_origin(target, self._origin):
                    if not offsite_redirects:
                        raise RegistryError(f"{what}: {self.registry} redirected to another host, "
                                            f"{_origin_text(target)}; only blob downloads may leave the registry's "
                                            "host")
                    offsite = True
                url, redirects = target, redirects + 1
                continue
            if status == 401:
                detail = _error_detail(_small_body(response))
                if offsite:
                    raise AuthError(f"{what}: {url.host}, where {self.registry} redirected the download, asks for "
                                    "authentication; credentials are not sent off the registry's host")
                if authenticated_after_challenge:
                    raise AuthError(f"{what}: {self.registry} rejected {self._who()} (HTTP 401{detail})")
                self._answer_challenge(response, scope, what)
                authenticated_after_challenge = True
                continue
            if status in _RETRYABLE and attempt < self.max_retries:
                wait = _retry_after(response.headers.get("Retry-After"))
                response.close()
                attempt = self._wait_to_retry(attempt, min(self.max_retry_wait, wait if wait is not None
                                                           else self._backoff(attempt)),
                                              f"HTTP {status} from {self.registry}")
                continue
            if 200 <= status < 300:
                return response
            raise self._error_for(response, _error_detail(_small_body(response)), what, blob=offsite_redirects)

    def _auth_headers(self, scope: str) -> dict[str, str]:
        challenge = self._auth.challenge
        if challenge is None:
            return {}
        if challenge.scheme == "basic" and self.credentials:
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        if challenge.scheme == "bearer":
            key = (challenge.realm, challenge.params.get("service", ""), scope)
            token = self._auth.tokens.get(key)
            if token is None:
                token, lifetime = self._fetch_token(challenge, scope)
                self._auth.tokens.put(key, token, lifetime)
            return {"Authorization": f"Bearer {token}"}
        return {}

    def _fetch_token(self, challenge: Challenge, scope: str) -> tuple[str, float]:
        """A token from the realm: with the credentials if the realm policy allows, else anonymously."""
        refusal = self.realm_policy.refusal(challenge.realm) if self.credentials else ""
        if refusal:
            log.warning("registry %s: not sending credentials to its token realm: %s", self.registry, refusal)
        try:
            return fetch_token(self._http, challenge, scope, None if refusal else self.credentials)
        except AuthError as exc:
            if refusal:
                raise AuthError(f"{exc}; asked anonymously because {refusal}") from exc
            raise

    def _answer_challenge(self, response: httpx.Response, scope: str, what: str) -> None:
        header = response.headers.get("WWW-Authenticate")
        if not header:
            raise AuthError(f"{what}: {self.registry} answered 401 without a WWW-Authenticate challenge")
        challenge = parse_challenge(header)
        if challenge.scheme == "basic":
            if not self.credentials:
                raise AuthError(f"{what}: {self.registry} requires credentials (Basic auth)")
        elif challenge.scheme == "bearer":
            # a token we held was refused (expired early, revoked): forget it and get a fresh one
            self._auth.tokens.drop((challenge.realm, challenge.params.get("service", ""), scope))
        else:
            raise AuthError(f"{what}: {self.registry} asks for unsupported auth scheme {challenge.scheme!r}")
        self._auth.challenge = challenge

    def _who(self) -> str:
        return f"the credentials of user {self.credentials.username!r}" if self.credentials else "anonymous access"

    def _wait_to_retry(self, attempt: int, wait: float, reason: str) -> int:
        """Announce and sleep out the wait before the next attempt; returns the next attempt's index."""
        if self._on_retry is not None:
            self._on_retry(RetryNotice(wait, reason, attempt + 2, self.max_retries + 1))
        self._sleep(wait)
        return attempt + 1

    def _backoff(self, attempt: int) -> float:
        wait: float = min(self.max_retry_wait, self.backoff * 2**attempt * (1 + random.random() / 4))
        return wait

    def _error_for(self, response: httpx.Response, detail: str, what: str, *, blob: bool) -> RegistryError:
        status = response.status_code
        if status == 404:
            kind = BlobUnknown if blob else ManifestUnknown
            return kind(f"{what} not found (HTTP 404{detail})")
        if status == 403:
            return AuthError(f"{what}: access denied to {self._who()} (HTTP 403{detail})")
        if status == 405 or detail.startswith(": UNSUPPORTED"):
            return OperationRefused(f"{what}: {self.registry} does not allow {response.request.method} "
                                    f"(HTTP {status}{detail})")
        if status in _RETRYABLE:
            return RegistryUnavailable(f"{what}: {self.registry} still answers HTTP {status} after "
                                       f"{self.max_retries} retries{detail}")
        return RegistryError(f"{what}: {self.registry} answered HTTP {status}{detail}")

    def _read_limited(self, response: httpx.Response, limit: int, what: str) -> bytes:
        declared = response.headers.get("Content-Length")
        try:
            if declared and int(declared) > limit:
                raise InvalidManifest(f"{what} is {declared} bytes, more than the {limit} allowed")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                self.counter.add(len(chunk))
                if len(body) > limit:
                    raise InvalidManifest(f"{what} is more than the {limit} bytes allowed")
            return bytes(body)
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"{what}: transfer from {self.registry} failed: {exc}") from exc
        finally:
            response.close()


class _AuthState:
    """The registry's last auth challenge and the tokens it led to; shared with `counting_into` views."""

    def __init__(self) -> None:
        self.challenge: Challenge | None = None
        self.tokens = TokenCache()


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _origin_text(url: httpx.URL) -> str:
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}" + (f":{url.port}" if url.port else "")


@functools.cache
def _default_tls_context() -> ssl.SSLContext:
    """Loading the CA bundle costs ~0.2 s; every client shares one context."""
    return httpx.create_ssl_context()


def _buffered(raw: VerifyingReader) -> BinaryIO:
    return io.BufferedReader(raw, buffer_size=BLOB_CHUNK)


def _guarded_chunks(response: httpx.Response, what: str) -> Iterator[bytes]:
    """The body in chunks as they arrive (so the byte counter, and a scan's cancellation check, sees a slow
    transfer progress), a broken transfer surfacing as RegistryUnavailable rather than an httpx error."""
    try:
        yield from response.iter_bytes()
    except httpx.HTTPError as exc:
        raise RegistryUnavailable(f"{what}: transfer broke off: {exc}") from exc


def _is_tls_failure(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    for _ in range(10):  # exception chains can be cyclic
        if cause is None:
            return False
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _small_body(response: httpx.Response, limit: int = 64 << 10) -> bytes:
    """At most `limit` bytes of an error response's body (enough for its message), then close it."""
    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= limit:
                break
    except httpx.HTTPError:
        pass
    finally:
        response.close()
    return bytes(body[:limit])


def _error_detail(body: bytes) -> str:
    """`: CODE message` from a registry's `{"errors": [...]}` body, when it sent one."""
    try:
        first = json.loads(body)["errors"][0]
        return f": {first.get('code', '')} {first.get('message', '')}".rstrip()
    except (ValueError, KeyError, AttributeError, IndexError, TypeError):
        return ""
