"""The auth hook both transports call before a servicer runs.

Each request's metadata (gRPC metadata or HTTP headers, both lowercase keys) becomes `Credentials`; an
`Authenticator` (`crscan.auth.interface`) turns them into a `Caller` or refuses them with an auth error, which
becomes `ApiError(UNAUTHENTICATED/PERMISSION_DENIED)` here. Servicers read the result with `current_caller()`.
Which authenticator runs is the entry point's choice (`crscan serve`: `crscan.auth.TokenAuthenticator`, or
`AllowAll` when auth is disabled); the transports do not change.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from crscan.api.errors import permission_denied, unauthenticated
from crscan.auth.interface import AccessDenied, Authenticator, Caller, Credentials, InvalidToken

# Methods a client calls before it has a token: the SDK's auth plugin sends none for endpoint discovery, nor
# for IamTokenService, whose request body is the credential (checked by the servicer).
PUBLIC_SERVICES = frozenset({"yandex.cloud.endpoint.ApiEndpointService", "yandex.cloud.iam.v1.IamTokenService"})


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
        try:
            caller = authenticator.authenticate(credentials)
        except InvalidToken as exc:
            raise unauthenticated(str(exc)) from None
        except AccessDenied as exc:
            raise permission_denied(str(exc)) from None
    token = _current.set(caller)
    try:
        yield caller
    finally:
        _current.reset(token)
