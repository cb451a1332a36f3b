"""The REST transport: routes transcoded from each method's `google.api.http` rule, served by Starlette.

A request message is built the way grpc-gateway builds it: the body (for rules with `body`), then the path
variables, then query parameters for every other field (lowerCamelCase or snake_case, dotted for nested fields).
Responses use the proto3 JSON mapping (`wire_json`: json_format's output, printed faster); errors are
`google.rpc.Status` JSON.
Variables match raw (still percent-encoded) path segments, so `{repository_name}` may carry an encoded "/", and
a raw ":" always starts the custom verb.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import anyio.to_thread
import grpc
from anyio import CapacityLimiter
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Router, request_response

from crscan.api import openapi
from crscan.api.auth import authenticated
from crscan.api.body import MAX_BODY_BYTES, BodyError, decode_json
from crscan.api.errors import ApiError, invalid_argument
from crscan.api.grpc_server import INTERNAL_MESSAGE, SERVICER_THREADS, ServiceBinding, call_log, invoke_servicer
from crscan.api.request_id import HEADER, request_id, rest_details
from crscan.api.response_cache import ResponseCache
from crscan.api.routes import HttpRoute, routes_for
from crscan.api.wire_json import message_to_dict
from crscan.auth.interface import Authenticator, Caller, Credentials

log = logging.getLogger(__name__)

MEMO_ENTRIES = 4096  # distinct URLs remembered (route matches, parsed GET requests)

HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

# Well-known types whose proto3 JSON form is a string, so a path or query value can carry them.
_STRING_MESSAGES = frozenset(
    {
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.Int32Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.DoubleValue",
        "google.protobuf.FloatValue",
    }
)


class RestContext:
    """The part of `grpc.ServicerContext` servicers use, backed by an HTTP request."""

    def __init__(self, metadata: tuple[tuple[str, str], ...], peer: str):
        self._metadata = metadata
        self._peer = peer
        self._code: grpc.StatusCode | None = None
        self._details = ""

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def peer(self) -> str:
        return self._peer

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise ApiError(code, details)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str:
        return self._details

    def time_remaining(self) -> None:
        return None  # HTTP requests carry no deadline


def status_response(code: grpc.StatusCode, message: str, request_id: str, http_status: int | None = None,
                    headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A `google.rpc.Status` JSON error body whose `details` name the request."""
    body = {"code": code.value[0], "message": message, "details": rest_details(request_id)}
    return JSONResponse(body, status_code=http_status or HTTP_STATUS[code], headers=dict(headers or {}))


PageHandler = Callable[[Request], Awaitable[Response]]


class JsonFieldNames:
    """Rewrites proto field names (`image_id`) in error messages to their JSON names (`imageId`), the names a
    REST caller sends; gRPC messages keep proto names. Only names of fields of the served messages change, and
    never inside quotes, where a message echoes the caller's own input."""

    _NAME = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
    _QUOTED = re.compile(r"('[^']*'|\"[^\"]*\")")

    def __init__(self, bindings: Sequence[ServiceBinding]):
        self._names: dict[str, str] = {}
        seen: set[str] = set()
        pending = [m.input_type for b in bindings for m in b.descriptor.methods]
        while pending:
            descriptor = pending.pop()
            if descriptor.full_name in seen:
                continue
            seen.add(descriptor.full_name)
            for field in descriptor.fields:
                if field.name != field.json_name:
                    self._names[field.name] = field.json_name
                if field.message_type is not None:
                    pending.append(field.message_type)

    def transcode(self, message: str) -> str:
        parts = self._QUOTED.split(message)  # odd indexes are the quoted parts
        for i in range(0, len(parts), 2):
            parts[i] = self._NAME.sub(lambda m: self._names.get(m.group(), m.group()), parts[i])
        return "".join(parts)


def build_rest_app(
    bindings: Sequence[ServiceBinding],
    authenticator: Authenticator,
    extra_pages: Mapping[str, PageHandler] | None = None,
    hooks: Mapping[str, PageHandler] | None = None,
) -> Router:
    """The ASGI app: every route, plus GET-only pages (`/healthz`, `/openapi.json`, `/docs` and `extra_pages`,
    e.g. the ops probes) and POST-only `hooks` that check their own credentials (the push webhook); all paths
    reach `dispatch`, so every miss is a Status body. Every page but `PUBLIC_PAGES` needs a caller the
    authenticator accepts for a read (`OPS_PAGE_METHOD`): metrics and readiness say things about the fleet."""
    routes = routes_for(bindings)
    # A template matches only paths with as many segments as it has, so each request tries those alone.
    routes_by_depth: dict[int, list[HttpRoute]] = {}
    for route in routes:
        routes_by_depth.setdefault(len(route.segments), []).append(route)
    document = openapi.document_json(routes)
    json_names = JsonFieldNames(bindings)
    # Pollers send the same few URLs again and again: what a raw path matched and what a GET's URL parsed into
    # (the request message, serialized) are kept, bounded, and rebuilt from scratch when full.
    path_matches: dict[str, tuple[tuple[HttpRoute, dict[tuple[str, ...], str]], ...]] = {}
    url_requests: dict[tuple[HttpRoute, str, bytes], bytes] = {}
    # The response cache and method name of each route whose servicer method is a `cached_read`.
    cached_routes: dict[HttpRoute, tuple[ResponseCache, str]] = {}
    for route in routes:
        responses = getattr(route.binding.servicer, "responses", None)
        name = getattr(getattr(route.binding.servicer, route.method.name, None), "cached_name", None)
        if isinstance(responses, ResponseCache) and isinstance(name, str):
            cached_routes[route] = (responses, name)

    def match(raw_path: str) -> tuple[tuple[HttpRoute, dict[tuple[str, ...], str]], ...]:
        found = path_matches.get(raw_path)
        if found is None:
            candidates = routes_by_depth.get(raw_path.count("/"), [])
            found = tuple((route, values) for route in candidates if (values := route.match_path(raw_path)) is not None)
            if len(path_matches) >= MEMO_ENTRIES:
                path_matches.clear()
            path_matches[raw_path] = found
        return found

    async def request_message(route: HttpRoute, path_values: dict[tuple[str, ...], str], request: Request) -> Message:
        if route.body:
            return await _build_request(route, path_values, request)
        key = (route, request.scope.get("raw_path", b"").decode("latin-1"), request.scope.get("query_string", b""))
        serialized = url_requests.get(key)
        if serialized is None:
            message = await _build_request(route, path_values, request)
            if len(url_requests) >= MEMO_ENTRIES:
                url_requests.clear()
            url_requests[key] = message.SerializeToString()
            return message
        return message_factory.GetMessageClass(route.method.input_type).FromString(serialized)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi_json(request: Request) -> Response:
        return Response(document, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(openapi.DOCS_HTML, headers={"Content-Security-Policy": _DOCS_POLICY})

    pages = {"/healthz": healthz, "/openapi.json": openapi_json, "/docs": docs, **(extra_pages or {})}
    limiter = CapacityLimiter(SERVICER_THREADS)  # Starlette's default would be 40 threads

    on_loop = LoopWork()

    async def in_thread(function: Callable[[], Response | None]) -> Response | None:
        return await anyio.to_thread.run_sync(function, limiter=limiter)

    async def dispatch(request: Request) -> Response:
        rid = request_id(request.headers.items())
        response = await route_request(request, rid)
        response.headers[HEADER] = rid
        return response

    async def route_request(request: Request, rid: str) -> Response:
        def error(code: grpc.StatusCode, message: str, http_status: int | None = None) -> JSONResponse:
            return status_response(code, json_names.transcode(message), rid, http_status)

        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        if request.method == "GET" and raw_path in pages:
            if raw_path not in PUBLIC_PAGES:
                try:
                    await in_thread(functools.partial(_authenticate_page, authenticator, request))
                except ApiError as e:
                    return error(e.code, e.message)
            return await pages[raw_path](request)
        if request.method == "POST" and hooks and raw_path in hooks:
            return await hooks[raw_path](request)
        matched = match(raw_path)
        chosen = next(((r, v) for r, v in matched if r.http_method == request.method), None)
        if chosen is None:
            if matched:
                allowed = ", ".join(sorted({r.http_method for r, _ in matched}))
                return error(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"method {request.method} is not allowed on {raw_path}; allowed: {allowed}",
                    http_status=405,
                )
            return error(grpc.StatusCode.NOT_FOUND, f"no route for {request.method} {raw_path}")
        route, path_values = chosen
        try:
            message = await request_message(route, path_values, request)
            context = RestContext(tuple(request.headers.items()), _peer(request))
            caller_authenticator = authenticator
            if route in cached_routes and cached_routes[route][0].inline_reads:
                responses, name = cached_routes[route]
                body, caller = await on_loop(functools.partial(
                    _cached_body, route, name, responses, message, context, authenticator, rid))
                if body is not None:
                    return Response(body, media_type="application/json")
                caller_authenticator = Authenticated(caller)  # the thread goes on as this caller, not asking twice
            call = functools.partial(_call_and_render, route, message, context, caller_authenticator, rid)
            return await in_thread(call)  # type: ignore[return-value]  # _call_and_render always answers
        except ApiError as e:
            return error(e.code, e.message)
        except Exception:
            log.exception("unhandled error rendering %s %s (request_id=%s)", request.method, request.url.path, rid)
            return error(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)

    # No Starlette routes: its path regexes would answer some paths (e.g. with an encoded newline) in plain text.
    return Router(default=request_response(dispatch))


# Liveness must answer without credentials (orchestrators probe it); nothing it says depends on data. The docs
# page is static HTML and script: it asks for a token and sends it when it fetches openapi.json (not public).
PUBLIC_PAGES = frozenset({"/healthz", "/docs"})
# The method name the auth hook sees for the other pages: a read, so any viewer token may fetch them.
OPS_PAGE_METHOD = "/crscan.ops.OpsPages/Get"


def _call_and_render(
    route: HttpRoute, message: Message, context: RestContext, authenticator: Authenticator, request_id: str
) -> Response:
    """The servicer call and its JSON rendering, both in the worker thread: rendering a page of 100 messages
    is milliseconds of CPU the event loop (and every other connection on it) should not wait for."""
    response = invoke_servicer(
        getattr(route.binding.servicer, route.method.name),
        message,
        context,
        authenticator=authenticator,
        method=route.grpc_method,
        transport="rest",
        metadata=context.invocation_metadata(),
        peer=context.peer(),
        request_id=request_id,
    )
    if context.code() not in (None, grpc.StatusCode.OK):
        raise ApiError(context.code(), context.details())
    responses = getattr(route.binding.servicer, "responses", None)
    if isinstance(responses, ResponseCache):  # a cached answer keeps its body: a hit renders nothing
        return Response(responses.rendered(response, _json_body), media_type="application/json")
    return Response(_json_body(response), media_type="application/json")


def _json_body(message: Message) -> bytes:
    """The proto3 JSON body of an answer, as `JSONResponse` prints it."""
    return bytes(JSONResponse(message_to_dict(message)).body)


T = TypeVar("T")


class LoopWork:
    """Short synchronous calls run on the event loop by one task, a few at a time between I/O, in arrival order.

    Under a crowd every connection's task is ready at once; if each did its own work when first run, a request
    arriving meanwhile (a `/healthz` probe) would wait behind all of them. Queued here, that work waits in a
    queue the probe skips, and the loop gets back to I/O after every `BATCH` calls."""

    BATCH = 4

    def __init__(self) -> None:
        self._queue: collections.deque[tuple[Callable[[], Any], asyncio.Future[Any]]] = collections.deque()
        self._worker: asyncio.Task[None] | None = None

    async def __call__(self, function: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((function, future))
        if self._worker is None:
            self._worker = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                for _ in range(min(self.BATCH, len(self._queue))):
                    function, future = self._queue.popleft()
                    if future.cancelled():  # the client went away
                        continue
                    try:
                        future.set_result(function())
                    except Exception as exc:
                        future.set_exception(exc)
                await asyncio.sleep(0)
        finally:
            self._worker = None


class Authenticated(Authenticator):
    """The caller the event loop already authenticated for this request, handed to the servicer call."""

    def __init__(self, caller: Caller):
        self._caller = caller

    def authenticate(self, credentials: Credentials) -> Caller:
        return self._caller


def _cached_body(route: HttpRoute, name: str, responses: ResponseCache, message: Message, context: RestContext,
                 authenticator: Authenticator, request_id: str) -> tuple[bytes | None, Caller]:
    """The body of a cached answer, found without leaving the event loop (a thread hop costs more than the
    two local reads this takes: the auth hook's and the store generation), and the caller; the body is None when
    the cache has none yet. The caller is authenticated first, as for every call, and the call logged the same
    way: refused here (an ApiError) or answered here."""
    started = time.monotonic()
    try:
        with authenticated(authenticator, route.grpc_method, "rest", context.invocation_metadata(),
                           context.peer()) as caller:
            body = responses.cached_body(name, message)
    except ApiError as e:
        _log_call(route, e.code, started, request_id)
        raise
    if body is not None:
        _log_call(route, grpc.StatusCode.OK, started, request_id)
    return body, caller


def _log_call(route: HttpRoute, outcome: grpc.StatusCode, started: float, request_id: str) -> None:
    call_log.info("%s %s %s %.1fms request_id=%s", "rest", route.grpc_method, outcome.name,
                  (time.monotonic() - started) * 1000, request_id)


def _authenticate_page(authenticator: Authenticator, request: Request) -> None:
    with authenticated(authenticator, OPS_PAGE_METHOD, "rest", tuple(request.headers.items()), _peer(request)):
        pass


# The docs page runs only its own inline script, fetches only from this server and is never framed.
_DOCS_POLICY = ("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                "frame-ancestors 'none'; form-action 'none'")


def _peer(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else ""


async def _build_request(route: HttpRoute, path_values: dict[tuple[str, ...], str], request: Request) -> Message:
    message = message_from_body(route, await _read_body(request)) if route.body else \
        message_factory.GetMessageClass(route.method.input_type)()
    bound: set[tuple[str, ...]] = set(path_values)
    if route.body and route.body != "*":
        bound.add((route.body,))
    for field_path, value in path_values.items():
        _assign(message, _resolve(message.DESCRIPTOR, field_path, "path variable"), [value], "path variable")
    if route.body == "*" and request.query_params:
        names = ", ".join(sorted(set(request.query_params.keys())))
        raise invalid_argument(f"query parameters ({names}) are not accepted here; send all fields in the body")
    oneof_members: dict[tuple[tuple[str, ...], str], str] = {}  # (message path, oneof) → the parameter that set it
    for key in dict.fromkeys(request.query_params.keys()):
        fields = _resolve(message.DESCRIPTOR, tuple(key.split(".")), f"query parameter {key!r}")
        if tuple(f.name for f in fields) in bound:
            raise invalid_argument(f"query parameter {key!r} sets a field already given in the path or body")
        # A oneof takes one member; JSON parsing would silently keep the last one given.
        if (oneof := fields[-1].containing_oneof) is not None:
            slot = (tuple(f.name for f in fields[:-1]), oneof.name)
            if slot in oneof_members:
                names = " and ".join((oneof_members[slot], key))
                raise invalid_argument(f"{names} are exclusive ({oneof.name}): give exactly one of them")
            oneof_members[slot] = key
        _assign(message, fields, request.query_params.getlist(key), f"query parameter {key!r}")
    return message


def message_from_body(route: HttpRoute, raw: bytes) -> Message:
    """The request message a route's body describes (an empty body is `{}`); every problem with the body is
    INVALID_ARGUMENT naming it."""
    message = message_factory.GetMessageClass(route.method.input_type)()
    try:
        body = decode_json(raw) if raw.strip() else {}
    except BodyError as e:
        raise invalid_argument(f"request {e}") from None
    if route.body == "*" and not isinstance(body, dict):
        raise invalid_argument("request body must be a JSON object")
    try:
        json_format.ParseDict(body if route.body == "*" else {route.body: body}, message)
    except json_format.ParseError as e:
        raise invalid_argument(f"invalid request body: {e}") from None
    return message


async def _read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise invalid_argument(f"request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _resolve(descriptor: Descriptor, names: tuple[str, ...], label: str) -> list[FieldDescriptor]:
    """Field descriptors along a dotted path, accepting proto (snake_case) or JSON (lowerCamelCase) names."""
    fields = []
    for i, name in enumerate(names):
        by_json = {f.json_name: f for f in descriptor.fields}
        field = descriptor.fields_by_name.get(name) or by_json.get(name)
        if field is None:
            raise invalid_argument(f"{label}: {descriptor.name} has no field {name!r}")
        fields.append(field)
        if i < len(names) - 1:
            if field.type != FieldDescriptor.TYPE_MESSAGE or _is_repeated(field):
                raise invalid_argument(f"{label}: {field.name} is not a message field and has no sub-fields")
            descriptor = field.message_type
    return fields


def _is_repeated(field: FieldDescriptor) -> bool:
    # protobuf 6.31+ deprecates `label` for the `is_repeated` property; older releases have only `label`.
    repeated = getattr(field, "is_repeated", None)
    return repeated if isinstance(repeated, bool) else field.label == FieldDescriptor.LABEL_REPEATED


def _assign(message: Message, fields: list[FieldDescriptor], values: list[str], label: str) -> None:
    """Set one (possibly nested) field from URL strings, through `ParseDict` so the JSON mapping rules apply."""
    field = fields[-1]
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name not in _STRING_MESSAGES:
        raise invalid_argument(f"{label}: field {field.name} is a message and cannot be set from the URL")
    if field.type == FieldDescriptor.TYPE_BOOL:
        if any(v not in ("true", "false") for v in values):
            raise invalid_argument(f"{label}: expected true or false, got {values[-1]!r}")
        parsed: list[object] = [v == "true" for v in values]
    else:
        parsed = list(values)
    if _is_repeated(field):
        value: object = parsed
    elif len(parsed) > 1:
        raise invalid_argument(f"{label}: given {len(parsed)} times but {field.name} takes one value")
    else:
        value = parsed[0]
    for enclosing in reversed(fields):
        value = {enclosing.name: value}
    try:
        json_format.ParseDict(value, message)
    except json_format.ParseError as e:
        raise invalid_argument(f"{label}: {e}") from None

