"""Cached answers with token auth on: an answer cached for one caller is never given to a caller outside its
scope, a revoked token is refused even when its answer is cached, and callers of the same scope each get their
own page tokens. Both backends, both transports."""

from __future__ import annotations

import grpc
import pytest
from yandex.cloud.containerregistry.v1 import image_service_pb2

from crscan.auth import Role, SqlTokenRepository, TokenService
from tests.auth.conftest import FOLDER, Failure, issue, start_auth_api
from tests.support.postgres import backend_url

CR = "/yandex.cloud.containerregistry.v1."


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cached_api(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("cached")
    yield from start_auth_api(directory / "data", backend_url(request, directory))


@pytest.fixture(params=["grpc", "rest"])
def transport(request):
    return request.param


def test_a_cached_answer_never_reaches_a_caller_outside_its_scope(cached_api, transport):
    world = cached_api.world
    admin = cached_api.caller(transport, world.tokens["admin"])
    beta_only = cached_api.caller(transport, world.tokens["scoped_other"])
    get = image_service_pb2.GetImageRequest(image_id=world.alpha_image)
    listing = image_service_pb2.ListImagesRequest(folder_id=FOLDER)
    for _ in range(2):  # the second answer comes from the cache
        assert admin(CR + "ImageService/Get", get).id == world.alpha_image
        every = {image.id for image in admin(CR + "ImageService/List", listing).images}
    assert {world.alpha_image, world.beta_image} <= every

    with pytest.raises(Failure) as caught:
        beta_only(CR + "ImageService/Get", get)
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    seen = {image.id for image in beta_only(CR + "ImageService/List", listing).images}
    assert world.beta_image in seen and world.alpha_image not in seen


def test_a_revoked_token_is_refused_even_when_its_answer_is_cached(cached_api, transport):
    world = cached_api.world
    service = TokenService(SqlTokenRepository(cached_api.store))
    secret = issue(service, Role.VIEWER)
    call = cached_api.caller(transport, secret)
    get = image_service_pb2.GetImageRequest(image_id=world.beta_image)
    for _ in range(2):
        assert call(CR + "ImageService/Get", get).id == world.beta_image
    service.revoke(secret.partition(".")[0])
    with pytest.raises(Failure) as caught:
        call(CR + "ImageService/Get", get)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_callers_of_one_scope_each_get_their_own_page_tokens(cached_api, transport):
    service = TokenService(SqlTokenRepository(cached_api.store))
    first, second = (cached_api.caller(transport, issue(service, Role.VIEWER)) for _ in range(2))
    request = image_service_pb2.ListImagesRequest(folder_id=FOLDER, page_size=1)
    first_page = first(CR + "ImageService/List", request)
    assert first(CR + "ImageService/List", request) == first_page  # cached
    second_page = second(CR + "ImageService/List", request)
    assert second_page.images == first_page.images
    assert second_page.next_page_token != first_page.next_page_token
    for caller, page in ((first, first_page), (second, second_page)):
        following = image_service_pb2.ListImagesRequest(folder_id=FOLDER, page_size=1, page_token=page.next_page_token)
        assert caller(CR + "ImageService/List", following).images[0].id != page.images[0].id
    with pytest.raises(Failure) as caught:
        second(CR + "ImageService/List", image_service_pb2.ListImagesRequest(
            folder_id=FOLDER, page_size=1, page_token=first_page.next_page_token))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
