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
from crscan.scan import pipeline
from crscan.scan.layer_index import index_layer
from crscan.scan.pipeline import assemble, index_layers

pytestmark = pytest.mark.registry

CATALOGERS = default_catalogers()


@pytest.fixture(scope="module")
def bookworm_indexes(test_images):
    with open_source(test_images["bookworm"].oci_ref) as source:
        return index_layers(source, CATALOGERS)


def _top_layer(name: str, entries: dict[str, bytes]):
    """An uncompressed layer of regular files (a name starting `.wh.` is a whiteout), indexed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, data in entries.items():
            entry = tarfile.TarInfo(path)
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
    digest = f"sha256:{name:0>64}"
    buffer.seek(0)
    return index_layer(LayerRef(digest, digest), buffer, CATALOGERS)


def _from_scratch(indexes, monkeypatch):
    """`assemble` with both memos emptied: the reference result."""
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_PREFIX_STATES", pipeline._LRU(64))
        patch.setattr(pipeline, "_WHOLE_VIEW_INVENTORIES", pipeline._LRU(16))
        return assemble(indexes, CATALOGERS)


def _dpkg_names(inventory):
    return {p.name for p in inventory.packages if p.ecosystem is Ecosystem.DPKG}


@pytest.mark.parametrize(
    ("name", "entries"),
    [
        ("a1", {"srv/app/readme.txt": b"hello"}),  # adds nothing the catalogers read: base catalog reused
        ("a2", {"var/lib/dpkg/.wh.status": b""}),  # deletes the package database the base catalog came from
        ("a3", {"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.0\n", "usr/lib/.wh.os-release": b""}),  # new release
        ("a4", {"var/lib/dpkg/status": b"Package: only\nStatus: install ok installed\nVersion: 1.0\n\n"}),
    ],
)
def test_an_image_on_a_shared_base_assembles_as_from_scratch(bookworm_indexes, name, entries, monkeypatch):
    base = assemble(bookworm_indexes, CATALOGERS)  # leaves the base's prefix and catalog in the memos
    image = [*bookworm_indexes, _top_layer(name, entries)]
    reused = assemble(image, CATALOGERS)
    assert reused == _from_scratch(image, monkeypatch)
    if name == "a1":
        assert _dpkg_names(reused) == _dpkg_names(base)
    if name == "a2":
        assert not _dpkg_names(reused) and len(_dpkg_names(base)) > 50
    if name == "a3":
        assert base.distro.id == "debian" and reused.distro.id == "alpine"
    if name == "a4":
        assert _dpkg_names(reused) == {"only"}


def test_a_layer_read_differently_under_the_same_digest_is_not_taken_from_the_memo(bookworm_indexes, monkeypatch):
    """The prefix memo holds the very layer objects it merged: equal digests alone never stand for them."""
    assemble(bookworm_indexes, CATALOGERS)
    bottom = bookworm_indexes[0]
    emptied = dataclasses.replace(bottom, contents=dataclasses.replace(bottom.contents, files={}))
    image = [emptied, *bookworm_indexes[1:]]
    assembled = assemble(image, CATALOGERS)
    assert assembled.distro is None  # the emptied bottom layer held the release files
    assert assembled == _from_scratch(image, monkeypatch)


def test_findings_are_reused_only_for_the_same_packages_and_feed_db(bookworm_indexes, feed_db):
    from crscan.catalog import Inventory
    from crscan.match import match
    from crscan.scan.pipeline import report_for

    inventory = assemble(bookworm_indexes, CATALOGERS)
    first = report_for("a", "sha256:a", inventory, feed_db)
    again = report_for("b", "sha256:b", inventory, feed_db)
    assert first.findings == again.findings == tuple(match(inventory.packages, inventory.distro, feed_db))
    assert len(first.findings) > 10
    vulnerable = first.findings[0].package
    fewer = Inventory(inventory.distro, tuple(p for p in inventory.packages if p.name != vulnerable))
    without = report_for("c", "sha256:c", fewer, feed_db)
    assert vulnerable not in {f.package for f in without.findings}
    assert without.findings == tuple(match(fewer.packages, fewer.distro, feed_db))
