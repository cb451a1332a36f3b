"""Plain data shared by every stage of the pipeline.

Nothing here imports from the rest of crscan; every other package may import this module.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """The API's six severity levels; values equal the proto's `Vulnerability.Severity` numbers."""

    CRITICAL = 1
    HIGH = 2
    MEDIUM = 3
    LOW = 4
    NEGLIGIBLE = 5
    UNDEFINED = 6


@dataclass(frozen=True)
class EcosystemFacts:
    """What crscan knows about a package ecosystem, kept in this one table (see `Ecosystem`)."""

    scheme: str  # the `crscan.versions` scheme its versions compare by
    is_os: bool = False  # OS packages: advisories are keyed by source package and distro release
    osv: str = ""  # OSV's ecosystem name for language packages; OS packages take their distro's (`DistroFacts.osv`)
    package_type: str = ""  # the API's `type` of a language package's findings (OS findings name the distro)


class Ecosystem(str, enum.Enum):
    """Package ecosystems; the value is the `PackageVulnerability.source` name the API reports.

    Each member carries its `EcosystemFacts`; a new ecosystem is one line here (plus its cataloger).
    """

    facts: EcosystemFacts

    def __new__(cls, value: str, facts: EcosystemFacts) -> Ecosystem:
        member = str.__new__(cls, value)
        member._value_ = value
        member.facts = facts
        return member

    DPKG = "dpkg", EcosystemFacts("deb", is_os=True)
    APK = "apk", EcosystemFacts("apk", is_os=True)
    RPM = "rpm", EcosystemFacts("rpm", is_os=True)
    PYPI = "pip", EcosystemFacts("pypi", osv="PyPI", package_type="python")
    NPM = "npm", EcosystemFacts("semver", osv="npm", package_type="node")
    GO = "gomod", EcosystemFacts("go", osv="Go", package_type="gobinary")
    CARGO = "cargo", EcosystemFacts("semver", osv="crates.io", package_type="rust")
    MAVEN = "maven", EcosystemFacts("maven", osv="Maven", package_type="jar")
    GEM = "gem", EcosystemFacts("rubygems", osv="RubyGems", package_type="gem")
    COMPOSER = "composer", EcosystemFacts("composer", osv="Packagist", package_type="php")
    NUGET = "nuget", EcosystemFacts("nuget", osv="NuGet", package_type="dotnet")

    @property
    def is_os(self) -> bool:
        return self.facts.is_os


class ReleaseKey(enum.Enum):
    """How a feed names a distro release, derived from os-release's VERSION_ID."""

    MAJOR = "major"  # "12.4" -> "12" (Debian)
    VERSION = "version"  # "22.04" as is (Ubuntu)
    V_MAJOR_MINOR = "v-major.minor"  # "3.18.4" -> "v3.18" (Alpine); "" unless both parts are numbers

    def of(self, version_id: str) -> str:
        """The release's name in this form; "" when VERSION_ID does not have it."""
        if not version_id:
            return ""
        if self is ReleaseKey.MAJOR:
            return version_id.split(".")[0]
        if self is ReleaseKey.VERSION:
            return version_id
        parts = version_id.split(".")
        return f"v{parts[0]}.{parts[1]}" if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() else ""


@dataclass(frozen=True)
class DistroFacts:
    """What crscan knows about a distribution (by os-release ID), kept in the one table `DISTROS`."""

    ecosystem: Ecosystem  # its package manager: the packages its feeds rate
    osv: str  # OSV's ecosystem prefix, the release appended: "Debian" -> "Debian:12"
    osv_release: ReleaseKey
    # Major version -> codename, for images whose os-release lacks VERSION_CODENAME (trackers key by it).
    codenames: Mapping[str, str] = field(default_factory=dict)

    def codename(self, version: str) -> str:
        """The codename of a release by its version ("12", "12.4"); "" when unknown."""
        return self.codenames.get(version.split(".")[0], "")


# os-release ID -> facts; a distro missing here gets no distro-feed or OSV distro matching.
DISTROS: Mapping[str, DistroFacts] = {
    "debian": DistroFacts(Ecosystem.DPKG, "Debian", ReleaseKey.MAJOR, {
        "7": "wheezy", "8": "jessie", "9": "stretch", "10": "buster", "11": "bullseye", "12": "bookworm",
        "13": "trixie", "14": "forky",
    }),
    "alpine": DistroFacts(Ecosystem.APK, "Alpine", ReleaseKey.V_MAJOR_MINOR),
    "ubuntu": DistroFacts(Ecosystem.DPKG, "Ubuntu", ReleaseKey.VERSION),
}


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

    @property
    def facts(self) -> DistroFacts | None:
        return DISTROS.get(self.id)


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
