"""How the console reads and writes: the API's own servicers, called with request messages under the signed-in
caller's token, through the same `invoke_servicer` (auth hook, role check, registry scope) the REST transport uses.

The Yandex protos have no field for a few things the console shows (a finding's layer and path, a scan's feed
build and warnings) and no service for tokens. Those reads run through `invoke_servicer` too, as methods of a
console pseudo-service (`/crscan.console.Console/Get…` needs viewer, `…/ManageTokens` admin, by the authorizer's
own rules), and check registry scope with the servicers' `check_access` before touching the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from google.protobuf.message import Message
from sqlalchemy import Row, case, func, select

from crscan.api.grpc_server import ServiceBinding, bind_services, invoke_servicer
from crscan.api.rest import RestContext
from crscan.api.servicers.common import check_access, require_id
from crscan.auth import Authenticator, AuthError, Credentials
from crscan.store import Store, schema

CONSOLE_SERVICE = "/crscan.console.Console/"
# Probed at sign-in so the console shows only the buttons the authorizer would let through.
EDIT_PROBE = "/yandex.cloud.containerregistry.v1.ScannerService/Scan"
ADMIN_PROBE = CONSOLE_SERVICE + "ManageTokens"
SIGN_IN_METHOD = CONSOLE_SERVICE + "GetSession"

T = TypeVar("T")
# api/ is not type-checked yet: its entry point, typed as what it is to the console.
_invoke: Callable[..., Any] = invoke_servicer


class ConsoleApi:
    """One call = one API request by the signed-in token; failures are the API's `ApiError`s."""

    def __init__(self, servicers: Sequence[object], authenticator: Authenticator, store: Store):
        self._bindings: dict[str, ServiceBinding] = {b.descriptor.name: b for b in bind_services(servicers)}
        self.authenticator = authenticator
        self.store = store

    def call(self, token: str, service: str, method: str, request: Message, peer: str = "") -> Any:
        """`service.method(request)` as the REST transport would run it for this token."""
        binding = self._bindings[service]
        metadata = _metadata(token)
        return _invoke(
            getattr(binding.servicer, method), request, RestContext(metadata, peer),
            authenticator=self.authenticator, method=binding.method_path(method), transport="console",
            metadata=metadata, peer=peer,
        )

    def read(self, token: str, name: str, action: Callable[[], T], peer: str = "") -> T:
        """`action()` as the console method `name` of this token (role from the name, as for any method)."""
        metadata = _metadata(token)
        return cast(T, _invoke(
            lambda _request, _context: action(), None, RestContext(metadata, peer),
            authenticator=self.authenticator, method=CONSOLE_SERVICE + name, transport="console",
            metadata=metadata, peer=peer,
        ))

    def allows(self, token: str, method: str) -> bool:
        """Whether the authorizer would let this token call `method` (a role question; no servicer runs)."""
        try:
            self.authenticator.authenticate(Credentials(method, "console", token or None))
        except AuthError:  # InvalidToken or AccessDenied
            return False
        return True

    # ---- reads the protos have no fields for ----------------------------------------------------------
    # Each public read is one console method call (one authentication); the private helpers run inside one.

    def scan_details(self, token: str, scan_result_ids: Sequence[str]) -> dict[str, schema.ScanResult]:
        """Stored rows (feed build, warnings, error) of scan results the caller may see."""
        return self.read(token, "GetScanDetails", lambda: self._scan_details(scan_result_ids))

    def findings(self, token: str, scan_result_id: str) -> list[Row[Any]]:
        """Every finding of a scan result, most severe first, with the layer and path the API does not carry."""
        return self.read(token, "GetFindings", lambda: self._findings(scan_result_id))

    def image_history(
        self, token: str, finished_ids: Sequence[str], ready_ids: Sequence[str], last_ready_id: str
    ) -> ImageHistory:
        """What the image page needs beyond the API's messages, in one call: the finished runs' stored rows,
        the last successful run's findings, and the (vulnerability, package) pairs of the runs before it."""

        def action() -> ImageHistory:
            rows = self._findings(last_ready_id) if last_ready_id else []
            keys = self._finding_keys([i for i in ready_ids if i != last_ready_id])
            if last_ready_id:
                keys[last_ready_id] = {(row.name, row.package) for row in rows}
            return ImageHistory(self._scan_details(finished_ids), rows, keys)

        return self.read(token, "GetImageHistory", action)

    def kev_counts(self, token: str, scan_result_ids: Sequence[str]) -> dict[str, KevCount]:
        """Per scan result with KEV findings: how many, and how many of those have a fix (one grouped query)."""
        return self.read(token, "GetKevCounts", lambda: self._kev_counts(scan_result_ids))

    def _kev_counts(self, scan_result_ids: Sequence[str]) -> dict[str, KevCount]:
        wanted = self._accessible(scan_result_ids)
        if not wanted:
            return {}
        model = schema.FindingRow
        fixable = func.sum(case((model.fixed_by != "", 1), else_=0))
        query = (select(model.scan_result_id, func.count(), fixable)
                 .where(model.scan_result_id.in_(wanted), model.kev.is_(True))
                 .group_by(model.scan_result_id))
        with self.store.sessions() as session:
            return {scan_result_id: KevCount(int(total), int(fixed or 0))
                    for scan_result_id, total, fixed in session.execute(query).all()}

    def _scan_details(self, scan_result_ids: Sequence[str]) -> dict[str, schema.ScanResult]:
        wanted = self._accessible(scan_result_ids)
        if not wanted:
            return {}
        with self.store.sessions() as session:
            rows = session.scalars(select(schema.ScanResult).where(schema.ScanResult.id.in_(wanted)))
            return {row.id: row for row in rows}

    def _findings(self, scan_result_id: str) -> list[Row[Any]]:
        """Plain rows with the `findings` columns as attributes: building 2,000 ORM objects cost more than the
        page."""
        self._accessible([scan_result_id])
        table = schema.FindingRow.__table__
        with self.store.sessions() as session:
            query = select(table).where(table.c.scan_result_id == scan_result_id)
            return list(session.execute(query.order_by(table.c.severity, table.c.id)).all())

    def _finding_keys(self, scan_result_ids: Sequence[str]) -> dict[str, set[tuple[str, str]]]:
        wanted = self._accessible(scan_result_ids)
        keys: dict[str, set[tuple[str, str]]] = {i: set() for i in wanted}
        if not wanted:
            return keys
        model = schema.FindingRow
        with self.store.sessions() as session:
            query = select(model.scan_result_id, model.name, model.package).where(model.scan_result_id.in_(wanted))
            for scan_result_id, name, package in session.execute(query).all():
                keys[scan_result_id].add((name, package))
        return keys

    def _accessible(self, scan_result_ids: Sequence[str]) -> list[str]:
        """The ids, each well-formed and in a registry the caller may see (the servicers' own check), or the
        API error a servicer would raise."""
        wanted = [require_id(i, "scan_result_id") for i in scan_result_ids]
        for scan_result_id in wanted:
            check_access(self.store, "scan_result", scan_result_id)
        return wanted


@dataclass(frozen=True)
class KevCount:
    findings: int  # findings of the scan whose CVE is in CISA's KEV catalog
    fixable: int  # of which have a fixed version


@dataclass(frozen=True)
class ImageHistory:
    details: dict[str, schema.ScanResult]  # finished runs by id
    findings: list[Row[Any]]  # of the last successful run
    keys: dict[str, set[tuple[str, str]]]  # (vulnerability, package) pairs of each successful run


def _metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
