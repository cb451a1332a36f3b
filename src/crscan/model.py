"""Plain data shared by every stage of the pipeline.

Nothing here imports from the rest of crscan; every other package may import this module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """The API's six severity levels; values equal the proto's `Vulnerability.Severity` numbers."""

    CRITICAL = 1
    HIGH = 2
    MEDIUM = 3
    LOW = 4
    NEGLIGIBLE = 5
    UNDEFINED = 6


class Ecosystem(str, enum.Enum):
    """Package ecosystems; the value is the `PackageVulnerability.source` name the API reports."""

    DPKG = "dpkg"
    APK = "apk"
    RPM = "rpm"
    PYPI = "pip"
    NPM = "npm"
    GO = "gomod"
    CARGO = "cargo"
    MAVEN = "maven"
    GEM = "gem"
    COMPOSER = "composer"
    NUGET = "nuget"

    @property
    def is_os(self) -> bool:
        return self in (Ecosystem.DPKG, Ecosystem.APK, Ecosystem.RPM)


@dataclass(frozen=True)
class LayerRef:
    """A layer as the manifest (digest, compressed) and the config (diff_id, uncompressed) name it."""

    digest: str
    diff_id: str


@dataclass(frozen=True)
class Distro:
    """The operating system an image is built on, as detected from its release files."""

    id: str  # os-release ID: debian, ubuntu, alpine, rhel, centos, rocky, almalinux, fedora, ...
    version_id: str = ""  # "12", "3.18.4", "9.3"
    codename: str = ""  # "bookworm" (Debian codename derived from the version when os-release lacks it)
    pretty_name: str = ""


@dataclass(frozen=True)
class Package:
    """One installed package found in an image."""

    ecosystem: Ecosystem
    name: str
    version: str
    purl: str = ""
    arch: str = ""
    source_name: str = ""  # OS packages: the source package advisories are keyed by
    source_version: str = ""
    path: str = ""  # where in the image it was found (status file, METADATA, package.json, binary)
    layer: LayerRef | None = None  # the layer that introduced it
    files: tuple[str, ...] = field(default=(), compare=False)  # OS packages: files they own (dedup of lang pkgs)


@dataclass(frozen=True)
class Finding:
    """One (package, vulnerability) pair; maps onto the API's Vulnerability/PackageVulnerability."""

    name: str  # CVE id when the advisory has one, else the advisory id
    advisory_id: str  # the id in the feed it came from (GHSA-…, PYSEC-…, DSA-…, CVE-…)
    link: str
    package: str
    source: str  # Ecosystem value: dpkg, apk, pip, …
    version: str
    fixed_by: str  # empty when no fix is known
    origin: str  # "os" or "lang"
    type: str  # OS name when origin == "os" (debian, alpine, …), else package type (python, node, gobinary, jar, …)
    severity: Severity
    severity_source: str  # where the rating came from: "debian", "ghsa", "cvss_v3", "none", …
    feed: str = ""  # osv, debian, alpine
    layer: LayerRef | None = None
    path: str = ""


@dataclass(frozen=True)
class ImageFile:
    """A file picked from an image's final filesystem, with the layer that last wrote it.

    `path` is absolute inside the image ("/var/lib/dpkg/status"); `data` is bounded by the reader's
    single-file limit.
    """

    path: str
    data: bytes
    layer: LayerRef | None = None
    mode: int = 0o644


@dataclass(frozen=True)
class ScanReport:
    """Everything one scan of one image produced: what the CLI renders and the service stores."""

    image: str  # the reference the user gave (registry ref, docker-archive:PATH, oci:PATH)
    digest: str  # resolved manifest digest
    distro: Distro | None
    packages: tuple[Package, ...]
    findings: tuple[Finding, ...]
    warnings: tuple[str, ...] = ()
    feed_build_id: str = ""
    layers: tuple[LayerRef, ...] = ()
