"""RepositoryService: Get, GetByName, List. A repository's API name is "<registry id>/<path in registry>"."""

from __future__ import annotations

import re

import grpc
from yandex.cloud.containerregistry.v1 import repository_pb2, repository_service_pb2, repository_service_pb2_grpc

from crscan import ids
from crscan.api import messages
from crscan.api.errors import invalid_argument, not_found
from crscan.api.listing import OrderBy, PageTokens, page_size, parse_filter, parse_order_by
from crscan.api.response_cache import ResponseCache, cached_read
from crscan.api.servicers.common import (
    check_access,
    for_caller,
    optional_id,
    require_id,
    require_registry_access,
    store_errors,
    visible_registries,
)
from crscan.store import Order, Store, schema

ORDER_FIELDS = {"name": "name"}
DEFAULT_ORDER = OrderBy("name", descending=False)


# The protos' pattern for repository names: lowercase components joined by [._-], separated by "/".
REPOSITORY_PATH = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")


def split_repository_name(value: str) -> tuple[str, str]:
    """"crp…/library/debian" → ("crp…", "library/debian"); ValueError naming what is wrong."""
    registry_id, _, path = value.partition("/")
    if not path:
        raise ValueError('expected "<registry id>/<repository path>"')
    if not REPOSITORY_PATH.fullmatch(path):
        raise ValueError("the repository path may hold only lowercase letters, digits, '.', '_', '-' and '/'")
    try:
        ids.check_id(registry_id, "registry id")
    except ids.InvalidId as exc:
        raise ValueError(str(exc)) from None
    return registry_id, path


def find_repository_by_name(store: Store, name: str, field: str) -> schema.Repository:
    """The repository the request's `field` names, checked against the caller's registries; INVALID_ARGUMENT
    for a malformed name, NOT_FOUND for an unknown one."""
    try:
        registry_id, path = split_repository_name(name)
    except ValueError as exc:
        raise invalid_argument(f"{field} {name!r} is malformed: {exc}") from None
    require_registry_access(registry_id, f"repository {name}")
    row = store.repositories.find(registry_id, path)
    if row is None:
        raise not_found(f"repository {name} not found")
    return row


class RepositoryServicer(repository_service_pb2_grpc.RepositoryServiceServicer):
    def __init__(self, store: Store, responses: ResponseCache | None = None):
        self.store = store
        self.responses = responses

    @cached_read
    def Get(
        self, request: repository_service_pb2.GetRepositoryRequest, context: grpc.ServicerContext
    ) -> repository_pb2.Repository:
        repository_id = require_id(request.repository_id, "repository_id")
        check_access(self.store, "repository", repository_id)
        with store_errors():
            return messages.repository(self.store.repositories.get(repository_id))

    @cached_read
    def GetByName(
        self, request: repository_service_pb2.GetRepositoryByNameRequest, context: grpc.ServicerContext
    ) -> repository_pb2.Repository:
        if not request.repository_name:
            raise invalid_argument("repository_name is required")
        return messages.repository(find_repository_by_name(self.store, request.repository_name, "repository_name"))

    @cached_read
    def List(
        self, request: repository_service_pb2.ListRepositoriesRequest, context: grpc.ServicerContext
    ) -> repository_service_pb2.ListRepositoriesResponse:
        registry_id = optional_id(request.registry_id, "registry_id")
        folder_id = "" if registry_id else optional_id(request.folder_id, "folder_id")  # proto: folder ignored then
        if not registry_id and not folder_id:
            raise invalid_argument("one of registry_id and folder_id is required")
        limit = page_size(request.page_size)
        conditions = parse_filter(request.filter, {"name": split_repository_name})
        order_by = parse_order_by(request.order_by, ORDER_FIELDS, DEFAULT_ORDER)
        order = Order(order_by.key, order_by.descending)
        tokens = PageTokens(self.store.page_token_key())
        request_context = f"repositories|{registry_id}|{folder_id}|{sorted(conditions.items())}|{order}"
        after = tokens.read(request.page_token, for_caller(request_context))
        if registry_id:
            check_access(self.store, "registry", registry_id)
            with store_errors():
                self.store.registries.get(registry_id)
        name = None
        if "name" in conditions:
            named_registry, name = conditions["name"]
            if registry_id and named_registry != registry_id:
                return repository_service_pb2.ListRepositoriesResponse()  # the named repository is elsewhere
            registry_id = named_registry
        with store_errors():
            page = self.store.repositories.page(
                registry_id=registry_id, folder_id=folder_id, name=name, registry_ids=visible_registries(), order=order,
                after_id=after[0] if after else None, limit=limit,
            )
        response = repository_service_pb2.ListRepositoriesResponse(
            repositories=[messages.repository(row) for row in page.rows]
        )
        if page.has_more:
            response.next_page_token = tokens.issue(for_caller(request_context), (page.rows[-1].id,))
        return response
