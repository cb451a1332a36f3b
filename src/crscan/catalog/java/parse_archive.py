"""Java archives (JAR, WAR, EAR, …): Maven coordinates from pom.properties, else from the manifest and
file name; nested archives to a bounded depth. Every read is bounded, so a zip bomb costs little."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass

from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import purl
from crscan.model import Ecosystem, Package

ARCHIVE_SUFFIXES = (".jar", ".war", ".ear", ".par", ".sar", ".jpi", ".hpi", ".kar", ".lpkg")
MAX_DEPTH = 3  # ear → war → jar is the deepest real nesting
MAX_METADATA = 256 * 1024  # a pom.properties or MANIFEST.MF; real ones are under 10 KiB
MAX_NESTED_ARCHIVE = 64 * 1024 * 1024
MAX_INFLATED_PER_IMAGE_FILE = 256 * 1024 * 1024  # all nested archives of one file together
MAX_ENTRIES = 200_000
_FILENAME = re.compile(r"^(?P<artifact>.+?)-(?P<version>\d[\w.+-]*?)(?:-(?:SNAPSHOT|sources|javadoc))?$")


@dataclass
class _Budget:
    inflated: int = 0


def maven_package(group: str, artifact: str, version: str, path: str) -> Package:
    name = f"{group}:{artifact}" if group else artifact
    return Package(Ecosystem.MAVEN, name, version, purl=purl("maven", artifact, version, group), path=path)


def parse_archive(data: bytes, path: str, warnings: list[str] | None = None) -> list[Package]:
    """Packages in the archive at `path` and in archives nested inside it. Nested archives that cannot
    be read become warnings (when a list is given); an unreadable outer archive raises CatalogError."""
    return _archive(data, path, 1, _Budget(), warnings if warnings is not None else [])


def _archive(data: bytes, path: str, depth: int, budget: _Budget, warnings: list[str]) -> list[Package]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error, NotImplementedError) as exc:
        raise CatalogError(f"{path}: not a readable zip archive: {exc}") from None
    if len(members) > MAX_ENTRIES:
        raise CatalogError(f"{path}: {len(members)} zip entries exceed the limit of {MAX_ENTRIES}")
    with archive:
        packages = _own_packages(archive, members, path)
        for member in members:
            if not member.filename.lower().endswith(ARCHIVE_SUFFIXES) or member.is_dir():
                continue
            # Below the archive's own path (as Trivy names them), so whatever later replaces or deletes the
            # archive in the image also covers what was found inside it.
            nested_path = f"{path}/{member.filename}"
            if depth >= MAX_DEPTH:
                warnings.append(f"{nested_path}: archive nested deeper than {MAX_DEPTH} levels not read")
                continue
            try:
                nested = _read(archive, member, min(MAX_NESTED_ARCHIVE, MAX_INFLATED_PER_IMAGE_FILE - budget.inflated),
                               nested_path)
                budget.inflated += len(nested)
                packages += _archive(nested, nested_path, depth + 1, budget, warnings)
            except CatalogError as exc:
                warnings.append(str(exc))
    return packages


def _own_packages(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], path: str) -> list[Package]:
    poms = [m for m in members if m.filename.startswith("META-INF/maven/") and m.filename.endswith("/pom.properties")]
    packages = []
    for member in poms:
        fields = _properties(_read(archive, member, MAX_METADATA, f"{path}/{member.filename}"))
        group, artifact, version = fields.get("groupId"), fields.get("artifactId"), fields.get("version")
        if group and artifact and version:
            packages.append(maven_package(group, artifact, version, path))
    if packages:
        return packages
    # No Maven metadata (Ant/Gradle builds): the manifest and the file name are all there is.
    manifest_member = next((m for m in members if m.filename.upper() == "META-INF/MANIFEST.MF"), None)
    manifest = _manifest(_read(archive, manifest_member, MAX_METADATA, f"{path}/META-INF/MANIFEST.MF")) \
        if manifest_member else {}
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    from_name = _FILENAME.match(stem)
    artifact = from_name["artifact"] if from_name else manifest.get("Implementation-Title", stem)
    version = manifest.get("Implementation-Version") or manifest.get("Bundle-Version") \
        or (from_name["version"] if from_name else "")
    if not version:
        return []
    return [maven_package(manifest.get("Implementation-Vendor-Id", ""), artifact, version, path)]


def _read(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int, where: str) -> bytes:
    """At most `limit` inflated bytes; the declared size is not trusted (a bomb can lie about it)."""
    if member.file_size > limit:
        raise CatalogError(f"{where}: declared size {member.file_size} exceeds the {limit}-byte limit")
    try:
        with archive.open(member) as stream:
            data = stream.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError, ValueError) as exc:
        raise CatalogError(f"{where}: cannot inflate: {exc}") from None
    if len(data) > limit:
        raise CatalogError(f"{where}: inflates beyond the {limit}-byte limit (zip bomb?)")
    return data


def _properties(data: bytes) -> dict[str, str]:
    fields = {}
    for line in data.decode("latin-1").splitlines():  # java.util.Properties files are ISO-8859-1
        line = line.strip()
        if line and line[0] not in "#!":
            key, _, value = line.partition("=")
            fields[key.strip()] = value.strip()
    return fields


def _manifest(data: bytes) -> dict[str, str]:
    """The main section of MANIFEST.MF; lines starting with a space continue the previous one."""
    fields: dict[str, str] = {}
    key = ""
    for line in data.decode("utf-8", "replace").splitlines():
        if not line:
            break  # end of the main section
        if line.startswith(" ") and key:
            fields[key] += line[1:]
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields
