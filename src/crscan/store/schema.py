"""The tables, as SQLAlchemy 2 declarative models; the Alembic migrations create exactly these.

Timestamps are naive UTC `DateTime`s with microseconds on both backends, so keyset cursors compare the same
way on SQLite and PostgreSQL. Child rows cascade in the database (`ON DELETE CASCADE`) so deleting an image
removes its scan results and findings in one statement.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ID = String(50)
SEVERITY_COLUMNS = ("critical", "high", "medium", "low", "negligible", "undefined")  # "critical first" order

# Deterministic constraint names so migrations are identical on both backends.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Setting(Base):
    """Installation-wide values created once (e.g. the page-token signing key)."""

    __tablename__ = "settings"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)


class StoreGeneration(Base):
    """One row: the counter every write to an API-visible table bumps (triggers of migration 0011;
    `crscan.store.generation`)."""

    __tablename__ = "store_generation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class Registry(Base):
    __tablename__ = "registries"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    folder_id: Mapped[str] = mapped_column(ID, index=True)
    name: Mapped[str] = mapped_column(String(63))
    url: Mapped[str] = mapped_column(String(2048))
    insecure: Mapped[bool] = mapped_column(Boolean, default=False)
    username: Mapped[str] = mapped_column(String(255), default="")
    # Fernet token of the password; written by the registry-credentials code, never by the API.
    encrypted_password: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    ca_file: Mapped[str] = mapped_column(String(4096), default="")  # PEM bundle for TLS; "": system CAs
    # token realm hosts besides the registry's own that may receive its credentials (`--auth-realm-host`)
    auth_realm_hosts: Mapped[list[str]] = mapped_column(JSON, default=list)
    # SHA-256 of the registry's own push-webhook secret (crscan.secrets.hash_secret); None: it has none.
    webhook_secret_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("folder_id", "name"),)


class Repository(Base):
    """`name` is the path inside the registry ("library/debian"); the API shows "<registry id>/<name>"."""

    __tablename__ = "repositories"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    registry_id: Mapped[str] = mapped_column(ID, ForeignKey("registries.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(1024))
    __table_args__ = (UniqueConstraint("registry_id", "name"),)


class Image(Base):
    __tablename__ = "images"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    repository_id: Mapped[str] = mapped_column(ID, ForeignKey("repositories.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    config_digest: Mapped[str] = mapped_column(String(100), default="")
    config_size: Mapped[int] = mapped_column(BigInteger, default=0)
    compressed_size: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    repository: Mapped[Repository] = relationship(lazy="joined")
    layers: Mapped[list["ImageLayer"]] = relationship(
        order_by="ImageLayer.position", lazy="selectin", cascade="all, delete-orphan", passive_deletes=True
    )
    __table_args__ = (
        UniqueConstraint("repository_id", "digest"),
        Index(None, "repository_id", "created_at", "id"),
    )


class ImageLayer(Base):
    __tablename__ = "image_layers"
    image_id: Mapped[str] = mapped_column(ID, ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(255), default="")


class ScanResult(Base):
    """One scan of one image.

    `scanned_at` holds the start time while the scan runs and the finish time once it is done, so it is
    never NULL and keyset paging needs no NULL handling; the API shows it only for finished scans.
    `repository_id` is denormalised from the image so listing by repository needs no join.
    """

    __tablename__ = "scan_results"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    image_id: Mapped[str] = mapped_column(ID, ForeignKey("images.id", ondelete="CASCADE"))
    repository_id: Mapped[str] = mapped_column(ID, ForeignKey("repositories.id", ondelete="CASCADE"))
    status: Mapped[int] = mapped_column(SmallInteger)  # ScanResult.Status number
    scanned_at: Mapped[dt.datetime] = mapped_column(DateTime)
    critical: Mapped[int] = mapped_column(Integer, default=0)
    high: Mapped[int] = mapped_column(Integer, default=0)
    medium: Mapped[int] = mapped_column(Integer, default=0)
    low: Mapped[int] = mapped_column(Integer, default=0)
    negligible: Mapped[int] = mapped_column(Integer, default=0)
    undefined: Mapped[int] = mapped_column(Integer, default=0)
    feed_build_id: Mapped[str] = mapped_column(String(100), default="")
    # The risk feeds ("KEV", "EPSS") the scan's feed build had no data from, so its findings could not carry
    # them; None: not known (a scan stored before this was recorded, or not finished).
    missing_risk_feeds: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    error_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (
        # One index per (scope, order) the List method supports, so every page is an index range scan.
        Index(None, "image_id", "scanned_at", "id"),
        Index(None, "repository_id", "scanned_at", "id"),
        Index(None, "image_id", "status", "id"),
        Index(None, "repository_id", "status", "id"),
        Index("ix_scan_results_image_vulnerabilities", "image_id", *SEVERITY_COLUMNS, "id"),
        Index("ix_scan_results_repository_vulnerabilities", "repository_id", *SEVERITY_COLUMNS, "id"),
        # One RUNNING scan per image, for every process sharing the database (1 is ScanStatus.RUNNING).
        Index(
            "uq_scan_results_running_image", "image_id", unique=True,
            sqlite_where=text("status = 1"), postgresql_where=text("status = 1"),
        ),
    )


class FindingRow(Base):
    """One Vulnerability of a scan result: every PackageVulnerability field plus where it came from."""

    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    scan_result_id: Mapped[str] = mapped_column(ID, ForeignKey("scan_results.id", ondelete="CASCADE"))
    severity: Mapped[int] = mapped_column(SmallInteger)  # Vulnerability.Severity number
    name: Mapped[str] = mapped_column(String(255))
    link: Mapped[str] = mapped_column(Text, default="")
    package: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(255))
    fixed_by: Mapped[str] = mapped_column(String(255), default="")
    # Finding.status: "fixed", or the vendor's word for why there is no fix ("will_not_fix", …, "affected").
    status: Mapped[str] = mapped_column(String(32), default="")
    origin: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(64))
    advisory_id: Mapped[str] = mapped_column(String(255), default="")
    severity_source: Mapped[str] = mapped_column(String(64), default="")
    layer_digest: Mapped[str] = mapped_column(String(100), default="")
    path: Mapped[str] = mapped_column(Text, default="")
    # The CVSS rating the severity came from (None / "": rated by word, e.g. Debian urgency, or unrated).
    cvss_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    cvss_vector: Mapped[str] = mapped_column(String(255), default="")
    # CISA KEV: in the catalog (with the day it was added and CISA's due date, YYYY-MM-DD) or not.
    kev: Mapped[bool] = mapped_column(Boolean, default=False)
    kev_date_added: Mapped[str] = mapped_column(String(10), default="")
    kev_due_date: Mapped[str] = mapped_column(String(10), default="")
    # FIRST EPSS of the finding's CVE (None: no score), its percentile and the day it was computed.
    epss_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    epss_percentile: Mapped[float | None] = mapped_column(Float, nullable=True)
    epss_date: Mapped[str] = mapped_column(String(32), default="")
    __table_args__ = (
        Index(None, "scan_result_id", "severity", "id"),
        Index(None, "scan_result_id", "name", "id"),
    )


class Operation(Base):
    """A yandex.cloud.operation.Operation; `metadata`/`response` are serialized `google.protobuf.Any`s and
    `error` a serialized `google.rpc.Status`, so Get returns exactly what was stored."""

    __tablename__ = "operations"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    description: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    modified_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    metadata_any: Mapped[bytes] = mapped_column(LargeBinary)
    response_any: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    error_status: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    resource_id: Mapped[str] = mapped_column(ID, index=True)


class ScanPolicy(Base):
    __tablename__ = "scan_policies"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # One policy per registry (a unique index, so concurrent Creates have one winner).
    registry_id: Mapped[str] = mapped_column(
        ID, ForeignKey("registries.id", ondelete="CASCADE"), index=True, unique=True
    )
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(String(256), default="")
    # push/schedule rules as the ScanPolicy proto has them
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Job(Base):
    """A durable queue entry; a worker claims it by setting status=running and a lease it renews."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    resource_id: Mapped[str] = mapped_column(ID, index=True)
    status: Mapped[str] = mapped_column(String(16))  # queued, running, done, failed, cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (Index(None, "status", "id"),)


JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED = "queued", "running", "done", "failed", "cancelled"
