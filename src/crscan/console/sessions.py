"""Browser sessions kept in the store's database (`console_sessions`), so every process serving the console —
`crscan serve --workers N`, replicas on one PostgreSQL — honours a session any of them made, and a restart
signs no one out.

The cookie carries a random session id. The table holds only its SHA-256, and the API token the browser signed
in with only sealed (Fernet) under a key derived from that id: someone who reads the table can neither present
a session cookie nor recover a token. Every page still presents the token to the authorizer, so a revoked or
expired token ends the session on its next request.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete

from crscan.console.interface import Session, SessionStore
from crscan.store import Store
from crscan.store.console import ConsoleSession

# A token that never expires still signs the browser out after this long.
MAX_SESSION = dt.timedelta(hours=12)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _row_key(session_id: str) -> bytes:
    return hashlib.sha256(b"crscan console session id\0" + session_id.encode()).digest()


def _sealing_key(session_id: str) -> Fernet:
    digest = hashlib.sha256(b"crscan console session key\0" + session_id.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class SqlSessionStore(SessionStore):
    def __init__(self, store: Store):
        self.store = store

    def add(self, session: Session) -> None:
        with self.store.sessions.begin() as db:
            # Sessions nobody comes back to would otherwise stay forever.
            db.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= session.created_at))
            db.add(ConsoleSession(
                id_sha256=_row_key(session.id),
                token_id=session.subject.removeprefix("token:") or None,
                sealed_token=_sealing_key(session.id).encrypt(session.token.encode()),
                csrf=session.csrf,
                subject=session.subject,
                registries=sorted(session.registries) if session.registries is not None else None,
                can_edit=session.can_edit,
                can_admin=session.can_admin,
                created_at=session.created_at,
                expires_at=session.expires_at,
            ))

    def get(self, session_id: str, now: dt.datetime) -> Session | None:
        if not session_id:
            return None
        key = _row_key(session_id)
        with self.store.sessions.begin() as db:
            row = db.get(ConsoleSession, key)
            if row is None:
                return None
            if row.expires_at <= now:
                db.delete(row)
                return None
            try:
                token = _sealing_key(session_id).decrypt(row.sealed_token).decode()
            except InvalidToken:  # cannot happen for the id whose hash found the row; refuse rather than guess
                return None
            return Session(
                id=session_id, token=token, csrf=row.csrf, subject=row.subject,
                registries=frozenset(row.registries) if row.registries is not None else None,
                can_edit=row.can_edit, can_admin=row.can_admin, expires_at=row.expires_at, created_at=row.created_at,
            )

    def remove(self, session_id: str) -> None:
        with self.store.sessions.begin() as db:
            db.execute(delete(ConsoleSession).where(ConsoleSession.id_sha256 == _row_key(session_id)))
