"""Registry authentication: `WWW-Authenticate` challenges, Basic credentials and cached Bearer tokens
(the Docker token protocol: GET realm?service=…&scope=repository:NAME:pull, optionally with Basic credentials).

A challenge is written by the registry, so its realm is untrusted: `RealmPolicy` decides whether the registry's
credentials may go to it (docs/registries.md, "Where credentials go").
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from crscan.registry.interface import AuthError, RegistryError
from crscan.registry.reference import is_loopback, is_valid_registry, registry_host

# scheme, then comma-separated key=value or key="quoted \"value\"" pairs
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
# token lifetime the spec assumes when the server does not say; refreshed this long before expiry
DEFAULT_TOKEN_SECONDS = 60
EXPIRY_MARGIN_SECONDS = 5
MAX_TOKEN_RESPONSE = 1 << 20
MAX_TOKEN_REDIRECTS = 5
REALM_HOST_FLAG = "--auth-realm-host"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***)"


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lowercase: "basic" or "bearer"
    params: dict[str, str]

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenge(header: str) -> Challenge:
    """Parse one `WWW-Authenticate` value, e.g. `Bearer realm="https://auth/token",service="reg",scope="…"`."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        raise AuthError("registry sent an empty WWW-Authenticate challenge")
    params = {}
    for key, value in _PARAM.findall(rest):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[key.lower()] = value
    return Challenge(scheme.lower(), params)


def split_host_port(netloc: str, scheme: str = "") -> tuple[str, int | None]:
    """("host", port) of `host[:port]`, lowercase, IPv6 without brackets; the scheme's port when none is given."""
    host = registry_host(netloc)
    port = netloc[len(host) + 1:] if len(netloc) > len(host) else ""
    default = {"https": 443, "http": 80}.get(scheme)
    return host.strip("[]").lower(), int(port) if port.isdigit() else default


def validate_realm_hosts(hosts: Iterable[str]) -> tuple[str, ...]:
    """The operator's extra realm hosts (`host` or `host:port`), checked; raises RegistryError naming a bad one."""
    checked = []
    for host in hosts:
        if not is_valid_registry(host):
            raise RegistryError(f"invalid {REALM_HOST_FLAG} {host!r}: expected host or host:port")
        checked.append(host.lower())
    return tuple(dict.fromkeys(checked))


@dataclass(frozen=True)
class RealmPolicy:
    """Where a registry's credentials may be sent when its Bearer challenge names a token realm.

    Only to the registry's own host name (any port) or a host the operator listed (`host` matches any port,
    `host:port` that port), and only over https — plain http is allowed just for a registry that is itself
    plain-http loopback. Anything else gets an anonymous token request.
    """

    registry: str  # host[:port] of the registry
    registry_plain_http: bool
    extra_hosts: tuple[str, ...] = ()

    def refusal(self, realm: str) -> str:
        """Why credentials must not go to `realm`, or "" when they may."""
        parts = urlsplit(realm)
        host, port = split_host_port(parts.netloc, parts.scheme)
        own_host, _ = split_host_port(self.registry)
        if parts.scheme == "http" and not (self.registry_plain_http and is_loopback(own_host)):
            return (f"the token realm {parts.scheme}://{parts.netloc} is plain http, and credentials go over plain "
                    "http only to a registry that is itself plain-http loopback")
        if host == own_host:
            return ""
        for allowed in self.extra_hosts:
            allowed_host, allowed_port = split_host_port(allowed)
            if allowed_host == host and allowed_port in (None, port):
                return ""
        return (f"the token realm's host {host} is not the registry's host {own_host}; "
                f"if {host} is the registry's token service, allow it with {REALM_HOST_FLAG} {host}")


def repository_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


CATALOG_SCOPE = "registry:catalog:*"


class TokenCache:
    """Bearer tokens by (realm, service, scope), reused until shortly before they expire. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: tuple[str, str, str]) -> str | None:
        with self._lock:
            entry = self._tokens.get(key)
            if entry and entry[1] > self._clock():
                return entry[0]
            self._tokens.pop(key, None)
            return None

    def put(self, key: tuple[str, str, str], token: str, lifetime: float) -> None:
        with self._lock:
            self._tokens[key] = (token, self._clock() + max(0.0, lifetime - EXPIRY_MARGIN_SECONDS))

    def drop(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self._tokens.pop(key, None)


def fetch_token(
    http: httpx.Client, challenge: Challenge, scope: str, credentials: Credentials | None,
) -> tuple[str, float]:
    """Ask the challenge's realm for a token covering `scope`; returns (token, lifetime in seconds)."""
    realm = challenge.realm
    if not realm.startswith(("https://", "http://")):
        raise AuthError(f"registry's Bearer challenge has no usable realm URL: {realm!r}")
    params = {"scope": scope}
    if challenge.params.get("service"):
        params["service"] = challenge.params["service"]
    auth = None
    if credentials:
        auth = httpx.BasicAuth(credentials.username, credentials.password)
        params["account"] = credentials.username  # as docker sends it; token services may key refresh on it
    response = _get_on_realm_host(http, realm, params, auth)
    if response.status_code in (401, 403):
        who = f"user {credentials.username!r}" if credentials else "anonymous access"
        raise AuthError(f"token service {realm} refused {who} for {scope} (HTTP {response.status_code})")
    if response.status_code != 200:
        raise AuthError(f"token service {realm} answered HTTP {response.status_code} for {scope}")
    if len(response.content) > MAX_TOKEN_RESPONSE:
        raise AuthError(f"token service {realm} sent an oversized response")
    try:
        body = response.json()
        token = body.get("token") or body.get("access_token")
        lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_SECONDS)
    except (ValueError, AttributeError, TypeError) as exc:
        raise AuthError(f"token service {realm} sent a malformed token response: {exc}") from exc
    if not isinstance(token, str) or not token:
        raise AuthError(f"token service {realm} sent no token for {scope}")
    return token, lifetime


def _get_on_realm_host(
    http: httpx.Client, realm: str, params: dict[str, str], auth: httpx.Auth | None,
) -> httpx.Response:
    """GET the realm, following redirects only while they stay on the realm's scheme, host and port: a token
    request carries the credentials, so it never leaves the host they were judged safe for."""
    url = httpx.URL(realm, params=params)
    for _ in range(MAX_TOKEN_REDIRECTS + 1):
        try:
            response = http.get(url, auth=auth, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise AuthError(f"token service {realm} unreachable: {exc}") from exc
        if not response.is_redirect:
            return response
        target = url.join(response.headers["Location"])
        if (target.scheme, target.host, target.port) != (url.scheme, url.host, url.port):
            raise RegistryError(f"token service {realm} redirected to another host, {target.host}; "
                                "token requests are not followed off their host")
        url = target
    raise RegistryError(f"token service {realm} redirected more than {MAX_TOKEN_REDIRECTS} times")
