"""The gRPC transport: servicers registered with the generated `add_*Servicer_to_server`, behind one interceptor.

The interceptor is the single place where a request meets the auth hook and where servicer exceptions become
statuses: `ApiError` → its code and message; the generated base's NotImplementedError → UNIMPLEMENTED; anything
else → INTERNAL with a generic message (the traceback goes to the log, never to the client). The REST transport
calls servicers through the same `invoke_servicer`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from yandex.cloud.containerregistry.v1 import (
    image_service_pb2,
    image_service_pb2_grpc,
    registry_service_pb2,
    registry_service_pb2_grpc,
    repository_service_pb2,
    repository_service_pb2_grpc,
    scan_policy_service_pb2,
    scan_policy_service_pb2_grpc,
    scanner_service_pb2,
    scanner_service_pb2_grpc,
)
from yandex.cloud.endpoint import api_endpoint_service_pb2, api_endpoint_service_pb2_grpc
from yandex.cloud.iam.v1 import iam_token_service_pb2, iam_token_service_pb2_grpc
from yandex.cloud.operation import operation_service_pb2, operation_service_pb2_grpc

from crscan.api.auth import authenticated
from crscan.api.errors import ApiError
from crscan.api.request_id import HEADER, STATUS_DETAILS_KEY, request_id, status_details
from crscan.api.tls import ServerTls
from crscan.auth.interface import Authenticator

log = logging.getLogger(__name__)
call_log = logging.getLogger("crscan.api.calls")

# Generated servicer base class → (its add_*_to_server function, its service descriptor). Each function takes
# instances of its own base only (Any: the pairing is by key, which a dict's type cannot say).
AddToServer = Callable[[Any, grpc.Server], None]
SERVICES: dict[type, tuple[AddToServer, ServiceDescriptor]] = {
    scanner_service_pb2_grpc.ScannerServiceServicer: (
        scanner_service_pb2_grpc.add_ScannerServiceServicer_to_server,
        scanner_service_pb2.DESCRIPTOR.services_by_name["ScannerService"],
    ),
    scan_policy_service_pb2_grpc.ScanPolicyServiceServicer: (
        scan_policy_service_pb2_grpc.add_ScanPolicyServiceServicer_to_server,
        scan_policy_service_pb2.DESCRIPTOR.services_by_name["ScanPolicyService"],
    ),
    registry_service_pb2_grpc.RegistryServiceServicer: (
        registry_service_pb2_grpc.add_RegistryServiceServicer_to_server,
        registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"],
    ),
    repository_service_pb2_grpc.RepositoryServiceServicer: (
        repository_service_pb2_grpc.add_RepositoryServiceServicer_to_server,
        repository_service_pb2.DESCRIPTOR.services_by_name["RepositoryService"],
    ),
    image_service_pb2_grpc.ImageServiceServicer: (
        image_service_pb2_grpc.add_ImageServiceServicer_to_server,
        image_service_pb2.DESCRIPTOR.services_by_name["ImageService"],
    ),
    operation_service_pb2_grpc.OperationServiceServicer: (
        operation_service_pb2_grpc.add_OperationServiceServicer_to_server,
        operation_service_pb2.DESCRIPTOR.services_by_name["OperationService"],
    ),
    api_endpoint_service_pb2_grpc.ApiEndpointServiceServicer: (
        api_endpoint_service_pb2_grpc.add_ApiEndpointServiceServicer_to_server,
        api_endpoint_service_pb2.DESCRIPTOR.services_by_name["ApiEndpointService"],
    ),
    iam_token_service_pb2_grpc.IamTokenServiceServicer: (
        iam_token_service_pb2_grpc.add_IamTokenServiceServicer_to_server,
        iam_token_service_pb2.DESCRIPTOR.services_by_name["IamTokenService"],
    ),
}

# Threads per transport that run servicer calls at once. The work is mostly Python under one GIL: more threads
# only queue for it, starve the REST event loop (/healthz) and overflow the database connection pool (5 + 10).
SERVICER_THREADS = 4
# Same bound as a REST body: every API request is a few ids and expressions (gRPC's own default is 4 MiB).
MAX_REQUEST_BYTES = 1 << 20
INTERNAL_MESSAGE = "internal error; the server log has the details"


class ServiceBindingError(TypeError):
    """A servicer is not an instance of a known generated base class, or two serve the same service."""


@dataclass(frozen=True)
class ServiceBinding:
    servicer: object
    descriptor: ServiceDescriptor
    add_to_server: AddToServer

    def method_path(self, method_name: str) -> str:
        return f"/{self.descriptor.full_name}/{method_name}"


def bind_services(servicers: Iterable[object]) -> list[ServiceBinding]:
    """Match each servicer to its generated base class; unknown or duplicate services are refused."""
    bindings: dict[str, ServiceBinding] = {}
    for servicer in servicers:
        base = next((cls for cls in type(servicer).__mro__ if cls in SERVICES), None)
        if base is None:
            known = ", ".join(sorted(cls.__name__ for cls in SERVICES))
            raise ServiceBindingError(f"{type(servicer).__name__} subclasses none of the served bases: {known}")
        add_to_server, descriptor = SERVICES[base]
        if descriptor.full_name in bindings:
            raise ServiceBindingError(f"two servicers for {descriptor.full_name}")
        if any(m.client_streaming or m.server_streaming for m in descriptor.methods):
            raise ServiceBindingError(f"{descriptor.full_name} has streaming methods; only unary calls are served")
        bindings[descriptor.full_name] = ServiceBinding(servicer, descriptor, add_to_server)
    return list(bindings.values())


def invoke_servicer(
    behavior: Callable[[Message, grpc.ServicerContext], Message], request: Message, context: grpc.ServicerContext,
    *, authenticator: Authenticator, method: str, transport: str, metadata: Iterable[tuple[str, str]], peer: str = "",
    request_id: str = "",
) -> Message:
    """Authenticate, run one servicer method, and normalise every failure into an `ApiError`.

    Logs one line per call with its outcome and request id (the id the caller sees in the error or header).
    """
    started = time.monotonic()
    outcome = grpc.StatusCode.OK
    try:
        with authenticated(authenticator, method, transport, metadata, peer):
            return behavior(request, context)
    except ApiError as e:
        outcome = e.code
        raise
    except NotImplementedError:
        outcome = grpc.StatusCode.UNIMPLEMENTED
        raise ApiError(grpc.StatusCode.UNIMPLEMENTED, f"method {method} is not implemented") from None
    except Exception:
        if _aborted_by_servicer(context):
            outcome = context.code()
            raise
        outcome = grpc.StatusCode.INTERNAL
        log.exception("unhandled error in %s (request_id=%s)", method, request_id)
        raise ApiError(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE) from None
    finally:
        call_log.info("%s %s %s %.1fms request_id=%s", transport, method, outcome.name,
                      (time.monotonic() - started) * 1000, request_id)


def _aborted_by_servicer(context: grpc.ServicerContext) -> bool:
    """A servicer that called `context.abort` itself already chose its status; gRPC raises a bare Exception."""
    code = getattr(context, "code", None)
    return callable(code) and code() not in (None, grpc.StatusCode.OK)


class ApiInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]  # grpc ships no type information
    """Wraps every unary handler: auth hook in, `ApiError` / crashes out as gRPC statuses."""

    def __init__(self, authenticator: Authenticator):
        self._authenticator = authenticator
        # gRPC asks for every call; a served method's handler never changes once the server started.
        self._guarded: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        guarded = self._guarded.get(method)
        if guarded is None:
            handler = continuation(handler_call_details)
            if handler is None:  # unknown method: gRPC answers UNIMPLEMENTED itself (and no name is kept)
                return None
            guarded = self._guarded[method] = self._guard(handler, method)
        return guarded

    def _guard(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        behavior = handler.unary_unary

        def guarded(request: Message, context: grpc.ServicerContext) -> Message:
            metadata = context.invocation_metadata()
            rid = request_id(metadata)
            context.set_trailing_metadata(((HEADER, rid),))
            try:
                return invoke_servicer(
                    behavior,
                    request,
                    context,
                    authenticator=self._authenticator,
                    method=method,
                    transport="grpc",
                    metadata=metadata,
                    peer=context.peer(),
                    request_id=rid,
                )
            except ApiError as e:
                details = status_details(e.code.value[0], e.message, rid)
                context.set_trailing_metadata(((HEADER, rid), (STATUS_DETAILS_KEY, details)))
                context.abort(e.code, e.message)
            except Exception:
                if _aborted_by_servicer(context):  # the servicer chose its status; the id still goes with it
                    message = context.details() or b""
                    message = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
                    details = status_details(context.code().value[0], message, rid)
                    context.set_trailing_metadata(((HEADER, rid), (STATUS_DETAILS_KEY, details)))
                raise

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class GrpcBindError(OSError):
    """The gRPC server could not listen on the requested address."""


def create_grpc_server(
    authenticator: Authenticator, tls: ServerTls, host: str, port: int, *, reuse_port: bool = False
) -> tuple[grpc.Server, int]:
    """A TLS gRPC server bound to host:port (0 = any free port), not yet started; returns it and its port.

    Binding comes before registering services so the endpoint service can answer the actual port.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=SERVICER_THREADS, thread_name_prefix="crscan-grpc"),
        interceptors=[ApiInterceptor(authenticator)],
        # gRPC sets SO_REUSEPORT unless told not to: only processes of one `serve --workers` may share a port.
        options=[("grpc.max_receive_message_length", MAX_REQUEST_BYTES), ("grpc.so_reuseport", int(reuse_port))],
    )
    credentials = grpc.ssl_server_credentials([(tls.private_key, tls.cert_chain)])
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_secure_port(address, credentials)
    except RuntimeError as e:
        raise GrpcBindError(f"cannot listen for gRPC on {address}: {e}") from None
    if bound == 0:
        raise GrpcBindError(f"cannot listen for gRPC on {address} (address in use or not local)")
    return server, bound
