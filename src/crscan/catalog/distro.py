"""Which operating system an image is built on, from its release files."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from crscan.model import DISTROS, Distro, ImageFile

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
# Older or minimal images carry only a vendor file; the first one found wins, so the files of
# distributions built on another (Rocky, Alma, Oracle and Amazon also ship /etc/redhat-release or
# /etc/system-release; Ubuntu ships /etc/debian_version) come before that other's.
RELEASE_FILES = {
    "/etc/alpine-release": "alpine",
    "/etc/rocky-release": "rocky",
    "/etc/almalinux-release": "almalinux",
    "/etc/centos-release": "centos",
    "/etc/fedora-release": "fedora",
    "/etc/oracle-release": "ol",
    "/etc/system-release": "amzn",
    "/etc/redhat-release": "rhel",
    "/etc/photon-release": "photon",
    "/etc/SuSE-release": "sles",
    "/etc/azurelinux-release": "azurelinux",
    "/etc/mariner-release": "mariner",
    "/etc/lsb-release": "ubuntu",
    "/etc/debian_version": "debian",
}
DISTRO_GLOBS = OS_RELEASE_PATHS + tuple(RELEASE_FILES)

_REDHAT_LINE = re.compile(r"^(?P<name>.+?) release (?P<version>[0-9][0-9.]*)(?: \((?P<codename>[^)]*)\))?")
# "VMware Photon OS 4.0", "CBL-Mariner 2.0.20230630", "Microsoft Azure Linux 3.0.20240727"
_NAME_VERSION_LINE = re.compile(r"^(?P<name>.+?) (?P<version>[0-9][0-9.]*)\s*$")
_PARENTHESIZED = re.compile(r"\(([^)]*)\)")


def parse_os_release(data: bytes) -> dict[str, str]:
    """KEY=value lines with shell quoting (os-release(5)); malformed lines are skipped."""
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw)
        except ValueError:
            words = [raw.strip("\"'")]
        fields[key.strip()] = " ".join(words)
    return fields


def debian_codename(debian_version: str) -> str:
    """'12.4' → bookworm, '11' → bullseye; 'bookworm/sid' (testing) → bookworm."""
    text = debian_version.strip()
    if "/" in text:
        return text.split("/", 1)[0]
    return DISTROS["debian"].codename(text)


def detect_distro(files: Mapping[str, ImageFile]) -> Distro | None:
    """The image's distro, or None when it has no release file (scratch, distroless static without one)."""
    release = next((parse_os_release(files[p].data) for p in OS_RELEASE_PATHS if p in files), None)
    if release and release.get("ID"):
        return _from_os_release(release, _first_line(files, "/etc/debian_version"))
    for path, distro_id in RELEASE_FILES.items():
        if path in files:
            found = _from_vendor_file(distro_id, files[path].data.decode("utf-8", "replace"))
            if found is not None:
                return found
    return None


def _from_os_release(release: Mapping[str, str], debian_version: str) -> Distro:
    distro_id = release["ID"].lower()
    version_id = release.get("VERSION_ID", "")
    codename = release.get("VERSION_CODENAME", "")
    name = release.get("NAME", "")
    if distro_id == "debian" and debian_version:
        codename = codename or debian_codename(debian_version)
        if not version_id and debian_version[:1].isdigit():
            version_id = debian_version.split(".", 1)[0]
    elif distro_id == "debian" and version_id and not codename:
        codename = DISTROS["debian"].codenames.get(version_id, "")  # as written: "12.4" names no release
    elif distro_id == "centos" and "stream" in name.lower():
        distro_id = "centos-stream"  # its own rolling-ahead distribution, not CentOS Linux
    elif distro_id == "openeuler":
        # Feeds name the long-term release with its service pack: VERSION "22.03 (LTS-SP1)" -> "22.03-LTS-SP1".
        qualifier = _PARENTHESIZED.search(release.get("VERSION", ""))
        if version_id and qualifier:
            version_id = f"{version_id}-{qualifier.group(1).strip().replace(' ', '-')}"
    return Distro(distro_id, version_id, codename, release.get("PRETTY_NAME", ""))


def _from_vendor_file(distro_id: str, text: str) -> Distro | None:
    lines = text.strip().splitlines()
    first = lines[0].strip() if lines else ""
    if distro_id == "alpine":
        return Distro("alpine", first, "", f"Alpine Linux v{first}" if first else "Alpine Linux")
    if distro_id == "debian":
        codename = debian_codename(first)
        version_id = first.split(".", 1)[0] if first[:1].isdigit() else ""
        return Distro("debian", version_id, codename, f"Debian GNU/Linux {version_id} ({codename})".strip())
    if distro_id == "ubuntu":  # /etc/lsb-release: DISTRIB_ID=Ubuntu, DISTRIB_RELEASE=22.04, DISTRIB_CODENAME=jammy
        fields = parse_os_release(text.encode())
        if fields.get("DISTRIB_ID", "").lower() != "ubuntu":
            return None  # Azure Linux and others ship an lsb-release too; their own file decides
        return Distro("ubuntu", fields.get("DISTRIB_RELEASE", ""), fields.get("DISTRIB_CODENAME", ""),
                      fields.get("DISTRIB_DESCRIPTION", ""))
    if distro_id == "sles":  # "SUSE Linux Enterprise Server 12 (x86_64)" / "VERSION = 12" / "PATCHLEVEL = 5"
        fields = {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in lines[1:])}
        version = fields.get("VERSION", "")
        patch = fields.get("PATCHLEVEL", "")
        sles_id = "opensuse-leap" if first.lower().startswith("opensuse") else "sles"
        return Distro(sles_id, f"{version}.{patch}" if version and patch and sles_id == "sles" else version, "", first)
    match = _REDHAT_LINE.match(first) or _NAME_VERSION_LINE.match(first)
    if match is None:
        return None
    codename = match.groupdict().get("codename") or ""
    return Distro(_vendor_id(match["name"], distro_id), match["version"], codename, first)


def _first_line(files: Mapping[str, ImageFile], path: str) -> str:
    return files[path].data.decode("utf-8", "replace").strip() if path in files else ""


def _vendor_id(name: str, default: str) -> str:
    # /etc/redhat-release is also present on CentOS, Rocky and Alma; the text says which.
    lowered = name.lower()
    for needle, distro_id in (("centos stream", "centos-stream"), ("centos", "centos"), ("rocky", "rocky"),
                              ("alma", "almalinux"), ("fedora", "fedora"), ("oracle", "ol"), ("amazon", "amzn"),
                              ("red hat", "rhel"), ("photon", "photon"), ("mariner", "mariner"),
                              ("azure linux", "azurelinux")):
        if needle in lowered:
            return distro_id
    return default
