"""`yandex.cloud.iam.v1.IamTokenService`: where the unchanged SDK trades its credentials for an IAM token.

`yandexcloud.SDK(token=…)` sends a crscan API token as `yandex_passport_oauth_token`; `SDK(service_account_key=…)`
sends a PS256 JWT signed with a key from `crscan token create --key` (kid = key id, iss = the token it is bound
to, aud = `https://iam.<endpoint>/iam/v1/tokens`). Either way the answer is a short-lived `cri…` token that acts
as the underlying API token (role, registry scope, revocation). The service is public in the auth hook: the SDK
calls it without credentials, and the request body is the credential. REST: POST /iam/v1/tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

import grpc
from yandex.cloud.iam.v1.iam_token_service_pb2 import (
    CreateIamTokenRequest,
    CreateIamTokenResponse,
    RevokeIamTokenRequest,
    RevokeIamTokenResponse,
)
from yandex.cloud.iam.v1.iam_token_service_pb2_grpc import IamTokenServiceServicer

from crscan.api.errors import failed_precondition, invalid_argument, unauthenticated
from crscan.auth import InvalidToken, TokenService

log = logging.getLogger(__name__)

TOKENS_PATH = "/iam/v1/tokens"


def audiences(public_address: str, http_url: str) -> frozenset[str]:
    """The `aud` values a service-account JWT may carry: the URL the SDK builds from its `endpoint=` (this
    server's advertised gRPC address), and the URLs of this service on either port."""
    return frozenset({
        f"https://iam.{public_address}{TOKENS_PATH}",
        f"https://{public_address}{TOKENS_PATH}",
        f"{http_url}{TOKENS_PATH}",
    })


class IamTokenServicer(IamTokenServiceServicer):
    """`tokens` None: the server runs without auth, where no IAM token is needed (any bearer value passes)."""

    def __init__(self, tokens: TokenService | None, jwt_audiences: Callable[[], Collection[str]]) -> None:
        self._tokens = tokens
        self._audiences = jwt_audiences  # called per request: the ports are known only once the server listens

    def Create(self, request: CreateIamTokenRequest, context: grpc.ServicerContext) -> CreateIamTokenResponse:
        tokens = self._require_auth()
        identity = request.WhichOneof("identity")
        if identity is None:
            raise invalid_argument("set one of yandex_passport_oauth_token (a crscan API token) or jwt (signed with "
                                   "a key from `crscan token create --key`)")
        presented = getattr(request, identity)
        if not presented:
            raise invalid_argument(f"{identity} is empty")
        try:
            if identity == "jwt":
                issued = tokens.issue_iam_token_for_jwt(presented, self._audiences())
            else:
                issued = tokens.issue_iam_token(presented)
        except InvalidToken as e:
            log.info("refused an IAM token (%s): %s", identity, e)
            raise unauthenticated(str(e)) from None
        record = issued.record
        log.info("issued IAM token %s for token %s (%s), expires %s", record.id, record.token_id, identity,
                 f"{record.expires_at:%Y-%m-%dT%H:%M:%SZ}")
        response = CreateIamTokenResponse(iam_token=issued.secret)
        response.expires_at.FromDatetime(record.expires_at)
        return response

    def Revoke(self, request: RevokeIamTokenRequest, context: grpc.ServicerContext) -> RevokeIamTokenResponse:
        tokens = self._require_auth()
        if not request.iam_token:
            raise invalid_argument("iam_token is empty")
        try:
            record = tokens.revoke_iam_token(request.iam_token)
        except InvalidToken as e:
            raise unauthenticated(str(e)) from None
        log.info("revoked IAM token %s of token %s", request.iam_token.partition(".")[0], record.id)
        return RevokeIamTokenResponse(subject_id=record.id)

    def _require_auth(self) -> TokenService:
        if self._tokens is None:
            raise failed_precondition("this server runs without authentication (--no-auth): no IAM token is "
                                      "needed, any bearer token is accepted (the SDK's iam_token=…)")
        return self._tokens
