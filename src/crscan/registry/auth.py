"""Registry authentication: `WWW-Authenticate` challenges, Basic credentials and cached Bearer tokens
(the Docker token protocol: GET realm?service=…&scope=repository:NAME:pull, optionally with Basic credentials)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from crscan.registry.interface import AuthError

# scheme, then comma-separated key=value or key="quoted \"value\"" pairs
_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
# token lifetime the spec assumes when the server does not say; refreshed this long before expiry
DEFAULT_TOKEN_SECONDS = 60
EXPIRY_MARGIN_SECONDS = 5
MAX_TOKEN_RESPONSE = 1 << 20


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
    try:
        response = http.get(realm, params=params, auth=auth)
    except httpx.HTTPError as exc:
        raise AuthError(f"token service {realm} unreachable: {exc}") from exc
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
