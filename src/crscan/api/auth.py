"""The auth hook both transports call before a servicer runs.

Each request's metadata (gRPC metadata or HTTP headers, both lowercase keys) becomes `Credentials`; an
`Authenticator` turns them into a `Caller` or raises `ApiError(UNAUTHENTICATED/PERMISSION_DENIED)`. Servicers
read the result with `current_caller()`. Token and role checks are `crscan.auth.TokenAuthenticator`; the
transports do not change.
"""

from __future__ import annotations

import contextvars
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# Methods a client calls before it has a token: the SDK's auth plugin sends none for endpoint discovery.
PUBLIC_SERVICES = frozenset({"yandex.cloud.endpoint.ApiEndpointService"})


@dataclass(frozen=True)
class Credentials:
    """What a request presents, independent of transport."""

    method: str  # full gRPC method name, "/yandex.cloud.containerregistry.v1.ScannerService/List"
    transport: str  # "grpc" or "rest"
    bearer_token: str | None  # from `authorization: Bearer …`; None when absent
    peer: str = ""

    @property
    def service(self) -> str:
        return self.method.strip("/").split("/")[0]


@dataclass(frozen=True)
class Caller:
    """Who made the current request, as the authenticator established it."""

    credentials: Credentials
    authenticated: bool  # False when auth is disabled or the method is public
    subject: str = ""  # the identity behind the token ("token:<id>"); recorded as an Operation's created_by
    token_id: str = ""  # binds page tokens to the caller who was given them
    registries: frozenset[str] | None = None  # the only registries the caller may see; None = no restriction


class Authenticator(ABC):
    """Decides who a request comes from, or refuses it with an `ApiError`."""

    @abstractmethod
    def authenticate(self, credentials: Credentials) -> Caller: ...


class AllowAll(Authenticator):
    """Auth disabled by explicit configuration: every request passes; the token is still recorded."""

    def authenticate(self, credentials: Credentials) -> Caller:
        return Caller(credentials=credentials, authenticated=False)


_current: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("crscan_caller", default=None)


def current_caller() -> Caller:
    """The caller of the request being served; only valid inside a servicer method."""
    caller = _current.get()
    if caller is None:
        raise RuntimeError("current_caller() called outside a request")
    return caller


def bearer_token(metadata: Iterable[tuple[str, str]]) -> str | None:
    """The token of the first `authorization: Bearer …` entry; None when there is none.

    Other schemes count as "no token": refusing them is the authenticator's call, not the parser's.
    """
    for key, value in metadata:
        if key.lower() != "authorization":
            continue
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


@contextmanager
def authenticated(
    authenticator: Authenticator, method: str, transport: str, metadata: Iterable[tuple[str, str]], peer: str = ""
) -> Iterator[Caller]:
    """Authenticate one request and expose its caller to the servicer for the duration of the call."""
    credentials = Credentials(method=method, transport=transport, bearer_token=bearer_token(metadata), peer=peer)
    if credentials.service in PUBLIC_SERVICES:
        caller = Caller(credentials=credentials, authenticated=False)
    else:
        caller = authenticator.authenticate(credentials)
    token = _current.set(caller)
    try:
        yield caller
    finally:
        _current.reset(token)
