"""Browser sessions kept in this process's memory: a restart signs everyone out, and no token secret ever
reaches a disk or a cookie."""

from __future__ import annotations

import datetime as dt
import secrets
import threading

from crscan.console.interface import Session, SessionStore

# A token that never expires still signs the browser out after this long.
MAX_SESSION = dt.timedelta(hours=12)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class MemorySessionStore(SessionStore):
    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def add(self, session: Session) -> None:
        with self._lock:
            # Sessions nobody comes back to would otherwise stay until the restart.
            expired = [key for key, kept in self._sessions.items() if kept.expires_at <= session.created_at]
            for key in expired:
                del self._sessions[key]
            self._sessions[session.id] = session

    def get(self, session_id: str, now: dt.datetime) -> Session | None:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.expires_at <= now:
                del self._sessions[session_id]
                return None
            return session

    def remove(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)
