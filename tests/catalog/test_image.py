"""catalog_image: every cataloger over one image's files, OS packages owning language metadata reported once."""

from __future__ import annotations

from pathlib import Path

from crscan.catalog import catalog_image, catalog_version, default_catalogers, merge_packages, wants_any
from crscan.catalog.interface import Cataloger, CatalogResult
from crscan.model import Distro, Ecosystem, Package
from tests.catalog.helpers import file, image_files

CATALOG_TESTS = Path(__file__).parent


def merged_tree(*ecosystems: str) -> dict:
    files = {}
    for ecosystem in ecosystems:
        files.update(image_files(CATALOG_TESTS / ecosystem / "testdata"))
    return files


def test_debian_python_metadata_is_reported_as_the_dpkg_package():
    files = merged_tree("dpkg", "python")  # dpkg's testdata ships PyYAML's dist-info, owned by python3-yaml
    inventory = catalog_image(files)
    assert inventory.distro == Distro("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)")
    names = {(p.ecosystem, p.name) for p in inventory.packages}
    assert (Ecosystem.DPKG, "python3-yaml") in names
    assert (Ecosystem.PYPI, "pyyaml") not in names
    # metadata no OS package owns (pip-installed under /usr/local) is still reported
    assert (Ecosystem.PYPI, "markupsafe") in names


def test_unowned_pyyaml_is_reported_as_pypi():
    files = {p: f for p, f in merged_tree("dpkg").items() if not p.startswith("/var/lib/dpkg/info/python3-yaml")}
    pypi = [p for p in catalog_image(files).packages if p.ecosystem is Ecosystem.PYPI]
    assert [(p.name, p.version) for p in pypi] == [("pyyaml", "6.0")]


def test_every_ecosystem_in_one_image():
    ecosystems = ("dpkg", "python", "node", "java", "ruby", "rust", "php", "dotnet")
    inventory = catalog_image(merged_tree(*ecosystems))
    assert inventory.warnings == ()
    found = {p.ecosystem for p in inventory.packages}
    assert found == {Ecosystem.DPKG, Ecosystem.PYPI, Ecosystem.NPM, Ecosystem.MAVEN, Ecosystem.GEM, Ecosystem.CARGO,
                     Ecosystem.COMPOSER, Ecosystem.NUGET}
    keys = [(p.ecosystem, p.name, p.version, p.path) for p in inventory.packages]
    assert len(keys) == len(set(keys))


def test_a_failing_cataloger_is_a_warning_not_a_lost_image():
    class Broken(Cataloger):
        name, version, globs = "broken", 1, ("/**/*",)

        def catalog(self, files, distro=None) -> CatalogResult:
            raise RuntimeError("bug")

    inventory = catalog_image(merged_tree("apk"), [Broken(), *default_catalogers()])
    assert inventory.warnings == ("cataloger broken failed: RuntimeError: bug",)
    assert {p.name for p in inventory.packages} == {"bash", "busybox-binsh", "musl", "readline"}


def test_wants_any_is_the_union():
    catalogers = default_catalogers()
    assert wants_any(catalogers, "/etc/os-release", 0o644, 100)
    assert wants_any(catalogers, "/var/lib/dpkg/status", 0o644, 100)
    assert wants_any(catalogers, "/usr/local/bin/app", 0o755, 2_000_000)
    assert not wants_any(catalogers, "/usr/share/doc/README", 0o644, 100)
    assert not wants_any(catalogers, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0o644, 2_000_000)
    names = [c.name for c in catalogers]
    assert len(names) == len(set(names)) and all(isinstance(c.version, int) for c in catalogers)


def test_empty_image():
    inventory = catalog_image({"/hello": file("/hello", b"static binary", mode=0o755)})
    assert inventory.distro is None and inventory.packages == () and inventory.warnings == ()


def test_catalog_version_names_every_cataloger_and_changes_with_a_bump():
    catalogers = default_catalogers()
    version = catalog_version(catalogers)
    assert version.split(",") == sorted(f"{c.name}={c.version}" for c in catalogers)
    assert "dpkg=1" in version.split(",")

    class BumpedDpkg(type(catalogers[0])):
        version = catalogers[0].version + 1

    assert catalog_version([BumpedDpkg(), *catalogers[1:]]) != version


def test_merge_packages_applies_ownership_and_uniqueness_to_any_iterable():
    meta = "/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA"
    dpkg = Package(Ecosystem.DPKG, "python3-yaml", "6.0-3+b2", path="/var/lib/dpkg/status",
                   files=("/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info",))
    owned = Package(Ecosystem.PYPI, "pyyaml", "6.0", path=meta)
    free = Package(Ecosystem.PYPI, "six", "1.16.0", path="/usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA")
    merged = merge_packages(iter([owned, free, dpkg, free]))
    assert merged == (dpkg, free)
