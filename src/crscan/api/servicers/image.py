"""ImageService: Get, List, Delete. An image's `name` is its repository's API name."""

from __future__ import annotations

import grpc
from yandex.cloud.containerregistry.v1 import image_pb2, image_service_pb2, image_service_pb2_grpc
from yandex.cloud.operation import operation_pb2

from crscan.api import messages
from crscan.api.errors import ApiError, failed_precondition
from crscan.api.listing import OrderBy, PageTokens, page_size, parse_filter, parse_order_by
from crscan.api.response_cache import ResponseCache, cached_read
from crscan.api.servicers.common import (
    caller_subject,
    check_access,
    for_caller,
    only_folder,
    optional_id,
    require_id,
    store_errors,
    visible_registries,
)
from crscan.api.servicers.repository import find_repository_by_name, split_repository_name
from crscan.registry import AuthError, OperationRefused, RegistryError, RegistryUnavailable
from crscan.secrets import SecretBox, SecretError
from crscan.store import Order, Store
from crscan.sync import SyncError
from crscan.sync.sync import open_view

ORDER_FIELDS = {"createdAt": "created_at", "created_at": "created_at", "digest": "digest"}
DEFAULT_ORDER = OrderBy("created_at", descending=True)


class ImageServicer(image_service_pb2_grpc.ImageServiceServicer):
    """`box` (the registry credentials' key) enables Delete in the registry itself: without it only crscan's
    rows go, and the next sync brings the image back."""

    def __init__(self, store: Store, box: SecretBox | None = None, responses: ResponseCache | None = None):
        self.store = store
        self.box = box
        self.responses = responses

    @cached_read
    def Get(self, request: image_service_pb2.GetImageRequest, context: grpc.ServicerContext) -> image_pb2.Image:
        image_id = require_id(request.image_id, "image_id")
        check_access(self.store, "image", image_id)
        with store_errors():
            return messages.image(self.store.images.view(image_id))

    def Delete(
        self, request: image_service_pb2.DeleteImageRequest, context: grpc.ServicerContext
    ) -> operation_pb2.Operation:
        image_id = require_id(request.image_id, "image_id")
        check_access(self.store, "image", image_id)
        with store_errors():
            if self.box is not None:
                self._delete_in_registry(image_id, self.box)
            return messages.operation(self.store.images.delete(image_id, created_by=caller_subject()))

    def _delete_in_registry(self, image_id: str, box: SecretBox) -> None:
        """The manifest goes first: if the registry refuses, crscan's rows (and scan history) stay."""
        image = self.store.images.get(image_id)
        repository = self.store.repositories.get(image.repository_id)
        registry = self.store.registries.get(repository.registry_id)
        where = f"image {image_id} ({repository.name}@{image.digest} in registry {registry.name!r})"
        try:
            view = open_view(registry, box)
        except (SyncError, SecretError) as exc:
            raise failed_precondition(f"{where} cannot be deleted: {exc}") from None
        try:
            view.delete(repository.name, image.digest, list(image.tags))
        except OperationRefused as exc:
            raise failed_precondition(f"{where} was not deleted: the registry refuses deletes ({exc}); "
                                      "enable them (distribution: storage.delete.enabled) and retry") from None
        except AuthError as exc:
            raise failed_precondition(f"{where} was not deleted: crscan's credentials may not delete ({exc})"
                                      ) from None
        except RegistryUnavailable as exc:
            raise ApiError(grpc.StatusCode.UNAVAILABLE, f"{where} was not deleted: {exc}") from None
        except RegistryError as exc:
            raise failed_precondition(f"{where} was not deleted: {exc}") from None
        finally:
            view.close()

    @cached_read
    def List(
        self, request: image_service_pb2.ListImagesRequest, context: grpc.ServicerContext
    ) -> image_service_pb2.ListImagesResponse:
        repository_id = ""
        if request.repository_name:  # the proto: registry and folder are ignored when a repository is named
            repository_id = find_repository_by_name(self.store, request.repository_name, "repository_name").id
            registry_id = folder_id = ""
        else:
            registry_id = optional_id(request.registry_id, "registry_id")
            folder_id = "" if registry_id else optional_id(request.folder_id, "folder_id")
            if not registry_id and not folder_id:  # Yandex requires one; a server with one folder takes it as meant
                folder_id = only_folder(self.store, "one of repository_name, registry_id and folder_id is required")
        limit = page_size(request.page_size)
        conditions = parse_filter(request.filter, {"name": split_repository_name})
        order_by = parse_order_by(request.order_by, ORDER_FIELDS, DEFAULT_ORDER)
        order = Order(order_by.key, order_by.descending)
        tokens = PageTokens(self.store.page_token_key())
        request_context = f"images|{repository_id}|{registry_id}|{folder_id}|{sorted(conditions.items())}|{order}"
        after = tokens.read(request.page_token, for_caller(request_context))
        if "name" in conditions:
            named = self.store.repositories.find(*conditions["name"])
            if named is None or (repository_id and named.id != repository_id):
                return image_service_pb2.ListImagesResponse()
            repository_id = named.id
        if registry_id:
            check_access(self.store, "registry", registry_id)
        with store_errors():
            if registry_id and after:  # a deleted registry is NOT_FOUND rather than a stale cursor
                self.store.registries.get(registry_id)
            page = self.store.images.page(
                repository_id=repository_id, registry_id=registry_id, folder_id=folder_id,
                registry_ids=visible_registries(), order=order,
                after_id=after[0] if after else None, limit=limit,
            )
            if registry_id and not page.rows:  # rows prove the registry exists; an empty page must say if not
                self.store.registries.get(registry_id)
        response = image_service_pb2.ListImagesResponse(images=[messages.image(row) for row in page.rows])
        if page.has_more:
            response.next_page_token = tokens.issue(for_caller(request_context), (page.rows[-1].id,))
        return response
