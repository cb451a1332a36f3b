"""A served API with token auth on, a seeded world of two registries, and one token per kind of caller.

Every token secret a test issues is remembered in `ISSUED_SECRETS`; an autouse fixture fails any test whose
captured log records contain one (the "secrets never reach logs" acceptance check, applied to the whole module).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import grpc
import httpx
import pytest
import yandexcloud
from google.api import annotations_pb2
from google.protobuf import json_format, message_factory

from crscan.api.messages import OPERATION_CODEC
from crscan.api.server import ApiServer
from crscan.api.servicers import build_servicers
from crscan.auth import Role, SqlTokenRepository, TokenAuthenticator, TokenService
from crscan.config import Settings
from crscan.model import Finding, Severity
from crscan.store import Layer, Store

ISSUED_SECRETS: list[str] = []
CODES = {code.value[0]: code for code in grpc.StatusCode}
HTTP_STATUS = {grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.PERMISSION_DENIED: 403}
FOLDER = "b1gfolder"


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in ISSUED_SECRETS:
        assert secret not in logged and secret.partition(".")[2] not in logged, "a token secret was logged"


def issue(service: TokenService, role: Role, **options) -> str:
    secret = service.create(role, **options).secret
    ISSUED_SECRETS.append(secret)
    return secret


class Failure(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, http_status: int | None = None):
        super().__init__(f"{code.name}: {message}")
        self.code, self.message, self.http_status = code, message, http_status


def stub_class(service: str):
    """`yandex.cloud.containerregistry.v1.ScannerService` → its generated Stub class."""
    package, _, name = service.rpartition(".")
    module_name = "_".join(part.lower() for part in re.findall(r"[A-Z][a-z]*", name))
    module = importlib.import_module(f"{package}.{module_name}_pb2_grpc")
    return getattr(module, f"{name}Stub")


class GrpcCaller:
    """Calls over gRPC with a bearer token through the official SDK (`iam_token`), or with none on a bare
    channel (the SDK would go looking for cloud credentials)."""

    transport = "grpc"

    def __init__(self, server: ApiServer, ca: bytes, token: str | None):
        if token is not None:
            self._sdk = yandexcloud.SDK(endpoint=server.public_address, iam_token=token, root_certificates=ca)
        else:
            self._channel = grpc.secure_channel(server.public_address, grpc.ssl_channel_credentials(ca))
            self._sdk = None
        self._stubs = {}

    def __call__(self, method: str, request):
        service, _, name = method.strip("/").partition("/")
        if service not in self._stubs:
            cls = stub_class(service)
            self._stubs[service] = self._sdk.client(cls) if self._sdk else cls(self._channel)
        try:
            return getattr(self._stubs[service], name)(request, timeout=20)
        except grpc.RpcError as exc:
            raise Failure(exc.code(), exc.details()) from None


class RestCaller:
    """Calls the REST route the method's `google.api.http` rule names, with httpx."""

    transport = "rest"

    def __init__(self, http: httpx.Client, token: str | None):
        self._http = http
        self._headers = {"authorization": f"Bearer {token}"} if token is not None else {}

    def __call__(self, method: str, request):
        service, _, name = method.strip("/").partition("/")
        descriptor = request.DESCRIPTOR.file.pool.FindServiceByName(service).methods_by_name[name]
        rule = descriptor.GetOptions().Extensions[annotations_pb2.http]
        verb = rule.WhichOneof("pattern")
        path = getattr(rule, verb)
        fields = json_format.MessageToDict(request)
        for item in request.DESCRIPTOR.fields:
            if "{" + item.name + "}" in path:
                path = path.replace("{" + item.name + "}", quote(getattr(request, item.name), safe=""))
                fields.pop(item.json_name, None)
        with_body = bool(rule.body)
        response = self._http.request(
            verb.upper(), path, params=None if with_body else _query(fields), json=fields if with_body else None,
            headers=self._headers,
        )
        if response.status_code != 200:
            error = response.json()
            raise Failure(CODES[error["code"]], error["message"], response.status_code)
        return json_format.ParseDict(
            response.json(), message_factory.GetMessageClass(descriptor.output_type)(), ignore_unknown_fields=True
        )


def _query(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if not isinstance(value, dict | list)}


@dataclass
class World:
    """Two registries in one folder, each with a repository, an image with a finished scan, and more."""

    store: Store
    alpha: str = ""  # registry ids
    beta: str = ""
    alpha_repository: str = ""
    alpha_repository_name: str = ""
    alpha_image: str = ""
    alpha_scan: str = ""
    alpha_scan_operation: str = ""
    alpha_running_operation: str = ""
    alpha_policy: str = ""
    beta_repository: str = ""
    beta_image: str = ""
    beta_scan: str = ""
    tokens: dict[str, str | None] = field(default_factory=dict)

    def fresh_image(self, registry_id: str | None = None) -> str:
        repository = self.store.repositories.find(registry_id or self.alpha, "team/app")
        digest = "sha256:" + secrets.token_hex(32)
        return self.store.images.add(repository.id, digest, layers=[Layer("sha256:" + "cd" * 32, 10)]).id

    def fresh_registry(self) -> str:
        name = f"r{secrets.token_hex(6)}"
        return self.store.registries.add(name, f"{name}.example", folder_id=FOLDER).id

    def fresh_policy(self, registry_id: str | None = None) -> str:
        """A scan policy of `registry_id`, or of a new registry (a registry holds one policy)."""
        from yandex.cloud.containerregistry.v1 import scan_policy_service_pb2

        from crscan.api.servicers import ScanPolicyServicer

        registry_id = registry_id or self.fresh_registry()
        # Through the servicer's own code path, with auth off (no caller context is needed for Create).
        operation = _as_unauthenticated(
            lambda: ScanPolicyServicer(self.store).Create(
                scan_policy_service_pb2.CreateScanPolicyRequest(registry_id=registry_id, name="nightly"), None
            )
        )
        return scan_policy_service_pb2.CreateScanPolicyMetadata.FromString(operation.metadata.value).scan_policy_id


def _as_unauthenticated(call):
    from crscan.api.auth import AllowAll, authenticated

    with authenticated(AllowAll(), "/setup", "test", []):
        return call()


def seed_world(store: Store) -> World:
    world = World(store)
    for label in ("alpha", "beta"):
        registry = store.registries.add(label, f"{label}.example:5000", folder_id=FOLDER)
        repository = store.repositories.add(registry.id, "team/app")
        image = store.images.add(repository.id, "sha256:" + "ab" * 32, layers=[Layer("sha256:" + "cd" * 32, 10)])
        operation = store.scans.start(image.id)
        scan_id = store.operations.get(operation.id).resource_id
        finding = Finding(
            name="CVE-2023-4911", advisory_id="CVE-2023-4911", link="", package="libc6", source="dpkg",
            version="2.36-9", fixed_by="2.36-9+deb12u3", origin="os", type="debian", severity=Severity.HIGH,
            severity_source="debian", feed="debian",
        )
        store.scans.finish(scan_id, [finding], {Severity.HIGH: 1}, "build-1", [])
        setattr(world, label, registry.id)
        setattr(world, f"{label}_repository", repository.id)
        setattr(world, f"{label}_image", image.id)
        setattr(world, f"{label}_scan", scan_id)
        if label == "alpha":
            world.alpha_repository_name = f"{registry.id}/team/app"
            world.alpha_scan_operation = operation.id
            running_image = store.images.add(repository.id, "sha256:" + "ef" * 32)
            world.alpha_running_operation = store.scans.start(running_image.id).id
    world.alpha_policy = world.fresh_policy(world.alpha)
    return world


def make_tokens(store: Store, world: World) -> dict[str, str | None]:
    """One bearer token (or None) per kind of caller in the matrix."""
    service = TokenService(SqlTokenRepository(store))
    admin = issue(service, Role.ADMIN)
    revoked = issue(service, Role.ADMIN)
    service.revoke(revoked.partition(".")[0])
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=2)
    return {
        "none": None,
        "bad": admin.partition(".")[0] + "." + "A" * 43,  # a real token id with the wrong secret
        "expired": issue(service, Role.ADMIN, expires_in=dt.timedelta(days=1), now=long_ago),
        "revoked": revoked,
        "viewer": issue(service, Role.VIEWER),
        "editor": issue(service, Role.EDITOR),
        "admin": admin,
        "scoped_other": issue(service, Role.ADMIN, registries=[world.beta]),
    }


@dataclass
class AuthApi:
    server: ApiServer
    store: Store
    world: World
    ca: bytes
    http: httpx.Client

    def caller(self, transport: str, token: str | None):
        return GrpcCaller(self.server, self.ca, token) if transport == "grpc" else RestCaller(self.http, token)


def start_auth_api(directory: Path, database_url: str) -> Iterator[AuthApi]:
    store = Store(database_url, OPERATION_CODEC)
    store.migrate()
    world = seed_world(store)
    world.tokens = make_tokens(store, world)
    settings = Settings.resolve({"data_dir": directory, "http_port": 0, "grpc_port": 0}, environ={})
    authenticator = TokenAuthenticator(TokenService(SqlTokenRepository(store)))
    try:
        with ApiServer(settings, build_servicers(store), authenticator) as server:
            with httpx.Client(base_url=server.http_url, timeout=30) as http:
                yield AuthApi(server, store, world, server.tls.ca_file.read_bytes(), http)
    finally:
        store.close()


@pytest.fixture(scope="module")
def auth_api(tmp_path_factory) -> Iterator[AuthApi]:
    """Token auth on one seeded SQLite store for the whole module."""
    directory = tmp_path_factory.mktemp("auth-api")
    yield from start_auth_api(directory / "data", f"sqlite:///{directory / 'crscan.db'}")
