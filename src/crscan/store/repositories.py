"""Repositories of attached registries (`name` is the path inside the registry)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from crscan import ids
from crscan.store import schema
from crscan.store.base import Resource, get_row
from crscan.store.paging import Order, Page, keyset, values_of

REPOSITORY_ORDERS = {"name": (schema.Repository.name,)}


class Repositories(Resource):
    def add(self, registry_id: str, name: str) -> schema.Repository:
        """The repository `name` of the registry, created if it is new."""
        with self.sessions.begin() as session:
            get_row(session, schema.Registry, registry_id, "registry")
            row = session.scalars(
                select(schema.Repository).where(
                    schema.Repository.registry_id == registry_id, schema.Repository.name == name
                )
            ).one_or_none()
            if row is None:
                row = schema.Repository(id=ids.new_id(ids.REPOSITORY), registry_id=registry_id, name=name)
                session.add(row)
                session.flush()
                session.refresh(row)
            return row

    def get(self, repository_id: str) -> schema.Repository:
        with self.sessions() as session:
            return get_row(session, schema.Repository, repository_id, "repository")

    def find(self, registry_id: str, name: str) -> schema.Repository | None:
        with self.sessions() as session:
            return session.scalars(
                select(schema.Repository).where(
                    schema.Repository.registry_id == registry_id, schema.Repository.name == name
                )
            ).one_or_none()

    def page(
        self,
        *,
        registry_id: str = "",
        folder_id: str = "",
        name: str | None = None,
        registry_ids: Collection[str] | None = None,
        order: Order,
        after_id: str | None,
        limit: int,
    ) -> Page:
        """Repositories matching every given constraint; `name` is the path in the registry, `registry_ids`
        a caller's scope."""
        model = schema.Repository
        with self.sessions() as session:
            query = select(model).join(schema.Registry)
            if registry_id:
                query = query.where(model.registry_id == registry_id)
            if folder_id:
                query = query.where(schema.Registry.folder_id == folder_id)
            if name is not None:
                query = query.where(model.name == name)
            if registry_ids is not None:
                query = query.where(model.registry_id.in_(sorted(registry_ids)))
            columns = REPOSITORY_ORDERS[order.key] + (model.id,)
            after = values_of(session, model, after_id, columns)
            return keyset(session, query, columns, order.descending, after, limit)
