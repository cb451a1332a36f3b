"""Images sharing base layers: the merged state of a layer prefix and the whole-view catalog are reused,
and the result is always what assembling from scratch gives."""

from __future__ import annotations

import dataclasses
import io
import tarfile

import pytest

from crscan.catalog import default_catalogers
from crscan.model import Ecosystem, LayerRef
from crscan.registry import open_source
from crscan.scan.layer_index import index_layer
from crscan.scan.pipeline import Scanner, index_layers

pytestmark = pytest.mark.registry

CATALOGERS = default_catalogers()


@pytest.fixture(scope="module")
def bookworm_indexes(test_images):
    with open_source(test_images["bookworm"].oci_ref) as source:
        return index_layers(source, CATALOGERS)


def _top_layer(name: str, entries: dict[str, bytes]):
    """An uncompressed layer of regular files (a name starting `.wh.` is a whiteout; one ending `/` a
    directory), indexed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, data in entries.items():
            entry = tarfile.TarInfo(path.rstrip("/"))
            if path.endswith("/"):
                entry.type = tarfile.DIRTYPE
                tar.addfile(entry)
                continue
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
    digest = f"sha256:{name:0>64}"
    buffer.seek(0)
    return index_layer(LayerRef(digest, digest), buffer, CATALOGERS)


@pytest.fixture
def scanner():
    return Scanner(CATALOGERS)


def _from_scratch(indexes):
    """`assemble` by a new scanner, its memos empty: the reference result."""
    return Scanner(CATALOGERS).assemble(indexes)


def _dpkg_names(inventory):
    return {p.name for p in inventory.packages if p.ecosystem is Ecosystem.DPKG}


@pytest.mark.parametrize(
    ("name", "entries"),
    [
        ("a1", {"srv/app/readme.txt": b"hello"}),  # adds nothing the catalogers read: base catalog reused
        ("a2", {"var/lib/dpkg/.wh.status": b""}),  # deletes the package database the base catalog came from
        ("a3", {"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.0\n", "usr/lib/.wh.os-release": b""}),  # new release
        ("a4", {"var/lib/dpkg/status": b"Package: only\nStatus: install ok installed\nVersion: 1.0\n\n"}),
        # no whiteout, nothing picked, yet hiding what the base catalog read: a file where a directory of the
        # package database was, a directory over its status file, a directory over a release file's symlink
        ("a5", {"var/lib/dpkg": b"not a directory any more"}),
        ("a6", {"var/lib/dpkg/status/": b""}),
        ("a7", {"etc/os-release/": b"", "srv/app/readme.txt": b"hello"}),
    ],
)
def test_an_image_on_a_shared_base_assembles_as_from_scratch(bookworm_indexes, name, entries, scanner):
    base = scanner.assemble(bookworm_indexes)  # leaves the base's prefix and catalog in the memos
    image = [*bookworm_indexes, _top_layer(name, entries)]
    reused = scanner.assemble(image)
    assert reused == _from_scratch(image)
    if name == "a1":
        assert _dpkg_names(reused) == _dpkg_names(base)
    if name == "a2":
        assert not _dpkg_names(reused) and len(_dpkg_names(base)) > 50
    if name == "a3":
        assert base.distro.id == "debian" and reused.distro.id == "alpine"
    if name == "a4":
        assert _dpkg_names(reused) == {"only"}
    if name in ("a5", "a6"):
        assert not _dpkg_names(reused)


def test_a_layer_read_differently_under_the_same_digest_is_not_taken_from_the_memo(bookworm_indexes, scanner):
    """The prefix memo holds the very layer objects it merged: equal digests alone never stand for them."""
    scanner.assemble(bookworm_indexes)
    bottom = bookworm_indexes[0]
    emptied = dataclasses.replace(bottom, contents=dataclasses.replace(bottom.contents, files={}))
    image = [emptied, *bookworm_indexes[1:]]
    assembled = scanner.assemble(image)
    assert assembled.distro is None  # the emptied bottom layer held the release files
    assert assembled == _from_scratch(image)


def test_findings_are_reused_only_for_the_same_packages_and_feed_db(bookworm_indexes, feed_db, scanner):
    from crscan.catalog import Inventory
    from crscan.match import match

    inventory = scanner.assemble(bookworm_indexes)
    first = scanner.report_for("a", "sha256:a", inventory, feed_db)
    again = scanner.report_for("b", "sha256:b", inventory, feed_db)
    assert first.findings == again.findings == tuple(match(inventory.packages, inventory.distro, feed_db))
    assert len(first.findings) > 10
    vulnerable = first.findings[0].package
    fewer = Inventory(inventory.distro, tuple(p for p in inventory.packages if p.name != vulnerable))
    without = scanner.report_for("c", "sha256:c", fewer, feed_db)
    assert vulnerable not in {f.package for f in without.findings}
    assert without.findings == tuple(match(fewer.packages, fewer.distro, feed_db))


def test_images_on_one_base_share_one_inventory_until_a_top_layer_adds_a_package(bookworm_indexes, scanner):
    """The assembled inventory is memoised by the identity of what it is made of: app-only top layers get the
    very object (so matching it again is a lookup), a top layer with a package of its own a new one."""
    first = scanner.assemble([*bookworm_indexes, _top_layer("b1", {"srv/app/one.txt": b"1"})])
    second = scanner.assemble([*bookworm_indexes, _top_layer("b2", {"srv/app/two.txt": b"2"})])
    assert second is first
    metadata = b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\n"
    image = [*bookworm_indexes, _top_layer("b3", {"srv/app/requests-2.19.0.dist-info/METADATA": metadata})]
    with_package = scanner.assemble(image)
    assert with_package is not first
    assert with_package == _from_scratch(image)
    assert ("requests", "2.19.0") in {(p.name, p.version) for p in with_package.packages}
