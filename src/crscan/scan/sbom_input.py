"""`crscan scan sbom:PATH`: the packages of an existing SBOM (CycloneDX 1.4–1.6 JSON or SPDX 2.3 JSON), as an
inventory to match, like `trivy sbom`.

Packages come from purls. crscan's own SBOMs carry `crscan:` properties (ecosystem, path, layer, source
package), which are used when present so that `crscan sbom IMAGE` then `crscan scan sbom:bom.json` matches
exactly as scanning the image does. OS packages need the distro: the SBOM's operating-system component
(CycloneDX) or package (SPDX), else the purls' `distro=` qualifier; without one the inventory says that OS
packages could not be matched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from crscan.catalog import Inventory
from crscan.catalog.python.parse_metadata import normalize_name
from crscan.model import Distro, Ecosystem, LayerRef, Package

# purl type → ecosystem; how crscan names a package of that type is in _name().
PURL_ECOSYSTEMS = {
    "deb": Ecosystem.DPKG, "apk": Ecosystem.APK, "rpm": Ecosystem.RPM, "pypi": Ecosystem.PYPI, "npm": Ecosystem.NPM,
    "golang": Ecosystem.GO, "cargo": Ecosystem.CARGO, "maven": Ecosystem.MAVEN, "gem": Ecosystem.GEM,
    "composer": Ecosystem.COMPOSER, "nuget": Ecosystem.NUGET,
}
MAX_SBOM_BYTES = 256 * 1024 * 1024


class SbomInputError(Exception):
    """The file is not an SBOM crscan reads; the message names the file and what is wrong."""


@dataclass(frozen=True)
class SbomInventory:
    """What an SBOM says: its subject (image name, digest), distro, packages, and warnings about what was left out."""

    subject: str
    digest: str
    inventory: Inventory


def read_sbom(path: Path) -> SbomInventory:
    if path.stat().st_size > MAX_SBOM_BYTES:
        raise SbomInputError(f"{path}: larger than {MAX_SBOM_BYTES // (1024 * 1024)} MiB")
    try:
        document = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SbomInputError(f"{path}: not JSON ({exc}); expected a CycloneDX or SPDX 2.3 JSON SBOM") from None
    except RecursionError:
        raise SbomInputError(f"{path}: JSON nested too deeply") from None
    return parse_sbom(document, str(path))


def parse_sbom(document: Any, where: str) -> SbomInventory:
    if isinstance(document, dict) and document.get("bomFormat") == "CycloneDX":
        spec = str(document.get("specVersion", ""))
        if spec not in ("1.4", "1.5", "1.6"):
            raise SbomInputError(f"{where}: CycloneDX {spec or '(no specVersion)'} is not supported (1.4–1.6)")
        return _from_cyclonedx(document, where)
    if isinstance(document, dict) and isinstance(document.get("spdxVersion"), str):
        if document["spdxVersion"] != "SPDX-2.3":
            raise SbomInputError(f"{where}: {document['spdxVersion']} is not supported (SPDX-2.3 JSON)")
        return _from_spdx(document, where)
    raise SbomInputError(f"{where}: neither a CycloneDX (bomFormat) nor an SPDX (spdxVersion) JSON document")


def _from_cyclonedx(document: dict[str, Any], where: str) -> SbomInventory:
    metadata: dict[str, Any] = document["metadata"] if isinstance(document.get("metadata"), dict) else {}
    subject: dict[str, Any] = metadata["component"] if isinstance(metadata.get("component"), dict) else {}
    components = list(_walk_components(document.get("components")))
    distro = next((Distro(str(c.get("name", "")), str(c.get("version", "")), "", str(c.get("description", "")))
                   for c in components if c.get("type") == "operating-system" and c.get("name")), None)
    packages, warnings = [], []
    for component in components:
        if component.get("type") == "operating-system":
            continue
        properties = {p.get("name"): p.get("value") for p in component.get("properties") or []
                      if isinstance(p, dict)}
        package = _package(str(component.get("purl") or ""), properties, str(component.get("name") or ""),
                           str(component.get("version") or ""), _cyclonedx_licenses(component))
        if package is None:
            warnings.append(f"{where}: component {component.get('bom-ref') or component.get('name')!r} "
                            "has no package URL crscan can match; skipped")
        else:
            packages.append(package)
    return _result(str(subject.get("name") or where), str(subject.get("version") or ""), distro, packages, warnings,
                   where)


def _walk_components(components: Any) -> Iterator[dict[str, Any]]:
    for component in components if isinstance(components, list) else []:
        if isinstance(component, dict):
            yield component
            yield from _walk_components(component.get("components"))


def _cyclonedx_licenses(component: dict[str, Any]) -> tuple[str, ...]:
    found = []
    for choice in component.get("licenses") or []:
        if not isinstance(choice, dict):
            continue
        license_: dict[str, Any] = choice["license"] if isinstance(choice.get("license"), dict) else {}
        text = choice.get("expression") or license_.get("id") or license_.get("name")
        if isinstance(text, str) and text:
            found.append(text)
    return tuple(found)


def _from_spdx(document: dict[str, Any], where: str) -> SbomInventory:
    packages, warnings = [], []
    distro, subject, digest = None, where, ""
    for entry in document.get("packages") or []:
        if not isinstance(entry, dict):
            continue
        purpose = entry.get("primaryPackagePurpose")
        if purpose == "OPERATING-SYSTEM" and distro is None and entry.get("name"):
            distro = Distro(str(entry["name"]), str(entry.get("versionInfo", "")), "", str(entry.get("description", "")))
            continue
        if purpose == "CONTAINER":
            subject, digest = str(entry.get("name") or where), str(entry.get("versionInfo") or "")
            continue
        purls = [r.get("referenceLocator") for r in entry.get("externalRefs") or []
                 if isinstance(r, dict) and r.get("referenceType") == "purl"]
        declared = entry.get("licenseDeclared")
        licenses = (declared,) if isinstance(declared, str) and declared not in ("NOASSERTION", "NONE", "") else ()
        package = _package(str(purls[0]) if purls else "", {}, str(entry.get("name") or ""),
                           str(entry.get("versionInfo") or ""), licenses)
        if package is None:
            warnings.append(f"{where}: package {entry.get('SPDXID') or entry.get('name')!r} has no package URL "
                            "crscan can match; skipped")
        else:
            packages.append(package)
    return _result(subject, digest, distro, packages, warnings, where)


def _package(purl_text: str, properties: dict[Any, Any], name: str, version: str,
             licenses: tuple[str, ...]) -> Package | None:
    try:
        purl = PackageURL.from_string(purl_text) if purl_text else None
    except ValueError:
        purl = None
    ecosystem = _ecosystem(properties.get("crscan:ecosystem")) or (PURL_ECOSYSTEMS.get(purl.type) if purl else None)
    if ecosystem is None or (purl is None and not properties.get("crscan:ecosystem")):
        return None
    qualifiers: dict[str, str] = dict(purl.qualifiers or {}) if purl else {}
    if not properties.get("crscan:ecosystem") or not name:
        assert purl is not None
        name = _name(ecosystem, purl)
        version = _version(ecosystem, purl, qualifiers)
    if not name or not version:
        return None
    arch = str(properties.get("crscan:arch") or qualifiers.get("arch", ""))
    upstream = qualifiers.get("upstream", "")
    source_name = str(properties.get("crscan:source_name") or upstream.split("@")[0] or (name if ecosystem.is_os else ""))
    source_version = str(properties.get("crscan:source_version") or (version if ecosystem.is_os else ""))
    digest, diff_id = properties.get("crscan:layer:digest"), properties.get("crscan:layer:diff_id")
    return Package(ecosystem, name, version, purl=purl.to_string() if purl else "", arch=arch,
                   source_name=source_name, source_version=source_version,
                   path=str(properties.get("crscan:path") or ""),
                   layer=LayerRef(str(digest), str(diff_id)) if digest and diff_id else None, licenses=licenses)


def _ecosystem(value: Any) -> Ecosystem | None:
    try:
        return Ecosystem(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _name(ecosystem: Ecosystem, purl: PackageURL) -> str:
    name, namespace = str(purl.name), str(purl.namespace or "")
    match ecosystem:
        case Ecosystem.PYPI:
            return normalize_name(name)
        case Ecosystem.MAVEN:
            return f"{namespace}:{name}" if namespace else name
        case Ecosystem.NPM | Ecosystem.GO | Ecosystem.COMPOSER:
            return f"{namespace}/{name}" if namespace else name
    return name  # OS packages: the namespace is the vendor (debian, alpine, redhat)


def _version(ecosystem: Ecosystem, purl: PackageURL, qualifiers: dict[str, str]) -> str:
    version = str(purl.version or "")
    epoch = qualifiers.get("epoch", "")
    if ecosystem in (Ecosystem.RPM, Ecosystem.DPKG) and epoch and version and ":" not in version:
        return f"{epoch}:{version}"
    return version


def _distro_from_purls(packages: list[Package]) -> Distro | None:
    """`distro=debian-12` / `distro=alpine-3.19.1` on an OS package's purl, as Syft and crscan write it."""
    for package in packages:
        if not package.ecosystem.is_os or "distro=" not in package.purl:
            continue
        qualifier = dict(PackageURL.from_string(package.purl).qualifiers or {}).get("distro", "")
        distro_id, _, version = str(qualifier).partition("-")
        if distro_id:
            return Distro(distro_id, version)
    return None


def _result(subject: str, digest: str, distro: Distro | None, packages: list[Package], warnings: list[str],
            where: str) -> SbomInventory:
    distro = distro or _distro_from_purls(packages)
    os_packages = sum(1 for p in packages if p.ecosystem.is_os)
    if distro is None and os_packages:
        warnings.append(f"{where}: names no operating system (no OS component, no distro= purl qualifier): "
                        f"{os_packages} OS packages could not be matched")
    if not packages:
        warnings.append(f"{where}: no package with a package URL crscan can match")
    return SbomInventory(subject, digest, Inventory(distro, tuple(packages), tuple(warnings)))
