"""Package URLs (github.com/package-url/purl-spec) for every ecosystem, built one way."""

from __future__ import annotations

from packageurl import PackageURL

from crscan.catalog.interface import CatalogError
from crscan.model import Distro


def purl(type_: str, name: str, version: str, namespace: str = "", **qualifiers: str) -> str:
    kept = {k: v for k, v in qualifiers.items() if v}
    try:
        return PackageURL(type=type_, namespace=namespace or None, name=name, version=version or None,
                          qualifiers=kept or None).to_string()
    except (ValueError, TypeError) as exc:  # e.g. a name the library normalises to nothing ("/", " ")
        raise CatalogError(f"package name {name!r} cannot form a package URL ({exc})") from None


def distro_qualifier(distro: Distro | None) -> str:
    """`distro=debian-12`, the form Syft and Trivy write."""
    if distro is None:
        return ""
    return f"{distro.id}-{distro.version_id}" if distro.version_id else distro.id
