"""IamTokenService.Create: the unchanged `yandexcloud` SDK with `token=` (a crscan API token) and with
`service_account_key=` (a key from `crscan token create --key`), against a real `crscan serve` and in process;
the IAM token's lifetime, role, scope and revocation; every forged, stale or misdirected JWT refused by name."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time
import warnings

import grpc
import jwt
import pytest
import yandexcloud
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select
from yandex.cloud.containerregistry.v1 import (
    registry_service_pb2,
    registry_service_pb2_grpc,
    scanner_service_pb2,
    scanner_service_pb2_grpc,
)
from yandex.cloud.iam.v1 import iam_token_service_pb2, iam_token_service_pb2_grpc

from crscan.auth import Role, SqlTokenRepository, TokenService
from crscan.store.tokens import IamToken
from tests.api.test_serve_cli import serve
from tests.auth.conftest import FOLDER, ISSUED_SECRETS
from tests.auth.test_cli_and_serve import crscan

UTC = dt.UTC


def sdk(address: str, ca: bytes, **credentials) -> yandexcloud.SDK:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK deprecates token= (OAuth) for Yandex itself
        return yandexcloud.SDK(endpoint=address, root_certificates=ca, **credentials)


def registry_names(client: yandexcloud.SDK) -> list[str]:
    stub = client.client(registry_service_pb2_grpc.RegistryServiceStub)
    return [r.name for r in stub.List(registry_service_pb2.ListRegistriesRequest(folder_id=FOLDER), timeout=20)
            .registries]


def sign(key: dict, *, private_key: str | None = None, headers: dict | None = None, **claims) -> str:
    """A JWT like the SDK's for `key` (iss, aud, iat, exp one hour apart), with `claims`/`headers` overriding."""
    now = int(time.time())
    payload = {"iss": key["service_account_id"], "aud": key["aud"], "iat": now, "exp": now + 3600} | claims
    payload = {k: v for k, v in payload.items() if v is not None}
    header = {"typ": "JWT", "alg": "PS256", "kid": key["id"]} | (headers or {})
    header = {k: v for k, v in header.items() if v is not None}
    return jwt.encode(payload, private_key or key["private_key"], algorithm=header["alg"], headers=header)


@pytest.fixture(scope="module")
def tokens(auth_api) -> TokenService:
    return TokenService(SqlTokenRepository(auth_api.store))


@pytest.fixture(scope="module")
def beta_key(auth_api, tokens) -> dict:
    """A viewer key scoped to registry beta, as `crscan token create --key` prints it, plus the SDK's aud."""
    issued = tokens.create_with_key(Role.VIEWER, registries=[auth_api.world.beta])
    return issued.sdk_json() | {"aud": f"https://iam.{auth_api.server.public_address}/iam/v1/tokens"}


def create(auth_api, transport: str, **identity) -> tuple[str, dt.datetime]:
    """IamTokenService.Create over `transport` → (iam token, expires_at); Failure-like ValueError otherwise."""
    if transport == "grpc":
        channel = grpc.secure_channel(auth_api.server.public_address, grpc.ssl_channel_credentials(auth_api.ca))
        with channel:
            stub = iam_token_service_pb2_grpc.IamTokenServiceStub(channel)
            try:
                answer = stub.Create(iam_token_service_pb2.CreateIamTokenRequest(**identity), timeout=20)
            except grpc.RpcError as e:
                raise Refused(e.code().name, e.details()) from None
        return answer.iam_token, answer.expires_at.ToDatetime()
    body = {"yandexPassportOauthToken" if k == "yandex_passport_oauth_token" else k: v for k, v in identity.items()}
    answer = auth_api.http.post("/iam/v1/tokens", json=body)
    if answer.status_code != 200:
        raise Refused({401: "UNAUTHENTICATED", 400: "INVALID_ARGUMENT"}[answer.status_code], answer.json()["message"])
    parsed = answer.json()
    expires = dt.datetime.fromisoformat(parsed["expiresAt"].replace("Z", "+00:00")).replace(tzinfo=None)
    return parsed["iamToken"], expires


class Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def test_sdk_token_and_service_account_key_work_unchanged_against_crscan_serve(tmp_path):
    data = str(tmp_path / "data")
    api_token = crscan("token", "create", "--role", "viewer", "--data-dir", data).stdout.strip()
    key_run = crscan("token", "create", "--role", "viewer", "--key", "--description", "ci", "--data-dir", data)
    assert key_run.returncode == 0, key_run.stderr
    key = json.loads(key_run.stdout)  # stdout is the key JSON alone
    ISSUED_SECRETS.append(api_token)
    assert set(key) == {"id", "service_account_id", "created_at", "key_algorithm", "public_key", "private_key"}
    assert key["private_key"].startswith("-----BEGIN PRIVATE KEY-----") and key["private_key"] not in key_run.stderr
    assert key["id"].startswith("crj") and key["service_account_id"].startswith("crk")
    served = serve("--data-dir", data, "--http-port", "0", "--grpc-port", "0", "--log-level", "debug")
    try:
        ca = served.ca_file.read_bytes()
        assert registry_names(sdk(served.grpc_address, ca, token=api_token)) == []
        assert registry_names(sdk(served.grpc_address, ca, service_account_key=key)) == []
        # A refused exchange fails the SDK's call: gRPC reports a failed credentials plugin as UNAVAILABLE, with
        # the server's status and reason inside.
        stranger = dict(key, id="crj" + "0" * 17)
        with pytest.raises(grpc.RpcError) as refused:
            registry_names(sdk(served.grpc_address, ca, service_account_key=stranger))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert f"UNAUTHENTICATED:unknown key id {stranger['id']}" in refused.value.details()
    finally:
        served.stop(signal.SIGTERM)
    log = served.stderr_text()
    assert "issued IAM token cri" in log and api_token.partition(".")[2] not in log
    assert key["private_key"].splitlines()[1] not in log


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_an_iam_token_acts_as_its_api_token_and_lives_at_most_12_hours(auth_api, tokens, transport):
    world = auth_api.world
    before = dt.datetime.now(UTC).replace(tzinfo=None)
    iam_token, expires_at = create(auth_api, transport, yandex_passport_oauth_token=world.tokens["scoped_other"])
    assert iam_token.startswith("cri") and dt.timedelta(hours=11, minutes=59) < expires_at - before <= dt.timedelta(
        hours=12, seconds=5)
    ISSUED_SECRETS.append(iam_token)
    # Same role and scope (an admin limited to beta), over both transports.
    assert registry_names(sdk(auth_api.server.public_address, auth_api.ca, iam_token=iam_token)) == ["beta"]
    listed = auth_api.http.get("/container-registry/v1/registries", params={"folderId": FOLDER},
                               headers={"authorization": f"Bearer {iam_token}"})
    assert [r["name"] for r in listed.json()["registries"]] == ["beta"]
    # A token that expires sooner bounds the IAM token's life.
    short = tokens.create(Role.VIEWER, expires_in=dt.timedelta(minutes=30))
    _, short_expiry = create(auth_api, transport, yandex_passport_oauth_token=short.secret)
    assert abs(short_expiry - short.record.expires_at) < dt.timedelta(seconds=1)


def test_sdk_with_a_scoped_service_account_key_sees_its_registry_with_its_role(auth_api, beta_key):
    client = sdk(auth_api.server.public_address, auth_api.ca, service_account_key=beta_key)
    assert registry_names(client) == ["beta"]
    scanner = client.client(scanner_service_pb2_grpc.ScannerServiceStub)
    with pytest.raises(grpc.RpcError) as denied:  # the key's token is a viewer
        scanner.Scan(scanner_service_pb2.ScanRequest(image_id=auth_api.world.beta_image), timeout=20)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED and "has role viewer" in denied.value.details()


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_a_jwt_is_exchanged_over_both_transports_for_each_accepted_audience(auth_api, beta_key, transport):
    server = auth_api.server
    for aud in (beta_key["aud"], f"{server.http_url}/iam/v1/tokens", f"https://{server.public_address}/iam/v1/tokens"):
        iam_token, _ = create(auth_api, transport, jwt=sign(beta_key, aud=aud))
        ISSUED_SECRETS.append(iam_token)
        assert registry_names(sdk(server.public_address, auth_api.ca, iam_token=iam_token)) == ["beta"]


def forgeries(key: dict) -> list[tuple[str, str, str]]:
    """(what, jwt, the message's telling part) for every way a JWT must be refused."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    return [
        ("signed by another key", sign(key, private_key=other), f"signature does not verify with key {key['id']}"),
        ("wrong audience", sign(key, aud="https://iam.api.cloud.yandex.net/iam/v1/tokens"),
         "aud is not this server's IAM token URL: expected"),
        ("unknown key id", sign(key, headers={"kid": "crj" + "1" * 17}), "unknown key id crj11111111111111111"),
        ("expired", sign(key, iat=now - 7200, exp=now - 3600), "the JWT has expired"),
        ("issued in the future", sign(key, iat=now + 3600, exp=now + 4000), "not valid yet"),
        ("another issuer", sign(key, iss="crk" + "2" * 17), f"iss must be the service account id of key {key['id']}"),
        ("valid for a day", sign(key, exp=now + 86400), "at most 1:00:00 is accepted"),
        ("no exp", sign(key, exp=None), "has no exp claim"),
        ("no kid", sign(key, headers={"kid": None}), "has no kid"),
        ("HS256", sign(key, private_key="a shared secret long enough to be a key!", headers={"alg": "HS256"}),
         "must be signed with PS256, not 'HS256'"),
        ("unsigned", jwt.encode({"iss": key["service_account_id"]}, None, algorithm="none",
                                headers={"kid": key["id"]}), "must be signed with PS256, not 'none'"),
        ("not a JWT", "not.a.jwt", "not a JSON Web Token"),
    ]


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_forged_stale_and_misdirected_jwts_are_unauthenticated_with_the_reason(auth_api, beta_key, transport):
    refused = {}
    for what, token, reason in forgeries(beta_key):
        with pytest.raises(Refused) as failure:
            create(auth_api, transport, jwt=token)
        refused[what] = failure.value.code
        assert reason in failure.value.message, (what, failure.value.message)
    assert set(refused.values()) == {"UNAUTHENTICATED"}


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_bad_exchanges_are_refused_by_name(auth_api, tokens, transport):
    world = auth_api.world
    cases = [
        ({}, "INVALID_ARGUMENT", "set one of yandex"),  # REST names the field yandexPassportOauthToken
        ({"yandex_passport_oauth_token": world.tokens["bad"]}, "UNAUTHENTICATED", "not valid"),
        ({"yandex_passport_oauth_token": world.tokens["revoked"]}, "UNAUTHENTICATED", "was revoked"),
        ({"yandex_passport_oauth_token": world.tokens["expired"]}, "UNAUTHENTICATED", "expired at"),
        ({"yandex_passport_oauth_token": "t1.a-yandex-oauth-token"}, "UNAUTHENTICATED", "not a crscan API token"),
    ]
    iam_token, _ = create(auth_api, transport, yandex_passport_oauth_token=world.tokens["viewer"])
    cases.append(({"yandex_passport_oauth_token": iam_token}, "UNAUTHENTICATED", "cannot be exchanged for another"))
    for identity, code, reason in cases:
        with pytest.raises(Refused) as failure:
            create(auth_api, transport, **identity)
        assert (failure.value.code, reason in failure.value.message) == (code, True), failure.value


def test_revoking_the_token_ends_its_iam_tokens_and_its_key(auth_api, tokens):
    holder = tokens.create(Role.VIEWER)
    keyed = tokens.create_with_key(Role.VIEWER)
    key = keyed.sdk_json() | {"aud": f"https://iam.{auth_api.server.public_address}/iam/v1/tokens"}
    from_token, _ = create(auth_api, "rest", yandex_passport_oauth_token=holder.secret)
    from_key, _ = create(auth_api, "grpc", jwt=sign(key))
    for record in (holder.record, keyed.record):
        tokens.revoke(record.id)
    for iam_token, token_id in ((from_token, holder.record.id), (from_key, keyed.record.id)):
        answer = auth_api.http.get("/container-registry/v1/registries", params={"folderId": FOLDER},
                                   headers={"authorization": f"Bearer {iam_token}"})
        assert answer.status_code == 401
        assert answer.json()["message"] == (
            f"IAM token {iam_token.partition('.')[0]} was issued for token {token_id}, which was revoked"
        )
    with pytest.raises(Refused) as failure:
        create(auth_api, "grpc", jwt=sign(key))
    assert failure.value.message == f"key {keyed.key.id} belongs to token {keyed.record.id}, which was revoked"


def test_an_expired_iam_token_is_refused_and_purged_by_the_next_issue(auth_api, tokens):
    holder = tokens.create(Role.VIEWER)
    long_ago = dt.datetime.now(UTC).replace(tzinfo=None) - dt.timedelta(hours=13)
    stale = tokens.issue_iam_token(holder.secret, now=long_ago)
    answer = auth_api.http.get("/container-registry/v1/registries", params={"folderId": FOLDER},
                               headers={"authorization": f"Bearer {stale.secret}"})
    assert answer.status_code == 401 and f"IAM token {stale.record.id} expired at" in answer.json()["message"]
    create(auth_api, "rest", yandex_passport_oauth_token=holder.secret)
    with auth_api.store.sessions() as session:
        assert session.scalar(select(func.count()).where(IamToken.id == stale.record.id)) == 0


def test_iam_token_service_revoke_ends_one_iam_token(auth_api):
    viewer = auth_api.world.tokens["viewer"]
    kept, _ = create(auth_api, "rest", yandex_passport_oauth_token=viewer)
    dropped, _ = create(auth_api, "rest", yandex_passport_oauth_token=viewer)
    answer = auth_api.http.post("/iam/v1/tokens:revoke", json={"iamToken": dropped})
    assert answer.status_code == 200 and answer.json() == {"subjectId": viewer.partition(".")[0]}
    for iam_token, status in ((kept, 200), (dropped, 401)):
        listed = auth_api.http.get("/container-registry/v1/registries", params={"folderId": FOLDER},
                                   headers={"authorization": f"Bearer {iam_token}"})
        assert listed.status_code == status
