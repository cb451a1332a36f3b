"""`POST /hooks/distribution`: the CNCF distribution registry's notification endpoint.

The registry is configured with `notifications.endpoints[].headers: {Authorization: [Bearer <secret>]}`; the
secret is compared in constant time. The envelope's events are applied by `crscan.sync.WebhookHandler`; the
answer is 200 with its counts, so the registry does not redeliver an envelope that was understood.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from crscan.secrets import SecretBox
from crscan.store import Store
from crscan.sync.webhook import EnvelopeError, ImagesHook, WebhookHandler, parse_envelope

WEBHOOK_PATH = "/hooks/distribution"
EVENTS_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
MAX_ENVELOPE_BYTES = 1 << 20


def webhook_routes(store: Store, box: SecretBox, secret: str,
                   on_images: ImagesHook | None = None) -> dict[str, Callable]:
    """POST handlers by path, for `ApiServer(hooks=…)`. With an empty `secret` the endpoint answers 404."""
    handler = WebhookHandler(store, box, on_images)
    expected = f"Bearer {secret}".encode()

    async def distribution(request: Request) -> Response:
        if not secret:
            return _error(404, "the push webhook is disabled: set webhook_secret (CRSCAN_WEBHOOK_SECRET)")
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, expected):
            return _error(401, "missing or wrong webhook secret: send Authorization: Bearer <webhook_secret>",
                          {"WWW-Authenticate": 'Bearer realm="crscan-webhook"'})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (EVENTS_MEDIA_TYPE, "application/json"):
            return _error(415, f"content type {content_type!r} is not {EVENTS_MEDIA_TYPE}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_ENVELOPE_BYTES:
                return _error(413, f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
        try:
            events = parse_envelope(bytes(body))
        except EnvelopeError as exc:
            return _error(400, str(exc))
        result = await run_in_threadpool(handler.handle, events)
        return JSONResponse(result.counts())

    return {WEBHOOK_PATH: distribution}


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))
