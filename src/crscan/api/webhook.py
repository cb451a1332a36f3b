"""`POST /hooks/distribution`: the CNCF distribution registry's notification endpoint.

The registry is configured with `notifications.endpoints[].headers: {Authorization: [Bearer <secret>]}`, where
the secret is the one `crscan registry add` printed for that registry (stored hashed, compared against every
registry's hash). The `webhook_secret` setting is a fallback that covers only registries without their own
secret. The body goes through the API's one JSON decoder (`crscan.api.body`), then `parse_envelope` checks every
push event's fields; any problem is a 400 INVALID_ARGUMENT naming it, a push for a host the secret does not cover
is a 404, and nothing is fetched or stored in either case. Otherwise the answer is 200 with the counts, so the
registry does not redeliver an envelope that was understood. Errors are `google.rpc.Status` JSON, as on every
other route.
"""

from __future__ import annotations

import grpc
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crscan.api.body import MAX_BODY_BYTES, BodyError, decode_json
from crscan.api.request_id import HEADER, request_id
from crscan.api.rest import PageHandler, status_response
from crscan.secrets import SecretBox
from crscan.store import Store
from crscan.sync.webhook import EnvelopeError, ImagesHook, UnknownRegistry, WebhookHandler, parse_envelope

WEBHOOK_PATH = "/hooks/distribution"
EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
MAX_ENVELOPE_BYTES = MAX_BODY_BYTES


def webhook_routes(store: Store, box: SecretBox, fallback_secret: str = "",
                   on_images: ImagesHook | None = None) -> dict[str, PageHandler]:
    """POST handlers by path, for `ApiServer(hooks=…)`."""
    handler = WebhookHandler(store, box, on_images, fallback_secret)

    async def distribution(request: Request) -> Response:
        rid = request_id(request.headers.items())

        def error(code: grpc.StatusCode, message: str, http_status: int | None = None,
                  headers: dict[str, str] | None = None) -> Response:
            return status_response(code, message, rid, http_status, {**(headers or {}), HEADER: rid})

        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        registries = await run_in_threadpool(handler.registries_for, secret) \
            if scheme.lower() == "bearer" and secret else None
        if registries is None:
            return error(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or wrong webhook secret: send Authorization: Bearer <the registry's webhook secret>",
                headers={"WWW-Authenticate": 'Bearer realm="crscan-webhook"'},
            )
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (EVENTS_MEDIA_TYPE, "application/json"):
            return error(grpc.StatusCode.INVALID_ARGUMENT,
                                   f"content type {content_type[:100]!r} is not {EVENTS_MEDIA_TYPE}", 415)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_ENVELOPE_BYTES:
                return error(grpc.StatusCode.INVALID_ARGUMENT,
                                       f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes", 413)
        try:
            envelope = parse_envelope(decode_json(bytes(body)))
        except (BodyError, EnvelopeError) as exc:
            return error(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            result = await run_in_threadpool(handler.handle, envelope, registries)
        except UnknownRegistry as exc:
            return error(grpc.StatusCode.NOT_FOUND, str(exc))
        return JSONResponse(result.counts(), headers={HEADER: rid})

    return {WEBHOOK_PATH: distribution}

