"""Registry image references `host[:port]/repo[:tag|@sha256:…]`, parsed and validated like distribution's
`reference` package (same grammar and normalisation: a reference without a registry host is on Docker Hub,
`alpine:3.19` → `docker.io/library/alpine:3.19`, `user/app` → `docker.io/user/app`)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from crscan.registry.digest import validate_digest
from crscan.registry.interface import InvalidReference

_HOST = re.compile(
    r"^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
    r"|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$"
)
# Matched with fullmatch: `$` would accept a trailing newline. ASCII only, as distribution's grammar says.
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_MAX_NAME = 255
DEFAULT_TAG = "latest"
DOCKER_HUB = "docker.io"
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"  # where docker.io's registry API answers
_DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", DOCKER_HUB_ENDPOINT})
_OFFICIAL_NAMESPACE = "library"  # Docker Hub's official images: `alpine` is `library/alpine`


@dataclass(frozen=True)
class ImageReference:
    registry: str  # host[:port]
    repository: str  # path inside the registry: "project/app"
    tag: str = ""
    digest: str = ""

    @property
    def reference(self) -> str:
        """What to ask the registry's manifest endpoint for: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def validate_repository(repository: object) -> str:
    if not isinstance(repository, str) or not repository:
        raise InvalidReference("empty repository name")
    if len(repository) > _MAX_NAME:
        raise InvalidReference(f"repository name {repository[:100]!r}… is longer than {_MAX_NAME} characters")
    for component in repository.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            raise InvalidReference(
                f"invalid repository name {repository!r}: component {component!r} must be lowercase letters and "
                "digits separated by '.', '_', '__' or '-'"
            )
    return repository


def validate_tag(tag: object) -> str:
    """A tag as distribution's grammar allows it: up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'."""
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        shown = repr(tag[:100]) + ("…" if len(tag) > 100 else "") if isinstance(tag, str) else type(tag).__name__
        raise InvalidReference(f"invalid tag {shown}: up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'")
    return tag


def parse_reference(text: str) -> ImageReference:
    """Parse `host[:port]/repo[:tag][@digest]`; every malformed part is named in the InvalidReference."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidReference("empty image reference")
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidReference(f"invalid image reference {text!r}: contains whitespace")
    rest, digest = text, ""
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        validate_digest(digest)
    first = rest.split("/", 1)[0]
    if "/" not in rest or not _looks_like_host(first):
        if not rest:
            raise InvalidReference(f"invalid image reference {text!r}: expected [host[:port]/]repository[:tag|@digest]")
        rest = f"{DOCKER_HUB}/{rest if '/' in rest else f'{_OFFICIAL_NAMESPACE}/{rest}'}"
    registry, path = rest.split("/", 1)
    if registry in _DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"{_OFFICIAL_NAMESPACE}/{path}"
    tag = ""
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        validate_tag(tag)
    if not _looks_like_host(registry):
        raise InvalidReference(
            f"invalid image reference {text!r}: {registry!r} is not a registry host; write host[:port]/repository"
        )
    if not is_valid_registry(registry):
        raise InvalidReference(f"invalid registry host {registry!r} in {text!r}")
    port = registry.rsplit(":", 1)[1] if ":" in registry and not registry.endswith("]") else ""
    if port and not 0 < int(port) < 65536:
        raise InvalidReference(f"invalid port {port} in {text!r}")
    validate_repository(path)
    return ImageReference(registry=registry, repository=path, tag=tag, digest=digest)


def is_valid_registry(registry: str) -> bool:
    """`host[:port]` with a DNS name, IPv4 address or bracketed IPv6 address."""
    return isinstance(registry, str) and bool(_HOST.fullmatch(registry))


def registry_endpoint(registry: str) -> str:
    """The `host[:port]` serving `registry`'s API: Docker Hub's name is not its API host."""
    return DOCKER_HUB_ENDPOINT if registry == DOCKER_HUB else registry


def registry_host(registry: str) -> str:
    """The host part of `host[:port]` ("[::1]" keeps its brackets)."""
    return registry if registry.endswith("]") else registry.rsplit(":", 1)[0]


def _looks_like_host(component: str) -> bool:
    """distribution's rule: a first component with '.' or ':' (or 'localhost') is a registry host."""
    return "." in component or ":" in component or component == "localhost" or component.startswith("[")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
