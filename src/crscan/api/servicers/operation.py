"""yandex.cloud.operation.OperationService: Get, Cancel (scans are the only cancellable operations)."""

from __future__ import annotations

import grpc
from yandex.cloud.operation import operation_pb2, operation_service_pb2, operation_service_pb2_grpc

from crscan.api import messages
from crscan.api.servicers.common import check_access, require_id, store_errors
from crscan.store import Store


class OperationServicer(operation_service_pb2_grpc.OperationServiceServicer):
    def __init__(self, store: Store):
        self.store = store

    def Get(
        self, request: operation_service_pb2.GetOperationRequest, context: grpc.ServicerContext
    ) -> operation_pb2.Operation:
        operation_id = require_id(request.operation_id, "operation_id")
        check_access(self.store, "operation", operation_id)
        with store_errors():
            return messages.operation(self.store.operations.get(operation_id))

    def Cancel(
        self, request: operation_service_pb2.CancelOperationRequest, context: grpc.ServicerContext
    ) -> operation_pb2.Operation:
        operation_id = require_id(request.operation_id, "operation_id")
        check_access(self.store, "operation", operation_id)
        with store_errors():
            return messages.operation(self.store.scans.cancel(operation_id))
