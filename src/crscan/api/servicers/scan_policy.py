"""ScanPolicyService: Get, GetByRegistry, Create, Update (field mask), Delete; one policy per registry.

Mutations complete at once and return a done Operation (metadata + response as the protos declare), which
OperationService.Get also answers later.
"""

from __future__ import annotations

import re

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from yandex.cloud.containerregistry.v1 import scan_policy_pb2, scan_policy_service_pb2, scan_policy_service_pb2_grpc
from yandex.cloud.operation import operation_pb2

from crscan import ids
from crscan.api import messages
from crscan.api.errors import ApiError, invalid_argument, not_found
from crscan.api.servicers.common import caller_subject, check_access, require_id, require_registry_access, store_errors
from crscan.policies.interface import PolicyError
from crscan.policies.rules import check_rules, policy_of, rules_from_json, rules_to_json
from crscan.store import Store, schema
from crscan.store.schema import utcnow

NAME = re.compile(r"|[a-z][-a-z0-9]{1,61}[a-z0-9]")  # the protos' pattern; empty is allowed
UPDATABLE = ("name", "description", "rules")


def policy_message(row: schema.ScanPolicy) -> scan_policy_pb2.ScanPolicy:
    return scan_policy_pb2.ScanPolicy(
        id=row.id, registry_id=row.registry_id, name=row.name, description=row.description,
        rules=rules_from_json(row.rules), created_at=messages.timestamp(row.created_at), disabled=row.disabled,
    )


def _check(name: str, description: str, rules: scan_policy_pb2.ScanRules) -> None:
    if not NAME.fullmatch(name):
        raise invalid_argument("name: 3-63 characters of lowercase letters, digits and '-', starting with a letter")
    if len(description) > 256:
        raise invalid_argument("description: at most 256 characters")
    try:
        check_rules(rules)
    except PolicyError as exc:
        raise invalid_argument(str(exc)) from None


class ScanPolicyServicer(scan_policy_service_pb2_grpc.ScanPolicyServiceServicer):
    def __init__(self, store: Store):
        self.store = store

    def Get(
        self, request: scan_policy_service_pb2.GetScanPolicyRequest, context: grpc.ServicerContext
    ) -> scan_policy_pb2.ScanPolicy:
        policy_id = require_id(request.scan_policy_id, "scan_policy_id")
        check_access(self.store, "scan_policy", policy_id)
        return policy_message(self._get(policy_id))

    def GetByRegistry(
        self, request: scan_policy_service_pb2.GetScanPolicyByRegistryRequest, context: grpc.ServicerContext
    ) -> scan_policy_pb2.ScanPolicy:
        registry_id = require_id(request.registry_id, "registry_id")
        check_access(self.store, "registry", registry_id)
        row = policy_of(self.store, registry_id)
        if row is None:
            raise not_found(f"registry {registry_id} has no scan policy")
        return policy_message(row)

    def Create(
        self, request: scan_policy_service_pb2.CreateScanPolicyRequest, context: grpc.ServicerContext
    ) -> operation_pb2.Operation:
        registry_id = require_id(request.registry_id, "registry_id")
        check_access(self.store, "registry", registry_id)
        _check(request.name, request.description, request.rules)
        with store_errors():
            self.store.registries.get(registry_id)
        row = schema.ScanPolicy(
            id=ids.new_id(ids.SCAN_POLICY), registry_id=registry_id, name=request.name,
            description=request.description, rules=rules_to_json(request.rules), disabled=False, created_at=utcnow(),
        )
        exists = ApiError(grpc.StatusCode.ALREADY_EXISTS, f"registry {registry_id} already has a scan policy")
        if policy_of(self.store, registry_id) is not None:
            raise exists
        try:
            with self.store.sessions.begin() as session:
                session.add(row)
                operation = self._done(
                    session, "Create scan policy", row.id,
                    scan_policy_service_pb2.CreateScanPolicyMetadata(scan_policy_id=row.id), policy_message(row),
                )
        except IntegrityError:  # a concurrent Create won the unique index on registry_id
            raise exists from None
        return messages.operation(operation)

    def Update(
        self, request: scan_policy_service_pb2.UpdateScanPolicyRequest, context: grpc.ServicerContext
    ) -> operation_pb2.Operation:
        policy_id = require_id(request.scan_policy_id, "scan_policy_id")
        check_access(self.store, "scan_policy", policy_id)
        paths = list(request.update_mask.paths) or list(UPDATABLE)
        for path in paths:
            if path not in UPDATABLE:
                raise invalid_argument(f"update_mask: {path!r} cannot be updated; use one of {', '.join(UPDATABLE)}")
        with self.store.sessions.begin() as session:
            row = session.get(schema.ScanPolicy, policy_id)
            if row is None:
                raise not_found(f"scan policy {policy_id} not found")
            require_registry_access(row.registry_id, f"scan policy {policy_id}")
            name = request.name if "name" in paths else row.name
            description = request.description if "description" in paths else row.description
            rules = request.rules if "rules" in paths else rules_from_json(row.rules)
            _check(name, description, rules)
            row.name, row.description, row.rules = name, description, rules_to_json(rules)
            operation = self._done(
                session, "Update scan policy", row.id,
                scan_policy_service_pb2.UpdateScanPolicyMetadata(scan_policy_id=row.id), policy_message(row),
            )
        return messages.operation(operation)

    def Delete(
        self, request: scan_policy_service_pb2.DeleteScanPolicyRequest, context: grpc.ServicerContext
    ) -> operation_pb2.Operation:
        policy_id = require_id(request.scan_policy_id, "scan_policy_id")
        check_access(self.store, "scan_policy", policy_id)
        with self.store.sessions.begin() as session:
            row = session.get(schema.ScanPolicy, policy_id)
            if row is None:
                raise not_found(f"scan policy {policy_id} not found")
            require_registry_access(row.registry_id, f"scan policy {policy_id}")
            session.delete(row)
            operation = self._done(
                session, "Delete scan policy", policy_id,
                scan_policy_service_pb2.DeleteScanPolicyMetadata(scan_policy_id=policy_id), empty_pb2.Empty(),
            )
        return messages.operation(operation)

    def _get(self, policy_id: str) -> schema.ScanPolicy:
        with self.store.sessions() as session:
            row = session.get(schema.ScanPolicy, policy_id)
        if row is None:
            raise not_found(f"scan policy {policy_id} not found")
        require_registry_access(row.registry_id, f"scan policy {policy_id}")
        return row

    @staticmethod
    def _done(
        session: Session, description: str, resource_id: str, metadata: Message, response: Message
    ) -> schema.Operation:
        now = utcnow()
        operation = schema.Operation(
            id=ids.new_id(ids.OPERATION), description=description, created_at=now, created_by=caller_subject(),
            modified_at=now, done=True, metadata_any=messages.pack(metadata), response_any=messages.pack(response),
            resource_id=resource_id,
        )
        session.add(operation)
        return operation
