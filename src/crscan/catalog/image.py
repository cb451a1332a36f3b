"""Run every cataloger over an image's files and merge what they find into one inventory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from crscan.catalog.catalogers import default_catalogers
from crscan.catalog.distro import DISTRO_GLOBS, detect_distro
from crscan.catalog.interface import Cataloger, FileCataloger, globs_regex
from crscan.model import Distro, ImageFile, Package


@dataclass(frozen=True)
class Inventory:
    distro: Distro | None
    packages: tuple[Package, ...]
    warnings: tuple[str, ...] = ()


def catalog_version(catalogers: Sequence[Cataloger] | None = None) -> str:
    """'apk=1,dotnet-deps=1,…': store it with a cached inventory; a cataloger bump invalidates the cache."""
    catalogers = default_catalogers() if catalogers is None else catalogers
    return ",".join(sorted(f"{c.name}={c.version}" for c in catalogers))


def split_catalogers(catalogers: Sequence[Cataloger]) -> tuple[tuple[FileCataloger, ...], tuple[Cataloger, ...]]:
    """(per-file, whole-view): per-file catalogers can run on each layer alone (their packages are cached with
    the layer's index); the others read the merged filesystem. The one place that decides which is which."""
    per_file = tuple(c for c in catalogers if isinstance(c, FileCataloger))
    return per_file, tuple(c for c in catalogers if not isinstance(c, FileCataloger))


_DISTRO_FILE = globs_regex(DISTRO_GLOBS).fullmatch


def wants_any(catalogers: Sequence[Cataloger], path: str, mode: int, size: int) -> bool:
    """The layer reader's file filter: keep a file if any cataloger (or distro detection) wants it."""
    return _DISTRO_FILE(path) is not None or any(c.wants(path, mode, size) for c in catalogers)


def catalog_image(files: Mapping[str, ImageFile], catalogers: Sequence[Cataloger] | None = None) -> Inventory:
    """Every package in the image, each reported once.

    A language package whose metadata file belongs to an OS package (Debian's python3-yaml ships
    PyYAML's egg-info) is the OS package's business: advisories for it are tracked by the distro.
    """
    catalogers = default_catalogers() if catalogers is None else catalogers
    distro = detect_distro(files)  # once per image, handed to every cataloger
    packages: list[Package] = []
    warnings: list[str] = []
    for cataloger in catalogers:
        selected = {p: f for p, f in files.items() if cataloger.wants(p, f.mode, len(f.data))}
        if not selected:
            continue
        try:
            result = cataloger.catalog(selected, distro)
        except Exception as exc:  # a cataloger bug must not lose the other ecosystems' packages
            warnings.append(f"cataloger {cataloger.name} failed: {type(exc).__name__}: {exc}")
            continue
        warnings.extend(result.warnings)
        packages.extend(result.packages)
    return Inventory(distro, merge_packages(packages), tuple(warnings))


def merge_packages(packages: Iterable[Package]) -> tuple[Package, ...]:
    """OS packages first, then language packages whose metadata no OS package owns; each reported once.
    For pipelines that gather packages themselves (per-layer caches) and need catalog_image's rules."""
    packages = list(packages)
    os_packages = [p for p in packages if p.ecosystem.is_os]
    owned = {path for package in os_packages for path in package.files}
    kept = [p for p in packages if not p.ecosystem.is_os and not _owned_by_os(p.path, owned)]
    return tuple(_unique(os_packages + kept))


def _owned_by_os(path: str, owned: set[str]) -> bool:
    if path in owned:
        return True
    # Python metadata: the package list may name only the *.dist-info / *.egg-info directory.
    parent = path.rsplit("/", 1)[0]
    return parent.endswith((".dist-info", ".egg-info")) and parent in owned


def _unique(packages: list[Package]) -> list[Package]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for package in packages:
        key = (package.ecosystem, package.name, package.version, package.arch, package.path)
        if key not in seen:
            seen.add(key)
            out.append(package)
    return out
