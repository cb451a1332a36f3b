"""RegistryService: Get and List; registries are added with the CLI, so the mutating methods say where to go."""

from __future__ import annotations

import grpc
from yandex.cloud.containerregistry.v1 import registry_pb2, registry_service_pb2, registry_service_pb2_grpc
from yandex.cloud.operation import operation_pb2

from crscan import ids
from crscan.api import messages
from crscan.api.errors import ApiError
from crscan.api.listing import PageTokens, page_size, parse_filter
from crscan.api.response_cache import ResponseCache, cached_read
from crscan.api.servicers.common import (
    check_access,
    for_caller,
    only_folder,
    require_id,
    store_errors,
    visible_registries,
)
from crscan.store import Order, Store

MANAGED_BY_CLI = "registries are managed with the CLI (`crscan registry add`), not through the API"


class RegistryServicer(registry_service_pb2_grpc.RegistryServiceServicer):
    def __init__(self, store: Store, responses: ResponseCache | None = None):
        self.store = store
        self.responses = responses

    @cached_read
    def Get(
        self, request: registry_service_pb2.GetRegistryRequest, context: grpc.ServicerContext
    ) -> registry_pb2.Registry:
        registry_id = require_id(request.registry_id, "registry_id")
        check_access(self.store, "registry", registry_id)
        with store_errors():
            return messages.registry(self.store.registries.get(registry_id))

    @cached_read
    def List(
        self, request: registry_service_pb2.ListRegistriesRequest, context: grpc.ServicerContext
    ) -> registry_service_pb2.ListRegistriesResponse:
        # Yandex requires the folder; a server with one folder takes it as meant (`crscan policy list`).
        folder_id = require_id(request.folder_id, "folder_id") if request.folder_id else \
            only_folder(self.store, "folder_id is required")
        limit = page_size(request.page_size)
        conditions = parse_filter(request.filter, {"name": ids.check_registry_name})
        tokens = PageTokens(self.store.page_token_key())
        request_context = f"registries|{folder_id}|{sorted(conditions.items())}"
        after = tokens.read(request.page_token, for_caller(request_context))
        with store_errors():
            page = self.store.registries.page(
                folder_id, name=conditions.get("name"), registry_ids=visible_registries(), order=Order("name"),
                after_id=after[0] if after else None, limit=limit,
            )
        response = registry_service_pb2.ListRegistriesResponse(registries=[messages.registry(r) for r in page.rows])
        if page.has_more:
            response.next_page_token = tokens.issue(for_caller(request_context), (page.rows[-1].id,))
        return response

    def Create(
        self, request: registry_service_pb2.CreateRegistryRequest, context: grpc.ServicerContext
    ) -> operation_pb2.Operation:
        raise ApiError(grpc.StatusCode.UNIMPLEMENTED, MANAGED_BY_CLI)

    def Update(
        self, request: registry_service_pb2.UpdateRegistryRequest, context: grpc.ServicerContext
    ) -> operation_pb2.Operation:
        raise ApiError(grpc.StatusCode.UNIMPLEMENTED, MANAGED_BY_CLI)

    def Delete(
        self, request: registry_service_pb2.DeleteRegistryRequest, context: grpc.ServicerContext
    ) -> operation_pb2.Operation:
        raise ApiError(grpc.StatusCode.UNIMPLEMENTED, MANAGED_BY_CLI)

    def ForceDelete(
        self, request: registry_service_pb2.DeleteRegistryRequest, context: grpc.ServicerContext
    ) -> operation_pb2.Operation:
        raise ApiError(grpc.StatusCode.UNIMPLEMENTED, MANAGED_BY_CLI)
