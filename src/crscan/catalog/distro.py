"""Which operating system an image is built on, from its release files."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from crscan.model import DISTROS, Distro, ImageFile

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
# Older or minimal images carry only a vendor file; the first one found wins.
RELEASE_FILES = {
    "/etc/alpine-release": "alpine",
    "/etc/debian_version": "debian",
    "/etc/rocky-release": "rocky",
    "/etc/almalinux-release": "almalinux",
    "/etc/centos-release": "centos",
    "/etc/fedora-release": "fedora",
    "/etc/oracle-release": "ol",
    "/etc/redhat-release": "rhel",
    "/etc/system-release": "amzn",
}
DISTRO_GLOBS = OS_RELEASE_PATHS + tuple(RELEASE_FILES)

_REDHAT_LINE = re.compile(r"^(?P<name>.+?) release (?P<version>[0-9][0-9.]*)(?: \((?P<codename>[^)]*)\))?")


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
    """The image's distro, or None when it has no release file (scratch, distroless static)."""
    release = next((parse_os_release(files[p].data) for p in OS_RELEASE_PATHS if p in files), None)
    debian_version = files["/etc/debian_version"].data.decode("utf-8", "replace").strip() \
        if "/etc/debian_version" in files else ""
    if release and release.get("ID"):
        distro_id = release["ID"].lower()
        version_id = release.get("VERSION_ID", "")
        codename = release.get("VERSION_CODENAME", "")
        if distro_id == "debian" and debian_version:
            codename = codename or debian_codename(debian_version)
            if not version_id and debian_version[:1].isdigit():
                version_id = debian_version.split(".", 1)[0]
        elif distro_id == "debian" and version_id and not codename:
            codename = DISTROS["debian"].codenames.get(version_id, "")  # as written: "12.4" names no release
        return Distro(distro_id, version_id, codename, release.get("PRETTY_NAME", ""))
    for path, distro_id in RELEASE_FILES.items():
        if path not in files:
            continue
        text = files[path].data.decode("utf-8", "replace").strip().splitlines()
        first = text[0].strip() if text else ""
        if distro_id == "alpine":
            return Distro("alpine", first, "", f"Alpine Linux v{first}" if first else "Alpine Linux")
        if distro_id == "debian":
            codename = debian_codename(first)
            version_id = first.split(".", 1)[0] if first[:1].isdigit() else ""
            return Distro("debian", version_id, codename, f"Debian GNU/Linux {version_id} ({codename})".strip())
        match = _REDHAT_LINE.match(first)
        if match:
            return Distro(_vendor_id(match["name"], distro_id), match["version"], match["codename"] or "", first)
    return None


def _vendor_id(name: str, default: str) -> str:
    # /etc/redhat-release is also present on CentOS, Rocky and Alma; the text says which.
    lowered = name.lower()
    for needle, distro_id in (("centos", "centos"), ("rocky", "rocky"), ("alma", "almalinux"),
                              ("fedora", "fedora"), ("oracle", "ol"), ("amazon", "amzn"), ("red hat", "rhel")):
        if needle in lowered:
            return distro_id
    return default
