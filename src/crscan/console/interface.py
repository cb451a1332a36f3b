"""What the console relies on: one base error, and where signed-in sessions are kept."""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass


class ConsoleError(Exception):
    """Base of every console error; the message is shown to the person at the browser."""


class SignInRefused(ConsoleError):
    """The presented API token was not accepted; the message says why (never the secret)."""


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the API token it presented, and what the authorizer said that token may do.

    `token` stays on the server (sealed under a key derived from `id`, see sessions.py); the browser holds only
    `id`. Every page still presents `token` to the authorizer, so a revoked or expired token ends the session on
    the next request.
    """

    id: str
    token: str
    csrf: str
    subject: str  # "token:crk…", or "" when the server runs without auth
    registries: frozenset[str] | None
    can_edit: bool
    can_admin: bool
    expires_at: dt.datetime  # naive UTC; the token's expiry, capped by the console's session lifetime
    created_at: dt.datetime  # naive UTC


class SessionStore(abc.ABC):
    @abc.abstractmethod
    def add(self, session: Session) -> None: ...

    @abc.abstractmethod
    def get(self, session_id: str, now: dt.datetime) -> Session | None:
        """The session, or None when unknown or past `expires_at` (an expired session is forgotten)."""

    @abc.abstractmethod
    def remove(self, session_id: str) -> None: ...
