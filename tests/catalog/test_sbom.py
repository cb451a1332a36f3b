"""CycloneDX output of an inventory, validated against the CycloneDX 1.6 JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from crscan.catalog import catalog_image
from crscan.cli.sbom import inventory_to_cyclonedx
from tests.catalog.helpers import TESTDATA_LAYER, image_files

CATALOG_TESTS = Path(__file__).parent


def test_inventory_as_valid_cyclonedx():
    files = {**image_files(CATALOG_TESTS / "dpkg/testdata"), **image_files(CATALOG_TESTS / "node/testdata")}
    inventory = catalog_image(files)
    document = inventory_to_cyclonedx(inventory, image="registry.example/shop:1")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document) is None
    bom = json.loads(document)
    assert bom["metadata"]["component"] == {"bom-ref": "registry.example/shop:1", "name": "registry.example/shop:1",
                                            "type": "container"}
    components = bom["components"]
    assert {"type": "operating-system", "name": "debian", "version": "12"}.items() <= next(
        c for c in components if c["type"] == "operating-system").items()
    libraries = [c for c in components if c["type"] == "library"]
    assert len(libraries) == len(inventory.packages)
    yaml = next(c for c in libraries if c["name"] == "python3-yaml")
    properties = {p["name"]: p["value"] for p in yaml["properties"]}
    assert yaml["purl"] == "pkg:deb/debian/python3-yaml@6.0-3%2Bb2?arch=amd64&distro=debian-12"
    assert properties == {"crscan:ecosystem": "dpkg", "crscan:path": "/var/lib/dpkg/status",
                          "crscan:layer:digest": TESTDATA_LAYER.digest, "crscan:layer:diff_id": TESTDATA_LAYER.diff_id,
                          "crscan:source:name": "pyyaml", "crscan:source:version": "6.0-3"}
    # two copies of ms at different versions and paths stay two components
    assert sorted(c["version"] for c in libraries if c["name"] == "ms" and "/app/" in c["bom-ref"]) == ["2.0.0", "2.1.3"]
