"""`yandex.cloud.endpoint.ApiEndpointService`: how the unchanged SDK finds where each service lives.

`yandexcloud.SDK(endpoint=…)` calls List once, unauthenticated, and then opens TLS channels to the address
listed for the service id of each stub's module ("container-registry", "operation"); "iam" is where it would
exchange tokens. All of them are this one server.
"""

from __future__ import annotations

import grpc
from yandex.cloud.endpoint import api_endpoint_pb2, api_endpoint_service_pb2
from yandex.cloud.endpoint.api_endpoint_pb2 import ApiEndpoint
from yandex.cloud.endpoint.api_endpoint_service_pb2 import ListApiEndpointsResponse
from yandex.cloud.endpoint.api_endpoint_service_pb2_grpc import ApiEndpointServiceServicer

from crscan.api.errors import invalid_argument, not_found

SERVICE_IDS = ("container-registry", "operation", "iam", "endpoint")


class EndpointServicer(ApiEndpointServiceServicer):
    def __init__(self, address: str):
        self._endpoints = [ApiEndpoint(id=service_id, address=address) for service_id in SERVICE_IDS]

    def List(
        self, request: api_endpoint_service_pb2.ListApiEndpointsRequest, context: grpc.ServicerContext
    ) -> api_endpoint_service_pb2.ListApiEndpointsResponse:
        # Four entries fit any page; paging is accepted and checked, never needed.
        if request.page_size < 0:
            raise invalid_argument(f"page_size must not be negative, got {request.page_size}")
        if request.page_token:
            raise invalid_argument("page_token is not valid: this service returns a single page")
        return ListApiEndpointsResponse(endpoints=self._endpoints)

    def Get(
        self, request: api_endpoint_service_pb2.GetApiEndpointRequest, context: grpc.ServicerContext
    ) -> api_endpoint_pb2.ApiEndpoint:
        for endpoint in self._endpoints:
            if endpoint.id == request.api_endpoint_id:
                return endpoint
        known = ", ".join(SERVICE_IDS)
        raise not_found(f"api endpoint {request.api_endpoint_id!r} not found; this server answers for {known}")
