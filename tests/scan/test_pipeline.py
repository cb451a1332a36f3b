"""The scan pipeline on the real test images: pulled from the local registry, read, cataloged, matched."""

from __future__ import annotations

import io
import tarfile

import pytest

from crscan.catalog import catalog_image, default_catalogers, wants_any
from crscan.layers import LayerError, Select, read_image
from crscan.model import Ecosystem, LayerRef
from crscan.registry import ByteCounter, open_source
from crscan.scan.cache import DirectoryCache
from crscan.scan.layer_index import cache_key, decode, encode, index_layer
from crscan.scan.pipeline import Scanner, index_layers
from crscan.versions import compare

pytestmark = pytest.mark.registry


def _package_set(packages):
    return {(p.ecosystem, p.name, p.version, p.path, p.layer) for p in packages}


@pytest.mark.parametrize("name", ["bookworm", "bullseye"])
def test_assembled_inventory_equals_cataloging_the_merged_filesystem(test_images, name):
    """Per-layer indexes put back together must see exactly what reading the whole image at once sees."""
    catalogers = default_catalogers()
    image = test_images[name]
    with open_source(image.tag_ref) as source:
        indexes = index_layers(source, catalogers)
        assembled = Scanner(catalogers).assemble(indexes)
    with open_source(image.tag_ref) as source:
        select = Select(predicates=[lambda p, m, s: wants_any(catalogers, p, m, s)])
        files = read_image(((layer.ref, source.open_layer(layer)) for layer in source.layers), select)
        direct = catalog_image(files, catalogers)
    assert assembled.distro == direct.distro
    assert _package_set(assembled.packages) == _package_set(direct.packages)
    assert len(assembled.packages) > 100


def test_scan_reports_the_vulnerable_language_packages_and_only_what_survives(test_images, feed_db):
    image = test_images["bookworm"]
    with open_source(image.tag_ref) as source:
        report = Scanner().scan(source, feed_db)
    assert report.digest == image.pushed_digest
    assert report.distro.codename == "bookworm"
    assert report.feed_build_id == feed_db.build_id
    names = {(p.ecosystem, p.name.lower()) for p in report.packages}
    assert (Ecosystem.PYPI, image.deleted_python_package.lower()) not in names
    assert (Ecosystem.DPKG, image.purged_dpkg_package) not in names

    python_stage = next(s.layer for s in image.stages if s.name == "python")
    npm_stage = next(s.layer for s in image.stages if s.name == "npm")
    django = [f for f in report.findings if f.package == "django"]
    # Django 3.2 had its first security release in 3.2.1: every finding's fix is newer than what is installed.
    assert django and all(compare("pypi", f.fixed_by, f.version) > 0 for f in django if f.fixed_by)
    assert "CVE-2021-33203" in {f.name for f in django}
    assert all(f.layer == python_stage and f.origin == "lang" and f.type == "python-pkg" for f in django)
    lodash = [f for f in report.findings if f.package == "lodash"]
    assert "CVE-2018-3721" in {f.name for f in lodash}
    assert all(f.layer == npm_stage and f.source == "npm" for f in lodash)
    # Every finding belongs to a package of the inventory, at the version installed.
    inventory = {(p.ecosystem.value, p.name, p.version) for p in report.packages}
    assert all((f.source, f.package, f.version) in inventory for f in report.findings)


def test_cached_layers_are_not_pulled_again(test_images, feed_db, tmp_path):
    image = test_images["bullseye"]
    cache = DirectoryCache(tmp_path / "cache")
    first, second = ByteCounter(), ByteCounter()
    scanner = Scanner()
    with open_source(image.tag_ref, counter=first) as source:
        cold = scanner.scan(source, feed_db, cache=cache)
    with open_source(image.tag_ref, counter=second) as source:
        warm = scanner.scan(source, feed_db, cache=cache)
    layer_bytes = sum(layer.size for layer in source.layers)
    assert first.total >= layer_bytes
    assert second.total < first.total - layer_bytes + 1  # manifest and config only
    assert _package_set(warm.packages) == _package_set(cold.packages)
    assert warm.findings == cold.findings


def test_layer_index_survives_encoding(test_images):
    catalogers = default_catalogers()
    with open_source(test_images["bookworm"].oci_ref) as source:
        layer = source.layers[0]
        index = index_layer(layer.ref, source.open_layer(layer), catalogers)
    again = decode(encode(index))
    assert again.packages == index.packages
    assert dict(again.contents.files) == dict(index.contents.files)
    assert again.contents.shadow.to_dict() == index.contents.shadow.to_dict()
    assert "/var/lib/dpkg/status" in again.contents.files
    assert cache_key(catalogers) != cache_key(catalogers[1:])


def test_corrupt_cache_entries_are_ignored(tmp_path):
    cache = DirectoryCache(tmp_path)
    path = cache._path("sha256:" + "0" * 64, "k")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an index")
    assert cache.get("sha256:" + "0" * 64, "k") is None


def test_a_hostile_layer_ends_the_scan_with_a_layer_error():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        entry = tarfile.TarInfo("../../etc/passwd")
        entry.size = 4
        tar.addfile(entry, io.BytesIO(b"root"))
    layer = LayerRef("sha256:" + "1" * 64, "sha256:" + "2" * 64)
    with pytest.raises(LayerError, match="sha256:1111"):
        index_layer(layer, io.BytesIO(buffer.getvalue()), default_catalogers())
