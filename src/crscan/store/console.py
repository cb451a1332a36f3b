"""The web console's signed-in sessions, declared on the store's metadata so every process serving the console
(`crscan serve --workers N`, replicas on one PostgreSQL) honours a session any of them made (migration 0008).
`crscan.console.sessions.SqlSessionStore` reads and writes it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from crscan.store import schema


class ConsoleSession(schema.Base):
    """One signed-in browser. The cookie's session id is stored only as its SHA-256, and the API token it signed
    in with only sealed under a key derived from that id: the table alone lets no one act as the session."""

    __tablename__ = "console_sessions"
    id_sha256: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    token_id: Mapped[str | None] = mapped_column(schema.ID, nullable=True, index=True)  # null: auth disabled
    sealed_token: Mapped[bytes] = mapped_column(LargeBinary)
    csrf: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))
    registries: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # null: every registry
    can_edit: Mapped[bool] = mapped_column(Boolean)
    can_admin: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # expired rows are purged by this
