"""`Store`: the database behind crscan, holding one object per resource (`store.images.get(...)`).

Each resource object's public methods are one transaction each, safe to call from any thread.
"""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from crscan.store import schema
from crscan.store.engine import make_engine, upgrade
from crscan.store.generation import Generation
from crscan.store.images import Images
from crscan.store.interface import OperationCodec, StoreError
from crscan.store.inventories import Inventories
from crscan.store.jobs import Jobs
from crscan.store.layer_cache import LayerCache
from crscan.store.operations import Operations
from crscan.store.registries import Registries
from crscan.store.repositories import Repositories
from crscan.store.scans import Scans

PAGE_TOKEN_KEY = "page_token_key"


class Store:
    """`Store(url, codec).migrate()` once, then use the resource objects. `codec` serializes what operation rows
    carry (crscan.api.messages.OPERATION_CODEC: the API's packed messages)."""

    def __init__(self, database_url: str, codec: OperationCodec):
        self.engine = make_engine(database_url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.registries = Registries(self.sessions, codec)
        self.repositories = Repositories(self.sessions)
        self.images = Images(self.sessions, codec)
        self.scans = Scans(self.sessions, codec)
        self.operations = Operations(self.sessions)
        self.jobs = Jobs(self.sessions)
        self.layer_cache = LayerCache(self.sessions)
        self.inventories = Inventories(self.sessions)
        self.generation = Generation(self.engine)
        self._page_token_key: bytes | None = None

    def migrate(self) -> None:
        upgrade(self.engine)

    def close(self) -> None:
        self.generation.close()
        self.engine.dispose()

    def page_token_key(self) -> bytes:
        """The installation's page-token signing key, created on first use and shared by every server process."""
        if self._page_token_key is None:
            with self.sessions.begin() as session:
                existing = session.get(schema.Setting, PAGE_TOKEN_KEY)
            if existing is None:
                try:
                    with self.sessions.begin() as session:
                        session.add(schema.Setting(name=PAGE_TOKEN_KEY, value=secrets.token_bytes(32)))
                except IntegrityError:  # another process created it first; use theirs
                    pass
                with self.sessions.begin() as session:
                    existing = session.get(schema.Setting, PAGE_TOKEN_KEY)
            if existing is None:
                raise StoreError("the page-token key could not be created")
            self._page_token_key = existing.value
        return self._page_token_key
