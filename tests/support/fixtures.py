"""Session fixtures for the local OCI registry and the real test images (see tests/support/images.py)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.support.images import TestImage, build_test_images
from tests.support.registry import FaultProxy, RunningRegistry, skopeo_copy, start_registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"

# name in `test_images` → (layout image, repository, tag, skopeo --format, --all, media type as pushed)
PUSHES = {
    "bookworm": ("bookworm", "test/bookworm", "1", "", False, OCI_MANIFEST),
    "bullseye": ("bullseye", "test/bullseye", "1", "v2s2", False, DOCKER_MANIFEST),
    "arm64": ("arm64", "test/arm64", "1", "", False, OCI_MANIFEST),
    "multi": ("multi", "test/multi", "1", "", True, OCI_INDEX),
    "multi-docker": ("multi", "test/multi", "docker", "v2s2", True, DOCKER_MANIFEST_LIST),
}


@pytest.fixture(scope="session")
def built_images() -> dict[str, TestImage]:
    """The test images as built (cached across runs), not yet in any registry."""
    return build_test_images()


@pytest.fixture(scope="session")
def local_registry():
    """A plain (anonymous, HTTP) registry on loopback; it also accepts Docker schema 1 pushes."""
    registry = start_registry(schema1=True)
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def auth_registry():
    """A registry with htpasswd Basic auth; credentials in `.username` / `.password`."""
    registry = start_registry("htpasswd")
    yield registry
    registry.stop()


@pytest.fixture(scope="session")
def token_registry():
    """A registry with token auth; its `.token_server` issues RS256 JWTs to `.username` / `.password`."""
    registry = start_registry("token")
    yield registry
    registry.stop()


@pytest.fixture
def scratch_registry():
    """A fresh plain registry for one test, e.g. one that tampers with the blob store."""
    registry = start_registry()
    yield registry
    registry.stop()


@pytest.fixture
def fault_proxy(local_registry: RunningRegistry):
    """A forwarding proxy in front of `local_registry`; tests add faults to it."""
    proxy = FaultProxy(local_registry.url).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def test_images(built_images: dict[str, TestImage], local_registry: RunningRegistry) -> dict[str, TestImage]:
    """Every test image pushed to `local_registry` once per session, with tag and digest references."""
    pushed = {}
    for name, (source, repository, tag, format, all_images, media_type) in PUSHES.items():
        image = built_images[source]
        digest = skopeo_copy(image.oci_ref, f"docker://{local_registry.host}/{repository}:{tag}",
                             format=format, all_images=all_images)
        pushed[name] = dataclasses.replace(
            image, name=name, repository=repository,
            tag_ref=f"{local_registry.host}/{repository}:{tag}",
            digest_ref=f"{local_registry.host}/{repository}@{digest}",
            pushed_digest=digest, pushed_media_type=media_type,
        )
    return pushed
