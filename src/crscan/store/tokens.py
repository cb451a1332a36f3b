"""The API token tables, and which registry a resource belongs to (what a token's scope is checked on).

The tables are declared here, on the store's metadata, so migrations see them (`api_tokens`: migration 0004;
`api_token_keys`, `iam_tokens`: 0008); the repository that reads and writes them is
`crscan.auth.SqlTokenRepository`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, LargeBinary, Select, SmallInteger, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from crscan.store import schema
from crscan.store.store import Store


class ApiToken(schema.Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(schema.ID, primary_key=True)
    role: Mapped[int] = mapped_column(SmallInteger)  # Role value
    registries: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # null: every registry
    description: Mapped[str] = mapped_column(String(256), default="")
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ApiTokenKey(schema.Base):
    """The public half of a service-account key (`crscan token create --key`): JWTs signed with the private half
    and naming this row's id as `kid` are exchanged for IAM tokens of `token_id`."""

    __tablename__ = "api_token_keys"
    id: Mapped[str] = mapped_column(schema.ID, primary_key=True)
    token_id: Mapped[str] = mapped_column(schema.ID, ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class IamToken(schema.Base):
    """A short-lived bearer token issued by IamTokenService.Create; its role and scope are those of `token_id`,
    read at every request, so revoking that token ends this one too."""

    __tablename__ = "iam_tokens"
    id: Mapped[str] = mapped_column(schema.ID, primary_key=True)
    token_id: Mapped[str] = mapped_column(schema.ID, ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True)
    secret_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)  # expired rows are purged by this


def registry_of(store: Store, kind: str, resource_id: str) -> str | None:
    """The registry a resource belongs to; None when it does not exist (or, for an operation, when its resource
    is gone, as after an image Delete). `kind`: registry, repository, image, scan_result, scan_policy or operation.

    One statement whatever the answer, so a scoped caller cannot tell "exists elsewhere" from "does not exist"
    by how many queries (and how long) the check takes."""
    with store.sessions() as session:
        registry_id: str | None = session.scalar(_registry_query(kind, resource_id))
        return registry_id


def _registry_query(kind: str, resource_id: object) -> Select[Any]:
    Repository, Image, ScanResult = schema.Repository, schema.Image, schema.ScanResult
    if kind == "registry":
        return select(schema.Registry.id).where(schema.Registry.id == resource_id)
    if kind == "repository":
        return select(Repository.registry_id).where(Repository.id == resource_id)
    if kind == "image":
        return select(Repository.registry_id).join(Image).where(Image.id == resource_id)
    if kind == "scan_result":
        return select(Repository.registry_id).join(ScanResult, ScanResult.repository_id == Repository.id) \
            .where(ScanResult.id == resource_id)
    if kind == "scan_policy":
        return select(schema.ScanPolicy.registry_id).where(schema.ScanPolicy.id == resource_id)
    if kind == "operation":  # what operations are about: a scan result, an image or a scan policy
        target = schema.Operation.resource_id
        owners = [_registry_query(about, target).scalar_subquery() for about in ("scan_result", "image", "scan_policy")]
        return select(func.coalesce(*owners)).where(schema.Operation.id == resource_id)
    raise ValueError(f"unknown resource kind {kind!r}")
